/*
 * scheduler — when each source is polled, and what a finished fetch means for it. Each
 * source has a uv_timer; a poll starts a transfer on the shared fetcher with the stored
 * validators (ETag, Last-Modified) and the stored URL (a permanent redirect moves it, for
 * as long as the configured URL stays the same). Its completion updates the source's
 * state in the store (status, error, items new, next poll), hands a parsed feed to the
 * pipeline, and arms the next poll: the source's adaptive interval after success,
 * exponential back-off with jitter after failures, or the server's Retry-After.
 *
 * First polls are spread: each source starts at a deterministic offset (a hash of its
 * name) within a window that grows with the number of sources, so a thousand sources
 * with the same interval never fire in the same second; each then keeps its own phase.
 */
#include "herald.h"

#include "page.h"
#include "prematch.h"
#include "util.h"

#include <errno.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum {
    MAX_BACKOFF_MS = 6 * 3600 * 1000, /* failing sources are retried at least this often */
    MIN_BACKOFF_MS = 1000,
    SPREAD_MIN_MS = 2000,      /* first polls spread over at least this… */
    SPREAD_PER_SOURCE_MS = 10, /* …and 10 ms per source (100 polls/s at most) */
    GAP_ITEMS = 20,            /* published dates looked at to learn a feed's rhythm */
};

static void on_poll_timer(uv_timer_t *t);
static const struct cfg_source *run_source(struct source_run *sr);

static void source_free(uv_handle_t *hd)
{
    struct source_run *sr = hd->data;
    source_state_clear(&sr->state);
    prematch_hint_free(&sr->seen_last);
    free(sr->name);
    free(sr);
}

/* The source's stored state (read from the store the first time): 1 with *out set, 0 when
 * the store has no row for it yet, -1 when it could not be read (logged). */
static int run_state(struct source_run *sr, const struct source_state **out)
{
    *out = &sr->state;
    if (sr->state_known) return sr->state_have;
    int have = store_source_get(sr->h->store, sr->name, &sr->state);
    if (have < 0) {
        log_msg(&sr->h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(sr->h->store));
        source_state_clear(&sr->state);
        return -1;
    }
    sr->state_known = 1;
    sr->state_have = have;
    return have;
}

/* Forget the kept state: the store may not hold what it says (a write failed or was rolled
 * back), so the next use reads the store again. */
static void run_state_forget(struct source_run *sr)
{
    source_state_clear(&sr->state);
    sr->state_known = 0;
}

static void arm(struct source_run *sr, int64_t delay_ms)
{
    if (delay_ms < 0) delay_ms = 0;
    sr->next_poll_ms = now_ms() + delay_ms;
    uv_timer_start(&sr->timer, on_poll_timer, (uint64_t)delay_ms, 0);
}

int64_t scheduler_offset(const char *name, int64_t window_ms)
{
    if (window_ms <= 0) return 0;
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)(h % (uint64_t)window_ms);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Delay after `failures` consecutive failures: doubling from half the source's shortest
 * interval (at least a second), capped at the larger of 6 h and max_every, ±20% jitter so
 * sources that failed together do not retry together. */
