/*
 * evaluate — running the rule set over one article: tokenise once, ask the index for the
 * candidate rules, evaluate each candidate's query and then its Lua `match` function in the
 * sandbox. Shared by the daemon's pipeline and `herald test`.
 */
#ifndef HERALD_EVALUATE_H
#define HERALD_EVALUATE_H

#include "config.h"
#include "feed.h"
#include "log.h"
#include "match.h"

#include <herald/plugin.h>

/* Fill the article rules see from a parsed item of feed `f` read from `source`; `lang`
 * (the source's configured language, may be NULL) beats the item's and the feed's. The
 * article borrows every string from the feed. */
void article_from_item(struct herald_article *a, const char *source, const char *lang,
                       const struct feed *f, const struct item *it);

/* Called for each rule that fires, with its evidence (spans into the article's fields). */
typedef int (*on_fire_fn)(void *arg, struct cfg_rule *rule, const struct evidence_list *ev);

/* The C half of the rules for one article: each candidate rule whose query matched (or
 * that has none), with the query's evidence. Only the index (through the caller's scratch)
 * and the queries are used, so threads of the pool may compute it at once while the loop
 * thread runs Lua; a rule's Lua `match`, paused and disabled flags are left to rules_fire(). */
struct rule_hit {
    uint32_t rule;     /* index into cfg->rules */
    uint32_t ev_first; /* its evidence: hits->ev.v[ev_first .. ev_first + ev_n) */
    uint32_t ev_n;
};
struct rule_hits {
    struct rule_hit *v;
    size_t n, cap;
    struct evidence_list ev;
};

/* Append the hits of doc `d` (built from the article's doc_fields) to *out, looked up with
 * scratch `sc` of cfg->index (rule_index_scratch_take; keep it until `d` is freed). 0, or
 * -1 when out of memory. */
int rules_prematch(const struct config *cfg, struct index_scratch *sc, struct doc *d,
                   struct rule_hits *out);

/* The doc_fields rules see for article `a`. */
void article_doc_fields(const struct herald_article *a, struct doc_fields *out);

/* Fire the hits hits[0..n) (with their evidence in `ev`) on article `a`: skip paused and
 * disabled rules, run each remaining rule's Lua `match` (building the doc from `a` when `d`
 * is NULL and one is needed), then call on_fire. Returns as rules_evaluate(). */
int rules_fire(struct config *cfg, const struct herald_article *a, struct doc *d,
               const struct rule_hit *hits, size_t n, const struct evidence_list *ev,
               const struct logger *lg, on_fire_fn on_fire, void *arg);

/* Release what rules_prematch appended. */
void rule_hits_free(struct rule_hits *h);

/* Evaluate every candidate rule of `cfg` on `a`. Rule errors (a Lua error, the instruction
 * budget, the memory cap) are logged with the rule's name and file:line; the rule is
 * skipped for this article and disabled after repeated failures. Returns the number of
 * rules that fired, or -1 when out of memory or when on_fire returned non-zero. */
int rules_evaluate(struct config *cfg, const struct herald_article *a, const struct logger *lg,
                   on_fire_fn on_fire, void *arg);

#endif
