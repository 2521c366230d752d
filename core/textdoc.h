/*
 * textdoc — a plain text file read as one article, for `herald test` on articles saved as
 * text. A short first line followed by a blank line is the title; the rest is the text.
 */
#ifndef HERALD_TEXTDOC_H
#define HERALD_TEXTDOC_H

#include "feed.h"

/* A one-item feed (format FEED_TEXT) from `data`; `name` (the file name) becomes the id and
 * link. Returns 0, or -1 when the data is not text (NUL bytes, not UTF-8) with err filled. */
int textdoc_parse(const char *data, size_t len, const char *name, struct feed **out, char *err,
                  size_t errlen);

#endif
