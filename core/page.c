/*
 * page — telling an article page from a section page, and finding a section page's
 * article links. Input: the bytes of a fetched page (scheduler, kind = "page"). Output:
 * the list of URLs the scheduler fetches and extracts one by one.
 *
 * An article announces itself (og:type "article", a JSON-LD *Article, an <article> with a
 * long body); a section page is mostly links. Article links are told from navigation by
 * where they sit (not in nav/header/footer/aside), where they point (the same site, a path
 * that reads like a story: a long slug, an id or a date) and what they say (a headline of
 * several words).
 */
#include "page.h"

#include "html.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/uri.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    MIN_ARTICLE_CHARS = 1500,
    MIN_HEADLINE_WORDS = 3,
    LONG_HEADLINE_WORDS = 6,
    MAX_WALK = 200000
};

static int name_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && strcasecmp((const char *)n->name, name) == 0;
}

static const char *attr(const xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a; a = a->next)
        if (a->name && strcasecmp((const char *)a->name, name) == 0 && a->children &&
            a->children->content)
            return (const char *)a->children->content;
    return NULL;
}

/* Page chrome whose links are navigation, not stories. */
static int is_chrome(const xmlNode *n)
{
    static const char *const tags[] = {"nav",    "header", "footer",   "aside",    "form",
                                       "script", "style",  "noscript", "template", NULL};
    for (const char *const *t = tags; *t; t++)
        if (name_is(n, *t)) return 1;
    const char *role = attr(n, "role");
    return role && (strcasecmp(role, "navigation") == 0 || strcasecmp(role, "banner") == 0 ||
                    strcasecmp(role, "contentinfo") == 0);
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return 1;
    return 0;
}

/* og:type article, or JSON-LD naming an Article type. */
static int declares_article(const xmlNode *n)
{
    if (name_is(n, "meta")) {
        const char *prop = attr(n, "property");
        const char *content = attr(n, "content");
        if (prop && content && strcasecmp(prop, "og:type") == 0 &&
            strcasecmp(content, "article") == 0)
            return 1;
    }
    if (name_is(n, "script")) {
        const char *type = attr(n, "type");
        if (type && strcasecmp(type, "application/ld+json") == 0 && n->children &&
            n->children->content) {
            const char *js = (const char *)n->children->content;
            if (contains_ci(js, "\"NewsArticle\"") || contains_ci(js, "\"Article\"") ||
                contains_ci(js, "\"ReportageNewsArticle\"") || contains_ci(js, "\"BlogPosting\""))
                return 1;
        }
    }
    return 0;
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    int in = 0;
    for (; *s; s++) {
        int w = !isspace((unsigned char)*s);
        if (w && !in) n++;
        in = w;
    }
    return n;
}

/* The host part of an absolute http(s) URL, lower-cased, without a leading "www.". */
static int host_of(const char *url, char *out, size_t n)
{
    xmlURI *u = xmlParseURI(url);
    if (!u) return -1;
    int ok = u->scheme && u->server &&
             (strcasecmp(u->scheme, "http") == 0 || strcasecmp(u->scheme, "https") == 0);
    if (ok) {
        const char *h = u->server;
        if (strncasecmp(h, "www.", 4) == 0) h += 4;
        size_t i = 0;
        for (; h[i] && i + 1 < n; i++)
            out[i] = (char)tolower((unsigned char)h[i]);
        out[i] = '\0';
    }
    xmlFreeURI(u);
    return ok ? 0 : -1;
}

/* Links to files (images, documents, feeds) are never stories. */
static int is_media(const char *path)
{
    static const char *const media[] = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".pdf", ".mp3",
                                        ".mp4", ".zip",  ".css", ".js",  ".xml",  ".rss", NULL};
    size_t plen = strlen(path);
    for (const char *const *m = media; *m; m++) {
        size_t ml = strlen(*m);
        if (plen >= ml && strcasecmp(path + plen - ml, *m) == 0) return 1;
    }
    return 0;
}

