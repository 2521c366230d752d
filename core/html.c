/*
 * html — HTML to plain text, and a whole web page read as one article.
 * Input: escaped HTML from feed elements (read by a one-pass tokenizer, no tree: feeds
 * carry thousands of such fragments), XHTML subtrees of Atom entries, fetched pages
 * (parsed by libxml2's HTML parser, network off). Output: arena strings of UTF-8 plain
 * text for struct item / struct feed and `herald parse`.
 * Main-content extraction follows Readability's idea: paragraphs vote for their parent
 * and grandparent, class/id names nudge the score, link-heavy blocks lose, and the best
 * block plus its related siblings is the article.
 */
#include "html.h"

#include "date.h"

#include <ctype.h>
#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 256

/* ---- text buffer: collapses whitespace as it goes ------------------------------------ */

struct tbuf {
    char *p;
    size_t len, cap;
    int space; /* a space is pending before the next visible character */
    int nl;    /* line breaks pending (0–2) before the next visible character */
    int oom;
};

static void tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_flush_pending(struct tbuf *b)
{
    if (b->len > 0) {
        if (b->nl > 0)
            tb_put(b, "\n\n", (size_t)(b->nl > 2 ? 2 : b->nl));
        else if (b->space)
            tb_put(b, " ", 1);
    }
    b->nl = 0;
    b->space = 0;
}

static void tb_break(struct tbuf *b, int n)
{
    if (n > b->nl) b->nl = n;
    b->space = 0;
}

/* Bytes of a Unicode space at s (NBSP, U+2000–U+200A, U+202F, U+205F, U+3000), else 0. */
static size_t uspace_len(const unsigned char *s, size_t n)
{
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0) return 2;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] <= 0x8A || s[2] == 0xAF)) return 3;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;
    if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;
    return 0;
}

/* Bytes that are text as they are: printable ASCII and UTF-8 bytes other than the lead
 * bytes of the spaces uspace_len knows (0xC2, 0xE2, 0xE3) and of a BOM (0xEF). */
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x90 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xA0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xB0 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xC0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xD0 */
    1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0xE0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xF0 */
};

static void tb_text(struct tbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t sp;
        if (plain_byte[u[i]]) {
            /* a run of text, single spaces between words included: they stay as they are */
            size_t j = i + 1;
            while (j < n &&
                   (plain_byte[u[j]] || (u[j] == ' ' && j + 1 < n && plain_byte[u[j + 1]])))
                j++;
            tb_flush_pending(b);
            tb_put(b, s + i, j - i);
            i = j;
        } else if (u[i] == ' ' || u[i] == '\t' || u[i] == '\n' || u[i] == '\r' || u[i] == '\f') {
            if (!b->nl) b->space = 1;
            i++;
        } else if ((sp = uspace_len(u + i, n - i)) > 0) {
            if (!b->nl) b->space = 1;
            i += sp;
        } else if (u[i] < 0x20 || u[i] == 0x7F) {
            i++; /* control characters carry no text */
        } else if (n - i >= 3 && u[i] == 0xEF && u[i + 1] == 0xBB && u[i + 2] == 0xBF) {
            i += 3; /* a stray BOM / zero-width no-break space */
        } else {
            /* a lead byte of the table's exceptions that starts no space: plain after all */
            tb_flush_pending(b);
            tb_put(b, s + i, 1);
            i++;
        }
    }
}

static char *tb_finish(struct tbuf *b, struct arena *a)
{
    char *out = b->oom ? NULL : arena_strndup(a, b->p ? b->p : "", b->len);
    free(b->p);
    b->p = NULL;
    return out;
}

/* ---- element classes ----------------------------------------------------------------- */

enum {
    EL_SKIP = 1 << 0,   /* its content is never text: script, style, head, forms' widgets … */
    EL_PAGE = 1 << 1,   /* page chrome, dropped when reading a whole page */
    EL_PARA = 1 << 2,   /* paragraph-level block: a blank line around it */
    EL_LINE = 1 << 3,   /* line-level block: a line break around it */
    EL_CELL = 1 << 4,   /* table cell: a space before it */
    EL_VOID = 1 << 5,   /* no content and no end tag (libxml2's HTML 4 "empty" elements) */
    EL_RAW = 1 << 6,    /* content is raw text up to its end tag */
    EL_CLOSEP = 1 << 7, /* its start tag ends an open <p> */
    EL_ROOT = 1 << 8,   /* html / head / body: structure, not content */
};

struct el_class {
    const char *name;
    unsigned char len;
    unsigned short flags;
    short end_prio; /* libxml2's end-tag priority: an end tag never closes a higher one */
};

#define EL(n, f, p)                                                                                \
    {                                                                                              \
        n, sizeof n - 1, f, p                                                                      \
    }
