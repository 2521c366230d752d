/*
 * control — the daemon's Unix control socket: `herald status`, `reload`, `history`,
 * `fetch-now`, `pause`, `resume` and `metrics` talk to a running herald through it. One
 * request per connection: a JSON object on one line ({"cmd": "status", …}), answered by
 * one JSON document ({"ok": true, …} or {"ok": false, "error": "…"}).
 */
#ifndef HERALD_CONTROL_H
#define HERALD_CONTROL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct herald;
struct store;

/* The socket path: `explicit` if given, else $XDG_RUNTIME_DIR/herald/control.sock, else
 * <state dir>/control.sock. malloc'd. */
char *control_socket_path(const char *explicit, const char *state_dir);

/* Listen on h->control_path (mode 0600 in a 0700 directory). 0, or -1 with err filled. */
int control_start(struct herald *h, char *err, size_t errlen);
/* Stop listening and remove the socket file. */
void control_close(struct herald *h);

/* The answer to `history` from store `s`: the latest `limit` alerts (of `rule`, NULL for
 * all, created at or after `since`) with their delivery states. New reference. */
json_t *control_history_doc(struct store *s, const char *rule, int64_t since, size_t limit);

#endif
