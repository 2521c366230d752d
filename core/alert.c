/*
 * alert — alert ids and the alert JSON document. jansson builds and reads the JSON so
 * that escaping is never hand-written. The document is self-contained (article fields and
 * evidence with context), because it is stored in the outbox and may be delivered after a
 * restart, when the article itself is long gone.
 */
#include "alert.h"

#include "date.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void alert_make_id(const char *rule, const char *source, const char *item_id, char out[33])
{
    struct strbuf b;
    sb_init(&b);
    /* NUL separators keep ("a","bc") and ("ab","c") apart. */
    sb_add(&b, rule, strlen(rule) + 1);
    sb_add(&b, source, strlen(source) + 1);
    sb_add(&b, item_id, strlen(item_id));
    char hex[65];
    sha256_hex(b.s ? b.s : "", b.len, hex);
    sb_free(&b);
    memcpy(out, hex, 32);
    out[32] = '\0';
}

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

static int sentence_end(const char *t, size_t i)
{
    return (t[i] == '.' || t[i] == '!' || t[i] == '?' || t[i] == '\n') &&
           (t[i + 1] == ' ' || t[i + 1] == '\n' || t[i + 1] == '\0');
}

void alert_context_bounds(const char *text, size_t start, size_t end, size_t radius, size_t *out_s,
                          size_t *out_e, int *cut_left, int *cut_right)
{
    size_t len = strlen(text);
    if (start > len) start = len;
    if (end > len) end = len;
    if (end < start) end = start;
    /* Back to the start of the sentence, but not further than radius. */
    size_t s = start;
    while (s > 0 && start - s < radius && !sentence_end(text, s - 1))
        s--;
    *cut_left = s > 0 && !sentence_end(text, s - 1);
    size_t e = end;
    while (e < len && e - end < radius && !sentence_end(text, e))
        e++;
    if (e < len && sentence_end(text, e)) e++;
    *cut_right = e < len && !sentence_end(text, e - 1);
    while (s > 0 && is_cont((unsigned char)text[s]))
        s--;
    while (e < len && is_cont((unsigned char)text[e]))
        e++;
    while (s < start && (text[s] == ' ' || text[s] == '\n'))
        s++;
    while (e > end && (text[e - 1] == ' ' || text[e - 1] == '\n'))
        e--;
    *out_s = s;
    *out_e = e;
}

char *alert_context(const char *text, size_t start, size_t end, size_t radius)
{
    size_t s, e;
    int cl, cr;
    alert_context_bounds(text, start, end, radius, &s, &e, &cl, &cr);
    struct strbuf b;
    sb_init(&b);
    if (cl) sb_puts(&b, "…");
    for (size_t i = s; i < e; i++)
        sb_add(&b, text[i] == '\n' ? " " : &text[i], 1);
    if (cr) sb_puts(&b, "…");
    return sb_steal(&b);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

const char *alert_article_field(const struct herald_article *a, const char *field)
{
    if (!a || !field) return NULL;
    if (strcmp(field, "title") == 0) return a->title;
    if (strcmp(field, "text") == 0) return a->text;
    if (strcmp(field, "author") == 0) return a->author;
    if (strcmp(field, "link") == 0) return a->link;
    if (strcmp(field, "source") == 0) return a->source;
    return NULL;
}

static json_t *evidence_json(const struct herald_article *a, const struct evidence_list *ev)
{
    json_t *arr = json_array();
    for (size_t i = 0; ev && arr && i < ev->n; i++) {
        const struct evidence *e = &ev->v[i];
        const char *t = alert_article_field(a, e->field);
        if (!t || e->end > strlen(t) || e->start > e->end) continue;
        char *ctx = alert_context(t, e->start, e->end, 120);
        json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s%, s:s?}", "field", e->field, "start",
                              (json_int_t)e->start, "end", (json_int_t)e->end, "term",
                              e->term ? e->term : "", "match", t + e->start, e->end - e->start,
                              "context", ctx);
        free(ctx);
        if (o) json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *article_json(const struct herald_article *a)
{
    char date[32];
    json_t *cats = json_array();
    for (size_t i = 0; cats && i < a->n_categories; i++)
        json_array_append_new(cats, json_string(a->categories[i]));
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "id", str_or_null(a->id));
    json_object_set_new(o, "source", str_or_null(a->source));
    json_object_set_new(o, "title", str_or_null(a->title));
    json_object_set_new(o, "link", str_or_null(a->link));
    json_object_set_new(o, "author", str_or_null(a->author));
    json_object_set_new(o, "published",
                        a->published >= 0
                            ? json_string(date_format_utc(a->published, date, sizeof date))
                            : json_null());
    json_object_set_new(o, "summary", str_or_null(a->summary));
    json_object_set_new(o, "text", str_or_null(a->text));
    json_object_set_new(o, "categories", cats ? cats : json_array());
    json_object_set_new(o, "lang", str_or_null(a->lang));
    return o;
}