static const struct el_class el_classes[] = {
    EL("p", EL_PARA | EL_CLOSEP, 100),
    EL("a", 0, 100),
    EL("b", 0, 100),
    EL("i", 0, 100),
    EL("em", 0, 100),
    EL("br", EL_LINE | EL_VOID, 100),
    EL("strong", 0, 100),
    EL("li", EL_LINE, 100),
    EL("td", EL_CELL, 160),
    EL("th", EL_CELL, 160),
    EL("tr", EL_LINE, 170),
    EL("dt", EL_LINE, 100),
    EL("dd", EL_LINE, 100),
    EL("ul", EL_PARA | EL_CLOSEP, 100),
    EL("ol", EL_PARA | EL_CLOSEP, 100),
    EL("dl", EL_PARA | EL_CLOSEP, 100),
    EL("hr", EL_PARA | EL_CLOSEP | EL_VOID, 100),
    EL("h1", EL_PARA | EL_CLOSEP, 100),
    EL("h2", EL_PARA | EL_CLOSEP, 100),
    EL("h3", EL_PARA | EL_CLOSEP, 100),
    EL("h4", EL_PARA | EL_CLOSEP, 100),
    EL("h5", EL_PARA | EL_CLOSEP, 100),
    EL("h6", EL_PARA | EL_CLOSEP, 100),
    EL("div", EL_LINE | EL_CLOSEP, 150),
    EL("img", EL_VOID, 100),
    EL("pre", EL_PARA | EL_CLOSEP, 100),
    EL("nav", EL_PAGE | EL_LINE | EL_CLOSEP, 100),
    EL("svg", EL_SKIP, 100),
    EL("col", EL_VOID, 100),
    EL("wbr", EL_VOID, 100),
    EL("span", 0, 100),
    EL("u", 0, 100),
    EL("s", 0, 100),
    EL("q", 0, 100),
    EL("sub", 0, 100),
    EL("sup", 0, 100),
    EL("code", 0, 100),
    EL("cite", 0, 100),
    EL("font", 0, 100),
    EL("time", 0, 100),
    EL("small", 0, 100),
    EL("head", EL_SKIP | EL_ROOT, 200),
    EL("body", EL_ROOT, 200),
    EL("html", EL_ROOT, 220),
    EL("form", EL_PAGE | EL_CLOSEP, 100),
    EL("menu", EL_PAGE | EL_CLOSEP, 100),
    EL("main", EL_PARA | EL_CLOSEP, 100),
    EL("math", EL_SKIP, 100),
    EL("meta", EL_VOID, 100),
    EL("link", EL_VOID, 100),
    EL("base", EL_VOID, 100),
    EL("area", EL_VOID, 100),
    EL("table", EL_PARA | EL_CLOSEP, 190),
    EL("thead", 0, 180),
    EL("tbody", 0, 180),
    EL("tfoot", 0, 180),
    EL("style", EL_SKIP | EL_RAW, 100),
    EL("embed", EL_SKIP, 100),
    EL("aside", EL_PAGE | EL_PARA | EL_CLOSEP, 100),
    EL("input", EL_PAGE | EL_VOID, 100),
    EL("label", EL_PAGE, 100),
    EL("param", EL_VOID, 100),
    EL("frame", EL_VOID, 100),
    EL("script", EL_SKIP | EL_RAW, 100),
    EL("iframe", EL_SKIP, 100),
    EL("object", EL_SKIP, 100),
    EL("select", EL_SKIP, 100),
    EL("button", EL_SKIP, 100),
    EL("canvas", EL_SKIP, 100),
    EL("header", EL_PAGE | EL_PARA | EL_CLOSEP, 100),
    EL("footer", EL_PAGE | EL_PARA | EL_CLOSEP, 100),
    EL("dialog", EL_PAGE | EL_CLOSEP, 100),
    EL("figure", EL_PARA | EL_CLOSEP, 100),
    EL("legend", EL_LINE, 100),
    EL("option", EL_LINE, 100),
    EL("center", EL_LINE | EL_CLOSEP, 100),
    EL("section", EL_PARA | EL_CLOSEP, 100),
    EL("article", EL_PARA | EL_CLOSEP, 100),
    EL("address", EL_PARA | EL_CLOSEP, 100),
    EL("details", EL_PARA | EL_CLOSEP, 100),
    EL("summary", EL_LINE, 100),
    EL("caption", EL_LINE, 100),
    EL("isindex", EL_VOID, 100),
    EL("noscript", EL_SKIP, 100),
    EL("template", EL_SKIP, 100),
    EL("textarea", EL_SKIP, 100),
    EL("fieldset", EL_LINE | EL_CLOSEP, 100),
    EL("basefont", EL_VOID, 100),
    EL("blockquote", EL_PARA | EL_CLOSEP, 100),
    EL("figcaption", EL_LINE | EL_CLOSEP, 100),
};
#undef EL

static const struct el_class el_other = {"", 0, 0, 100};

/* The class of the element named name[0..len) (ASCII case-insensitive); never NULL. */
static const struct el_class *el_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof el_classes / sizeof el_classes[0]; i++) {
        const struct el_class *c = &el_classes[i];
        if (c->len == len && (c->name[0] | 0x20) == (name[0] | 0x20) &&
            strncasecmp(c->name, name, len) == 0)
            return c;
    }
    return &el_other;
}

static unsigned el_flags(const xmlNode *n)
{
    const char *nm = (const char *)n->name;
    return el_lookup(nm, strlen(nm))->flags;
}

static const char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->name && strcasecmp((const char *)a->name, name) == 0 && a->children &&
            (a->children->type == XML_TEXT_NODE) && a->children->content)
            return (const char *)a->children->content;
    }
    return NULL;
}

/* hidden / aria-hidden="true" / style="display:none": not visible text. */
static int is_hidden(const xmlNode *n)
{
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (a->name && strcasecmp((const char *)a->name, "hidden") == 0) return 1;
    const char *ah = attr(n, "aria-hidden");
    if (ah && strcasecmp(ah, "true") == 0) return 1;
    const char *st = attr(n, "style");
    if (st) {
        char norm[128];
        size_t k = 0;
        for (const char *c = st; *c && k + 1 < sizeof norm; c++)
            if (!isspace((unsigned char)*c)) norm[k++] = (char)tolower((unsigned char)*c);
        norm[k] = '\0';
        if (strstr(norm, "display:none") || strstr(norm, "visibility:hidden")) return 1;
    }
    return 0;
}

/* ---- subtree to text ----------------------------------------------------------------- */

struct walk {
    struct tbuf *b;
    int page;                     /* drop page chrome (nav, header, footer, …) */
    int (*skip)(const xmlNode *); /* extra filter for page content, may be NULL */
};

static void walk_text(struct walk *w, const xmlNode *n, int depth)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                tb_text(w->b, (const char *)n->content, strlen((const char *)n->content));
            continue;
        }
        if (n->type == XML_ENTITY_REF_NODE) {
            /* an undefined entity kept by recovery: its name is the best we have */
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || !n->name) continue;
        unsigned fl = el_flags(n);
        if (fl & EL_SKIP) continue;
        if (w->page && ((fl & EL_PAGE) || is_hidden(n))) continue;
        if (w->skip && w->skip(n)) continue;
        int blk = fl & EL_PARA ? 2 : fl & EL_LINE ? 1 : 0;
        if (blk)
            tb_break(w->b, blk);
        else if (fl & EL_CELL)
            w->b->space = !w->b->nl;
        if (depth < MAX_DEPTH) walk_text(w, n->children, depth + 1);
        if (blk) tb_break(w->b, blk);
    }
}

char *html_node_text(const xmlNode *node, struct arena *a)
{
    struct tbuf b = {0};
    struct walk w = {&b, 0, NULL};
    if (node) walk_text(&w, node->children, 0);
    return tb_finish(&b, a);
}

