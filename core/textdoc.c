/*
 * textdoc — plain text as an article. Deliberately simple: text files are what users save
 * from a browser or paste into a file to test their rules on.
 */
#include "textdoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : 9;
        if (c == 0 || k == 9 || (k == 1 && c < 0xC2) || i + k >= n + (k ? 0 : 1)) return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

int textdoc_parse(const char *data, size_t len, const char *name, struct feed **out, char *err,
                  size_t errlen)
{
    size_t skip = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    data += skip;
    len -= skip;
    if (!valid_utf8((const unsigned char *)data, len)) {
        snprintf(err, errlen, "not UTF-8 text");
        return -1;
    }
    struct feed *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    arena_init(&f->arena);
    f->format = FEED_TEXT;
    f->updated = -1;
    struct item *it = arena_alloc(&f->arena, sizeof *it);
    if (!it) goto oom;
    memset(it, 0, sizeof *it);
    it->published = it->updated = -1;
    while (len && (*data == '\n' || *data == '\r' || *data == ' ')) {
        data++;
        len--;
    }
    const char *nl = memchr(data, '\n', len);
    size_t first = nl ? (size_t)(nl - data) : len;
    const char *body = data;
    size_t body_len = len;
    /* "Title\n\nText…": a short first line standing alone is a headline. */
    if (nl && first > 0 && first <= 200 && nl + 1 < data + len &&
        (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < data + len && nl[2] == '\n'))) {
        size_t tl = first;
        if (tl && data[tl - 1] == '\r') tl--;
        it->title = arena_strndup(&f->arena, data, tl);
        body = nl + 1;
        body_len = len - first - 1;
        while (body_len && (*body == '\n' || *body == '\r')) {
            body++;
            body_len--;
        }
    }
    it->content = arena_strndup(&f->arena, body, body_len);
    it->id = arena_strdup(&f->arena, name);
    it->link = arena_strdup(&f->arena, name);
    if (!it->content || !it->id || !it->link) goto oom;
    f->items = it;
    f->n_items = 1;
    *out = f;
    return 0;
oom:
    feed_free(f);
    snprintf(err, errlen, "out of memory");
    return -1;
}
