/*
 * store — the SQLite database (WAL) in the state directory that makes herald trustworthy
 * across restarts: sources and their HTTP validators, seen items, alerts, and the
 * notification outbox. Callers group writes in store_begin()/store_commit() so that
 * marking an item seen and queueing its alerts happen in one transaction.
 *
 * Strings returned in structs are malloc'd and freed with the matching *_clear/_free.
 * Every function returns -1 on a database error, with the reason in store_errmsg().
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* What is remembered about one source between polls. */
struct source_state {
    char *url;           /* current URL (updated after a permanent redirect) */
    char *etag;          /* ETag validator, or NULL */
    char *last_modified; /* Last-Modified validator, or NULL */
    int64_t last_fetch;  /* seconds since the epoch, 0 never */
    int64_t next_poll;   /* 0 when not scheduled */
    long last_status;    /* HTTP status of the last fetch, 0 none */
    char *last_error;    /* NULL when the last fetch succeeded */
    int failures;        /* consecutive failures */
    int64_t items_new;   /* new items in the last fetch */
    int64_t items_total; /* items ever seen */
    char *origin_url;    /* the configured URL `url` was reached from; NULL: same as url */
    int64_t interval_ms; /* adaptive poll interval, 0 when not yet learnt */
};

/* One queued delivery of an alert to one notifier. */
struct outbox_entry {
    int64_t id;      /* outbox row id; increasing in queue order */
    char *alert_id;  /* the alert's stable id (idempotency key) */
    char *notifier;  /* notifier instance name */
    char *rule;      /* rule name */
    char *json;      /* the alert JSON document */
    int attempts;    /* attempts made so far */
    int64_t created; /* when the alert was queued */
    int64_t next_attempt;
    char *last_error;
};

/* One alert with its delivery state, for `herald history`. */
struct history_entry {
    char *alert_id;
    char *rule;
    char *source;
    char *title;
    char *link;
    int64_t created;
    char *notifier; /* NULL when the alert was queued for no notifier */
    char *state; /* "pending", "delivered", "dead", "held", "folded" (into a digest), or "none" */
    int attempts;
    char *last_error;
};

/* Open (creating as needed, mode 0700 for the directory) `dir`/herald.db and bring its
 * schema up to date. Returns 0 and sets *out, or -1 with a message naming the path. */
int store_open(const char *dir, struct store **out, char *err, size_t errlen);
/* Close the database. NULL is allowed. */
void store_close(struct store *s);
/* A burst of writes is over (fetch --once recorded its last poll): start copying the log
 * into the database in the background now, so that closing has little left to wait for. */
void store_checkpoint_soon(struct store *s);
/* The last error message of this connection. */
const char *store_errmsg(struct store *s);

/* Transactions (BEGIN IMMEDIATE); begin may not nest. A failed commit rolls back, and
 * rollback without an open transaction (e.g. after SQLite aborted it) succeeds. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
/* 1 when a transaction is open on this connection, else 0. */
int store_in_transaction(struct store *s);
/* A part of the open transaction that can fail alone (a savepoint; parts do not nest):
 * release keeps its writes for the commit, rollback undoes them and ends the part. Rollback
 * returns -1 when SQLite has already rolled the whole transaction back. */
int store_part_begin(struct store *s);
int store_part_release(struct store *s);
int store_part_rollback(struct store *s);

/* Read a source's state: 1 found (fills *out), 0 unknown, -1 error. */
int store_source_get(struct store *s, const char *name, struct source_state *out);
/* Insert or replace a source's state. */
int store_source_put(struct store *s, const char *name, const struct source_state *st);
/* Free the strings of a source_state and zero it. */
void source_state_clear(struct source_state *st);

/* One known source with its state, for `herald status`. */
struct source_row {
    char *name;
    struct source_state st;
};
/* Every source ever stored, ordered by name. Sets *out (free with source_rows_free) and *n. */
int store_source_list(struct store *s, struct source_row **out, size_t *n);
void source_rows_free(struct source_row *v, size_t n);
/* The row of source `name` in v[0..n) as store_source_list ordered it, or NULL. */
struct source_row *source_rows_find(struct source_row *v, size_t n, const char *name);

/* 1 when (source, item_id) has been seen, 0 when not, -1 error. */
int store_item_seen(struct store *s, const char *source, const char *item_id);
/* Seen-check and mark in one statement: 1 when the item is new (now remembered), 0 when it
 * was seen before (its last_seen refreshed when over an hour old), -1 error. */
int store_item_touch(struct store *s, const char *source, const char *item_id, const char *title,
                     const char *link, int64_t now);
/* Remember an item as seen, or refresh its last_seen time when already there (so that
 * pruning never forgets an item a feed still carries). */
int store_item_mark(struct store *s, const char *source, const char *item_id, const char *title,
                    const char *link, int64_t now);

/* Record a new alert and queue it for each of the notifiers[0..n) (a name listed twice is
 * queued once). An alert whose id already exists is left untouched and not queued again.
 * Atomic on its own or inside store_begin(). Returns 1 new, 0 existed, -1 error. */
