/*
 * desktop_text — the parts of the desktop notifier that need no D-Bus, header-only so that
 * tests/unit/test_desktop_text.c can include them: option values (urgency, expire), the
 * notification's summary and body rendered from the alert (plain text, or the Notifications
 * spec's body markup with matched words in <b>), and the bounded map from a story (the article
 * link, else source and id) to the id of the notification that shows it, so that the next alert
 * about the same story replaces that notification instead of stacking a new one. Input is the
 * alert deliver() gets and the options init() reads; output is text and ids for desktop.c.
 */
#ifndef HERALD_PLUGINS_DESKTOP_TEXT_H
#define HERALD_PLUGINS_DESKTOP_TEXT_H

#include "../common/template.h"

#include <stdint.h>

enum {
    DESK_STORIES = 256,        /* stories remembered for replacement (least recent go first) */
    DESK_KEY_MAX = 4096,       /* a longer link is not remembered */
    DESK_SUMMARY_UNITS = 400,  /* UTF-16 units of the summary line */
    DESK_BODY_UNITS = 2000,    /* UTF-16 units of the body, markup included */
    DESK_FALLBACK_UNITS = 300, /* the article summary shown when there is no evidence */
    DESK_EXPIRE_MAX_MS = 24 * 60 * 60 * 1000,
};

/* --- options --- */

/* The freedesktop urgency byte for "low", "normal" or "critical"; -1 for anything else. */
static inline int desk_urgency(const char *s)
{
    if (!s) return -1;
    if (strcmp(s, "low") == 0) return 0;
    if (strcmp(s, "normal") == 0) return 1;
    if (strcmp(s, "critical") == 0) return 2;
    return -1;
}

/* The Notify expire_timeout for `s`: "default" -1 (the server decides), "never" 0, else a
 * duration ("8s", "1500ms", "2m", "1h" or a number of seconds) of 1 ms to 1 day in ms.
 * Returns 0, or -1 when s is none of these. */
static inline int desk_expire(const char *s, int32_t *ms)
{
    if (!s || !*s) return -1;
    if (strcmp(s, "default") == 0) {
        *ms = -1;
        return 0;
    }
    if (strcmp(s, "never") == 0) {
        *ms = 0;
        return 0;
    }
    double v = 0, scale = 0;
    int digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        v = v * 10 + (*p - '0');
    if (*p == '.') {
        double f = 0.1;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++, f /= 10)
            v += (*p - '0') * f;
    }
    if (digits == 0 || digits > 12) return -1;
    if (strcmp(p, "ms") == 0)
        scale = 1;
    else if (strcmp(p, "s") == 0 || *p == '\0')
        scale = 1000;
    else if (strcmp(p, "m") == 0)
        scale = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        scale = 3600 * 1000;
    else
        return -1;
    double total = v * scale;
    if (total < 1 || total > DESK_EXPIRE_MAX_MS) return -1;
    *ms = (int32_t)total;
    return 0;
}

