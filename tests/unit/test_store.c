/*
 * test_store — the SQLite store: schema and settings on disk, the seen set, alerts and the
 * per-notifier outbox queue, history, pruning, transactions, and what survives a process
 * killed before and after a commit. Every test works in its own mkdtemp() directory.
 */
#include "check.h"
#include "store.h"

#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every test's directory lives under this one, removed at the end even when tests fail. */
static char tmp_root[64] = "/tmp/herald-store-XXXXXX";

struct tmp {
    char dir[96];    /* this test's own directory */
    char state[128]; /* dir/state: what store_open() gets, created by it */
};

static int tmp_make(struct tmp *t)
{
    snprintf(t->dir, sizeof t->dir, "%s/t-XXXXXX", tmp_root);
    if (!mkdtemp(t->dir)) return -1;
    snprintf(t->state, sizeof t->state, "%s/state", t->dir);
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void tmp_remove(const char *dir)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Open a fresh store in a new temp dir; prints the error when it fails. */
static struct store *open_fresh(struct tmp *t)
{
    char err[512] = "";
    struct store *s = NULL;
    if (tmp_make(t) != 0 || store_open(t->state, &s, err, sizeof err) != 0) {
        printf("# store_open: %s\n", err);
        return NULL;
    }
    return s;
}

static struct store *reopen(struct tmp *t, struct store *old)
{
    char err[512] = "";
    struct store *s = NULL;
    store_close(old);
    if (store_open(t->state, &s, err, sizeof err) != 0) printf("# store_open: %s\n", err);
    return s;
}

/* One integer from the database file, read over a separate plain SQLite connection. */
static long long raw_int(const struct tmp *t, const char *sql)
{
    char path[160];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -999;
    snprintf(path, sizeof path, "%s/herald.db", t->state);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static const char *const AB[] = {"a", "b"};

static int add(struct store *s, const char *id, const char *rule, const char *const *nots, size_t n,
               int64_t now)
{
    char json[128];
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
    return store_alert_add(s, id, rule, "src", id, "Title", "https://example.org/x", json, nots, n,
                           now);
}

TEST(open_creates_private_dirs)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    struct stat sb;
    CHECK(stat(t.state, &sb) == 0);
    CHECK(S_ISDIR(sb.st_mode));
    CHECK_INT(sb.st_mode & 0777, 0700);
    store_close(s);

    /* Nested parents are created too. */
    char deep[160];
    snprintf(deep, sizeof deep, "%s/x/y/z", t.dir);
    char err[256] = "";
    CHECK_INT(store_open(deep, &s, err, sizeof err), 0);
    store_close(s);
    snprintf(deep, sizeof deep, "%s/x/y/z/herald.db", t.dir);
    CHECK(access(deep, F_OK) == 0);
    tmp_remove(t.dir);
}

TEST(wal_and_schema_on_disk)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    store_close(s);
    char path[160];
    snprintf(path, sizeof path, "%s/herald.db", t.state);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    int wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(wal);
    CHECK_INT(raw_int(&t, "PRAGMA user_version"), 4);
    /* No index on items but their primary key: an insert pays for no other. */
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index'"
                          " AND tbl_name = 'items' AND name NOT LIKE 'sqlite_autoindex%'"),
              0);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM sqlite_schema WHERE name IN "
                          "('sources','items','alerts','outbox','outbox_queue','held','batches')"),
              7);
    tmp_remove(t.dir);
}

