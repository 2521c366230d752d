/*
 * page — what a source of kind "page" sees in a fetched web page: either an article (read
 * as one item) or a section/front page whose article links each become an item that is
 * fetched and extracted in turn.
 */
#ifndef HERALD_PAGE_H
#define HERALD_PAGE_H

#include "arena.h"

#include <stddef.h>

struct page_scan {
    int is_article;     /* the page is itself an article */
    const char **links; /* section page: absolute article URLs, in page order, no repeats */
    size_t n_links;
};

/* Scan the HTML `data` fetched from `url` (absolute): classify it and collect up to
 * `max_links` article links on the same site. Strings live in `a`. Returns 0, or -1 when
 * the data is not HTML that could be parsed. */
int page_scan(const char *data, size_t len, const char *url, size_t max_links, struct arena *a,
              struct page_scan *out);

#endif
