/*
 * checkpoint — copying the store's write-ahead log back into the database on a thread of
 * its own. A checkpoint is where WAL mode waits for the disk (an fsync of the log and one of
 * the database); run from the committing connection, that wait stops the event loop (a
 * tenth of a second at a time while 10,000 feeds are first fetched). A second connection
 * on this thread checkpoints PASSIVEly: writers keep appending meanwhile.
 */
#ifndef HERALD_CHECKPOINT_H
#define HERALD_CHECKPOINT_H

#include <sqlite3.h>

struct checkpointer;

/* Take over checkpointing for connection `db` of database file `path` (copied): turns
 * SQLite's own automatic checkpoints off and installs a WAL hook that asks the thread for
 * one as the log grows. The thread starts at the first request. NULL when out of memory
 * (`db` then keeps SQLite's automatic checkpoints). */
struct checkpointer *checkpointer_attach(sqlite3 *db, const char *path);

/* Ask for a checkpoint now, whatever the log's size: a burst of writes is over, and what
 * the thread copies meanwhile, closing does not have to. NULL is a no-op. */
void checkpointer_ask(struct checkpointer *c);

/* Stop the thread (waiting for a checkpoint under way) and free everything. Call before
 * closing `db`, whose close then checkpoints what is left. NULL is a no-op. */
void checkpointer_free(struct checkpointer *c);

#endif
