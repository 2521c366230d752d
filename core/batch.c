/*
 * batch — throttle, digest and quiet hours between the rules and the outbox. When a rule
 * fires, each of its notifiers gets the alert now or holds it in a batch (hold.c decides,
 * from the policy and the batch's state in the store). When a batch's time comes, its held
 * alerts leave as one message: the alert itself when it is alone, else a digest
 * (digest.c), queued in the outbox like any alert. Holding and releasing are rows in the
 * store, so a restart or a crash loses nothing and sends nothing twice.
 */
#include "herald.h"

#include "digest.h"
#include "hold.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    DIGEST_MAX_ALERTS = 100,  /* per message: a week of quiet hours becomes several digests */
    RELEASE_MAX_BATCHES = 64, /* per round; the outbox comes back for the rest */
};

/* The batch key of a rule's alerts: its own when the rule sets a policy, else the
 * notifier's one batch. */
static char *batch_key(const struct cfg_rule *r, int per_rule)
{
    if (!per_rule) return strdup("*");
    size_t len = strlen(r->name) + 6;
    char *k = malloc(len);
    if (k) snprintf(k, len, "rule:%s", r->name);
    return k;
}

int batch_route(struct herald *h, const struct cfg_rule *r, const char *notifier, int64_t now,
                struct alert_route *out, char **key)
{
    *key = NULL;
    out->notifier = notifier;
    out->batch = NULL;
    out->release_at = 0;
    long ni = config_notifier_index(h->cfg, notifier);
    struct hold_policy p;
    int per_rule = 0;
    hold_policy_merge(&r->hold, ni >= 0 ? &h->cfg->notifiers[ni].hold : NULL, &p, &per_rule);
    if (!hold_policy_active(&p)) return 0;
    *key = batch_key(r, per_rule);
    if (!*key) return -1;
    struct hold_state st = {0, 0};
    if (store_batch_state(h->store, notifier, *key, &st.last_sent, &st.open_release) != 0) {
        free(*key);
        *key = NULL;
        return -1;
    }
    out->batch = *key;
    out->release_at = hold_release_time(&p, &st, now);
    if (out->release_at > 0) {
        char when[32];
        /* Opening a batch is news; each alert joining it is detail. */
        log_msg(&h->log, st.open_release ? HERALD_LOG_DEBUG : HERALD_LOG_INFO,
                "notifier %s: alert of rule %s held for %s (%s)", notifier, r->name,
                duration_format((out->release_at - now) * 1000, when, sizeof when),
                st.open_release          ? "joins the alerts already waiting"
                : hold_in_quiet(&p, now) ? "quiet hours"
                : p.digest_ms            ? "digest window"
                                         : "throttled");
    }
    return 0;
}

/* The rule a batch's message is from: the batch's rule, else the members' common one,
 * else "digest". */
static const char *message_rule(const char *batch, const struct held_member *m, size_t n)
{
    if (strncmp(batch, "rule:", 5) == 0) return batch + 5;
    for (size_t i = 1; i < n; i++)
        if (!m[i].rule || !m[0].rule || strcmp(m[i].rule, m[0].rule) != 0) return "digest";
    return m[0].rule ? m[0].rule : "digest";
}

/* Queue the digest of members m[0..n) for the batch's notifier; *sent_as gets its id. */
static int queue_digest(struct herald *h, const struct held_batch *b, const struct held_member *m,
                        size_t n, int64_t now, char sent_as[33])
{
    const char **ids = calloc(n, sizeof *ids), **docs = calloc(n, sizeof *docs);
    int rc = -1;
    if (!ids || !docs) goto out;
    for (size_t i = 0; i < n; i++) {
        ids[i] = m[i].alert_id;
        docs[i] = m[i].json;
    }
    digest_make_id(b->notifier, ids, n, sent_as);
    const char *rule = message_rule(b->batch, m, n);
    struct digest d;
    char err[256];
    if (digest_build(sent_as, rule, now, docs, n, &d, err, sizeof err) != 0) {
        log_msg(&h->log, HERALD_LOG_ERROR, "notifier %s: digest: %s", b->notifier, err);
        goto out;
    }
    struct alert_route route = {b->notifier, b->batch, 0};
    rc = store_alert_add_routed(h->store, sent_as, rule, d.source, NULL, d.title, d.link, d.json,
                                &route, 1, now) < 0
             ? -1
             : 0;
    digest_free(&d);
out:
    free(ids);
    free(docs);
    return rc;
}

/* Send one due batch as one message, in one transaction. */
static int release_batch(struct herald *h, const struct held_batch *b, int64_t now)
{
    struct held_member *m = NULL;
    size_t n = 0;
    if (store_held_members(h->store, b->notifier, b->batch, DIGEST_MAX_ALERTS, &m, &n) != 0)
        return -1;
    if (n == 0) return 0;
    char sent_as[33];
    int rc = store_begin(h->store);
    if (rc == 0 && n == 1) {
        snprintf(sent_as, sizeof sent_as, "%s", m[0].alert_id);
        rc = store_outbox_queue(h->store, m[0].alert_id, b->notifier, b->batch, now);
    } else if (rc == 0) {
        rc = queue_digest(h, b, m, n, now, sent_as);
    }
    if (rc == 0) rc = store_held_mark(h->store, b->notifier, b->batch, m[n - 1].id, sent_as);
    if (rc == 0) rc = store_commit(h->store);
    if (rc != 0) {
        store_rollback(h->store);
    } else if (n > 1) {
        log_msg(&h->log, HERALD_LOG_INFO, "notifier %s: %zu held alerts sent as digest %s",
                b->notifier, n, sent_as);
    }
    held_members_free(m, n);
    return rc;
}

int batch_release_due(struct herald *h, int64_t now)
{
    /* Every outbox round asks; one index seek answers "nothing due" without grouping the
     * held rows (thousands of them after a night of quiet hours). */
    int64_t next = 0;
    int rc = store_held_next(h->store, &next);
    if (rc <= 0 || next > now) return rc < 0 ? -1 : 0;
    struct held_batch *v = NULL;
    size_t n = 0;
    if (store_held_due(h->store, now, RELEASE_MAX_BATCHES, &v, &n) != 0) return -1;
    int released = 0;
    for (size_t i = 0; i < n; i++) {
        if (release_batch(h, &v[i], now) != 0) {
            log_msg(&h->log, HERALD_LOG_ERROR,
                    "notifier %s: releasing held alerts: %s; they stay held and are retried",
                    v[i].notifier, store_errmsg(h->store));
            continue;
        }
        released++;
    }
    held_batches_free(v, n);
    return released;
}
