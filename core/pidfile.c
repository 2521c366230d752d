/*
 * pidfile — flock(2) on herald.pid. flock locks belong to the open file description, so a
 * forked child that keeps the descriptor keeps the lock after its parent exits (--daemon).
 */
#include "pidfile.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int pidfile_update(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0) return -1;
    if (pwrite(fd, buf, (size_t)n, 0) != n) return -1;
    return 0;
}

int pidfile_acquire(const char *dir, char *err, size_t errlen)
{
    char *path = path_join(dir, "herald.pid");
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid > 0)
            snprintf(err, errlen, "another herald (pid %ld) is running on %s", pid, dir);
        else
            snprintf(err, errlen, "another herald is running on %s (%s is locked)", dir, path);
        close(fd);
        free(path);
        return -1;
    }
    free(path);
    if (pidfile_update(fd) != 0) {
        snprintf(err, errlen, "%s/herald.pid: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void pidfile_release(int fd, const char *dir)
{
    if (fd < 0) return;
    char *path = path_join(dir, "herald.pid");
    if (path) unlink(path);
    free(path);
    close(fd);
}
