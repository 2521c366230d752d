/*
 * outbox — delivering queued alerts. The queue is the `outbox` table in the store, so an
 * alert queued before a crash is delivered after the restart. Each notifier delivers one
 * alert at a time, oldest first, which keeps the order per notifier; a failing head is
 * retried with exponential back-off and jitter (or when the receiver's Retry-After says),
 * and given up as "dead" only after the notifier's give_up_after age.
 */
#include "herald.h"

#include "alert.h"
#include "render.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One delivery attempt in flight; the plugin sees it as an opaque handle. */
struct herald_delivery {
    struct herald *h;
    struct notifier_inst *inst;
    int64_t outbox_id;
    int attempts; /* attempts before this one */
    int64_t created;
    long retry_after_s;
    struct alert_delivery_doc doc;
    struct render_set render;            /* what the notifier's template functions returned */
    struct herald_delivery *prev, *next; /* h->deliveries: every delivery in flight */
};

size_t outbox_in_flight(const struct herald *h)
{
    return h->deliveries_in_flight;
}

static void on_outbox_timer(uv_timer_t *t);

static int64_t backoff_ms(const struct cfg_notifier *c, int attempts)
{
    int64_t min = c ? c->retry_min_ms : 10000, max = c ? c->retry_max_ms : 3600000;
    int64_t d = min;
    for (int i = 1; i < attempts && d < max; i++)
        d *= 2;
    if (d > max) d = max;
    /* ±20% jitter so that many alerts failing together do not retry in lockstep. */
    int64_t j = d / 5;
    if (j > 0) d += (int64_t)(rand() % (2 * j + 1)) - j;
    return d > 0 ? d : min;
}

static void record_result(struct herald_delivery *d, enum herald_result r, const char *detail)
{
    struct herald *h = d->h;
    struct notifier_inst *n = d->inst;
    const struct cfg_notifier *c = n->cfg;
    int64_t now = now_ms();
    const char *why = detail && *detail ? detail : "no detail";
    int rc = 0;
    if (r == HERALD_DELIVERED) {
        rc = store_outbox_delivered(h->store, d->outbox_id, now / 1000);
        h->stats.delivered++;
        log_msg(&h->log, HERALD_LOG_DEBUG, "notifier %s: delivered alert %s", n->name,
                d->doc.alert.id ? d->doc.alert.id : "?");
        return (void)(rc != 0
                          ? log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store))
                          : 0);
    }
    int64_t give_up = c ? c->give_up_ms : 7LL * 86400 * 1000;
    int too_old = now - d->created * 1000 > give_up;
    if (r == HERALD_FAILED || too_old) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s%s", too_old && r != HERALD_FAILED ? "gave up: " : "", why);
        rc = store_outbox_dead(h->store, d->outbox_id, msg);
        h->stats.dead++;
        log_msg(&h->log, HERALD_LOG_ERROR,
                "notifier %s: alert %s (rule %s) not delivered: %s; kept as dead (see herald "
                "history)",
                n->name, d->doc.alert.id ? d->doc.alert.id : "?",
                d->doc.alert.rule ? d->doc.alert.rule : "?", msg);
    } else {
        int64_t next = now + backoff_ms(c, d->attempts + 1);
        if (d->retry_after_s >= 0 && now + d->retry_after_s * 1000 > next)
            next = now + d->retry_after_s * 1000;
        rc = store_outbox_retry(h->store, d->outbox_id, (next + 999) / 1000, why);
        h->stats.delivery_retries++;
        char when[32];
        log_msg(&h->log, HERALD_LOG_WARN, "notifier %s: alert %s: %s; retry %d in %s", n->name,
                d->doc.alert.id ? d->doc.alert.id : "?", why, d->attempts + 1,
                duration_format(next - now, when, sizeof when));
        if (h->once) n->blocked = 1;
    }
    if (rc != 0) log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
}

static void delivery_free(struct herald_delivery *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else if (d->h->deliveries == d)
        d->h->deliveries = d->next;
    if (d->next) d->next->prev = d->prev;
    render_set_free(&d->render);
    alert_delivery_free(&d->doc);
    free(d);
}

void outbox_retry_after(struct herald_delivery *d, long seconds)
{
    if (d && seconds >= 0) d->retry_after_s = seconds;
}

void outbox_complete(struct herald_delivery *d, enum herald_result r, const char *detail)
{
    struct herald *h = d->h;
    struct notifier_inst *n = d->inst;
    record_result(d, r, detail);
    n->in_flight--;
    h->deliveries_in_flight--;
    delivery_free(d);
    notifier_release(n);
    outbox_kick(h);
}

