/*
 * fetch — libcurl's multi-socket API on the libuv loop, after the shape of curl's
 * docs/examples/multi-uv.c: curl tells us which sockets to watch (on_socket → uv_poll) and
 * when to call back (on_curl_timer → uv_timer); libuv tells curl what became readable or
 * writable (on_poll → curl_multi_socket_action). Finished transfers are collected in
 * check_done() and reported through each request's callback.
 *
 * Bodies are kept in a buffer bounded by the request's max_bytes: a larger (or endlessly
 * streaming, or decompression-bomb) body aborts the transfer instead of eating memory.
 */
#include "fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HERALD_VERSION
#define HERALD_VERSION "0"
#endif
#define DEFAULT_UA "herald/" HERALD_VERSION " (+https://github.com/herald-monitor/herald)"

struct fetcher {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    size_t active;
    int closing;
    int handles_open; /* uv handles (timer + polls) not yet closed */
    struct transfer *transfers; /* doubly linked list of transfers in flight */
};

/* One uv_poll per socket curl asks us to watch. */
struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct fetcher *f;
};

/* One request in flight: owns the easy handle and every buffer of the transfer. */
struct transfer {
    struct transfer *prev, *next;
    struct fetcher *f;
    CURL *easy;
    struct curl_slist *headers;
    fetch_cb cb;
    void *arg;
    char *url;
    char *req_body;
    char *body;
    size_t len, cap, max;
    int too_large;
    int all_permanent; /* every 3xx seen so far was 301/308 */
    int redirects;
    char *content_type, *etag, *last_modified;
    long retry_after_s;
    char errbuf[CURL_ERROR_SIZE];
};

static void check_done(struct fetcher *f);

static void on_handle_closed(uv_handle_t *h)
{
    struct fetcher *f = h->data;
    if (h != (uv_handle_t *)&f->timer) free(h);
    if (--f->handles_open == 0 && f->closing) free(f);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *sc = (struct sock_ctx *)p;
    struct fetcher *f = sc->f;
    int flags = 0;
    /* A poll error is passed on to curl as an error on that socket rather than dropped,
     * so the transfer fails with a reason instead of hanging until its timeout. */
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(f->multi, sc->fd, flags, &running);
    check_done(f);
}

static int on_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    struct fetcher *f = userp;
    struct sock_ctx *sc = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            if (!f->closing) curl_multi_assign(f->multi, s, NULL);
            uv_close((uv_handle_t *)&sc->poll, on_handle_closed);
        }
        return 0;
    }
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return -1;
        sc->fd = s;
        sc->f = f;
        if (uv_poll_init_socket(f->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = f;
        f->handles_open++;
        curl_multi_assign(f->multi, s, sc);
    }
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
    return uv_poll_start(&sc->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t)
{
    struct fetcher *f = t->data;
    int running;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(f);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct fetcher *f = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(&f->timer);
        return 0;
    }
    /* curl asks for 0 to mean "call me now"; go through the loop so we never re-enter
     * curl from inside its own callback. */
    return uv_timer_start(&f->timer, on_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

int fetcher_new(uv_loop_t *loop, const struct fetch_limits *lim, struct fetcher **out, char *err,
                size_t errlen)
{
    struct fetcher *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->loop = loop;
    f->multi = curl_multi_init();
    if (!f->multi) {
        snprintf(err, errlen, "curl_multi_init failed");
        free(f);
        return -1;
    }
    if (uv_timer_init(loop, &f->timer) != 0) {
        snprintf(err, errlen, "uv_timer_init failed");
        curl_multi_cleanup(f->multi);
        free(f);
        return -1;
    }
    f->timer.data = f;
    f->handles_open = 1;
    long max_total = lim && lim->max_total > 0 ? lim->max_total : 64;
    long max_host = lim && lim->max_host > 0 ? lim->max_host : 6;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total);
    curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
    curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    *out = f;
    return 0;
}

size_t fetcher_active(const struct fetcher *f)
{
    return f->active;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (t->len + n > t->max) {
        t->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 16384;
        while (cap < t->len + n + 1) cap *= 2;
        if (cap > t->max + 1) cap = t->max + 1;
        char *nb = realloc(t->body, cap);
        if (!nb) return 0;
        t->body = nb;
        t->cap = cap;
    }
    memcpy(t->body + t->len, ptr, n);
    t->len += n;
    t->body[t->len] = '\0';
    return n;
}

/* Copy a header value with surrounding blanks trimmed. */
static char *header_value(const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return strndup(v, n);
}

static long parse_retry_after(const char *v)
{
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0' && s >= 0) return s;
    /* An HTTP-date: let curl parse it. */
    time_t when = curl_getdate(v, NULL);
    if (when < 0) return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

static void reset_response_headers(struct transfer *t)
{
    free(t->etag);
    free(t->last_modified);
    t->etag = t->last_modified = NULL;
    t->retry_after_s = -1;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nitems;
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100 Continue): forget the last one's. */
        reset_response_headers(t);
        const char *sp = memchr(buf, ' ', n);
        if (sp) {
            long code = strtol(sp + 1, NULL, 10);
            if (code >= 300 && code < 400) {
                t->redirects++;
                if (code != 301 && code != 308) t->all_permanent = 0;
            }
        }
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t name_len = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    char **slot = NULL;
    if (name_len == 4 && strncasecmp(buf, "etag", 4) == 0)
        slot = &t->etag;
    else if (name_len == 13 && strncasecmp(buf, "last-modified", 13) == 0)
        slot = &t->last_modified;
    if (slot) {
        free(*slot);
        *slot = header_value(v, vlen);
    } else if (name_len == 11 && strncasecmp(buf, "retry-after", 11) == 0) {
        char *val = header_value(v, vlen);
        if (val) t->retry_after_s = parse_retry_after(val);
        free(val);
    }
    return n;
}

static void transfer_free(struct transfer *t)
{
    if (t->easy) curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t->req_body);
    free(t->body);
    free(t->content_type);
    free(t->etag);
    free(t->last_modified);
    free(t);
}

