/*
 * html — HTML to plain text, and the reading of a whole web page as one article.
 * Input: markup from feeds (escaped HTML in RSS descriptions, Atom html/xhtml content)
 * and fetched pages. Output: UTF-8 plain text (entities decoded, &nbsp; as a space, block
 * elements as line breaks, whitespace collapsed) and page metadata, all in an arena.
 */
#ifndef HERALD_HTML_H
#define HERALD_HTML_H

#include "arena.h"

#include <libxml/tree.h>
#include <stddef.h>
#include <stdint.h>

/* Plain text of an HTML fragment html[0..len) (UTF-8). Returns an arena string ("" for
 * no text), or NULL when out of memory. */
char *html_to_text(const char *html, size_t len, struct arena *a);

/* `s[0..n)` with whitespace runs (incl. NBSP) collapsed to one space and control
 * characters dropped; no markup interpretation. Arena string or NULL when out of memory. */
char *html_collapse_ws(const char *s, size_t n, struct arena *a);

/* Plain text of the subtree under `node` (a parsed HTML or XHTML element). */
char *html_node_text(const xmlNode *node, struct arena *a);

/* `href` resolved against `base` by RFC 3986 §5.2, keeping the publisher's bytes (no
 * re-escaping). Returns href unchanged when base is NULL or relative. Arena string. */
const char *html_resolve_url(struct arena *a, const char *href, const char *base);

/* Non-zero when `s` looks like it holds markup or entity references worth decoding. */
int html_looks_like_markup(const char *s, size_t n);

/* What a web page says about itself and its main text. Strings are arena-owned. */
struct html_page {
    const char *title;
    const char *link; /* canonical / og:url, absolute; NULL when absent */
    const char *author;
    const char *lang; /* <html lang>, content-language or og:locale; NULL when absent */
    const char *description;
    const char *site_name;
    const char *image;
    const char *text;  /* the main article text ("" when none) */
    int64_t published; /* -1 when absent */
    int64_t modified;  /* -1 when absent */
};

/* Read a parsed HTML document (htmlReadMemory) fetched from `url` (may be NULL): metadata
 * and the main content, found by a readability-style score of paragraphs and class/id
 * hints. Returns 0, or -1 when out of memory. Marks nodes through their _private field. */
int html_page_extract(xmlDoc *doc, const char *url, struct arena *a, struct html_page *out);

/* Parse an HTML document held in UTF-8 (or in `encoding` when not NULL) without network
 * access; the caller frees it with xmlFreeDoc. NULL when nothing could be parsed. */
xmlDoc *html_parse_doc(const char *data, size_t len, const char *url, const char *encoding);

#endif
