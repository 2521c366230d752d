/*
 * webhook chat formats — the team-chat receivers: Slack (Block Kit sections in mrkdwn),
 * Discord (content + one embed, within Discord's limits, mentions disabled), Mattermost
 * (Markdown text) and Microsoft Teams (a message carrying an Adaptive Card). Input is the
 * alert and the notifier's format options; output is the JSON body of a struct webhook_msg.
 * Every piece of article text is cleaned, escaped for the receiver's markup (markup.h) and
 * capped below the receiver's documented limit, counted in UTF-16 units.
 */
#include "webhook.h"

#include <stdio.h>
#include <string.h>

/* Documented limits. Slack: section text 3000 characters. Discord: content 2000, embed title
 * 256, description 4096, footer 2048, and 6000 for all the text of an embed together (so the
 * footer, a short origin line, gets far less than its own limit). Mattermost: a post holds 16383
 * characters. Teams: a webhook message is at most 28 KB, so the card's text stays a few KB. */
enum {
    SLACK_SECTION_MAX = 3000,
    SLACK_TITLE_UNITS = 300,
    SLACK_EVIDENCE_BYTES = 2400,
    DISCORD_CONTENT_MAX = 2000,
    DISCORD_TITLE_MAX = 256,
    DISCORD_DESC_MAX = 4096,
    DISCORD_FOOTER_UNITS = 200,
    DISCORD_SUMMARY_UNITS = DISCORD_DESC_MAX,
    MATTERMOST_TEXT_MAX = 16383,
    TEAMS_TITLE_UNITS = 300,
    TEAMS_TEXT_MAX = 6000,
    EVIDENCE_BYTES = 3000,
};

/* {"type":"section","text":{"type":"mrkdwn","text":…}} appended to blocks. */
static int add_section(json_t *blocks, const struct atext *t)
{
    if (t->failed || !t->p) return 0;
    json_t *sec = json_pack("{s:s, s:{s:s, s:s%}}", "type", "section", "text", "type", "mrkdwn",
                            "text", t->p, t->len);
    return sec && json_array_append_new(blocks, sec) == 0;
}

/* The first Slack section: the title linked to the article, then rule, source and date. */
static void slack_head(struct atext *b, const struct herald_alert *al)
{
    const char *link = webhook_link(al);
    atext_puts(b, "*");
    if (link) {
        atext_puts(b, "<");
        amark_put_url(b, AMARK_MRKDWN, link);
        atext_puts(b, "|");
    }
    amark_field(b, AMARK_MRKDWN, webhook_title(al), SLACK_TITLE_UNITS);
    atext_puts(b, link ? ">*\nrule " : "*\nrule ");
    amark_field(b, AMARK_MRKDWN, al->rule ? al->rule : "?", 100);
    atext_puts(b, " \xc2\xb7 "); /* U+00B7 middle dot */
    webhook_origin(b, al, " \xc2\xb7 ", AMARK_MRKDWN);
}

enum herald_result webhook_render_slack(const struct webhook_fmt *f, const struct herald_alert *al,
                                        struct webhook_msg *m, char *err, size_t errlen)
{
    struct atext text = {0}, head = {0}, quoted = {0};
    if (f->tpl) {
        tpl_render(&head, f->tpl, al, AMARK_MRKDWN);
        amark_cut(&head, AMARK_MRKDWN, SLACK_SECTION_MAX);
        atext_putn(&text, head.p ? head.p : "", head.len);
    } else {
        /* `text` is what notifications and clients without blocks show */
        webhook_headline(&text, al, AMARK_MRKDWN);
        atext_puts(&text, ": ");
        amark_field(&text, AMARK_MRKDWN, webhook_title(al), SLACK_TITLE_UNITS);
        slack_head(&head, al);
        struct atext_marks mk = amark_marks(AMARK_MRKDWN);
        atext_evidence_marked(&quoted, al, 3, "> ", "\n", &mk, SLACK_EVIDENCE_BYTES);
    }
    json_t *root = json_object(), *blocks = json_array();
    int ok = root && blocks && webhook_set_text(root, "text", &text) &&
             add_section(blocks, &head) && (!quoted.len || add_section(blocks, &quoted)) &&
             json_object_set(root, "blocks", blocks) == 0;
    json_decref(blocks);
    atext_free(&text);
    atext_free(&head);
    atext_free(&quoted);
    return webhook_put_json(m, root, ok, err, errlen);
}