static int64_t backoff(const struct cfg_source *s, int failures)
{
    int64_t cap = s->max_every_ms > MAX_BACKOFF_MS ? s->max_every_ms : MAX_BACKOFF_MS;
    int64_t d = s->min_every_ms / 2 > MIN_BACKOFF_MS ? s->min_every_ms / 2 : MIN_BACKOFF_MS;
    for (int i = 1; i < failures && d < cap; i++)
        d *= 2;
    if (d > cap) d = cap;
    int64_t j = d / 5;
    return d + (j > 0 ? (int64_t)(rand() % (2 * j + 1)) - j : 0);
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_asc(const void *a, const void *b)
{
    return -cmp_desc(a, b);
}

/* The median gap (ms) between the newest GAP_ITEMS distinct published dates, or -1 when
 * the feed has fewer than three dated items. */
static int64_t typical_gap_ms(const struct feed *f)
{
    int64_t t[GAP_ITEMS * 4];
    size_t n = 0;
    for (size_t i = 0; i < f->n_items && n < sizeof t / sizeof t[0]; i++)
        if (f->items[i].published > 0) t[n++] = f->items[i].published;
    qsort(t, n, sizeof t[0], cmp_desc);
    int64_t d[GAP_ITEMS];
    size_t nd = 0, kept = n ? 1 : 0;
    for (size_t i = 1; i < n && nd < GAP_ITEMS - 1; i++) {
        if (t[i] == t[kept - 1]) continue;
        d[nd++] = t[kept - 1] - t[i];
        t[kept++] = t[i];
    }
    if (nd < 2) return -1;
    qsort(d, nd, sizeof d[0], cmp_asc);
    return d[nd / 2] * 1000;
}

int64_t scheduler_adapt(const struct cfg_source *src, int64_t current_ms, const struct feed *f,
                        long fresh)
{
    int64_t cur = current_ms > 0 ? current_ms : src->every_ms;
    int64_t gap = f ? typical_gap_ms(f) : -1;
    int64_t next;
    if (gap > 0)
        next = gap / 3; /* poll about three times per typical gap between stories */
    else if (fresh > 0)
        next = cur - cur / 4;
    else
        next = cur + cur / 4;
    return clamp64(next, src->min_every_ms, src->max_every_ms);
}

static void poll_finished(struct source_run *sr)
{
    struct herald *h = sr->h;
    sr->in_flight = 0;
    if (sr->removed) {
        /* Removed by a reload while this fetch ran: now it can go. */
        uv_close((uv_handle_t *)&sr->timer, source_free);
        return;
    }
    if (h->once) {
        if (h->polls_left && --h->polls_left == 0) store_checkpoint_soon(h->store);
        h->stats.polls_done++;
        herald_progress(h);
        outbox_kick(h);
        herald_check_done(h);
    } else {
        outbox_kick(h);
    }
}

static void set_error(struct source_state *st, const char *msg)
{
    free(st->last_error);
    st->last_error = strdup(msg);
    st->failures++;
}

static void set_ok(struct source_state *st)
{
    free(st->last_error);
    st->last_error = NULL;
    st->failures = 0;
}

/* A failed poll: record it, log it with the URL and the reason, and back off. */
static void poll_failed(struct herald *h, const struct cfg_source *src, const char *url,
                        struct source_state *st, const char *why, int64_t *next_ms)
{
    set_error(st, why);
    *next_ms = backoff(src, st->failures);
    char when[32];
    log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s: %s; failure %d, next try in %s", src->name,
            url, why, st->failures, duration_format(*next_ms, when, sizeof when));
    h->stats.fetch_errors++;
}

/* An HTTP error status; 429 and 503 may say when to come back (Retry-After). */
static void http_failed(struct herald *h, const struct cfg_source *src,
                        const struct fetch_result *r, struct source_state *st, int64_t *next_ms)
{
    char msg[128];
    int64_t cap = src->max_every_ms > MAX_BACKOFF_MS ? src->max_every_ms : MAX_BACKOFF_MS;
    int honour = (r->status == 429 || r->status == 503) && r->retry_after_s >= 0;
    if (honour)
        snprintf(msg, sizeof msg, "HTTP %ld, Retry-After %ld s", r->status, r->retry_after_s);
    else
        snprintf(msg, sizeof msg, "HTTP %ld", r->status);
    set_error(st, msg);
    *next_ms = backoff(src, st->failures);
    if (honour) {
        int64_t ra = (int64_t)r->retry_after_s * 1000;
        *next_ms = ra > cap ? cap : ra > *next_ms ? ra : *next_ms;
    }
    char when[32];
    log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s: %s; failure %d, next try in %s", src->name,
            r->url, msg, st->failures, duration_format(*next_ms, when, sizeof when));
    h->stats.fetch_errors++;
}

/*
 * Sources of kind "page". An article page is read as one item like any document; a
 * section or front page instead yields its story links, and each link not seen before is
 * fetched and extracted as an item of its own (its id is the link, so it is fetched once).
 * The poll finishes when the last of those article fetches has.
 */
enum { PAGE_LINKS_PER_POLL = 30 };

struct page_fetch {
    struct source_run *sr;
    char *link;
};

static void page_fetch_done(struct source_run *sr)
{
    if (--sr->pending_pages == 0) poll_finished(sr);
}

static void on_page_article(void *arg, const struct fetch_result *r)
{
    struct page_fetch *pf = arg;
    struct source_run *sr = pf->sr;
    struct herald *h = sr->h;
    const struct cfg_source *src = run_source(sr);
    if (src && !sr->removed && !h->stopping) {
        struct feed *f = NULL;
        char err[512] = "";
        if (!r->ok)
            snprintf(err, sizeof err, "%s", r->error ? r->error : "transfer failed");
        else if (r->status >= 300)
            snprintf(err, sizeof err, "HTTP %ld", r->status);
        else if (feed_parse(r->body, r->len, r->effective_url, r->content_type, NULL, &f, err,
                            sizeof err) != 0)
            f = NULL;
        if (f && f->n_items > 0) {
            /* The link is the item's id, so the section's next poll knows it was seen. */
            f->items[0].id = arena_strdup(&f->arena, pf->link);
            if (!f->items[0].link) f->items[0].link = f->items[0].id;
            f->n_items = 1;
            if (!f->items[0].id || pipeline_process(h, src, f, NULL) < 0)
                snprintf(err, sizeof err, "could not store the article");
        } else if (!err[0]) {
            snprintf(err, sizeof err, "no article found");
        }
        if (err[0])
            log_msg(&h->log, HERALD_LOG_WARN,
                    "source %s: article %s: %s; tried again at the "
                    "next poll",
                    src->name, pf->link, err);
        feed_free(f);
    }
    page_fetch_done(sr);
    free(pf->link);
    free(pf);
}

