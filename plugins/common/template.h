/*
 * template — header-only message templates for the notifier plugins: a string from the
 * user's config such as "{{title}} — {{link}}" is parsed once at init (an unknown or
 * unclosed placeholder is an error naming it) and rendered for each alert, each value
 * cleaned, capped and escaped for the markup the message is written in (markup.h). The
 * template's own text is the user's and is copied as is: in an HTML format it may hold tags.
 * Everything is `static inline` so each plugin .so gets a private copy.
 */
#ifndef HERALD_PLUGINS_TEMPLATE_H
#define HERALD_PLUGINS_TEMPLATE_H

#include "markup.h"

/* Longest template accepted, and the caps of the values put into it. */
#define TPL_MAX 16384
#define TPL_FIELD_UNITS 300    /* title, rule, source, id, notifier */
#define TPL_SUMMARY_UNITS 1000 /* summary */
#define TPL_EVIDENCE_BYTES 3000
#define TPL_EVIDENCE_LINES 3

enum tpl_key {
    TPL_TITLE,
    TPL_LINK,
    TPL_RULE,
    TPL_SOURCE,
    TPL_PUBLISHED,
    TPL_SUMMARY,
    TPL_EVIDENCE,
    TPL_ID,
    TPL_NOTIFIER,
    TPL_NKEYS,
    TPL_LITERAL = -1,
    TPL_LUA = -2, /* {{lua:OPTION}}: what the config's Lua function returned (alert->rendered) */
};

/* The longest text a template function's result may put into a message. */
#define TPL_LUA_UNITS 16384

static const char *const tpl_names[TPL_NKEYS] = {
    "title", "link", "rule", "source", "published", "summary", "evidence", "id", "notifier",
};

/* One piece of a parsed template: literal text (a slice of src) or a placeholder. */
struct tpl_part {
    int key; /* enum tpl_key, TPL_LITERAL for text */
    size_t off, len;
};

struct tpl {
    char *src;
    struct tpl_part *parts;
    size_t n;
};

static inline void tpl_free(struct tpl *t)
{
    free(t->src);
    free(t->parts);
    memset(t, 0, sizeof *t);
}

static inline int tpl_add(struct tpl *t, size_t *cap, int key, size_t off, size_t len)
{
    if (t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct tpl_part *p = realloc(t->parts, nc * sizeof *p);
        if (!p) return -1;
        t->parts = p;
        *cap = nc;
    }
    t->parts[t->n].key = key;
    t->parts[t->n].off = off;
    t->parts[t->n++].len = len;
    return 0;
}

/* The key named s[0..n) with surrounding spaces ignored, or TPL_LITERAL when unknown. */
static inline int tpl_lookup(const char *s, size_t n)
{
    while (n && *s == ' ') {
        s++;
        n--;
    }
    while (n && s[n - 1] == ' ')
        n--;
    for (int k = 0; k < TPL_NKEYS; k++)
        if (strlen(tpl_names[k]) == n && strncmp(tpl_names[k], s, n) == 0) return k;
    return TPL_LITERAL;
}

/* Parse `src` into t (zeroed by the caller). Returns 0, or -1 with a message in err naming
 * what is wrong ("unknown placeholder {{titel}}"); t is then empty. */
