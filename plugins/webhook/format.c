/*
 * webhook formats — turn one alert into the message a receiver expects: the alert JSON as is,
 * Slack ({text, blocks} in mrkdwn), Discord ({content, embeds} within its character limits),
 * ntfy (plain text body, Title/Click/Tags headers) or a plain text block. Input is the alert
 * from deliver(); output is a struct webhook_msg that webhook.c posts. Article text is
 * hostile: it is cleaned of control characters, cut on UTF-8 boundaries and escaped for each
 * receiver's markup, and nothing from it may inject a header line.
 */
#include "webhook.h"

#include <jansson.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Receiver limits. Slack: section text 3000 characters; Discord: content 2000, embed title
 * 256, description 4096, footer 2048 (counted in UTF-16 units); ntfy: messages above 4096
 * bytes become attachments. Byte caps are safe bounds for character limits. */
enum {
    SLACK_TEXT_MAX = 2900,
    SLACK_TITLE_MAX = 300,
    SLACK_LINK_MAX = 1000,
    DISCORD_CONTENT_MAX = 2000,
    DISCORD_TITLE_MAX = 256,
    DISCORD_DESC_MAX = 4096,
    DISCORD_FOOTER_MAX = 2048,
    SUMMARY_MAX = 4096,
    NTFY_BODY_MAX = 4000,
    NTFY_TITLE_MAX = 250,
    RFC2047_CHUNK = 45, /* raw bytes per encoded word: 60 base64 chars, 72 with the framing */
};

static const struct {
    const char *name;
    enum webhook_format format;
} formats[] = {
    {"json", WEBHOOK_JSON}, {"slack", WEBHOOK_SLACK}, {"discord", WEBHOOK_DISCORD},
    {"ntfy", WEBHOOK_NTFY}, {"text", WEBHOOK_TEXT},
};

int webhook_format_parse(const char *name, enum webhook_format *out)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(name, formats[i].name) == 0) {
            *out = formats[i].format;
            return 0;
        }
    }
    return -1;
}

const char *webhook_format_name(enum webhook_format f)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].format == f) return formats[i].name;
    return "?";
}

int webhook_url_ok(const char *url)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) return 0;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return 0;
    return 1;
}

void webhook_msg_free(struct webhook_msg *m)
{
    atext_free(&m->body);
    for (size_t i = 0; i < m->n_headers; i++)
        free(m->headers[i]);
    m->n_headers = 0;
}

/* --- text helpers --- */

/* Bytes of s[0..len) (valid UTF-8) that fit in max_units UTF-16 code units, the unit Discord
 * counts in: characters above U+FFFF count twice. */
static size_t utf16_fit(const char *s, size_t len, size_t max_units)
{
    size_t i = 0, units = 0;
    while (i < len) {
        size_t k = atext_utf8_seq((const unsigned char *)s + i, len - i);
        if (k == 0) k = 1; /* cleaned text has none; count a stray byte as one unit */
        size_t u = k == 4 ? 2 : 1;
        if (units + u > max_units) break;
        units += u;
        i += k;
    }
    return i;
}

/* The cleaned text of src cut to max_units UTF-16 units, with an ellipsis when cut. */
static void put_units(struct atext *out, const char *src, size_t len, size_t max_units)
{
    size_t fit = utf16_fit(src, len, max_units);
    if (fit == len) {
        atext_putn(out, src, len);
        return;
    }
    atext_putn(out, src, utf16_fit(src, len, max_units - 1));
    atext_puts(out, ATEXT_ELLIPSIS);
}

/* Append clean text escaped for Slack mrkdwn (&, <, > as entities), at most max bytes, never
 * splitting a character or an entity. Returns 0 when all of it fit. */
static int put_mrkdwn(struct atext *out, const char *s, size_t n, size_t max)
{
    size_t added = 0, i = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t k = 1;
        if (s[i] == '&')
            rep = "&amp;";
        else if (s[i] == '<')
            rep = "&lt;";
        else if (s[i] == '>')
            rep = "&gt;";
        else if ((k = atext_utf8_seq((const unsigned char *)s + i, n - i)) == 0)
            k = 1;
        size_t w = rep ? strlen(rep) : k;
        if (added + w > max) return -1;
        atext_putn(out, rep ? rep : s + i, w);
        added += w;
        i += k;
    }
    return 0;
}