/* A section page: start fetching the story links not seen yet. Returns how many. */
static long fetch_page_links(struct herald *h, const struct cfg_source *src, struct source_run *sr,
                             const struct page_scan *scan)
{
    long started = 0;
    for (size_t i = 0; i < scan->n_links && started < PAGE_LINKS_PER_POLL; i++) {
        int seen = store_item_seen(h->store, src->name, scan->links[i]);
        if (seen != 0) continue;
        struct page_fetch *pf = calloc(1, sizeof *pf);
        if (!pf || !(pf->link = strdup(scan->links[i]))) {
            free(pf);
            break;
        }
        pf->sr = sr;
        struct fetch_request req = {0};
        req.url = pf->link;
        req.timeout_ms = src->timeout_ms;
        req.connect_timeout_ms = src->connect_timeout_ms;
        req.max_bytes = src->max_bytes;
        req.insecure = src->insecure;
        req.user_agent = src->user_agent ? src->user_agent : h->cfg->user_agent;
        req.proxy = src->proxy ? src->proxy : h->cfg->proxy;
        char err[256];
        if (fetch_start(h->fetcher, &req, on_page_article, pf, err, sizeof err) != 0) {
            log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s", src->name, err);
            free(pf->link);
            free(pf);
            continue;
        }
        sr->pending_pages++;
        started++;
    }
    return started;
}

/* Kind "page" and an HTML page: 1 when it was a section page (its links are being
 * fetched), 0 when it is an article to process as usual. */
static int handle_section(struct herald *h, const struct cfg_source *src, struct source_run *sr,
                          const struct fetch_result *r, const struct feed *f,
                          struct source_state *st, int64_t *next_ms)
{
    if (strcmp(src->kind, "page") != 0 || f->format != FEED_HTML) return 0;
    struct arena a;
    arena_init(&a);
    struct page_scan scan;
    int section = page_scan(r->body, r->len, r->effective_url ? r->effective_url : r->url, 200, &a,
                            &scan) == 0 &&
                  !scan.is_article;
    if (section) {
        long started = fetch_page_links(h, src, sr, &scan);
        log_msg(&h->log, started ? HERALD_LOG_INFO : HERALD_LOG_DEBUG,
                "source %s: section page with %zu story links, %ld new to fetch", src->name,
                scan.n_links, started);
        st->items_new = started;
        st->interval_ms = scheduler_adapt(src, st->interval_ms, NULL, started);
        *next_ms = st->interval_ms;
        set_ok(st);
    }
    arena_free(&a);
    return section;
}

/* Run a parsed 2xx body's items through the pipeline (or record why it did not parse).
 * Returns 0 when the content was processed (the validators may then be kept). */
static int process_body(struct herald *h, const struct cfg_source *src, struct source_run *sr,
                        const struct fetch_result *r, struct feed *f, const struct prematch *pre,
                        const char *perr, struct source_state *st, int64_t *next_ms)
{
    if (!f) {
        poll_failed(h, src, r->url, st, perr && *perr ? perr : "cannot parse", next_ms);
        return -1;
    }
    if (handle_section(h, src, sr, r, f, st, next_ms)) return 0;
    if (f->bozo)
        log_msg(&h->log, HERALD_LOG_INFO, "source %s: %s: malformed feed recovered (%s)", src->name,
                r->url, f->bozo_reason ? f->bozo_reason : "bozo");
    long fresh = pipeline_process(h, src, f, pre);
    size_t n_items = f->n_items;
    if (fresh >= 0) prematch_hint_set(&sr->seen_last, f);
    if (fresh < 0) {
        poll_failed(h, src, r->url, st, "could not store the items", next_ms);
        return -1;
    }
    st->interval_ms = scheduler_adapt(src, st->interval_ms, f, fresh);
    *next_ms = st->interval_ms;
    st->items_new = fresh;
    st->items_total += fresh;
    set_ok(st);
    log_msg(&h->log, fresh ? HERALD_LOG_INFO : HERALD_LOG_DEBUG, "source %s: %zu items, %ld new",
            src->name, n_items, fresh);
    return 0;
}

/* Fill `st` from a finished transfer and set *next_ms. Returns 1 when the response was a
 * success (2xx processed, or 304). */
