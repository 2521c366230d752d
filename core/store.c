/*
 * store — herald's memory across restarts: one SQLite database in WAL mode in the state
 * directory. Input comes from the scheduler (HTTP validators, poll times), the dedupe step
 * (seen items) and the matcher (alerts, queued per notifier in the same transaction); output
 * goes to the outbox module (the due head of each notifier's queue), `herald status` and
 * `herald history`. Statements are prepared once at open and reset right after each use,
 * so no statement ever holds a read snapshot or a pointer to caller memory between calls.
 */
#include "store.h"

#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    STORE_BUSY_MS = 5000,               /* wait this long for another writer (herald status…) */
    STORE_MAX_VALUE = 64 * 1024 * 1024, /* cap on any one string or blob */
};

/* Schema migrations: migrations[i] brings user_version i to i+1. Only ever append; a column
 * added later is an `ALTER TABLE … ADD COLUMN` here. All run in one transaction. */
static const char *const migrations[] = {
    "CREATE TABLE sources ("
    " name TEXT PRIMARY KEY NOT NULL, url TEXT, etag TEXT, last_modified TEXT,"
    " last_fetch INTEGER NOT NULL DEFAULT 0, next_poll INTEGER NOT NULL DEFAULT 0,"
    " last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    " failures INTEGER NOT NULL DEFAULT 0, items_new INTEGER NOT NULL DEFAULT 0,"
    " items_total INTEGER NOT NULL DEFAULT 0) STRICT;"
    "CREATE TABLE items ("
    " source TEXT NOT NULL, item_id TEXT NOT NULL, title TEXT, link TEXT,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " PRIMARY KEY (source, item_id)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX items_last_seen ON items (last_seen);"
    "CREATE TABLE alerts ("
    " id TEXT PRIMARY KEY NOT NULL, rule TEXT NOT NULL, source TEXT, item_id TEXT,"
    " title TEXT, link TEXT, json TEXT NOT NULL, created INTEGER NOT NULL) STRICT;"
    "CREATE INDEX alerts_created ON alerts (created);"
    /* AUTOINCREMENT: ids never go back, even after pruning, so id order is queue order. */
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,"
    " notifier TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (state IN ('pending', 'delivered', 'dead')),"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,"
    " last_error TEXT, delivered_at INTEGER,"
    " UNIQUE (alert_id, notifier)) STRICT;"
    "CREATE INDEX outbox_queue ON outbox (state, notifier, id);",
    /* 2: where a permanently redirected URL came from, and the learnt poll interval. */
    "ALTER TABLE sources ADD COLUMN origin_url TEXT;"
    "ALTER TABLE sources ADD COLUMN interval_ms INTEGER NOT NULL DEFAULT 0;",
    /* 3: alerts held back by throttle, digest or quiet hours, and when each batch (a
     * notifier, or a rule's alerts to it) last sent a message. sent_as is the alert that
     * carried a held one out: itself, or the digest it was folded into. */
    "CREATE TABLE held ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,"
    " notifier TEXT NOT NULL, batch TEXT NOT NULL, release_at INTEGER NOT NULL,"
    " sent_as TEXT, UNIQUE (alert_id, notifier)) STRICT;"
    "CREATE INDEX held_open ON held (notifier, batch, sent_as, id);"
    "CREATE INDEX held_release ON held (sent_as, release_at);"
    "CREATE TABLE batches ("
    " notifier TEXT NOT NULL, batch TEXT NOT NULL, last_sent INTEGER NOT NULL,"
    " PRIMARY KEY (notifier, batch)) STRICT, WITHOUT ROWID;",
    /* 4: no index on items.last_seen. Every new item paid for it (6% of a first poll of
     * 10,000 feeds) so that the hourly prune could seek; the prune now walks the items in
     * slices of the primary key instead (store_prune_items_slice). */
    "DROP INDEX IF EXISTS items_last_seen;",
};
enum { STORE_SCHEMA_VERSION = sizeof migrations / sizeof migrations[0] };

/* The head of each notifier's queue: its oldest pending entry. A plain GROUP BY would read
 * every pending row on each call (0.6 ms at 8000 pending, so a backlog drains in quadratic
 * time); this walks the distinct notifiers with one index seek each on outbox_queue. */
#define PENDING_HEADS                                                                              \
    "WITH RECURSIVE q (name) AS ("                                                                 \
    " SELECT MIN(notifier) FROM outbox WHERE state = 'pending'"                                    \
    " UNION ALL SELECT (SELECT MIN(notifier) FROM outbox"                                          \
    "  WHERE state = 'pending' AND notifier > q.name) FROM q WHERE q.name IS NOT NULL)"            \
    " SELECT (SELECT MIN(id) FROM outbox WHERE state = 'pending' AND notifier = q.name)"           \
    " FROM q WHERE q.name IS NOT NULL"
#define SOURCE_COLS                                                                                \
    "url, etag, last_modified, last_fetch, next_poll, last_status, last_error, failures, "         \
    "items_new, items_total, origin_url, interval_ms"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_PART_BEGIN,
    ST_PART_RELEASE,
    ST_PART_ROLLBACK_TO,
    ST_SOURCE_GET,
    ST_SOURCE_PUT,
    ST_SOURCE_LIST,
    ST_ITEM_SEEN,
    ST_ITEM_MARK,
    ST_ITEM_TOUCH,
    ST_ITEM_REFRESH,
    ST_ALERT_ADD,
    ST_OUTBOX_ADD,
    ST_OUTBOX_DUE,
    ST_OUTBOX_NEXT,
    ST_OUTBOX_PENDING,
    ST_OUTBOX_DELIVERED,
    ST_OUTBOX_RETRY,
    ST_OUTBOX_DEAD,
    ST_BATCH_LAST,
    ST_BATCH_OPEN,
    ST_BATCH_SENT,
    ST_HELD_ADD,
    ST_HELD_DUE,
    ST_HELD_MEMBERS,
    ST_HELD_SENT,
    ST_HELD_NEXT,
    ST_HELD_PENDING,
    ST_HISTORY,
    ST_PRUNE_BOUND,
    ST_PRUNE_RANGE,
    ST_PRUNE_TAIL,
    ST_PRUNE_ALERTS,
    ST_COUNT
};

