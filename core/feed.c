/*
 * feed — turns fetched bytes into struct feed. Input: a document body from fetch or a
 * file (with its URL and Content-Type). It sniffs what the bytes are (XML feed, JSON
 * Feed, HTML page, or something else), settles the character encoding (declaration or
 * BOM, else UTF-8 when valid, else the HTTP charset, else windows-1252), parses with
 * libxml2 (network and entity expansion off: no XXE), strictly first and in recovery
 * mode second (then bozo is set), and hands the tree to feed_xml.c / feed_json.c /
 * feed_page.c. Output: struct feed for the pipeline, and feed_to_json / feed_to_text for
 * `herald parse`. Shared item helpers (ids, categories, links) live here too.
 */
#include "feed.h"

#include "date.h"
#include "feed_priv.h"
#include "html.h"

#include <ctype.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_BYTES (16u << 20)
#define DEFAULT_MAX_ITEMS 10000
#define DEFAULT_MAX_DEPTH 256

/* ---- shared helpers ------------------------------------------------------------------ */

int feedx_oom(struct feedx_ctx *c)
{
    snprintf(c->err, c->errlen, "out of memory");
    return -1;
}

struct item *feedx_item_add(struct feedx_ctx *c)
{
    struct feed *f = c->f;
    if (f->n_items == c->items_cap) {
        size_t cap = c->items_cap ? c->items_cap * 2 : 16;
        struct item *ni = arena_alloc(&f->arena, cap * sizeof *ni);
        if (!ni) {
            feedx_oom(c);
            return NULL;
        }
        if (f->n_items) memcpy(ni, f->items, f->n_items * sizeof *ni);
        f->items = ni;
        c->items_cap = cap;
    }
    struct item *it = &f->items[f->n_items++];
    memset(it, 0, sizeof *it);
    it->published = it->updated = -1;
    return it;
}

static void *grow(struct arena *a, void *arr, size_t n, size_t elem)
{
    /* Capacities are powers of two: grow when n reaches one. */
    if (n != 0 && (n & (n - 1)) != 0) return arr;
    size_t cap = n ? n * 2 : 4;
    void *na = arena_alloc(a, cap * elem);
    if (na && n) memcpy(na, arr, n * elem);
    return na;
}

int feedx_add_category(struct arena *a, struct item *it, const char *cat)
{
    if (!cat || !*cat) return 0;
    for (size_t i = 0; i < it->n_categories; i++)
        if (strcmp(it->categories[i], cat) == 0) return 0;
    const char **nc = grow(a, it->categories, it->n_categories, sizeof *nc);
    const char *copy = arena_strdup(a, cat);
    if (!nc || !copy) return -1;
    it->categories = nc;
    it->categories[it->n_categories++] = copy;
    return 0;
}

int feedx_add_enclosure(struct arena *a, struct item *it, const char *url, const char *type,
                        int64_t length)
{
    if (!url || !*url) return 0;
    for (size_t i = 0; i < it->n_enclosures; i++)
        if (strcmp(it->enclosures[i].url, url) == 0) return 0;
    struct enclosure *ne = grow(a, it->enclosures, it->n_enclosures, sizeof *ne);
    if (!ne) return -1;
    it->enclosures = ne;
    ne[it->n_enclosures++] =
        (struct enclosure){arena_strdup(a, url), type && *type ? arena_strdup(a, type) : NULL,
                           length >= 0 ? length : -1};
    return 0;
}

const char *feedx_resolve(struct arena *a, const char *href, const char *base)
{
    return html_resolve_url(a, href, base);
}

const char *feedx_text(struct arena *a, const char *s)
{
    if (!s) return NULL;
    return html_to_text(s, strlen(s), a);
}

static const char hexdig[] = "0123456789abcdef";