static int handle_response(struct herald *h, const struct cfg_source *src, struct source_run *sr,
                           const struct fetch_result *r, struct feed *f, const struct prematch *pre,
                           const char *perr, struct source_state *st, int64_t *next_ms)
{
    st->last_status = r->status;
    st->items_new = 0;
    if (!r->ok) {
        poll_failed(h, src, r->url, st, r->error ? r->error : "transfer failed", next_ms);
        return 0;
    }
    if (r->status == 304) {
        h->stats.not_modified++;
        set_ok(st);
        st->interval_ms = scheduler_adapt(src, st->interval_ms, NULL, 0);
        *next_ms = st->interval_ms;
        log_msg(&h->log, HERALD_LOG_DEBUG, "source %s: not modified", src->name);
        return 1;
    }
    /* Status 0 with ok is a file:// read. */
    if (r->status >= 300 || (r->status != 0 && r->status < 200)) {
        if (r->status >= 300 && r->status < 400) {
            char why[64];
            snprintf(why, sizeof why, "HTTP %ld redirect without a usable Location", r->status);
            poll_failed(h, src, r->url, st, why, next_ms);
        } else {
            http_failed(h, src, r, st, next_ms);
        }
        return 0;
    }
    if (process_body(h, src, sr, r, f, pre, perr, st, next_ms) != 0) return 0;
    /* Validators are kept only once the content they describe has been processed. */
    free(st->etag);
    free(st->last_modified);
    st->etag = r->etag ? strdup(r->etag) : NULL;
    st->last_modified = r->last_modified ? strdup(r->last_modified) : NULL;
    return 1;
}

/* After a success, a chain of 301/308 moves the source: later polls (and restarts) go to
 * the new URL directly, for as long as the configured URL stays the same. */
static void follow_move(struct herald *h, const struct cfg_source *src,
                        const struct fetch_result *r, struct source_state *st)
{
    const char *now_url = r->url;
    if (r->permanent_redirect && r->effective_url && strcmp(r->effective_url, r->url) != 0) {
        now_url = r->effective_url;
        log_msg(&h->log, HERALD_LOG_INFO,
                "source %s: %s moved permanently to %s; polling the new URL from now on", src->name,
                r->url, r->effective_url);
    }
    free(st->url);
    st->url = strdup(now_url);
}

/* The config entry of a run: its remembered index when still valid (the common case;
 * with thousands of sources a name search per poll adds up), else a search. */
static const struct cfg_source *run_source(struct source_run *sr)
{
    const struct config *cfg = sr->h->cfg;
    if (!cfg) return NULL;
    if (sr->cfg_index < cfg->n_sources && strcmp(cfg->sources[sr->cfg_index].name, sr->name) == 0)
        return &cfg->sources[sr->cfg_index];
    const struct cfg_source *s = config_source(cfg, sr->name);
    if (s) sr->cfg_index = (size_t)(s - cfg->sources);
    return s;
}

/* Record a finished poll (with its parsed feed, for a 2xx) in the store and arm the next
 * poll. Returns 1 when it was recorded (end_poll follows once the writes are committed), 0
 * when there was nothing to record (the source is gone, or herald is stopping: only
 * poll_finished follows). Never ends the poll itself: it may run inside a batch's open
 * transaction, and nothing may be delivered before the commit. */
static int record_poll(struct source_run *sr, const struct fetch_result *r, struct feed *f,
                       const struct prematch *pre, const char *perr)
{
    struct herald *h = sr->h;
    const struct cfg_source *src = run_source(sr);
    if (!src || sr->removed || h->stopping) return 0;
    h->stats.fetches++;
    /* Taken out of the source run, updated, written, and put back once written. */
    const struct source_state *kept;
    struct source_state st = {0};
    if (run_state(sr, &kept) >= 0) {
        st = *kept;
        memset(&sr->state, 0, sizeof sr->state);
    }
    sr->state_known = 0;
    /* A source whose configured URL changed starts afresh: no learnt interval. */
    const char *origin = st.origin_url ? st.origin_url : st.url;
    if (!origin || strcmp(origin, src->url) != 0) st.interval_ms = 0;
    int64_t next = st.interval_ms > 0 ? st.interval_ms : src->every_ms;
    if (handle_response(h, src, sr, r, f, pre, perr, &st, &next)) {
        follow_move(h, src, r, &st);
    } else if (!st.url || strcmp(r->url, st.url) != 0) {
        free(st.url);
        st.url = strdup(r->url);
    }
    free(st.origin_url);
    st.origin_url = strdup(src->url);
    st.last_fetch = now_seconds();
    st.next_poll = st.last_fetch + (next + 999) / 1000;
    if (store_source_put(h->store, src->name, &st) != 0) {
        log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
        source_state_clear(&st);
    } else {
        sr->state = st; /* until the commit says otherwise (batch_flush) */
        sr->state_known = sr->state_have = 1;
    }
    if (!h->once) arm(sr, next);
    return 1;
}

