/*
 * fetch_net — a transfer thread: a libuv loop and a curl multi handle of its own, after the
 * shape of curl's docs/examples/multi-uv.c, so that curl's socket work (with the kernel's
 * share, half of a conditional GET's CPU) runs beside the caller's loop instead of on it.
 *
 * The fetcher (fetch.c) keeps the queues, the caps and the callbacks on its own loop. It sets
 * up an easy handle, hands it here as a job, and takes the job back once curl is done with
 * it; in between only this thread touches the handle. Connections, TLS sessions and DNS
 * answers live in this thread's multi handle and are reused across transfers.
 */
#ifndef HERALD_FETCH_NET_H
#define HERALD_FETCH_NET_H

#include <curl/curl.h>

struct fetch_net;

/* One transfer handed to the thread. The owner embeds it; CURLOPT_PRIVATE must point at it. */
struct net_job {
    struct net_job *next;                /* in the inbox or the done list */
    struct net_job *prev_run, *next_run; /* the thread's running list */
    CURL *easy;
    CURLcode code;       /* the transfer's result, once done */
    CURLMcode add_error; /* curl_multi_add_handle refused the handle (code is then unset) */
    int cancelled;       /* fetch_net_stop came first: never started or cut short */
};

/* Called on the transfer thread when jobs are done; it may only wake the owner. */
typedef void (*net_notify_fn)(void *arg);

/* Start the thread; its multi handle keeps up to max_connects idle connections. Returns
 * NULL with err filled. */
struct fetch_net *fetch_net_start(long max_connects, net_notify_fn notify, void *arg, char *err,
                                  size_t errlen);

/* Hand a job to the thread, its easy handle fully set up. Until it comes back from
 * fetch_net_take_done or fetch_net_stop, neither the job nor the handle may be touched. */
void fetch_net_submit(struct fetch_net *n, struct net_job *j);

/* The jobs done since the last call, linked by next in the order they finished; NULL if none. */
struct net_job *fetch_net_take_done(struct fetch_net *n);

/* Stop and free the thread, closing its connections. Returns every job not yet taken: those
 * done, then those still running or waiting, which are marked cancelled. */
struct net_job *fetch_net_stop(struct fetch_net *n);

#endif