/* "sha256:<hex>" of the given parts joined by newlines. */
static const char *hash_id(struct arena *a, const char *const *parts, size_t n)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        ok = EVP_DigestUpdate(md, p, strlen(p)) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(md, dig, &dlen) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) return NULL;
    char *out = arena_alloc(a, 7 + 2 * dlen + 1);
    if (!out) return NULL;
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < dlen; i++) {
        out[7 + 2 * i] = hexdig[dig[i] >> 4];
        out[8 + 2 * i] = hexdig[dig[i] & 15];
    }
    out[7 + 2 * dlen] = '\0';
    return out;
}

/* A title for an untitled item: the first line of its text, cut at a word near 80 bytes. */
static const char *derive_title(struct arena *a, const char *text)
{
    if (!text || !*text) return NULL;
    size_t n = strcspn(text, "\n");
    if (n <= 90) return arena_strndup(a, text, n);
    size_t cut = 80;
    while (cut > 40 && text[cut] != ' ')
        cut--;
    if (text[cut] != ' ') {
        cut = 80;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--;
    }
    char *t = arena_alloc(a, cut + 4);
    if (!t) return NULL;
    memcpy(t, text, cut);
    memcpy(t + cut, "\xE2\x80\xA6", 4); /* "…" and the NUL */
    return t;
}

int feedx_item_finish(struct feedx_ctx *c, struct item *it, const char *date_raw)
{
    struct arena *a = &c->f->arena;
    if (it->summary && !*it->summary) it->summary = NULL;
    if (it->content && !*it->content) it->content = NULL;
    if (it->title && !*it->title) it->title = NULL;
    if (!it->title) it->title = derive_title(a, it->summary ? it->summary : it->content);
    if (!it->lang) it->lang = c->f->language;
    if (it->id && *it->id) return 0;
    if (it->link && *it->link) {
        it->id = it->link;
        return 0;
    }
    const char *parts[3] = {it->title, date_raw, item_text(it)};
    it->id = hash_id(a, parts, 3);
    return it->id ? 0 : feedx_oom(c);
}

/* ---- sniffing and encodings ---------------------------------------------------------- */

static int is_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            /* eight ASCII bytes at a time: most of a feed is ASCII markup */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3;
        else
            return 0;
        if (k >= n - i) return 0; /* truncated sequence */
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[i + 1] < 0xA0) return 0;
        if (c == 0xED && s[i + 1] > 0x9F) return 0;
        if (c == 0xF0 && s[i + 1] < 0x90) return 0;
        if (c == 0xF4 && s[i + 1] > 0x8F) return 0;
        i += k + 1;
    }
    return 1;
}

/* The charset a label stands for in practice: gb2312/GBK are read as their superset
 * GB18030, and latin-1 as windows-1252 (what browsers do; C1 bytes become “smart
 * quotes” instead of control characters). NULL for labels that need no override. */
static const char *charset_alias(const char *label)
{
    static const char *const gb[] = {"gb2312",     "gbk",    "x-gbk", "cp936",
                                     "gb_2312-80", "euc-cn", NULL};
    static const char *const latin1[] = {"iso-8859-1", "iso8859-1",  "latin1",
                                         "latin-1",    "us-ascii",   "ascii",
                                         "l1",         "iso_8859-1", NULL};
    for (int i = 0; gb[i]; i++)
        if (strcasecmp(label, gb[i]) == 0) return "GB18030";
    for (int i = 0; latin1[i]; i++)
        if (strcasecmp(label, latin1[i]) == 0) return "windows-1252";
    return NULL;
}

/* Copy the value of `key=` (quoted or not) found in s[0..n) into out. */
static int find_param(const char *s, size_t n, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if (strncasecmp(s + i, key, kl) != 0) continue;
        size_t j = i + kl;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j >= n || s[j] != '=') continue;
        j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        char q = j < n && (s[j] == '"' || s[j] == '\'') ? s[j++] : 0;
        size_t k = 0;
        while (j < n && k + 1 < outlen && s[j] != q &&
               (q || (!isspace((unsigned char)s[j]) && s[j] != ';' && s[j] != '>' && s[j] != '/' &&
                      s[j] != '?')))
            out[k++] = s[j++];
        out[k] = '\0';
        return k > 0 ? 0 : -1;
    }
    return -1;
}

