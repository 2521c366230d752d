/*
 * notifiers — live plugin instances and the host table they call back into. A reload
 * builds new instances for the new config; an old instance with deliveries still in flight
 * is retired and finalised only when its last delivery completes, because the plugin's
 * callbacks may still run until then.
 */
#include "herald.h"

#include "host_io.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- host table ------------------------------------------------------------------- */

static void host_log(void *ctx, enum herald_log_level level, const char *fmt, ...)
{
    struct notifier_inst *n = ctx;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(&n->h->log, level, "notifier %s: %s", n->name, msg);
}

struct http_call {
    herald_http_cb cb;
    void *arg;
};

static void on_http_done(void *arg, const struct fetch_result *r)
{
    struct http_call *c = arg;
    struct herald_http_response res = {0};
    res.struct_size = sizeof res;
    res.status = r->status;
    res.error = r->ok ? NULL : r->error;
    res.body = r->body;
    res.body_len = r->len;
    res.retry_after_s = r->retry_after_s;
    c->cb(c->arg, &res);
    free(c);
}

static int host_http_request(void *ctx, const struct herald_http_request *req, herald_http_cb cb,
                             void *arg)
{
    struct notifier_inst *n = ctx;
    struct herald *h = n->h;
    if (!h->fetcher || h->stopping > 1) return -1;
    struct http_call *c = malloc(sizeof *c);
    if (!c) return -1;
    c->cb = cb;
    c->arg = arg;
    struct fetch_request fr = {0};
    fr.url = req->url;
    fr.method = req->method ? req->method : "POST";
    fr.headers = req->headers;
    fr.n_headers = req->n_headers;
    /* A body makes curl POST, so a GET (a Lua notifier's herald.http.request) goes without. */
    fr.body = req->body ? req->body : strcmp(fr.method, "GET") == 0 ? NULL : "";
    fr.body_len = req->body ? req->body_len : 0;
    fr.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 15000;
    fr.max_bytes = 1 << 20;
    fr.user_agent = h->cfg && h->cfg->user_agent ? h->cfg->user_agent : NULL;
    char err[256];
    if (fetch_start(h->fetcher, &fr, on_http_done, c, err, sizeof err) != 0) {
        char masked[256];
        log_msg(&h->log, HERALD_LOG_WARN, "notifier %s: %s: %s", n->name,
                log_mask_url(req->url, masked, sizeof masked), err);
        free(c);
        return -1;
    }
    return 0;
}

/* host->mail_send: the plugin's mail goes out on the same fetcher, reported like HTTP. */
static int host_mail_send(void *ctx, const struct herald_mail *m, herald_http_cb cb, void *arg)
{
    struct notifier_inst *n = ctx;
    struct herald *h = n->h;
    if (!h->fetcher || h->stopping > 1 || !m || m->struct_size < sizeof *m) return -1;
    struct http_call *c = malloc(sizeof *c);
    if (!c) return -1;
    c->cb = cb;
    c->arg = arg;
    struct fetch_mail fm = {
        .url = m->url,
        .username = m->username,
        .password = m->password,
        .starttls = m->starttls,
        .from = m->from,
        .to = m->to,
        .n_to = m->n_to,
        .message = m->message,
        .message_len = m->message_len,
        .timeout_ms = m->timeout_ms > 0 ? m->timeout_ms : 30000,
    };
    char err[256];
    if (fetch_mail_start(h->fetcher, &fm, on_http_done, c, err, sizeof err) != 0) {
        char masked[256];
        log_msg(&h->log, HERALD_LOG_WARN, "notifier %s: %s: %s", n->name,
                log_mask_url(m->url ? m->url : "", masked, sizeof masked), err);
        free(c);
        return -1;
    }
    return 0;
}

/* host->spawn: the program runs on the daemon's loop (spawn.c); refused once stopping, since
 * the loop is then closing its handles. */
static int host_spawn(void *ctx, const struct herald_spawn *s, herald_spawn_cb cb, void *arg)
{
    struct notifier_inst *n = ctx;
    struct herald *h = n->h;
    if (h->stopping > 1) return -1;
    return spawn_start(&h->loop, &h->spawns, s, cb, arg);
}

