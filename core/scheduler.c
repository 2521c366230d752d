/*
 * scheduler — when each source is polled, and what a finished fetch means for it. Each
 * source has a uv_timer; a poll starts a transfer on the shared fetcher with the stored
 * validators (ETag, Last-Modified), and its completion updates the source's state in the
 * store, hands a parsed feed to the pipeline, and arms the next poll: the source's
 * interval after success, exponential back-off with jitter after failures, or the
 * server's Retry-After.
 */
#include "herald.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_BACKOFF_MS = 6 * 3600 * 1000 };

static void on_poll_timer(uv_timer_t *t);

static void source_free(uv_handle_t *hd)
{
    struct source_run *sr = hd->data;
    free(sr->name);
    free(sr);
}

static void arm(struct source_run *sr, int64_t delay_ms)
{
    if (delay_ms < 0) delay_ms = 0;
    sr->next_poll_ms = now_ms() + delay_ms;
    uv_timer_start(&sr->timer, on_poll_timer, (uint64_t)delay_ms, 0);
}

/* Interval after `failures` consecutive failures: doubling from the source's interval's
 * tenth (at least 30 s), capped, with ±20% jitter. */
static int64_t backoff(const struct cfg_source *s, int failures)
{
    int64_t d = s->every_ms / 10 > 30000 ? s->every_ms / 10 : 30000;
    for (int i = 1; i < failures && d < MAX_BACKOFF_MS; i++) d *= 2;
    if (d > MAX_BACKOFF_MS) d = MAX_BACKOFF_MS;
    if (d > s->every_ms && failures < 3) d = s->every_ms;
    int64_t j = d / 5;
    return d + (j > 0 ? (int64_t)(rand() % (2 * j + 1)) - j : 0);
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
        if (h->polls_left) h->polls_left--;
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

static void handle_response(struct source_run *sr, const struct cfg_source *src,
                            const struct fetch_result *r, struct source_state *st,
                            int64_t *next_ms)
{
    struct herald *h = sr->h;
    char msg[1024];
    st->last_status = r->status;
    st->items_new = 0;
    if (!r->ok) {
        snprintf(msg, sizeof msg, "%s", r->error ? r->error : "transfer failed");
        set_error(st, msg);
        log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s: %s", src->name, src->url, msg);
        *next_ms = backoff(src, st->failures);
        h->stats.fetch_errors++;
        return;
    }
    if (r->status == 304) {
        h->stats.not_modified++;
        free(st->last_error);
        st->last_error = NULL;
        st->failures = 0;
        log_msg(&h->log, HERALD_LOG_DEBUG, "source %s: not modified", src->name);
        return;
    }
    if (r->status >= 400) {
        snprintf(msg, sizeof msg, "HTTP %ld", r->status);
        set_error(st, msg);
        *next_ms = backoff(src, st->failures);
        if ((r->status == 429 || r->status == 503) && r->retry_after_s >= 0) {
            int64_t ra = (int64_t)r->retry_after_s * 1000;
            if (ra > *next_ms) *next_ms = ra;
        }
        char when[32];
        log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s: %s; next try in %s", src->name,
                src->url, msg, duration_format(*next_ms, when, sizeof when));
        h->stats.fetch_errors++;
        return;
    }
    /* The body is already within the source's max_bytes; the global cap may be lower. */
    size_t doc_cap = h->cfg->max_document_bytes;
    struct feed_limits lim = {.max_bytes = doc_cap && doc_cap < src->max_bytes ? doc_cap
                                                                              : src->max_bytes,
                              .max_items = h->cfg->max_items,
                              .max_depth = h->cfg->max_depth};
    struct feed *f = NULL;
    char perr[512];
    if (feed_parse(r->body, r->len, r->effective_url, r->content_type, &lim, &f, perr,
                   sizeof perr) != 0) {
        set_error(st, perr);
        log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s: %s", src->name, src->url, perr);
        *next_ms = backoff(src, st->failures);
        h->stats.fetch_errors++;
        return;
    }
    if (f->bozo)
        log_msg(&h->log, HERALD_LOG_INFO, "source %s: %s: malformed feed recovered (%s)",
                src->name, src->url, f->bozo_reason ? f->bozo_reason : "bozo");
    long fresh = pipeline_process(h, src, f);
    size_t n_items = f->n_items;
    feed_free(f);
    if (fresh < 0) {
        set_error(st, "could not store the items");
        *next_ms = backoff(src, st->failures);
        return;
    }
    st->items_new = fresh;
    st->items_total += fresh;
    free(st->last_error);
    st->last_error = NULL;
    st->failures = 0;
    /* Validators are kept only once the content they describe has been processed. */
    free(st->etag);
    free(st->last_modified);
    st->etag = r->etag ? strdup(r->etag) : NULL;
    st->last_modified = r->last_modified ? strdup(r->last_modified) : NULL;
    log_msg(&h->log, fresh ? HERALD_LOG_INFO : HERALD_LOG_DEBUG, "source %s: %zu items, %ld new",
            src->name, n_items, fresh);
}