/* The encoding named in an XML declaration at the start of s, if any. */
static int xml_decl_encoding(const char *s, size_t n, char *out, size_t outlen)
{
    if (n < 6 || strncmp(s, "<?xml", 5) != 0 || !isspace((unsigned char)s[5])) return -1;
    const char *end = memchr(s, '>', n < 512 ? n : 512);
    if (!end) return -1;
    return find_param(s, (size_t)(end - s), "encoding", out, outlen);
}

/* What non-feed bytes look like, for the error message. */
static const char *describe(const unsigned char *s, size_t n)
{
    if (n >= 2 && s[0] == 0x1F && s[1] == 0x8B) return "gzip-compressed data";
    if (n >= 4 && memcmp(s, "\x89PNG", 4) == 0) return "a PNG image";
    if (n >= 4 && memcmp(s, "GIF8", 4) == 0) return "a GIF image";
    if (n >= 3 && memcmp(s, "\xFF\xD8\xFF", 3) == 0) return "a JPEG image";
    if (n >= 4 && memcmp(s, "%PDF", 4) == 0) return "a PDF document";
    if (n >= 4 && memcmp(s, "PK\x03\x04", 4) == 0) return "a ZIP archive";
    size_t probe = n < 4096 ? n : 4096;
    for (size_t i = 0; i < probe; i++)
        if (s[i] == 0) return "binary data";
    /* Cut at a character boundary so a trailing partial sequence does not count. */
    while (probe < n && probe > 0 && (s[probe] & 0xC0) == 0x80)
        probe--;
    return is_utf8(s, probe) ? "plain text" : "binary data";
}

/* Does the markup look like an HTML page rather than an XML feed? */
static int looks_like_html(const char *s, size_t n)
{
    size_t probe = n < 4096 ? n : 4096;
    for (size_t i = 0; i + 5 < probe; i++) {
        if (s[i] != '<') continue;
        const char *t = s + i + 1;
        if (strncasecmp(t, "!doctype html", 13) == 0 || strncasecmp(t, "html", 4) == 0 ||
            strncasecmp(t, "head>", 5) == 0 || strncasecmp(t, "body", 4) == 0)
            return 1;
        if (strncasecmp(t, "rss", 3) == 0 || strncasecmp(t, "feed", 4) == 0 ||
            strncasecmp(t, "rdf:RDF", 7) == 0)
            return 0;
    }
    return 0;
}

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') *s = ' ';
    for (s--; *s == ' '; s--)
        *s = '\0';
}

/* ---- XML ----------------------------------------------------------------------------- */

struct xml_try {
    xmlDoc *doc;
    char reason[200];
};

static void xml_parse(const char *data, size_t len, const char *enc, int recover, struct xml_try *t)
{
    /* COMPACT keeps short text inside its node (one malloc fewer per node): the tree is
     * only read. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
               XML_PARSE_COMPACT;
    if (recover) opts |= XML_PARSE_RECOVER;
    if (enc) opts |= XML_PARSE_IGNORE_ENC;
    t->doc = NULL;
    t->reason[0] = '\0';
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        snprintf(t->reason, sizeof t->reason, "out of memory");
        return;
    }
    t->doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, enc, opts);
    xmlError *e = &ctxt->lastError;
    if (e->code != XML_ERR_OK) {
        snprintf(t->reason, sizeof t->reason, "line %d: %s", e->line,
                 e->message ? e->message : "not well-formed");
        one_line(t->reason);
        if (!recover && t->doc) {
            xmlFreeDoc(t->doc);
            t->doc = NULL;
        }
    }
    xmlFreeParserCtxt(ctxt);
}

static void set_bozo(struct feed *f, const char *reason)
{
    if (f->bozo) return;
    f->bozo = 1;
    f->bozo_reason = arena_strdup(&f->arena, reason);
}

/* Deepest element nesting of the tree, counted without recursion (hostile input). */
static int tree_depth(const xmlNode *root)
{
    int depth = 0, max = 0;
    const xmlNode *n = root;
    while (n) {
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            if (++depth > max) max = depth;
            continue;
        }
        while (n && !n->next && n != root) {
            n = n->parent;
            depth--;
        }
        if (!n || n == root) break;
        n = n->next;
    }
    return max;
}

