/*
 * webhook internals shared by webhook.c (options, requests, results) and format.c (the
 * message bodies for each receiver). Nothing here is exported from the .so.
 */
#ifndef HERALD_PLUGIN_WEBHOOK_H
#define HERALD_PLUGIN_WEBHOOK_H

#include <herald/plugin.h>

#include "../common/alert_text.h"

enum webhook_format {
    WEBHOOK_JSON,    /* the alert JSON as is */
    WEBHOOK_SLACK,   /* Slack incoming webhook: {text, blocks} */
    WEBHOOK_DISCORD, /* Discord webhook: {content, embeds} */
    WEBHOOK_NTFY,    /* ntfy: plain text body, Title/Click/Tags headers */
    WEBHOOK_TEXT,    /* the readable block as text/plain */
};

#define WEBHOOK_MSG_HEADERS 4

/* One rendered message: the body, its content type and any format-specific headers. */
struct webhook_msg {
    struct atext body;
    const char *content_type;           /* static string */
    char *headers[WEBHOOK_MSG_HEADERS]; /* "Name: value", owned */
    size_t n_headers;
};

/* Parse a format name ("json", "slack", …); 0 on success, -1 for an unknown name. */
int webhook_format_parse(const char *name, enum webhook_format *out);

/* The name of a format, for logs. */
const char *webhook_format_name(enum webhook_format f);

/* Render `alert` in format `f` into *m (zeroed by the caller; free with webhook_msg_free even
 * on failure). Returns HERALD_DELIVERED (0) on success, else the result the delivery should
 * end with (HERALD_FAILED for an alert that can never render, HERALD_RETRY when out of
 * memory) and a message in err. */
enum herald_result webhook_format_render(enum webhook_format f, const struct herald_alert *alert,
                                         struct webhook_msg *m, char *err, size_t errlen);

void webhook_msg_free(struct webhook_msg *m);

/* Whether `url` is an http(s) URL with no space or control character (safe to embed as a
 * link in a message or a header). */
int webhook_url_ok(const char *url);

#endif