TEST(reopen_persists_everything)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    struct source_state in = {.url = "https://example.org/feed",
                              .etag = "\"abc\"",
                              .last_modified = NULL,
                              .last_fetch = 1000,
                              .next_poll = 1300,
                              .last_status = 304,
                              .last_error = NULL,
                              .failures = 0,
                              .items_new = 3,
                              .items_total = 42};
    CHECK_INT(store_source_put(s, "bbc", &in), 0);
    CHECK_INT(store_item_mark(s, "bbc", "guid-1", "T", "L", 1000), 0);
    CHECK_INT(add(s, "al-1", "r", AB, 2, 1000), 1);
    CHECK_INT(store_outbox_retry(s, 1, 1060, "HTTP 503"), 0);

    s = reopen(&t, s);
    CHECK(s != NULL);
    struct source_state got;
    CHECK_INT(store_source_get(s, "bbc", &got), 1);
    int same = got.url && strcmp(got.url, in.url) == 0 && got.etag &&
               strcmp(got.etag, "\"abc\"") == 0 && !got.last_modified && got.last_fetch == 1000 &&
               got.next_poll == 1300 && got.last_status == 304 && !got.last_error &&
               got.items_new == 3 && got.items_total == 42;
    source_state_clear(&got);
    CHECK(same);
    CHECK_INT(store_item_seen(s, "bbc", "guid-1"), 1);
    CHECK_INT(store_outbox_pending(s), 2);
    struct outbox_entry *e = NULL;
    size_t n = 0;
    CHECK_INT(store_outbox_due(s, 1100, NULL, 0, 10, &e, &n), 0);
    int ok = n == 2 && e[0].attempts == 1 && e[0].last_error &&
             strcmp(e[0].last_error, "HTTP 503") == 0 && strcmp(e[0].notifier, "a") == 0 &&
             strcmp(e[0].json, "{\"id\":\"al-1\"}") == 0 && strcmp(e[0].rule, "r") == 0 &&
             e[0].created == 1000 && e[0].next_attempt == 1060 && e[1].attempts == 0;
    outbox_entries_free(e, n);
    CHECK(ok);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(sources_update_and_list)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    struct source_state st = {0};
    CHECK_INT(store_source_get(s, "nope", &st), 0);
    CHECK(st.url == NULL);
    st.url = "http://b/1";
    CHECK_INT(store_source_put(s, "b", &st), 0);
    st.url = "http://a/1";
    st.last_error = "timeout";
    st.failures = 2;
    CHECK_INT(store_source_put(s, "a", &st), 0);
    st.url = "http://b/2"; /* a permanent redirect replaces the URL */
    st.last_error = NULL;
    st.failures = 0;
    CHECK_INT(store_source_put(s, "b", &st), 0);

    struct source_row *rows = NULL;
    size_t n = 0;
    CHECK_INT(store_source_list(s, &rows, &n), 0);
    int ok = n == 2 && strcmp(rows[0].name, "a") == 0 && rows[0].st.failures == 2 &&
             strcmp(rows[0].st.last_error, "timeout") == 0 && strcmp(rows[1].name, "b") == 0 &&
             strcmp(rows[1].st.url, "http://b/2") == 0 && rows[1].st.last_error == NULL;
    source_rows_free(rows, n);
    CHECK(ok);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(seen_set_and_last_seen_refresh)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    const char *evil = "x'); DROP TABLE items; --";
    CHECK_INT(store_item_seen(s, "s1", evil), 0);
    CHECK_INT(store_item_mark(s, "s1", evil, NULL, NULL, 100), 0);
    CHECK_INT(store_item_seen(s, "s1", evil), 1);
    CHECK_INT(store_item_seen(s, "s2", evil), 0); /* seen per source */
    CHECK_INT(store_item_mark(s, "s1", "old", "t", "l", 100), 0);
    /* Still in the feed at 200: refreshed, so a prune at 150 keeps it. */
    CHECK_INT(store_item_mark(s, "s1", evil, "t", "l", 200), 0);
    CHECK_INT(store_prune(s, 150, 0), 1);
    CHECK_INT(store_item_seen(s, "s1", "old"), 0);
    CHECK_INT(store_item_seen(s, "s1", evil), 1);
    CHECK_INT(store_prune(s, 250, 0), 1);
    CHECK_INT(store_item_seen(s, "s1", evil), 0);
    store_close(s);
    tmp_remove(t.dir);
}

/* 50,000 items over 300 sources, one of them bigger than a slice: the pass takes several
 * slices, each short, and removes exactly the old items, whatever slice they fall in. */
TEST(prune_walks_the_items_in_slices)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    CHECK_INT(store_begin(s), 0);
    long old = 0;
    for (int i = 0; i < 50000; i++) {
        char src[16], id[16];
        int k = i < 25000 ? 0 : 1 + i % 299; /* source 0 holds 25,000 items */
        snprintf(src, sizeof src, "s%03d", k);
        snprintf(id, sizeof id, "i%d", i);
        int64_t seen = i % 3 == 0 ? 100 : 500;
        old += seen == 100;
        CHECK_INT(store_item_touch(s, src, id, NULL, NULL, seen), 1);
    }
    CHECK_INT(store_commit(s), 0);
    char *cursor = NULL;
    long removed = 0;
    int slices = 0;
    do {
        long n = store_prune_items_slice(s, 200, &cursor);
        CHECK(n >= 0);
        removed += n;
        slices++;
        CHECK(slices < 100);
    } while (cursor);
    CHECK_INT(removed, old);
    CHECK(slices >= 3); /* 50,000 rows in slices of 20,000, source 0 alone over one */
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM items"), 50000 - old);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM items WHERE last_seen < 200"), 0);
    CHECK_INT(store_item_seen(s, "s000", "i1"), 1);
    CHECK_INT(store_item_seen(s, "s000", "i0"), 0);
    CHECK_INT(store_prune(s, 200, 0), 0); /* a second pass finds nothing */
    store_close(s);
    tmp_remove(t.dir);
}

