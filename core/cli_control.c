/*
 * cli_control — the client side of the control socket: `herald status`, `reload`,
 * `history`, `fetch-now`, `pause`, `resume` and `metrics` send one JSON request to the
 * running daemon and print its answer, as text for people or as the JSON itself (--json).
 */
#include "cli.h"

#include "control.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { MAX_ANSWER = 16 << 20, IO_TIMEOUT_S = 30 };

/* Send `req` to the daemon and return its parsed answer, or NULL with a message printed.
 * When no daemon listens and `absent` is given, *absent is set and nothing is printed. */
static json_t *ask(const char *path, json_t *req, int *absent)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "herald: socket path too long: %s\n", path);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (absent && (errno == ENOENT || errno == ECONNREFUSED))
            *absent = 1;
        else
            fprintf(stderr,
                    "herald: no herald is running on %s (%s); start one with 'herald run'\n", path,
                    strerror(errno));
        close(fd);
        return NULL;
    }
    char *line = json_dumps(req, JSON_COMPACT);
    struct strbuf out;
    sb_init(&out);
    int ok = line != NULL;
    if (ok) {
        size_t n = strlen(line);
        line[n] = '\n';
        ok = write(fd, line, n + 1) == (ssize_t)(n + 1);
    }
    free(line);
    char buf[65536];
    ssize_t r;
    while (ok && (r = read(fd, buf, sizeof buf)) > 0 && out.len < MAX_ANSWER)
        sb_add(&out, buf, (size_t)r);
    close(fd);
    json_error_t je;
    json_t *doc = ok && out.s ? json_loads(out.s, 0, &je) : NULL;
    if (!doc) fprintf(stderr, "herald: no valid answer from %s\n", path);
    sb_free(&out);
    return doc;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_status(json_t *d)
{
    char up[32];
    duration_format(json_integer_value(json_object_get(d, "uptime_s")) * 1000, up, sizeof up);
    printf("herald %s, pid %lld, up %s, %lld MB resident\nconfig %s\n\n", str(d, "version"),
           (long long)json_integer_value(json_object_get(d, "pid")), up,
           (long long)json_integer_value(json_object_get(d, "memory_rss_kb")) / 1024,
           str(d, "config"));
    printf("%-24s %-7s %-20s %-20s %5s  %s\n", "SOURCE", "STATUS", "LAST FETCH", "NEXT POLL", "NEW",
           "ERROR");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(d, "sources"), i, s)
    {
        char status[16];
        long long code = json_integer_value(json_object_get(s, "last_status"));
        if (json_is_true(json_object_get(s, "paused")))
            snprintf(status, sizeof status, "paused");
        else if (!json_is_true(json_object_get(s, "enabled")))
            snprintf(status, sizeof status, "off");
        else if (json_is_string(json_object_get(s, "last_error")))
            snprintf(status, sizeof status, code ? "%lld" : "error", code);
        else if (code)
            snprintf(status, sizeof status, "%lld", code);
        else
            snprintf(status, sizeof status,
                     json_is_null(json_object_get(s, "last_fetch")) ? "-" : "ok");
        const char *err = json_string_value(json_object_get(s, "last_error"));
        printf("%-24.24s %-7s %-20s %-20s %5lld  %s\n", str(s, "name"), status,
               str(s, "last_fetch"), str(s, "next_poll"),
               (long long)json_integer_value(json_object_get(s, "items_new")), err ? err : "");
    }
    printf("\n%-24s %8s  %s\n", "RULE", "HITS", "STATE");
    json_array_foreach(json_object_get(d, "rules"), i, s)
    {
        const char *state = json_is_true(json_object_get(s, "disabled")) ? "disabled (failing)"
                            : json_is_true(json_object_get(s, "paused")) ? "paused"
                                                                         : "active";
        printf("%-24.24s %8lld  %s  %s\n", str(s, "name"),
               (long long)json_integer_value(json_object_get(s, "hits")), state, str(s, "where"));
    }
    json_t *ob = json_object_get(d, "outbox");
    json_t *st = json_object_get(d, "stats");
    printf("\noutbox: %lld pending, %lld in flight, %lld held; since start: %lld fetches (%lld "
           "errors), %lld new items, %lld alerts, %lld delivered\n",
           (long long)json_integer_value(json_object_get(ob, "pending")),
           (long long)json_integer_value(json_object_get(ob, "in_flight")),
           (long long)json_integer_value(json_object_get(ob, "held")),
           (long long)json_integer_value(json_object_get(st, "fetches")),
           (long long)json_integer_value(json_object_get(st, "fetch_errors")),
           (long long)json_integer_value(json_object_get(st, "items_new")),
           (long long)json_integer_value(json_object_get(st, "alerts")),
           (long long)json_integer_value(json_object_get(st, "delivered")));
}

