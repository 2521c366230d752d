/*
 * fetch — requests queued and capped on the caller's loop, transferred by libcurl's
 * multi-socket API on transfer threads (fetch_net.c). A transfer that leaves its queue
 * gets an easy handle set up here and goes to a thread as a job; when curl is done with
 * it, the thread wakes this loop (an uv_async), and on_jobs_done() reports each finished
 * transfer through its request's callback, here, on the caller's loop.
 *
 * Concurrency is capped here, not in curl: a request waits in its host's queue until both
 * a global and a per-host slot are free, and hosts with work take turns (round robin). The
 * easy handle is only created when the transfer leaves the queue, so ten thousand queued
 * requests cost a few hundred bytes each, and a transfer's timeouts count from its start,
 * not from the moment it was queued behind others. Connections, TLS sessions and DNS
 * answers live in the thread's multi handle and are reused across transfers.
 *
 * There are up to NET_MAX transfer threads, each with its own connections. A host's transfers
 * stay on one thread (its home), where HTTP/2 multiplexes them over one connection, except
 * on a plain-HTTP host: there every transfer holds a connection of its own anyway, so its
 * transfers are spread, each thread taking at most its share of the host's cap. A host thus
 * never sees more connections than its cap, and a thousand feeds on one server keep both
 * threads busy.
 *
 * A mail (fetch_mail_start) is one more kind of transfer: an SMTP upload of the message through
 * a read callback, queued, capped and completed exactly like an HTTP request.
 *
 * Bodies are kept in a buffer bounded by the request's max_bytes (counted after
 * decompression): a larger, endlessly streaming or decompression-bomb body aborts the
 * transfer instead of eating memory.
 */
#include "fetch.h"
#include "fetch_net.h"

#include <ctype.h>
#include <stddef.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef HERALD_VERSION
#define HERALD_VERSION "0"
#endif
#define DEFAULT_UA "herald/" HERALD_VERSION " (+https://github.com/herald-monitor/herald)"

enum {
    HOST_BUCKETS = 1024,
    NET_MAX = 2,     /* transfer threads, at most (no more than the machine's cores) */
    SPARE_EASY = 64, /* finished transfers' easy handles kept for reuse */
    KEY_CACHE = 64,  /* URL origins whose queue key is remembered… */
    ORIGIN_MAX = 96, /* …when no longer than this */
    DEFAULT_MAX_TOTAL = 64,
    DEFAULT_MAX_HOST = 6,
    DEFAULT_CONNECT_MS = 15000,
    DEFAULT_TIMEOUT_MS = 60000,
    LOW_SPEED_BYTES = 10, /* a transfer slower than this (bytes/s)… */
    LOW_SPEED_MAX_S = 30, /* …for this long (or half its timeout) is aborted */
    DNS_CACHE_S = 300,
};

/* A host:port with transfers running or queued; freed when it has neither. */
struct host {
    struct host *hnext;      /* hash chain */
    struct host *ready_next; /* in the ready list: has queued work and a free slot */
    int in_ready;
    long running;
    long on[NET_MAX]; /* of those, on each transfer thread */
    unsigned home;    /* the thread its transfers use unless spread */
    int spread;       /* plain HTTP: its transfers may use every thread */
    struct transfer *qhead, *qtail;
    char key[];
};

struct fetcher {
    uv_loop_t *loop;
    struct fetch_net *nets[NET_MAX];
    size_t net_running[NET_MAX]; /* transfers on each thread */
    unsigned n_nets;
    uv_async_t jobs_done; /* a transfer thread has finished jobs for us */
    long max_total, max_host;
    size_t running; /* transfers handed to the transfer threads */
    size_t queued;  /* transfers waiting for a slot */
    int closing;
    int env_proxy; /* the environment names a proxy for http or https */
    struct host *buckets[HOST_BUCKETS];
    struct host *ready_head, *ready_tail;
    /* Easy handles of finished transfers, reset for the next: curl_easy_init and cleanup
     * cost a seventh of a conditional GET's CPU. */
    CURL *spare[SPARE_EASY];
    size_t nspare;
    /* Queue keys of recent URL origins ("scheme://authority"), direct-mapped: parsing a
     * URL with curl costs as much as a tenth of a conditional GET. */
    struct {
        char origin[ORIGIN_MAX];
        char key[ORIGIN_MAX + 16];
    } keys[KEY_CACHE];
};

