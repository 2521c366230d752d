/*
 * markup — header-only helpers that put cleaned alert text into a receiver's markup: escaping
 * for Slack mrkdwn, Markdown (Discord, Mattermost, Gotify), Teams Adaptive Card Markdown and
 * HTML (Telegram, Matrix), evidence marks for each, length limits counted in UTF-16 code
 * units (what Discord, Telegram and Slack count), and cutting a finished message without
 * splitting an entity, an escape or a tag (HTML tags left open are closed). Input is text
 * already cleaned by alert_text.h; output is appended to a struct atext. Everything is
 * `static inline` so each plugin .so gets a private copy.
 */
#ifndef HERALD_PLUGINS_MARKUP_H
#define HERALD_PLUGINS_MARKUP_H

#include "alert_text.h"

/* The markup a piece of text is written into. */
enum amark {
    AMARK_PLAIN,      /* no markup: text as is */
    AMARK_MRKDWN,     /* Slack mrkdwn: &, <, > as entities */
    AMARK_MARKDOWN,   /* Discord / Gotify Markdown: backslash before markup characters */
    AMARK_MATTERMOST, /* Markdown, and "@" can never start a mention */
    AMARK_TEAMS,      /* Adaptive Card TextBlock Markdown: backslash before * _ [ ] \ */
    AMARK_HTML,       /* HTML text and attribute values: & < > " ' as entities */
};

#define AMARK_ZWSP "\xe2\x80\x8b" /* U+200B, breaks "@channel" without showing */

/* The replacement for byte c in markup k, written to out; 0 when c stays as it is. */
static inline size_t amark_escape(enum amark k, unsigned char c, char out[16])
{
    const char *rep = NULL;
    switch (k) {
    case AMARK_PLAIN:
        return 0;
    case AMARK_MRKDWN:
        rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
        break;
    case AMARK_HTML:
        rep = c == '&'    ? "&amp;"
              : c == '<'  ? "&lt;"
              : c == '>'  ? "&gt;"
              : c == '"'  ? "&quot;"
              : c == '\'' ? "&#39;"
                          : NULL;
        break;
    case AMARK_MATTERMOST:
        if (c == '@') rep = "@" AMARK_ZWSP;
        /* fall through */
    case AMARK_MARKDOWN:
        if (!rep && c && strchr("\\*_~`|[]<>#", c)) {
            out[0] = '\\';
            out[1] = (char)c;
            return 2;
        }
        break;
    case AMARK_TEAMS:
        if (c && strchr("\\*_[]", c)) {
            out[0] = '\\';
            out[1] = (char)c;
            return 2;
        }
        break;
    }
    if (!rep) return 0;
    size_t n = strlen(rep);
    memcpy(out, rep, n);
    return n;
}

/* UTF-16 code units of the UTF-8 text s[0..n): characters above U+FFFF count twice, a stray
 * byte once. */
static inline size_t amark_units(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80) units += c >= 0xf0 ? 2 : 1;
    }
    return units;
}

/* Append clean text s[0..n) escaped for k, at most max_units UTF-16 units of output; when
 * it does not all fit, it is cut before a whole character or escape and an ellipsis is
 * added (within max_units). Returns the units appended. */
static inline size_t amark_put_fit(struct atext *b, enum amark k, const char *s, size_t n,
                                   size_t max_units)
{
    size_t units = 0, i = 0;
    size_t keep_len = b->len, keep_units = 0; /* the output that leaves room for an ellipsis */
    while (i < n) {
        char rep[16];
        size_t step = atext_utf8_seq((const unsigned char *)s + i, n - i);
        if (step == 0) step = 1;
        size_t rl = step == 1 ? amark_escape(k, (unsigned char)s[i], rep) : 0;
        const char *out = rl ? rep : s + i;
        size_t ol = rl ? rl : step;
        size_t u = amark_units(out, ol);
        if (units + u > max_units) break;
        atext_putn(b, out, ol);
        units += u;
        i += step;
        if (units + 1 <= max_units) {
            keep_len = b->len;
            keep_units = units;
        }
    }
    if (i == n || b->failed) return units;
    b->len = keep_len; /* cut: back to where the ellipsis fits */
    if (b->p) b->p[keep_len] = '\0';
    if (max_units == 0) return 0;
    atext_puts(b, ATEXT_ELLIPSIS);
    return keep_units + 1;
}

