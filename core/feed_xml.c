/*
 * feed_xml — reads the XML feed dialects into struct feed: RSS 0.9x/2.0 (with or
 * without the Userland namespace), RDF (RSS 0.90 and 1.0), Atom 0.3 and 1.0, plus the
 * common extensions (content:, dc:, dcterms:, media:, atom: inside RSS, feedburner:,
 * itunes:). Input: a libxml2 tree parsed by feed.c (CDATA merged, network off).
 * Output: feed and item fields in the feed's arena; links resolved against xml:base,
 * the feed's own link and the fetch URL, in that order.
 */
#include "feed_priv.h"

#include "date.h"
#include "html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_ATOM10 "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_DCTERMS "http://purl.org/dc/terms/"
#define NS_FEEDBURNER "http://rssnamespace.org/feedburner/ext/1.0"
#define NS_ITUNES "http://www.itunes.com/dtds/podcast-1.0.dtd"
#define NS_XML "http://www.w3.org/XML/1998/namespace"

/* Per-document state: the base every relative link falls back to. */
struct xreader {
    struct feedx_ctx *c;
    xmlDoc *doc;
    const char *root_base; /* the feed's link if absolute, else the fetch URL */
};

static int name_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

static const char *ns_of(const xmlNode *n)
{
    return n->ns && n->ns->href ? (const char *)n->ns->href : NULL;
}

/* RSS core elements: no namespace, or one of the namespaces RSS itself uses. */
static int rss_core(const xmlNode *n)
{
    const char *ns = ns_of(n);
    return !ns || strcmp(ns, "http://purl.org/rss/1.0/") == 0 ||
           strcmp(ns, "http://my.netscape.com/rdf/simple/0.9/") == 0 ||
           strcmp(ns, "http://backend.userland.com/rss2") == 0 ||
           strcmp(ns, "http://backend.userland.com/rss") == 0 ||
           strcmp(ns, "http://purl.org/net/rss1.1#") == 0;
}

static int in_ns(const xmlNode *n, const char *ns)
{
    const char *h = ns_of(n);
    return h && strcmp(h, ns) == 0;
}

static int is_media(const xmlNode *n)
{
    const char *h = ns_of(n);
    return h && strncmp(h, "http://search.yahoo.com/mrss", 28) == 0;
}

static int is_atom(const xmlNode *n)
{
    return in_ns(n, NS_ATOM10) || in_ns(n, NS_ATOM03);
}

static const char *xattr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (a->name && strcmp((const char *)a->name, name) == 0 &&
            !(a->ns && a->ns->prefix && strcmp((const char *)a->ns->prefix, "xml") == 0))
            return a->children && a->children->content ? (const char *)a->children->content : "";
    return NULL;
}

static int has_element_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return 1;
    return 0;
}

/* The element's content as a string: its text, or its inner markup serialised when it
 * holds elements (unescaped HTML in an RSS description, Atom xhtml). Arena string. */