/* What each statement does (for error messages) and its SQL. */
static const struct {
    const char *what;
    const char *sql;
} stmt_defs[ST_COUNT] = {
    [ST_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [ST_COMMIT] = {"commit", "COMMIT"},
    [ST_ROLLBACK] = {"rollback", "ROLLBACK"},
    [ST_SAVEPOINT] = {"savepoint", "SAVEPOINT store_op"},
    [ST_RELEASE] = {"release", "RELEASE store_op"},
    [ST_ROLLBACK_TO] = {"rollback to savepoint", "ROLLBACK TO store_op"},
    [ST_PART_BEGIN] = {"savepoint", "SAVEPOINT store_part"},
    [ST_PART_RELEASE] = {"release", "RELEASE store_part"},
    [ST_PART_ROLLBACK_TO] = {"rollback to savepoint", "ROLLBACK TO store_part"},
    [ST_SOURCE_GET] = {"read source", "SELECT " SOURCE_COLS " FROM sources WHERE name = ?1"},
    [ST_SOURCE_PUT] = {"save source",
                       "INSERT INTO sources (name, " SOURCE_COLS ")"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                       " ON CONFLICT (name) DO UPDATE SET url = excluded.url,"
                       " etag = excluded.etag, last_modified = excluded.last_modified,"
                       " last_fetch = excluded.last_fetch, next_poll = excluded.next_poll,"
                       " last_status = excluded.last_status, last_error = excluded.last_error,"
                       " failures = excluded.failures, items_new = excluded.items_new,"
                       " items_total = excluded.items_total, origin_url = excluded.origin_url,"
                       " interval_ms = excluded.interval_ms"},
    [ST_SOURCE_LIST] = {"list sources", "SELECT name, " SOURCE_COLS " FROM sources ORDER BY name"},
    [ST_ITEM_SEEN] = {"look up item", "SELECT 1 FROM items WHERE source = ?1 AND item_id = ?2"},
    /* last_seen only moves forward, so a clock stepped back cannot make pruning forget. */
    [ST_ITEM_MARK] = {"mark item",
                      "INSERT INTO items (source, item_id, title, link, first_seen, last_seen)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
                      " ON CONFLICT (source, item_id)"
                      " DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)"},
    /* A new item is inserted (sqlite3_changes() says so); a known one is left alone and
     * then only gets its last_seen refreshed when that is over an hour old (pruning works
     * in days), so re-polling an unchanged feed writes nothing. Not an upsert with
     * RETURNING: that builds and drops a temporary table on every call, which made it the
     * dearest step of a first poll. */
    [ST_ITEM_TOUCH] = {"touch item",
                       "INSERT INTO items (source, item_id, title, link, first_seen, last_seen)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
                       " ON CONFLICT (source, item_id) DO NOTHING"},
    [ST_ITEM_REFRESH] = {"refresh item",
                         "UPDATE items SET last_seen = ?3"
                         " WHERE source = ?1 AND item_id = ?2 AND last_seen < ?3 - 3600"},
    /* ON CONFLICT … DO NOTHING rather than INSERT OR IGNORE: only a duplicate id is ignored;
     * a NULL rule or notifier still fails loudly instead of vanishing. */
    [ST_ALERT_ADD] = {"add alert",
                      "INSERT INTO alerts (id, rule, source, item_id, title, link, json, created)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING"},
    [ST_OUTBOX_ADD] = {"queue alert",
                       "INSERT INTO outbox (alert_id, notifier, state, attempts, next_attempt)"
                       " VALUES (?1, ?2, 'pending', 0, ?3)"
                       " ON CONFLICT (alert_id, notifier) DO NOTHING"},
    [ST_OUTBOX_DUE] = {"read due outbox entries",
                       "SELECT o.id, o.alert_id, o.notifier, a.rule, a.json, o.attempts,"
                       " a.created, o.next_attempt, o.last_error"
                       " FROM outbox AS o JOIN alerts AS a ON a.id = o.alert_id"
                       " WHERE o.id IN (" PENDING_HEADS ") AND o.next_attempt <= ?1"
                       " ORDER BY o.id"},
    [ST_OUTBOX_NEXT] = {"read next outbox attempt",
                        "SELECT MIN(next_attempt) FROM outbox WHERE id IN (" PENDING_HEADS ")"},
    [ST_OUTBOX_PENDING] = {"count pending outbox entries",
                           "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"},
    [ST_OUTBOX_DELIVERED] = {"mark outbox entry delivered",
                             "UPDATE outbox SET state = 'delivered', delivered_at = ?2,"
                             " attempts = attempts + 1 WHERE id = ?1 AND state = 'pending'"},
    [ST_OUTBOX_RETRY] = {"schedule outbox retry",
                         "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2,"
                         " last_error = ?3 WHERE id = ?1 AND state = 'pending'"},
    [ST_OUTBOX_DEAD] = {"give up outbox entry",
                        "UPDATE outbox SET state = 'dead', attempts = attempts + 1,"
                        " last_error = ?2 WHERE id = ?1 AND state = 'pending'"},
    [ST_BATCH_LAST] = {"read batch",
                       "SELECT last_sent FROM batches WHERE notifier = ?1 AND batch = ?2"},
    [ST_BATCH_OPEN] = {"read held alerts",
                       "SELECT MIN(release_at) FROM held"
                       " WHERE notifier = ?1 AND batch = ?2 AND sent_as IS NULL"},
    [ST_BATCH_SENT] =
        {"record batch message",
         "INSERT INTO batches (notifier, batch, last_sent) VALUES (?1, ?2, ?3)"
         " ON CONFLICT (notifier, batch) DO UPDATE SET last_sent = excluded.last_sent"},
    [ST_HELD_ADD] = {"hold alert",
                     "INSERT INTO held (alert_id, notifier, batch, release_at)"
                     " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (alert_id, notifier) DO NOTHING"},
    [ST_HELD_DUE] = {"read due batches",
                     "SELECT notifier, batch, MIN(release_at) FROM held WHERE sent_as IS NULL"
                     " GROUP BY notifier, batch HAVING MIN(release_at) <= ?1 ORDER BY MIN(id)"},
    [ST_HELD_MEMBERS] = {"read held alerts",
                         "SELECT h.id, h.alert_id, a.rule, a.json, a.created"
                         " FROM held AS h JOIN alerts AS a ON a.id = h.alert_id"
                         " WHERE h.notifier = ?1 AND h.batch = ?2 AND h.sent_as IS NULL"
                         " ORDER BY h.id LIMIT ?3"},
    [ST_HELD_SENT] = {"release held alerts",
                      "UPDATE held SET sent_as = ?3 WHERE notifier = ?1 AND batch = ?2"
                      " AND sent_as IS NULL AND id <= ?4"},
    [ST_HELD_NEXT] = {"read next release",
                      "SELECT MIN(release_at) FROM held WHERE sent_as IS NULL"},
    [ST_HELD_PENDING] = {"count held alerts", "SELECT COUNT(*) FROM held WHERE sent_as IS NULL"},
    /* rowid breaks ties between alerts created in the same second: later insert first.
     * Held alerts show as "held" (until when) or, once folded into a digest, "folded"
     * naming the digest; one released alone has its own outbox row instead. */
    [ST_HISTORY] = {"read history",
                    "SELECT a.id, a.rule, a.source, a.title, a.link, a.created, d.notifier,"
                    " COALESCE(d.state, 'none'), COALESCE(d.attempts, 0), d.last_error"
                    " FROM alerts AS a LEFT JOIN ("
                    "  SELECT alert_id, notifier, state, attempts, last_error, id AS ord"
                    "  FROM outbox"
                    "  UNION ALL SELECT alert_id, notifier,"
                    "  CASE WHEN sent_as IS NULL THEN 'held' ELSE 'folded' END, 0,"
                    "  CASE WHEN sent_as IS NULL"
                    "   THEN 'held until ' || datetime(release_at, 'unixepoch', 'localtime')"
                    "   ELSE 'sent in digest ' || sent_as END, id"
                    "  FROM held WHERE sent_as IS NULL OR sent_as <> alert_id"
                    " ) AS d ON d.alert_id = a.id"
                    " WHERE (?1 IS NULL OR a.rule = ?1) AND a.created >= ?2"
                    " ORDER BY a.created DESC, a.rowid DESC, d.ord LIMIT ?3"},
    /* A slice of the prune: from source ?1 up to (not including) the first source after
     * the one PRUNE_SLICE rows on; NULL when those rows reach the end. The second source
     * is strictly after the first, so a source with more rows than a slice still ends one. */
    [ST_PRUNE_BOUND] = {"prune items",
                        "SELECT MIN(source) FROM items WHERE source > (SELECT source FROM items"
                        " WHERE source >= ?1 ORDER BY source LIMIT 1 OFFSET ?2)"},
    [ST_PRUNE_RANGE] = {"prune items", "DELETE FROM items WHERE source >= ?1 AND source < ?2"
                                       " AND last_seen < ?3"},
    [ST_PRUNE_TAIL] = {"prune items", "DELETE FROM items WHERE source >= ?1 AND last_seen < ?2"},
    /* Outbox rows go with their alert (ON DELETE CASCADE). */
    [ST_PRUNE_ALERTS] = {"prune alerts", "DELETE FROM alerts WHERE created < ?1 AND NOT EXISTS"
                                         " (SELECT 1 FROM outbox AS o WHERE o.alert_id = alerts.id"
                                         " AND o.state = 'pending') AND NOT EXISTS"
                                         " (SELECT 1 FROM held AS h WHERE h.alert_id = alerts.id"
                                         " AND h.sent_as IS NULL)"},
};

struct store {
    sqlite3 *db;
    struct checkpointer *ckpt; /* NULL: SQLite's automatic checkpoints */
    char *path;                /* dir/herald.db, named in every error */
    sqlite3_stmt *st[ST_COUNT];
    char err[PATH_MAX + 512];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Record "path: what: sqlite's reason" as this connection's last error. Returns -1. */
static int fail(struct store *s, const char *what)
{
    set_err(s->err, sizeof s->err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return -1;
}

/* Put a statement back for its next use and drop its bindings: they may point into memory
 * of the caller (bound SQLITE_STATIC, which is safe because every step happens before we
 * return). sqlite3_reset() only repeats the error of the last step, already handled. */
static void done(sqlite3_stmt *st)
{
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Record the error of statement `id` (before resetting it, which keeps the message) and
 * reset it. Returns -1. */
static int fail_st(struct store *s, enum stmt_id id)
{
    fail(s, stmt_defs[id].what);
    done(s->st[id]);
    return -1;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (!v) return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int bind_int(sqlite3_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(st, i, v);
}

/* Run a statement that returns no rows (its parameters already bound). */
static int run(struct store *s, enum stmt_id id)
{
    if (sqlite3_step(s->st[id]) != SQLITE_DONE) return fail_st(s, id);
    done(s->st[id]);
    return 0;
}

/* A malloc'd copy of a text column (NULL stays NULL). Sets *oom when a copy failed. */
static char *col_text(sqlite3_stmt *st, int i, int *oom)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    int len = sqlite3_column_bytes(st, i);
    char *copy = t && len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!copy) {
        *oom = 1;
        return NULL;
    }
    memcpy(copy, t, (size_t)len);
    copy[len] = '\0';
    return copy;
}

static int fail_oom(struct store *s, enum stmt_id id)
{
    set_err(s->err, sizeof s->err, "%s: %s: out of memory", s->path, stmt_defs[id].what);
    done(s->st[id]);
    return -1;
}

/* A result array `v` of *cap elements grown to hold `need` (doubling, at most `max`): the
 * array to use from now on, or NULL when out of memory (`v` is then still valid). */
static void *grow(void *v, size_t *cap, size_t need, size_t max, size_t elem)
{
    if (need <= *cap) return v;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > max) ncap = max;
    if (ncap < need || ncap > SIZE_MAX / elem) return NULL;
    void *nv = realloc(v, ncap * elem);
    if (nv) *cap = ncap;
    return nv;
}

/* How collect_rows turns result rows into an array of `size`-byte elements: `read` fills
 * a zeroed element (returning -1 when out of memory, having freed what it took), `free_rows`
 * releases an array, and `skip` (NULL: keep all) passes over rows. */
struct row_kind {
    size_t size;
    int (*read)(sqlite3_stmt *st, void *row);
    void (*free_rows)(void *rows, size_t n);
    int (*skip)(sqlite3_stmt *st, const void *arg);
    const void *skip_arg;
};

/* Step statement `id` (its parameters bound) and read up to `max` rows. Sets *out and *n;
 * 0, or -1 with the error recorded. */
static int collect_rows(struct store *s, enum stmt_id id, size_t max, const struct row_kind *k,
                        void **out, size_t *n)
{
    sqlite3_stmt *st = s->st[id];
    char *v = NULL;
    size_t cap = 0, len = 0;
    int rc = SQLITE_DONE;
    *out = NULL;
    *n = 0;
    while (len < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (k->skip && k->skip(st, k->skip_arg)) continue;
        char *nv = grow(v, &cap, len + 1, max, k->size);
        if (!nv) break;
        v = nv;
        memset(v + len * k->size, 0, k->size);
        if (k->read(st, v + len * k->size) != 0) break;
        len++;
    }
    if (rc == SQLITE_ROW && len < max) { /* stopped by an allocation */
        k->free_rows(v, len);
        return fail_oom(s, id);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        k->free_rows(v, len);
        return fail_st(s, id);
    }
    done(st);
    *out = v;
    *n = len;
    return 0;
}

/* ---- opening ---- */

/* mkdir -p with mode 0700 for every directory created; `dir` must end up a directory. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf) {
        set_err(err, errlen, "state directory path is empty or too long (%zu bytes)", len);
        return -1;
    }
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            set_err(err, errlen, "%s: cannot create directory: %s", buf, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0') break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        set_err(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        set_err(err, errlen, "%s: not a directory", dir);
        return -1;
    }
    return 0;
}

/* Run one or more statements that need no parameters (open-time set-up only). */
static int exec_sql(struct store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return fail(s, what);
    return 0;
}

/* Run a one-row query (open-time only), copying its first column as integer or text. */
static int query_one(struct store *s, const char *sql, int64_t *num, char *txt, size_t txtlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return fail(s, sql);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            set_err(s->err, sizeof s->err, "%s: %s: no result", s->path, sql);
        else
            fail(s, sql);
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (num) *num = sqlite3_column_int64(st, 0);
    if (txt) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(txt, txtlen, "%s", t ? (const char *)t : "");
    }
    (void)sqlite3_finalize(st); /* returns the step's code, already checked */
    return 0;
}

/* Connection settings. WAL lets readers (herald status/history) work while the daemon
 * writes, and makes a commit one append to the log. synchronous=NORMAL is enough with WAL:
 * a committed transaction survives a crash or kill -9 of herald (it is in the log, in the
 * kernel's cache), and the database can never be corrupted; only a power loss or OS crash
 * can undo the last commits, which rolls whole transactions back together (an item and its
 * alerts), so herald refetches and re-alerts rather than losing anything. FULL would add an
 * fsync per commit for no gain in consistency. */
static int configure(struct store *s)
{
    if (sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK ||
        sqlite3_busy_timeout(s->db, STORE_BUSY_MS) != SQLITE_OK)
        return fail(s, "configure");
    (void)sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, STORE_MAX_VALUE); /* returns old limit */

    char mode[16];
    if (query_one(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode) != 0) return -1;
    if (strcmp(mode, "wal") != 0) {
        set_err(s->err, sizeof s->err, "%s: cannot use WAL journal mode (got \"%s\")", s->path,
                mode);
        return -1;
    }
    /* A checkpoint (copying the log into the database) is where WAL mode fsyncs. At the
     * default 1,000 pages a 10,000-source fetch checkpoints ~150 times and spends ~1.5 s
     * waiting for the disk; 8,192 pages (32 MiB of log) makes that a handful. This holds
     * only until store_open hands checkpoints to their own thread (checkpoint.h).
     * The log and its index stay between runs: the last connection to close checkpoints
     * and then empties the log (a journal_size_limit is what makes it truncate) instead of
     * deleting both files, so herald.db alone still holds every commit once herald has
     * stopped. Creating and deleting the two files took longer than a whole 1,000-feed
     * run's checkpoint on the file systems measured. */
    int persist = 1;
    (void)sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (exec_sql(s,
                 "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 8192;"
                 " PRAGMA journal_size_limit = 67108864; PRAGMA foreign_keys = ON",
                 "configure") != 0)
        return -1;
    int64_t fk = 0;
    if (query_one(s, "PRAGMA foreign_keys", &fk, NULL, 0) != 0) return -1;
    if (fk != 1) {
        set_err(s->err, sizeof s->err, "%s: this SQLite has no foreign key support", s->path);
        return -1;
    }
    return 0;
}