char *html_collapse_ws(const char *s, size_t n, struct arena *a)
{
    struct tbuf b = {0};
    tb_text(&b, s, n);
    return tb_finish(&b, a);
}

int html_looks_like_markup(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '<' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '!'))
            return 1;
        if (s[i] == '&' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '#')) return 1;
    }
    return 0;
}

xmlDoc *html_parse_doc(const char *data, size_t len, const char *url, const char *encoding)
{
    if (!data || len == 0 || len > INT32_MAX) return NULL;
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
               HTML_PARSE_COMPACT;
    return htmlReadMemory(data, (int)len, url, encoding ? encoding : "UTF-8", opts);
}

/* ---- HTML fragment to text, streaming ----------------------------------------------- */

/*
 * Feed fields carry HTML fragments by the thousand, so html_to_text reads them in one pass
 * without building a tree: a tokenizer plus a small stack of open elements. It follows
 * libxml2's HTML parser (what html_node_text sees for the same markup) where the text
 * depends on it: HTML 4 entities with its rules for a missing ';', comments that swallow
 * the rest when unterminated, "<" that starts no tag kept as text, raw script/style,
 * end tags that close only what is open (and not past a higher-priority element), a <p>
 * ended by a block that starts right inside it, and the <p> implied around text at the
 * top. Numeric references to C1 controls are read as windows-1252, as browsers do.
 */

enum { FRAG_STACK = 256 };

struct frag {
    struct tbuf *b;
    const char *end;
    struct {
        const char *name; /* points into the fragment */
        size_t len;
        const struct el_class *cls;
    } open[FRAG_STACK];
    int depth;
    int skip_from; /* stack index of the outermost open EL_SKIP element, or -1 */
    int started;   /* seen an element or text: no more implied <p> */
};

static int is_name_start(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':' ||
           c == '.';
}

static void frag_push(struct frag *fr, const char *name, size_t len, const struct el_class *c)
{
    if (fr->depth == FRAG_STACK) return; /* too deep: its end tag will find nothing open */
    if ((c->flags & EL_SKIP) && fr->skip_from < 0) fr->skip_from = fr->depth;
    fr->open[fr->depth].name = name;
    fr->open[fr->depth].len = len;
    fr->open[fr->depth].cls = c;
    fr->depth++;
}

static void el_break(struct frag *fr, const struct el_class *c)
{
    if (fr->skip_from >= 0) return;
    if (c->flags & EL_PARA)
        tb_break(fr->b, 2);
    else if (c->flags & EL_LINE)
        tb_break(fr->b, 1);
}

static void frag_pop(struct frag *fr)
{
    fr->depth--;
    if (fr->skip_from == fr->depth) fr->skip_from = -1;
    el_break(fr, fr->open[fr->depth].cls);
}

/* Text at the very start, outside any element, sits in the <p> libxml2 implies there. */
static void frag_text_starts(struct frag *fr)
{
    if (fr->started) return;
    fr->started = 1;
    frag_push(fr, "p", 1, &el_classes[0]);
}

static void frag_text(struct frag *fr, const char *s, size_t n)
{
    if (fr->skip_from >= 0 || n == 0) return;
    if (!fr->started) {
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i == n) return; /* blanks before anything: ignorable */
        frag_text_starts(fr);
    }
    tb_text(fr->b, s, n);
}

static void frag_utf8(struct frag *fr, unsigned long cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    frag_text(fr, o, n);
}

/* What browsers read &#128;–&#159; as (windows-1252); 0 where it has no character. */
static unsigned long c1_as_cp1252(unsigned long cp)
{
    static const unsigned short map[32] = {
        0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};
    return map[cp - 0x80];
}

