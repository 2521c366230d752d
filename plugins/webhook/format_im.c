/*
 * webhook messaging formats — the push and chat APIs that need more than a body: Gotify
 * (POST <server>/message with an X-Gotify-Key header; Markdown message, click URL extras),
 * Matrix (PUT <homeserver>/_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId} with a
 * bearer token; the alert id is the transaction id, so a retried delivery is de-duplicated by
 * the homeserver) and Telegram (POST <api>/bot<token>/sendMessage with HTML text). Input is
 * the alert and the notifier's format options; output is a struct webhook_msg with its own
 * method, URL and headers. Tokens go into headers or the URL only, never into a log line.
 */
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Gotify has no documented message limit: stay near the push services' 4 KB. Matrix events
 * are at most 65536 bytes as JSON: two texts of 7000 UTF-16 units (at most 21 KB each) fit
 * with room for escaping. Telegram: 1-4096 characters after entity parsing; the limit is
 * applied to the HTML itself, which is never shorter. */
enum {
    GOTIFY_TITLE_UNITS = 250,
    GOTIFY_MESSAGE_MAX = 4096,
    MATRIX_TEXT_MAX = 7000,
    TELEGRAM_TEXT_MAX = 4096,
    TITLE_UNITS = 300,
    EVIDENCE_BYTES = 3000,
};

/* Append s percent-encoded except RFC 3986 unreserved characters (a URL path segment). */
static void put_pct(struct atext *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int unreserved = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                         (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                         *p == '~';
        if (unreserved) {
            atext_putn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            atext_putn(b, e, 3);
        }
    }
}

/* Append url without its trailing slashes. */
static void put_base(struct atext *b, const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    atext_putn(b, url, n);
}

/* Hand the finished URL in u to m (NULL on failure). */
static int take_url(struct webhook_msg *m, struct atext *u)
{
    if (u->failed || !u->p) {
        atext_free(u);
        return -1;
    }
    m->url = u->p;
    return 0;
}

/* --- Gotify --- */

/* <server>/message, unless the configured URL already names the endpoint. */
static int gotify_url(struct webhook_msg *m, const char *url)
{
    struct atext u = {0};
    size_t path = strcspn(url, "?#");
    const char *end = url + path;
    if (path >= 8 && strncmp(end - 8, "/message", 8) == 0) {
        atext_puts(&u, url);
    } else {
        struct atext base = {0};
        atext_putn(&base, url, path);
        put_base(&u, base.p ? base.p : "");
        atext_free(&base);
        atext_puts(&u, "/message");
        atext_puts(&u, end); /* a ?token=… query stays */
    }
    return take_url(m, &u);
}

enum herald_result webhook_render_gotify(const struct webhook_fmt *f, const struct herald_alert *al,
                                         struct webhook_msg *m, char *err, size_t errlen)
{
    struct atext title = {0}, msg = {0};
    const char *link = webhook_link(al);
    webhook_headline(&title, al, AMARK_PLAIN);
    atext_puts(&title, ": ");
    amark_field(&title, AMARK_PLAIN, webhook_title(al), GOTIFY_TITLE_UNITS);
    if (f->tpl) {
        tpl_render(&msg, f->tpl, al, AMARK_MARKDOWN);
    } else {
        struct atext_marks mk = amark_marks(AMARK_MARKDOWN);
        /* two trailing spaces: a Markdown line break inside the quote */
        if (atext_evidence_marked(&msg, al, 3, "> ", "  \n", &mk, EVIDENCE_BYTES))
            atext_puts(&msg, "\n");
        webhook_origin(&msg, al, " \xc2\xb7 ", AMARK_MARKDOWN);
        if (link) {
            atext_puts(&msg, "\n\n[Open article](");
            amark_put_url(&msg, AMARK_MARKDOWN, link);
            atext_puts(&msg, ")");
        }
    }
    amark_cut(&msg, AMARK_MARKDOWN, GOTIFY_MESSAGE_MAX);

    json_t *root = json_object(), *extras = json_object();
    int ok = root && extras && webhook_set_text(root, "title", &title) &&
             webhook_set_text(root, "message", &msg) &&
             json_object_set_new(extras, "client::display",
                                 json_pack("{s:s}", "contentType", "text/markdown")) == 0;
    if (ok && f->priority != -1)
        ok = json_object_set_new(root, "priority", json_integer(f->priority)) == 0;
    if (ok && link)
        ok = json_object_set_new(extras, "client::notification",
                                 json_pack("{s:{s:s}}", "click", "url", link)) == 0;
    if (ok) ok = json_object_set(root, "extras", extras) == 0;
    json_decref(extras);
    atext_free(&title);
    atext_free(&msg);
    if (ok && f->token) ok = webhook_msg_header(m, "X-Gotify-Key", f->token) == 0;
    if (ok) ok = gotify_url(m, f->url) == 0;
    return webhook_put_json(m, root, ok, err, errlen);
}

/* --- Matrix --- */

/* The HTML body: headline and linked title, the evidence quoted, the origin in italics. */
static void matrix_html(struct atext *b, const struct herald_alert *al)
{
    const char *link = webhook_link(al);
    atext_puts(b, "<p><b>");
    webhook_headline(b, al, AMARK_HTML);
    atext_puts(b, "</b>: ");
    if (link) {
        atext_puts(b, "<a href=\"");
        amark_put_url(b, AMARK_HTML, link);
        atext_puts(b, "\">");
    }
    amark_field(b, AMARK_HTML, webhook_title(al), TITLE_UNITS);
    atext_puts(b, link ? "</a></p>" : "</p>");
    struct atext ev = {0};
    struct atext_marks mk = amark_marks(AMARK_HTML);
    size_t n = atext_evidence_marked(&ev, al, 3, "", "<br>", &mk, EVIDENCE_BYTES);
    if (n) {
        ev.len -= 4; /* no <br> after the last line */
        atext_puts(b, "<blockquote>");
        atext_putn(b, ev.p, ev.len);
        atext_puts(b, "</blockquote>");
    }
    if (ev.failed) b->failed = 1;
    atext_free(&ev);
    atext_puts(b, "<p><i>");
    webhook_origin(b, al, " \xc2\xb7 ", AMARK_HTML);
    atext_puts(b, "</i></p>");
}