/* What a request asked for, copied so the caller's strings may go at once. */
struct request_copy {
    char *method;
    char **headers;
    size_t n_headers;
    char *etag, *last_modified, *user_agent, *proxy;
    long connect_timeout_ms, timeout_ms;
    int insecure;
};

/* The envelope and credentials of an SMTP submission; the message is the transfer's req_body. */
struct mail_copy {
    char *from, *username, *password;
    struct curl_slist *rcpt;
    int starttls;
    size_t sent; /* bytes of the message handed to curl so far */
};

/* One request, queued or running: owns the easy handle and every buffer of the transfer. */
struct transfer {
    struct net_job job;     /* while running: handed to a transfer thread */
    unsigned net;           /* …this one */
    struct transfer *qnext; /* host queue */
    struct fetcher *f;
    struct host *host;
    CURL *easy;
    struct curl_slist *headers;
    fetch_cb cb;
    void *arg;
    char *url;
    char *req_body;
    size_t req_body_len;
    struct request_copy rq;
    struct mail_copy *mail; /* an SMTP submission, or NULL for HTTP/file */
    char *body;
    size_t len, cap, max;
    int too_large;
    int all_permanent; /* every 3xx seen so far was 301/308 */
    int redirects;
    int got_response; /* a status line arrived */
    long low_speed_s;
    char *etag, *last_modified;
    long retry_after_s;
    uint64_t queued_at, started_at; /* uv_now, ms */
    CURLU *uh;
    char errbuf[CURL_ERROR_SIZE];
};

static void pump(struct fetcher *f);
static int transfer_submit(struct fetcher *f, struct transfer *t, const char *key, char *err,
                           size_t errlen);

/* ---- hosts and the ready list ---- */

static unsigned host_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % HOST_BUCKETS;
}

static struct host *host_get(struct fetcher *f, const char *key)
{
    unsigned b = host_hash(key);
    for (struct host *h = f->buckets[b]; h; h = h->hnext)
        if (strcmp(h->key, key) == 0) return h;
    size_t n = strlen(key);
    struct host *h = calloc(1, sizeof *h + n + 1);
    if (!h) return NULL;
    memcpy(h->key, key, n + 1);
    h->home = b % f->n_nets;
    h->spread = strncmp(key, "http://", 7) == 0;
    h->hnext = f->buckets[b];
    f->buckets[b] = h;
    return h;
}

/* Free a host with nothing running or queued (and not in the ready list). */
static void host_release(struct fetcher *f, struct host *h)
{
    if (h->running || h->qhead || h->in_ready) return;
    struct host **pp = &f->buckets[host_hash(h->key)];
    while (*pp && *pp != h)
        pp = &(*pp)->hnext;
    if (*pp) *pp = h->hnext;
    free(h);
}

static void ready_push(struct fetcher *f, struct host *h)
{
    if (h->in_ready || !h->qhead || h->running >= f->max_host) return;
    h->in_ready = 1;
    h->ready_next = NULL;
    if (f->ready_tail)
        f->ready_tail->ready_next = h;
    else
        f->ready_head = h;
    f->ready_tail = h;
}

static struct host *ready_pop(struct fetcher *f)
{
    struct host *h = f->ready_head;
    if (!h) return NULL;
    f->ready_head = h->ready_next;
    if (!f->ready_head) f->ready_tail = NULL;
    h->in_ready = 0;
    h->ready_next = NULL;
    return h;
}

/* The queue key of a URL: "scheme://host:port" lowercased, so that every transfer to one
 * server shares its cap; file:// URLs share one key. Returns 0, or -1 for a URL curl
 * cannot parse (err filled). */
static int url_host_key(const char *url, char *key, size_t keylen, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    if (!u) {
        snprintf(err, errlen, "%s: out of memory", url);
        return -1;
    }
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc == CURLUE_OK) rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK && strcmp(scheme, "file") == 0) {
        snprintf(key, keylen, "file:");
    } else if (rc == CURLUE_OK && (rc = curl_url_get(u, CURLUPART_HOST, &host, 0)) == CURLUE_OK &&
               (rc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) == CURLUE_OK) {
        snprintf(key, keylen, "%s://%s:%s", scheme, host, port);
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    if (rc != CURLUE_OK) snprintf(err, errlen, "%s: bad URL: %s", url, curl_url_strerror(rc));
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc == CURLUE_OK ? 0 : -1;
}