/* After the poll's writes are committed: a section page's article fetches finish the poll
 * when the last one is done; any other poll finishes now. */
static void end_poll(struct source_run *sr)
{
    if (sr->pending_pages == 0) poll_finished(sr);
}

static void complete_poll(struct source_run *sr, const struct fetch_result *r, struct feed *f,
                          const char *perr)
{
    if (record_poll(sr, r, f, NULL, perr))
        end_poll(sr);
    else
        poll_finished(sr);
}

/*
 * Finished transfers become jobs. A 2xx body is parsed on libuv's thread pool while the loop
 * thread keeps fetching and runs the rules and the store for feeds already parsed. A job owns
 * copies of what the response said. Jobs waiting (to be parsed, or parsed and waiting for the
 * loop thread) hold their bodies, so their number and bytes are capped; beyond the caps a
 * feed is parsed on the loop thread, which slows fetching down to match. (Tokenising the
 * items on the pool as well was measured and dropped: on two cores the docs waiting for the
 * loop thread cost more, in memory and in frees across threads, than the loop thread saved.)
 *
 * Finished jobs (and 304s and errors) then wait a few milliseconds to be recorded together:
 * one transaction for a batch of polls, each poll's items and alerts one part of it (a
 * savepoint, so a feed that fails is undone alone) and its source state beside them. A
 * commit per feed and one per source state were a fifth of the loop thread's time at 10,000
 * feeds. A poll ends (its alerts may be delivered, `fetch --once` may count it done) only
 * after the commit, so an item is still marked seen in the same transaction as its alerts
 * are queued, and a kill -9 loses only polls that are then simply fetched again.
 */
enum {
    PARSE_JOBS = 256,
    PARSE_BYTES = 32 << 20,
    BATCH_POLLS = 64, /* polls recorded in one transaction (more if they end in one turn)… */
    BATCH_MS = 5,     /* …waiting at most this long for more to finish */
    /* The pool parses at this much lower a priority than the loop thread. The loop is the
     * one serial stage (fetching, the store, firing) and feeds the pool: when the kernel
     * shares the cores out evenly among four busy parsers and it, the loop falls behind,
     * the pool then runs dry and cores sit idle. Favouring the loop keeps both busy
     * (10,000 feeds on 2 cores: 2.61 s → 2.25 s, median of 7, bench/fetch's config). */
    POOL_NICE = 10,
};

struct parse_job {
    uv_work_t work;
    struct source_run *sr;
    struct poll_batch *b;
    struct parse_job *next; /* in the batch */
    struct fetch_result r;  /* its strings point into the copies below */
    char *body, *url, *effective_url, *content_type, *etag, *last_modified, *error;
    struct feed_limits lim;
    struct feed *f;
    /* The rules' C half over the parsed items, computed on the pool with `cfg` (held) */
    struct config *cfg;
    const char *src_name, *src_lang; /* of cfg's source */
    struct prematch_hint skip;       /* items the source's last poll processed */
    struct prematch pre;
    int to_end; /* recorded in the batch: end_poll (else poll_finished) after the commit */
    char perr[512];
};

/* Polls waiting for their batch commit: h->poll_batch from the first scheduler_sync until
 * scheduler_close; freed after the last job of the pool has been recorded. */
struct poll_batch {
    struct herald *h;
    uv_timer_t timer;
    struct parse_job *head, *tail;
    size_t n;
    size_t jobs;    /* jobs alive: the batch is freed once closed and none is left */
    int closing;    /* scheduler_close ran: jobs are recorded one by one */
    int timer_open; /* until its close callback */
    int pool_nice;  /* the nice value parse jobs run at; set once, read by the pool */
};

static void batch_maybe_free(struct poll_batch *b)
{
    if (b->closing && !b->timer_open && !b->jobs) free(b);
}

static void parse_job_free(struct parse_job *j)
{
    struct poll_batch *b = j->b;
    prematch_free(&j->pre);
    prematch_hint_free(&j->skip);
    if (j->cfg) config_release(j->cfg);
    feed_free(j->f);
    free(j->body);
    free(j->url);
    free(j->effective_url);
    free(j->content_type);
    free(j->etag);
    free(j->last_modified);
    free(j->error);
    free(j);
    b->jobs--;
    batch_maybe_free(b);
}

static void parse_limits(struct herald *h, const struct cfg_source *src, struct feed_limits *lim)
{
    /* The body is already within the source's max_bytes; the global cap may be lower. */
    size_t doc_cap = h->cfg->max_document_bytes;
    memset(lim, 0, sizeof *lim);
    lim->max_bytes = doc_cap && doc_cap < src->max_bytes ? doc_cap : src->max_bytes;
    lim->max_items = h->cfg->max_items;
    lim->max_depth = h->cfg->max_depth;
}