char *alert_to_json(const char *id, const char *rule, int64_t created,
                    const struct herald_article *a, const struct evidence_list *ev)
{
    char date[32];
    json_t *root = json_object();
    if (!root) return NULL;
    json_object_set_new(root, "id", json_string(id));
    json_object_set_new(root, "rule", json_string(rule));
    json_object_set_new(root, "notifier", json_null());
    json_object_set_new(root, "created", json_string(date_format_utc(created, date, sizeof date)));
    json_object_set_new(root, "article", article_json(a));
    json_object_set_new(root, "evidence", evidence_json(a, ev));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int alert_delivery_parse(const char *json, const char *notifier, unsigned attempt,
                         struct alert_delivery_doc *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    out->root = json_loads(json, 0, &je);
    json_t *art = out->root ? json_object_get(out->root, "article") : NULL;
    if (!out->root || !json_is_object(art) || !jstr(out->root, "id") || !jstr(out->root, "rule")) {
        snprintf(err, errlen, "stored alert is not a valid alert document%s%s",
                 out->root ? "" : ": ", out->root ? "" : je.text);
        alert_delivery_free(out);
        return -1;
    }
    json_object_set_new(out->root, "notifier", json_string(notifier));
    out->json = json_dumps(out->root, JSON_COMPACT);
    struct herald_article *a = &out->article;
    a->struct_size = sizeof *a;
    a->id = jstr(art, "id");
    a->source = jstr(art, "source");
    a->title = jstr(art, "title");
    a->link = jstr(art, "link");
    a->author = jstr(art, "author");
    a->summary = jstr(art, "summary");
    a->text = jstr(art, "text");
    a->lang = jstr(art, "lang");
    const char *pub = jstr(art, "published");
    a->published = -1;
    if (pub) a->published = date_parse(pub);
    json_t *cats = json_object_get(art, "categories");
    size_t nc = json_is_array(cats) ? json_array_size(cats) : 0;
    out->categories = calloc(nc + 1, sizeof(char *));
    for (size_t i = 0; out->categories && i < nc; i++) {
        const char *c = json_string_value(json_array_get(cats, i));
        if (c) out->categories[a->n_categories++] = c;
    }
    a->categories = out->categories;
    json_t *ev = json_object_get(out->root, "evidence");
    size_t ne = json_is_array(ev) ? json_array_size(ev) : 0;
    out->evidence = calloc(ne + 1, sizeof *out->evidence);
    size_t k = 0;
    for (size_t i = 0; out->evidence && i < ne; i++) {
        json_t *e = json_array_get(ev, i);
        const char *field = jstr(e, "field");
        if (!field) continue;
        out->evidence[k].field = field;
        out->evidence[k].start = (size_t)json_integer_value(json_object_get(e, "start"));
        out->evidence[k].end = (size_t)json_integer_value(json_object_get(e, "end"));
        out->evidence[k].term = jstr(e, "term");
        k++;
    }
    struct herald_alert *al = &out->alert;
    al->struct_size = sizeof *al;
    al->id = jstr(out->root, "id");
    al->rule = jstr(out->root, "rule");
    al->notifier = notifier;
    const char *created = jstr(out->root, "created");
    al->created = created ? date_parse(created) : 0;
    al->attempt = attempt;
    al->article = a;
    al->evidence = out->evidence;
    al->n_evidence = k;
    al->json = out->json ? out->json : json;
    if (!out->json || !out->categories || !out->evidence) {
        snprintf(err, errlen, "out of memory");
        alert_delivery_free(out);
        return -1;
    }
    return 0;
}

void alert_delivery_free(struct alert_delivery_doc *d)
{
    free(d->json);
    free(d->evidence);
    free(d->categories);
    if (d->root) json_decref(d->root);
    memset(d, 0, sizeof *d);
}
