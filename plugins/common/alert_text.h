/*
 * alert_text — header-only helpers the notifier plugins share to render a struct herald_alert
 * as human-readable text: a capped growable buffer, UTF-8-safe cleaning and cutting, ISO 8601
 * dates, and evidence snippets ("… removal of all US [troops] from Iraq …") built from the
 * alert's byte spans and the article's fields. Input is the alert the core hands to deliver();
 * output is text a plugin prints or sends. Everything is `static inline` so each plugin .so
 * gets a private copy, exports nothing and links no daemon symbol.
 */
#ifndef HERALD_PLUGINS_ALERT_TEXT_H
#define HERALD_PLUGINS_ALERT_TEXT_H

#include <herald/plugin.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* No rendered message needs more; hostile input beyond it is cut, not allocated. */
#define ATEXT_MAX ((size_t)4 << 20)
/* Bytes of context shown on each side of a match, and the most of one match shown. */
#define ATEXT_CONTEXT 60
#define ATEXT_SPAN_MAX 160
/* Evidence entries looked at when bracketing other matches inside one snippet window. */
#define ATEXT_BRACKET_SCAN 64
#define ATEXT_ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

/* A NUL-terminated byte buffer. `failed` is set once an allocation fails or ATEXT_MAX would be
 * exceeded; later appends are then ignored, so callers check once at the end. */
struct atext {
    char *p;
    size_t len, cap;
    int failed;
};

