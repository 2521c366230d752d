/*
 * index — the stored-query index (the Lucene Monitor / Luwak idea): each rule's query is
 * reduced to the terms an article must contain for it to possibly match; an article's
 * tokens then select the few rules worth evaluating. Rules without a query are always
 * candidates.
 */
#ifndef HERALD_INDEX_H
#define HERALD_INDEX_H

#include "match.h"
#include "query.h"

#include <stddef.h>

struct rule_index;

/* An empty index; NULL when out of memory. */
struct rule_index *rule_index_new(void);
/* Release the index (not the queries added to it). */
void rule_index_free(struct rule_index *ix);
/* Register rule number `rule` with its query (NULL: evaluate on every article). The query
 * is borrowed and must outlive the index. Returns 0 or -1 when out of memory. */
int rule_index_add(struct rule_index *ix, size_t rule, const struct query *q);
/* The rule numbers, ascending and without repeats, whose queries may match `d`. Sets *out
 * to an array owned by the index, valid until the next call; returns the count, or -1 when
 * out of memory. One thread at a time: it uses the index's own scratch. */
long rule_index_candidates(struct rule_index *ix, struct doc *d, const size_t **out);

/* What a lookup writes (candidate bits, the result, the stem caches the doc's stems then
 * point into): one per thread using the index at the same time. */
struct index_scratch;
/* A scratch for this thread's lookups (a spare one, else a new one; thread-safe), or NULL
 * when out of memory. Give it back with rule_index_scratch_put once the docs looked up
 * with it are freed (their stems point into its caches). */
struct index_scratch *rule_index_scratch_take(struct rule_index *ix);
void rule_index_scratch_put(struct rule_index *ix, struct index_scratch *s);
/* rule_index_candidates with a scratch of the caller's; *out lives in the scratch. */
long rule_index_candidates_in(const struct rule_index *ix, struct index_scratch *s, struct doc *d,
                              const size_t **out);

#endif
