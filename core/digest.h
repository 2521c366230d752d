/*
 * digest — one message made of several held alerts (throttle, digest, quiet hours). It is
 * an alert document like any other (docs/alert-json.md), so every notifier can send it:
 * its article is a summary (a title counting the alerts, a text listing each one) and
 * "digest" carries the member alerts whole.
 */
#ifndef HERALD_DIGEST_H
#define HERALD_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* A digest document and the columns its alerts row needs; all malloc'd. */
struct digest {
    char *json;
    char *title;
    char *link;   /* the first member's link, or NULL */
    char *source; /* the members' source when they share one, else NULL */
};

/* The stable id of the digest of alerts ids[0..n) for `notifier` (32 hex digits), so a
 * release retried after a crash makes the same message. */
void digest_make_id(const char *notifier, const char *const *ids, size_t n, char out[33]);

/* Build the digest `id` of rule `rule` from the member alert documents json[0..n) (n >= 1),
 * created at `created` (seconds). Returns 0, or -1 when out of memory or a member is not
 * an alert document (message in err). Free with digest_free. */
int digest_build(const char *id, const char *rule, int64_t created, const char *const *json,
                 size_t n, struct digest *out, char *err, size_t errlen);
void digest_free(struct digest *d);

#endif
