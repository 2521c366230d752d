/*
 * pidfile — one herald per state directory: `herald.pid` in the state dir, held with an
 * exclusive lock for the life of the process, so a second instance refuses to start and
 * names the pid that holds it. The lock (not the file's existence) is what counts, so a
 * pid file left by a killed herald never blocks a restart.
 */
#ifndef HERALD_PIDFILE_H
#define HERALD_PIDFILE_H

#include <sys/types.h>

/* Lock `dir`/herald.pid and write our pid. Returns the open descriptor (keep it open), or
 * -1 with a message in err ("…: another herald (pid 123) is running on DIR"). */
int pidfile_acquire(const char *dir, char *err, size_t errlen);
/* Rewrite the pid (after --daemon forked). */
int pidfile_update(int fd);
/* Unlink and close. */
void pidfile_release(int fd, const char *dir);

#endif
