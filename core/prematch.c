/*
 * prematch — running the index and the queries over a whole feed off the loop thread (see
 * prematch.h). Input: a parsed feed and a held config. Output: per item, the rules whose
 * query matched, with their evidence; nothing is stored or fired here.
 */
#include "prematch.h"

#include <stdlib.h>
#include <string.h>

enum { SKIPPED = (size_t)-1 }; /* count[i] of an item the hint said was evaluated before */

static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void prematch_hint_set(struct prematch_hint *hint, const struct feed *f)
{
    prematch_hint_free(hint);
    hint->h = malloc((f->n_items + 1) * sizeof *hint->h);
    if (!hint->h) return;
    for (size_t i = 0; i < f->n_items; i++)
        if (f->items[i].id) hint->h[hint->n++] = id_hash(f->items[i].id);
    qsort(hint->h, hint->n, sizeof *hint->h, cmp_u64);
}

void prematch_hint_copy(const struct prematch_hint *hint, struct prematch_hint *out)
{
    out->n = 0;
    out->h = hint->n ? malloc(hint->n * sizeof *out->h) : NULL;
    if (!out->h) return;
    memcpy(out->h, hint->h, hint->n * sizeof *out->h);
    out->n = hint->n;
}

void prematch_hint_free(struct prematch_hint *hint)
{
    free(hint->h);
    hint->h = NULL;
    hint->n = 0;
}

static int hinted(const struct prematch_hint *hint, const char *id)
{
    if (!hint || !hint->n) return 0;
    uint64_t k = id_hash(id);
    return bsearch(&k, hint->h, hint->n, sizeof k, cmp_u64) != NULL;
}

int prematch_feed(struct config *cfg, const char *source, const char *lang, const struct feed *f,
                  const struct prematch_hint *skip, struct prematch *out)
{
    memset(out, 0, sizeof *out);
    out->first = calloc(f->n_items + 1, sizeof *out->first);
    out->count = calloc(f->n_items + 1, sizeof *out->count);
    /* One scratch for the whole feed; the docs are freed before it goes back. */
    struct index_scratch *sc = rule_index_scratch_take(cfg->index);
    struct doc *d = NULL; /* one doc's memory for every item of the feed */
    if (!out->first || !out->count || !sc) goto fail;
    for (size_t i = 0; i < f->n_items; i++) {
        const struct item *it = &f->items[i];
        out->first[i] = out->hits.n;
        if (!it->id) continue; /* the pipeline skips it too */
        if (hinted(skip, it->id)) {
            /* Seen at the last poll: almost surely still seen, so not worth tokenising. */
            out->count[i] = SKIPPED;
            continue;
        }
        struct herald_article a;
        article_from_item(&a, source, lang, f, it);
        struct doc_fields df;
        article_doc_fields(&a, &df);
        d = doc_renew(d, &df);
        if (!d || rules_prematch(cfg, sc, d, &out->hits) != 0) goto fail;
        out->count[i] = out->hits.n - out->first[i];
    }
    doc_free(d);
    rule_index_scratch_put(cfg->index, sc);
    out->cfg = cfg;
    out->n_items = f->n_items;
    return 0;
fail:
    doc_free(d);
    rule_index_scratch_put(cfg->index, sc);
    prematch_free(out);
    return -1;
}

int prematch_item(const struct prematch *pm, const struct config *cfg, size_t n_items, size_t i,
                  const struct rule_hit **hits, size_t *n)
{
    if (!pm || !pm->cfg || pm->cfg != cfg || pm->n_items != n_items || i >= n_items ||
        pm->count[i] == SKIPPED)
        return 0;
    *n = pm->count[i];
    *hits = pm->hits.v ? pm->hits.v + pm->first[i] : NULL;
    return 1;
}

void prematch_free(struct prematch *pm)
{
    free(pm->first);
    free(pm->count);
    rule_hits_free(&pm->hits);
    memset(pm, 0, sizeof *pm);
}