enum herald_result webhook_render_discord(const struct webhook_fmt *f,
                                          const struct herald_alert *al, struct webhook_msg *m,
                                          char *err, size_t errlen)
{
    struct atext content = {0}, title = {0}, desc = {0}, footer = {0};
    if (f->tpl) {
        tpl_render(&content, f->tpl, al, AMARK_MARKDOWN);
        amark_cut(&content, AMARK_MARKDOWN, DISCORD_CONTENT_MAX);
    } else {
        atext_puts(&content, "**");
        webhook_headline(&content, al, AMARK_MARKDOWN);
        atext_puts(&content, "**");
        struct atext_marks mk = amark_marks(AMARK_MARKDOWN);
        atext_evidence_marked(&desc, al, 3, "> ", "\n", &mk, EVIDENCE_BYTES);
        if (al->article && al->article->summary && al->article->summary[0]) {
            if (desc.len) atext_puts(&desc, "\n");
            amark_field(&desc, AMARK_MARKDOWN, al->article->summary, DISCORD_SUMMARY_UNITS);
        }
        amark_cut(&desc, AMARK_MARKDOWN, DISCORD_DESC_MAX);
    }
    amark_field(&title, AMARK_MARKDOWN, webhook_title(al), DISCORD_TITLE_MAX);
    amark_cut(&title, AMARK_MARKDOWN, DISCORD_TITLE_MAX);   /* escapes may have grown it */
    webhook_origin(&footer, al, " \xc2\xb7 ", AMARK_PLAIN); /* footers show no Markdown */
    amark_cut(&footer, AMARK_PLAIN, DISCORD_FOOTER_UNITS);

    json_t *root = json_object(), *embed = json_object(), *embeds = json_array();
    int ok =
        root && embed && embeds && webhook_set_text(root, "content", &content) &&
        webhook_set_text(embed, "title", &title) && !footer.failed &&
        json_object_set_new(embed, "footer",
                            json_pack("{s:s%}", "text", footer.p ? footer.p : "", footer.len)) == 0;
    if (ok && desc.len) ok = webhook_set_text(embed, "description", &desc);
    const char *link = webhook_link(al);
    if (ok && link) ok = json_object_set_new(embed, "url", json_string(link)) == 0;
    char date[32];
    if (ok && al->article && atext_iso8601(al->article->published, date) == 0)
        ok = json_object_set_new(embed, "timestamp", json_string(date)) == 0;
    if (ok)
        ok = json_array_append(embeds, embed) == 0 &&
             json_object_set(root, "embeds", embeds) == 0 &&
             /* article text must never ping @everyone, a role or a user */
             json_object_set_new(root, "allowed_mentions", json_pack("{s:[]}", "parse")) == 0;
    json_decref(embed);
    json_decref(embeds);
    atext_free(&content);
    atext_free(&title);
    atext_free(&desc);
    atext_free(&footer);
    return webhook_put_json(m, root, ok, err, errlen);
}

enum herald_result webhook_render_mattermost(const struct webhook_fmt *f,
                                             const struct herald_alert *al, struct webhook_msg *m,
                                             char *err, size_t errlen)
{
    struct atext text = {0};
    if (f->tpl) {
        tpl_render(&text, f->tpl, al, AMARK_MATTERMOST);
    } else {
        const char *link = webhook_link(al);
        atext_puts(&text, "**");
        webhook_headline(&text, al, AMARK_MATTERMOST);
        atext_puts(&text, "**: ");
        if (link) atext_puts(&text, "[");
        amark_field(&text, AMARK_MATTERMOST, webhook_title(al), 300);
        if (link) {
            atext_puts(&text, "](");
            amark_put_url(&text, AMARK_MATTERMOST, link);
            atext_puts(&text, ")");
        }
        atext_puts(&text, "\n");
        struct atext_marks mk = amark_marks(AMARK_MATTERMOST);
        if (atext_evidence_marked(&text, al, 3, "> ", "\n", &mk, EVIDENCE_BYTES))
            atext_puts(&text, "\n"); /* a blank line ends the quote */
        webhook_origin(&text, al, " \xc2\xb7 ", AMARK_MATTERMOST);
    }
    amark_cut(&text, AMARK_MATTERMOST, MATTERMOST_TEXT_MAX);
    json_t *root = json_object();
    int ok = root && webhook_set_text(root, "text", &text);
    atext_free(&text);
    return webhook_put_json(m, root, ok, err, errlen);
}

