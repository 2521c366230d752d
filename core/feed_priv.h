/*
 * feed_priv — what the feed parser's files share and nobody else sees: the parse context
 * and the helpers that build items. feed.c sniffs the bytes and picks a reader;
 * feed_xml.c reads RSS/RDF/Atom trees, feed_json.c JSON Feed, feed_page.c HTML pages.
 */
#ifndef HERALD_FEED_PRIV_H
#define HERALD_FEED_PRIV_H

#include "feed.h"

#include <libxml/tree.h>

struct feedx_ctx {
    struct feed *f;
    struct feed_limits lim;
    const char *url; /* the fetch URL, or NULL */
    char *err;
    size_t errlen;
    size_t items_cap;
};

/* Read an RSS / RDF / Atom tree into c->f (format already set). 0, or -1 with c->err. */
int feedx_read_xml(struct feedx_ctx *c, xmlDoc *doc);

/* Read a JSON document; -1 with "not a feed …" in c->err when it is not a JSON Feed. */
int feedx_read_json(struct feedx_ctx *c, const char *data, size_t len);

/* Read a parsed HTML page as a one-item feed. 0, or -1 with c->err. */
int feedx_read_page(struct feedx_ctx *c, xmlDoc *doc);

/* Append a zeroed item (dates -1) to c->f, or NULL when the item cap is reached or out
 * of memory (c->err says which). */
struct item *feedx_item_add(struct feedx_ctx *c);

/* Fill what an item still lacks once all its elements are read: a stable id, a title
 * derived from its text. Returns 0, or -1 when out of memory. */
int feedx_item_finish(struct feedx_ctx *c, struct item *it, const char *date_raw);

/* Append a category / an enclosure (duplicates by value are skipped). 0 or -1 (OOM). */
int feedx_add_category(struct arena *a, struct item *it, const char *cat);
int feedx_add_enclosure(struct arena *a, struct item *it, const char *url, const char *type,
                        int64_t length);

/* `href` resolved against `base` (either may be relative or NULL); arena string. */
const char *feedx_resolve(struct arena *a, const char *href, const char *base);

/* Plain text from a string that may hold escaped HTML (or plain text); arena string. */
const char *feedx_text(struct arena *a, const char *s);

/* Record an out-of-memory failure in c->err; returns -1. */
int feedx_oom(struct feedx_ctx *c);

#endif
