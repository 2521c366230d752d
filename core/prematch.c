/*
 * prematch — running the index and the queries over a whole feed off the loop thread (see
 * prematch.h). Input: a parsed feed and a held config. Output: per item, the rules whose
 * query matched, with their evidence; nothing is stored or fired here.
 */
#include "prematch.h"

#include <stdlib.h>
#include <string.h>

int prematch_feed(struct config *cfg, const char *source, const char *lang, const struct feed *f,
                  struct prematch *out)
{
    memset(out, 0, sizeof *out);
    out->first = calloc(f->n_items + 1, sizeof *out->first);
    out->count = calloc(f->n_items + 1, sizeof *out->count);
    /* One scratch for the whole feed; the docs are freed before it goes back. */
    struct index_scratch *sc = rule_index_scratch_take(cfg->index);
    if (!out->first || !out->count || !sc) goto fail;
    for (size_t i = 0; i < f->n_items; i++) {
        const struct item *it = &f->items[i];
        out->first[i] = out->hits.n;
        if (!it->id) continue; /* the pipeline skips it too */
        struct herald_article a;
        article_from_item(&a, source, lang, f, it);
        struct doc_fields df;
        article_doc_fields(&a, &df);
        struct doc *d = doc_new(&df);
        int rc = d ? rules_prematch(cfg, sc, d, &out->hits) : -1;
        doc_free(d);
        if (rc != 0) goto fail;
        out->count[i] = out->hits.n - out->first[i];
    }
    rule_index_scratch_put(cfg->index, sc);
    out->cfg = cfg;
    out->n_items = f->n_items;
    return 0;
fail:
    rule_index_scratch_put(cfg->index, sc);
    prematch_free(out);
    return -1;
}

int prematch_item(const struct prematch *pm, const struct config *cfg, size_t n_items, size_t i,
                  const struct rule_hit **hits, size_t *n)
{
    if (!pm || !pm->cfg || pm->cfg != cfg || pm->n_items != n_items || i >= n_items) return 0;
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
