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

/* Evaluate every candidate rule of `cfg` on `a`. Rule errors (a Lua error, the instruction
 * budget, the memory cap) are logged with the rule's name and file:line; the rule is
 * skipped for this article and disabled after repeated failures. Returns the number of
 * rules that fired, or -1 when out of memory or when on_fire returned non-zero. */
int rules_evaluate(struct config *cfg, const struct herald_article *a, const struct logger *lg,
                   on_fire_fn on_fire, void *arg);

#endif