/* A link safe inside Slack's <url|text>: the characters that end it are percent-encoded. */
static void put_slack_url(struct atext *out, const char *url)
{
    for (const char *p = url; *p; p++) {
        if (*p == '|')
            atext_puts(out, "%7C");
        else if (*p == '<')
            atext_puts(out, "%3C");
        else if (*p == '>')
            atext_puts(out, "%3E");
        else
            atext_putn(out, p, 1);
    }
}

static const char *title_of(const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    return a && a->title && a->title[0] ? a->title : "(untitled)";
}

static const char *link_of(const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    return a && webhook_url_ok(a->link) ? a->link : NULL;
}

/* "source: X  published: Y" for the article. */
static void put_origin_line(struct atext *b, const struct herald_alert *al, const char *sep)
{
    const struct herald_article *a = al->article;
    char date[32];
    atext_puts(b, "source: ");
    atext_put_field(b, a && a->source ? a->source : "?", 200);
    atext_puts(b, sep);
    atext_puts(b, "published: ");
    atext_puts(b, a && atext_iso8601(a->published, date) == 0 ? date : "unknown");
}

/* Serialise a jansson document into the message body (takes the reference to root). */
static enum herald_result put_json(struct webhook_msg *m, json_t *root, int ok, char *err,
                                   size_t errlen)
{
    char *s = ok && root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!s) {
        snprintf(err, errlen, "webhook: out of memory building the JSON body");
        return HERALD_RETRY;
    }
    atext_puts(&m->body, s);
    free(s);
    return HERALD_DELIVERED;
}

static int set_str(json_t *obj, const char *key, const struct atext *t)
{
    return !t->failed && json_object_set_new(obj, key, json_stringn(t->p ? t->p : "", t->len)) == 0;
}

/* --- formats --- */

/* Append a {"type":"section","text":{"type":"mrkdwn","text":…}} block. */
static int add_section(json_t *blocks, const struct atext *t)
{
    if (t->failed || !t->p) return 0;
    json_t *sec = json_pack("{s:s, s:{s:s, s:s%}}", "type", "section", "text", "type", "mrkdwn",
                            "text", t->p, t->len);
    return sec && json_array_append_new(blocks, sec) == 0;
}

/* The first section: the linked title, then rule, source and date. Each part has its own cap
 * (after escaping) so the whole stays under Slack's 3000 characters. */
static void slack_head(struct atext *head, const struct herald_alert *al)
{
    struct atext title = {0}, rule = {0}, origin = {0};
    atext_put_field(&title, title_of(al), SLACK_TITLE_MAX);
    atext_put_field(&rule, al->rule ? al->rule : "?", 100);
    put_origin_line(&origin, al, " \xc2\xb7 "); /* U+00B7 middle dot */
    const char *link = link_of(al);
    if (link && strlen(link) > SLACK_LINK_MAX) link = NULL;
    atext_puts(head, "*");
    if (link) {
        atext_puts(head, "<");
        put_slack_url(head, link);
        atext_puts(head, "|");
    }
    put_mrkdwn(head, title.p ? title.p : "", title.len, 1000);
    atext_puts(head, link ? ">*\n" : "*\n");
    atext_puts(head, "rule ");
    put_mrkdwn(head, rule.p ? rule.p : "", rule.len, 300);
    atext_puts(head, " \xc2\xb7 ");
    put_mrkdwn(head, origin.p ? origin.p : "", origin.len, 600);
    head->failed |= title.failed | rule.failed | origin.failed;
    atext_free(&title);
    atext_free(&rule);
    atext_free(&origin);
}

/* Each line of `lines` as a mrkdwn block quote ("> " stays markup, the text is escaped),
 * within SLACK_TEXT_MAX bytes in all. */
static void slack_quote(struct atext *out, const struct atext *lines)
{
    size_t i = 0, room = SLACK_TEXT_MAX;
    while (!lines->failed && i < lines->len) {
        const char *nl = memchr(lines->p + i, '\n', lines->len - i);
        size_t n = nl ? (size_t)(nl - (lines->p + i)) : lines->len - i;
        size_t before = out->len;
        if (room < 8) break;
        atext_puts(out, "> ");
        if (put_mrkdwn(out, lines->p + i, n, room - 6) != 0) atext_puts(out, ATEXT_ELLIPSIS);
        atext_puts(out, "\n");
        room -= out->len - before < room ? out->len - before : room;
        i += n + 1;
    }
}

