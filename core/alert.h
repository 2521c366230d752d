/*
 * alert — what a firing rule produces: a stable id (the idempotency key that survives
 * restarts and re-fetches) and the alert JSON document stored in the outbox and handed to
 * notifiers (schema: docs/alert-json.md). Also turns a stored document back into the
 * `struct herald_alert` a plugin receives.
 */
#ifndef HERALD_ALERT_H
#define HERALD_ALERT_H

#include "match.h"

#include <herald/plugin.h>
#include <jansson.h>
#include <stdint.h>

/* The stable id of the alert of `rule` for item `item_id` of `source`: 32 hex digits of
 * SHA-256 over the three, so the same story never gets two ids. */
void alert_make_id(const char *rule, const char *source, const char *item_id, char out[33]);

/* The text of the article field an evidence names ("title", "text", "author", "link",
 * "source"), or NULL for another name or a missing field. */
const char *alert_article_field(const struct herald_article *a, const char *field);

/* The alert JSON document (malloc'd), or NULL when out of memory. */
char *alert_to_json(const char *id, const char *rule, int64_t created,
                    const struct herald_article *a, const struct evidence_list *ev);

/* The text around bytes [start, end) of `text`: the enclosing sentence, cut to about
 * `radius` bytes each side on UTF-8 boundaries with "…" marks. malloc'd. */
char *alert_context(const char *text, size_t start, size_t end, size_t radius);
/* The bounds alert_context() uses: [*s, *e) of text, and whether it cut either side. */
void alert_context_bounds(const char *text, size_t start, size_t end, size_t radius, size_t *s,
                          size_t *e, int *cut_left, int *cut_right);

/* A stored alert, parsed for one delivery. */
struct alert_delivery_doc {
    json_t *root;
    char *json; /* the document with "notifier" filled in */
    struct herald_alert alert;
    struct herald_article article;
    struct herald_evidence *evidence;
    const char **categories;
};

/* Parse `json` for delivery to `notifier` (attempt number `attempt`, from 1). Returns 0, or
 * -1 when the document is not an alert (the message in err). */
int alert_delivery_parse(const char *json, const char *notifier, unsigned attempt,
                         struct alert_delivery_doc *out, char *err, size_t errlen);
/* Release what alert_delivery_parse allocated. */
void alert_delivery_free(struct alert_delivery_doc *d);

#endif
