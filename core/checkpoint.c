/*
 * checkpoint — see checkpoint.h. The committing thread only signals; if the thread cannot
 * start or falls far behind, the committing connection checkpoints itself, so the log
 * never grows without bound.
 */
#include "checkpoint.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum {
    CKPT_ASK_PAGES = 1024,  /* log pages (4 MiB) at which the thread is asked */
    CKPT_SELF_PAGES = 8192, /* …at which the connection checkpoints without a thread */
    /* …at which it does so anyway. The log starts over only when a commit finds it all
     * copied, so under a steady stream of commits it keeps growing while the thread
     * copies; this caps it (a first fetch of 10,000 feeds writes ~20 MiB in all). */
    CKPT_FORCE_PAGES = 16384,
};

struct checkpointer {
    sqlite3 *db; /* the committing connection (its thread runs the hook) */
    char *path;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    int started; /* the thread was created (only the committing thread reads or writes it) */
    int failed;  /* under mu: the thread could not open its connection and has ended */
    int wanted;  /* under mu: a checkpoint asked for and not yet begun */
    int stop;    /* under mu */
};

/* Whether connection db sees the database in WAL mode. Until a connection has read the
 * database it does not know, and a checkpoint on it does nothing at all. */
static int reads_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int wal = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
              strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    (void)sqlite3_finalize(st);
    return wal;
}

static void checkpoint_thread(void *arg)
{
    struct checkpointer *c = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        !reads_wal(db)) {
        (void)sqlite3_close(db);
        db = NULL;
    }
    uv_mutex_lock(&c->mu);
    if (!db) c->failed = 1;
    while (db && !c->stop) {
        if (!c->wanted) {
            uv_cond_wait(&c->cv, &c->mu);
            continue;
        }
        c->wanted = 0;
        uv_mutex_unlock(&c->mu);
        /* PASSIVE never waits for the writer nor blocks it. A failure (busy, I/O) leaves
         * the log as it was; the next request tries again, and the committing connection
         * steps in if the log keeps growing. */
        (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        uv_mutex_lock(&c->mu);
    }
    uv_mutex_unlock(&c->mu);
    (void)sqlite3_close(db); /* no statements: cannot be busy */
}

/* Ask the thread for a checkpoint, starting it the first time. 0, or -1 when there is no
 * thread to ask. */
static int ask(struct checkpointer *c)
{
    if (!c->started) {
        if (uv_thread_create(&c->thread, checkpoint_thread, c) != 0) return -1;
        c->started = 1;
    }
    uv_mutex_lock(&c->mu);
    int ok = !c->failed;
    c->wanted = ok;
    if (ok) uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    return ok ? 0 : -1;
}

/* After each commit on the committing connection, with the log's size in pages. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct checkpointer *c = arg;
    if (pages < CKPT_ASK_PAGES) return SQLITE_OK;
    int asked = ask(c) == 0;
    if ((!asked && pages >= CKPT_SELF_PAGES) || pages >= CKPT_FORCE_PAGES)
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK; /* what SQLite's own automatic checkpoint returns, failed or not */
}

void checkpointer_ask(struct checkpointer *c)
{
    if (c) (void)ask(c);
}

struct checkpointer *checkpointer_attach(sqlite3 *db, const char *path)
{
    struct checkpointer *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->db = db;
    c->path = strdup(path);
    if (!c->path || uv_mutex_init(&c->mu) != 0) {
        free(c->path);
        free(c);
        return NULL;
    }
    if (uv_cond_init(&c->cv) != 0) {
        uv_mutex_destroy(&c->mu);
        free(c->path);
        free(c);
        return NULL;
    }
    (void)sqlite3_wal_hook(db, on_wal, c); /* replaces the automatic checkpoint's hook */
    return c;
}

void checkpointer_free(struct checkpointer *c)
{
    if (!c) return;
    (void)sqlite3_wal_hook(c->db, NULL, NULL);
    if (c->started) {
        uv_mutex_lock(&c->mu);
        c->stop = 1;
        uv_cond_signal(&c->cv);
        uv_mutex_unlock(&c->mu);
        uv_thread_join(&c->thread);
    }
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
    free(c->path);
    free(c);
}