/* "&#…" at p: the character, or nothing for an invalid one; returns the end. */
static const char *frag_charref(struct frag *fr, const char *p)
{
    const char *end = fr->end;
    unsigned long v = 0;
    p += 2;
    int hex = p < end && (*p == 'x' || *p == 'X');
    if (hex) p++;
    for (; p < end && *p != ';'; p++) {
        unsigned char c = (unsigned char)*p;
        int d = c >= '0' && c <= '9'                            ? c - '0'
                : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                : -1;
        if (d < 0) break; /* a missing ';' still ends the reference */
        if (v < 0x110000) v = v * (hex ? 16 : 10) + (unsigned long)d;
    }
    if (p < end && *p == ';') p++;
    if (v >= 0x80 && v <= 0x9F) v = c1_as_cp1252(v);
    int ok = v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
             (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
    if (ok) frag_utf8(fr, v);
    return p;
}

/* "&name;" at p; an unknown name or a missing ';' stays as written. Returns the end. */
static const char *frag_entity(struct frag *fr, const char *p)
{
    const char *end = fr->end;
    if (p + 1 < end && p[1] == '#') return frag_charref(fr, p);
    const char *q = p + 1;
    if (q >= end || !(is_name_start((unsigned char)*q) || *q == '_' || *q == ':')) {
        frag_text(fr, "&", 1);
        return p + 1;
    }
    while (q < end && is_name_char((unsigned char)*q))
        q++;
    size_t n = (size_t)(q - p - 1);
    if (q < end && *q == ';') {
        /* the everyday ones without the table's linear search */
        static const struct {
            const char *name;
            size_t len;
            const char *utf8;
        } common[] = {{"amp", 3, "&"},
                      {"lt", 2, "<"},
                      {"gt", 2, ">"},
                      {"quot", 4, "\""},
                      {"nbsp", 4, "\xC2\xA0"},
                      {"rsquo", 5, "\xE2\x80\x99"},
                      {"lsquo", 5, "\xE2\x80\x98"},
                      {"ldquo", 5, "\xE2\x80\x9C"},
                      {"rdquo", 5, "\xE2\x80\x9D"},
                      {"mdash", 5, "\xE2\x80\x94"},
                      {"ndash", 5, "\xE2\x80\x93"},
                      {"hellip", 6, "\xE2\x80\xA6"}};
        for (size_t k = 0; k < sizeof common / sizeof common[0]; k++)
            if (common[k].len == n && memcmp(common[k].name, p + 1, n) == 0) {
                frag_text(fr, common[k].utf8, strlen(common[k].utf8));
                return q + 1;
            }
    }
    if (q < end && *q == ';' && n < 32) {
        char name[32];
        memcpy(name, p + 1, n);
        name[n] = '\0';
        const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
        if (e && e->value > 0) {
            frag_utf8(fr, e->value);
            return q + 1;
        }
    }
    frag_text(fr, p, (size_t)(q - p));
    return q;
}

static void frag_start_tag(struct frag *fr, const char *name, size_t len, int self_closing)
{
    const struct el_class *c = el_lookup(name, len);
    if (c->flags & EL_ROOT) {
        /* html and body only frame the text; a head is one only before any content */
        if ((c->flags & EL_SKIP) && !fr->started)
            frag_push(fr, name, len, c);
        else if (strncasecmp(name, "body", len) == 0)
            fr->started = 1; /* text in <body> needs no implied <p> */
        return;
    }
    fr->started = 1;
    if (fr->depth > 0 && (c->flags & EL_CLOSEP) && fr->open[fr->depth - 1].len == 1 &&
        (fr->open[fr->depth - 1].name[0] | 0x20) == 'p')
        frag_pop(fr);
    if (fr->skip_from < 0 && (c->flags & EL_CELL)) fr->b->space = !fr->b->nl;
    el_break(fr, c);
    if (c->flags & EL_VOID) return;
    if (self_closing) {
        el_break(fr, c);
        return;
    }
    frag_push(fr, name, len, c);
}

static void frag_end_tag(struct frag *fr, const char *name, size_t len)
{
    const struct el_class *c = el_lookup(name, len);
    if ((c->flags & EL_ROOT) && !(c->flags & EL_SKIP)) return; /* </body>, </html> */
    int i = fr->depth - 1;
    for (; i >= 0; i--) {
        if (fr->open[i].len == len && strncasecmp(fr->open[i].name, name, len) == 0) break;
        if (fr->open[i].cls->end_prio > c->end_prio) return; /* cannot close past it */
    }
    if (i < 0) return; /* nothing open by that name: a stray end tag */
    while (fr->depth > i)
        frag_pop(fr);
}

/* The '>' ending a start tag whose attributes begin at p (after the name; '>' inside a
 * quoted value does not count), or NULL. */
static const char *tag_end(const char *p, const char *end, int *self_closing)
{
    const char *start = p;
    char q = 0;
    int after_eq = 0; /* a quote opens a value only right after '=' (blanks aside) */
    for (; p < end; p++) {
        char c = *p;
        if (q) {
            if (c == q) q = 0;
        } else if (c == '>') {
            *self_closing = p > start && p[-1] == '/';
            return p;
        } else if ((c == '"' || c == '\'') && after_eq) {
            q = c;
            after_eq = 0;
        } else if (c == '=') {
            after_eq = 1;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            after_eq = 0;
        }
    }
    return NULL;
}

/* Skip raw text up to "</name" (any case); returns where the end tag starts. */
static const char *raw_end(const char *p, const char *end, const char *name, size_t len)
{
    for (; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++) {
        if ((size_t)(end - p) >= len + 2 && p[1] == '/' && strncasecmp(p + 2, name, len) == 0)
            return p;
    }
    return end;
}

/* The markup construct at p ('<'); returns the position after it. */
static const char *frag_markup(struct frag *fr, const char *p)
{
    const char *end = fr->end;
    size_t left = (size_t)(end - p);
    if (left >= 4 && memcmp(p, "<!--", 4) == 0) {
        const char *c = memmem(p + 4, left - 4, "-->", 3);
        return c ? c + 3 : end; /* libxml2 drops the rest after an unclosed comment */
    }
    if (left >= 2 && p[1] == '?') {
        /* a processing instruction ends at '>'; "<?" before no name is dropped */
        if (left < 3 || !is_name_start((unsigned char)p[2])) return p + 2;
        const char *c = memchr(p, '>', left);
        return c ? c + 1 : end;
    }
    if (left >= 9 && strncasecmp(p, "<!DOCTYPE", 9) == 0) {
        const char *c = memchr(p, '>', left);
        return c ? c + 1 : end;
    }
    if (left >= 2 && p[1] == '/') {
        const char *n = p + 2, *q = n;
        if (q >= end || !is_name_start((unsigned char)*q)) return p + 2; /* "</" dropped */
        while (q < end && is_name_char((unsigned char)*q))
            q++;
        const char *gt = memchr(q, '>', (size_t)(end - q));
        frag_end_tag(fr, n, (size_t)(q - n));
        return gt ? gt + 1 : end;
    }
    if (left < 2 || !is_name_start((unsigned char)p[1])) {
        /* before any content libxml2 drops the '<' of an unknown "<!…" */
        if (!(left >= 2 && p[1] == '!' && !fr->started)) frag_text(fr, "<", 1);
        return p + 1;
    }
    const char *n = p + 1, *q = n;
    while (q < end && is_name_char((unsigned char)*q))
        q++;
    size_t len = (size_t)(q - n);
    int self_closing = 0;
    const char *gt = tag_end(q, end, &self_closing);
    if (!gt) return end; /* a tag cut off by the end of the fragment */
    const struct el_class *c = el_lookup(n, len);
    if (c->flags & EL_RAW) {
        /* script / style: nothing inside is markup; the end tag closes it */
        const char *e = raw_end(gt + 1, end, c->name, c->len);
        fr->started = 1;
        const char *close = e < end ? memchr(e, '>', (size_t)(end - e)) : NULL;
        return close ? close + 1 : end;
    }
    frag_start_tag(fr, n, len, self_closing);
    return gt + 1;
}

char *html_to_text(const char *html, size_t len, struct arena *a)
{
    if (!html_looks_like_markup(html, len)) return html_collapse_ws(html, len, a);
    struct tbuf b = {0};
    struct frag fr;
    fr.b = &b;
    fr.end = html + len;
    fr.depth = 0;
    fr.skip_from = -1;
    fr.started = 0;
    const char *p = html, *end = html + len;
    while (p < end) {
        const char *t = p;
        while (t < end && *t != '<' && *t != '&')
            t++;
        frag_text(&fr, p, (size_t)(t - p));
        if (t == end) break;
        p = *t == '&' ? frag_entity(&fr, t) : frag_markup(&fr, t);
    }
    return tb_finish(&b, a);
}

/* ---- page metadata ------------------------------------------------------------------- */

struct meta {
    const char *title_tag, *og_title, *tw_title, *ld_headline, *h1;
    const char *canonical, *og_url, *base;
    const char *lang, *content_lang, *og_locale;
    const char *author, *ld_author;
    const char *description, *site_name, *image;
    const char *published, *modified, *ld_published, *ld_modified, *time_dt, *meta_date;
};

static void read_ld_object(json_t *o, struct meta *m, struct arena *a, int depth);

static const char *ld_str(json_t *v, struct arena *a)
{
    if (json_is_string(v)) return arena_strdup(a, json_string_value(v));
    if (json_is_array(v) && json_array_size(v) > 0) return ld_str(json_array_get(v, 0), a);
    if (json_is_object(v)) return ld_str(json_object_get(v, "name"), a);
    return NULL;
}

static void read_ld_value(json_t *v, struct meta *m, struct arena *a, int depth)
{
    if (depth > 8) return;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) read_ld_object(e, m, a, depth + 1);
    } else if (json_is_object(v)) {
        read_ld_object(v, m, a, depth + 1);
    }
}

