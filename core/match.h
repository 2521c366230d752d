/*
 * match — evaluating compiled queries against an article. An article is tokenised once
 * into a `struct doc` (normalised tokens with byte spans into the original fields); each
 * query is evaluated against it and reports its evidence. The rule index (index.h) decides
 * which queries are worth evaluating at all.
 */
#ifndef HERALD_MATCH_H
#define HERALD_MATCH_H

#include "query.h"

#include <stddef.h>

struct doc;

/* The fields of an article a query can see; any may be NULL. Borrowed by the doc: they
 * must outlive it. */
struct doc_fields {
    const char *title;
    const char *text;
    const char *author;
    const char *link;
    const char *source;
    const char *lang; /* the article's language, NULL for the default ("en") */
};

/* One matched piece of evidence; `field` and `term` are static or owned by the query. */
struct evidence {
    const char *field; /* "title", "text", "author", "link", "source" */
    size_t start, end; /* byte span in that field's original string */
    const char *term;  /* the query term as written */
};

struct evidence_list {
    struct evidence *v;
    size_t n, cap;
};

/* Tokenise an article. NULL when out of memory. */
struct doc *doc_new(const struct doc_fields *f);
/* Tokenise another article into `d` (a doc_new/doc_renew result, or NULL for a new one),
 * reusing its memory: for many articles in a row. NULL when out of memory (d is freed). */
struct doc *doc_renew(struct doc *d, const struct doc_fields *f);
/* Release a doc. NULL is allowed. */
void doc_free(struct doc *d);

/* 1 when `q` matches `d`, 0 when not, -1 on an internal error (out of memory). When `ev`
 * is not NULL the spans that made it match are appended to it. */
int query_match(const struct query *q, struct doc *d, struct evidence_list *ev);

/* Append one entry; 0, or -1 when out of memory. */
int evidence_push(struct evidence_list *ev, const struct evidence *e);
/* Release the list's storage (not the strings it points to). */
void evidence_list_free(struct evidence_list *ev);

#endif