void notifiers_host_init(struct herald *h)
{
    struct herald_host *t = &h->host;
    memset(t, 0, sizeof *t);
    t->version = HERALD_HOST_VERSION;
    t->struct_size = sizeof *t;
    t->ctx = NULL; /* per instance: see inst_host() */
    t->log = host_log;
    t->opt_string = opts_string;
    t->opt_int = opts_int;
    t->opt_map_count = opts_map_count;
    t->opt_map_at = opts_map_at;
    t->http_request = host_http_request;
    t->complete = outbox_complete;
    t->retry_after = outbox_retry_after;
    t->mail_send = host_mail_send;
    t->opt_list_count = opts_list_count;
    t->opt_list_at = opts_list_at;
    t->spawn = host_spawn;
    t->watch_fd = host_io_watch_fd;
    t->watch_update = host_io_watch_update;
    t->watch_close = host_io_watch_close;
    t->timer_new = host_io_timer_new;
    t->timer_start = host_io_timer_start;
    t->timer_stop = host_io_timer_stop;
    t->timer_close = host_io_timer_close;
}

/* ---- instances ------------------------------------------------------------------- */

/* Each instance gets its own copy of the host table so that `ctx` identifies it. */
struct inst_with_host {
    struct notifier_inst inst;
    struct herald_host host;
};

static void inst_free(struct notifier_inst *n)
{
    if (n->ready && n->plugin->fini) n->plugin->fini(n->state);
    free(n->name);
    free(n);
}

static void retire(struct herald *h, struct notifier_inst *n)
{
    n->retired = 1;
    n->cfg = NULL;
    if (n->in_flight == 0) {
        inst_free(n);
        return;
    }
    n->next_retired = h->retired;
    h->retired = n;
}

int notifiers_sync(struct herald *h, char *err, size_t errlen)
{
    const struct config *cfg = h->cfg;
    struct notifier_inst **v = calloc(cfg->n_notifiers + 1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t made = 0;
    for (size_t i = 0; i < cfg->n_notifiers; i++) {
        const struct cfg_notifier *c = &cfg->notifiers[i];
        struct inst_with_host *ih = calloc(1, sizeof *ih);
        if (!ih) break;
        struct notifier_inst *n = &ih->inst;
        n->h = h;
        n->name = strdup(c->name);
        n->plugin = c->plugin;
        n->cfg = c;
        n->opts = (struct herald_opts *)&c->opts;
        ih->host = h->host;
        ih->host.ctx = n;
        char perr[512] = "";
        if (n->plugin->init(&ih->host, n->opts, &n->state, perr, sizeof perr) != 0) {
            log_msg(&h->log, HERALD_LOG_ERROR, "notifier %s (%s:%d): %s; its alerts stay queued",
                    c->name, c->file, c->line, perr[0] ? perr : "init failed");
        } else {
            n->ready = 1;
        }
        v[made++] = n;
    }
    /* The old set goes: each instance finalised now, or when its last delivery ends. The
     * opts pointer of an old instance must not outlive its (already freed) config, and it
     * is only read during init, so it is cleared here. */
    for (size_t i = 0; i < h->n_notifiers; i++) {
        h->notifiers[i]->opts = NULL;
        retire(h, h->notifiers[i]);
    }
    free(h->notifiers);
    h->notifiers = v;
    h->n_notifiers = made;
    return made == cfg->n_notifiers ? 0 : -1;
}

void notifiers_close(struct herald *h)
{
    for (size_t i = 0; i < h->n_notifiers; i++)
        inst_free(h->notifiers[i]);
    free(h->notifiers);
    h->notifiers = NULL;
    h->n_notifiers = 0;
    while (h->retired) {
        struct notifier_inst *n = h->retired;
        h->retired = n->next_retired;
        inst_free(n);
    }
}

struct notifier_inst *notifier_find(struct herald *h, const char *name)
{
    for (size_t i = 0; i < h->n_notifiers; i++)
        if (strcmp(h->notifiers[i]->name, name) == 0) return h->notifiers[i];
    return NULL;
}

void notifier_release(struct notifier_inst *n)
{
    if (n->in_flight > 0 || !n->retired) return;
    struct herald *h = n->h;
    for (struct notifier_inst **p = &h->retired; *p; p = &(*p)->next_retired)
        if (*p == n) {
            *p = n->next_retired;
            break;
        }
    inst_free(n);
}