/* JSON-LD: the first object carrying datePublished / headline wins each field. */
static void read_ld_object(json_t *o, struct meta *m, struct arena *a, int depth)
{
    if (!json_is_object(o) || depth > 8) return;
    if (!m->ld_published) m->ld_published = ld_str(json_object_get(o, "datePublished"), a);
    if (!m->ld_modified) m->ld_modified = ld_str(json_object_get(o, "dateModified"), a);
    if (!m->ld_headline) m->ld_headline = ld_str(json_object_get(o, "headline"), a);
    if (!m->ld_author) m->ld_author = ld_str(json_object_get(o, "author"), a);
    read_ld_value(json_object_get(o, "@graph"), m, a, depth);
    read_ld_value(json_object_get(o, "mainEntity"), m, a, depth);
}

static void read_ld_json(const xmlNode *script, struct meta *m, struct arena *a)
{
    xmlChar *txt = xmlNodeGetContent(script);
    if (!txt) return;
    json_t *root = json_loads((const char *)txt, JSON_DECODE_ANY, NULL);
    xmlFree(txt);
    if (!root) return;
    read_ld_value(root, m, a, 0);
    json_decref(root);
}

static void set_once(const char **slot, const char *v, struct arena *a)
{
    if (!*slot && v && *v) *slot = arena_strdup(a, v);
}

static void read_meta_tag(const xmlNode *n, struct meta *m, struct arena *a)
{
    const char *key = attr(n, "property");
    if (!key) key = attr(n, "name");
    if (!key) key = attr(n, "itemprop");
    const char *content = attr(n, "content");
    const char *http_equiv = attr(n, "http-equiv");
    if (http_equiv && strcasecmp(http_equiv, "content-language") == 0)
        set_once(&m->content_lang, content, a);
    if (!key || !content) return;
    if (strcasecmp(key, "og:title") == 0)
        set_once(&m->og_title, content, a);
    else if (strcasecmp(key, "twitter:title") == 0)
        set_once(&m->tw_title, content, a);
    else if (strcasecmp(key, "og:url") == 0)
        set_once(&m->og_url, content, a);
    else if (strcasecmp(key, "og:locale") == 0)
        set_once(&m->og_locale, content, a);
    else if (strcasecmp(key, "og:site_name") == 0)
        set_once(&m->site_name, content, a);
    else if (strcasecmp(key, "og:image") == 0)
        set_once(&m->image, content, a);
    else if (strcasecmp(key, "og:description") == 0 || strcasecmp(key, "description") == 0)
        set_once(&m->description, content, a);
    else if (strcasecmp(key, "author") == 0 || strcasecmp(key, "article:author") == 0 ||
             strcasecmp(key, "dc.creator") == 0)
        set_once(&m->author, content, a);
    else if (strcasecmp(key, "article:published_time") == 0 ||
             strcasecmp(key, "datePublished") == 0)
        set_once(&m->published, content, a);
    else if (strcasecmp(key, "article:modified_time") == 0 || strcasecmp(key, "dateModified") == 0)
        set_once(&m->modified, content, a);
    else if (strcasecmp(key, "date") == 0 || strcasecmp(key, "pubdate") == 0 ||
             strcasecmp(key, "publishdate") == 0 || strcasecmp(key, "dc.date") == 0 ||
             strcasecmp(key, "dc.date.issued") == 0 || strcasecmp(key, "dcterms.created") == 0 ||
             strcasecmp(key, "sailthru.date") == 0 || strcasecmp(key, "parsely-pub-date") == 0 ||
             strcasecmp(key, "article.published") == 0)
        set_once(&m->meta_date, content, a);
}

static void read_meta(const xmlNode *n, struct meta *m, struct arena *a, int depth)
{
    for (; n && depth < MAX_DEPTH; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || !n->name) continue;
        const char *name = (const char *)n->name;
        if (strcasecmp(name, "html") == 0) {
            set_once(&m->lang, attr(n, "lang"), a);
            set_once(&m->lang, attr(n, "xml:lang"), a);
        } else if (strcasecmp(name, "title") == 0 && !m->title_tag) {
            m->title_tag = html_node_text(n, a);
        } else if (strcasecmp(name, "meta") == 0) {
            read_meta_tag(n, m, a);
        } else if (strcasecmp(name, "link") == 0) {
            const char *rel = attr(n, "rel");
            if (rel && strcasecmp(rel, "canonical") == 0)
                set_once(&m->canonical, attr(n, "href"), a);
        } else if (strcasecmp(name, "base") == 0) {
            set_once(&m->base, attr(n, "href"), a);
        } else if (strcasecmp(name, "script") == 0) {
            const char *type = attr(n, "type");
            if (type && strcasecmp(type, "application/ld+json") == 0) read_ld_json(n, m, a);
            continue;
        } else if (strcasecmp(name, "time") == 0) {
            set_once(&m->time_dt, attr(n, "datetime"), a);
        } else if (strcasecmp(name, "h1") == 0 && !m->h1) {
            m->h1 = html_node_text(n, a);
        }
        read_meta(n->children, m, a, depth + 1);
    }
}

/* "Headline | Site" / "Headline - Site": keep the headline when it is long enough to be
 * one (Readability's rule of thumb: at least four words). */