/* Bring the schema to STORE_SCHEMA_VERSION in one transaction: all migrations or none. */
static int migrate(struct store *s)
{
    if (exec_sql(s, "BEGIN IMMEDIATE", "begin migration") != 0) return -1;
    int64_t version = 0;
    if (query_one(s, "PRAGMA user_version", &version, NULL, 0) != 0) goto fail;
    if (version > STORE_SCHEMA_VERSION || version < 0) {
        set_err(s->err, sizeof s->err,
                "%s: schema version %lld is newer than this herald understands (%d)", s->path,
                (long long)version, (int)STORE_SCHEMA_VERSION);
        goto fail;
    }
    for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
        char what[64];
        snprintf(what, sizeof what, "migration to schema version %lld", (long long)v + 1);
        if (exec_sql(s, migrations[v], what) != 0) goto fail;
    }
    /* Setting user_version writes the header page even when it does not change, and a
     * run's first write restarts the log with an fsync: only write what changed. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", (int)STORE_SCHEMA_VERSION);
    if (version < STORE_SCHEMA_VERSION && exec_sql(s, sql, "set schema version") != 0) goto fail;
    if (exec_sql(s, "COMMIT", "commit") != 0) goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* first error is reported */
    return -1;
}

static int prepare_all(struct store *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK)
            return fail(s, stmt_defs[i].what);
    }
    return 0;
}

