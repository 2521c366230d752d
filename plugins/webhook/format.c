/*
 * webhook formats — the registry of receiver formats, the per-format option checks, the
 * helpers the format files share, and the simple formats: the alert JSON as is (with a
 * "message" field when a template is set), ntfy (plain text body, Title/Click/Tags/Priority
 * headers) and a plain text block. Input is the alert from deliver(); output is a struct
 * webhook_msg that webhook.c sends. Article text is hostile: it is cleaned of control
 * characters, cut on UTF-8 boundaries and escaped for each receiver's markup, and nothing
 * from it may inject a header line.
 */
#include "webhook.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ntfy: messages above 4096 bytes become attachments; headers stay short. */
enum {
    NTFY_BODY_MAX = 4000,
    NTFY_TITLE_MAX = 250,
    RFC2047_CHUNK = 45, /* raw bytes per encoded word: 60 base64 chars, 72 with the framing */
    TOKEN_MAX = 1024,
};

static const struct {
    const char *name;
    enum webhook_format format;
} formats[] = {
    {"json", WEBHOOK_JSON},         {"slack", WEBHOOK_SLACK},
    {"discord", WEBHOOK_DISCORD},   {"mattermost", WEBHOOK_MATTERMOST},
    {"teams", WEBHOOK_TEAMS},       {"ntfy", WEBHOOK_NTFY},
    {"gotify", WEBHOOK_GOTIFY},     {"matrix", WEBHOOK_MATRIX},
    {"telegram", WEBHOOK_TELEGRAM}, {"text", WEBHOOK_TEXT},
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
    return amark_url_ok(url);
}

void webhook_msg_free(struct webhook_msg *m)
{
    atext_free(&m->body);
    free(m->url);
    m->url = NULL;
    for (size_t i = 0; i < m->n_headers; i++)
        free(m->headers[i]);
    m->n_headers = 0;
}

/* --- option checks --- */

/* Whether every byte of s is in the class: 't' token (printable ASCII, no space), 'd' digits. */
static int all_of(const char *s, char cls)
{
    if (!s || !s[0] || strlen(s) > TOKEN_MAX) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (cls == 'd' && !(*p >= '0' && *p <= '9')) return 0;
        if (cls == 't' && (*p <= 0x20 || *p >= 0x7f)) return 0;
    }
    return 1;
}

/* A Telegram bot token: "<bot id>:<secret>" of digits, letters, '_' and '-'. */
static int telegram_token_ok(const char *t)
{
    const char *colon = t ? strchr(t, ':') : NULL;
    if (!colon || colon == t || !colon[1] || strlen(t) > 200) return 0;
    for (const char *p = t; p < colon; p++)
        if (*p < '0' || *p > '9') return 0;
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* A Telegram chat: a (possibly negative) integer id or "@channelusername". */
static int telegram_chat_ok(const char *c)
{
    if (!c) return 0;
    if (c[0] == '@') {
        size_t n = strlen(c + 1);
        if (n < 1 || n > 64) return 0;
        for (const char *p = c + 1; *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= 'A' && *p <= 'Z') || *p == '_'))
                return 0;
        return 1;
    }
    return all_of(c[0] == '-' ? c + 1 : c, 'd') && strlen(c) <= 20;
}