static enum herald_result render_slack(const struct herald_alert *al, struct webhook_msg *m,
                                       char *err, size_t errlen)
{
    struct atext tmp = {0}, fallback = {0}, head = {0}, quoted = {0};
    /* `text` is what notifications and old clients show */
    atext_puts(&tmp, "[herald] ");
    atext_put_field(&tmp, al->rule ? al->rule : "?", 100);
    atext_puts(&tmp, ": ");
    atext_put_field(&tmp, title_of(al), SLACK_TITLE_MAX);
    if (!tmp.failed) put_mrkdwn(&fallback, tmp.p, tmp.len, SLACK_TEXT_MAX);
    slack_head(&head, al);

    tmp.len = 0;
    atext_evidence(&tmp, al, 3, "", "\n");
    slack_quote(&quoted, &tmp);

    json_t *root = json_object(), *blocks = json_array();
    int ok = root && blocks && !tmp.failed && set_str(root, "text", &fallback) &&
             add_section(blocks, &head) && (!quoted.len || add_section(blocks, &quoted)) &&
             json_object_set(root, "blocks", blocks) == 0;
    json_decref(blocks);
    atext_free(&tmp);
    atext_free(&fallback);
    atext_free(&head);
    atext_free(&quoted);
    return put_json(m, root, ok, err, errlen);
}

static enum herald_result render_discord(const struct herald_alert *al, struct webhook_msg *m,
                                         char *err, size_t errlen)
{
    struct atext tmp = {0}, content = {0}, title = {0}, desc = {0}, footer = {0};
    atext_puts(&tmp, "**[herald] ");
    atext_put_field(&tmp, al->rule ? al->rule : "?", 200);
    atext_puts(&tmp, "**");
    put_units(&content, tmp.p ? tmp.p : "", tmp.len, DISCORD_CONTENT_MAX);

    tmp.len = 0;
    atext_put_field(&tmp, title_of(al), 4 * DISCORD_TITLE_MAX);
    put_units(&title, tmp.p ? tmp.p : "", tmp.len, DISCORD_TITLE_MAX);

    tmp.len = 0;
    atext_evidence(&tmp, al, 3, "> ", "\n");
    if (al->article && al->article->summary && al->article->summary[0]) {
        if (tmp.len) atext_puts(&tmp, "\n");
        atext_put_field(&tmp, al->article->summary, SUMMARY_MAX);
    }
    put_units(&desc, tmp.p ? tmp.p : "", tmp.len, DISCORD_DESC_MAX);

    tmp.len = 0;
    put_origin_line(&tmp, al, " \xc2\xb7 ");
    put_units(&footer, tmp.p ? tmp.p : "", tmp.len, DISCORD_FOOTER_MAX);

    json_t *root = json_object(), *embed = json_object(), *embeds = json_array();
    int ok =
        root && embed && embeds && !tmp.failed && set_str(root, "content", &content) &&
        set_str(embed, "title", &title) &&
        json_object_set_new(embed, "footer",
                            json_pack("{s:s%}", "text", footer.p ? footer.p : "", footer.len)) == 0;
    if (ok && desc.len) ok = set_str(embed, "description", &desc);
    const char *link = link_of(al);
    if (ok && link) ok = json_object_set_new(embed, "url", json_string(link)) == 0;
    char date[32];
    if (ok && al->article && atext_iso8601(al->article->published, date) == 0)
        ok = json_object_set_new(embed, "timestamp", json_string(date)) == 0;
    if (ok)
        ok = json_array_append(embeds, embed) == 0 &&
             json_object_set(root, "embeds", embeds) == 0 &&
             /* article text must never ping @everyone or a role */
             json_object_set_new(root, "allowed_mentions", json_pack("{s:[]}", "parse")) == 0;
    json_decref(embed);
    json_decref(embeds);
    struct atext *all[] = {&tmp, &content, &title, &desc, &footer};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        atext_free(all[i]);
    return put_json(m, root, ok, err, errlen);
}