static int too_deep(struct feedx_ctx *c, xmlDoc *doc)
{
    int d = tree_depth(xmlDocGetRootElement(doc));
    if (d <= c->lim.max_depth) return 0;
    snprintf(c->err, c->errlen, "document nested deeper than %d levels", c->lim.max_depth);
    return 1;
}

static enum feed_format classify(const xmlNode *root)
{
    const char *name = (const char *)root->name;
    const char *ns = root->ns && root->ns->href ? (const char *)root->ns->href : "";
    if (strcasecmp(name, "rss") == 0) {
        xmlChar *v = xmlGetProp(root, (const xmlChar *)"version");
        enum feed_format f =
            v && strncmp((const char *)v, "0.9", 3) == 0 ? FEED_RSS09X : FEED_RSS20;
        xmlFree(v);
        return f;
    }
    if (strcmp(name, "RDF") == 0) {
        for (const xmlNode *c = root->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || !c->ns || !c->ns->href) continue;
            if (strcmp((const char *)c->ns->href, "http://my.netscape.com/rdf/simple/0.9/") == 0)
                return FEED_RSS09X;
        }
        return FEED_RSS10;
    }
    if (strcmp(name, "feed") == 0) {
        if (strcmp(ns, "http://purl.org/atom/ns#") == 0) return FEED_ATOM03;
        if (strcmp(ns, "http://www.w3.org/2005/Atom") == 0) return FEED_ATOM10;
        xmlChar *v = xmlGetProp(root, (const xmlChar *)"version");
        enum feed_format f = v && strcmp((const char *)v, "0.3") == 0 ? FEED_ATOM03 : FEED_ATOM10;
        xmlFree(v);
        return f;
    }
    if (strcasecmp(name, "html") == 0) return FEED_HTML;
    return FEED_UNKNOWN;
}

static int read_html(struct feedx_ctx *c, const char *data, size_t len, const char *enc);

static int read_xml(struct feedx_ctx *c, const char *data, size_t len, const char *enc)
{
    struct xml_try t;
    xml_parse(data, len, enc, 0, &t);
    if (!t.doc) {
        char strict_reason[200];
        memcpy(strict_reason, t.reason, sizeof strict_reason);
        xml_parse(data, len, enc, 1, &t);
        if (!t.doc || !xmlDocGetRootElement(t.doc)) {
            if (t.doc) xmlFreeDoc(t.doc);
            if (looks_like_html(data, len)) return read_html(c, data, len, enc);
            snprintf(c->err, c->errlen, "not a feed or HTML page: unreadable XML (%s)",
                     strict_reason);
            return -1;
        }
        set_bozo(c->f, strict_reason);
    }
    xmlNode *root = xmlDocGetRootElement(t.doc);
    enum feed_format fmt = classify(root);
    if (fmt == FEED_HTML) {
        xmlFreeDoc(t.doc);
        return read_html(c, data, len, enc);
    }
    if (fmt == FEED_UNKNOWN) {
        snprintf(c->err, c->errlen, "not a feed or HTML page: XML document with root <%.60s>",
                 (const char *)root->name);
        xmlFreeDoc(t.doc);
        return -1;
    }
    if (too_deep(c, t.doc)) {
        xmlFreeDoc(t.doc);
        return -1;
    }
    c->f->format = fmt;
    int rc = feedx_read_xml(c, t.doc);
    xmlFreeDoc(t.doc);
    return rc;
}