static char *db_path(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    const char *name = "/herald.db";
    char *p = malloc(len + strlen(name) + 1);
    if (!p) return NULL;
    memcpy(p, dir, len);
    strcpy(p + len, len == 1 && dir[0] == '/' ? name + 1 : name);
    return p;
}

int store_open(const char *dir, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!dir) {
        set_err(err, errlen, "no state directory given");
        return -1;
    }
    if (make_dirs(dir, err, errlen) != 0) return -1;
    struct store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = db_path(dir))) {
        free(s);
        set_err(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    /* NOMUTEX: a connection is only ever used by one thread (the daemon's loop thread, or
     * the one command that opened it), so SQLite's per-call locking would be pure cost. */
    int rc = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(s);
        return -1;
    }
    if (configure(s) != 0 || migrate(s) != 0 || prepare_all(s) != 0) {
        set_err(err, errlen, "%s", s->err);
        store_close(s);
        return -1;
    }
    s->ckpt = checkpointer_attach(s->db, s->path);
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s) return;
    for (int i = 0; i < ST_COUNT; i++)
        (void)sqlite3_finalize(s->st[i]); /* repeats the last step's code; NULL is a no-op */
    checkpointer_free(s->ckpt);
    /* With every statement finalized close cannot be busy; it checkpoints the WAL and rolls
     * back a transaction left open. */
    (void)sqlite3_close(s->db);
    free(s->path);
    free(s);
}

void store_checkpoint_soon(struct store *s)
{
    if (s) checkpointer_ask(s->ckpt);
}

const char *store_errmsg(struct store *s)
{
    return s ? s->err : "no store";
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        set_err(s->err, sizeof s->err, "%s: begin: a transaction is already open", s->path);
        return -1;
    }
    return run(s, ST_BEGIN);
}

int store_commit(struct store *s)
{
    if (run(s, ST_COMMIT) == 0) return 0;
    /* Leave the connection usable: a commit that failed with the transaction still open
     * (e.g. SQLITE_BUSY) is rolled back; the commit's error stays the one reported. */
    if (!sqlite3_get_autocommit(s->db)) {
        /* The rollback's own outcome cannot change what we report: the commit failed. */
        (void)sqlite3_step(s->st[ST_ROLLBACK]);
        done(s->st[ST_ROLLBACK]);
    }
    return -1;
}

