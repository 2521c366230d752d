/*
 * host_io — file descriptor watches (uv_poll) and one-shot timers (uv_timer) that plugins get
 * through the host table (host version 4), so that a library with its own socket, such as
 * sd-bus in the desktop notifier, runs on the daemon's one loop instead of blocking it or
 * starting a thread. Input: calls from a plugin on the loop thread. Output: the plugin's
 * callbacks, on the same thread.
 *
 * Handles are unreferenced: a plugin's idle bus connection must not keep `fetch --once` (or a
 * stopping daemon) from ending. Closing is asynchronous in libuv, so a closed handle is marked,
 * stopped at once (its callback can never run again) and freed in the close callback; the
 * daemon runs the loop once more after the plugins' fini for exactly that.
 */
#include "host_io.h"

#include "herald.h"

#include <stdlib.h>

struct herald_watch {
    uv_poll_t poll;
    herald_watch_cb cb;
    void *arg;
    int closing;
};

struct herald_timer {
    uv_timer_t timer;
    herald_timer_cb cb;
    void *arg;
    int closing;
};

/* The loop of the instance, or NULL when herald is closing its handles (no new ones then). */
static uv_loop_t *instance_loop(void *ctx)
{
    struct notifier_inst *n = ctx;
    if (!n || !n->h || n->h->stopping > 1) return NULL;
    return &n->h->loop;
}

static int to_uv_events(int events)
{
    return ((events & HERALD_IO_READ) ? UV_READABLE : 0) |
           ((events & HERALD_IO_WRITE) ? UV_WRITABLE : 0);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct herald_watch *w = p->data;
    if (w->closing) return;
    int ev = status < 0 ? HERALD_IO_ERROR : 0;
    if (events & UV_READABLE) ev |= HERALD_IO_READ;
    if (events & UV_WRITABLE) ev |= HERALD_IO_WRITE;
    w->cb(w->arg, ev);
}

static void on_watch_closed(uv_handle_t *hd)
{
    free(hd->data);
}

struct herald_watch *host_io_watch_fd(void *ctx, int fd, int events, herald_watch_cb cb, void *arg)
{
    uv_loop_t *loop = instance_loop(ctx);
    if (!loop || fd < 0 || !cb) return NULL;
    struct herald_watch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->cb = cb;
    w->arg = arg;
    if (uv_poll_init(loop, &w->poll, fd) != 0) {
        free(w); /* a failed init leaves no handle to close */
        return NULL;
    }
    w->poll.data = w;
    uv_unref((uv_handle_t *)&w->poll);
    if (host_io_watch_update(w, events) != 0) {
        host_io_watch_close(w);
        return NULL;
    }
    return w;
}

int host_io_watch_update(struct herald_watch *w, int events)
{
    if (!w || w->closing) return -1;
    int uv_ev = to_uv_events(events);
    if (uv_ev == 0) return uv_poll_stop(&w->poll) == 0 ? 0 : -1;
    return uv_poll_start(&w->poll, uv_ev, on_poll) == 0 ? 0 : -1;
}

void host_io_watch_close(struct herald_watch *w)
{
    if (!w || w->closing) return;
    w->closing = 1;
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void on_timer(uv_timer_t *t)
{
    struct herald_timer *ht = t->data;
    if (!ht->closing) ht->cb(ht->arg);
}

static void on_timer_closed(uv_handle_t *hd)
{
    free(hd->data);
}

struct herald_timer *host_io_timer_new(void *ctx, herald_timer_cb cb, void *arg)
{
    uv_loop_t *loop = instance_loop(ctx);
    if (!loop || !cb) return NULL;
    struct herald_timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cb = cb;
    t->arg = arg;
    if (uv_timer_init(loop, &t->timer) != 0) {
        free(t);
        return NULL;
    }
    t->timer.data = t;
    uv_unref((uv_handle_t *)&t->timer);
    return t;
}

int host_io_timer_start(struct herald_timer *t, uint64_t ms)
{
    if (!t || t->closing) return -1;
    return uv_timer_start(&t->timer, on_timer, ms, 0) == 0 ? 0 : -1;
}

void host_io_timer_stop(struct herald_timer *t)
{
    if (t && !t->closing) uv_timer_stop(&t->timer);
}

void host_io_timer_close(struct herald_timer *t)
{
    if (!t || t->closing) return;
    t->closing = 1;
    uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}