static long long file_size(const struct tmp *t, const char *name)
{
    char path[160];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", t->state, name);
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* herald.db's size once it reaches min bytes, or after 5 s: a checkpoint thread grows it. */
static long long wait_db_size(const struct tmp *t, long long min)
{
    long long size = file_size(t, "herald.db");
    for (int i = 0; i < 500 && size < min; i++) {
        usleep(10 * 1000);
        size = file_size(t, "herald.db");
    }
    return size;
}

/* One transaction of n items of ~1 KiB (ids "<batch>-<i>") in source "src". 0 when all
 * were stored. */
static int touch_items(struct store *s, int batch, int n)
{
    char title[1024];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    if (store_begin(s) != 0) return -1;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%d-%d", batch, i);
        if (store_item_touch(s, "src", id, title, NULL, 100) != 1) return -1;
    }
    return store_commit(s);
}

/* The log is copied into the database by the checkpoint thread while the store stays open
 * and busy: the database file grows although this connection never checkpoints. */
TEST(checkpoints_run_on_their_own_thread)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    long long db0 = file_size(&t, "herald.db");
    for (int batch = 0; batch < 40; batch++) /* ~40 MB of log written in all */
        CHECK_INT(touch_items(s, batch, 1000), 0);
    CHECK(wait_db_size(&t, 16 << 20) >= 16 << 20); /* the last request may still run */
    CHECK(db0 < 1 << 20);
    store_close(s);
    /* The last close checkpointed the rest and emptied the log, which stays for the next
     * run (creating and deleting it costs more than a small run's checkpoint). */
    CHECK_INT(file_size(&t, "herald.db-wal"), 0);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM items"), 40000);
    tmp_remove(t.dir);
}

/* Far below the size at which the thread is asked by itself, store_checkpoint_soon has the
 * log copied while the store stays open: the database file grows to hold the rows. */
TEST(checkpoint_soon_copies_a_small_log)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    long long db0 = file_size(&t, "herald.db");
    CHECK_INT(touch_items(s, 0, 200), 0); /* ~200 KiB: a tenth of the thread's own threshold */
    /* Nothing asked the thread yet: the rows are only in the log. */
    CHECK(file_size(&t, "herald.db") == db0);
    store_checkpoint_soon(s);
    CHECK(wait_db_size(&t, db0 + (150 << 10)) >= db0 + (150 << 10));
    store_close(s);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM items"), 200);
    tmp_remove(t.dir);
}

/* A store made by an older herald (schema 3, with its index on items.last_seen) loses the
 * index on opening and keeps every row. */