static void parse_run(struct parse_job *j)
{
    j->perr[0] = '\0';
    if (feed_parse(j->r.body, j->r.len, j->r.effective_url, j->r.content_type, &j->lim, &j->f,
                   j->perr, sizeof j->perr) != 0)
        j->f = NULL;
}

static void on_parse_work(uv_work_t *w)
{
    struct parse_job *j = w->data;
    /* Per job rather than once per thread: libuv owns its threads, and a syscall per feed
     * is nothing beside parsing it. Failing only leaves the thread at the loop's priority. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), j->b->pool_nice);
    parse_run(j);
    /* Out of memory here only means the loop thread evaluates the rules itself. */
    if (j->f && j->cfg) prematch_feed(j->cfg, j->src_name, j->src_lang, j->f, &j->skip, &j->pre);
}

/* Record every waiting poll in one transaction, then end them. */
static void batch_flush(struct poll_batch *b)
{
    struct herald *h = b->h;
    struct parse_job *list = b->head;
    size_t n = b->n;
    b->head = b->tail = NULL;
    b->n = 0;
    uv_timer_stop(&b->timer);
    if (!list) return;
    /* Without a transaction (it could not begin) each poll's writes commit on their own. */
    int tx = store_begin(h->store) == 0;
    if (!tx)
        log_msg(&h->log, HERALD_LOG_ERROR, "store: %s; recording polls one by one",
                store_errmsg(h->store));
    for (struct parse_job *j = list; j; j = j->next)
        j->to_end = record_poll(j->sr, &j->r, j->f, &j->pre, j->perr);
    if (tx && store_commit(h->store) != 0) {
        log_msg(&h->log, HERALD_LOG_ERROR,
                "store: %s; the %zu polls of this batch are not recorded and their sources "
                "are fetched again at their next poll",
                store_errmsg(h->store), n);
        /* Their kept states hold the new validators: the next poll must not send them. */
        for (struct parse_job *j = list; j; j = j->next)
            run_state_forget(j->sr);
    }
    struct parse_job *j = list;
    while (j) {
        struct parse_job *next = j->next;
        if (j->to_end)
            end_poll(j->sr);
        else
            poll_finished(j->sr);
        parse_job_free(j);
        j = next;
    }
}

static void on_batch_timer(uv_timer_t *t)
{
    batch_flush(t->data);
}

/* A finished job waits for the batch commit (or, once the scheduler closed, is recorded
 * alone). Takes j. */
static void batch_add(struct parse_job *j)
{
    struct poll_batch *b = j->b;
    if (b->closing) {
        complete_poll(j->sr, &j->r, j->f, j->perr);
        parse_job_free(j);
        return;
    }
    j->next = NULL;
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    /* A full batch, or one nothing else is coming for (no transfer, no parse), is recorded
     * on the loop's next turn: after the fetcher has refilled the slots the finished
     * transfers freed, so the transfer threads work while the commit runs. */
    struct herald *h = j->sr->h;
    int idle = h->stats.parse_jobs == 0 && (!h->fetcher || fetcher_active(h->fetcher) == 0);
    if (++b->n >= BATCH_POLLS || idle)
        uv_timer_start(&b->timer, on_batch_timer, 0, 0);
    else if (!uv_is_active((uv_handle_t *)&b->timer))
        uv_timer_start(&b->timer, on_batch_timer, BATCH_MS, 0);
}

static void on_parse_done(uv_work_t *w, int status)
{
    struct parse_job *j = w->data;
    struct herald *h = j->sr->h;
    h->stats.parse_jobs--;
    h->stats.parse_bytes -= j->r.len;
    if (status != 0 && !j->f) snprintf(j->perr, sizeof j->perr, "parse cancelled");
    batch_add(j);
}

/* Copy what a response said so it outlives the fetch callback. */
static struct parse_job *parse_job_new(struct poll_batch *b, struct source_run *sr,
                                       const struct fetch_result *r)
{
    struct parse_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->b = b;
    b->jobs++;
    j->sr = sr;
    j->r = *r;
    int oom = 0;
    j->body = malloc(r->len + 1);
    if (j->body) {
        memcpy(j->body, r->body, r->len);
        j->body[r->len] = '\0';
    }
#define COPY(field)                                                                                \
    do {                                                                                           \
        j->field = r->field ? strdup(r->field) : NULL;                                             \
        if (r->field && !j->field) oom = 1;                                                        \
        j->r.field = j->field;                                                                     \
    } while (0)
    COPY(url);
    COPY(effective_url);
    COPY(content_type);
    COPY(etag);
    COPY(last_modified);
    COPY(error);
#undef COPY
    j->r.body = j->body;
    if (oom || !j->body) {
        parse_job_free(j);
        return NULL;
    }
    return j;
}

