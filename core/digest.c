/*
 * digest — building the alert document that carries several held alerts in one message
 * (see digest.h). Input: the stored JSON of each member alert, in arrival order. Output:
 * a document with the usual keys, whose article lists the members, plus "digest".
 */
#include "digest.h"

#include "date.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void digest_make_id(const char *notifier, const char *const *ids, size_t n, char out[33])
{
    struct strbuf b;
    sb_init(&b);
    sb_puts(&b, "digest");
    sb_add(&b, "", 1);
    sb_puts(&b, notifier ? notifier : "");
    for (size_t i = 0; i < n; i++) {
        sb_add(&b, "", 1);
        sb_puts(&b, ids[i] ? ids[i] : "");
    }
    char hex[65];
    sha256_hex(b.s ? b.s : "", b.len, hex);
    sb_free(&b);
    memcpy(out, hex, 32);
    out[32] = '\0';
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The first evidence context of a member, the sentence that made its rule fire. */
static const char *first_context(json_t *doc)
{
    json_t *ev = json_object_get(doc, "evidence");
    for (size_t i = 0; json_is_array(ev) && i < json_array_size(ev); i++) {
        const char *c = jstr(json_array_get(ev, i), "context");
        if (c && *c) return c;
    }
    return NULL;
}

/* One member in the digest's text: title and source, the evidence sentence, the link. */
static void list_member(struct strbuf *b, json_t *doc, size_t i)
{
    json_t *art = json_object_get(doc, "article");
    const char *title = jstr(art, "title"), *source = jstr(art, "source");
    const char *link = jstr(art, "link"), *ctx = first_context(doc);
    if (i > 0) sb_puts(b, "\n\n");
    sb_printf(b, "• %s", title && *title ? title : "(untitled)");
    if (source) sb_printf(b, " (%s)", source);
    if (ctx) sb_printf(b, "\n  %s", ctx);
    if (link) sb_printf(b, "\n  %s", link);
}

/* "3 new articles for iraq-withdrawal", or "… from 2 rules" when the rules differ. */
static char *make_title(json_t *members, const char *rule)
{
    size_t n = json_array_size(members), rules = 0;
    for (size_t i = 0; i < n; i++) {
        const char *r = jstr(json_array_get(members, i), "rule");
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *q = jstr(json_array_get(members, j), "rule");
            seen = r && q && strcmp(r, q) == 0;
        }
        rules += !seen;
    }
    struct strbuf b;
    sb_init(&b);
    if (rules > 1)
        sb_printf(&b, "%zu new articles from %zu rules", n, rules);
    else
        sb_printf(&b, "%zu new article%s for %s", n, n == 1 ? "" : "s", rule);
    return sb_steal(&b);
}

/* The members' common source, or NULL. */
static const char *common_source(json_t *members)
{
    const char *src = NULL;
    for (size_t i = 0; i < json_array_size(members); i++) {
        const char *s = jstr(json_object_get(json_array_get(members, i), "article"), "source");
        if (!s || (src && strcmp(s, src) != 0)) return NULL;
        src = s;
    }
    return src;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static json_t *parse_members(const char *const *json, size_t n, char *err, size_t errlen)
{
    json_t *members = json_array();
    for (size_t i = 0; members && i < n; i++) {
        json_error_t je;
        json_t *doc = json ? json_loads(json[i], 0, &je) : NULL;
        if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "article"))) {
            snprintf(err, errlen, "held alert %zu is not an alert document", i + 1);
            json_decref(doc);
            json_decref(members);
            return NULL;
        }
        json_object_set_new(doc, "notifier", json_null());
        json_array_append_new(members, doc);
    }
    if (!members) snprintf(err, errlen, "out of memory");
    return members;
}

static json_t *make_article(const char *id, const char *title, json_t *members)
{
    struct strbuf text;
    sb_init(&text);
    for (size_t i = 0; i < json_array_size(members); i++)
        list_member(&text, json_array_get(members, i), i);
    char *t = sb_steal(&text);
    const char *link = jstr(json_object_get(json_array_get(members, 0), "article"), "link");
    const char *src = common_source(members);
    json_t *a = json_pack("{s:s, s:s?, s:s, s:s?, s:n, s:n, s:n, s:s, s:[], s:n}", "id", id,
                          "source", src, "title", title, "link", link, "author", "published",
                          "summary", "text", t ? t : "", "categories", "lang");
    free(t);
    return a;
}

int digest_build(const char *id, const char *rule, int64_t created, const char *const *json,
                 size_t n, struct digest *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n == 0) {
        snprintf(err, errlen, "a digest needs at least one alert");
        return -1;
    }
    json_t *members = parse_members(json, n, err, errlen);
    if (!members) return -1;
    char date[32];
    out->title = make_title(members, rule);
    json_t *art = out->title ? make_article(id, out->title, members) : NULL;
    /* "O" keeps our reference to art (its strings are read below); freed once, here. */
    json_t *root = art ? json_pack("{s:s, s:s, s:n, s:s, s:O, s:[], s:{s:I, s:O}}", "id", id,
                                   "rule", rule, "notifier", "created",
                                   date_format_utc(created, date, sizeof date), "article", art,
                                   "evidence", "digest", "count", (json_int_t)n, "alerts", members)
                       : NULL;
    if (root) {
        out->json = json_dumps(root, JSON_COMPACT);
        out->link = dup_or_null(jstr(art, "link"));
        out->source = dup_or_null(jstr(art, "source"));
    }
    json_decref(art);
    json_decref(root);
    json_decref(members);
    if (!out->json) {
        snprintf(err, errlen, "out of memory building a digest");
        digest_free(out);
        return -1;
    }
    return 0;
}

void digest_free(struct digest *d)
{
    free(d->json);
    free(d->title);
    free(d->link);
    free(d->source);
    memset(d, 0, sizeof *d);
}