/* An Adaptive Card TextBlock that wraps; `style` adds size/weight/subtle settings. */
static json_t *text_block(const struct atext *t, const char *style)
{
    if (t->failed) return NULL;
    json_t *b = json_pack("{s:s, s:s%, s:b}", "type", "TextBlock", "text", t->p ? t->p : "", t->len,
                          "wrap", 1);
    if (!b) return NULL;
    int ok = 1;
    if (style && strcmp(style, "title") == 0)
        ok = json_object_set_new(b, "size", json_string("Medium")) == 0 &&
             json_object_set_new(b, "weight", json_string("Bolder")) == 0;
    else if (style && strcmp(style, "subtle") == 0)
        ok = json_object_set_new(b, "isSubtle", json_true()) == 0 &&
             json_object_set_new(b, "size", json_string("Small")) == 0;
    if (!ok) {
        json_decref(b);
        return NULL;
    }
    return b;
}

static int add_block(json_t *body, const struct atext *t, const char *style)
{
    json_t *b = text_block(t, style);
    return b && json_array_append_new(body, b) == 0;
}

/* The card body: headline, title, one block per evidence line (a TextBlock needs a blank
 * line for a line break), the origin; or the template in one block. */
static int teams_body(json_t *body, const struct webhook_fmt *f, const struct herald_alert *al)
{
    struct atext t = {0};
    int ok = 1;
    if (f->tpl) {
        tpl_render(&t, f->tpl, al, AMARK_TEAMS);
        amark_cut(&t, AMARK_TEAMS, TEAMS_TEXT_MAX);
        ok = add_block(body, &t, NULL);
        atext_free(&t);
        return ok;
    }
    webhook_headline(&t, al, AMARK_TEAMS);
    ok = add_block(body, &t, "subtle");
    t.len = 0;
    amark_field(&t, AMARK_TEAMS, webhook_title(al), TEAMS_TITLE_UNITS);
    ok = ok && add_block(body, &t, "title");
    t.len = 0;
    struct atext_marks mk = amark_marks(AMARK_TEAMS);
    atext_evidence_marked(&t, al, 3, "", "\n", &mk, EVIDENCE_BYTES);
    for (size_t i = 0; ok && !t.failed && i < t.len;) {
        const char *nl = memchr(t.p + i, '\n', t.len - i);
        size_t n = nl ? (size_t)(nl - (t.p + i)) : t.len - i;
        struct atext line = {0};
        atext_putn(&line, t.p + i, n);
        ok = add_block(body, &line, NULL);
        atext_free(&line);
        i += n + 1;
    }
    t.len = 0;
    webhook_origin(&t, al, " \xc2\xb7 ", AMARK_TEAMS);
    ok = ok && add_block(body, &t, "subtle");
    atext_free(&t);
    return ok;
}

enum herald_result webhook_render_teams(const struct webhook_fmt *f, const struct herald_alert *al,
                                        struct webhook_msg *m, char *err, size_t errlen)
{
    json_t *body = json_array(), *actions = json_array();
    int ok = body && actions && teams_body(body, f, al);
    const char *link = webhook_link(al);
    if (ok && link)
        ok = json_array_append_new(actions, json_pack("{s:s, s:s, s:s}", "type", "Action.OpenUrl",
                                                      "title", "Open article", "url", link)) == 0;
    json_t *card =
        ok ? json_pack("{s:s, s:s, s:s, s:O, s:O}", "$schema",
                       "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
                       "version", "1.2", "body", body, "actions", actions)
           : NULL;
    json_t *root = card ? json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
                                    "contentType", "application/vnd.microsoft.card.adaptive",
                                    "contentUrl", "content", card)
                        : NULL;
    json_decref(body);
    json_decref(actions);
    return webhook_put_json(m, root, root != NULL, err, errlen);
}
