/*
 * fetch — every transfer herald makes (polling sources, posting webhooks) runs through a
 * libcurl multi handle driven by a libuv loop on one of two transfer threads (fetch_net.h):
 * curl's socket callback becomes a uv_poll, its timer callback a uv_timer. No transfer
 * blocks the caller's loop, where requests are queued and every callback runs; there is no
 * thread per fetch.
 * Input: requests from the scheduler and from plugins (host->http_request, host->mail_send,
 * which submits over SMTP). Output: one completion callback per request with the bounded
 * body and the response metadata.
 */
#ifndef HERALD_FETCH_H
#define HERALD_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct fetcher;

struct fetch_request {
    const char *url;
    const char *method;         /* NULL: GET */
    const char *const *headers; /* "Name: value" */
    size_t n_headers;
    const char *body; /* copied by fetch_start */
    size_t body_len;
    const char *etag; /* conditional GET validators, or NULL */
    const char *last_modified;
    long connect_timeout_ms; /* 0: 15 s */
    long timeout_ms;         /* 0: 60 s */
    size_t max_bytes;        /* 0: 16 MiB; a larger body aborts the transfer */
    const char *user_agent;  /* NULL: herald/VERSION */
    const char *proxy;       /* NULL: curl's default (the *_proxy environment variables) */
    int insecure;            /* non-zero: skip TLS verification */
};

struct fetch_result {
    int ok;            /* a response (any status) arrived whole, or a file was read */
    long status;       /* HTTP status; 0 for file:// or no response */
    const char *error; /* why the transfer failed, when !ok */
    const char *body;  /* bounded, NUL-terminated; borrowed for the callback */
    size_t len;
    const char *url;           /* the requested URL */
    const char *effective_url; /* after redirects */
    int permanent_redirect;    /* every redirect followed was a 301/308 */
    const char *content_type;  /* or NULL */
    const char *etag;          /* or NULL */
    const char *last_modified; /* or NULL */
    long retry_after_s;        /* -1 when absent */
    double total_s;            /* transfer time, from leaving the queue */
    double queued_s;           /* time spent waiting for a free slot */
};

typedef void (*fetch_cb)(void *arg, const struct fetch_result *res);

/* Caps on concurrent transfers. Requests beyond them wait in the fetcher's own queue
 * (round robin over hosts), so a transfer's timeouts only start once it really runs. */
struct fetch_limits {
    long max_total; /* 0: 64 */
    long max_host;  /* 0: 6; per host:port */
};

/* A fetcher on `loop`. Returns 0, or -1 with err filled. */
int fetcher_new(uv_loop_t *loop, const struct fetch_limits *lim, struct fetcher **out, char *err,
                size_t errlen);
/* Start a transfer; `cb` runs exactly once on the loop thread, unless this returns -1 (with
 * err filled), in which case it never runs. */
int fetch_start(struct fetcher *f, const struct fetch_request *req, fetch_cb cb, void *arg,
                char *err, size_t errlen);
/* One SMTP submission (smtp:// or smtps://): the envelope, optional AUTH, and the whole
 * RFC 5322 message with CRLF line endings (curl does the dot-stuffing). Strings are copied. */
struct fetch_mail {
    const char *url;
    const char *username, *password; /* or NULL */
    int starttls;                    /* non-zero: require STARTTLS on smtp:// */
    const char *from;
    const char *const *to;
    size_t n_to;
    const char *message;
    size_t message_len;
    long timeout_ms; /* 0: 60 s */
};

/* Send a mail on the same loop, multi handle, queue and caps as fetch_start. The result's
 * `status` is the last SMTP reply code; `ok` is set only when the server accepted the message.
 * Returns 0 (cb runs exactly once) or -1 with err filled (cb never runs). */
int fetch_mail_start(struct fetcher *f, const struct fetch_mail *m, fetch_cb cb, void *arg,
                     char *err, size_t errlen);
/* Number of transfers started and not yet completed (running or queued). */
size_t fetcher_active(const struct fetcher *f);
/* Number of transfers running now (at most max_total). */
size_t fetcher_running(const struct fetcher *f);
/* Abort every transfer (their callbacks run now, with error "cancelled"), stop the transfer
 * thread, and free the fetcher once its loop handle is closed; the loop must run afterwards. */
void fetcher_close(struct fetcher *f);

#endif
