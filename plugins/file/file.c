/*
 * file notifier — appends each alert's JSON as one line to a file (JSON Lines), e.g.
 * ~/.local/state/herald/alerts.jsonl. Input is the alert the core hands to deliver(); output
 * is one write() per line on a descriptor opened O_APPEND, so concurrent writers (two
 * notifiers, two daemons, a rotated file) never interleave inside a line. The file is opened
 * for every alert, which follows log rotation for free; missing parent directories are
 * created. Synchronous: the delivery completes before deliver() returns.
 */
#include <herald/plugin.h>

#include "../common/alert_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_notifier {
    struct herald_host host;
    char *path; /* with ~/ expanded */
    int fsync;
};

static const struct herald_opt_spec file_options[] = {
    {"path", HERALD_OPT_STRING, 1, NULL,
     "file to append one JSON line per alert to; a leading ~/ means $HOME"},
    {"fsync", HERALD_OPT_BOOL, 0, "true", "fsync the file after each alert"},
    {0},
};

/* `path` with a leading "~/" replaced by $HOME; the caller frees it. NULL with a message in
 * err when it cannot be expanded. */
static char *expand_path(const char *path, char *err, size_t errlen)
{
    if (path[0] != '~') return strdup(path);
    if (path[1] != '/') {
        snprintf(err, errlen, "file: only a leading ~/ is expanded in path \"%.200s\"", path);
        return NULL;
    }
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
        snprintf(err, errlen, "file: path \"%.200s\" starts with ~/ but HOME is not set", path);
        return NULL;
    }
    size_t hl = strlen(home), pl = strlen(path + 1);
    char *out = malloc(hl + pl + 1);
    if (!out) return NULL;
    memcpy(out, home, hl);
    memcpy(out + hl, path + 1, pl + 1);
    return out;
}

static int file_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                     char *err, size_t errlen)
{
    struct herald_host h;
    if (atext_host_copy(&h, host) != 0) {
        snprintf(err, errlen, "file: the host table lacks required functions");
        return -1;
    }
    const char *path = h.opt_string(opts, "path");
    if (!path || !path[0]) {
        snprintf(err, errlen, "file: path is required");
        return -1;
    }
    size_t plen = strlen(path);
    if (path[plen - 1] == '/') {
        snprintf(err, errlen, "file: path \"%.200s\" names a directory, not a file", path);
        return -1;
    }
    struct file_notifier *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "file: out of memory");
        return -1;
    }
    err[0] = '\0';
    n->path = expand_path(path, err, errlen);
    if (!n->path) {
        if (!err[0]) snprintf(err, errlen, "file: out of memory");
        free(n);
        return -1;
    }
    n->host = h;
    n->fsync = h.opt_int(opts, "fsync", 1) != 0;
    *state = n;
    return 0;
}

/* Create every missing parent directory of `path` (mode 0700: alerts may be private).
 * Returns 0, or an errno value. */
static int make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p) return ENOMEM;
    int rc = 0;
    for (char *s = strchr(p + 1, '/'); s && rc == 0; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) rc = errno;
        *s = '/';
    }
    free(p);
    return rc;
}

static int open_append(const char *path)
{
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY;
    int fd = open(path, flags, 0600);
    if (fd < 0 && errno == ENOENT) {
        int rc = make_parents(path);
        if (rc != 0) {
            errno = rc;
            return -1;
        }
        fd = open(path, flags, 0600);
    }
    return fd;
}

/* Write all of buf. One write() normally takes the whole line atomically with respect to
 * other O_APPEND writers; the loop only matters on a short write (disk full, signal). */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Append `line` to the file; returns 0, or -1 with errno and the step that failed. */
static int append_line(const struct file_notifier *n, const char *line, size_t len,
                       const char **step)
{
    *step = "open";
    int fd = open_append(n->path);
    if (fd < 0) return -1;
    int rc = 0;
    *step = "write";
    if (write_all(fd, line, len) != 0) rc = -1;
    if (rc == 0 && n->fsync) {
        *step = "fsync";
        if (fsync(fd) != 0 && errno != EINVAL) /* EINVAL: a pipe or /dev/null */
            rc = -1;
    }
    int saved = errno;
    if (close(fd) != 0 && rc == 0 && errno != EINTR) {
        *step = "close";
        return -1;
    }
    errno = saved;
    return rc;
}

static int file_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct file_notifier *n = state;
    if (!alert->json) {
        n->host.complete(d, HERALD_FAILED, "file: the alert has no JSON");
        return 0;
    }
    struct atext line = {0};
    atext_puts(&line, alert->json);
    /* Raw newlines can only be whitespace between JSON tokens; spaces keep it one line. */
    for (size_t i = 0; i < line.len && !line.failed; i++)
        if (line.p[i] == '\n' || line.p[i] == '\r') line.p[i] = ' ';
    atext_puts(&line, "\n");
    if (line.failed) {
        atext_free(&line);
        n->host.complete(d, HERALD_RETRY, "file: out of memory preparing the line");
        return 0;
    }
    const char *step;
    int rc = append_line(n, line.p, line.len, &step);
    int saved = errno;
    atext_free(&line);
    if (rc != 0) {
        char detail[600];
        snprintf(detail, sizeof detail, "file: %s %.400s: %s", step, n->path, strerror(saved));
        n->host.complete(d, HERALD_RETRY, detail);
        return 0;
    }
    n->host.complete(d, HERALD_DELIVERED, NULL);
    return 0;
}

static void file_fini(void *state)
{
    struct file_notifier *n = state;
    if (!n) return;
    free(n->path);
    free(n);
}

__attribute__((visibility("default"))) const struct herald_plugin herald_plugin =
    HERALD_PLUGIN_INIT("file", "append alerts as JSON Lines to a file", file_options, file_init,
                       file_deliver, file_fini);