static const char *clean_title(const char *t, struct arena *a)
{
    static const char *const seps[] = {" | ", " - ", " – ", " — ", " :: ", " « ", " » ", NULL};
    if (!t) return NULL;
    const char *best = NULL;
    for (int i = 0; seps[i]; i++) {
        const char *p = NULL, *q = t;
        while ((q = strstr(q, seps[i])) != NULL) {
            p = q;
            q += strlen(seps[i]);
        }
        if (p && (!best || p < best)) best = p;
    }
    if (!best) return t;
    int words = 1;
    for (const char *c = t; c < best; c++)
        if (*c == ' ') words++;
    return words >= 4 ? arena_strndup(a, t, (size_t)(best - t)) : t;
}

/* Length of "scheme:" at the start of s, or 0 when s has no scheme (RFC 3986 §3.1). */
static size_t scheme_len(const char *s)
{
    if (!isalpha((unsigned char)s[0])) return 0;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i + 1 : 0;
}

/* RFC 3986 §5.2.4 on path[0..n) written to out (room for n + 1 bytes): drop "." and
 * resolve ".." segments. */
static void remove_dots(const char *path, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && path[j] != '/')
            j++;
        size_t seg = j - i; /* includes the leading '/' when there is one */
        const char *sp = path + i + (path[i] == '/');
        size_t sl = seg - (path[i] == '/');
        if (sl == 1 && sp[0] == '.') {
            if (j == n) out[o++] = '/';
        } else if (sl == 2 && sp[0] == '.' && sp[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0) o--;
            if (j == n) out[o++] = '/';
        } else {
            memcpy(out + o, path + i, seg);
            o += seg;
        }
        i = j;
    }
    out[o] = '\0';
}

/* RFC 3986 §5.2 reference resolution without re-encoding anything: the link keeps the
 * exact bytes the publisher wrote. When `base` is not absolute, href is returned as is. */
const char *html_resolve_url(struct arena *a, const char *href, const char *base)
{
    if (!href) return NULL;
    while (*href == ' ' || *href == '\t' || *href == '\n' || *href == '\r')
        href++;
    size_t hl = strlen(href);
    while (hl > 0 && isspace((unsigned char)href[hl - 1]))
        hl--;
    size_t bs = base ? scheme_len(base) : 0;
    if (scheme_len(href) || bs == 0) return arena_strndup(a, href, hl);
    size_t bl = strlen(base);
    size_t bfrag = strcspn(base, "#");
    if (hl == 0) return arena_strndup(a, base, bfrag);
    /* base = scheme ":" ["//" authority] path ["?" query] */
    size_t auth_end = bs;
    if (base[bs] == '/' && base[bs + 1] == '/') auth_end = bs + 2 + strcspn(base + bs + 2, "/?#");
    size_t path_end = auth_end + strcspn(base + auth_end, "?#");
    char *out = arena_alloc(a, bl + hl + 3);
    if (!out) return NULL;
    if (href[0] == '/' && href[1] == '/') {
        memcpy(out, base, bs);
        memcpy(out + bs, href, hl);
        out[bs + hl] = '\0';
        return out;
    }
    if (href[0] == '#' || href[0] == '?') {
        size_t keep = href[0] == '#' ? bfrag : path_end;
        memcpy(out, base, keep);
        memcpy(out + keep, href, hl);
        out[keep + hl] = '\0';
        return out;
    }
    size_t hpath = strcspn(href, "?#");
    if (hpath > hl) hpath = hl;
    char *merged = malloc(bl + hl + 2);
    if (!merged) return NULL;
    size_t m = 0;
    if (href[0] != '/') {
        size_t dir = path_end;
        while (dir > auth_end && base[dir - 1] != '/')
            dir--;
        if (dir == auth_end)
            merged[m++] = '/';
        else {
            memcpy(merged, base + auth_end, dir - auth_end);
            m = dir - auth_end;
        }
    }
    memcpy(merged + m, href, hpath);
    m += hpath;
    memcpy(out, base, auth_end);
    remove_dots(merged, m, out + auth_end);
    free(merged);
    size_t ol = strlen(out);
    memcpy(out + ol, href + hpath, hl - hpath);
    out[ol + hl - hpath] = '\0';
    return out;
}

static const char *abs_url(const char *href, const char *base, struct arena *a)
{
    return href && *href ? html_resolve_url(a, href, base) : NULL;
}

static int64_t first_date(const char *const *cands, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t t = cands[i] ? date_parse(cands[i]) : -1;
        if (t >= 0) return t;
    }
    return -1;
}

/* ---- main content scoring ------------------------------------------------------------ */

struct score {
    const xmlNode *node;
    double score;
};

struct scorer {
    struct score *s;
    size_t n, cap;
    int oom;
};

static int contains_any(const char *hay, const char *const *needles)
{
    for (; *needles; needles++)
        if (strcasestr(hay, *needles)) return 1;
    return 0;
}

static const char *const negative_hints[] = {
    "comment", "share",   "sharing", "social",         "related",    "footer",     "sidebar",
    "promo",   "sponsor", "advert",  "banner",         "breadcrumb", "newsletter", "subscribe",
    "popup",   "cookie",  "widget",  "masthead",       "outbrain",   "taboola",    "disqus",
    "nav",     "menu",    "byline",  "caption-credit", "tags",       "toolbar",    "pagination",
    "pager",   "signup",  "modal",   "hidden",         NULL};
static const char *const positive_hints[] = {
    "article", "content", "story",           "body", "main", "entry", "post", "text",
    "blog",    "hentry",  "instapaper_body", NULL};

/* Readability's class/id weight: +25 for article-like names, -25 for chrome. */
static int class_weight(const xmlNode *n)
{
    int w = 0;
    const char *vals[2] = {attr(n, "class"), attr(n, "id")};
    for (int i = 0; i < 2; i++) {
        if (!vals[i]) continue;
        if (contains_any(vals[i], negative_hints)) w -= 25;
        if (contains_any(vals[i], positive_hints)) w += 25;
    }
    return w;
}

/* Chrome inside content: strongly negative names without a positive one. */
static int is_chrome(const xmlNode *n)
{
    const char *vals[2] = {attr(n, "class"), attr(n, "id")};
    for (int i = 0; i < 2; i++) {
        if (!vals[i]) continue;
        if (contains_any(vals[i], negative_hints) && !contains_any(vals[i], positive_hints))
            return 1;
    }
    const char *role = attr(n, "role");
    if (role && (strcasecmp(role, "navigation") == 0 || strcasecmp(role, "complementary") == 0 ||
                 strcasecmp(role, "banner") == 0 || strcasecmp(role, "contentinfo") == 0))
        return 1;
    return 0;
}