static inline int tpl_parse(struct tpl *t, const char *src, char *err, size_t errlen)
{
    size_t len = strlen(src), cap = 0, pos = 0;
    if (len > TPL_MAX) {
        snprintf(err, errlen, "template is longer than %d bytes", TPL_MAX);
        return -1;
    }
    if (!(t->src = strdup(src))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (pos < len) {
        const char *open = strstr(t->src + pos, "{{");
        size_t at = open ? (size_t)(open - t->src) : len;
        if (at > pos && tpl_add(t, &cap, TPL_LITERAL, pos, at - pos) != 0) goto oom;
        if (!open) break;
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(err, errlen, "unclosed placeholder \"%.40s\" (write {{name}})", open);
            tpl_free(t);
            return -1;
        }
        size_t nlen = (size_t)(close - open - 2);
        if (nlen > 4 && strncmp(open + 2, "lua:", 4) == 0) {
            /* The core's stand-in for a template written as a Lua function. */
            if (tpl_add(t, &cap, TPL_LUA, at + 6, nlen - 4) != 0) goto oom;
            pos = (size_t)(close - t->src) + 2;
            continue;
        }
        int key = tpl_lookup(open + 2, nlen);
        if (key == TPL_LITERAL) {
            snprintf(err, errlen,
                     "unknown placeholder {{%.*s}} (known: title, link, rule, source, "
                     "published, summary, evidence, id, notifier)",
                     (int)(nlen < 40 ? nlen : 40), open + 2);
            tpl_free(t);
            return -1;
        }
        if (tpl_add(t, &cap, key, at, nlen + 4) != 0) goto oom;
        pos = (size_t)(close - t->src) + 2;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    tpl_free(t);
    return -1;
}

/* Append the value of `key` for the alert, escaped for k. */
static inline void tpl_value(struct atext *b, int key, const struct herald_alert *al, enum amark k)
{
    const struct herald_article *a = al->article;
    char date[32];
    switch ((enum tpl_key)key) {
    case TPL_TITLE:
        amark_field(b, k, a && a->title && a->title[0] ? a->title : "(untitled)", TPL_FIELD_UNITS);
        break;
    case TPL_LINK:
        if (a && amark_url_ok(a->link) && strlen(a->link) <= 2000) amark_put_url(b, k, a->link);
        break;
    case TPL_RULE:
        amark_field(b, k, al->rule ? al->rule : "?", TPL_FIELD_UNITS);
        break;
    case TPL_SOURCE:
        amark_field(b, k, a && a->source ? a->source : "?", TPL_FIELD_UNITS);
        break;
    case TPL_PUBLISHED:
        atext_puts(b, a && atext_iso8601(a->published, date) == 0 ? date : "unknown");
        break;
    case TPL_SUMMARY:
        if (a) amark_field(b, k, a->summary, TPL_SUMMARY_UNITS);
        break;
    case TPL_EVIDENCE: {
        struct atext_marks m = amark_marks(k);
        struct atext ev = {0};
        atext_evidence_marked(&ev, al, TPL_EVIDENCE_LINES, "", "\n", &m, TPL_EVIDENCE_BYTES);
        if (ev.len && ev.p[ev.len - 1] == '\n') ev.len--; /* lines joined, none trailing */
        if (ev.failed) b->failed = 1;
        atext_putn(b, ev.p ? ev.p : "", ev.len);
        atext_free(&ev);
        break;
    }
    case TPL_ID:
        amark_field(b, k, al->id ? al->id : "", TPL_FIELD_UNITS);
        break;
    case TPL_NOTIFIER:
        amark_field(b, k, al->notifier ? al->notifier : "", TPL_FIELD_UNITS);
        break;
    case TPL_NKEYS:
    case TPL_LITERAL:
    case TPL_LUA: /* tpl_lua_value */
        break;
    }
}

/* Append what the template function of option name[0..n) returned for the alert, escaped
 * for k like any value (it is plain text); nothing when the host sent none. */
static inline void tpl_lua_value(struct atext *b, const char *name, size_t n,
                                 const struct herald_alert *al, enum amark k)
{
    size_t need = offsetof(struct herald_alert, n_rendered) + sizeof al->n_rendered;
    if (al->struct_size < need || !al->rendered) return;
    for (size_t i = 0; i < al->n_rendered; i++) {
        const struct herald_rendered *r = &al->rendered[i];
        if (r->option && r->text && strlen(r->option) == n && strncmp(r->option, name, n) == 0) {
            amark_field(b, k, r->text, TPL_LUA_UNITS);
            return;
        }
    }
}

/* Append literal template text without its HTML tags (<…>): the plain twin of an HTML
 * template, as Matrix wants next to the formatted body. */
static inline void tpl_put_untagged(struct atext *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        size_t end = lt ? (size_t)(lt - s) : n;
        atext_putn(b, s + i, end - i);
        if (!lt) break;
        const char *gt = memchr(lt, '>', n - end);
        i = gt ? (size_t)(gt - s) + 1 : n;
    }
}

/* Render t for the alert into b, values escaped for k; with strip_tags, HTML tags in the
 * template's own text are left out. */
static inline void tpl_render_ex(struct atext *b, const struct tpl *t,
                                 const struct herald_alert *al, enum amark k, int strip_tags)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct tpl_part *p = &t->parts[i];
        if (p->key == TPL_LUA)
            tpl_lua_value(b, t->src + p->off, p->len, al, k);
        else if (p->key != TPL_LITERAL)
            tpl_value(b, p->key, al, k);
        else if (strip_tags)
            tpl_put_untagged(b, t->src + p->off, p->len);
        else
            atext_putn(b, t->src + p->off, p->len);
    }
}

/* Render t for the alert into b, values escaped for k. */
static inline void tpl_render(struct atext *b, const struct tpl *t, const struct herald_alert *al,
                              enum amark k)
{
    tpl_render_ex(b, t, al, k, 0);
}

#endif