/* ---- HTML pages ---------------------------------------------------------------------- */

static int read_html(struct feedx_ctx *c, const char *data, size_t len, const char *enc)
{
    xmlDoc *doc = html_parse_doc(data, len, NULL, enc);
    if (!doc || !xmlDocGetRootElement(doc)) {
        if (doc) xmlFreeDoc(doc);
        snprintf(c->err, c->errlen, "not a feed or HTML page: unreadable HTML");
        return -1;
    }
    if (too_deep(c, doc)) {
        xmlFreeDoc(doc);
        return -1;
    }
    c->f->format = FEED_HTML;
    int rc = feedx_read_page(c, doc);
    xmlFreeDoc(doc);
    return rc;
}

int feedx_read_page(struct feedx_ctx *c, xmlDoc *doc)
{
    struct feed *f = c->f;
    struct html_page pg;
    if (html_page_extract(doc, c->url, &f->arena, &pg) != 0) return feedx_oom(c);
    f->title = pg.site_name ? pg.site_name : pg.title;
    f->link = c->url ? arena_strdup(&f->arena, c->url) : pg.link;
    f->language = pg.lang;
    f->description = pg.description;
    f->image = pg.image;
    f->updated = pg.modified >= 0 ? pg.modified : pg.published;
    struct item *it = feedx_item_add(c);
    if (!it) return -1;
    it->title = pg.title;
    it->link = pg.link ? pg.link : f->link;
    it->published = pg.published;
    it->updated = pg.modified;
    it->author = pg.author;
    it->summary = pg.description;
    it->content = pg.text && *pg.text ? pg.text : NULL;
    it->lang = pg.lang;
    char date_raw[32];
    if (pg.published >= 0) date_format_utc(pg.published, date_raw, sizeof date_raw);
    return feedx_item_finish(c, it, pg.published >= 0 ? date_raw : NULL);
}

/* ---- entry point --------------------------------------------------------------------- */

/* The encoding to force on the parser, or NULL to let it follow the declaration / BOM. */
static const char *pick_encoding(const char *data, size_t len, const char *content_type,
                                 int is_html, char *buf, size_t buflen)
{
    char decl[64];
    int declared = !is_html && xml_decl_encoding(data, len, decl, sizeof decl) == 0;
    int utf8 = is_utf8((const unsigned char *)data, len);
    if (declared) {
        const char *alias = charset_alias(decl);
        if (alias && strcmp(alias, "windows-1252") == 0 && utf8 &&
            (strcasecmp(decl, "us-ascii") == 0 || strcasecmp(decl, "ascii") == 0))
            return "UTF-8";
        if (alias) return alias;
        if (!utf8 && (strcasecmp(decl, "utf-8") == 0 || strcasecmp(decl, "utf8") == 0))
            declared = 0; /* a false declaration: sniff like an undeclared document */
        else
            return NULL;
    }
    if (utf8) return "UTF-8";
    if (content_type &&
        find_param(content_type, strlen(content_type), "charset", buf, buflen) == 0) {
        const char *alias = charset_alias(buf);
        return alias ? alias : buf;
    }
    if (is_html) {
        size_t probe = len < 4096 ? len : 4096;
        if (find_param(data, probe, "charset", buf, buflen) == 0) {
            const char *alias = charset_alias(buf);
            return alias ? alias : buf;
        }
    }
    return "windows-1252";
}

static void defaults(struct feed_limits *l, const struct feed_limits *in)
{
    l->max_bytes = in && in->max_bytes ? in->max_bytes : DEFAULT_MAX_BYTES;
    l->max_items = in && in->max_items ? in->max_items : DEFAULT_MAX_ITEMS;
    l->max_depth = in && in->max_depth ? in->max_depth : DEFAULT_MAX_DEPTH;
    if (l->max_bytes > INT32_MAX) l->max_bytes = INT32_MAX;
}