TEST(schema_3_store_is_upgraded)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    CHECK_INT(store_item_touch(s, "s1", "a", "t", "l", 100), 1);
    store_close(s);
    CHECK_INT(raw_int(&t, "CREATE INDEX items_last_seen ON items (last_seen)"), -999);
    CHECK_INT(raw_int(&t, "PRAGMA user_version = 3"), -999);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'items_last_seen'"), 1);
    char err[512] = "";
    CHECK_INT(store_open(t.state, &s, err, sizeof err), 0);
    CHECK_INT(raw_int(&t, "PRAGMA user_version"), 4);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'items_last_seen'"), 0);
    CHECK_INT(store_item_seen(s, "s1", "a"), 1);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(touch_tells_new_from_seen_and_refreshes_hourly)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    CHECK_INT(store_item_touch(s, "s1", "a", "t", "l", 10000), 1);
    CHECK_INT(store_item_touch(s, "s1", "a", "t", "l", 10000), 0);
    CHECK_INT(store_item_touch(s, "s2", "a", "t", "l", 10000), 1); /* per source */
    CHECK_INT(store_item_seen(s, "s1", "a"), 1);
    /* Within the hour nothing is written; later last_seen moves, so pruning keeps it. */
    CHECK_INT(store_item_touch(s, "s1", "a", "t", "l", 12000), 0);
    CHECK_INT(store_prune(s, 11000, 0), 2); /* s2's "a" and s1's "a" were last seen at 10000 */
    CHECK_INT(store_item_touch(s, "s1", "b", "t", "l", 20000), 1);
    CHECK_INT(store_item_touch(s, "s1", "b", "t", "l", 24000), 0);
    CHECK_INT(store_prune(s, 23000, 0), 0); /* refreshed at 24000 */
    CHECK_INT(store_item_seen(s, "s1", "b"), 1);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(alert_add_is_idempotent)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    const char *const twice[] = {"a", "b", "a"};
    CHECK_INT(add(s, "x1", "r", twice, 3, 100), 1);
    CHECK_INT(store_outbox_pending(s), 2);
    const char *const more[] = {"a", "b", "c"};
    CHECK_INT(add(s, "x1", "r", more, 3, 200), 0);
    CHECK_INT(store_outbox_pending(s), 2);
    CHECK_INT(raw_int(&t, "SELECT created FROM alerts WHERE id = 'x1'"), 100);
    /* An alert for no notifier is recorded without queue rows. */
    CHECK_INT(add(s, "x2", "r", NULL, 0, 100), 1);
    CHECK_INT(store_outbox_pending(s), 2);
    /* Missing required fields are errors, not silent drops. */
    CHECK_INT(store_alert_add(s, "x3", NULL, NULL, NULL, NULL, NULL, "{}", NULL, 0, 1), -1);
    CHECK_CONTAINS(store_errmsg(s), "rule");
    const char *const nameless[] = {"a", NULL};
    CHECK_INT(add(s, "x4", "r", nameless, 2, 100), -1);
    CHECK_CONTAINS(store_errmsg(s), "no name");
    /* ... and atomic: the failed x4 left no alert and no queue row behind. */
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM alerts WHERE id = 'x4'"), 0);
    CHECK_INT(store_outbox_pending(s), 2);
    store_close(s);
    tmp_remove(t.dir);
}

/* The ids of a due list, as "notifier:alert_id" joined with spaces. */
static void due_str(struct store *s, int64_t now, const char *const *busy, size_t nbusy, size_t max,
                    char *buf, size_t len)
{
    struct outbox_entry *e = NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (store_outbox_due(s, now, busy, nbusy, max, &e, &n) != 0) {
        snprintf(buf, len, "error: %s", store_errmsg(s));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s:%s", i ? " " : "", e[i].notifier, e[i].alert_id);
    }
    outbox_entries_free(e, n);
}

TEST(due_heads_busy_and_next_attempt)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    char buf[256];
    int64_t when = -1;
    CHECK_INT(store_outbox_next(s, &when), 0);
    CHECK_INT(add(s, "x1", "r", AB, 2, 100), 1);
    CHECK_INT(add(s, "x2", "r", AB, 2, 100), 1);
    due_str(s, 99, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "");
    due_str(s, 100, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "a:x1 b:x1");
    const char *const busy_a[] = {"a"};
    due_str(s, 100, busy_a, 1, 10, buf, sizeof buf);
    CHECK_STR(buf, "b:x1");
    due_str(s, 100, NULL, 0, 1, buf, sizeof buf);
    CHECK_STR(buf, "a:x1");
    due_str(s, 100, NULL, 0, 0, buf, sizeof buf);
    CHECK_STR(buf, "");

    /* a's head fails: nothing of a's is due until 200, x2 does not overtake x1. */
    CHECK_INT(store_outbox_retry(s, 1, 200, "refused"), 0);
    due_str(s, 150, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "b:x1");
    CHECK_INT(store_outbox_next(s, &when), 1);
    CHECK_INT(when, 100);
    CHECK_INT(store_outbox_delivered(s, 2, 150), 0);
    due_str(s, 150, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "b:x2");
    CHECK_INT(store_outbox_delivered(s, 4, 150), 0);
    CHECK_INT(store_outbox_next(s, &when), 1);
    CHECK_INT(when, 200); /* x2/a is pending since 100 but waits behind its head */
    due_str(s, 200, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "a:x1");
    CHECK_INT(store_outbox_pending(s), 2);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(order_kept_across_retries_and_dead_moves_on)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    const char *const a[] = {"a"};
    char buf[256];
    CHECK_INT(add(s, "x1", "r", a, 1, 100), 1);
    CHECK_INT(add(s, "x2", "r", a, 1, 100), 1);
    CHECK_INT(add(s, "x3", "r", a, 1, 100), 1);
    for (int i = 0; i < 3; i++) {
        due_str(s, 1000, NULL, 0, 10, buf, sizeof buf);
        CHECK_STR(buf, "a:x1");
        CHECK_INT(store_outbox_retry(s, 1, 100 + i, "again"), 0);
    }
    CHECK_INT(store_outbox_dead(s, 1, "gave up"), 0);
    due_str(s, 1000, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "a:x2");
    CHECK_INT(store_outbox_delivered(s, 2, 1000), 0);
    due_str(s, 1000, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "a:x3");
    /* A finished entry cannot be finished again. */
    CHECK_INT(store_outbox_delivered(s, 1, 1000), -1);
    CHECK_CONTAINS(store_errmsg(s), "no pending outbox entry 1");
    CHECK_INT(store_outbox_retry(s, 99, 1, "x"), -1);
    CHECK_INT(raw_int(&t, "SELECT attempts FROM outbox WHERE id = 1"), 4);
    CHECK_INT(raw_int(&t, "SELECT attempts FROM outbox WHERE id = 2"), 1);
    CHECK_INT(raw_int(&t, "SELECT delivered_at FROM outbox WHERE id = 2"), 1000);
    store_close(s);
    tmp_remove(t.dir);
}