static int add_header(struct transfer *t, const char *h)
{
    struct curl_slist *n = curl_slist_append(t->headers, h);
    if (!n) return -1;
    t->headers = n;
    return 0;
}

static int setup_easy(struct transfer *t, const struct fetch_request *req)
{
    CURL *e = t->easy;
    int rc = 0;
    rc |= curl_easy_setopt(e, CURLOPT_URL, t->url);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
    /* A web server must never redirect us into the local file system. */
    rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, 8L);
    rc |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, req->user_agent ? req->user_agent : DEFAULT_UA);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                           req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 15000L);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
    /* Abort a transfer that trickles slower than 10 bytes/s for 30 s. */
    rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 10L);
    rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max);
    if (req->insecure) {
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    for (size_t i = 0; i < req->n_headers; i++)
        if (add_header(t, req->headers[i]) != 0) return -1;
    char line[1024];
    if (req->etag && *req->etag) {
        snprintf(line, sizeof line, "If-None-Match: %s", req->etag);
        if (add_header(t, line) != 0) return -1;
    }
    if (req->last_modified && *req->last_modified) {
        snprintf(line, sizeof line, "If-Modified-Since: %s", req->last_modified);
        if (add_header(t, line) != 0) return -1;
    }
    if (req->body || (req->method && strcmp(req->method, "GET") != 0)) {
        /* Without this, curl sends "Expect: 100-continue" and waits a second for large
         * bodies: pointless latency for webhooks. */
        if (add_header(t, "Expect:") != 0) return -1;
    }
    if (t->headers) rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (req->body) {
        t->req_body = malloc(req->body_len + 1);
        if (!t->req_body) return -1;
        memcpy(t->req_body, req->body, req->body_len);
        t->req_body[req->body_len] = '\0';
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req_body);
    }
    if (req->method && strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    return rc == 0 ? 0 : -1;
}

int fetch_start(struct fetcher *f, const struct fetch_request *req, fetch_cb cb, void *arg,
                char *err, size_t errlen)
{
    if (f->closing) {
        snprintf(err, errlen, "shutting down");
        return -1;
    }
    struct transfer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->f = f;
    t->cb = cb;
    t->arg = arg;
    t->max = req->max_bytes ? req->max_bytes : 16u << 20;
    t->all_permanent = 1;
    t->retry_after_s = -1;
    t->url = strdup(req->url);
    t->easy = curl_easy_init();
    if (!t->url || !t->easy || setup_easy(t, req) != 0) {
        snprintf(err, errlen, "%s: cannot set up the transfer", req->url);
        transfer_free(t);
        return -1;
    }
    CURLMcode mc = curl_multi_add_handle(f->multi, t->easy);
    if (mc != CURLM_OK) {
        snprintf(err, errlen, "%s: %s", req->url, curl_multi_strerror(mc));
        transfer_free(t);
        return -1;
    }
    t->next = f->transfers;
    if (f->transfers) f->transfers->prev = t;
    f->transfers = t;
    f->active++;
    return 0;
}

static void describe_error(struct transfer *t, CURLcode code, char *buf, size_t n)
{
    if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(buf, n, "response larger than %zu bytes, aborted", t->max);
    } else if (code == CURLE_TOO_MANY_REDIRECTS) {
        snprintf(buf, n, "too many redirects (%d): redirect loop?", t->redirects);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(buf, n, "timed out: %s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
    } else {
        snprintf(buf, n, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
    }
}

/* Report one finished transfer and release it. */
static void finish(struct transfer *t, CURLcode code)
{
    struct fetcher *f = t->f;
    struct fetch_result r = {0};
    char errtext[CURL_ERROR_SIZE + 64];
    long status = 0;
    char *eff = NULL, *ctype = NULL;
    double total = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &total);
    r.ok = code == CURLE_OK;
    r.status = status;
    if (!r.ok) {
        describe_error(t, code, errtext, sizeof errtext);
        r.error = errtext;
    }
    r.body = t->body ? t->body : "";
    r.len = t->len;
    r.url = t->url;
    r.effective_url = eff ? eff : t->url;
    r.permanent_redirect = t->redirects > 0 && t->all_permanent;
    r.content_type = ctype;
    r.etag = t->etag;
    r.last_modified = t->last_modified;
    r.retry_after_s = t->retry_after_s;
    r.total_s = total;

    curl_multi_remove_handle(f->multi, t->easy);
    if (t->prev)
        t->prev->next = t->next;
    else
        f->transfers = t->next;
    if (t->next) t->next->prev = t->prev;
    f->active--;
    t->cb(t->arg, &r);
    transfer_free(t);
}

static void check_done(struct fetcher *f)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(f->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode code = msg->data.result;
        if (t) finish(t, code);
    }
}

void fetcher_close(struct fetcher *f)
{
    if (!f || f->closing) return;
    f->closing = 1;
    while (f->transfers) {
        struct transfer *t = f->transfers;
        snprintf(t->errbuf, sizeof t->errbuf, "cancelled");
        finish(t, CURLE_ABORTED_BY_CALLBACK);
    }
    /* Cleaning up the multi handle closes the cached connections; curl reports each
     * watched socket with CURL_POLL_REMOVE, which queues its poll handle for closing. The
     * fetcher itself goes when the last handle is closed. */
    curl_multi_cleanup(f->multi);
    f->multi = NULL;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, on_handle_closed);
}