/* Append clean text escaped for k with no length limit (the atext_marks put callback). */
static inline void amark_put_cb(struct atext *b, const char *clean, size_t n, int kind)
{
    amark_put_fit(b, (enum amark)kind, clean, n, SIZE_MAX);
}

/* Evidence marks for each markup: bold where the markup has it. */
static inline struct atext_marks amark_marks(enum amark k)
{
    struct atext_marks m = {amark_put_cb, (int)k, "[", "]"};
    if (k == AMARK_MRKDWN) {
        m.open = m.close = "*";
    } else if (k == AMARK_MARKDOWN || k == AMARK_MATTERMOST || k == AMARK_TEAMS) {
        m.open = m.close = "**";
    } else if (k == AMARK_HTML) {
        m.open = "<b>";
        m.close = "</b>";
    } else {
        m.put = atext_put_raw;
    }
    return m;
}

/* Clean the article field `raw` (may be NULL) and append it escaped for k within max_units,
 * with an ellipsis when cut. */
static inline size_t amark_field(struct atext *b, enum amark k, const char *raw, size_t max_units)
{
    if (!raw) return 0;
    struct atext clean = {0};
    size_t n = strlen(raw);
    size_t cap = max_units < (ATEXT_MAX - 8) / 4 ? 4 * max_units + 8 : ATEXT_MAX - 8;
    size_t used = atext_put_clean(&clean, raw, n, cap);
    size_t units = 0;
    if (clean.failed) {
        b->failed = 1;
    } else if (used < n) { /* cut while cleaning: leave room for the ellipsis */
        size_t room = max_units > 0 ? max_units - 1 : 0;
        units = amark_put_fit(b, k, clean.p ? clean.p : "", clean.len, room);
        if (max_units > 0 && units <= room) {
            atext_puts(b, ATEXT_ELLIPSIS);
            units++;
        }
    } else {
        units = amark_put_fit(b, k, clean.p ? clean.p : "", clean.len, max_units);
    }
    atext_free(&clean);
    return units;
}

/* Whether url is an http(s) URL without spaces or control characters. */
static inline int amark_url_ok(const char *url)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) return 0;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* Append a URL (already checked with amark_url_ok) for use inside markup k: HTML-escaped for
 * HTML, and for the Markdown flavours the characters that end a link or an autolink are
 * percent-encoded (an equivalent URL); plain text takes it as is. */
static inline void amark_put_url(struct atext *b, enum amark k, const char *url)
{
    for (const char *p = url; *p; p++) {
        char rep[16];
        unsigned char c = (unsigned char)*p;
        const char *enc = NULL;
        if (k == AMARK_HTML) {
            size_t rl = amark_escape(k, c, rep);
            if (rl) {
                atext_putn(b, rep, rl);
                continue;
            }
        } else if (k == AMARK_MRKDWN) {
            enc = c == '|'   ? "%7C"
                  : c == '<' ? "%3C"
                  : c == '>' ? "%3E"
                  : c == '&' ? "&amp;"
                             : NULL;
        } else if (k != AMARK_PLAIN && strchr("()<>[]`\\|*_~", c)) {
            static const char hex[] = "0123456789ABCDEF";
            rep[0] = '%';
            rep[1] = hex[c >> 4];
            rep[2] = hex[c & 15];
            atext_putn(b, rep, 3);
            continue;
        }
        if (enc)
            atext_puts(b, enc);
        else
            atext_putn(b, p, 1);
    }
}

/* --- cutting a finished message --- */

#define AMARK_TAG_DEPTH 16