/* History rows as "alert/notifier/state" joined with spaces. */
static void hist_str(struct store *s, const char *rule, int64_t since, size_t max, char *buf,
                     size_t len)
{
    struct history_entry *h = NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (store_history(s, rule, since, max, &h, &n) != 0) {
        snprintf(buf, len, "error: %s", store_errmsg(s));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s/%s/%s", i ? " " : "", h[i].alert_id,
                 h[i].notifier ? h[i].notifier : "-", h[i].state);
    }
    history_entries_free(h, n);
}

TEST(history_filters_and_order)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    char buf[512];
    CHECK_INT(add(s, "h1", "r1", AB, 2, 100), 1);
    CHECK_INT(add(s, "h2", "r2", AB, 1, 200), 1);
    CHECK_INT(add(s, "h3", "r1", NULL, 0, 300), 1);
    CHECK_INT(store_outbox_delivered(s, 1, 150), 0);
    CHECK_INT(store_outbox_dead(s, 2, "bad token"), 0);
    hist_str(s, NULL, 0, 100, buf, sizeof buf);
    CHECK_STR(buf, "h3/-/none h2/a/pending h1/a/delivered h1/b/dead");
    hist_str(s, "r1", 0, 100, buf, sizeof buf);
    CHECK_STR(buf, "h3/-/none h1/a/delivered h1/b/dead");
    hist_str(s, NULL, 200, 100, buf, sizeof buf);
    CHECK_STR(buf, "h3/-/none h2/a/pending");
    hist_str(s, NULL, 0, 2, buf, sizeof buf);
    CHECK_STR(buf, "h3/-/none h2/a/pending");
    hist_str(s, "nope", 0, 100, buf, sizeof buf);
    CHECK_STR(buf, "");

    struct history_entry *h = NULL;
    size_t n = 0;
    CHECK_INT(store_history(s, "r1", 0, 10, &h, &n), 0);
    int ok = n == 3 && h[2].attempts == 1 && strcmp(h[2].last_error, "bad token") == 0 &&
             strcmp(h[2].title, "Title") == 0 && strcmp(h[2].source, "src") == 0 &&
             h[2].created == 100;
    history_entries_free(h, n);
    CHECK(ok);
    store_close(s);
    tmp_remove(t.dir);
}

/* Add alert `id` held for notifier "a" in batch "b" until `release`. */
static int add_held(struct store *s, const char *id, int64_t release, int64_t now)
{
    char json[128];
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
    struct alert_route r = {"a", "b", release};
    return store_alert_add_routed(s, id, "r", "src", id, "T", NULL, json, &r, 1, now);
}