/* The length of the origin "scheme://authority" that starts url, or 0 when there is none
 * to remember (no "://", or longer than ORIGIN_MAX - 1). */
static size_t url_origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p) return 0;
    size_t n = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
    return n < ORIGIN_MAX ? n : 0;
}

/* url_host_key through the fetcher's cache: URLs with the same origin share a key. */
static int host_key(struct fetcher *f, const char *url, char *key, size_t keylen, char *err,
                    size_t errlen)
{
    size_t n = url_origin_len(url);
    if (!n) return url_host_key(url, key, keylen, err, errlen);
    uint32_t slot = 2166136261u;
    for (size_t i = 0; i < n; i++)
        slot = (slot ^ (unsigned char)url[i]) * 16777619u;
    slot %= KEY_CACHE;
    size_t kl = strlen(f->keys[slot].key);
    if (kl && kl < keylen && strncmp(f->keys[slot].origin, url, n) == 0 &&
        f->keys[slot].origin[n] == '\0') {
        memcpy(key, f->keys[slot].key, kl + 1);
        return 0;
    }
    if (url_host_key(url, key, keylen, err, errlen) != 0) return -1;
    kl = strlen(key);
    if (kl < sizeof f->keys[slot].key) {
        memcpy(f->keys[slot].origin, url, n);
        f->keys[slot].origin[n] = '\0';
        memcpy(f->keys[slot].key, key, kl + 1);
    }
    return 0;
}

/* ---- the transfer threads ---- */

static void finish(struct transfer *t);

static struct transfer *job_transfer(struct net_job *j)
{
    return (struct transfer *)((char *)j - offsetof(struct transfer, job));
}

/* On a transfer thread: wake our loop. */
static void notify_jobs_done(void *arg)
{
    struct fetcher *f = arg;
    uv_async_send(&f->jobs_done);
}

/* Report the jobs of list j. Each freed slot is filled at once (unless closing), so the
 * threads have work again while the callbacks (the store, the rules) run here. */
static void report_jobs(struct fetcher *f, struct net_job *j)
{
    while (j) {
        struct net_job *next = j->next;
        finish(job_transfer(j));
        pump(f);
        j = next;
    }
}

static void on_jobs_done(uv_async_t *a)
{
    struct fetcher *f = a->data;
    for (unsigned i = 0; i < f->n_nets; i++)
        report_jobs(f, fetch_net_take_done(f->nets[i]));
}

/* Stop every transfer thread; what they give back is reported (cancelled, mostly). */
static void stop_nets(struct fetcher *f)
{
    for (unsigned i = 0; i < f->n_nets; i++) {
        report_jobs(f, fetch_net_stop(f->nets[i]));
        f->nets[i] = NULL;
    }
    f->n_nets = 0;
}

/* The thread for host h's next transfer (h is under its cap). A spread host's goes to the
 * least busy thread still under its share of the cap; the shares add up to the cap. */
static unsigned pick_net(const struct fetcher *f, const struct host *h)
{
    if (!h->spread) return h->home;
    unsigned n = f->n_nets, best = h->home;
    size_t best_load = SIZE_MAX;
    for (unsigned i = 0; i < n; i++) {
        long share = f->max_host / n + ((long)i < f->max_host % n);
        if (h->on[i] < share && f->net_running[i] < best_load) {
            best = i;
            best_load = f->net_running[i];
        }
    }
    return best;
}

/* The wake-up handle keeps the loop alive only while transfers run, so a loop with nothing
 * else to do still ends once the last one is reported. */
static void running_changed(struct fetcher *f)
{
    if (f->running)
        uv_ref((uv_handle_t *)&f->jobs_done);
    else
        uv_unref((uv_handle_t *)&f->jobs_done);
}

static void on_jobs_done_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Whether curl's proxy detection would find anything for an http or https URL: the
 * variables it reads (it ignores HTTP_PROXY, which a CGI request can set). */