/* HTML elements that never have a closing tag. */
static inline int amark_void_tag(const char *name, size_t n)
{
    static const char *const v[] = {"br", "hr", "img", "wbr", NULL};
    for (size_t i = 0; v[i]; i++)
        if (strlen(v[i]) == n && strncmp(v[i], name, n) == 0) return 1;
    return 0;
}

/* The tag stack of HTML text: names (pointers into the text) of elements left open. */
struct amark_tags {
    const char *name[AMARK_TAG_DEPTH];
    size_t len[AMARK_TAG_DEPTH];
    size_t n;
};

/* Update the stack for the tag s[0..n) ("<b>", "</b>", "<a href=…>"). */
static inline void amark_tag(struct amark_tags *t, const char *s, size_t n)
{
    size_t i = 1;
    int closing = n > 1 && s[1] == '/';
    if (closing) i++;
    size_t start = i;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
        i++;
    size_t len = i - start;
    if (len == 0 || (n >= 2 && s[n - 2] == '/') || amark_void_tag(s + start, len)) return;
    if (!closing) {
        if (t->n < AMARK_TAG_DEPTH) {
            t->name[t->n] = s + start;
            t->len[t->n++] = len;
        }
        return;
    }
    for (size_t k = t->n; k > 0; k--) {
        if (t->len[k - 1] == len && strncmp(t->name[k - 1], s + start, len) == 0) {
            t->n = k - 1;
            return;
        }
    }
}

/* Units the closing tags for the open elements take. */
static inline size_t amark_closers_units(const struct amark_tags *t)
{
    size_t u = 0;
    for (size_t i = 0; i < t->n; i++)
        u += t->len[i] + 3;
    return u;
}

/* Cut b (text in markup k) to at most max_units UTF-16 units when it is longer: the cut
 * falls on a character boundary outside any tag (<…>), entity (&…;) or backslash escape,
 * an ellipsis marks it, and for HTML the elements still open are closed. */
static inline void amark_cut(struct atext *b, enum amark k, size_t max_units)
{
    if (b->failed || !b->p || amark_units(b->p, b->len) <= max_units) return;
    struct amark_tags tags = {0}, best_tags = {0};
    size_t best = 0, units = 0, i = 0;
    int markup_tags = k == AMARK_HTML || k == AMARK_MRKDWN;
    int entities = k == AMARK_HTML || k == AMARK_MRKDWN;
    while (i < b->len) {
        /* i is a safe place to cut: record it when it fits with the ellipsis and closers */
        size_t closers = k == AMARK_HTML ? amark_closers_units(&tags) : 0;
        if (units + 1 + closers <= max_units) {
            best = i;
            best_tags = tags;
        } else if (units + 1 > max_units) {
            break;
        }
        const char *p = b->p + i;
        size_t step;
        if (markup_tags && *p == '<') {
            const char *end = memchr(p, '>', b->len - i);
            step = end ? (size_t)(end - p) + 1 : b->len - i;
            if (k == AMARK_HTML && end) amark_tag(&tags, p, step);
        } else if (entities && *p == '&') {
            const char *end = memchr(p, ';', b->len - i < 12 ? b->len - i : 12);
            step = end ? (size_t)(end - p) + 1 : 1;
        } else if (k != AMARK_PLAIN && k != AMARK_HTML && k != AMARK_MRKDWN && *p == '\\' &&
                   i + 1 < b->len) {
            step = 2;
        } else {
            step = atext_utf8_seq((const unsigned char *)p, b->len - i);
            if (step == 0) step = 1;
        }
        units += amark_units(p, step);
        i += step;
    }
    struct atext closers = {0}; /* built before b changes: the names point into b */
    for (size_t t = best_tags.n; t > 0; t--) {
        atext_puts(&closers, "</");
        atext_putn(&closers, best_tags.name[t - 1], best_tags.len[t - 1]);
        atext_puts(&closers, ">");
    }
    b->len = best;
    b->p[best] = '\0';
    atext_puts(b, ATEXT_ELLIPSIS);
    if (closers.failed) b->failed = 1;
    atext_putn(b, closers.p ? closers.p : "", closers.len);
    atext_free(&closers);
}

#endif