static int parse_body(struct feedx_ctx *c, const char *data, size_t len, const char *content_type)
{
    const unsigned char *u = (const unsigned char *)data;
    size_t off = 0;
    int utf16 = len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF));
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) off = 3;
    size_t ws = off;
    while (ws < len && isspace(u[ws]))
        ws++;
    if (ws == len) {
        snprintf(c->err, c->errlen, "empty document");
        return -1;
    }
    if (utf16) return read_xml(c, data, len, NULL);
    const char *d = data + ws;
    size_t n = len - ws;
    if (d[0] == '{' || d[0] == '[') return feedx_read_json(c, d, n);
    if (d[0] != '<') {
        snprintf(c->err, c->errlen, "not a feed or HTML page: %s", describe(u + ws, n));
        return -1;
    }
    char encbuf[64];
    if (looks_like_html(d, n)) {
        const char *enc = pick_encoding(d, n, content_type, 1, encbuf, sizeof encbuf);
        return read_html(c, d, n, enc);
    }
    if (ws > off && strncmp(d, "<?xml", 5) == 0)
        set_bozo(c->f, "whitespace before the XML declaration");
    const char *enc = pick_encoding(d, n, content_type, 0, encbuf, sizeof encbuf);
    char declared[64];
    if (enc && strcmp(enc, "UTF-8") != 0 && xml_decl_encoding(d, n, declared, sizeof declared) != 0)
        set_bozo(c->f, "no declared encoding and the bytes are not UTF-8");
    return read_xml(c, d, n, enc);
}

