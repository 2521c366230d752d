/*
 * test_store_batch — one transaction holding several polls, as the scheduler records them:
 * each poll a part (savepoint) that can fail and be undone alone, the seen set's touch
 * (new, seen, refreshed hourly) inside it, and nothing of it visible to another connection
 * before the commit.
 */
#include "check.h"
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void cleanup(void)
{
    char p[128];
    const char *names[] = {"herald.db", "herald.db-wal", "herald.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static struct store *open_fresh(void)
{
    cleanup();
    struct store *s = NULL;
    char err[512];
    if (store_open(dir, &s, err, sizeof err) != 0) fprintf(stderr, "%s\n", err);
    return s;
}

/* Items of `source` another connection sees (only committed ones). */
static long count_committed(const char *source)
{
    char p[128];
    snprintf(p, sizeof p, "%s/herald.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM items WHERE source = ?1", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

TEST(a_failed_part_is_undone_alone)
{
    struct store *s = open_fresh();
    CHECK(s != NULL);
    if (!s) return;
    CHECK_INT(store_in_transaction(s), 0);
    CHECK_INT(store_part_begin(s), -1); /* a part needs a transaction */
    CHECK_INT(store_begin(s), 0);
    CHECK_INT(store_in_transaction(s), 1);
    /* poll 1: kept */
    CHECK_INT(store_part_begin(s), 0);
    CHECK_INT(store_item_touch(s, "a", "1", "t", "l", 1000), 1);
    CHECK_INT(store_part_release(s), 0);
    /* poll 2: fails half-way and is undone */
    CHECK_INT(store_part_begin(s), 0);
    CHECK_INT(store_item_touch(s, "b", "1", "t", "l", 1000), 1);
    CHECK_INT(store_item_touch(s, "b", "2", "t", "l", 1000), 1);
    CHECK_INT(store_part_rollback(s), 0);
    /* poll 3: kept, and its source state beside it */
    CHECK_INT(store_part_begin(s), 0);
    CHECK_INT(store_item_touch(s, "c", "1", "t", "l", 1000), 1);
    CHECK_INT(store_part_release(s), 0);
    struct source_state st = {.url = "http://x/c", .last_status = 200, .items_new = 1};
    CHECK_INT(store_source_put(s, "c", &st), 0);
    CHECK_INT(count_committed("a"), 0); /* nothing visible before the commit */
    CHECK_INT(store_commit(s), 0);
    CHECK_INT(count_committed("a"), 1);
    CHECK_INT(count_committed("b"), 0);
    CHECK_INT(count_committed("c"), 1);
    CHECK_INT(store_item_seen(s, "b", "1"), 0); /* poll 2's items stay new for its retry */
    struct source_state got = {0};
    CHECK_INT(store_source_get(s, "c", &got), 1);
    CHECK_INT(got.last_status, 200);
    source_state_clear(&got);
    store_close(s);
}

TEST(touch_inside_a_batch_tells_new_from_seen)
{
    struct store *s = open_fresh();
    CHECK(s != NULL);
    if (!s) return;
    CHECK_INT(store_begin(s), 0);
    CHECK_INT(store_item_touch(s, "a", "x", "t", "l", 10000), 1);
    CHECK_INT(store_item_touch(s, "a", "x", "t", "l", 10000), 0); /* twice in one feed */
    CHECK_INT(store_commit(s), 0);
    /* an hour later a seen item is refreshed, still not new; a new one still is */
    CHECK_INT(store_item_touch(s, "a", "x", "t", "l", 14000), 0);
    CHECK_INT(store_item_touch(s, "a", "y", "t", "l", 14000), 1);
    /* pruning before 12000 keeps x: its last_seen moved to 14000 */
    CHECK(store_prune(s, 12000, 0) >= 0);
    CHECK_INT(store_item_seen(s, "a", "x"), 1);
    store_close(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herald-batch-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(a_failed_part_is_undone_alone);
    RUN(touch_inside_a_batch_tells_new_from_seen);
    cleanup();
    return check_summary();
}