static void on_fetched(void *arg, const struct fetch_result *r)
{
    struct source_run *sr = arg;
    struct herald *h = sr->h;
    struct poll_batch *b = h->poll_batch;
    const struct cfg_source *src = run_source(sr);
    if (!b || b->closing || !src || sr->removed || h->stopping) {
        complete_poll(sr, r, NULL, NULL);
        return;
    }
    struct parse_job *j = parse_job_new(b, sr, r);
    if (!j) {
        complete_poll(sr, r, NULL, "out of memory");
        return;
    }
    if (!r->ok || (r->status != 0 && (r->status < 200 || r->status >= 300))) {
        batch_add(j); /* a 304 or a failure: only the source's state to record */
        return;
    }
    parse_limits(h, src, &j->lim);
    j->work.data = j;
    if (!src->kind ||
        strcmp(src->kind, "page") != 0) { /* a section page's items are links, not news */
        j->cfg = h->cfg;
        config_hold(j->cfg);
        j->src_name = src->name;
        j->src_lang = src->lang;
        prematch_hint_copy(&sr->seen_last, &j->skip);
    }
    if (h->stats.parse_jobs < PARSE_JOBS && h->stats.parse_bytes + r->len < PARSE_BYTES &&
        uv_queue_work(&h->loop, &j->work, on_parse_work, on_parse_done) == 0) {
        h->stats.parse_jobs++;
        h->stats.parse_bytes += r->len;
        return;
    }
    parse_run(j);
    batch_add(j);
}

/* Create the batch of the loop on first use. 0, or -1 when out of memory. */
static int batch_open(struct herald *h)
{
    if (h->poll_batch) return 0;
    struct poll_batch *b = calloc(1, sizeof *b);
    if (!b) return -1;
    b->h = h;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0); /* -1 is a valid nice value: errno tells */
    if (errno) base = 0;
    b->pool_nice = base + POOL_NICE > 19 ? 19 : base + POOL_NICE;
    uv_timer_init(&h->loop, &b->timer);
    b->timer.data = b;
    b->timer_open = 1;
    h->poll_batch = b;
    return 0;
}

static void on_batch_timer_closed(uv_handle_t *hd)
{
    struct poll_batch *b = hd->data;
    b->timer_open = 0;
    batch_maybe_free(b);
}

/* Record what waits; jobs still on the pool are then recorded one by one. */
static void batch_close(struct herald *h)
{
    struct poll_batch *b = h->poll_batch;
    if (!b) return;
    batch_flush(b);
    h->poll_batch = NULL;
    b->closing = 1;
    uv_close((uv_handle_t *)&b->timer, on_batch_timer_closed);
}

static void start_poll(struct source_run *sr)
{
    struct herald *h = sr->h;
    const struct cfg_source *src = run_source(sr);
    if (!src || sr->in_flight || h->stopping) return;
    const struct source_state *st;
    int have = run_state(sr, &st);
    /* The stored URL and validators only apply while the configured URL is the one they
     * came from (rows from before origin_url existed: the stored URL itself). */
    const char *origin = have == 1 ? (st->origin_url ? st->origin_url : st->url) : NULL;
    int same = origin && st->url && strcmp(origin, src->url) == 0;
    struct fetch_request req = {0};
    req.url = same ? st->url : src->url;
    req.etag = same ? st->etag : NULL;
    req.last_modified = same ? st->last_modified : NULL;
    req.timeout_ms = src->timeout_ms;
    req.connect_timeout_ms = src->connect_timeout_ms;
    req.max_bytes = src->max_bytes;
    req.insecure = src->insecure;
    req.user_agent = src->user_agent ? src->user_agent : h->cfg->user_agent;
    req.proxy = src->proxy ? src->proxy : h->cfg->proxy;
    char err[512];
    sr->in_flight = 1;
    if (fetch_start(h->fetcher, &req, on_fetched, sr, err, sizeof err) != 0) {
        sr->in_flight = 0;
        log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s", src->name, err);
        if (!h->once) arm(sr, backoff(src, 1));
        poll_finished(sr);
    }
}

static void on_poll_timer(uv_timer_t *t)
{
    struct source_run *sr = t->data;
    /* A paused source keeps its place in the schedule but does not poll. */
    if (herald_paused(sr->h, sr->name)) {
        const struct cfg_source *src = run_source(sr);
        if (src && !sr->h->once) arm(sr, src->every_ms);
        return;
    }
    start_poll(sr);
}

long scheduler_poll_now(struct herald *h, const char *name, void (*each)(void *, const char *),
                        void *arg)
{
    long started = 0;
    int found = 0;
    for (size_t i = 0; i < h->n_sources; i++) {
        struct source_run *sr = h->sources[i];
        if (name && strcmp(sr->name, name) != 0) continue;
        found = 1;
        if (sr->in_flight || (!name && herald_paused(h, sr->name))) continue;
        uv_timer_stop(&sr->timer);
        start_poll(sr);
        if (sr->in_flight) {
            started++;
            if (each) each(arg, sr->name);
        }
    }
    return name && !found ? -1 : started;
}