static int env_names_proxy(void)
{
    static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                       "ALL_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
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
    f->env_proxy = env_names_proxy();
    f->max_total = lim && lim->max_total > 0 ? lim->max_total : DEFAULT_MAX_TOTAL;
    f->max_host = lim && lim->max_host > 0 ? lim->max_host : DEFAULT_MAX_HOST;
    if (f->max_host > f->max_total) f->max_host = f->max_total;
    unsigned cores = uv_available_parallelism();
    unsigned want = cores < 2 ? 1 : NET_MAX;
    /* Our queue already bounds transfers per host; curl only needs room to keep each
     * host's idle connections for reuse. */
    for (; f->n_nets < want; f->n_nets++) {
        f->nets[f->n_nets] = fetch_net_start(f->max_total * 2, notify_jobs_done, f, err, errlen);
        if (!f->nets[f->n_nets]) break;
    }
    if (f->n_nets < want || uv_async_init(loop, &f->jobs_done, on_jobs_done) != 0) {
        if (f->n_nets == want) snprintf(err, errlen, "uv_async_init failed");
        stop_nets(f);
        free(f);
        return -1;
    }
    f->jobs_done.data = f;
    running_changed(f);
    *out = f;
    return 0;
}

size_t fetcher_active(const struct fetcher *f)
{
    return f->running + f->queued;
}

size_t fetcher_running(const struct fetcher *f)
{
    return f->running;
}

/* ---- callbacks from curl ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (n > t->max - t->len) {
        t->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 16384;
        while (cap < t->len + n + 1)
            cap *= 2;
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

/* Retry-After is either delta-seconds or an HTTP-date; -1 when neither. */
static long parse_retry_after(const char *v)
{
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0' && s >= 0) return s;
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
        t->got_response = 1;
        const char *sp = memchr(buf, ' ', n);
        if (sp) {
            long code = strtol(sp + 1, NULL, 10);
            if (code >= 300 && code < 400 && code != 304) {
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

/* ---- transfers ---- */

static void request_copy_free(struct request_copy *rq)
{
    free(rq->method);
    for (size_t i = 0; i < rq->n_headers; i++)
        free(rq->headers[i]);
    free(rq->headers);
    free(rq->etag);
    free(rq->last_modified);
    free(rq->user_agent);
    free(rq->proxy);
}

/* strdup that keeps NULL; sets *oom when a copy fails. */
static char *dup_opt(const char *s, int *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = 1;
    return d;
}

static int request_copy_init(struct request_copy *rq, const struct fetch_request *req)
{
    int oom = 0;
    rq->method = dup_opt(req->method, &oom);
    rq->etag = dup_opt(req->etag && *req->etag ? req->etag : NULL, &oom);
    rq->last_modified =
        dup_opt(req->last_modified && *req->last_modified ? req->last_modified : NULL, &oom);
    rq->user_agent = dup_opt(req->user_agent, &oom);
    rq->proxy = dup_opt(req->proxy, &oom);
    rq->connect_timeout_ms =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_MS;
    rq->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    rq->insecure = req->insecure;
    if (req->n_headers) {
        rq->headers = calloc(req->n_headers, sizeof *rq->headers);
        if (!rq->headers) return -1;
        for (size_t i = 0; i < req->n_headers; i++) {
            rq->headers[i] = dup_opt(req->headers[i], &oom);
            rq->n_headers = i + 1;
        }
    }
    return oom ? -1 : 0;
}

static void mail_copy_free(struct mail_copy *m)
{
    if (!m) return;
    if (m->password) { /* wipe the secret before the allocator reuses the block */
        volatile char *p = m->password;
        while (*p)
            *p++ = '\0';
    }
    free(m->password);
    free(m->username);
    free(m->from);
    curl_slist_free_all(m->rcpt);
    free(m);
}

/* An easy handle for a new transfer: a spare one when there is one. NULL when out of memory. */
static CURL *easy_take(struct fetcher *f)
{
    return f->nspare ? f->spare[--f->nspare] : curl_easy_init();
}

/* Keep a handle no longer in the multi handle for the next transfer, options reset (its
 * connections belong to the multi handle either way). */
static void easy_give(struct fetcher *f, CURL *e)
{
    if (f->closing || f->nspare == SPARE_EASY) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    f->spare[f->nspare++] = e;
}

static void transfer_free(struct transfer *t)
{
    if (t->easy) easy_give(t->f, t->easy);
    mail_copy_free(t->mail);
    curl_slist_free_all(t->headers);
    request_copy_free(&t->rq);
    free(t->url);
    curl_url_cleanup(t->uh);
    free(t->req_body);
    free(t->body);
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

static int set_headers(struct transfer *t)
{
    const struct request_copy *rq = &t->rq;
    for (size_t i = 0; i < rq->n_headers; i++)
        if (rq->headers[i] && add_header(t, rq->headers[i]) != 0) return -1;
    char line[1024];
    if (rq->etag) {
        snprintf(line, sizeof line, "If-None-Match: %s", rq->etag);
        if (add_header(t, line) != 0) return -1;
    }
    if (rq->last_modified) {
        snprintf(line, sizeof line, "If-Modified-Since: %s", rq->last_modified);
        if (add_header(t, line) != 0) return -1;
    }
    /* Without this, curl sends "Expect: 100-continue" and waits a second for large
     * bodies: pointless latency for webhooks. */
    if (t->req_body || (rq->method && strcmp(rq->method, "GET") != 0))
        if (add_header(t, "Expect:") != 0) return -1;
    return 0;
}

static size_t on_mail_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct transfer *t = userdata;
    size_t room = size * nitems, left = t->req_body_len - t->mail->sent;
    size_t n = left < room ? left : room;
    memcpy(buf, t->req_body + t->mail->sent, n);
    t->mail->sent += n;
    return n;
}

/* An SMTP upload: envelope, optional AUTH and STARTTLS, the message from on_mail_read. */
static int setup_mail_easy(struct transfer *t)
{
    const struct mail_copy *m = t->mail;
    CURL *e = t->easy;
    int rc = 0;
    rc |= curl_easy_setopt(e, CURLOPT_URL, t->url);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, &t->job);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->rq.connect_timeout_ms);
    /* No low-speed cut: a server may think for a while (content filters) before its final
     * reply to DATA, sending nothing; the overall timeout bounds the attempt. */
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->rq.timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, m->from);
    rc |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, m->rcpt);
    rc |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_READFUNCTION, on_mail_read);
    rc |= curl_easy_setopt(e, CURLOPT_READDATA, t);
    rc |= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->req_body_len);
    if (m->starttls) rc |= curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (m->username) rc |= curl_easy_setopt(e, CURLOPT_USERNAME, m->username);
    if (m->password) rc |= curl_easy_setopt(e, CURLOPT_PASSWORD, m->password);
    return rc == 0 ? 0 : -1;
}

