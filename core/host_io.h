/*
 * host_io — the host table's file descriptor watches and one-shot timers (host version 4):
 * what a plugin needs to run a library with its own socket (sd-bus) on the daemon's loop.
 */
#ifndef HERALD_HOST_IO_H
#define HERALD_HOST_IO_H

#include <herald/plugin.h>

/* host->watch_fd: `ctx` is the plugin instance (struct notifier_inst). */
struct herald_watch *host_io_watch_fd(void *ctx, int fd, int events, herald_watch_cb cb, void *arg);
/* host->watch_update: wait for `events` (0: none). 0, or -1. */
int host_io_watch_update(struct herald_watch *w, int events);
/* host->watch_close: stop now, free once libuv has closed the handle. */
void host_io_watch_close(struct herald_watch *w);
/* host->timer_new: an unarmed one-shot timer. */
struct herald_timer *host_io_timer_new(void *ctx, herald_timer_cb cb, void *arg);
/* host->timer_start: fire once, `ms` from now, replacing an earlier deadline. 0, or -1. */
int host_io_timer_start(struct herald_timer *t, uint64_t ms);
/* host->timer_stop. */
void host_io_timer_stop(struct herald_timer *t);
/* host->timer_close: stop now, free once libuv has closed the handle. */
void host_io_timer_close(struct herald_timer *t);

#endif
