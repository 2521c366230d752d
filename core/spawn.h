/*
 * spawn — runs one program for a plugin (host->spawn) on the daemon's libuv loop: no shell,
 * the input written to its stdin, stdout and stderr collected into a bounded buffer, and the
 * child's whole process group killed when it runs past its timeout.
 */
#ifndef HERALD_SPAWN_H
#define HERALD_SPAWN_H

#include <herald/plugin.h>

#include <uv.h>

/* Most output kept; the rest is read and dropped so the child never blocks on a full pipe. */
#define SPAWN_OUTPUT_MAX (64 * 1024)

struct spawn_job;

/* The jobs still running, so that a stopping daemon can end them (zero-initialised). */
struct spawn_set {
    struct spawn_job *head;
};

/* Start s->argv on `loop`, tracked in `set` (may be NULL). Returns 0 and later calls cb
 * exactly once, after every handle of the job is closed (a program that cannot be started is
 * reported there with `error` set); returns -1 without calling cb when the request is
 * malformed or memory runs out. */
int spawn_start(uv_loop_t *loop, struct spawn_set *set, const struct herald_spawn *s,
                herald_spawn_cb cb, void *arg);
/* Kill every job of `set` now, as if its timeout had passed (error "stopped: herald is
 * shutting down"); their callbacks run from the loop once their handles are closed. */
void spawn_stop_all(struct spawn_set *set);

#endif