/* Start one delivery; returns 0 when started (or settled at once), -1 to stop the round. */
static int start_delivery(struct herald *h, const struct outbox_entry *e)
{
    struct notifier_inst *n = notifier_find(h, e->notifier);
    int64_t now = now_seconds();
    if (!n) {
        char msg[300];
        snprintf(msg, sizeof msg, "notifier '%s' is no longer in the config", e->notifier);
        log_msg(&h->log, HERALD_LOG_ERROR, "alert %s (rule %s): %s; kept as dead", e->alert_id,
                e->rule, msg);
        return store_outbox_dead(h->store, e->id, msg) == 0 ? 0 : -1;
    }
    if (!n->ready) {
        /* Its init failed (logged then); leave the alert queued for a later config. */
        n->blocked = 1;
        return store_outbox_retry(h->store, e->id, now + 3600, "notifier failed to start");
    }
    struct herald_delivery *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->h = h;
    d->inst = n;
    d->outbox_id = e->id;
    d->attempts = e->attempts;
    d->created = e->created;
    d->retry_after_s = -1;
    d->next = h->deliveries;
    if (d->next) d->next->prev = d;
    h->deliveries = d;
    char err[256];
    if (alert_delivery_parse(e->json, n->name, (unsigned)e->attempts + 1, &d->doc, err,
                             sizeof err) != 0) {
        delivery_free(d); /* the failed parse left d->doc empty */
        log_msg(&h->log, HERALD_LOG_ERROR, "alert %s: %s; kept as dead", e->alert_id, err);
        return store_outbox_dead(h->store, e->id, err) == 0 ? 0 : -1;
    }
    n->in_flight++;
    h->deliveries_in_flight++;
    if (render_needed(n->cfg)) {
        if (render_alert(h->cfg, n->cfg, &d->doc.alert, &d->render, err, sizeof err) != 0) {
            char why[400];
            snprintf(why, sizeof why, "%s (notifier at %s:%d)", err, n->cfg->file, n->cfg->line);
            record_result(d, HERALD_RETRY, why);
            n->in_flight--;
            h->deliveries_in_flight--;
            delivery_free(d);
            return 0;
        }
        d->doc.alert.rendered = d->render.v;
        d->doc.alert.n_rendered = d->render.n;
    }
    if (n->plugin->deliver(n->state, &d->doc.alert, d) != 0) {
        /* The plugin refused without completing: count it as a failed attempt. */
        record_result(d, HERALD_RETRY, "the plugin could not start the delivery");
        n->in_flight--;
        h->deliveries_in_flight--;
        delivery_free(d);
    }
    return 0;
}

/* One round: every notifier that is idle gets its due queue head. */
static void outbox_run(struct herald *h)
{
    if (!h->store || h->outbox_busy || h->stopping > 1) return;
    h->outbox_busy = 1;
    /* Held alerts whose time has come join the queues first (by the real clock, also in
     * fetch --once: a throttle window is not over just because the run is). */
    if (batch_release_due(h, now_seconds()) < 0)
        log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
    for (int round = 0; round < 1000; round++) {
        const char *busy[256];
        size_t nbusy = 0;
        for (size_t i = 0; i < h->n_notifiers && nbusy < 256; i++)
            if (h->notifiers[i]->in_flight || h->notifiers[i]->blocked)
                busy[nbusy++] = h->notifiers[i]->name;
        for (struct notifier_inst *r = h->retired; r && nbusy < 256; r = r->next_retired)
            if (r->in_flight) busy[nbusy++] = r->name;
        /* fetch --once is the cron mode: whatever is pending is due now, once per run. */
        int64_t now = h->once ? INT64_MAX / 2 : now_seconds();
        struct outbox_entry *v = NULL;
        size_t n = 0;
        if (store_outbox_due(h->store, now, busy, nbusy, 64, &v, &n) != 0) {
            log_msg(&h->log, HERALD_LOG_ERROR, "store: reading the outbox: %s",
                    store_errmsg(h->store));
            break;
        }
        size_t started = 0;
        for (size_t i = 0; i < n; i++) {
            if (start_delivery(h, &v[i]) != 0) {
                log_msg(&h->log, HERALD_LOG_ERROR, "store: %s", store_errmsg(h->store));
                break;
            }
            started++;
        }
        outbox_entries_free(v, n);
        /* Deliveries that settled at once (stdout, file) free their notifier for the next
         * entry: go round again; asynchronous ones will kick us when they complete. */
        if (n == 0 || started == 0) break;
    }
    h->outbox_busy = 0;
    outbox_schedule(h);
    herald_check_done(h);
}

static void on_outbox_timer(uv_timer_t *t)
{
    outbox_run(t->data);
}

void outbox_abandon(struct herald *h)
{
    size_t n = 0;
    while (h->deliveries) {
        delivery_free(h->deliveries);
        n++;
    }
    if (n)
        log_msg(&h->log, HERALD_LOG_INFO,
                "%zu deliver%s still in flight at exit stay queued for the next start", n,
                n == 1 ? "y" : "ies");
}

void outbox_kick(struct herald *h)
{
    if (h->stopping > 1 || !h->handles_ready) return;
    /* Through the loop, never re-entrantly from a plugin's complete(). */
    uv_timer_start(&h->outbox_timer, on_outbox_timer, 0, 0);
}

void outbox_schedule(struct herald *h)
{
    if (h->once || h->stopping > 1 || !h->handles_ready) return;
    int64_t when = 0, held = 0;
    int rc = store_outbox_next(h->store, &when);
    int rh = store_held_next(h->store, &held);
    if (rc <= 0 && rh <= 0) return;
    if (rh > 0 && (rc <= 0 || held < when)) when = held;
    int64_t delay = when * 1000 - now_ms();
    /* A head that is already due belongs to a notifier busy delivering (outbox_run just
     * started everything else); its completion kicks the outbox, so only a late safety
     * net is armed here, never a busy loop. */
    if (delay < 1000) delay = 1000;
    if (delay > 3600 * 1000) delay = 3600 * 1000;
    if (uv_timer_get_due_in(&h->outbox_timer) == 0 ||
        (int64_t)uv_timer_get_due_in(&h->outbox_timer) > delay)
        uv_timer_start(&h->outbox_timer, on_outbox_timer, (uint64_t)delay, 0);
}