int store_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return 0; /* nothing open: SQLite already rolled back after an error */
    return run(s, ST_ROLLBACK);
}

int store_in_transaction(struct store *s)
{
    return !sqlite3_get_autocommit(s->db);
}

int store_part_begin(struct store *s)
{
    if (sqlite3_get_autocommit(s->db)) {
        set_err(s->err, sizeof s->err, "%s: savepoint: no transaction is open", s->path);
        return -1;
    }
    return run(s, ST_PART_BEGIN);
}

int store_part_release(struct store *s)
{
    return run(s, ST_PART_RELEASE);
}

int store_part_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db)) return -1; /* SQLite rolled everything back */
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved); /* the error that made us roll back stays */
    int rc = run(s, ST_PART_ROLLBACK_TO) == 0 && run(s, ST_PART_RELEASE) == 0 ? 0 : -1;
    memcpy(s->err, saved, sizeof saved);
    return rc;
}

/* Start an atomic group of writes: a transaction of our own when none is open, else a
 * savepoint in the caller's, so that a failure half-way undoes exactly our part. */
static int op_begin(struct store *s, int *own)
{
    *own = sqlite3_get_autocommit(s->db) != 0;
    return run(s, *own ? ST_BEGIN : ST_SAVEPOINT);
}

static int op_commit(struct store *s, int own)
{
    if (own) return store_commit(s);
    return run(s, ST_RELEASE);
}

/* Undo an atomic group after a failure, keeping the first error as the one reported. */
static int op_abort(struct store *s, int own)
{
    if (sqlite3_get_autocommit(s->db))
        return -1; /* SQLite already rolled the whole transaction back */
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved);
    if (own) {
        (void)run(s, ST_ROLLBACK);
    } else if (run(s, ST_ROLLBACK_TO) == 0) {
        (void)run(s, ST_RELEASE);
    }
    memcpy(s->err, saved, sizeof saved);
    return -1;
}

/* ---- sources ---- */

/* Fill a source_state from columns first..first+11 (in SOURCE_COLS order). */
static int read_source(sqlite3_stmt *st, int first, struct source_state *out)
{
    int oom = 0;
    memset(out, 0, sizeof *out);
    out->url = col_text(st, first, &oom);
    out->etag = col_text(st, first + 1, &oom);
    out->last_modified = col_text(st, first + 2, &oom);
    out->last_fetch = sqlite3_column_int64(st, first + 3);
    out->next_poll = sqlite3_column_int64(st, first + 4);
    out->last_status = (long)sqlite3_column_int64(st, first + 5);
    out->last_error = col_text(st, first + 6, &oom);
    out->failures = sqlite3_column_int(st, first + 7);
    out->items_new = sqlite3_column_int64(st, first + 8);
    out->items_total = sqlite3_column_int64(st, first + 9);
    out->origin_url = col_text(st, first + 10, &oom);
    out->interval_ms = sqlite3_column_int64(st, first + 11);
    if (oom) {
        source_state_clear(out);
        return -1;
    }
    return 0;
}

int store_source_get(struct store *s, const char *name, struct source_state *out)
{
    sqlite3_stmt *st = s->st[ST_SOURCE_GET];
    memset(out, 0, sizeof *out);
    if (bind_text(st, 1, name) != SQLITE_OK) return fail_st(s, ST_SOURCE_GET);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        done(st);
        return 0;
    }
    if (rc != SQLITE_ROW) return fail_st(s, ST_SOURCE_GET);
    if (read_source(st, 0, out) != 0) return fail_oom(s, ST_SOURCE_GET);
    done(st);
    return 1;
}

int store_source_put(struct store *s, const char *name, const struct source_state *v)
{
    sqlite3_stmt *st = s->st[ST_SOURCE_PUT];
    if (bind_text(st, 1, name) || bind_text(st, 2, v->url) || bind_text(st, 3, v->etag) ||
        bind_text(st, 4, v->last_modified) || bind_int(st, 5, v->last_fetch) ||
        bind_int(st, 6, v->next_poll) || bind_int(st, 7, v->last_status) ||
        bind_text(st, 8, v->last_error) || bind_int(st, 9, v->failures) ||
        bind_int(st, 10, v->items_new) || bind_int(st, 11, v->items_total) ||
        bind_text(st, 12, v->origin_url) || bind_int(st, 13, v->interval_ms))
        return fail_st(s, ST_SOURCE_PUT);
    return run(s, ST_SOURCE_PUT);
}

void source_state_clear(struct source_state *st)
{
    if (!st) return;
    free(st->url);
    free(st->etag);
    free(st->last_modified);
    free(st->last_error);
    free(st->origin_url);
    memset(st, 0, sizeof *st);
}

static int cmp_row_name(const void *key, const void *row)
{
    return strcmp(key, ((const struct source_row *)row)->name);
}

/* SQLite's BINARY order, which ORDER BY name uses, is strcmp's: bytes compared unsigned. */
struct source_row *source_rows_find(struct source_row *v, size_t n, const char *name)
{
    return n ? bsearch(name, v, n, sizeof *v, cmp_row_name) : NULL;
}

int store_source_list(struct store *s, struct source_row **out, size_t *n)
{
    sqlite3_stmt *st = s->st[ST_SOURCE_LIST];
    struct source_row *v = NULL;
    size_t cap = 0, len = 0;
    int rc;
    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int oom = 0;
        struct source_row *nv = grow(v, &cap, len + 1, SIZE_MAX / sizeof *v, sizeof *v);
        if (!nv) goto oom;
        v = nv;
        v[len].name = col_text(st, 0, &oom);
        if (oom || read_source(st, 1, &v[len].st) != 0) {
            free(v[len].name);
            goto oom;
        }
        len++;
    }
    if (rc != SQLITE_DONE) {
        source_rows_free(v, len);
        return fail_st(s, ST_SOURCE_LIST);
    }
    done(st);
    *out = v;
    *n = len;
    return 0;
oom:
    source_rows_free(v, len);
    return fail_oom(s, ST_SOURCE_LIST);
}

void source_rows_free(struct source_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        source_state_clear(&v[i].st);
    }
    free(v);
}

/* ---- seen items ---- */

int store_item_seen(struct store *s, const char *source, const char *item_id)
{
    sqlite3_stmt *st = s->st[ST_ITEM_SEEN];
    if (bind_text(st, 1, source) || bind_text(st, 2, item_id)) return fail_st(s, ST_ITEM_SEEN);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail_st(s, ST_ITEM_SEEN);
    done(st);
    return rc == SQLITE_ROW;
}