static struct score *score_of(struct scorer *sc, const xmlNode *n)
{
    xmlNode *mut = (xmlNode *)(uintptr_t)n;
    uintptr_t idx = (uintptr_t)mut->_private;
    if (idx > 0 && idx <= sc->n && sc->s[idx - 1].node == n) return &sc->s[idx - 1];
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        struct score *ns = realloc(sc->s, cap * sizeof *ns);
        if (!ns) {
            sc->oom = 1;
            return NULL;
        }
        sc->s = ns;
        sc->cap = cap;
    }
    double base = class_weight(n);
    const char *nm = (const char *)n->name;
    if (strcasecmp(nm, "div") == 0 || strcasecmp(nm, "article") == 0)
        base += 5;
    else if (strcasecmp(nm, "pre") == 0 || strcasecmp(nm, "td") == 0 ||
             strcasecmp(nm, "blockquote") == 0)
        base += 3;
    else if (strcasecmp(nm, "ol") == 0 || strcasecmp(nm, "ul") == 0 || strcasecmp(nm, "li") == 0 ||
             strcasecmp(nm, "form") == 0 || strcasecmp(nm, "dl") == 0)
        base -= 3;
    else if (nm[0] == 'h' && nm[1] >= '1' && nm[1] <= '6' && !nm[2])
        base -= 5;
    sc->s[sc->n] = (struct score){n, base};
    mut->_private = (void *)(uintptr_t)(++sc->n);
    return &sc->s[sc->n - 1];
}

/* Visible text length and the part of it inside links, in bytes. */
static void text_len(const xmlNode *n, int in_link, size_t *all, size_t *linked, int depth)
{
    for (; n && depth < MAX_DEPTH; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            size_t k = 0;
            for (const xmlChar *c = n->content; *c; c++)
                if (!isspace(*c)) k++;
            *all += k;
            if (in_link) *linked += k;
        } else if (n->type == XML_ELEMENT_NODE && n->name && !(el_flags(n) & EL_SKIP)) {
            int link = in_link || strcasecmp((const char *)n->name, "a") == 0;
            text_len(n->children, link, all, linked, depth + 1);
        }
    }
}

static double link_density(const xmlNode *n)
{
    size_t all = 0, linked = 0;
    text_len(n->children, 0, &all, &linked, 0);
    return all ? (double)linked / (double)all : 1.0;
}

static int name_in_set(const xmlChar *name, const char *const *set)
{
    for (; *set; set++)
        if (strcasecmp((const char *)name, *set) == 0) return 1;
    return 0;
}

static int has_block_child(const xmlNode *n)
{
    static const char *const blocks[] = {"p",       "div",     "table",      "ul",  "ol",
                                         "section", "article", "blockquote", "pre", "h1",
                                         "h2",      "h3",      NULL};
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->name && name_in_set(c->name, blocks)) return 1;
    return 0;
}

static int skip_in_page(const xmlNode *n)
{
    return (el_flags(n) & (EL_SKIP | EL_PAGE)) || is_hidden(n) || is_chrome(n);
}

/* Paragraph-like nodes vote for five levels of ancestors (full, half, then 1/(3·level)). */
static void score_paragraphs(struct scorer *sc, const xmlNode *n, int depth)
{
    for (; n && depth < MAX_DEPTH && !sc->oom; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || !n->name) continue;
        if (skip_in_page(n)) continue;
        const char *nm = (const char *)n->name;
        int para = strcasecmp(nm, "p") == 0 || strcasecmp(nm, "pre") == 0 ||
                   strcasecmp(nm, "td") == 0 || (strcasecmp(nm, "div") == 0 && !has_block_child(n));
        if (!para) {
            score_paragraphs(sc, n->children, depth + 1);
            continue;
        }
        size_t all = 0, linked = 0;
        text_len(n->children, 0, &all, &linked, 0);
        if (all < 25) continue;
        double s = 1.0;
        xmlChar *txt = xmlNodeGetContent(n);
        if (txt) {
            for (const xmlChar *c = txt; *c; c++)
                if (*c == ',' || (c[0] == 0xEF && c[1] == 0xBC && c[2] == 0x8C) ||
                    (c[0] == 0xD8 && c[1] == 0x8C) ||
                    (c[0] == 0xE3 && c[1] == 0x80 && c[2] == 0x81))
                    s += 1;
            xmlFree(txt);
        }
        s += (double)all / 100.0 < 3 ? (double)all / 100.0 : 3;
        const xmlNode *anc = n->parent;
        for (int lvl = 0; anc && anc->type == XML_ELEMENT_NODE && lvl < 5; lvl++) {
            struct score *e = score_of(sc, anc);
            if (!e) return;
            e->score += s / (lvl == 0 ? 1 : lvl == 1 ? 2 : lvl * 3);
            anc = anc->parent;
        }
    }
}

static void clear_private(xmlNode *n, int depth)
{
    for (; n && depth < MAX_DEPTH; n = n->next) {
        n->_private = NULL;
        if (n->type == XML_ELEMENT_NODE) clear_private(n->children, depth + 1);
    }
}

static double score_or_zero(const struct scorer *sc, const xmlNode *n)
{
    uintptr_t idx = (uintptr_t)n->_private;
    return idx > 0 && idx <= sc->n && sc->s[idx - 1].node == n ? sc->s[idx - 1].score : 0;
}

static int is_ancestor(const xmlNode *anc, const xmlNode *n)
{
    for (; n; n = n->parent)
        if (n == anc) return 1;
    return 0;
}

/* Articles split into several blocks (one per paragraph group, ads between them) give
 * several near-equal candidates: when three of them share an ancestor, that ancestor is
 * the article (Readability's rule). Otherwise climb while the score rises (the body was
 * split into sibling blocks), but never into a link-heavy wrapper. */
