/*
 * query — the rule query language: parsing a query string into a compiled tree, and the
 * named synonym sets (`herald.concept`) queries refer to with @name. Input comes from the
 * config (rule `query` strings, Lua a:has() calls); output is evaluated by match.h.
 * Full grammar: docs/rules.md.
 */
#ifndef HERALD_QUERY_H
#define HERALD_QUERY_H

#include <stddef.h>

struct concepts;
struct query;

struct query_error {
    int col; /* 1-based column in the query string, 0 when not tied to a position */
    char msg[256];
};

struct query_options {
    const char *lang; /* stemming language ("en", "de", …; NULL means "en") */
    int stem;         /* non-zero: compare stems (default); zero: exact folded words */
};

/* An empty set of concepts; NULL when out of memory. */
struct concepts *concepts_new(void);
/* Release a concept set. Queries compiled against it must be freed first. */
void concepts_free(struct concepts *c);
/* Declare concept `name` as the forms[0..n) (terms, "phrases" or words with *). Returns 0,
 * or -1 with a message in err (bad form, duplicate name). */
int concepts_add(struct concepts *c, const char *name, const char *const *forms, size_t n,
                 struct query_error *err);

/* Compile `src`. Returns 0 and sets *out (free with query_free), or -1 with err filled
 * (column and message, e.g. "expected ')'"). `c` may be NULL when no concepts exist. */
int query_compile(const char *src, const struct concepts *c, const struct query_options *opt,
                  struct query **out, struct query_error *err);
/* Release a compiled query. NULL is allowed. */
void query_free(struct query *q);
/* The source text the query was compiled from. */
const char *query_source(const struct query *q);

#endif