int store_item_mark(struct store *s, const char *source, const char *item_id, const char *title,
                    const char *link, int64_t now)
{
    sqlite3_stmt *st = s->st[ST_ITEM_MARK];
    if (bind_text(st, 1, source) || bind_text(st, 2, item_id) || bind_text(st, 3, title) ||
        bind_text(st, 4, link) || bind_int(st, 5, now))
        return fail_st(s, ST_ITEM_MARK);
    return run(s, ST_ITEM_MARK);
}

int store_item_touch(struct store *s, const char *source, const char *item_id, const char *title,
                     const char *link, int64_t now)
{
    sqlite3_stmt *st = s->st[ST_ITEM_TOUCH];
    if (bind_text(st, 1, source) || bind_text(st, 2, item_id) || bind_text(st, 3, title) ||
        bind_text(st, 4, link) || bind_int(st, 5, now))
        return fail_st(s, ST_ITEM_TOUCH);
    if (run(s, ST_ITEM_TOUCH) != 0) return -1;
    if (sqlite3_changes(s->db) == 1) return 1;
    st = s->st[ST_ITEM_REFRESH];
    if (bind_text(st, 1, source) || bind_text(st, 2, item_id) || bind_int(st, 3, now))
        return fail_st(s, ST_ITEM_REFRESH);
    return run(s, ST_ITEM_REFRESH) != 0 ? -1 : 0;
}

/* ---- alerts and the outbox ---- */

/* Queue one alert for one notifier; a message of a batch also records when it went out. */
static int queue_one(struct store *s, const char *alert_id, const char *notifier, const char *batch,
                     int64_t now)
{
    sqlite3_stmt *st = s->st[ST_OUTBOX_ADD];
    if (bind_text(st, 1, alert_id) || bind_text(st, 2, notifier) || bind_int(st, 3, now))
        return fail_st(s, ST_OUTBOX_ADD);
    if (run(s, ST_OUTBOX_ADD) != 0) return -1;
    if (!batch) return 0;
    st = s->st[ST_BATCH_SENT];
    if (bind_text(st, 1, notifier) || bind_text(st, 2, batch) || bind_int(st, 3, now))
        return fail_st(s, ST_BATCH_SENT);
    return run(s, ST_BATCH_SENT);
}

static int hold_one(struct store *s, const char *alert_id, const struct alert_route *r)
{
    sqlite3_stmt *st = s->st[ST_HELD_ADD];
    if (bind_text(st, 1, alert_id) || bind_text(st, 2, r->notifier) || bind_text(st, 3, r->batch) ||
        bind_int(st, 4, r->release_at))
        return fail_st(s, ST_HELD_ADD);
    return run(s, ST_HELD_ADD);
}

static int queue_alert(struct store *s, const char *alert_id, const struct alert_route *routes,
                       size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        const struct alert_route *r = &routes[i];
        if (!r->notifier) {
            set_err(s->err, sizeof s->err, "%s: queue alert %s: notifier %zu has no name", s->path,
                    alert_id, i);
            return -1;
        }
        int rc = r->batch && r->release_at > 0 ? hold_one(s, alert_id, r)
                                               : queue_one(s, alert_id, r->notifier, r->batch, now);
        if (rc != 0) return -1;
    }
    return 0;
}

/* Insert the alert row: 1 inserted, 0 the id existed, -1 error. */
static int insert_alert(struct store *s, const char *alert_id, const char *rule, const char *source,
                        const char *item_id, const char *title, const char *link, const char *json,
                        int64_t now)
{
    sqlite3_stmt *st = s->st[ST_ALERT_ADD];
    if (bind_text(st, 1, alert_id) || bind_text(st, 2, rule) || bind_text(st, 3, source) ||
        bind_text(st, 4, item_id) || bind_text(st, 5, title) || bind_text(st, 6, link) ||
        bind_text(st, 7, json) || bind_int(st, 8, now))
        return fail_st(s, ST_ALERT_ADD);
    if (run(s, ST_ALERT_ADD) != 0) return -1;
    return sqlite3_changes(s->db) > 0;
}

int store_alert_add(struct store *s, const char *alert_id, const char *rule, const char *source,
                    const char *item_id, const char *title, const char *link, const char *json,
                    const char *const *notifiers, size_t n, int64_t now)
{
    struct alert_route *routes = calloc(n + 1, sizeof *routes);
    if (!routes) {
        set_err(s->err, sizeof s->err, "%s: add alert: out of memory", s->path);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        routes[i].notifier = notifiers[i];
    int rc = store_alert_add_routed(s, alert_id, rule, source, item_id, title, link, json, routes,
                                    n, now);
    free(routes);
    return rc;
}

int store_alert_add_routed(struct store *s, const char *alert_id, const char *rule,
                           const char *source, const char *item_id, const char *title,
                           const char *link, const char *json, const struct alert_route *routes,
                           size_t n, int64_t now)
{
    if (!alert_id || !rule || !json) {
        set_err(s->err, sizeof s->err, "%s: add alert: missing %s", s->path,
                !alert_id ? "alert id"
                : !rule   ? "rule name"
                          : "JSON document");
        return -1;
    }
    int own;
    if (op_begin(s, &own) != 0) return -1;
    int added = insert_alert(s, alert_id, rule, source, item_id, title, link, json, now);
    if (added < 0 || (added == 1 && queue_alert(s, alert_id, routes, n, now) != 0))
        return op_abort(s, own);
    if (op_commit(s, own) != 0) return -1;
    return added;
}

struct busy_list {
    const char *const *names;
    size_t n;
};

static int in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] && strcmp(list[i], name) == 0) return 1;
    }
    return 0;
}

static void entry_clear(struct outbox_entry *e)
{
    free(e->alert_id);
    free(e->notifier);
    free(e->rule);
    free(e->json);
    free(e->last_error);
    memset(e, 0, sizeof *e);
}

static int read_entry(sqlite3_stmt *st, void *row)
{
    struct outbox_entry *e = row;
    int oom = 0;
    e->id = sqlite3_column_int64(st, 0);
    e->alert_id = col_text(st, 1, &oom);
    e->notifier = col_text(st, 2, &oom);
    e->rule = col_text(st, 3, &oom);
    e->json = col_text(st, 4, &oom);
    e->attempts = sqlite3_column_int(st, 5);
    e->created = sqlite3_column_int64(st, 6);
    e->next_attempt = sqlite3_column_int64(st, 7);
    e->last_error = col_text(st, 8, &oom);
    if (oom) {
        entry_clear(e);
        return -1;
    }
    return 0;
}

static void free_entries(void *rows, size_t n)
{
    outbox_entries_free(rows, n);
}

