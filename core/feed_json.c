/*
 * feed_json — reads JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) into struct
 * feed with jansson. Input: the bytes feed.c sniffed as JSON. Output: feed and item
 * fields in the feed's arena; anything that is JSON but not a JSON Feed is refused.
 */
#include "feed_priv.h"

#include "date.h"
#include "html.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *jtext(struct arena *a, json_t *o, const char *key)
{
    const char *s = jstr(o, key);
    if (!s) return NULL;
    const char *t = feedx_text(a, s);
    return t && *t ? t : NULL;
}

/* 1.0 has "author": {name}; 1.1 has "authors": [{name}]. */
static const char *jauthor(struct arena *a, json_t *o)
{
    json_t *au = json_object_get(o, "authors");
    if (json_is_array(au) && json_array_size(au) > 0)
        au = json_array_get(au, 0);
    else
        au = json_object_get(o, "author");
    if (json_is_string(au)) return arena_strdup(a, json_string_value(au));
    if (!json_is_object(au)) return NULL;
    const char *name = jstr(au, "name");
    return name && *name ? feedx_text(a, name) : NULL;
}

static int64_t jdate(json_t *o, const char *key)
{
    const char *s = jstr(o, key);
    return s ? date_parse(s) : -1;
}

static int read_item(struct feedx_ctx *c, json_t *jo, const char *base)
{
    struct item *it = feedx_item_add(c);
    if (!it) return -1;
    struct arena *a = &c->f->arena;
    json_t *id = json_object_get(jo, "id");
    if (json_is_string(id) && *json_string_value(id)) {
        it->id = arena_strdup(a, json_string_value(id));
    } else if (json_is_integer(id)) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(id));
        it->id = arena_strdup(a, num);
    }
    const char *url = jstr(jo, "url");
    if (!url) url = jstr(jo, "external_url");
    it->link = url ? feedx_resolve(a, url, base) : NULL;
    it->title = jtext(a, jo, "title");
    it->published = jdate(jo, "date_published");
    it->updated = jdate(jo, "date_modified");
    if (it->published < 0) it->published = it->updated;
    it->author = jauthor(a, jo);
    const char *html = jstr(jo, "content_html");
    const char *text = jstr(jo, "content_text");
    if (html) {
        it->content_html = arena_strdup(a, html);
        it->content = html_to_text(html, strlen(html), a);
    } else if (text) {
        it->content = html_collapse_ws(text, strlen(text), a);
    }
    if (it->content && !*it->content) it->content = NULL;
    it->summary = jtext(a, jo, "summary");
    const char *lang = jstr(jo, "language");
    it->lang = lang ? arena_strdup(a, lang) : NULL;
    json_t *tags = json_object_get(jo, "tags");
    size_t i;
    json_t *v;
    json_array_foreach(tags, i, v)
    {
        if (json_is_string(v) && *json_string_value(v))
            feedx_add_category(a, it, json_string_value(v));
    }
    json_t *att = json_object_get(jo, "attachments");
    json_array_foreach(att, i, v)
    {
        const char *u = jstr(v, "url");
        if (!u) continue;
        json_t *size = json_object_get(v, "size_in_bytes");
        feedx_add_enclosure(a, it, feedx_resolve(a, u, base), jstr(v, "mime_type"),
                            json_is_integer(size) ? json_integer_value(size) : -1);
    }
    const char *date_raw = jstr(jo, "date_published");
    return feedx_item_finish(c, it, date_raw);
}

int feedx_read_json(struct feedx_ctx *c, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root) {
        snprintf(c->err, c->errlen, "not a feed or HTML page: invalid JSON (line %d: %s)",
                 jerr.line, jerr.text);
        return -1;
    }
    const char *version = json_is_object(root) ? jstr(root, "version") : NULL;
    json_t *items = json_is_object(root) ? json_object_get(root, "items") : NULL;
    if (!version || !strstr(version, "jsonfeed.org/version/") || (items && !json_is_array(items))) {
        snprintf(c->err, c->errlen, "not a feed or HTML page: JSON %s without a JSON Feed version",
                 json_is_object(root)  ? "object"
                 : json_is_array(root) ? "array"
                                       : "value");
        json_decref(root);
        return -1;
    }
    struct feed *f = c->f;
    struct arena *a = &f->arena;
    f->format = FEED_JSONFEED;
    f->updated = -1;
    f->title = jtext(a, root, "title");
    const char *home = jstr(root, "home_page_url");
    const char *self = jstr(root, "feed_url");
    const char *base = c->url;
    if (self) base = feedx_resolve(a, self, base);
    if (home) {
        f->link = feedx_resolve(a, home, base);
        base = f->link;
    }
    f->description = jtext(a, root, "description");
    const char *lang = jstr(root, "language");
    f->language = lang ? arena_strdup(a, lang) : NULL;
    f->author = jauthor(a, root);
    const char *icon = jstr(root, "icon");
    if (!icon) icon = jstr(root, "favicon");
    f->image = icon ? feedx_resolve(a, icon, base) : NULL;
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(items, i, v)
    {
        if (!json_is_object(v)) continue;
        if (f->n_items >= c->lim.max_items) break;
        if ((rc = read_item(c, v, base)) != 0) break;
    }
    json_decref(root);
    return rc;
}
