/*
 * control — the control socket server on the daemon's loop. Each connection is a small
 * request struct that reads one line, answers one JSON document built with jansson, and
 * closes; a client that sends more than 64 KiB or nothing within 10 s is dropped, so a
 * stuck client never pins memory or the loop.
 */
#include "control.h"

#include "date.h"
#include "herald.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_REQUEST = 64 * 1024, CLIENT_TIMEOUT_MS = 10000 };

struct client {
    uv_pipe_t pipe;
    uv_timer_t timer;
    struct herald *h;
    char buf[MAX_REQUEST + 1];
    size_t len;
    int closing;
    int handles; /* pipe + timer still open */
    uv_write_t write;
    char *response;
};

char *control_socket_path(const char *explicit, const char *state_dir)
{
    if (explicit && *explicit) return strdup(explicit);
    const char *run = getenv("XDG_RUNTIME_DIR");
    if (run && run[0] == '/') return path_join(run, "herald/control.sock");
    return path_join(state_dir ? state_dir : ".", "control.sock");
}

static void on_client_closed(uv_handle_t *hd)
{
    struct client *c = hd->data;
    if (--c->handles == 0) {
        free(c->response);
        free(c);
    }
}

static void client_close(struct client *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_client_closed);
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    client_close(w->data);
}

static void reply(struct client *c, json_t *doc)
{
    c->response = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!c->response) {
        client_close(c);
        return;
    }
    size_t n = strlen(c->response);
    c->response[n] = '\n'; /* replaces the NUL; the length below excludes it */
    uv_buf_t b = uv_buf_init(c->response, (unsigned)n + 1);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0) client_close(c);
}

static json_t *error_doc(const char *fmt, const char *arg)
{
    char msg[4608];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *time_or_null(int64_t t)
{
    char buf[32];
    return t > 0 ? json_string(date_format_utc(t, buf, sizeof buf)) : json_null();
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static json_t *sources_json(struct herald *h)
{
    json_t *arr = json_array();
    for (size_t i = 0; h->cfg && i < h->cfg->n_sources; i++) {
        const struct cfg_source *s = &h->cfg->sources[i];
        struct source_state st = {0};
        int have = store_source_get(h->store, s->name, &st);
        json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "name", s->name, "url",
                              have == 1 && st.url ? st.url : s->url, "enabled", s->enabled,
                              "paused", herald_paused(h, s->name));
        json_object_set_new(o, "last_fetch", time_or_null(have == 1 ? st.last_fetch : 0));
        json_object_set_new(o, "next_poll", time_or_null(have == 1 ? st.next_poll : 0));
        json_object_set_new(o, "last_status", json_integer(have == 1 ? st.last_status : 0));
        json_object_set_new(o, "last_error",
                            have == 1 && st.last_error ? json_string(st.last_error) : json_null());
        json_object_set_new(o, "failures", json_integer(have == 1 ? st.failures : 0));
        json_object_set_new(o, "items_new", json_integer(have == 1 ? st.items_new : 0));
        json_object_set_new(o, "items_total", json_integer(have == 1 ? st.items_total : 0));
        json_object_set_new(
            o, "interval_s",
            json_integer((have == 1 && st.interval_ms ? st.interval_ms : s->every_ms) / 1000));
        json_array_append_new(arr, o);
        source_state_clear(&st);
    }
    return arr;
}

static json_t *rules_json(struct herald *h)
{
    json_t *arr = json_array();
    for (size_t i = 0; h->cfg && i < h->cfg->n_rules; i++) {
        const struct cfg_rule *r = &h->cfg->rules[i];
        char where[600];
        snprintf(where, sizeof where, "%s:%d", r->file, r->line);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:b, s:b}", "name", r->name, "where",
                                             where, "hits", (json_int_t)r->hits, "disabled",
                                             r->disabled, "paused", r->paused));
    }
    return arr;
}

static json_t *control_status(struct herald *h)
{
    json_t *doc = json_pack(
        "{s:b, s:s, s:i, s:I, s:s}", "ok", 1, "version", HERALD_VERSION, "pid", (int)getpid(),
        "uptime_s", (json_int_t)((now_ms() - h->started_ms) / 1000), "config", h->config_path);
    json_object_set_new(doc, "memory_rss_kb", json_integer(rss_kb()));
    json_object_set_new(doc, "sources", sources_json(h));
    json_object_set_new(doc, "rules", rules_json(h));
    long pending = store_outbox_pending(h->store), held = store_held_pending(h->store);
    json_object_set_new(doc, "outbox",
                        json_pack("{s:I, s:I, s:I}", "pending",
                                  (json_int_t)(pending < 0 ? 0 : pending), "in_flight",
                                  (json_int_t)h->deliveries_in_flight, "held",
                                  (json_int_t)(held < 0 ? 0 : held)));
    json_object_set_new(
        doc, "stats",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "fetches",
                  (json_int_t)h->stats.fetches, "fetch_errors", (json_int_t)h->stats.fetch_errors,
                  "not_modified", (json_int_t)h->stats.not_modified, "items_new",
                  (json_int_t)h->stats.items_new, "alerts", (json_int_t)h->stats.alerts,
                  "delivered", (json_int_t)h->stats.delivered, "retries",
                  (json_int_t)h->stats.delivery_retries, "dead", (json_int_t)h->stats.dead));
    return doc;
}