static const char *raw(struct arena *a, const xmlNode *n)
{
    if (!has_element_child(n)) {
        const xmlNode *c = n->children;
        if (c && !c->next && c->type == XML_TEXT_NODE) /* the usual case: no copy to free */
            return arena_strdup(a, c->content ? (const char *)c->content : "");
        xmlChar *t = xmlNodeGetContent(n);
        const char *s = arena_strdup(a, t ? (const char *)t : "");
        xmlFree(t);
        return s;
    }
    xmlBuffer *buf = xmlBufferCreate();
    if (!buf) return NULL;
    for (xmlNode *c = n->children; c; c = c->next)
        xmlNodeDump(buf, n->doc, c, 0, 0);
    const char *s =
        arena_strndup(a, (const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
    xmlBufferFree(buf);
    return s;
}

/* Plain, trimmed text of an element whose content is text (titles, dates, ids). */
static const char *plain(struct arena *a, const xmlNode *n)
{
    const char *r = raw(a, n);
    if (!r) return NULL;
    const char *t = html_collapse_ws(r, strlen(r), a);
    return t && *t ? t : NULL;
}

/* Text that may be escaped HTML (RSS titles and descriptions). */
static const char *texty(struct arena *a, const xmlNode *n)
{
    const char *r = raw(a, n);
    if (!r) return NULL;
    const char *t = feedx_text(a, r);
    return t && *t ? t : NULL;
}

/* xml:base chain of `n` resolved onto the root base, for links inside `n`. */
static const char *base_of(struct xreader *r, const xmlNode *n)
{
    xmlChar *b = xmlNodeGetBase(r->doc, n);
    if (!b) return r->root_base;
    const char *out = feedx_resolve(&r->c->f->arena, (const char *)b, r->root_base);
    xmlFree(b);
    return out;
}

static const char *link_of(struct xreader *r, const xmlNode *n, const char *href)
{
    if (!href) return NULL;
    while (*href == ' ' || *href == '\t' || *href == '\n' || *href == '\r')
        href++;
    return feedx_resolve(&r->c->f->arena, href, base_of(r, n));
}

static const char *xml_lang(struct arena *a, const xmlNode *n)
{
    xmlChar *l = xmlNodeGetLang(n);
    const char *s = l && *l ? arena_strdup(a, (const char *)l) : NULL;
    xmlFree(l);
    return s;
}

static int64_t set_date(int64_t cur, const xmlNode *n, struct arena *a, const char **raw_out)
{
    if (cur >= 0) return cur;
    const char *s = plain(a, n);
    if (s && raw_out && !*raw_out) *raw_out = s;
    return s ? date_parse(s) : -1;
}

/* Atom text construct (type text/html/xhtml; 0.3 mode escaped/xml/base64). */
static void atom_text(struct arena *a, const xmlNode *n, const char **text, const char **html)
{
    const char *type = xattr(n, "type");
    const char *mode = xattr(n, "mode");
    *text = NULL;
    if (html) *html = NULL;
    if (mode && strcmp(mode, "base64") == 0) return;
    int is_xhtml = (type && (strcmp(type, "xhtml") == 0 || strstr(type, "xhtml+xml"))) ||
                   (mode && strcmp(mode, "xml") == 0) || has_element_child(n);
    int is_html =
        !is_xhtml && type && (strcmp(type, "html") == 0 || strcmp(type, "text/html") == 0);
    if (is_xhtml) {
        *text = html_node_text(n, a);
        if (html) *html = raw(a, n);
    } else if (is_html || (mode && strcmp(mode, "escaped") == 0)) {
        const char *r = raw(a, n);
        *text = r ? html_to_text(r, strlen(r), a) : NULL;
        if (html) *html = r;
    } else if (type && strncmp(type, "text", 4) != 0 && strcmp(type, "text") != 0) {
        return; /* another media type (Atom 1.0 §4.1.3.3): not text we can read */
    } else {
        *text = plain(a, n);
    }
    if (*text && !**text) *text = NULL;
}

/* The name of an Atom person construct (or an RSS author string). */
static const char *person(struct arena *a, const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (name_is(c, "name")) return plain(a, c);
    for (const xmlNode *c = n->children; c; c = c->next)
        if (name_is(c, "email")) return plain(a, c);
    return has_element_child(n) ? NULL : plain(a, n);
}

/* media:content / media:thumbnail / media:group. */
static void read_media(struct xreader *r, struct item *it, const xmlNode *n, const char **desc)
{
    struct arena *a = &r->c->f->arena;
    if (name_is(n, "group")) {
        for (const xmlNode *c = n->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE && is_media(c)) read_media(r, it, c, desc);
    } else if (name_is(n, "content") || name_is(n, "thumbnail")) {
        const char *url = link_of(r, n, xattr(n, "url"));
        if (!url || !*url) return;
        const char *type = xattr(n, "type");
        if (!type && name_is(n, "thumbnail")) type = "image";
        if (!type) type = xattr(n, "medium");
        const char *size = xattr(n, "fileSize");
        feedx_add_enclosure(a, it, url, type, size ? strtoll(size, NULL, 10) : -1);
        for (const xmlNode *c = n->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE && is_media(c) && name_is(c, "description") && !*desc)
                *desc = raw(a, c);
    } else if (name_is(n, "description") && !*desc) {
        *desc = raw(a, n);
    }
}

/* atom:link inside RSS or Atom: alternate → link, enclosure → enclosure. */
static void read_atom_link(struct xreader *r, struct item *it, const xmlNode *n, int *link_rank)
{
    const char *rel = xattr(n, "rel");
    const char *type = xattr(n, "type");
    const char *href = xattr(n, "href");
    if (!href) return;
    if (rel && strcmp(rel, "enclosure") == 0) {
        const char *len = xattr(n, "length");
        feedx_add_enclosure(&r->c->f->arena, it, link_of(r, n, href), type,
                            len ? strtoll(len, NULL, 10) : -1);
        return;
    }
    if (rel && strcmp(rel, "alternate") != 0) return;
    /* Prefer an HTML alternate over another one. */
    int rank = (!type || strstr(type, "html")) ? 2 : 1;
    if (rank > *link_rank) {
        it->link = link_of(r, n, href);
        *link_rank = rank;
    }
}

/* ---- RSS ----------------------------------------------------------------------------- */

struct rss_item_state {
    const char *guid, *guid_link, *link, *origlink, *desc, *media_desc, *date_raw, *itunes_sum;
    int link_rank;
};

static void rss_core_field(struct xreader *r, struct item *it, const xmlNode *n,
                           struct rss_item_state *st)
{
    struct arena *a = &r->c->f->arena;
    if (name_is(n, "title") && !it->title) {
        it->title = texty(a, n);
    } else if (name_is(n, "link") && !st->link) {
        const char *h = plain(a, n);
        if (h) st->link = link_of(r, n, h);
    } else if (name_is(n, "description") && !st->desc) {
        st->desc = raw(a, n);
    } else if (name_is(n, "guid") && !st->guid) {
        st->guid = plain(a, n);
        const char *perma = xattr(n, "isPermaLink");
        if (st->guid && (!perma || strcmp(perma, "false") != 0) &&
            (strncmp(st->guid, "http://", 7) == 0 || strncmp(st->guid, "https://", 8) == 0))
            st->guid_link = st->guid;
    } else if (name_is(n, "pubDate")) {
        it->published = set_date(it->published, n, a, &st->date_raw);
    } else if (name_is(n, "author") && !it->author) {
        it->author = person(a, n);
    } else if (name_is(n, "category")) {
        const char *cat = texty(a, n);
        if (cat) feedx_add_category(a, it, cat);
    } else if (name_is(n, "enclosure")) {
        const char *url = link_of(r, n, xattr(n, "url"));
        const char *len = xattr(n, "length");
        if (url && *url)
            feedx_add_enclosure(a, it, url, xattr(n, "type"), len ? strtoll(len, NULL, 10) : -1);
    }
}

static int rss_item(struct xreader *r, const xmlNode *node)
{
    struct item *it = feedx_item_add(r->c);
    if (!it) return -1;
    struct arena *a = &r->c->f->arena;
    struct rss_item_state st = {0};
    for (const xmlNode *n = node->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (rss_core(n)) {
            rss_core_field(r, it, n, &st);
        } else if (in_ns(n, NS_CONTENT) && name_is(n, "encoded") && !it->content_html) {
            it->content_html = raw(a, n);
        } else if (in_ns(n, NS_DC) || in_ns(n, NS_DCTERMS)) {
            if (name_is(n, "creator") && !it->author)
                it->author = plain(a, n);
            else if (name_is(n, "date") || name_is(n, "issued") || name_is(n, "created"))
                it->published = set_date(it->published, n, a, &st.date_raw);
            else if (name_is(n, "modified"))
                it->updated = set_date(it->updated, n, a, NULL);
            else if (name_is(n, "subject")) {
                const char *cat = plain(a, n);
                if (cat) feedx_add_category(a, it, cat);
            } else if (name_is(n, "language") && !it->lang)
                it->lang = plain(a, n);
            else if (name_is(n, "title") && !it->title)
                it->title = texty(a, n);
            else if (name_is(n, "description") && !st.desc)
                st.desc = raw(a, n);
        } else if (is_media(n)) {
            read_media(r, it, n, &st.media_desc);
        } else if (is_atom(n)) {
            if (name_is(n, "link"))
                read_atom_link(r, it, n, &st.link_rank);
            else if (name_is(n, "updated"))
                it->updated = set_date(it->updated, n, a, NULL);
            else if (name_is(n, "published"))
                it->published = set_date(it->published, n, a, &st.date_raw);
            else if (name_is(n, "author") && !it->author)
                it->author = person(a, n);
        } else if (in_ns(n, NS_FEEDBURNER) && name_is(n, "origLink") && !st.origlink) {
            const char *h = plain(a, n);
            if (h) st.origlink = link_of(r, n, h);
        } else if (in_ns(n, NS_ITUNES)) {
            if (name_is(n, "author") && !it->author)
                it->author = plain(a, n);
            else if (name_is(n, "summary") && !st.itunes_sum)
                st.itunes_sum = raw(a, n);
        }
    }
    /* The publisher's own URL beats a redirector (feedburner:origLink); then <link>,
     * then a permalink guid, then atom:link. */
    const char *atom_link = it->link;
    it->link = st.origlink    ? st.origlink
               : st.link      ? st.link
               : st.guid_link ? st.guid_link
                              : atom_link;
    it->id = st.guid;
    const char *d = st.desc ? st.desc : st.media_desc ? st.media_desc : st.itunes_sum;
    if (d && *d) {
        it->summary_html = d;
        it->summary = feedx_text(a, d);
    }
    if (it->content_html) it->content = feedx_text(a, it->content_html);
    if (!it->lang) it->lang = xml_lang(a, node);
    return feedx_item_finish(r->c, it, st.date_raw);
}

static void rss_channel_field(struct xreader *r, const xmlNode *n)
{
    struct feed *f = r->c->f;
    struct arena *a = &f->arena;
    if (rss_core(n)) {
        if (name_is(n, "title") && !f->title)
            f->title = texty(a, n);
        else if (name_is(n, "link") && !f->link)
            f->link = link_of(r, n, plain(a, n));
        else if (name_is(n, "description") && !f->description)
            f->description = texty(a, n);
        else if (name_is(n, "language") && !f->language)
            f->language = plain(a, n);
        else if (name_is(n, "lastBuildDate") || name_is(n, "pubDate"))
            f->updated = set_date(f->updated, n, a, NULL);
        else if ((name_is(n, "managingEditor") || name_is(n, "webMaster")) && !f->author)
            f->author = plain(a, n);
        else if (name_is(n, "generator") && !f->generator)
            f->generator = plain(a, n);
        else if (name_is(n, "image") && !f->image) {
            for (const xmlNode *c = n->children; c; c = c->next)
                if (name_is(c, "url")) f->image = link_of(r, c, plain(a, c));
        }
    } else if (in_ns(n, NS_DC)) {
        if (name_is(n, "language") && !f->language)
            f->language = plain(a, n);
        else if (name_is(n, "date"))
            f->updated = set_date(f->updated, n, a, NULL);
        else if ((name_is(n, "creator") || name_is(n, "publisher")) && !f->author)
            f->author = plain(a, n);
        else if (name_is(n, "title") && !f->title)
            f->title = texty(a, n);
    } else if (is_atom(n) && name_is(n, "link") && !f->link) {
        const char *rel = xattr(n, "rel");
        if (!rel || strcmp(rel, "alternate") == 0) f->link = link_of(r, n, xattr(n, "href"));
    } else if (in_ns(n, NS_ITUNES) && name_is(n, "image") && !f->image) {
        f->image = link_of(r, n, xattr(n, "href"));
    }
}

/* The channel's link becomes the base for items, so read it before any item. */
static void set_root_base(struct xreader *r)
{
    struct feed *f = r->c->f;
    const char *l = f->link;
    if (l && (strncmp(l, "http://", 7) == 0 || strncmp(l, "https://", 8) == 0)) r->root_base = l;
    /* The image may have been read before the link it is relative to. */
    if (f->image) f->image = feedx_resolve(&f->arena, f->image, r->root_base);
}

static int read_rss(struct xreader *r, xmlNode *root)
{
    struct feed *f = r->c->f;
    xmlNode *channel = NULL;
    for (xmlNode *n = root->children; n; n = n->next)
        if (name_is(n, "channel") && !channel) channel = n;
    if (channel) {
        for (xmlNode *n = channel->children; n; n = n->next)
            if (n->type == XML_ELEMENT_NODE) rss_channel_field(r, n);
        if (!f->language) f->language = xml_lang(&f->arena, channel);
    }
    set_root_base(r);
    /* Items live in <channel> (RSS 0.91–2.0) or beside it (RDF); look in both. */
    xmlNode *parents[2] = {channel, root};
    for (int p = 0; p < 2; p++) {
        if (!parents[p]) continue;
        for (xmlNode *n = parents[p]->children; n; n = n->next) {
            if (!name_is(n, "item") || !rss_core(n)) continue;
            if (f->n_items >= r->c->lim.max_items) return 0;
            if (rss_item(r, n) != 0) return -1;
        }
    }
    return 0;
}

/* ---- Atom ---------------------------------------------------------------------------- */

static int atom_el(const xmlNode *n)
{
    if (n->type != XML_ELEMENT_NODE) return 0;
    const char *ns = ns_of(n);
    return !ns || is_atom(n);
}

static int atom_entry(struct xreader *r, const xmlNode *node, const char *feed_author)
{
    struct item *it = feedx_item_add(r->c);
    if (!it) return -1;
    struct arena *a = &r->c->f->arena;
    int link_rank = 0;
    const char *date_raw = NULL, *first_link = NULL;
    for (const xmlNode *n = node->children; n; n = n->next) {
        if (is_media(n)) {
            const char *md = NULL;
            read_media(r, it, n, &md);
            if (md && !it->summary_html) it->summary_html = md;
            continue;
        }
        if (in_ns(n, NS_DC) && name_is(n, "subject")) {
            const char *cat = plain(a, n);
            if (cat) feedx_add_category(a, it, cat);
            continue;
        }
        if (!atom_el(n)) continue;
        if (name_is(n, "title") && !it->title) {
            atom_text(a, n, &it->title, NULL);
        } else if (name_is(n, "link")) {
            if (!first_link && xattr(n, "href") && !xattr(n, "rel"))
                first_link = link_of(r, n, xattr(n, "href"));
            read_atom_link(r, it, n, &link_rank);
        } else if (name_is(n, "id") && !it->id) {
            it->id = plain(a, n);
        } else if (name_is(n, "published") || name_is(n, "issued") || name_is(n, "created")) {
            it->published = set_date(it->published, n, a, &date_raw);
        } else if (name_is(n, "updated") || name_is(n, "modified")) {
            it->updated = set_date(it->updated, n, a, NULL);
        } else if (name_is(n, "author") && !it->author) {
            it->author = person(a, n);
        } else if (name_is(n, "summary") && !it->summary) {
            atom_text(a, n, &it->summary, &it->summary_html);
        } else if (name_is(n, "content") && !it->content) {
            atom_text(a, n, &it->content, &it->content_html);
        } else if (name_is(n, "category")) {
            const char *cat = xattr(n, "label");
            if (!cat || !*cat) cat = xattr(n, "term");
            if (cat && *cat) feedx_add_category(a, it, html_collapse_ws(cat, strlen(cat), a));
        }
    }
    if (!it->link) it->link = first_link;
    if (!it->author) it->author = feed_author;
    if (!it->summary && it->summary_html) it->summary = feedx_text(a, it->summary_html);
    /* An entry with only <updated> was still published then, as far as anyone can tell. */
    if (it->published < 0 && it->updated >= 0) it->published = it->updated;
    it->lang = xml_lang(a, node);
    return feedx_item_finish(r->c, it, date_raw);
}

static int read_atom(struct xreader *r, xmlNode *root)
{
    struct feed *f = r->c->f;
    struct arena *a = &f->arena;
    int link_rank = 0;
    for (xmlNode *n = root->children; n; n = n->next) {
        if (!atom_el(n)) continue;
        if (name_is(n, "title") && !f->title) {
            atom_text(a, n, &f->title, NULL);
        } else if ((name_is(n, "subtitle") || name_is(n, "tagline")) && !f->description) {
            atom_text(a, n, &f->description, NULL);
        } else if (name_is(n, "link")) {
            const char *rel = xattr(n, "rel");
            const char *type = xattr(n, "type");
            const char *href = xattr(n, "href");
            if (href && (!rel || strcmp(rel, "alternate") == 0)) {
                int rank = (!type || strstr(type, "html")) ? 2 : 1;
                if (rank > link_rank) {
                    f->link = link_of(r, n, href);
                    link_rank = rank;
                }
            }
        } else if (name_is(n, "updated") || name_is(n, "modified")) {
            f->updated = set_date(f->updated, n, a, NULL);
        } else if (name_is(n, "author") && !f->author) {
            f->author = person(a, n);
        } else if (name_is(n, "generator") && !f->generator) {
            f->generator = plain(a, n);
        } else if ((name_is(n, "logo") || name_is(n, "icon")) && !f->image) {
            f->image = link_of(r, n, plain(a, n));
        }
    }
    f->language = xml_lang(a, root);
    set_root_base(r);
    for (xmlNode *n = root->children; n; n = n->next) {
        if (!atom_el(n) || !name_is(n, "entry")) continue;
        if (f->n_items >= r->c->lim.max_items) return 0;
        if (atom_entry(r, n, f->author) != 0) return -1;
    }
    return 0;
}

int feedx_read_xml(struct feedx_ctx *c, xmlDoc *doc)
{
    struct xreader r = {c, doc, c->url};
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) {
        snprintf(c->err, c->errlen, "empty document");
        return -1;
    }
    c->f->updated = -1;
    if (c->f->format == FEED_ATOM10 || c->f->format == FEED_ATOM03) return read_atom(&r, root);
    return read_rss(&r, root);
}