/* Whether s is valid UTF-8 throughout (D-Bus refuses strings that are not). */
static inline int desk_utf8_ok(const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t k = atext_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

/* --- summary and body --- */

/* Body markup is the XML subset of the Notifications spec. Slack's mrkdwn escaping (&, <, >
 * as entities, nothing else) is exactly what its text needs: &#39; and &apos; are not
 * understood by every server (dunst's "strip" mode shows them as is), and quotes need no
 * escaping outside attributes. */
#define DESK_ESCAPE AMARK_MRKDWN

/* How matched words are shown: <b> in body markup, [brackets] in plain text. */
static inline struct atext_marks desk_marks(int markup)
{
    struct atext_marks m = {amark_put_cb, (int)DESK_ESCAPE, "<b>", "</b>"};
    if (!markup) m = atext_plain_marks;
    return m;
}

/* Append the summary line: the template `t` rendered as plain text (the spec's summary has no
 * markup), cut to DESK_SUMMARY_UNITS. */
static inline void desk_summary(struct atext *b, const struct tpl *t, const struct herald_alert *al)
{
    tpl_render(b, t, al, AMARK_PLAIN);
    amark_cut(b, AMARK_PLAIN, DESK_SUMMARY_UNITS);
}

/* Up to three evidence snippets, one per line, matches marked; 0 when there is none. */
static inline size_t desk_evidence(struct atext *b, const struct herald_alert *al, int markup)
{
    struct atext_marks m = desk_marks(markup);
    size_t before = b->len;
    size_t n = atext_evidence_marked(b, al, TPL_EVIDENCE_LINES, "", "\n", &m, TPL_EVIDENCE_BYTES);
    if (b->len > before && b->p[b->len - 1] == '\n') b->p[--b->len] = '\0';
    return n;
}

/* The default body: the evidence (else the article's summary), then "source · date". */
static inline void desk_default_body(struct atext *b, const struct herald_alert *al, int markup)
{
    enum amark k = markup ? DESK_ESCAPE : AMARK_PLAIN;
    const struct herald_article *a = al->article;
    size_t mark = b->len;
    if (desk_evidence(b, al, markup) == 0 && a) amark_field(b, k, a->summary, DESK_FALLBACK_UNITS);
    if (b->len > mark) atext_puts(b, "\n");
    amark_field(b, k, a && a->source ? a->source : "?", TPL_FIELD_UNITS);
    char date[32];
    if (a && atext_iso8601(a->published, date) == 0) {
        date[10] = ' '; /* "2020-01-05 18:30 UTC": the seconds and the T are noise here */
        memcpy(date + 16, " UTC", 5);
        atext_puts(b, " \xc2\xb7 "); /* U+00B7 middle dot */
        atext_puts(b, date);
    }
}

/* Append the body for the alert: the template `t` (NULL: the default body) with values
 * escaped for body markup when `markup`, else plain text (the template's own tags are then
 * left out); cut to DESK_BODY_UNITS without splitting a tag or an entity. */
static inline void desk_body(struct atext *b, const struct tpl *t, const struct herald_alert *al,
                             int markup)
{
    if (!t) {
        desk_default_body(b, al, markup);
    } else {
        for (size_t i = 0; i < t->n; i++) {
            const struct tpl_part *p = &t->parts[i];
            if (p->key == TPL_EVIDENCE)
                desk_evidence(b, al, markup);
            else if (p->key != TPL_LITERAL)
                tpl_value(b, p->key, al, markup ? DESK_ESCAPE : AMARK_PLAIN);
            else if (markup)
                atext_putn(b, t->src + p->off, p->len);
            else
                tpl_put_untagged(b, t->src + p->off, p->len);
        }
    }
    amark_cut(b, markup ? AMARK_HTML : AMARK_PLAIN, DESK_BODY_UNITS);
}

/* Append "\n" and the link as body text (for servers without actions), escaped for markup. */
static inline void desk_link_line(struct atext *b, const char *link, int markup)
{
    if (!amark_url_ok(link)) return;
    atext_puts(b, "\n");
    amark_put_url(b, markup ? DESK_ESCAPE : AMARK_PLAIN, link);
}

/* --- stories --- */

/* One story shown on the desktop: which notification shows it, and the link its actions open. */
struct desk_story {
    char *key;
    char *link; /* an http(s) link, or NULL */
    uint32_t id;
    uint64_t used; /* clock value of the last update: the smallest is evicted first */
};

struct desk_stories {
    struct desk_story e[DESK_STORIES];
    size_t n;
    uint64_t clock;
};

/* The story key of an alert, malloc'd: "link\n<link>", else "id\n<source>\n<id>"; NULL when
 * the article has neither or the key would pass DESK_KEY_MAX (or memory runs out). */
static inline char *desk_story_key(const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    if (!a) return NULL;
    struct atext b = {0};
    if (a->link && a->link[0]) {
        atext_puts(&b, "link\n");
        atext_puts(&b, a->link);
    } else if (a->id && a->id[0]) {
        atext_puts(&b, "id\n");
        atext_puts(&b, a->source ? a->source : "");
        atext_puts(&b, "\n");
        atext_puts(&b, a->id);
    }
    if (b.failed || !b.p || b.len > DESK_KEY_MAX) {
        atext_free(&b);
        return NULL;
    }
    return b.p;
}

static inline struct desk_story *desk_stories_find(struct desk_stories *s, const char *key)
{
    for (size_t i = 0; key && i < s->n; i++)
        if (strcmp(s->e[i].key, key) == 0) return &s->e[i];
    return NULL;
}

/* The story shown by notification `id`, or NULL (ids are the server's, never 0). */
static inline struct desk_story *desk_stories_by_id(struct desk_stories *s, uint32_t id)
{
    for (size_t i = 0; id && i < s->n; i++)
        if (s->e[i].id == id) return &s->e[i];
    return NULL;
}

static inline void desk_story_clear(struct desk_story *e)
{
    free(e->key);
    free(e->link);
    memset(e, 0, sizeof *e);
}

/* Remove the story at `e` (an element of s). */
static inline void desk_stories_remove(struct desk_stories *s, struct desk_story *e)
{
    desk_story_clear(e);
    size_t i = (size_t)(e - s->e);
    if (i + 1 < s->n) memmove(e, e + 1, (s->n - i - 1) * sizeof *e);
    s->n--;
    memset(&s->e[s->n], 0, sizeof s->e[s->n]);
}

/* Remember that notification `id` shows story `key` with `link` (may be NULL), updating the
 * story's entry or adding one (evicting the least recently updated when full). An id shown
 * for another story before moves to this one. 0, or -1 when memory runs out. */
static inline int desk_stories_put(struct desk_stories *s, const char *key, uint32_t id,
                                   const char *link)
{
    char *k = strdup(key);
    char *l = link ? strdup(link) : NULL;
    if (!k || (link && !l)) {
        free(k);
        free(l);
        return -1;
    }
    struct desk_story *old = desk_stories_by_id(s, id);
    if (old && strcmp(old->key, key) != 0) desk_stories_remove(s, old);
    struct desk_story *e = desk_stories_find(s, key);
    if (!e && s->n < DESK_STORIES) e = &s->e[s->n++];
    if (!e) { /* full: the least recently updated story goes */
        e = &s->e[0];
        for (size_t i = 1; i < s->n; i++)
            if (s->e[i].used < e->used) e = &s->e[i];
    }
    desk_story_clear(e);
    e->key = k;
    e->link = l;
    e->id = id;
    e->used = ++s->clock;
    return 0;
}

/* Forget the story of notification `id` (it was closed: the next alert shows a new one). */
static inline void desk_stories_forget(struct desk_stories *s, uint32_t id)
{
    struct desk_story *e = desk_stories_by_id(s, id);
    if (e) desk_stories_remove(s, e);
}

static inline void desk_stories_free(struct desk_stories *s)
{
    for (size_t i = 0; i < s->n; i++)
        desk_story_clear(&s->e[i]);
    s->n = 0;
}

#endif