static json_t *do_history(struct herald *h, json_t *req)
{
    const char *rule = json_string_value(json_object_get(req, "rule"));
    json_int_t since = json_integer_value(json_object_get(req, "since"));
    json_int_t limit = json_integer_value(json_object_get(req, "limit"));
    return control_history_doc(h->store, rule, (int64_t)since, limit > 0 ? (size_t)limit : 50);
}

json_t *control_history_doc(struct store *s, const char *rule, int64_t since, size_t limit)
{
    struct history_entry *v = NULL;
    size_t n = 0;
    if (store_history(s, rule, since, limit, &v, &n) != 0)
        return error_doc("store: %s", store_errmsg(s));
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct history_entry *e = &v[i];
        json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:i, s:s?}", "id",
                              e->alert_id, "rule", e->rule, "source", e->source, "title", e->title,
                              "link", e->link, "notifier", e->notifier, "state", e->state,
                              "attempts", e->attempts, "last_error", e->last_error);
        json_object_set_new(o, "created", time_or_null(e->created));
        json_array_append_new(arr, o);
    }
    history_entries_free(v, n);
    return json_pack("{s:b, s:o}", "ok", 1, "alerts", arr);
}

static json_t *do_pause(struct herald *h, json_t *req, int pause)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    if (!name)
        return error_doc("%s needs the name of a source or a rule", pause ? "pause" : "resume");
    int kind = herald_set_paused(h, name, pause);
    if (kind < 0) return error_doc("no source or rule named '%s'", name);
    log_msg(&h->log, HERALD_LOG_INFO, "%s %s %s", kind == 1 ? "source" : "rule", name,
            pause ? "paused" : "resumed");
    return json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "name", name, "kind",
                     kind == 1 ? "source" : "rule", "paused", pause);
}

static void add_name(void *arg, const char *name)
{
    json_array_append_new(arg, json_string(name));
}

static json_t *do_fetch_now(struct herald *h, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "source"));
    json_t *started = json_array();
    long n = scheduler_poll_now(h, name, add_name, started);
    if (n < 0) {
        json_decref(started);
        return error_doc("no source named '%s'", name);
    }
    return json_pack("{s:b, s:o}", "ok", 1, "started", started);
}

static json_t *do_reload(struct herald *h)
{
    char err[4096];
    if (herald_reload(h, err, sizeof err) != 0) return error_doc("%s", err);
    return json_pack("{s:b, s:I, s:I, s:I}", "ok", 1, "sources", (json_int_t)h->cfg->n_sources,
                     "rules", (json_int_t)h->cfg->n_rules, "notifiers",
                     (json_int_t)h->cfg->n_notifiers);
}