static int setup_easy(struct transfer *t)
{
    if (t->mail) return setup_mail_easy(t);
    const struct request_copy *rq = &t->rq;
    CURL *e = t->easy;
    int rc = 0;
    t->uh = curl_url();
    if (!t->uh || curl_url_set(t->uh, CURLUPART_URL, t->url, 0) != CURLUE_OK) return -1;
    rc |= curl_easy_setopt(e, CURLOPT_CURLU, t->uh);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, &t->job);
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
    /* "" offers every encoding this libcurl decodes (gzip, deflate, br, zstd here). */
    rc |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    /* Over TLS, wait for a multiplexed HTTP/2 connection to the host rather than opening
     * another; plain http:// stays HTTP/1.1, where waiting would only serialise. */
    if (strncasecmp(t->url, "https:", 6) == 0) rc |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, (long)DNS_CACHE_S);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, rq->user_agent ? rq->user_agent : DEFAULT_UA);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, t->low_speed_s);
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max);
    if (rq->proxy) {
        rc |= curl_easy_setopt(e, CURLOPT_PROXY, rq->proxy);
    } else if (!t->f->env_proxy) {
        /* Nothing to find there: spare curl its five getenv calls per transfer (the
         * environment is read once, when the fetcher starts). */
        rc |= curl_easy_setopt(e, CURLOPT_PROXY, "");
        rc |= curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    if (rq->insecure) {
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (set_headers(t) != 0) return -1;
    if (t->headers) rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (t->req_body) {
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->req_body_len);
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req_body);
    }
    if (rq->method && strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)
        rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    return rc == 0 ? 0 : -1;
}

/* Create the easy handle and hand the transfer to curl. Returns 0, or -1 with err. */
static int transfer_begin(struct transfer *t, char *err, size_t errlen)
{
    struct fetcher *f = t->f;
    t->easy = easy_take(f);
    if (!t->easy || setup_easy(t) != 0) {
        snprintf(err, errlen, "%s: cannot set up the transfer", t->url);
        return -1;
    }
    t->started_at = uv_now(f->loop);
    t->job.easy = t->easy;
    t->net = pick_net(f, t->host);
    fetch_net_submit(f->nets[t->net], &t->job);
    f->running++;
    f->net_running[t->net]++;
    t->host->running++;
    t->host->on[t->net]++;
    running_changed(f);
    return 0;
}

