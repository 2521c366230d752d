/*
 * feed — the parsed form of a fetched document: a feed (RSS, Atom, JSON Feed) or an HTML
 * page, as one model of items. Input comes from fetch (bytes + URL + Content-Type) or a
 * file; output goes to the pipeline (dedupe, match) and to `herald parse`.
 *
 * Every string of a `struct feed` lives in the feed's arena and is freed by feed_free().
 * Text fields are UTF-8 plain text (HTML stripped, entities decoded, whitespace collapsed);
 * the *_html fields keep the original markup for notifiers that want it.
 */
#ifndef HERALD_FEED_H
#define HERALD_FEED_H

#include "arena.h"

#include <stddef.h>
#include <stdint.h>

enum feed_format {
    FEED_UNKNOWN = 0,
    FEED_RSS20,    /* "rss2.0" */
    FEED_RSS10,    /* "rss1.0" (RDF) */
    FEED_RSS09X,   /* "rss0.9x" (0.90 RDF, 0.91–0.94) */
    FEED_ATOM10,   /* "atom1.0" */
    FEED_ATOM03,   /* "atom0.3" */
    FEED_JSONFEED, /* "jsonfeed1" */
    FEED_HTML,     /* "html": a web page read as one article */
    FEED_TEXT,     /* "text": a plain text file read as one article */
};

struct enclosure {
    const char *url;
    const char *type;
    int64_t length; /* -1 when unknown */
};

struct item {
    const char *id; /* stable: guid / atom:id / JSON id, else derived from link and title */
    const char *title;
    const char *link;  /* absolute */
    int64_t published; /* seconds since the epoch UTC, -1 when absent or unparseable */
    int64_t updated;
    const char *author;
    const char *summary; /* plain text */
    const char *content; /* plain text */
    const char *summary_html;
    const char *content_html;
    const char **categories;
    size_t n_categories;
    struct enclosure *enclosures;
    size_t n_enclosures;
    const char *lang;
};

struct feed {
    struct arena arena;
    enum feed_format format;
    int bozo;                /* non-zero when malformed input was recovered */
    const char *bozo_reason; /* first problem found, or NULL */
    const char *title;
    const char *link;
    const char *description;
    const char *language;
    int64_t updated;
    const char *author;
    const char *generator;
    const char *image;
    struct item *items;
    size_t n_items;
};

/* Caps applied while parsing hostile input (zero fields mean the defaults below). */
struct feed_limits {
    size_t max_bytes; /* default 16 MiB */
    size_t max_items; /* default 10,000 */
    int max_depth;    /* default 256 */
};

/* Parse `data[0..len)` fetched from `url` (may be NULL; used to resolve relative links)
 * with the HTTP `content_type` (may be NULL; its charset is a hint). Detects the format.
 * Returns 0 and sets *out (caller frees with feed_free), or -1 with a one-line reason in
 * err when nothing could be read. */
int feed_parse(const char *data, size_t len, const char *url, const char *content_type,
               const struct feed_limits *limits, struct feed **out, char *err, size_t errlen);

/* Release a feed and every string in it. NULL is allowed. */
void feed_free(struct feed *f);

/* The stable name of a format as printed by `herald parse --json` ("rss2.0", …). */
const char *feed_format_name(enum feed_format f);

/* The text a rule should read for an item: content if present, else summary (never NULL). */
const char *item_text(const struct item *it);

/* Render the whole feed as the `herald parse --json` document; returns a malloc'd
 * NUL-terminated string the caller frees, or NULL when out of memory. */
char *feed_to_json(const struct feed *f);

/* A readable summary for `herald parse` without --json: format, feed title and link, then
 * per item its date, title and link. malloc'd (caller frees), NULL when out of memory. */
char *feed_to_text(const struct feed *f);

#endif
