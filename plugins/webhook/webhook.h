/*
 * webhook internals shared by webhook.c (options, requests, results) and the format files
 * (format.c: registry, generic JSON, text, ntfy; format_chat.c: Slack, Discord, Mattermost,
 * Teams; format_im.c: Gotify, Matrix, Telegram) that render the message for each receiver.
 * Nothing here is exported from the .so.
 */
#ifndef HERALD_PLUGIN_WEBHOOK_H
#define HERALD_PLUGIN_WEBHOOK_H

#include <herald/plugin.h>

#include "../common/template.h"

#include <jansson.h>

enum webhook_format {
    WEBHOOK_JSON,       /* the alert JSON as is */
    WEBHOOK_SLACK,      /* Slack incoming webhook: {text, blocks} */
    WEBHOOK_DISCORD,    /* Discord execute webhook: {content, embeds, allowed_mentions} */
    WEBHOOK_MATTERMOST, /* Mattermost incoming webhook: {text} in Markdown */
    WEBHOOK_TEAMS,      /* Teams incoming webhook: a message with an Adaptive Card */
    WEBHOOK_NTFY,       /* ntfy: plain text body, Title/Click/Tags/Priority headers */
    WEBHOOK_GOTIFY,     /* Gotify POST /message: {title, message, priority, extras} */
    WEBHOOK_MATRIX,     /* Matrix PUT …/send/m.room.message/{txnId}: body + formatted_body */
    WEBHOOK_TELEGRAM,   /* Telegram Bot API sendMessage: {chat_id, text, parse_mode HTML} */
    WEBHOOK_TEXT,       /* the readable block as text/plain */
};

/* What rendering needs from the notifier's options (borrowed from the instance). */
struct webhook_fmt {
    enum webhook_format format;
    const char *url;       /* endpoint; matrix: homeserver; telegram: Bot API server */
    const char *token;     /* gotify, matrix, telegram, ntfy; or NULL */
    const char *room;      /* matrix room id */
    const char *chat_id;   /* telegram chat id or @channel */
    long priority;         /* ntfy 1-5, gotify 0-10; -1 when unset */
    const struct tpl *tpl; /* the user's template, or NULL for the default message */
};

#define WEBHOOK_MSG_HEADERS 6

/* One rendered message: method, URL, body, content type and format-specific headers. */
struct webhook_msg {
    struct atext body;
    const char *content_type;           /* static string */
    const char *method;                 /* static string; NULL means POST */
    char *url;                          /* owned; NULL means the configured url */
    char *headers[WEBHOOK_MSG_HEADERS]; /* "Name: value", owned */
    size_t n_headers;
};

/* Parse a format name ("json", "slack", …); 0 on success, -1 for an unknown name. */
int webhook_format_parse(const char *name, enum webhook_format *out);

/* The name of a format, for logs. */
const char *webhook_format_name(enum webhook_format f);

/* Check the options a format needs (token, room, chat_id, priority); 0 or -1 with err. */
int webhook_format_check(const struct webhook_fmt *f, char *err, size_t errlen);

/* Render `alert` as f says into *m (zeroed by the caller; free with webhook_msg_free even on
 * failure). Returns HERALD_DELIVERED (0) on success, else the result the delivery should end
 * with (HERALD_FAILED for an alert that can never render, HERALD_RETRY when out of memory)
 * and a message in err. */
enum herald_result webhook_format_render(const struct webhook_fmt *f,
                                         const struct herald_alert *alert, struct webhook_msg *m,
                                         char *err, size_t errlen);

void webhook_msg_free(struct webhook_msg *m);

/* Whether `url` is an http(s) URL with no space or control character (safe to embed as a
 * link in a message or a header). */
int webhook_url_ok(const char *url);

/* --- shared by the format files --- */

/* The article's title, or "(untitled)". */
const char *webhook_title(const struct herald_alert *al);

/* The article's link when it is a safe http(s) URL of at most 2000 bytes, else NULL. */
const char *webhook_link(const struct herald_alert *al);

/* Append "source: X<sep>published: Y" escaped for k. */
void webhook_origin(struct atext *b, const struct herald_alert *al, const char *sep, enum amark k);

/* Append "[herald] <rule>" escaped for k. */
void webhook_headline(struct atext *b, const struct herald_alert *al, enum amark k);

/* Set obj[key] to the string in t; 0 when t failed or jansson refused. */
int webhook_set_text(json_t *obj, const char *key, const struct atext *t);

/* Serialise root (its reference is taken) as the message body when ok; else RETRY. */
enum herald_result webhook_put_json(struct webhook_msg *m, json_t *root, int ok, char *err,
                                    size_t errlen);

/* Add "Name: value" to the message's headers; -1 when full or out of memory. */
int webhook_msg_header(struct webhook_msg *m, const char *name, const char *value);

/* The receivers that format_chat.c and format_im.c render. */
enum herald_result webhook_render_slack(const struct webhook_fmt *f, const struct herald_alert *al,
                                        struct webhook_msg *m, char *err, size_t errlen);
enum herald_result webhook_render_discord(const struct webhook_fmt *f,
                                          const struct herald_alert *al, struct webhook_msg *m,
                                          char *err, size_t errlen);
enum herald_result webhook_render_mattermost(const struct webhook_fmt *f,
                                             const struct herald_alert *al, struct webhook_msg *m,
                                             char *err, size_t errlen);
enum herald_result webhook_render_teams(const struct webhook_fmt *f, const struct herald_alert *al,
                                        struct webhook_msg *m, char *err, size_t errlen);
enum herald_result webhook_render_gotify(const struct webhook_fmt *f, const struct herald_alert *al,
                                         struct webhook_msg *m, char *err, size_t errlen);
enum herald_result webhook_render_matrix(const struct webhook_fmt *f, const struct herald_alert *al,
                                         struct webhook_msg *m, char *err, size_t errlen);
enum herald_result webhook_render_telegram(const struct webhook_fmt *f,
                                           const struct herald_alert *al, struct webhook_msg *m,
                                           char *err, size_t errlen);

#endif
