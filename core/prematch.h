/*
 * prematch — the C half of the rules (index and queries, rules_prematch) for every item of
 * a parsed feed, computed on a thread of the libuv pool right after the feed is parsed
 * (scheduler.c), so that the loop thread only does the seen-check, the store, the Lua
 * `match` functions and the alerts (pipeline.c, rules_fire).
 */
#ifndef HERALD_PREMATCH_H
#define HERALD_PREMATCH_H

#include "config.h"
#include "evaluate.h"
#include "feed.h"

#include <stdint.h>

/* The item ids of a source's last processed feed, as sorted hashes: their items were
 * evaluated then, so the pool skips them (the loop evaluates any the store still calls new). */
struct prematch_hint {
    uint64_t *h;
    size_t n;
};

/* Remember the ids of `f` in *hint (replacing what it held). Out of memory leaves it empty. */
void prematch_hint_set(struct prematch_hint *hint, const struct feed *f);
/* A copy of *hint into *out (empty when out of memory). */
void prematch_hint_copy(const struct prematch_hint *hint, struct prematch_hint *out);
void prematch_hint_free(struct prematch_hint *hint);

struct prematch {
    const struct config *cfg; /* the rules it was computed with: usable only with them */
    size_t n_items;
    size_t *first; /* per item: its hits are hits.v[first[i] .. first[i] + count[i]) */
    size_t *count;
    struct rule_hits hits;
};

/* Compute the hits of every item of `f` read from source `source` (configured language
 * `lang`, may be NULL) with the rules of `cfg`, except the items `skip` (may be NULL) names.
 * Safe on any thread while `cfg` is held. Returns 0, or -1 when out of memory (*out is then
 * empty). */
int prematch_feed(struct config *cfg, const char *source, const char *lang, const struct feed *f,
                  const struct prematch_hint *skip, struct prematch *out);

/* 1 and the hits of item `i` in *hits and *n, or 0 when `pm` (may be NULL) does not apply
 * to this config and a feed of n_items (the config was reloaded meanwhile, say) or skipped
 * the item. */
int prematch_item(const struct prematch *pm, const struct config *cfg, size_t n_items, size_t i,
                  const struct rule_hit **hits, size_t *n);

/* Release what prematch_feed filled (a zeroed struct is fine). */
void prematch_free(struct prematch *pm);

#endif