int webhook_format_check(const struct webhook_fmt *f, char *err, size_t errlen)
{
    enum webhook_format t = f->format;
    int uses_token =
        t == WEBHOOK_GOTIFY || t == WEBHOOK_MATRIX || t == WEBHOOK_TELEGRAM || t == WEBHOOK_NTFY;
    if (f->token && !uses_token) {
        snprintf(err, errlen,
                 "webhook: token is only used by the gotify, matrix, telegram and "
                 "ntfy formats (set headers for others)");
        return -1;
    }
    if (f->token && !all_of(f->token, 't')) {
        snprintf(err, errlen, "webhook: token must be printable ASCII without spaces");
        return -1;
    }
    if (f->room && t != WEBHOOK_MATRIX) {
        snprintf(err, errlen, "webhook: room is only used by the matrix format");
        return -1;
    }
    if (f->chat_id && t != WEBHOOK_TELEGRAM) {
        snprintf(err, errlen, "webhook: chat_id is only used by the telegram format");
        return -1;
    }
    if (f->priority != -1 && t != WEBHOOK_NTFY && t != WEBHOOK_GOTIFY) {
        snprintf(err, errlen, "webhook: priority is only used by the ntfy and gotify formats");
        return -1;
    }
    if (t == WEBHOOK_NTFY && f->priority != -1 && (f->priority < 1 || f->priority > 5)) {
        snprintf(err, errlen, "webhook: ntfy priority must be 1 (min) to 5 (max)");
        return -1;
    }
    if (t == WEBHOOK_GOTIFY && f->priority != -1 && (f->priority < 0 || f->priority > 10)) {
        snprintf(err, errlen, "webhook: gotify priority must be 0 to 10");
        return -1;
    }
    if (t == WEBHOOK_GOTIFY && !f->token && (!f->url || !strstr(f->url, "token="))) {
        snprintf(err, errlen, "webhook: gotify needs token = \"<application token>\"");
        return -1;
    }
    if (t == WEBHOOK_MATRIX) {
        if (!f->token || !f->room) {
            snprintf(err, errlen, "webhook: matrix needs token (an access token) and room");
            return -1;
        }
        if (f->room[0] != '!' || !all_of(f->room, 't')) {
            snprintf(err, errlen,
                     "webhook: matrix room must be a room id like \"!abc123:example.org\" "
                     "(an alias such as #room:server cannot be sent to)");
            return -1;
        }
    }
    if (t == WEBHOOK_TELEGRAM) {
        if (!telegram_token_ok(f->token)) {
            snprintf(err, errlen,
                     "webhook: telegram needs token = \"<bot id>:<secret>\" "
                     "as BotFather gives it");
            return -1;
        }
        if (!telegram_chat_ok(f->chat_id)) {
            snprintf(err, errlen,
                     "webhook: telegram needs chat_id: a numeric chat id or \"@channelname\"");
            return -1;
        }
    }
    return 0;
}

/* --- shared helpers --- */

const char *webhook_title(const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    return a && a->title && a->title[0] ? a->title : "(untitled)";
}

const char *webhook_link(const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    return a && webhook_url_ok(a->link) && strlen(a->link) <= 2000 ? a->link : NULL;
}

void webhook_origin(struct atext *b, const struct herald_alert *al, const char *sep, enum amark k)
{
    const struct herald_article *a = al->article;
    char date[32];
    atext_puts(b, "source: ");
    amark_field(b, k, a && a->source ? a->source : "?", 100);
    atext_puts(b, sep);
    atext_puts(b, "published: ");
    atext_puts(b, a && atext_iso8601(a->published, date) == 0 ? date : "unknown");
}

void webhook_headline(struct atext *b, const struct herald_alert *al, enum amark k)
{
    atext_puts(b, "[herald] ");
    amark_field(b, k, al->rule ? al->rule : "?", 100);
}

int webhook_set_text(json_t *obj, const char *key, const struct atext *t)
{
    return !t->failed && json_object_set_new(obj, key, json_stringn(t->p ? t->p : "", t->len)) == 0;
}

enum herald_result webhook_put_json(struct webhook_msg *m, json_t *root, int ok, char *err,
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

int webhook_msg_header(struct webhook_msg *m, const char *name, const char *value)
{
    if (m->n_headers >= WEBHOOK_MSG_HEADERS) return -1;
    size_t nl = strlen(name), vl = strlen(value);
    char *h = malloc(nl + vl + 3);
    if (!h) return -1;
    memcpy(h, name, nl);
    memcpy(h + nl, ": ", 2);
    memcpy(h + nl + 2, value, vl + 1);
    m->headers[m->n_headers++] = h;
    return 0;
}

/* --- json and text --- */

/* The alert JSON; with a template, the same document with a "message" field added. */
static enum herald_result render_json(const struct webhook_fmt *f, const struct herald_alert *al,
                                      struct webhook_msg *m, char *err, size_t errlen)
{
    if (!al->json) {
        snprintf(err, errlen, "webhook: the alert has no JSON");
        return HERALD_FAILED;
    }
    if (!f->tpl) {
        atext_puts(&m->body, al->json);
        return HERALD_DELIVERED;
    }
    json_t *root = json_loads(al->json, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "webhook: the alert JSON is not an object");
        return HERALD_FAILED;
    }
    struct atext msg = {0};
    tpl_render(&msg, f->tpl, al, AMARK_PLAIN);
    int ok = webhook_set_text(root, "message", &msg);
    atext_free(&msg);
    return webhook_put_json(m, root, ok, err, errlen);
}

/* Cut a plain body to max bytes on a character boundary, with an ellipsis. */
static void cut_bytes(struct atext *b, size_t max)
{
    if (b->failed || b->len <= max) return;
    b->len = atext_cut(b->p, b->len, max - 3);
    b->p[b->len] = '\0';
    atext_puts(b, ATEXT_ELLIPSIS);
}