int store_alert_add(struct store *s, const char *alert_id, const char *rule, const char *source,
                    const char *item_id, const char *title, const char *link, const char *json,
                    const char *const *notifiers, size_t n, int64_t now);

/* Where a new alert goes for one notifier: queued now (batch NULL, or release_at 0: a
 * batch's message going out now, which records the batch's last send), or held in `batch`
 * until `release_at` (seconds). */
struct alert_route {
    const char *notifier;
    const char *batch;
    int64_t release_at;
};
/* store_alert_add with a route per notifier (see struct alert_route). */
int store_alert_add_routed(struct store *s, const char *alert_id, const char *rule,
                           const char *source, const char *item_id, const char *title,
                           const char *link, const char *json, const struct alert_route *routes,
                           size_t n, int64_t now);
/* Queue an existing alert for `notifier` (once); a batch's message also records the send. */
int store_outbox_queue(struct store *s, const char *alert_id, const char *notifier,
                       const char *batch, int64_t now);

/* A batch of held alerts whose release time has come. */
struct held_batch {
    char *notifier;
    char *batch;
    int64_t release_at;
};
/* One held alert of a batch, in the order it arrived. */
struct held_member {
    int64_t id; /* its row: store_held_mark releases up to here */
    char *alert_id;
    char *rule;
    char *json;
    int64_t created;
};
/* When (notifier, batch) last sent a message (0: never) and the release time of its held
 * alerts (0: none held). */
int store_batch_state(struct store *s, const char *notifier, const char *batch, int64_t *last_sent,
                      int64_t *open_release);
/* Batches with held alerts due at `now`, oldest first, at most `max`. */
int store_held_due(struct store *s, int64_t now, size_t max, struct held_batch **out, size_t *n);
void held_batches_free(struct held_batch *v, size_t n);
/* The first `max` held alerts of a batch, in arrival order. */
int store_held_members(struct store *s, const char *notifier, const char *batch, size_t max,
                       struct held_member **out, size_t *n);
void held_members_free(struct held_member *v, size_t n);
/* Mark the batch's held alerts up to row `upto_id` as sent in alert `sent_as`. */
int store_held_mark(struct store *s, const char *notifier, const char *batch, int64_t upto_id,
                    const char *sent_as);
/* Earliest release time of any held alert: 1 and *when, 0 when none, -1 error. */
int store_held_next(struct store *s, int64_t *when);
/* Number of alerts held (not yet released), -1 error. */
long store_held_pending(struct store *s);

/* The oldest pending entry of each notifier whose next_attempt <= now, at most `max`,
 * skipping the notifiers named in busy[0..nbusy) (already delivering). Order of delivery per
 * notifier is the queue order. Sets *out (free with outbox_entries_free) and *n. */
int store_outbox_due(struct store *s, int64_t now, const char *const *busy, size_t nbusy,
                     size_t max, struct outbox_entry **out, size_t *n);
/* Earliest next_attempt among the notifiers' queue heads (entries behind a head wait for
 * it): 1 and *when, 0 when none pending, -1 error. */
int store_outbox_next(struct store *s, int64_t *when);
/* Number of pending entries (0 or more), -1 error. */
long store_outbox_pending(struct store *s);
/* Mark entry `id` delivered at `now`. */
int store_outbox_delivered(struct store *s, int64_t id, int64_t now);
/* Count a failed attempt and schedule the next one at `next_attempt`. */
int store_outbox_retry(struct store *s, int64_t id, int64_t next_attempt, const char *error);
/* Give up on entry `id` (kept as "dead" for history). */
int store_outbox_dead(struct store *s, int64_t id, const char *error);
void outbox_entries_free(struct outbox_entry *v, size_t n);

/* The latest alerts with their delivery states, newest first; `rule` (or NULL for all)
 * and `since` (0 for all) filter. Free with history_entries_free. */
int store_history(struct store *s, const char *rule, int64_t since, size_t max,
                  struct history_entry **out, size_t *n);
void history_entries_free(struct history_entry *v, size_t n);

/* Delete seen items last seen before `items_before`, and delivered or dead alerts (with
 * their outbox rows) created before `alerts_before`. Returns the items and alerts removed
 * (outbox rows not counted) or -1. */
long store_prune(struct store *s, int64_t items_before, int64_t alerts_before);

/* Delete delivered or dead alerts created before `before` (see store_prune). Returns the
 * alerts removed or -1. */
long store_prune_alerts(struct store *s, int64_t before);

/* One slice of the items prune (about twenty thousand items read, a few milliseconds), so
 * a big store is pruned without holding the loop: *cursor NULL starts a pass, is set to
 * where the next slice begins and back to NULL (freed) after the last. Returns the items
 * removed or -1 (the cursor then stays where it was). */
long store_prune_items_slice(struct store *s, int64_t before, char **cursor);

#endif