/* Report a transfer that never reached curl (set-up failure or cancellation). */
static void fail_unstarted(struct transfer *t, const char *why)
{
    struct fetch_result r = {0};
    r.error = why;
    r.body = "";
    r.url = t->url;
    r.effective_url = t->url;
    r.retry_after_s = -1;
    t->cb(t->arg, &r);
    transfer_free(t);
}

/* Start queued transfers while slots are free: hosts take turns, one transfer each. */
static void pump(struct fetcher *f)
{
    while (!f->closing && f->running < (size_t)f->max_total) {
        struct host *h = ready_pop(f);
        if (!h) return;
        struct transfer *t = h->qhead;
        h->qhead = t->qnext;
        if (!h->qhead) h->qtail = NULL;
        t->qnext = NULL;
        f->queued--;
        char err[256];
        if (transfer_begin(t, err, sizeof err) != 0) {
            ready_push(f, h);
            fail_unstarted(t, err);
            host_release(f, h);
            continue;
        }
        ready_push(f, h);
    }
}

int fetch_start(struct fetcher *f, const struct fetch_request *req, fetch_cb cb, void *arg,
                char *err, size_t errlen)
{
    if (f->closing) {
        snprintf(err, errlen, "shutting down");
        return -1;
    }
    char key[512];
    if (!req->url || host_key(f, req->url, key, sizeof key, err, errlen) != 0) {
        if (!req->url) snprintf(err, errlen, "no URL");
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
    int oom = !t->url || request_copy_init(&t->rq, req) != 0;
    if (!oom && req->body) {
        t->req_body = malloc(req->body_len + 1);
        oom = !t->req_body;
        if (t->req_body) {
            memcpy(t->req_body, req->body, req->body_len);
            t->req_body[req->body_len] = '\0';
            t->req_body_len = req->body_len;
        }
    }
    if (oom) {
        snprintf(err, errlen, "out of memory");
        transfer_free(t);
        return -1;
    }
    return transfer_submit(f, t, key, err, errlen);
}

/* Start a new transfer now when a slot is free, else queue it behind its host. Takes t;
 * returns 0, or -1 with err (t freed, its callback never runs). */
static int transfer_submit(struct fetcher *f, struct transfer *t, const char *key, char *err,
                           size_t errlen)
{
    /* A stalled transfer is cut after half its timeout, at most LOW_SPEED_MAX_S. */
    t->low_speed_s = t->rq.timeout_ms / 2000;
    if (t->low_speed_s > LOW_SPEED_MAX_S) t->low_speed_s = LOW_SPEED_MAX_S;
    if (t->low_speed_s < 1) t->low_speed_s = 1;
    struct host *h = host_get(f, key);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        transfer_free(t);
        return -1;
    }
    t->host = h;
    t->queued_at = uv_now(f->loop);
    if (!h->qhead && !f->ready_head && h->running < f->max_host &&
        f->running < (size_t)f->max_total) {
        /* A free slot and nobody waiting: start now, so set-up errors reach this caller. */
        if (transfer_begin(t, err, errlen) != 0) {
            transfer_free(t);
            host_release(f, h);
            return -1;
        }
        return 0;
    }
    if (h->qtail)
        h->qtail->qnext = t;
    else
        h->qhead = t;
    h->qtail = t;
    f->queued++;
    ready_push(f, h);
    return 0;
}

static struct mail_copy *mail_copy_new(const struct fetch_mail *m)
{
    struct mail_copy *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    int oom = 0;
    c->from = dup_opt(m->from, &oom);
    c->username = dup_opt(m->username, &oom);
    c->password = dup_opt(m->password, &oom);
    c->starttls = m->starttls;
    for (size_t i = 0; i < m->n_to && !oom; i++) {
        struct curl_slist *n = m->to[i] ? curl_slist_append(c->rcpt, m->to[i]) : c->rcpt;
        if (!n) oom = 1;
        c->rcpt = n ? n : c->rcpt;
    }
    if (oom || !c->rcpt) {
        mail_copy_free(c);
        return NULL;
    }
    return c;
}

