/*
 * fetch_net — see fetch_net.h. Curl tells us which sockets to watch (on_socket → uv_poll)
 * and when to call back (on_curl_timer → uv_timer); libuv tells curl what became readable or
 * writable (on_poll → curl_multi_socket_action). Everything below runs on the transfer
 * thread except fetch_net_start, fetch_net_submit, fetch_net_take_done and fetch_net_stop,
 * which meet it through the mutex-guarded inbox and done list and the wake handle.
 */
#include "fetch_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct fetch_net {
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake; /* the owner has put jobs in the inbox, or asks the thread to stop */
    uv_timer_t timer;
    CURLM *multi;
    net_notify_fn notify;
    void *notify_arg;
    struct net_job *running; /* added to the multi handle; thread only */
    uv_mutex_t mu;           /* guards what follows */
    struct net_job *inbox_head, *inbox_tail;
    struct net_job *done_head, *done_tail;
    int stop;
};

/* One uv_poll per socket curl asks us to watch. */
struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    int events; /* what curl last asked us to watch */
    struct fetch_net *n;
};

/* A list being built: head and tail. */
struct job_list {
    struct net_job *head, *tail;
};

static void list_push(struct job_list *l, struct net_job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

/* Move finished jobs to the done list and wake the owner once. */
static void publish(struct fetch_net *n, struct job_list *l)
{
    if (!l->head) return;
    uv_mutex_lock(&n->mu);
    if (n->done_tail)
        n->done_tail->next = l->head;
    else
        n->done_head = l->head;
    n->done_tail = l->tail;
    uv_mutex_unlock(&n->mu);
    n->notify(n->notify_arg);
}

static void running_unlink(struct fetch_net *n, struct net_job *j)
{
    if (j->prev_run)
        j->prev_run->next_run = j->next_run;
    else
        n->running = j->next_run;
    if (j->next_run) j->next_run->prev_run = j->prev_run;
    j->prev_run = j->next_run = NULL;
}

static void check_done(struct fetch_net *n)
{
    struct job_list done = {0};
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(n->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct net_job *j = NULL;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
        /* msg belongs to curl and goes with the handle's removal: read it first. */
        curl_multi_remove_handle(n->multi, easy);
        if (!j) continue;
        j->code = code;
        running_unlink(n, j);
        list_push(&done, j);
    }
    publish(n, &done);
}

/* ---- libuv glue ---- */

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *sc = (struct sock_ctx *)p;
    struct fetch_net *n = sc->n;
    int flags = 0;
    /* On a poll error libuv stops the handle and only says UV_EBADF; curl would only say
     * "select/poll returned error". Instead let curl touch the socket: its recv/send
     * fails with the real reason (e.g. connection reset by peer). Polling resumes in
     * case nothing fails, so the transfer cannot hang (and its timeouts still run). */
    if (status < 0) {
        flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
        if (uv_poll_start(&sc->poll, sc->events, on_poll) != 0) flags |= CURL_CSELECT_ERR;
    }
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(n->multi, sc->fd, flags, &running);
    check_done(n);
}