/* Does the path read like a story: a long slug, a numeric id or a date? -1 for media. */
static int story_path(const char *url)
{
    xmlURI *u = xmlParseURI(url);
    if (!u) return -1;
    const char *path = u->path ? u->path : "";
    if (is_media(path)) {
        xmlFreeURI(u);
        return -1;
    }
    int story = 0, segments = 0;
    const char *seg = path;
    while (*seg) {
        while (*seg == '/')
            seg++;
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0) break;
        segments++;
        size_t hyphens = 0, digits = 0;
        for (size_t i = 0; i < len; i++) {
            hyphens += seg[i] == '-' || seg[i] == '_';
            digits += isdigit((unsigned char)seg[i]) != 0;
        }
        if (hyphens >= 3 || len >= 30 || digits >= 5) story = 1;
        seg += len;
    }
    /* /2020/01/06/… style dates count as one signal; a bare /world or /sport never does. */
    if (!story && segments >= 3 && strstr(path, "/20") != NULL) story = 1;
    xmlFreeURI(u);
    return story;
}

struct walk {
    const char *base;
    char host[256];
    struct arena *a;
    size_t max;
    const char **links;
    size_t n, cap;
    int declared;
    size_t article_chars; /* text inside <article> elements */
    size_t articles;      /* <article> elements */
    size_t visited;
};

static int seen_link(const struct walk *w, const char *url)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->links[i], url) == 0) return 1;
    return 0;
}

static void consider_link(struct walk *w, const xmlNode *n)
{
    const char *href = attr(n, "href");
    if (!href || !*href || href[0] == '#' || strncasecmp(href, "javascript:", 11) == 0 ||
        strncasecmp(href, "mailto:", 7) == 0)
        return;
    const char *abs = html_resolve_url(w->a, href, w->base);
    if (!abs) return;
    char host[256];
    if (host_of(abs, host, sizeof host) != 0 || strcmp(host, w->host) != 0) return;
    if (strcmp(abs, w->base) == 0) return;
    char *text = html_node_text(n, w->a);
    size_t words = text ? count_words(text) : 0;
    /* A story-like path with a headline, or a plain path with a long headline. */
    int story = story_path(abs);
    if (story < 0 || words < MIN_HEADLINE_WORDS || (!story && words < LONG_HEADLINE_WORDS)) return;
    /* The fragment never names another story. */
    char *hash = strchr(abs, '#');
    if (hash) abs = arena_strndup(w->a, abs, (size_t)(hash - abs));
    if (!abs || seen_link(w, abs) || w->n >= w->max) return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        const char **nl = arena_alloc(w->a, cap * sizeof *nl);
        if (!nl) return;
        if (w->n) memcpy(nl, w->links, w->n * sizeof *nl);
        w->links = nl;
        w->cap = cap;
    }
    w->links[w->n++] = abs;
}

static void walk(struct walk *w, const xmlNode *n, int depth)
{
    for (; n && w->visited < MAX_WALK; n = n->next) {
        w->visited++;
        if (n->type != XML_ELEMENT_NODE) continue;
        if (declares_article(n)) w->declared = 1;
        if (is_chrome(n)) continue;
        if (name_is(n, "article")) {
            char *t = html_node_text(n, w->a);
            if (t) w->article_chars += strlen(t);
            w->articles++;
        }
        if (name_is(n, "a")) {
            consider_link(w, n);
            continue;
        }
        if (depth < 256) walk(w, n->children, depth + 1);
    }
}

int page_scan(const char *data, size_t len, const char *url, size_t max_links, struct arena *a,
              struct page_scan *out)
{
    memset(out, 0, sizeof *out);
    xmlDoc *doc = html_parse_doc(data, len, url, NULL);
    if (!doc) return -1;
    struct walk w = {.base = url, .a = a, .max = max_links ? max_links : 50};
    if (host_of(url, w.host, sizeof w.host) != 0) w.host[0] = '\0';
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root) walk(&w, root, 0);
    /* One or two <article> elements with a long body make an article page (its related
     * stories notwithstanding); a front page's many <article> teasers do not. */
    int one_body = w.articles > 0 && w.articles <= 2 && w.article_chars >= MIN_ARTICLE_CHARS;
    out->is_article = w.declared || one_body || w.n < 3;
    if (!out->is_article) {
        out->links = w.links;
        out->n_links = w.n;
    }
    xmlFreeDoc(doc);
    return 0;
}