/* A head whose notifier is already delivering waits. */
static int notifier_busy(sqlite3_stmt *st, const void *arg)
{
    const struct busy_list *b = arg;
    const char *notifier = (const char *)sqlite3_column_text(st, 2);
    return notifier && in_list(notifier, b->names, b->n);
}

int store_outbox_due(struct store *s, int64_t now, const char *const *busy, size_t nbusy,
                     size_t max, struct outbox_entry **out, size_t *n)
{
    struct busy_list b = {busy, nbusy};
    const struct row_kind k = {sizeof **out, read_entry, free_entries, notifier_busy, &b};
    *out = NULL;
    *n = 0;
    if (max == 0) return 0;
    if (bind_int(s->st[ST_OUTBOX_DUE], 1, now) != SQLITE_OK) return fail_st(s, ST_OUTBOX_DUE);
    void *rows = NULL;
    int rc = collect_rows(s, ST_OUTBOX_DUE, max, &k, &rows, n);
    *out = rows;
    return rc;
}

void outbox_entries_free(struct outbox_entry *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        entry_clear(&v[i]);
    free(v);
}

/* Run a one-row, one-integer query: 1 with *val (0 when NULL, *isnull set), -1 error. */
static int query_int(struct store *s, enum stmt_id id, int64_t *val, int *isnull)
{
    sqlite3_stmt *st = s->st[id];
    if (sqlite3_step(st) != SQLITE_ROW) return fail_st(s, id);
    *isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
    *val = sqlite3_column_int64(st, 0);
    done(st);
    return 1;
}

int store_outbox_next(struct store *s, int64_t *when)
{
    int64_t v = 0;
    int isnull = 1;
    if (query_int(s, ST_OUTBOX_NEXT, &v, &isnull) < 0) return -1;
    if (isnull) return 0;
    *when = v;
    return 1;
}

long store_outbox_pending(struct store *s)
{
    int64_t v = 0;
    int isnull = 1;
    if (query_int(s, ST_OUTBOX_PENDING, &v, &isnull) < 0) return -1;
    return (long)v;
}

/* Run an outbox update that must change exactly the one pending row `id`. */
static int update_entry(struct store *s, enum stmt_id id, int64_t entry)
{
    if (run(s, id) != 0) return -1;
    if (sqlite3_changes(s->db) != 1) {
        set_err(s->err, sizeof s->err, "%s: %s: no pending outbox entry %lld", s->path,
                stmt_defs[id].what, (long long)entry);
        return -1;
    }
    return 0;
}

int store_outbox_delivered(struct store *s, int64_t id, int64_t now)
{
    sqlite3_stmt *st = s->st[ST_OUTBOX_DELIVERED];
    if (bind_int(st, 1, id) || bind_int(st, 2, now)) return fail_st(s, ST_OUTBOX_DELIVERED);
    return update_entry(s, ST_OUTBOX_DELIVERED, id);
}

int store_outbox_retry(struct store *s, int64_t id, int64_t next_attempt, const char *error)
{
    sqlite3_stmt *st = s->st[ST_OUTBOX_RETRY];
    if (bind_int(st, 1, id) || bind_int(st, 2, next_attempt) || bind_text(st, 3, error))
        return fail_st(s, ST_OUTBOX_RETRY);
    return update_entry(s, ST_OUTBOX_RETRY, id);
}

int store_outbox_dead(struct store *s, int64_t id, const char *error)
{
    sqlite3_stmt *st = s->st[ST_OUTBOX_DEAD];
    if (bind_int(st, 1, id) || bind_text(st, 2, error)) return fail_st(s, ST_OUTBOX_DEAD);
    return update_entry(s, ST_OUTBOX_DEAD, id);
}

/* ---- held alerts: throttle, digest, quiet hours ---- */

/* Bind (notifier, batch) to the first two parameters of statement `id`. */
static int bind_batch(struct store *s, enum stmt_id id, const char *notifier, const char *batch)
{
    if (bind_text(s->st[id], 1, notifier) || bind_text(s->st[id], 2, batch)) return fail_st(s, id);
    return 0;
}

/* A one-integer query on a bound statement: the value, 0 when NULL or no row; -1 error
 * (then *val is untouched). */
static int step_int(struct store *s, enum stmt_id id, int64_t *val)
{
    int rc = sqlite3_step(s->st[id]);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail_st(s, id);
    *val = rc == SQLITE_ROW ? sqlite3_column_int64(s->st[id], 0) : 0;
    done(s->st[id]);
    return 0;
}

int store_batch_state(struct store *s, const char *notifier, const char *batch, int64_t *last_sent,
                      int64_t *open_release)
{
    if (bind_batch(s, ST_BATCH_LAST, notifier, batch) || step_int(s, ST_BATCH_LAST, last_sent))
        return -1;
    if (bind_batch(s, ST_BATCH_OPEN, notifier, batch) || step_int(s, ST_BATCH_OPEN, open_release))
        return -1;
    return 0;
}

int store_outbox_queue(struct store *s, const char *alert_id, const char *notifier,
                       const char *batch, int64_t now)
{
    return queue_one(s, alert_id, notifier, batch, now);
}

static int read_batch(sqlite3_stmt *st, void *row)
{
    struct held_batch *b = row;
    int oom = 0;
    b->notifier = col_text(st, 0, &oom);
    b->batch = col_text(st, 1, &oom);
    b->release_at = sqlite3_column_int64(st, 2);
    if (!oom) return 0;
    free(b->notifier);
    free(b->batch);
    return -1;
}

static void free_batches(void *rows, size_t n)
{
    held_batches_free(rows, n);
}

int store_held_due(struct store *s, int64_t now, size_t max, struct held_batch **out, size_t *n)
{
    const struct row_kind k = {sizeof **out, read_batch, free_batches, NULL, NULL};
    *out = NULL;
    *n = 0;
    if (max == 0) return 0;
    if (bind_int(s->st[ST_HELD_DUE], 1, now) != SQLITE_OK) return fail_st(s, ST_HELD_DUE);
    void *rows = NULL;
    int rc = collect_rows(s, ST_HELD_DUE, max, &k, &rows, n);
    *out = rows;
    return rc;
}

void held_batches_free(struct held_batch *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].notifier);
        free(v[i].batch);
    }
    free(v);
}

static int read_member(sqlite3_stmt *st, void *row)
{
    struct held_member *m = row;
    int oom = 0;
    m->id = sqlite3_column_int64(st, 0);
    m->alert_id = col_text(st, 1, &oom);
    m->rule = col_text(st, 2, &oom);
    m->json = col_text(st, 3, &oom);
    m->created = sqlite3_column_int64(st, 4);
    if (!oom) return 0;
    free(m->alert_id);
    free(m->rule);
    free(m->json);
    return -1;
}

static void free_members(void *rows, size_t n)
{
    held_members_free(rows, n);
}