/* Append a header value for ntfy: plain when it is printable ASCII, else RFC 2047 encoded
 * words (=?UTF-8?B?…?=), which ntfy decodes; never a raw byte outside ASCII. */
static void put_rfc2047(struct atext *out, const char *s, size_t n)
{
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f;
    if (ascii) {
        atext_putn(out, s, n);
        return;
    }
    size_t i = 0;
    while (i < n) {
        size_t k = atext_cut(s + i, n - i, RFC2047_CHUNK);
        if (k == 0) k = n - i < RFC2047_CHUNK ? n - i : RFC2047_CHUNK;
        unsigned char enc[4 * ((RFC2047_CHUNK + 2) / 3) + 1];
        int len = EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)k);
        if (i > 0) atext_puts(out, " ");
        atext_puts(out, "=?UTF-8?B?");
        atext_putn(out, (const char *)enc, len > 0 ? (size_t)len : 0);
        atext_puts(out, "?=");
        i += k;
    }
}

static char *header_dup(const struct atext *h)
{
    return h->failed || !h->p ? NULL : strdup(h->p);
}

static enum herald_result render_ntfy(const struct herald_alert *al, struct webhook_msg *m,
                                      char *err, size_t errlen)
{
    struct atext b = {0}, t = {0}, h = {0};
    atext_evidence(&b, al, 3, "", "\n");
    put_origin_line(&b, al, "  ");
    atext_puts(&b, "\n");
    const char *link = link_of(al);
    if (link) {
        atext_puts(&b, link);
        atext_puts(&b, "\n");
    }
    size_t keep = b.failed ? 0 : atext_cut(b.p, b.len, NTFY_BODY_MAX);
    atext_putn(&m->body, b.p, keep);

    atext_put_field(&t, title_of(al), NTFY_TITLE_MAX);
    atext_puts(&h, "Title: ");
    put_rfc2047(&h, t.p ? t.p : "", t.len);
    m->headers[m->n_headers++] = header_dup(&h);

    h.len = 0;
    atext_puts(&h, "Tags: herald,");
    for (const char *p = al->rule ? al->rule : ""; *p && h.len < 120; p++) {
        char c = *p;
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.';
        atext_putn(&h, word ? &c : "-", 1); /* a comma would split the tag */
    }
    m->headers[m->n_headers++] = header_dup(&h);

    if (link) {
        h.len = 0;
        atext_puts(&h, "Click: ");
        atext_puts(&h, link);
        m->headers[m->n_headers++] = header_dup(&h);
    }
    int ok = !b.failed && !m->body.failed;
    for (size_t i = 0; i < m->n_headers; i++)
        ok = ok && m->headers[i];
    atext_free(&b);
    atext_free(&t);
    atext_free(&h);
    if (!ok) {
        snprintf(err, errlen, "webhook: out of memory building the ntfy message");
        return HERALD_RETRY;
    }
    return HERALD_DELIVERED;
}

enum herald_result webhook_format_render(enum webhook_format f, const struct herald_alert *alert,
                                         struct webhook_msg *m, char *err, size_t errlen)
{
    enum herald_result r = HERALD_DELIVERED;
    switch (f) {
    case WEBHOOK_JSON:
        m->content_type = "application/json";
        if (!alert->json) {
            snprintf(err, errlen, "webhook: the alert has no JSON");
            return HERALD_FAILED;
        }
        atext_puts(&m->body, alert->json);
        break;
    case WEBHOOK_SLACK:
        m->content_type = "application/json";
        r = render_slack(alert, m, err, errlen);
        break;
    case WEBHOOK_DISCORD:
        m->content_type = "application/json";
        r = render_discord(alert, m, err, errlen);
        break;
    case WEBHOOK_NTFY:
        m->content_type = "text/plain; charset=utf-8";
        r = render_ntfy(alert, m, err, errlen);
        break;
    case WEBHOOK_TEXT:
        m->content_type = "text/plain; charset=utf-8";
        atext_alert_block(&m->body, alert);
        break;
    }
    if (r == HERALD_DELIVERED && m->body.failed) {
        snprintf(err, errlen, "webhook: out of memory rendering the %s message",
                 webhook_format_name(f));
        return HERALD_RETRY;
    }
    return r;
}