int feed_parse(const char *data, size_t len, const char *url, const char *content_type,
               const struct feed_limits *limits, struct feed **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    struct feedx_ctx c = {0};
    defaults(&c.lim, limits);
    if (!data || len == 0) {
        snprintf(err, errlen, "empty document");
        return -1;
    }
    if (len > c.lim.max_bytes) {
        snprintf(err, errlen, "document too large (%zu bytes, cap %zu)", len, c.lim.max_bytes);
        return -1;
    }
    struct feed *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    arena_init(&f->arena);
    f->updated = -1;
    c.f = f;
    c.url = url && *url ? url : NULL;
    c.err = err;
    c.errlen = errlen;
    if (parse_body(&c, data, len, content_type) != 0) {
        if (!err[0]) snprintf(err, errlen, "unreadable document");
        feed_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

void feed_free(struct feed *f)
{
    if (!f) return;
    arena_free(&f->arena);
    free(f);
}

const char *feed_format_name(enum feed_format f)
{
    switch (f) {
    case FEED_RSS20:
        return "rss2.0";
    case FEED_RSS10:
        return "rss1.0";
    case FEED_RSS09X:
        return "rss0.9x";
    case FEED_ATOM10:
        return "atom1.0";
    case FEED_ATOM03:
        return "atom0.3";
    case FEED_JSONFEED:
        return "jsonfeed1";
    case FEED_HTML:
        return "html";
    case FEED_TEXT:
        return "text";
    case FEED_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *item_text(const struct item *it)
{
    if (it->content && *it->content) return it->content;
    if (it->summary) return it->summary;
    return "";
}

/* ---- output -------------------------------------------------------------------------- */

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jdate_or_null(int64_t t)
{
    char buf[32];
    return t >= 0 ? json_string(date_format_utc(t, buf, sizeof buf)) : json_null();
}

static json_t *item_json(const struct item *it)
{
    json_t *o = json_object();
    json_t *cats = json_array(), *encs = json_array();
    if (!o || !cats || !encs) {
        json_decref(o);
        json_decref(cats);
        json_decref(encs);
        return NULL;
    }
    json_object_set_new(o, "id", jstr_or_null(it->id));
    json_object_set_new(o, "title", jstr_or_null(it->title));
    json_object_set_new(o, "link", jstr_or_null(it->link));
    json_object_set_new(o, "published", jdate_or_null(it->published));
    json_object_set_new(o, "updated", jdate_or_null(it->updated));
    json_object_set_new(o, "author", jstr_or_null(it->author));
    json_object_set_new(o, "summary", jstr_or_null(it->summary));
    json_object_set_new(o, "content", jstr_or_null(it->content));
    for (size_t i = 0; i < it->n_categories; i++)
        json_array_append_new(cats, json_string(it->categories[i]));
    json_object_set_new(o, "categories", cats);
    for (size_t i = 0; i < it->n_enclosures; i++) {
        const struct enclosure *e = &it->enclosures[i];
        json_t *eo = json_object();
        if (!eo) continue;
        json_object_set_new(eo, "url", jstr_or_null(e->url));
        json_object_set_new(eo, "type", jstr_or_null(e->type));
        json_object_set_new(eo, "length", e->length >= 0 ? json_integer(e->length) : json_null());
        json_array_append_new(encs, eo);
    }
    json_object_set_new(o, "enclosures", encs);
    return o;
}

char *feed_to_json(const struct feed *f)
{
    json_t *root = json_object(), *fo = json_object(), *items = json_array();
    if (!root || !fo || !items) {
        json_decref(root);
        json_decref(fo);
        json_decref(items);
        return NULL;
    }
    json_object_set_new(root, "format", json_string(feed_format_name(f->format)));
    json_object_set_new(root, "bozo", json_boolean(f->bozo));
    json_object_set_new(fo, "title", jstr_or_null(f->title));
    json_object_set_new(fo, "link", jstr_or_null(f->link));
    json_object_set_new(fo, "description", jstr_or_null(f->description));
    json_object_set_new(fo, "language", jstr_or_null(f->language));
    json_object_set_new(fo, "updated", jdate_or_null(f->updated));
    json_object_set_new(fo, "author", jstr_or_null(f->author));
    json_object_set_new(fo, "generator", jstr_or_null(f->generator));
    json_object_set_new(fo, "image", jstr_or_null(f->image));
    json_object_set_new(root, "feed", fo);
    for (size_t i = 0; i < f->n_items; i++) {
        json_t *io = item_json(&f->items[i]);
        if (!io) {
            json_decref(root);
            json_decref(items);
            return NULL;
        }
        json_array_append_new(items, io);
    }
    json_object_set_new(root, "items", items);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

/* Append printf output to a malloc'd string; on failure frees it and returns NULL. */
static char *appendf(char *s, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *appendf(char *s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        free(s);
        return NULL;
    }
    char *ns = realloc(s, *len + (size_t)n + 1);
    if (!ns) {
        free(s);
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(ns + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
    return ns;
}

char *feed_to_text(const struct feed *f)
{
    size_t len = 0;
    char *s = appendf(NULL, &len, "format: %s\n", feed_format_name(f->format));
    if (s && f->bozo)
        s = appendf(s, &len, "recovered from malformed input: %s\n",
                    f->bozo_reason ? f->bozo_reason : "(no detail)");
    if (s)
        s = appendf(s, &len, "title:  %s\nlink:   %s\nitems:  %zu\n",
                    f->title ? f->title : "(untitled)", f->link ? f->link : "-", f->n_items);
    for (size_t i = 0; s && i < f->n_items; i++) {
        const struct item *it = &f->items[i];
        char d[32];
        if (it->published >= 0)
            date_format_utc(it->published, d, sizeof d);
        else
            snprintf(d, sizeof d, "%-20s", "-");
        s = appendf(s, &len, "%s  %s\n    %s\n", d, it->title ? it->title : "(untitled)",
                    it->link ? it->link : "-");
    }
    return s;
}