TEST(held_alerts_batch_release_and_history)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    int64_t last = -1, open = -1;
    CHECK_INT(store_batch_state(s, "a", "b", &last, &open), 0);
    CHECK_INT(last, 0);
    CHECK_INT(open, 0);
    /* A batch's message going out now is queued and remembered as the last send. */
    struct alert_route now_route = {"a", "b", 0};
    CHECK_INT(
        store_alert_add_routed(s, "m0", "r", "src", "m0", "T", NULL, "{}", &now_route, 1, 100), 1);
    CHECK_INT(store_outbox_pending(s), 1);
    CHECK_INT(store_batch_state(s, "a", "b", &last, &open), 0);
    CHECK_INT(last, 100);
    CHECK_INT(open, 0);
    CHECK_INT(add_held(s, "m1", 1900, 110), 1);
    CHECK_INT(add_held(s, "m2", 1900, 120), 1);
    CHECK_INT(add_held(s, "m2", 1900, 120), 0); /* the same alert again: nothing new */
    CHECK_INT(store_outbox_pending(s), 1);
    CHECK_INT(store_held_pending(s), 2);
    CHECK_INT(store_batch_state(s, "a", "b", &last, &open), 0);
    CHECK_INT(open, 1900);
    int64_t when = 0;
    CHECK_INT(store_held_next(s, &when), 1);
    CHECK_INT(when, 1900);
    struct held_batch *v = NULL;
    size_t n = 9;
    CHECK_INT(store_held_due(s, 1899, 10, &v, &n), 0);
    CHECK_INT((int)n, 0);
    CHECK_INT(store_held_due(s, 1900, 10, &v, &n), 0);
    CHECK_INT((int)n, 1);
    int due_ok = n == 1 && strcmp(v[0].notifier, "a") == 0 && strcmp(v[0].batch, "b") == 0;
    held_batches_free(v, n);
    CHECK(due_ok);
    struct held_member *m = NULL;
    CHECK_INT(store_held_members(s, "a", "b", 1, &m, &n), 0); /* capped at 1 */
    CHECK_INT((int)n, 1);
    int64_t first = n ? m[0].id : 0;
    int mem_ok = n == 1 && strcmp(m[0].alert_id, "m1") == 0 && strcmp(m[0].rule, "r") == 0;
    held_members_free(m, n);
    CHECK(mem_ok);
    char buf[512];
    hist_str(s, NULL, 0, 100, buf, sizeof buf);
    CHECK_STR(buf, "m2/a/held m1/a/held m0/a/pending");
    /* Release the first alone, then fold the rest into digest "dg". */
    CHECK_INT(store_begin(s), 0);
    CHECK_INT(store_outbox_queue(s, "m1", "a", "b", 1900), 0);
    CHECK_INT(store_held_mark(s, "a", "b", first, "m1"), 0);
    CHECK_INT(store_commit(s), 0);
    CHECK_INT(store_held_pending(s), 1);
    CHECK_INT(store_batch_state(s, "a", "b", &last, &open), 0);
    CHECK_INT(last, 1900);
    CHECK_INT(open, 1900);
    CHECK_INT(store_held_mark(s, "a", "b", 1000000, "dg"), 0);
    CHECK_INT(store_held_pending(s), 0);
    CHECK_INT(store_held_next(s, &when), 0);
    hist_str(s, NULL, 0, 100, buf, sizeof buf);
    CHECK_STR(buf, "m2/a/folded m1/a/pending m0/a/pending");
    struct history_entry *h = NULL;
    CHECK_INT(store_history(s, NULL, 0, 1, &h, &n), 0);
    int why_ok = n == 1 && h[0].last_error && strcmp(h[0].last_error, "sent in digest dg") == 0;
    history_entries_free(h, n);
    CHECK(why_ok);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(prune_keeps_held_alerts)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    CHECK_INT(add_held(s, "old", 5000, 100), 1);
    CHECK_INT(store_prune(s, 0, 4000), 0); /* old, but still waiting to go out */
    CHECK_INT(store_held_pending(s), 1);
    CHECK_INT(store_held_mark(s, "a", "b", 1000000, "old"), 0);
    CHECK_INT(store_prune(s, 0, 4000), 1);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM held"), 0);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(prune_finished_alerts_only)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    CHECK_INT(add(s, "done", "r", AB, 2, 100), 1);    /* outbox 1, 2 */
    CHECK_INT(add(s, "waiting", "r", AB, 2, 100), 1); /* outbox 3, 4 */
    CHECK_INT(add(s, "fresh", "r", AB, 2, 500), 1);   /* outbox 5, 6 */
    CHECK_INT(store_outbox_delivered(s, 1, 110), 0);
    CHECK_INT(store_outbox_dead(s, 2, "x"), 0);
    CHECK_INT(store_outbox_delivered(s, 3, 110), 0); /* 4 still pending */
    CHECK_INT(store_outbox_delivered(s, 5, 510), 0);
    CHECK_INT(store_outbox_delivered(s, 6, 510), 0);
    CHECK_INT(store_item_mark(s, "src", "i", NULL, NULL, 100), 0);
    CHECK_INT(store_prune(s, 50, 400), 1); /* only "done"; the item is newer than 50 */
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM alerts"), 2);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM outbox WHERE alert_id = 'done'"), 0);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM outbox"), 4);
    CHECK_INT(store_item_seen(s, "src", "i"), 1);
    CHECK_INT(store_outbox_delivered(s, 4, 600), 0);
    CHECK_INT(store_prune(s, 200, 400), 2); /* now "waiting", and the item */
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM alerts"), 1);
    CHECK_INT(store_prune(s, 200, 400), 0);
    /* Pruning may run inside a caller's transaction and be rolled back with it. */
    CHECK_INT(store_begin(s), 0);
    CHECK_INT(store_prune(s, 0, 1000), 1);
    CHECK_INT(store_rollback(s), 0);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM alerts"), 1);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(rollback_discards_mark_and_alert)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    CHECK_INT(store_begin(s), 0);
    CHECK_INT(store_begin(s), -1); /* no nesting */
    CHECK_CONTAINS(store_errmsg(s), "already open");
    CHECK_INT(store_item_mark(s, "src", "i1", "t", "l", 100), 0);
    CHECK_INT(add(s, "a1", "r", AB, 2, 100), 1);
    CHECK_INT(store_item_seen(s, "src", "i1"), 1); /* visible inside the transaction */
    CHECK_INT(store_rollback(s), 0);
    CHECK_INT(store_item_seen(s, "src", "i1"), 0);
    CHECK_INT(store_outbox_pending(s), 0);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM alerts"), 0);
    CHECK_INT(store_rollback(s), 0); /* nothing open: harmless */

    CHECK_INT(store_begin(s), 0);
    CHECK_INT(store_item_mark(s, "src", "i1", "t", "l", 100), 0);
    CHECK_INT(add(s, "a1", "r", AB, 2, 100), 1);
    CHECK_INT(store_commit(s), 0);
    CHECK_INT(store_commit(s), -1); /* nothing to commit */
    s = reopen(&t, s);
    CHECK(s != NULL);
    CHECK_INT(store_item_seen(s, "src", "i1"), 1);
    CHECK_INT(store_outbox_pending(s), 2);
    store_close(s);
    tmp_remove(t.dir);
}

