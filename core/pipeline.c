/*
 * pipeline — what happens to the items of one fetched feed: each item not seen before is
 * run through the rules, and marking it seen and queueing its alerts happen in the same
 * transaction. If herald dies mid-way, the transaction rolls back and the next poll sees
 * the items as new again: nothing seen is forgotten, no alert is dropped.
 */
#include "herald.h"

#include "alert.h"
#include "evaluate.h"
#include "prematch.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fire_ctx {
    struct herald *h;
    const struct cfg_source *src;
    const struct herald_article *a;
    int64_t now;
    int failed;
};

static int on_fire(void *arg, struct cfg_rule *r, const struct evidence_list *ev)
{
    struct fire_ctx *fc = arg;
    struct herald *h = fc->h;
    char id[33];
    alert_make_id(r->name, fc->src->name, fc->a->id, id);
    char *json = alert_to_json(id, r->name, fc->now, fc->a, ev);
    if (!json) return -1;
    /* A rule without `notify` notifies every declared notifier. */
    size_t n = r->n_notify ? r->n_notify : h->cfg->n_notifiers;
    struct alert_route *routes = calloc(n + 1, sizeof *routes);
    char **keys = calloc(n + 1, sizeof *keys);
    int rc = routes && keys ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *name = r->n_notify ? r->notify[i] : h->cfg->notifiers[i].name;
        rc = batch_route(h, r, name, fc->now, &routes[i], &keys[i]);
    }
    if (rc == 0)
        rc = store_alert_add_routed(h->store, id, r->name, fc->src->name, fc->a->id, fc->a->title,
                                    fc->a->link, json, routes, n, fc->now);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(routes);
    free(json);
    if (rc < 0) return -1;
    if (rc == 1) {
        h->stats.alerts++;
        log_msg(&h->log, HERALD_LOG_INFO, "alert: rule %s fired on \"%s\" (source %s)", r->name,
                fc->a->title ? fc->a->title : "(untitled)", fc->src->name);
    }
    return 0;
}

struct dated {
    int64_t published;
    size_t pos;
};

static int cmp_dated(const void *a, const void *b)
{
    const struct dated *x = a, *y = b;
    if (x->published != y->published) return x->published < y->published ? -1 : 1;
    /* Same time: the later in the document is the older (feeds list newest first). */
    return x->pos < y->pos ? 1 : x->pos > y->pos ? -1 : 0;
}

/* The order to process a feed's items in, so alerts queue in publication order: by date
 * when every item has one, else the document backwards (feeds list newest first).
 * malloc'd, NULL when out of memory. */
static size_t *publication_order(const struct feed *f)
{
    size_t *order = malloc((f->n_items + 1) * sizeof *order);
    struct dated *d = malloc((f->n_items + 1) * sizeof *d);
    if (!order || !d) {
        free(order);
        free(d);
        return NULL;
    }
    int all_dated = 1;
    for (size_t i = 0; i < f->n_items; i++) {
        d[i].published = f->items[i].published;
        d[i].pos = i;
        if (d[i].published < 0) all_dated = 0;
    }
    if (all_dated)
        qsort(d, f->n_items, sizeof *d, cmp_dated);
    else
        for (size_t i = 0; i < f->n_items; i++)
            d[i].pos = f->n_items - 1 - i;
    for (size_t i = 0; i < f->n_items; i++)
        order[i] = d[i].pos;
    free(d);
    return order;
}

long pipeline_process(struct herald *h, const struct cfg_source *src, const struct feed *f,
                      const struct prematch *pre)
{
    int64_t now = now_seconds();
    size_t *order = publication_order(f);
    if (!order) return -1;
    /* One feed of a batch the caller commits (the scheduler records polls together), or a
     * transaction of its own. */
    int part = store_in_transaction(h->store);
    if ((part ? store_part_begin(h->store) : store_begin(h->store)) != 0) {
        free(order);
        return -1;
    }
    long fresh = 0;
    for (size_t k = 0; k < f->n_items; k++) {
        const struct item *it = &f->items[order[k]];
        if (!it->id) continue;
        int fresh_item = store_item_touch(h->store, src->name, it->id, it->title, it->link, now);
        if (fresh_item < 0) goto fail;
        if (!fresh_item) continue;
        fresh++;
        struct herald_article a;
        article_from_item(&a, src->name, src->lang, f, it);
        struct fire_ctx fc = {.h = h, .src = src, .a = &a, .now = now};
        uint64_t t0 = uv_hrtime();
        const struct rule_hit *hits = NULL;
        size_t nhits = 0;
        int fired =
            prematch_item(pre, h->cfg, f->n_items, order[k], &hits, &nhits)
                ? rules_fire(h->cfg, &a, NULL, hits, nhits, &pre->hits.ev, &h->log, on_fire, &fc)
                : rules_evaluate(h->cfg, &a, &h->log, on_fire, &fc);
        h->stats.rule_eval_us += (uv_hrtime() - t0) / 1000;
        if (fired < 0) goto fail;
    }
    free(order);
    order = NULL;
    if ((part ? store_part_release(h->store) : store_commit(h->store)) != 0) goto fail;
    h->stats.items_new += (unsigned long)fresh;
    return fresh;
fail:
    log_msg(&h->log, HERALD_LOG_ERROR,
            "source %s: store: %s; the items stay unseen and are "
            "retried at the next poll",
            src->name, store_errmsg(h->store));
    if (part)
        store_part_rollback(h->store);
    else
        store_rollback(h->store);
    free(order);
    return -1;
}