static void print_history(json_t *d)
{
    json_t *alerts = json_object_get(d, "alerts");
    if (json_array_size(alerts) == 0) {
        printf("no alerts\n");
        return;
    }
    printf("%-20s %-18s %-10s %-9s %3s  %s\n", "CREATED", "RULE", "NOTIFIER", "STATE", "TRY",
           "TITLE");
    size_t i;
    json_t *a;
    json_array_foreach(alerts, i, a)
    {
        printf("%-20s %-18.18s %-10.10s %-9s %3lld  %s\n", str(a, "created"), str(a, "rule"),
               str(a, "notifier"), str(a, "state"),
               (long long)json_integer_value(json_object_get(a, "attempts")), str(a, "title"));
        const char *err = json_string_value(json_object_get(a, "last_error"));
        const char *state = str(a, "state");
        /* Held and folded alerts carry a note (until when, which digest), not an error. */
        int note = strcmp(state, "held") == 0 || strcmp(state, "folded") == 0;
        if (err && strcmp(state, "delivered") != 0)
            printf("%46s %s: %s\n", "", note ? "note" : "last error", err);
    }
}

static int print_answer(const char *cmd, json_t *d, int json)
{
    if (!json_is_true(json_object_get(d, "ok"))) {
        fprintf(stderr, "herald %s: %s\n", cmd, str(d, "error"));
        if (json) {
            char *s = json_dumps(d, JSON_INDENT(2));
            if (s) puts(s);
            free(s);
        }
        return 1;
    }
    if (json) {
        char *s = json_dumps(d, JSON_INDENT(2));
        if (s) puts(s);
        free(s);
        return 0;
    }
    if (strcmp(cmd, "status") == 0) {
        print_status(d);
    } else if (strcmp(cmd, "history") == 0) {
        print_history(d);
    } else if (strcmp(cmd, "metrics") == 0) {
        fputs(str(d, "text"), stdout);
    } else if (strcmp(cmd, "reload") == 0) {
        printf("reloaded: %lld sources, %lld rules, %lld notifiers\n",
               (long long)json_integer_value(json_object_get(d, "sources")),
               (long long)json_integer_value(json_object_get(d, "rules")),
               (long long)json_integer_value(json_object_get(d, "notifiers")));
    } else if (strcmp(cmd, "fetch-now") == 0) {
        json_t *started = json_object_get(d, "started");
        printf("polling %zu source%s now", json_array_size(started),
               json_array_size(started) == 1 ? "" : "s");
        size_t i;
        json_t *n;
        json_array_foreach(started, i, n) printf("%s%s", i ? ", " : ": ", json_string_value(n));
        printf("\n");
    } else {
        printf("%s %s %s\n", str(d, "kind"), str(d, "name"),
               json_is_true(json_object_get(d, "paused")) ? "paused" : "resumed");
    }
    return 0;
}

/* `history` with no daemon running: read the store in `state` directly (SQLite in WAL
 * mode lets a reader in at any time), so a cron user of `fetch --once` has it too. */
static json_t *history_offline(const char *state, json_t *req, const char *sock)
{
    char db[PATH_MAX];
    snprintf(db, sizeof db, "%s/herald.db", state);
    if (access(db, R_OK) != 0) {
        fprintf(stderr,
                "herald: no herald is running on %s and there is no store at %s; start one with "
                "'herald run', or name the state directory with --state\n",
                sock, db);
        return NULL;
    }
    struct store *s = NULL;
    char err[PATH_MAX + 256];
    if (store_open(state, &s, err, sizeof err) != 0) {
        fprintf(stderr, "herald: %s\n", err);
        return NULL;
    }
    json_int_t limit = json_integer_value(json_object_get(req, "limit"));
    json_t *d = control_history_doc(s, json_string_value(json_object_get(req, "rule")),
                                    json_integer_value(json_object_get(req, "since")),
                                    limit > 0 ? (size_t)limit : 50);
    store_close(s);
    return d;
}

int cli_control(const struct cli_control_opts *o)
{
    json_t *req = json_pack("{s:s}", "cmd", o->cmd);
    if (!req) return 70;
    if (o->name) {
        const char *key = strcmp(o->cmd, "fetch-now") == 0 ? "source" : "name";
        json_object_set_new(req, key, json_string(o->name));
    }
    if (o->rule) json_object_set_new(req, "rule", json_string(o->rule));
    if (o->since_s > 0) json_object_set_new(req, "since", json_integer(time(NULL) - o->since_s));
    if (o->limit > 0) json_object_set_new(req, "limit", json_integer(o->limit));
    char *state = o->state_dir ? strdup(o->state_dir) : xdg_state_dir();
    char *path = control_socket_path(o->socket_path, state);
    int absent = 0, offline = strcmp(o->cmd, "history") == 0;
    json_t *d = ask(path, req, offline ? &absent : NULL);
    if (!d && absent) d = history_offline(state, req, path);
    free(path);
    free(state);
    json_decref(req);
    if (!d) return 69;
    int rc = print_answer(o->cmd, d, o->json);
    json_decref(d);
    return rc;
}