int store_held_members(struct store *s, const char *notifier, const char *batch, size_t max,
                       struct held_member **out, size_t *n)
{
    const struct row_kind k = {sizeof **out, read_member, free_members, NULL, NULL};
    *out = NULL;
    *n = 0;
    if (max == 0) return 0;
    if (bind_batch(s, ST_HELD_MEMBERS, notifier, batch) != 0) return -1;
    if (bind_int(s->st[ST_HELD_MEMBERS], 3, (int64_t)max) != SQLITE_OK)
        return fail_st(s, ST_HELD_MEMBERS);
    void *rows = NULL;
    int rc = collect_rows(s, ST_HELD_MEMBERS, max, &k, &rows, n);
    *out = rows;
    return rc;
}

void held_members_free(struct held_member *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].alert_id);
        free(v[i].rule);
        free(v[i].json);
    }
    free(v);
}

int store_held_mark(struct store *s, const char *notifier, const char *batch, int64_t upto_id,
                    const char *sent_as)
{
    sqlite3_stmt *st = s->st[ST_HELD_SENT];
    if (bind_batch(s, ST_HELD_SENT, notifier, batch) != 0) return -1;
    if (bind_text(st, 3, sent_as) || bind_int(st, 4, upto_id)) return fail_st(s, ST_HELD_SENT);
    return run(s, ST_HELD_SENT);
}

int store_held_next(struct store *s, int64_t *when)
{
    int64_t v = 0;
    int isnull = 1;
    if (query_int(s, ST_HELD_NEXT, &v, &isnull) < 0) return -1;
    if (isnull) return 0;
    *when = v;
    return 1;
}

long store_held_pending(struct store *s)
{
    int64_t v = 0;
    int isnull = 1;
    if (query_int(s, ST_HELD_PENDING, &v, &isnull) < 0) return -1;
    return (long)v;
}

/* ---- history and pruning ---- */

static void history_clear(struct history_entry *h)
{
    free(h->alert_id);
    free(h->rule);
    free(h->source);
    free(h->title);
    free(h->link);
    free(h->notifier);
    free(h->state);
    free(h->last_error);
    memset(h, 0, sizeof *h);
}

static int read_history(sqlite3_stmt *st, void *row)
{
    struct history_entry *h = row;
    int oom = 0;
    h->alert_id = col_text(st, 0, &oom);
    h->rule = col_text(st, 1, &oom);
    h->source = col_text(st, 2, &oom);
    h->title = col_text(st, 3, &oom);
    h->link = col_text(st, 4, &oom);
    h->created = sqlite3_column_int64(st, 5);
    h->notifier = col_text(st, 6, &oom);
    h->state = col_text(st, 7, &oom);
    h->attempts = sqlite3_column_int(st, 8);
    h->last_error = col_text(st, 9, &oom);
    if (oom) {
        history_clear(h);
        return -1;
    }
    return 0;
}

static void free_history(void *rows, size_t n)
{
    history_entries_free(rows, n);
}

int store_history(struct store *s, const char *rule, int64_t since, size_t max,
                  struct history_entry **out, size_t *n)
{
    const struct row_kind k = {sizeof **out, read_history, free_history, NULL, NULL};
    sqlite3_stmt *st = s->st[ST_HISTORY];
    *out = NULL;
    *n = 0;
    if (max == 0) return 0;
    int64_t limit = max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max;
    if (bind_text(st, 1, rule) || bind_int(st, 2, since) || bind_int(st, 3, limit))
        return fail_st(s, ST_HISTORY);
    void *rows = NULL;
    int rc = collect_rows(s, ST_HISTORY, max, &k, &rows, n);
    *out = rows;
    return rc;
}

void history_entries_free(struct history_entry *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        history_clear(&v[i]);
    free(v);
}

/* Run one DELETE with its cut-off; returns the rows it removed (cascades not counted). */
static long prune_one(struct store *s, enum stmt_id id, int64_t before)
{
    if (bind_int(s->st[id], 1, before) != SQLITE_OK) return fail_st(s, id);
    if (run(s, id) != 0) return -1;
    return (long)sqlite3_changes64(s->db);
}

enum { PRUNE_SLICE = 20000 }; /* items read per slice: a few milliseconds */

/* Where the slice starting at `from` ends: a malloc'd source name in *end, or NULL when the
 * slice reaches the last item. 0, or -1. */
static int prune_bound(struct store *s, const char *from, char **end)
{
    sqlite3_stmt *st = s->st[ST_PRUNE_BOUND];
    *end = NULL;
    if (bind_text(st, 1, from) || bind_int(st, 2, PRUNE_SLICE)) return fail_st(s, ST_PRUNE_BOUND);
    if (sqlite3_step(st) != SQLITE_ROW) return fail_st(s, ST_PRUNE_BOUND);
    int oom = 0;
    *end = col_text(st, 0, &oom);
    done(st);
    if (oom) {
        set_err(s->err, sizeof s->err, "%s: prune items: out of memory", s->path);
        return -1;
    }
    return 0;
}

long store_prune_items_slice(struct store *s, int64_t before, char **cursor)
{
    const char *from = *cursor ? *cursor : "";
    char *end = NULL;
    int own;
    if (op_begin(s, &own) != 0) return -1;
    if (prune_bound(s, from, &end) != 0) return op_abort(s, own);
    enum stmt_id id = end ? ST_PRUNE_RANGE : ST_PRUNE_TAIL;
    sqlite3_stmt *st = s->st[id];
    int bad = end ? bind_text(st, 1, from) || bind_text(st, 2, end) || bind_int(st, 3, before)
                  : bind_text(st, 1, from) || bind_int(st, 2, before);
    if (bad || run(s, id) != 0) {
        if (bad) fail_st(s, id);
        free(end);
        return op_abort(s, own);
    }
    long n = (long)sqlite3_changes64(s->db);
    if (op_commit(s, own) != 0) {
        free(end);
        return -1;
    }
    free(*cursor);
    *cursor = end;
    return n;
}

long store_prune_alerts(struct store *s, int64_t before)
{
    int own;
    if (op_begin(s, &own) != 0) return -1;
    long n = prune_one(s, ST_PRUNE_ALERTS, before);
    if (n < 0) return op_abort(s, own);
    if (op_commit(s, own) != 0) return -1;
    return n;
}

long store_prune(struct store *s, int64_t items_before, int64_t alerts_before)
{
    long total = store_prune_alerts(s, alerts_before);
    char *cursor = NULL;
    do {
        long n = total < 0 ? -1 : store_prune_items_slice(s, items_before, &cursor);
        if (n < 0) {
            free(cursor);
            return -1;
        }
        total += n;
    } while (cursor);
    return total;
}