/* Child: open, begin, mark an item, queue an alert; commit only when asked; tell the
 * parent through `fd` that all of it succeeded, then die without closing anything.
 * (The pipe, not the exit code, carries success: valgrind rewrites the exit code of a
 * process that leaves memory behind, which this one does on purpose.) */
static void crash_child(const char *state, int commit, int fd)
{
    char err[256];
    struct store *s = NULL;
    if (store_open(state, &s, err, sizeof err) != 0 || store_begin(s) != 0 ||
        store_item_mark(s, "src", "crash-item", "t", "l", 100) != 0 ||
        add(s, "crash-alert", "r", AB, 2, 100) != 1 || (commit && store_commit(s) != 0))
        _exit(3);
    if (write(fd, "k", 1) != 1) _exit(4);
    if (!commit) _exit(9);
    raise(SIGKILL);
    _exit(5);
}

/* Run crash_child in a forked process; returns its wait status, or -1 when it did not
 * report success before dying. */
static int crash(const char *state, int commit)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout); /* nothing buffered is printed twice */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        crash_child(state, commit, fds[1]);
    }
    close(fds[1]);
    char c = 0;
    int status = -1;
    ssize_t got = pid > 0 ? read(fds[0], &c, 1) : -1;
    close(fds[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || got != 1 || c != 'k') return -1;
    return status;
}

TEST(killed_before_commit_leaves_nothing)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    store_close(s); /* no connection crosses fork() */
    int status = crash(t.state, 0);
    CHECK(status != -1);
    CHECK(WIFEXITED(status)); /* _exit(9) in the middle of the transaction */
    s = reopen(&t, NULL);
    CHECK(s != NULL);
    CHECK_INT(store_item_seen(s, "src", "crash-item"), 0);
    CHECK_INT(store_outbox_pending(s), 0);
    CHECK_INT(raw_int(&t, "SELECT COUNT(*) FROM alerts"), 0);
    store_close(s);
    tmp_remove(t.dir);
}

TEST(killed_after_commit_keeps_both)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    store_close(s);
    int status = crash(t.state, 1);
    CHECK(status != -1);
    CHECK(WIFSIGNALED(status));
    CHECK_INT(WTERMSIG(status), SIGKILL);
    s = reopen(&t, NULL);
    CHECK(s != NULL);
    CHECK_INT(store_item_seen(s, "src", "crash-item"), 1);
    CHECK_INT(store_outbox_pending(s), 2);
    char buf[128];
    due_str(s, 100, NULL, 0, 10, buf, sizeof buf);
    CHECK_STR(buf, "a:crash-alert b:crash-alert");
    store_close(s);
    tmp_remove(t.dir);
}