static const xmlNode *widen(const struct scorer *sc, const xmlNode *top, double top_score)
{
    /* the four best other candidates (Readability keeps five in all), unrelated to top */
    const xmlNode *alts[4];
    double as[4];
    size_t na = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const xmlNode *n = sc->s[i].node;
        double v = sc->s[i].score;
        if (n == top || v < top_score * 0.75 || is_ancestor(n, top) || is_ancestor(top, n))
            continue;
        size_t k = na < 4 ? na++ : 4;
        while (k > 0 && as[k - 1] < v) {
            if (k < 4) {
                alts[k] = alts[k - 1];
                as[k] = as[k - 1];
            }
            k--;
        }
        if (k < 4) {
            alts[k] = n;
            as[k] = v;
        }
    }
    if (na >= 3) {
        for (const xmlNode *anc = top->parent; anc && anc->type == XML_ELEMENT_NODE;
             anc = anc->parent) {
            if (strcasecmp((const char *)anc->name, "body") == 0) break;
            size_t inside = 0;
            for (size_t i = 0; i < na; i++)
                inside += is_ancestor(anc, alts[i]);
            if (inside >= 3) return anc;
        }
    }
    double last = top_score;
    int steps = 0;
    for (const xmlNode *p = top->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (strcasecmp((const char *)p->name, "body") == 0) break;
        double ps = score_or_zero(sc, p);
        if (++steps > 5) break;
        if (ps == 0) continue;
        if (ps < last / 3) break;
        if (ps > last) return link_density(p) < 0.35 ? p : top; /* not a menu wrapper */
        last = ps;
    }
    return top;
}

static const xmlNode *top_candidate(struct scorer *sc, double *best_score)
{
    const xmlNode *best = NULL;
    double bs = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const xmlNode *n = sc->s[i].node;
        double s = sc->s[i].score * (1.0 - link_density(n));
        sc->s[i].score = s;
        if (!best || s > bs) {
            best = n;
            bs = s;
        }
    }
    if (!best) return NULL;
    const xmlNode *w = widen(sc, best, bs);
    if (w != best) bs = score_or_zero(sc, w) > bs ? score_or_zero(sc, w) : bs;
    *best_score = bs;
    return w;
}

static void emit_node(struct tbuf *b, const xmlNode *n)
{
    struct walk w = {b, 1, is_chrome};
    tb_break(b, 2);
    const xmlNode *next = n->next;
    xmlNode *mut = (xmlNode *)(uintptr_t)n;
    mut->next = NULL; /* walk this one node, not its following siblings */
    walk_text(&w, n, 0);
    mut->next = (xmlNode *)(uintptr_t)next;
}

/* The top block plus siblings that score close to it or read like article paragraphs. */
static void emit_article(struct scorer *sc, const xmlNode *top, double top_score, struct tbuf *b)
{
    const xmlNode *parent = top->parent;
    if (!parent || parent->type != XML_ELEMENT_NODE) {
        emit_node(b, top);
        return;
    }
    double threshold = top_score * 0.2 > 10 ? top_score * 0.2 : 10;
    for (const xmlNode *s = parent->children; s; s = s->next) {
        if (s->type != XML_ELEMENT_NODE || !s->name) continue;
        if (s == top) {
            emit_node(b, s);
            continue;
        }
        if (skip_in_page(s)) continue;
        int keep = score_or_zero(sc, s) >= threshold;
        if (!keep && strcasecmp((const char *)s->name, "p") == 0) {
            size_t all = 0, linked = 0;
            text_len(s->children, 0, &all, &linked, 0);
            double ld = all ? (double)linked / (double)all : 1;
            keep = (all > 80 && ld < 0.25) || (all > 20 && ld == 0);
        }
        if (keep) emit_node(b, s);
    }
}

static const xmlNode *find_body(const xmlNode *n, int depth)
{
    for (; n && depth < 8; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (strcasecmp((const char *)n->name, "body") == 0) return n;
        const xmlNode *r = find_body(n->children, depth + 1);
        if (r) return r;
    }
    return NULL;
}

static char *main_text(xmlDoc *doc, struct arena *a)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) return arena_strdup(a, "");
    const xmlNode *body = find_body(root, 0);
    if (!body) body = root;
    struct scorer sc = {0};
    clear_private(root, 0);
    score_paragraphs(&sc, body->children, 0);
    struct tbuf b = {0};
    double ts = 0;
    const xmlNode *top = sc.oom ? NULL : top_candidate(&sc, &ts);
    if (top) emit_article(&sc, top, ts, &b);
    if (b.len < 250) {
        /* no clear article block: fall back to all visible body text */
        b.len = 0;
        b.nl = b.space = 0;
        struct walk w = {&b, 1, NULL};
        walk_text(&w, body->children, 0);
    }
    clear_private(root, 0);
    free(sc.s);
    return tb_finish(&b, a);
}

/* og:locale "en_US" → "en-US"; language tags keep their case as written otherwise. */
static const char *norm_lang(const char *l, struct arena *a)
{
    if (!l || !*l) return NULL;
    char *c = arena_strdup(a, l);
    if (!c) return NULL;
    for (char *p = c; *p; p++)
        if (*p == '_') *p = '-';
    char *sp = strpbrk(c, " ,;");
    if (sp) *sp = '\0';
    return *c ? c : NULL;
}

int html_page_extract(xmlDoc *doc, const char *url, struct arena *a, struct html_page *out)
{
    struct meta m = {0};
    memset(out, 0, sizeof *out);
    read_meta(xmlDocGetRootElement(doc), &m, a, 0);
    const char *base = url;
    if (m.base) base = abs_url(m.base, url, a);

    const char *title = m.og_title ? m.og_title : m.tw_title ? m.tw_title : m.ld_headline;
    if (title)
        title = html_collapse_ws(title, strlen(title), a);
    else if (m.title_tag && *m.title_tag)
        title = clean_title(m.title_tag, a);
    else
        title = m.h1;
    out->title = title && *title ? title : NULL;

    out->link = abs_url(m.canonical ? m.canonical : m.og_url, base, a);
    out->author = m.author ? m.author : m.ld_author;
    out->lang = norm_lang(m.lang ? m.lang : m.content_lang ? m.content_lang : m.og_locale, a);
    out->description =
        m.description ? html_collapse_ws(m.description, strlen(m.description), a) : NULL;
    out->site_name = m.site_name;
    out->image = abs_url(m.image, base, a);
    const char *pub[] = {m.published, m.ld_published, m.meta_date, m.time_dt};
    out->published = first_date(pub, 4);
    const char *mod[] = {m.modified, m.ld_modified};
    out->modified = first_date(mod, 2);
    out->text = main_text(doc, a);
    return out->text ? 0 : -1;
}