static void on_fetched(void *arg, const struct fetch_result *r)
{
    struct source_run *sr = arg;
    struct herald *h = sr->h;
    const struct cfg_source *src = h->cfg ? config_source(h->cfg, sr->name) : NULL;
    if (!src || sr->removed || h->stopping) {
        poll_finished(sr);
        return;
    }
    h->stats.fetches++;
    struct source_state st = {0};
    if (store_source_get(h->store, src->name, &st) < 0)
        log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
    int64_t next = src->every_ms;
    handle_response(sr, src, r, &st, &next);
    free(st.url);
    st.url = strdup(src->url);
    st.last_fetch = now_seconds();
    st.next_poll = st.last_fetch + next / 1000;
    if (store_source_put(h->store, src->name, &st) != 0)
        log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
    source_state_clear(&st);
    if (!h->once) arm(sr, next);
    poll_finished(sr);
}

static void start_poll(struct source_run *sr)
{
    struct herald *h = sr->h;
    const struct cfg_source *src = config_source(h->cfg, sr->name);
    if (!src || sr->in_flight || h->stopping) return;
    struct source_state st = {0};
    int have = store_source_get(h->store, src->name, &st);
    /* Validators only apply to the URL they were obtained from. */
    int same_url = have == 1 && st.url && strcmp(st.url, src->url) == 0;
    struct fetch_request req = {0};
    req.url = src->url;
    req.etag = same_url ? st.etag : NULL;
    req.last_modified = same_url ? st.last_modified : NULL;
    req.timeout_ms = src->timeout_ms;
    req.max_bytes = src->max_bytes;
    req.insecure = src->insecure;
    req.user_agent = h->cfg->user_agent;
    char err[512];
    sr->in_flight = 1;
    if (fetch_start(h->fetcher, &req, on_fetched, sr, err, sizeof err) != 0) {
        sr->in_flight = 0;
        log_msg(&h->log, HERALD_LOG_WARN, "source %s: %s", src->name, err);
        if (!h->once) arm(sr, backoff(src, 1));
        poll_finished(sr);
    }
    source_state_clear(&st);
}

static void on_poll_timer(uv_timer_t *t)
{
    start_poll(t->data);
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

int scheduler_sync(struct herald *h)
{
    const struct config *cfg = h->cfg;
    struct source_run **v = calloc(cfg->n_sources + 1, sizeof *v);
    if (!v) return -1;
    size_t n = 0, enabled = 0;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        if (!s->enabled) continue;
        enabled++;
        struct source_run *sr = run_find(h, s->name);
        if (sr) {
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
        uv_timer_init(&h->loop, &sr->timer);
        sr->timer.data = sr;
        v[n++] = sr;
        /* Spread first polls over a few seconds so a thousand sources do not start in the
         * same instant; fetch --once starts them all (curl queues what exceeds the caps). */
        int64_t delay = h->once ? 0 : (int64_t)(i % 100) * 20;
        if (!h->once) {
            struct source_state st = {0};
            if (store_source_get(h->store, s->name, &st) == 1 && st.next_poll > 0) {
                int64_t wait = st.next_poll * 1000 - now_ms();
                if (wait > s->every_ms) wait = s->every_ms;
                if (wait > delay) delay = wait;
            }
            source_state_clear(&st);
        }
        arm(sr, delay);
    }
    /* Sources gone from the config stop now (an in-flight fetch finishes harmlessly). */
    for (size_t i = 0; i < h->n_sources; i++) {
        int kept = 0;
        for (size_t j = 0; j < n && !kept; j++) kept = v[j] == h->sources[i];
        if (!kept) run_remove(h->sources[i]);
    }
    free(h->sources);
    h->sources = v;
    h->n_sources = n;
    if (h->once) h->polls_left = enabled;
    return 0;
}

void scheduler_close(struct herald *h)
{
    for (size_t i = 0; i < h->n_sources; i++) run_remove(h->sources[i]);
    free(h->sources);
    h->sources = NULL;
    h->n_sources = 0;
}