TEST(open_errors_name_the_path)
{
    struct tmp t = {0};
    CHECK(tmp_make(&t) == 0);
    char err[512] = "";
    struct store *s = NULL;

    char file[160];
    snprintf(file, sizeof file, "%s/plain-file", t.dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK_INT(store_open(file, &s, err, sizeof err), -1);
    CHECK(s == NULL);
    CHECK_CONTAINS(err, file);
    CHECK_CONTAINS(err, "not a directory");

    char under[192];
    snprintf(under, sizeof under, "%s/sub", file);
    CHECK_INT(store_open(under, &s, err, sizeof err), -1);
    CHECK_CONTAINS(err, under);

    /* herald.db itself is a directory: SQLite's own error, with the database path. */
    char dbdir[192];
    snprintf(dbdir, sizeof dbdir, "%s/d/herald.db", t.dir);
    char d[160];
    snprintf(d, sizeof d, "%s/d", t.dir);
    CHECK(mkdir(d, 0700) == 0 && mkdir(dbdir, 0700) == 0);
    CHECK_INT(store_open(d, &s, err, sizeof err), -1);
    CHECK_CONTAINS(err, dbdir);
    CHECK_CONTAINS(err, "unable to open database file");

    CHECK_INT(store_open("", &s, err, sizeof err), -1);
    CHECK_INT(store_open(NULL, &s, NULL, 0), -1); /* no buffer for the message: still fine */
    tmp_remove(t.dir);
}

TEST(newer_schema_is_refused)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    store_close(s);
    CHECK_INT(raw_int(&t, "PRAGMA user_version = 99"), -999); /* no row; just sets it */
    CHECK_INT(raw_int(&t, "PRAGMA user_version"), 99);
    char err[512] = "";
    CHECK_INT(store_open(t.state, &s, err, sizeof err), -1);
    CHECK_CONTAINS(err, "herald.db");
    CHECK_CONTAINS(err, "schema version 99");
    tmp_remove(t.dir);
}

TEST(hostile_values_round_trip)
{
    struct tmp t = {0};
    struct store *s = open_fresh(&t);
    CHECK(s != NULL);
    size_t big = 2 * 1024 * 1024;
    char *title = malloc(big + 1);
    CHECK(title != NULL);
    memset(title, 'x', big);
    title[big] = '\0';
    const char *const nots[] = {"n\"'; --"};
    int rc = store_alert_add(s, "ü-\xF0\x9F\x93\xB0-id", "r", "src", "i", title, NULL,
                             "{\"t\":\"\\u0000\"}", nots, 1, 1);
    free(title);
    CHECK_INT(rc, 1);
    struct history_entry *h = NULL;
    size_t n = 0;
    CHECK_INT(store_history(s, NULL, 0, 5, &h, &n), 0);
    int ok = n == 1 && strlen(h[0].title) == big && h[0].link == NULL &&
             strcmp(h[0].notifier, "n\"'; --") == 0 &&
             strcmp(h[0].alert_id, "ü-\xF0\x9F\x93\xB0-id") == 0;
    history_entries_free(h, n);
    CHECK(ok);
    store_close(s);
    store_close(NULL);
    tmp_remove(t.dir);
}

int main(void)
{
    if (!mkdtemp(tmp_root)) {
        perror(tmp_root);
        return 1;
    }
    RUN(open_creates_private_dirs);
    RUN(wal_and_schema_on_disk);
    RUN(reopen_persists_everything);
    RUN(sources_update_and_list);
    RUN(seen_set_and_last_seen_refresh);
    RUN(prune_walks_the_items_in_slices);
    RUN(schema_3_store_is_upgraded);
    RUN(checkpoints_run_on_their_own_thread);
    RUN(checkpoint_soon_copies_a_small_log);
    RUN(touch_tells_new_from_seen_and_refreshes_hourly);
    RUN(alert_add_is_idempotent);
    RUN(due_heads_busy_and_next_attempt);
    RUN(order_kept_across_retries_and_dead_moves_on);
    RUN(history_filters_and_order);
    RUN(held_alerts_batch_release_and_history);
    RUN(prune_keeps_held_alerts);
    RUN(prune_finished_alerts_only);
    RUN(rollback_discards_mark_and_alert);
    RUN(killed_before_commit_leaves_nothing);
    RUN(killed_after_commit_keeps_both);
    RUN(open_errors_name_the_path);
    RUN(newer_schema_is_refused);
    RUN(hostile_values_round_trip);
    tmp_remove(tmp_root);
    return check_summary();
}