static inline void atext_free(struct atext *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static inline int atext_reserve(struct atext *b, size_t extra)
{
    if (b->failed) return -1;
    if (extra > ATEXT_MAX - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void atext_putn(struct atext *b, const char *s, size_t n)
{
    if (atext_reserve(b, n) != 0) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void atext_puts(struct atext *b, const char *s)
{
    atext_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static inline void atext_printf(struct atext *b,
                                                                      const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        atext_putn(b, small, (size_t)n);
        return;
    }
    if (atext_reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not valid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static inline size_t atext_utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Whether byte i of s starts a character (is not a UTF-8 continuation byte). */
static inline int atext_is_boundary(const char *s, size_t i)
{
    return ((unsigned char)s[i] & 0xc0) != 0x80;
}

/* The largest cut <= max of s[0..len) that does not split a UTF-8 sequence. */
static inline size_t atext_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t i = max;
    while (i > 0 && !atext_is_boundary(s, i))
        i--;
    return i;
}

/* Whether the code point at s (sequence length n) is a C0/C1 control character or DEL. */
static inline int atext_is_control(const unsigned char *s, size_t n)
{
    if (n == 1) return s[0] < 0x20 || s[0] == 0x7f;
    return n == 2 && s[0] == 0xc2 && s[1] < 0xa0; /* U+0080..U+009F */
}

/* Append s[0..n) as one line of display text: whitespace runs and control characters become
 * one space (so hostile text cannot inject lines or terminal escapes), invalid UTF-8 bytes
 * become '?', and at most `max` bytes are appended. Returns the bytes of s consumed. */
static inline size_t atext_put_clean(struct atext *b, const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, added = 0;
    int space = 0;
    while (i < n) {
        size_t k = atext_utf8_seq(u + i, n - i);
        if (k == 0 || atext_is_control(u + i, k) || u[i] == ' ') {
            int bad = k == 0;
            size_t step = bad ? 1 : k;
            if (bad) {
                if (added + 1 > max) break;
                atext_putn(b, "?", 1);
                added++;
                space = 0;
            } else if (!space) {
                if (added + 1 > max) break;
                atext_putn(b, " ", 1);
                added++;
                space = 1;
            }
            i += step;
            continue;
        }
        if (added + k > max) break;
        atext_putn(b, s + i, k);
        added += k;
        space = 0;
        i += k;
    }
    return i;
}

/* Clean `s` (may be NULL) into b with at most max bytes, adding an ellipsis when cut. */
static inline void atext_put_field(struct atext *b, const char *s, size_t max)
{
    if (!s) return;
    size_t n = strlen(s);
    size_t room = max > 3 ? max - 3 : 0;
    if (atext_put_clean(b, s, n, n <= max ? max : room) < n) atext_puts(b, ATEXT_ELLIPSIS);
}

/* Format t (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" into out; -1 when t is
 * negative or not representable with a four-digit year. */
static inline int atext_iso8601(int64_t t, char out[32])
{
    if (t < 0 || t > INT64_C(253402300799)) /* 9999-12-31T23:59:59Z */
        return -1;
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return -1;
    return strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) ? 0 : -1;
}

/* The article field an evidence entry names, or NULL when unknown or absent. */
static inline const char *atext_field(const struct herald_article *a, const char *field)
{
    if (!a || !field) return NULL;
    if (strcmp(field, "title") == 0) return a->title;
    if (strcmp(field, "text") == 0) return a->text;
    if (strcmp(field, "summary") == 0) return a->summary;
    if (strcmp(field, "author") == 0) return a->author;
    if (strcmp(field, "link") == 0) return a->link;
    if (strcmp(field, "source") == 0) return a->source;
    return NULL;
}

/* A span clamped to its field and widened to whole UTF-8 characters; -1 if it is unusable. */
static inline int atext_span(const char *f, size_t flen, const struct herald_evidence *ev,
                             size_t *start, size_t *end)
{
    if (ev->start > ev->end || ev->end > flen) return -1;
    size_t s = ev->start, e = ev->end;
    while (s > 0 && !atext_is_boundary(f, s))
        s--;
    while (e < flen && !atext_is_boundary(f, e))
        e++;
    *start = s;
    *end = e;
    return 0;
}

/* Where a snippet was taken from, so later evidence inside it is not shown twice. */
struct atext_window {
    const char *field;
    size_t lo, hi;
};

/* The next span of `f` to bracket in [pos, hi): the usable evidence entry of that field with
 * the smallest start >= pos. Returns 0 and the span, or -1 when none is left. */
static inline int atext_next_span(const struct herald_alert *al, const char *f, size_t flen,
                                  size_t pos, size_t hi, size_t *start, size_t *end)
{
    int found = -1;
    size_t n = al->n_evidence < ATEXT_BRACKET_SCAN ? al->n_evidence : ATEXT_BRACKET_SCAN;
    for (size_t i = 0; i < n; i++) {
        size_t s, e;
        if (atext_field(al->article, al->evidence[i].field) != f ||
            atext_span(f, flen, &al->evidence[i], &s, &e) != 0)
            continue;
        if (s < pos || s >= hi || e <= s) continue;
        if (found != 0 || s < *start) {
            *start = s;
            *end = e;
            found = 0;
        }
    }
    return found;
}

/* How evidence snippets are written: `put` appends a piece of cleaned article text (escaped
 * for the target markup), `open`/`close` surround each matched span ("[" "]" for plain text,
 * "<b>" "</b>" for HTML, …). */
struct atext_marks {
    void (*put)(struct atext *b, const char *clean, size_t n, int kind);
    int kind; /* passed back to put */
    const char *open, *close;
};

static inline void atext_put_raw(struct atext *b, const char *clean, size_t n, int kind)
{
    (void)kind;
    atext_putn(b, clean, n);
}

/* Plain text: matches in [brackets]. */
static const struct atext_marks atext_plain_marks = {atext_put_raw, 0, "[", "]"};

/* Clean s[0..n) (see atext_put_clean) and hand it to the marks' put function. */
static inline void atext_put_piece(struct atext *b, const char *s, size_t n,
                                   const struct atext_marks *m)
{
    struct atext tmp = {0};
    atext_put_clean(&tmp, s, n, SIZE_MAX);
    if (tmp.failed)
        b->failed = 1;
    else if (tmp.len)
        m->put(b, tmp.p, tmp.len, m->kind);
    atext_free(&tmp);
}

/* Append the snippet around evidence `i`: about ATEXT_CONTEXT bytes each side cut at word
 * boundaries, every evidence span of the same field in the window marked with m->open and
 * m->close, an ellipsis where text was cut. Returns -1 (appending nothing) when the evidence
 * is unusable, else 0 with the window in *w. */
static inline int atext_snippet_marked(struct atext *b, const struct herald_alert *al, size_t i,
                                       struct atext_window *w, const struct atext_marks *m)
{
    const struct herald_evidence *ev = &al->evidence[i];
    const char *f = atext_field(al->article, ev->field);
    if (!f) return -1;
    size_t flen = strlen(f), s, e;
    if (atext_span(f, flen, ev, &s, &e) != 0 || e == s) return -1;
    size_t shown = e - s > ATEXT_SPAN_MAX ? s + atext_cut(f + s, e - s, ATEXT_SPAN_MAX) : e;
    if (shown == s) /* no boundary in the first bytes: invalid UTF-8, show it anyway */
        shown = s + 1;

    size_t lo = s > ATEXT_CONTEXT ? s - ATEXT_CONTEXT : 0;
    while (lo < s && !atext_is_boundary(f, lo))
        lo++;
    if (lo > 0) { /* start after a space so the snippet begins with a whole word */
        size_t k = lo;
        while (k < s && f[k] != ' ' && f[k] != '\n')
            k++;
        if (k < s) lo = k + 1;
    }
    size_t hi = shown + ATEXT_CONTEXT < flen ? shown + ATEXT_CONTEXT : flen;
    while (hi > shown && hi < flen && !atext_is_boundary(f, hi))
        hi--;
    if (hi < flen) { /* end before a space so the snippet ends with a whole word */
        size_t k = hi;
        while (k > shown && f[k] != ' ' && f[k] != '\n')
            k--;
        if (k > shown) hi = k;
    }

    if (lo > 0) atext_puts(b, ATEXT_ELLIPSIS);
    size_t pos = lo, ss = 0, se = 0;
    while (atext_next_span(al, f, flen, pos, hi, &ss, &se) == 0) {
        atext_put_piece(b, f + pos, ss - pos, m);
        size_t cut =
            se - ss > ATEXT_SPAN_MAX ? atext_cut(f + ss, se - ss, ATEXT_SPAN_MAX) : se - ss;
        if (cut == 0) /* invalid UTF-8: still make progress */
            cut = 1;
        if (ss + cut > hi) cut = hi - ss;
        atext_puts(b, m->open);
        atext_put_piece(b, f + ss, cut, m);
        if (ss + cut < se) atext_puts(b, ATEXT_ELLIPSIS);
        atext_puts(b, m->close);
        pos = ss + cut;
        if (se > pos && se <= hi) pos = se;
    }
    if (pos < hi) atext_put_piece(b, f + pos, hi - pos, m);
    if (hi < flen) atext_puts(b, ATEXT_ELLIPSIS);
    w->field = f;
    w->lo = lo;
    w->hi = hi;
    return 0;
}

/* atext_snippet_marked with matches in [brackets]. */
static inline int atext_snippet(struct atext *b, const struct herald_alert *al, size_t i,
                                struct atext_window *w)
{
    return atext_snippet_marked(b, al, i, w, &atext_plain_marks);
}

/* Append up to `max` evidence snippets, each as prefix + snippet + suffix, skipping evidence
 * already visible in an earlier snippet, and stopping before a snippet that would take the
 * bytes appended past `max_bytes` (so markup is never cut in half). Returns the number of
 * snippets appended. */
static inline size_t atext_evidence_marked(struct atext *b, const struct herald_alert *al,
                                           size_t max, const char *prefix, const char *suffix,
                                           const struct atext_marks *m, size_t max_bytes)
{
    struct atext_window seen[8];
    size_t n = 0, used = 0;
    if (max > sizeof seen / sizeof seen[0]) max = sizeof seen / sizeof seen[0];
    if (!al->evidence || !al->article) return 0;
    for (size_t i = 0; i < al->n_evidence && n < max; i++) {
        const struct herald_evidence *ev = &al->evidence[i];
        const char *f = atext_field(al->article, ev->field);
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++)
            dup = seen[k].field == f && ev->start >= seen[k].lo && ev->end <= seen[k].hi;
        if (dup || !f) continue;
        struct atext snip = {0};
        if (atext_snippet_marked(&snip, al, i, &seen[n], m) == 0 && !snip.failed) {
            size_t need = strlen(prefix) + snip.len + strlen(suffix);
            if (need > max_bytes - used) {
                atext_free(&snip);
                break;
            }
            atext_puts(b, prefix);
            atext_putn(b, snip.p, snip.len);
            atext_puts(b, suffix);
            used += need;
            n++;
        }
        atext_free(&snip);
    }
    return n;
}

/* Up to `max` plain snippets with matches in [brackets]. */
static inline size_t atext_evidence(struct atext *b, const struct herald_alert *al, size_t max,
                                    const char *prefix, const char *suffix)
{
    return atext_evidence_marked(b, al, max, prefix, suffix, &atext_plain_marks, SIZE_MAX);
}

/* Append the human-readable block for an alert: a headline, the link, source and date, and
 * up to three evidence lines. Every line ends with '\n'. */
static inline void atext_alert_block(struct atext *b, const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    atext_puts(b, "[herald] ALERT ");
    atext_put_field(b, al->rule ? al->rule : "?", 200);
    atext_puts(b, ": ");
    if (a && a->title && a->title[0])
        atext_put_field(b, a->title, 500);
    else
        atext_puts(b, "(untitled)");
    atext_puts(b, "\n");
    if (a && a->link && a->link[0]) {
        atext_puts(b, "  ");
        atext_put_field(b, a->link, 2000);
        atext_puts(b, "\n");
    }
    char date[32];
    atext_puts(b, "  source: ");
    atext_put_field(b, a && a->source ? a->source : "?", 200);
    atext_puts(b, "  published: ");
    atext_puts(b, a && atext_iso8601(a->published, date) == 0 ? date : "unknown");
    atext_puts(b, "\n");
    atext_evidence(b, al, 3, "  evidence: ", "\n");
}

/* Copy the first min(table's size, ours) bytes of a host table into a zeroed local copy, so a
 * plugin built against a newer header never reads past an older daemon's table. */
static inline int atext_host_copy(struct herald_host *dst, const struct herald_host *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src || src->version < 1 || src->struct_size < offsetof(struct herald_host, log)) return -1;
    size_t n = src->struct_size < sizeof *dst ? src->struct_size : sizeof *dst;
    memcpy(dst, src, n);
    return dst->log && dst->opt_string && dst->opt_int && dst->complete ? 0 : -1;
}

#endif