int fetch_mail_start(struct fetcher *f, const struct fetch_mail *m, fetch_cb cb, void *arg,
                     char *err, size_t errlen)
{
    if (f->closing) {
        snprintf(err, errlen, "shutting down");
        return -1;
    }
    if (!m->url ||
        (strncasecmp(m->url, "smtp://", 7) != 0 && strncasecmp(m->url, "smtps://", 8) != 0)) {
        snprintf(err, errlen, "not an smtp:// or smtps:// URL");
        return -1;
    }
    if (!m->from || !m->to || m->n_to == 0 || !m->message) {
        snprintf(err, errlen, "a mail needs a sender, recipients and a message");
        return -1;
    }
    char key[512];
    if (url_host_key(m->url, key, sizeof key, err, errlen) != 0) return -1;
    struct transfer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->f = f;
    t->cb = cb;
    t->arg = arg;
    t->max = 64u << 10; /* the server's replies only */
    t->retry_after_s = -1;
    t->rq.connect_timeout_ms = DEFAULT_CONNECT_MS;
    t->rq.timeout_ms = m->timeout_ms > 0 ? m->timeout_ms : DEFAULT_TIMEOUT_MS;
    t->url = strdup(m->url);
    t->mail = mail_copy_new(m);
    t->req_body = malloc(m->message_len + 1);
    if (!t->url || !t->mail || !t->req_body) {
        snprintf(err, errlen, "out of memory");
        transfer_free(t);
        return -1;
    }
    memcpy(t->req_body, m->message, m->message_len);
    t->req_body[m->message_len] = '\0';
    t->req_body_len = m->message_len;
    return transfer_submit(f, t, key, err, errlen);
}

static void describe_error(struct transfer *t, CURLcode code, char *buf, size_t n)
{
    if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(buf, n, "response larger than %zu bytes, aborted", t->max);
    } else if (code == CURLE_TOO_MANY_REDIRECTS) {
        snprintf(buf, n, "too many redirects (%d): redirect loop?", t->redirects);
    } else if (code == CURLE_OPERATION_TIMEDOUT && strstr(t->errbuf, "too slow") &&
               !t->got_response) {
        snprintf(buf, n, "no answer within %ld s, aborted", t->low_speed_s);
    } else if (code == CURLE_OPERATION_TIMEDOUT && strstr(t->errbuf, "too slow")) {
        snprintf(buf, n, "too slow: under %d bytes/s for %ld s, aborted", LOW_SPEED_BYTES,
                 t->low_speed_s);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(buf, n, "timed out: %s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
    } else {
        snprintf(buf, n, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
    }
}

/* Report one transfer a thread gave back, release it, and free its slots for queued ones. */
static void finish(struct transfer *t)
{
    struct fetcher *f = t->f;
    const struct net_job *j = &t->job;
    struct fetch_result r = {0};
    char errtext[CURL_ERROR_SIZE + 64];
    long status = 0;
    char *eff = NULL, *ctype = NULL;
    double total = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &total);
    r.ok = !j->cancelled && j->add_error == CURLM_OK && j->code == CURLE_OK;
    r.status = status;
    if (j->cancelled) {
        r.error = "cancelled";
    } else if (j->add_error != CURLM_OK) {
        snprintf(errtext, sizeof errtext, "%s", curl_multi_strerror(j->add_error));
        r.error = errtext;
    } else if (!r.ok) {
        describe_error(t, j->code, errtext, sizeof errtext);
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
    r.queued_s = (double)(t->started_at - t->queued_at) / 1000.0;

    f->running--;
    f->net_running[t->net]--;
    running_changed(f);
    struct host *h = t->host;
    h->running--;
    h->on[t->net]--;
    ready_push(f, h);
    t->cb(t->arg, &r);
    transfer_free(t);
    host_release(f, h);
}

void fetcher_close(struct fetcher *f)
{
    if (!f || f->closing) return;
    f->closing = 1;
    /* Queued transfers never started: report them cancelled. */
    struct host *h;
    while ((h = ready_pop(f)))
        (void)h;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (h = f->buckets[b]; h; h = h->hnext) {
            while (h->qhead) {
                struct transfer *t = h->qhead;
                h->qhead = t->qnext;
                f->queued--;
                fail_unstarted(t, "cancelled");
            }
            h->qtail = NULL;
        }
    }
    /* The threads give back every running transfer (cancelled unless it had just ended)
     * and close their connections. */
    stop_nets(f);
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        while ((h = f->buckets[b])) {
            f->buckets[b] = h->hnext;
            free(h);
        }
    }
    while (f->nspare)
        curl_easy_cleanup(f->spare[--f->nspare]);
    /* The fetcher goes once its wake-up handle is closed, on the loop's next turn. */
    uv_close((uv_handle_t *)&f->jobs_done, on_jobs_done_closed);
}