/* --- ntfy --- */

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

static enum herald_result render_ntfy(const struct webhook_fmt *f, const struct herald_alert *al,
                                      struct webhook_msg *m, char *err, size_t errlen)
{
    const char *link = webhook_link(al);
    if (f->tpl) {
        tpl_render(&m->body, f->tpl, al, AMARK_PLAIN);
    } else {
        atext_evidence(&m->body, al, 3, "", "\n");
        webhook_origin(&m->body, al, "  ", AMARK_PLAIN);
        atext_puts(&m->body, "\n");
        if (link) {
            atext_puts(&m->body, link);
            atext_puts(&m->body, "\n");
        }
    }
    cut_bytes(&m->body, NTFY_BODY_MAX);

    struct atext t = {0}, h = {0};
    int ok = 1;
    atext_put_field(&t, webhook_title(al), NTFY_TITLE_MAX);
    put_rfc2047(&h, t.p ? t.p : "", t.len);
    ok = !h.failed && webhook_msg_header(m, "Title", h.p ? h.p : "") == 0;

    h.len = 0;
    atext_puts(&h, "herald,");
    for (const char *p = al->rule ? al->rule : ""; *p && h.len < 120; p++) {
        char c = *p;
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.';
        atext_putn(&h, word ? &c : "-", 1); /* a comma would split the tag */
    }
    ok = ok && !h.failed && webhook_msg_header(m, "Tags", h.p) == 0;
    if (ok && link) ok = webhook_msg_header(m, "Click", link) == 0;
    if (ok && f->priority != -1) {
        char pr[8];
        snprintf(pr, sizeof pr, "%ld", f->priority);
        ok = webhook_msg_header(m, "Priority", pr) == 0;
    }
    if (ok && f->token) {
        h.len = 0;
        atext_puts(&h, "Bearer ");
        atext_puts(&h, f->token);
        ok = !h.failed && webhook_msg_header(m, "Authorization", h.p) == 0;
    }
    atext_free(&t);
    atext_free(&h);
    if (!ok || m->body.failed) {
        snprintf(err, errlen, "webhook: out of memory building the ntfy message");
        return HERALD_RETRY;
    }
    return HERALD_DELIVERED;
}

/* The plain text block, or the template rendered as plain text. */
static void render_text(const struct webhook_fmt *f, const struct herald_alert *al,
                        struct webhook_msg *m)
{
    if (f->tpl)
        tpl_render(&m->body, f->tpl, al, AMARK_PLAIN);
    else
        atext_alert_block(&m->body, al);
}

enum herald_result webhook_format_render(const struct webhook_fmt *f,
                                         const struct herald_alert *alert, struct webhook_msg *m,
                                         char *err, size_t errlen)
{
    enum herald_result r = HERALD_DELIVERED;
    m->content_type = "application/json";
    m->method = "POST";
    switch (f->format) {
    case WEBHOOK_JSON:
        r = render_json(f, alert, m, err, errlen);
        break;
    case WEBHOOK_SLACK:
        r = webhook_render_slack(f, alert, m, err, errlen);
        break;
    case WEBHOOK_DISCORD:
        r = webhook_render_discord(f, alert, m, err, errlen);
        break;
    case WEBHOOK_MATTERMOST:
        r = webhook_render_mattermost(f, alert, m, err, errlen);
        break;
    case WEBHOOK_TEAMS:
        r = webhook_render_teams(f, alert, m, err, errlen);
        break;
    case WEBHOOK_NTFY:
        m->content_type = "text/plain; charset=utf-8";
        r = render_ntfy(f, alert, m, err, errlen);
        break;
    case WEBHOOK_GOTIFY:
        r = webhook_render_gotify(f, alert, m, err, errlen);
        break;
    case WEBHOOK_MATRIX:
        r = webhook_render_matrix(f, alert, m, err, errlen);
        break;
    case WEBHOOK_TELEGRAM:
        r = webhook_render_telegram(f, alert, m, err, errlen);
        break;
    case WEBHOOK_TEXT:
        m->content_type = "text/plain; charset=utf-8";
        render_text(f, alert, m);
        break;
    }
    if (r == HERALD_DELIVERED && m->body.failed) {
        snprintf(err, errlen, "webhook: out of memory rendering the %s message",
                 webhook_format_name(f->format));
        return HERALD_RETRY;
    }
    return r;
}