static int matrix_url(struct webhook_msg *m, const struct webhook_fmt *f,
                      const struct herald_alert *al)
{
    struct atext u = {0};
    put_base(&u, f->url);
    atext_puts(&u, "/_matrix/client/v3/rooms/");
    put_pct(&u, f->room);
    atext_puts(&u, "/send/m.room.message/");
    put_pct(&u, al->id && al->id[0] ? al->id : "herald");
    return take_url(m, &u);
}

enum herald_result webhook_render_matrix(const struct webhook_fmt *f, const struct herald_alert *al,
                                         struct webhook_msg *m, char *err, size_t errlen)
{
    struct atext body = {0}, html = {0}, auth = {0};
    if (f->tpl) {
        tpl_render_ex(&body, f->tpl, al, AMARK_PLAIN, 1); /* the template's tags left out */
        tpl_render(&html, f->tpl, al, AMARK_HTML);
    } else {
        atext_alert_block(&body, al);
        if (body.len && body.p[body.len - 1] == '\n') body.p[--body.len] = '\0';
        matrix_html(&html, al);
    }
    amark_cut(&body, AMARK_PLAIN, MATRIX_TEXT_MAX);
    amark_cut(&html, AMARK_HTML, MATRIX_TEXT_MAX);
    /* m.notice: the message type the spec gives automated senders (clients never answer it) */
    json_t *root =
        json_pack("{s:s, s:s}", "msgtype", "m.notice", "format", "org.matrix.custom.html");
    int ok = root && webhook_set_text(root, "body", &body) &&
             webhook_set_text(root, "formatted_body", &html);
    atext_puts(&auth, "Bearer ");
    atext_puts(&auth, f->token ? f->token : "");
    ok = ok && !auth.failed && webhook_msg_header(m, "Authorization", auth.p) == 0 &&
         matrix_url(m, f, al) == 0;
    m->method = "PUT"; /* the transaction id in the URL makes a retry idempotent */
    atext_free(&body);
    atext_free(&html);
    atext_free(&auth);
    return webhook_put_json(m, root, ok, err, errlen);
}

/* --- Telegram --- */

/* Telegram's HTML: only its own tags (b, i, a, blockquote, …), "\n" for line breaks. */
static void telegram_html(struct atext *b, const struct herald_alert *al)
{
    const char *link = webhook_link(al);
    atext_puts(b, "<b>");
    webhook_headline(b, al, AMARK_HTML);
    atext_puts(b, "</b>\n");
    if (link) {
        atext_puts(b, "<a href=\"");
        amark_put_url(b, AMARK_HTML, link);
        atext_puts(b, "\">");
    }
    amark_field(b, AMARK_HTML, webhook_title(al), TITLE_UNITS);
    atext_puts(b, link ? "</a>\n" : "\n");
    struct atext ev = {0};
    struct atext_marks mk = amark_marks(AMARK_HTML);
    if (atext_evidence_marked(&ev, al, 3, "", "\n", &mk, EVIDENCE_BYTES)) {
        ev.len--; /* no newline after the last line */
        atext_puts(b, "<blockquote>");
        atext_putn(b, ev.p, ev.len);
        atext_puts(b, "</blockquote>\n");
    }
    if (ev.failed) b->failed = 1;
    atext_free(&ev);
    atext_puts(b, "<i>");
    webhook_origin(b, al, " \xc2\xb7 ", AMARK_HTML);
    atext_puts(b, "</i>");
}

/* chat_id as the API types it: an integer id, or a "@channel" string. */
static json_t *telegram_chat(const char *chat)
{
    if (chat[0] == '@') return json_string(chat);
    return json_integer((json_int_t)strtoll(chat, NULL, 10));
}

enum herald_result webhook_render_telegram(const struct webhook_fmt *f,
                                           const struct herald_alert *al, struct webhook_msg *m,
                                           char *err, size_t errlen)
{
    struct atext text = {0}, u = {0};
    if (f->tpl)
        tpl_render(&text, f->tpl, al, AMARK_HTML);
    else
        telegram_html(&text, al);
    amark_cut(&text, AMARK_HTML, TELEGRAM_TEXT_MAX);
    const char *link = webhook_link(al);
    /* preview the article itself (not some other link in the text), or nothing */
    json_t *preview = link ? json_pack("{s:s, s:b}", "url", link, "prefer_small_media", 1)
                           : json_pack("{s:b}", "is_disabled", 1);
    json_t *root = json_pack("{s:o, s:s, s:o}", "chat_id", telegram_chat(f->chat_id), "parse_mode",
                             "HTML", "link_preview_options", preview);
    int ok = root && webhook_set_text(root, "text", &text);
    put_base(&u, f->url);
    atext_puts(&u, "/bot");
    atext_puts(&u, f->token);
    atext_puts(&u, "/sendMessage");
    if (take_url(m, &u) != 0) ok = 0;
    atext_free(&text);
    return webhook_put_json(m, root, ok, err, errlen);
}