static struct source_run *run_find(struct herald *h, const char *name)
{
    for (size_t i = 0; i < h->n_sources; i++)
        if (strcmp(h->sources[i]->name, name) == 0) return h->sources[i];
    return NULL;
}

static void run_remove(struct source_run *sr)
{
    sr->removed = 1;
    uv_timer_stop(&sr->timer);
    /* With a fetch in flight, its completion closes the timer (poll_finished). */
    if (!sr->in_flight) uv_close((uv_handle_t *)&sr->timer, source_free);
}

/* When a newly scheduled source first polls: at its offset within the start-up window,
 * or at its stored next poll when that is still ahead (never later than one interval). */
static int64_t first_delay(struct source_run *sr, const struct cfg_source *s, int64_t window)
{
    const struct source_state *st;
    int have = run_state(sr, &st);
    if (sr->h->once) return 0; /* the fetcher's queue paces a one-off run */
    int64_t every = s->every_ms;
    int64_t delay = scheduler_offset(s->name, window < every ? window : every);
    if (have == 1 && st->next_poll > 0) {
        int64_t wait = st->next_poll * 1000 - now_ms();
        int64_t cap = st->interval_ms > every ? st->interval_ms : every;
        /* Stored times are whole seconds: keep each source's place inside its second. */
        if (wait > 0) delay = (wait > cap ? cap : wait) + scheduler_offset(s->name, 1000);
    }
    return delay;
}

/* Hand the stored row of a new run over to it (`rows` from store_source_list, or NULL). */
static void take_state(struct source_run *sr, struct source_row *rows, size_t n)
{
    if (!rows) return;
    struct source_row *row = source_rows_find(rows, n, sr->name);
    if (row) {
        sr->state = row->st;
        memset(&row->st, 0, sizeof row->st);
    }
    sr->state_known = 1;
    sr->state_have = row != NULL;
}

static int sync_runs(struct herald *h, struct source_row *rows, size_t nrows)
{
    const struct config *cfg = h->cfg;
    /* Feeds are parsed on the thread pool: libxml2 must be set up on this thread first. */
    xmlInitParser();
    if (batch_open(h) != 0) return -1;
    struct source_run **v = calloc(cfg->n_sources + 1, sizeof *v);
    if (!v) return -1;
    size_t n = 0, enabled = 0;
    int64_t window = SPREAD_MIN_MS;
    if ((int64_t)cfg->n_sources * SPREAD_PER_SOURCE_MS > window)
        window = (int64_t)cfg->n_sources * SPREAD_PER_SOURCE_MS;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        if (!s->enabled) continue;
        enabled++;
        struct source_run *sr = run_find(h, s->name);
        if (sr) {
            sr->cfg_index = i;
            v[n++] = sr;
            continue;
        }
        sr = calloc(1, sizeof *sr);
        if (!sr || !(sr->name = strdup(s->name))) {
            free(sr);
            free(v);
            return -1;
        }
        sr->h = h;
        sr->cfg_index = i;
        take_state(sr, rows, nrows);
        uv_timer_init(&h->loop, &sr->timer);
        sr->timer.data = sr;
        v[n++] = sr;
        if (s->insecure)
            log_msg(&h->log, HERALD_LOG_WARN,
                    "source %s: TLS certificate verification is OFF (insecure = true) for %s",
                    s->name, s->url);
        arm(sr, first_delay(sr, s, window));
    }
    /* Sources gone from the config stop now (an in-flight fetch finishes harmlessly). */
    for (size_t i = 0; i < h->n_sources; i++) {
        int kept = 0;
        for (size_t j = 0; j < n && !kept; j++)
            kept = v[j] == h->sources[i];
        if (!kept) run_remove(h->sources[i]);
    }
    free(h->sources);
    h->sources = v;
    h->n_sources = n;
    if (h->once) h->polls_left = enabled;
    return 0;
}

int scheduler_sync(struct herald *h)
{
    /* New runs get their stored state from one read of every row: ten thousand point
     * queries cost ten times as much. Without it each reads its row on first use. */
    struct source_row *rows = NULL;
    size_t n = 0;
    if (store_source_list(h->store, &rows, &n) != 0) {
        log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
        rows = NULL;
        n = 0;
    }
    int rc = sync_runs(h, rows, n);
    source_rows_free(rows, n);
    return rc;
}

void scheduler_close(struct herald *h)
{
    batch_close(h);
    for (size_t i = 0; i < h->n_sources; i++)
        run_remove(h->sources[i]);
    free(h->sources);
    h->sources = NULL;
    h->n_sources = 0;
}