static int on_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    (void)easy;
    struct fetch_net *n = userp;
    struct sock_ctx *sc = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            if (n->multi) curl_multi_assign(n->multi, s, NULL);
            uv_close((uv_handle_t *)&sc->poll, on_poll_closed);
        }
        return 0;
    }
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return -1;
        sc->fd = s;
        sc->n = n;
        if (uv_poll_init_socket(&n->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        curl_multi_assign(n->multi, s, sc);
    }
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
    sc->events = events;
    return uv_poll_start(&sc->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t)
{
    struct fetch_net *n = t->data;
    int running;
    curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(n);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct fetch_net *n = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(&n->timer);
        return 0;
    }
    /* curl asks for 0 to mean "call me now"; go through the loop so we never re-enter
     * curl from inside its own callback. */
    return uv_timer_start(&n->timer, on_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* Stop asked: every job still with curl comes back cancelled, the connections close, and
 * the loop ends once the last handle is closed. */
static void shut_down(struct fetch_net *n, struct job_list *cancelled)
{
    while (n->running) {
        struct net_job *j = n->running;
        curl_multi_remove_handle(n->multi, j->easy);
        running_unlink(n, j);
        j->cancelled = 1;
        j->code = CURLE_ABORTED_BY_CALLBACK;
        list_push(cancelled, j);
    }
    publish(n, cancelled);
    /* Cleaning up the multi handle closes the cached connections; curl reports each
     * watched socket with CURL_POLL_REMOVE, which closes its poll handle. */
    CURLM *m = n->multi;
    n->multi = NULL;
    curl_multi_cleanup(m);
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, NULL);
    uv_close((uv_handle_t *)&n->wake, NULL);
}

static void on_wake(uv_async_t *a)
{
    struct fetch_net *n = a->data;
    uv_mutex_lock(&n->mu);
    struct net_job *in = n->inbox_head;
    n->inbox_head = n->inbox_tail = NULL;
    int stop = n->stop;
    uv_mutex_unlock(&n->mu);
    struct job_list refused = {0};
    int added = 0;
    while (in) {
        struct net_job *j = in;
        in = in->next;
        CURLMcode mc = stop ? CURLM_OK : curl_multi_add_handle(n->multi, j->easy);
        if (stop || mc != CURLM_OK) {
            j->cancelled = stop;
            j->code = CURLE_ABORTED_BY_CALLBACK;
            j->add_error = mc;
            list_push(&refused, j);
            continue;
        }
        j->prev_run = NULL;
        j->next_run = n->running;
        if (n->running) n->running->prev_run = j;
        n->running = j;
        added = 1;
    }
    if (stop) {
        shut_down(n, &refused);
        return;
    }
    publish(n, &refused);
    /* curl reports a timer change only when its deadline moves, so a transfer added while
     * an equal deadline is pending would wait on that timer: start the new ones now (we are
     * not inside a curl callback here). */
    if (added) on_timer(&n->timer);
}

static void thread_main(void *arg)
{
    struct fetch_net *n = arg;
    uv_run(&n->loop, UV_RUN_DEFAULT);
}

struct fetch_net *fetch_net_start(long max_connects, net_notify_fn notify, void *arg, char *err,
                                  size_t errlen)
{
    struct fetch_net *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->notify = notify;
    n->notify_arg = arg;
    n->multi = curl_multi_init();
    if (!n->multi || uv_mutex_init(&n->mu) != 0) {
        snprintf(err, errlen, "cannot set up curl's multi handle");
        if (n->multi) curl_multi_cleanup(n->multi);
        free(n);
        return NULL;
    }
    /* The handles are set up here, before the thread exists; from then on only it uses them. */
    if (uv_loop_init(&n->loop) != 0) {
        snprintf(err, errlen, "cannot set up the transfer thread's event loop");
        goto fail_loop;
    }
    if (uv_async_init(&n->loop, &n->wake, on_wake) != 0 ||
        uv_timer_init(&n->loop, &n->timer) != 0) {
        snprintf(err, errlen, "cannot set up the transfer thread's event loop");
        goto fail;
    }
    n->wake.data = n;
    n->timer.data = n;
    curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
    curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
    curl_multi_setopt(n->multi, CURLMOPT_MAXCONNECTS, max_connects);
    curl_multi_setopt(n->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (uv_thread_create(&n->thread, thread_main, n) != 0) {
        snprintf(err, errlen, "cannot start the transfer thread");
        goto fail;
    }
    return n;
fail:
    /* Close whichever handles were initialised; one turn of the loop lets them go. */
    if (n->wake.loop) uv_close((uv_handle_t *)&n->wake, NULL);
    if (n->timer.loop) uv_close((uv_handle_t *)&n->timer, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
fail_loop:
    curl_multi_cleanup(n->multi);
    uv_mutex_destroy(&n->mu);
    free(n);
    return NULL;
}

void fetch_net_submit(struct fetch_net *n, struct net_job *j)
{
    j->next = NULL;
    j->prev_run = j->next_run = NULL;
    j->cancelled = 0;
    j->add_error = CURLM_OK;
    uv_mutex_lock(&n->mu);
    if (n->inbox_tail)
        n->inbox_tail->next = j;
    else
        n->inbox_head = j;
    n->inbox_tail = j;
    uv_mutex_unlock(&n->mu);
    uv_async_send(&n->wake);
}

struct net_job *fetch_net_take_done(struct fetch_net *n)
{
    uv_mutex_lock(&n->mu);
    struct net_job *l = n->done_head;
    n->done_head = n->done_tail = NULL;
    uv_mutex_unlock(&n->mu);
    return l;
}

struct net_job *fetch_net_stop(struct fetch_net *n)
{
    uv_mutex_lock(&n->mu);
    n->stop = 1;
    uv_mutex_unlock(&n->mu);
    uv_async_send(&n->wake);
    uv_thread_join(&n->thread);
    uv_loop_close(&n->loop);
    /* The thread took the inbox on its last wake-up, so everything is in the done list. */
    struct net_job *l = fetch_net_take_done(n);
    uv_mutex_destroy(&n->mu);
    free(n);
    return l;
}