/* Prometheus text exposition of the counters. */
static json_t *do_metrics(struct herald *h)
{
    struct strbuf b;
    sb_init(&b);
    const struct herald_stats *s = &h->stats;
    sb_printf(&b,
              "# HELP herald_fetches_total Source polls by result.\n"
              "# TYPE herald_fetches_total counter\n"
              "herald_fetches_total{result=\"ok\"} %lu\n"
              "herald_fetches_total{result=\"not_modified\"} %lu\n"
              "herald_fetches_total{result=\"error\"} %lu\n",
              s->fetches - s->fetch_errors - s->not_modified, s->not_modified, s->fetch_errors);
    sb_printf(&b,
              "# HELP herald_items_new_total Items seen for the first time.\n"
              "# TYPE herald_items_new_total counter\nherald_items_new_total %lu\n",
              s->items_new);
    sb_printf(&b,
              "# HELP herald_alerts_total Alerts raised.\n"
              "# TYPE herald_alerts_total counter\nherald_alerts_total %lu\n",
              s->alerts);
    sb_printf(&b,
              "# HELP herald_deliveries_total Delivery attempts by result.\n"
              "# TYPE herald_deliveries_total counter\n"
              "herald_deliveries_total{result=\"delivered\"} %lu\n"
              "herald_deliveries_total{result=\"retry\"} %lu\n"
              "herald_deliveries_total{result=\"dead\"} %lu\n",
              s->delivered, s->delivery_retries, s->dead);
    sb_printf(&b,
              "# HELP herald_rule_eval_seconds_total Time spent evaluating rules.\n"
              "# TYPE herald_rule_eval_seconds_total counter\n"
              "herald_rule_eval_seconds_total %.6f\n",
              (double)s->rule_eval_us / 1e6);
    long pending = store_outbox_pending(h->store);
    sb_printf(&b,
              "# HELP herald_outbox_pending Alerts waiting for delivery.\n"
              "# TYPE herald_outbox_pending gauge\nherald_outbox_pending %ld\n",
              pending < 0 ? 0 : pending);
    long held = store_held_pending(h->store);
    sb_printf(&b,
              "# HELP herald_alerts_held Alerts held back by throttle, digest or quiet hours.\n"
              "# TYPE herald_alerts_held gauge\nherald_alerts_held %ld\n",
              held < 0 ? 0 : held);
    sb_printf(&b,
              "# HELP herald_resident_memory_bytes Resident memory.\n"
              "# TYPE herald_resident_memory_bytes gauge\nherald_resident_memory_bytes %ld\n",
              rss_kb() * 1024);
    char *text = sb_steal(&b);
    json_t *doc = json_pack("{s:b, s:s}", "ok", 1, "text", text ? text : "");
    free(text);
    return doc;
}

static json_t *dispatch(struct herald *h, const char *line)
{
    json_error_t je;
    json_t *req = json_loads(line, 0, &je);
    const char *cmd = req ? json_string_value(json_object_get(req, "cmd")) : NULL;
    json_t *doc;
    if (!cmd)
        doc = error_doc("bad request: %s", req ? "no \"cmd\"" : je.text);
    else if (strcmp(cmd, "status") == 0)
        doc = control_status(h);
    else if (strcmp(cmd, "reload") == 0)
        doc = do_reload(h);
    else if (strcmp(cmd, "history") == 0)
        doc = do_history(h, req);
    else if (strcmp(cmd, "fetch-now") == 0)
        doc = do_fetch_now(h, req);
    else if (strcmp(cmd, "pause") == 0)
        doc = do_pause(h, req, 1);
    else if (strcmp(cmd, "resume") == 0)
        doc = do_pause(h, req, 0);
    else if (strcmp(cmd, "metrics") == 0)
        doc = do_metrics(h);
    else
        doc = error_doc("unknown command '%s'", cmd);
    json_decref(req);
    return doc ? doc : error_doc("out of memory%s", "");
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct client *c = hd->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(MAX_REQUEST - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct client *c = s->data;
    (void)buf;
    if (n < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *nl = memchr(c->buf, '\n', c->len);
    if (!nl && c->len < MAX_REQUEST) return;
    uv_read_stop(s);
    if (!nl) {
        reply(c, error_doc("request larger than %s bytes", "65536"));
        return;
    }
    *nl = '\0';
    reply(c, dispatch(c->h, c->buf));
}

static void on_client_timeout(uv_timer_t *t)
{
    client_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct herald *h = server->data;
    if (status < 0) return;
    struct client *c = calloc(1, sizeof *c);
    if (!c) return;
    c->h = h;
    uv_pipe_init(&h->loop, &c->pipe, 0);
    uv_timer_init(&h->loop, &c->timer);
    c->pipe.data = c->timer.data = c;
    c->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0) {
        client_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_client_timeout, CLIENT_TIMEOUT_MS, 0);
}

int control_start(struct herald *h, char *err, size_t errlen)
{
    char *dir = path_dirname(h->control_path);
    if (!dir || mkdir_p(dir, 0700) != 0) {
        snprintf(err, errlen, "%s: %s", dir ? dir : h->control_path, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);
    /* Only one herald holds the state's pid lock, so a socket left here is stale. */
    unlink(h->control_path);
    if (uv_pipe_init(&h->loop, &h->control, 0) != 0) {
        snprintf(err, errlen, "%s: cannot create the socket", h->control_path);
        return -1;
    }
    h->control.data = h;
    h->control_open = 1;
    mode_t old = umask(0177);
    int rc = uv_pipe_bind(&h->control, h->control_path);
    umask(old);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&h->control, 16, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", h->control_path, uv_strerror(rc));
        return -1;
    }
    chmod(h->control_path, 0600);
    return 0;
}

static void on_control_closed(uv_handle_t *hd)
{
    (void)hd;
}

void control_close(struct herald *h)
{
    if (!h->control_open) return;
    h->control_open = 0;
    uv_close((uv_handle_t *)&h->control, on_control_closed);
    unlink(h->control_path);
}
