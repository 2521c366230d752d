/*
 * webhook notifier — POSTs each alert to an HTTP endpoint through the host's asynchronous
 * HTTP client (the daemon's curl multi handle; this plugin never blocks and never owns a curl
 * handle). Input is the alert from deliver(); the format files render the message for the
 * receiver (generic JSON, Slack, Discord, Mattermost, Teams, ntfy, Gotify, Matrix, Telegram,
 * text — or the user's template) with its method, URL and own headers; this file reads the
 * options, adds the common headers (content type, User-Agent, Idempotency-Key, optional HMAC
 * signature, the user's own), starts the request and maps the response to DELIVERED / RETRY /
 * FAILED. Logs and details name only the endpoint's scheme://host: a webhook URL's path or
 * query is often its secret, and a Telegram URL holds the bot token.
 */
#include "webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef HERALD_VERSION
#define WEBHOOK_USER_AGENT "herald/" HERALD_VERSION
#else
#define WEBHOOK_USER_AGENT "herald"
#endif

enum {
    URL_MAX = 8192,
    HEADER_NAME_MAX = 100,
    HEADER_VALUE_MAX = 4000,
    HEADERS_MAX = 32,
    DETAIL_BODY_MAX = 200,
    TIMEOUT_MAX_MS = 10 * 60 * 1000,
    ORIGIN_MAX = 256,
};

struct webhook {
    struct herald_host host;
    char *url;
    char origin[ORIGIN_MAX]; /* scheme://host[:port], the only part of url ever shown */
    struct webhook_fmt fmt;  /* its strings point at the copies below */
    char *token, *room, *chat_id;
    struct tpl tpl;
    char **headers; /* the user's "Name: value" headers */
    size_t n_headers;
    long timeout_ms;
    unsigned char *secret;
    size_t secret_len;
};

/* One request in flight: everything the host may still read until the callback runs. */
struct webhook_call {
    struct webhook *wh;
    struct herald_delivery *d;
    struct webhook_msg msg;
    char *std_headers[4]; /* Content-Type, User-Agent, Idempotency-Key, X-Herald-Signature */
    const char *headers[4 + WEBHOOK_MSG_HEADERS + HEADERS_MAX];
    size_t n_headers;
};

#define TELEGRAM_API "https://api.telegram.org"

static const struct herald_opt_spec webhook_options[] = {
    {"url", HERALD_OPT_STRING, 0, NULL,
     "http(s) endpoint (required; matrix: homeserver; gotify: server; telegram: API server)"},
    {"format", HERALD_OPT_STRING, 0, "json",
     "json, slack, discord, mattermost, teams, ntfy, gotify, matrix, telegram or text"},
    {"template", HERALD_OPT_TEMPLATE, 0, NULL,
     "message text with {{title}} {{link}} {{rule}} {{source}} {{published}} {{summary}} "
     "{{evidence}} {{id}} {{notifier}}"},
    {"token", HERALD_OPT_STRING, 0, NULL,
     "gotify app token, matrix access token, telegram bot token or ntfy access token"},
    {"room", HERALD_OPT_STRING, 0, NULL, "matrix: the room id (!…:server) to post in"},
    {"chat_id", HERALD_OPT_STRING, 0, NULL, "telegram: numeric chat id or @channelname"},
    {"priority", HERALD_OPT_INT, 0, NULL, "ntfy 1-5 or gotify 0-10 message priority"},
    {"headers", HERALD_OPT_MAP, 0, NULL, "extra request headers, e.g. { Authorization = \"…\" }"},
    {"timeout", HERALD_OPT_DURATION, 0, "15s", "give up on one attempt after this long"},
    {"secret", HERALD_OPT_STRING, 0, NULL,
     "sign bodies: X-Herald-Signature: sha256=<hex HMAC-SHA256 of the body>"},
    {0},
};

/* --- options --- */

/* scheme://host[:port] of url without any user:password@, for logs. */
static void url_origin(const char *url, char *out, size_t outlen)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t end = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', end);
    const char *host = at ? at + 1 : auth;
    int scheme = (int)(auth - url);
    snprintf(out, outlen, "%.*s%.*s", scheme, url, (int)(end - (size_t)(host - auth)), host);
}

static int check_url(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "webhook: url must start with http:// or https://");
        return -1;
    }
    if (strlen(url) > URL_MAX || !webhook_url_ok(url)) {
        snprintf(err, errlen,
                 "webhook: url must not contain spaces or control characters "
                 "and must be shorter than 8 KiB");
        return -1;
    }
    const char *host = strstr(url, "://") + 3;
    size_t end = strcspn(host, "/?#");
    const char *at = memchr(host, '@', end);
    if (end == 0 || (at && at + 1 == host + end)) {
        snprintf(err, errlen, "webhook: url has no host");
        return -1;
    }
    return 0;
}

static int is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Validate one user header and return "Name: value" (caller frees), or NULL with err set. */
static char *make_header(const char *name, const char *value, char *err, size_t errlen)
{
    size_t nl = strlen(name), vl = strlen(value);
    int ok = nl > 0 && nl <= HEADER_NAME_MAX;
    for (size_t i = 0; ok && i < nl; i++)
        ok = is_token_char((unsigned char)name[i]);
    if (!ok) {
        snprintf(err, errlen, "webhook: headers: \"%.60s\" is not a valid header name", name);
        return NULL;
    }
    ok = vl <= HEADER_VALUE_MAX;
    for (size_t i = 0; ok && i < vl; i++) {
        unsigned char c = (unsigned char)value[i];
        ok = (c >= 0x20 || c == '\t') && c != 0x7f;
    }
    if (!ok) {
        snprintf(err, errlen,
                 "webhook: headers: the value of %.60s must be one line of "
                 "at most 4000 bytes without control characters",
                 name);
        return NULL;
    }
    char *h = malloc(nl + vl + 3);
    if (!h) {
        snprintf(err, errlen, "webhook: out of memory");
        return NULL;
    }
    memcpy(h, name, nl);
    memcpy(h + nl, ": ", 2);
    memcpy(h + nl + 2, value, vl + 1);
    return h;
}

static int read_headers(struct webhook *w, const struct herald_opts *opts, char *err, size_t errlen)
{
    if (!w->host.opt_map_count || !w->host.opt_map_at) return 0;
    size_t n = w->host.opt_map_count(opts, "headers");
    if (n > HEADERS_MAX) {
        snprintf(err, errlen, "webhook: headers: at most %d entries", HEADERS_MAX);
        return -1;
    }
    if (n == 0) return 0;
    w->headers = calloc(n, sizeof *w->headers);
    if (!w->headers) {
        snprintf(err, errlen, "webhook: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = NULL, *v = NULL;
        if (w->host.opt_map_at(opts, "headers", i, &k, &v) != 0 || !k || !v) {
            snprintf(err, errlen, "webhook: headers: cannot read entry %zu", i + 1);
            return -1;
        }
        if (!(w->headers[i] = make_header(k, v, err, errlen))) return -1;
        w->n_headers = i + 1;
    }
    return 0;
}

static void webhook_fini(void *state)
{
    struct webhook *w = state;
    if (!w) return;
    for (size_t i = 0; i < w->n_headers; i++)
        free(w->headers[i]);
    free(w->headers);
    free(w->url);
    if (w->token) OPENSSL_cleanse(w->token, strlen(w->token));
    free(w->token);
    free(w->room);
    free(w->chat_id);
    tpl_free(&w->tpl);
    if (w->secret) OPENSSL_cleanse(w->secret, w->secret_len);
    free(w->secret);
    free(w);
}

/* Copy the optional string option `name` into *out (NULL when unset); -1 when out of memory. */
static int opt_dup(struct webhook *w, const struct herald_opts *opts, const char *name, char **out)
{
    const char *v = w->host.opt_string(opts, name);
    *out = NULL;
    if (!v) return 0;
    return (*out = strdup(v)) ? 0 : -1;
}

/* format, template, token, room, chat_id, priority. */
static int read_format(struct webhook *w, const struct herald_opts *opts, char *err, size_t errlen)
{
    const char *format = w->host.opt_string(opts, "format");
    if (webhook_format_parse(format ? format : "json", &w->fmt.format) != 0) {
        snprintf(err, errlen,
                 "webhook: format must be json, slack, discord, mattermost, teams, ntfy, "
                 "gotify, matrix, telegram or text, not \"%.40s\"",
                 format);
        return -1;
    }
    if (opt_dup(w, opts, "token", &w->token) != 0 || opt_dup(w, opts, "room", &w->room) != 0 ||
        opt_dup(w, opts, "chat_id", &w->chat_id) != 0)
        return -1;
    w->fmt.token = w->token;
    w->fmt.room = w->room;
    w->fmt.chat_id = w->chat_id;
    w->fmt.priority = w->host.opt_string(opts, "priority") ? -2 : -1;
    if (w->fmt.priority == -2) {
        long long p = w->host.opt_int(opts, "priority", -1);
        w->fmt.priority = p >= -1 && p <= 100 ? (long)p : 1000; /* the check rejects it */
    }
    const char *tpl = w->host.opt_string(opts, "template");
    if (tpl) {
        char why[300];
        if (tpl_parse(&w->tpl, tpl, why, sizeof why) != 0) {
            snprintf(err, errlen, "webhook: template: %s", why);
            return -1;
        }
        w->fmt.tpl = &w->tpl;
    }
    return 0;
}

static int read_options(struct webhook *w, const struct herald_opts *opts, char *err, size_t errlen)
{
    if (read_format(w, opts, err, errlen) != 0) return -1;
    const char *url = w->host.opt_string(opts, "url");
    if ((!url || !url[0]) && w->fmt.format == WEBHOOK_TELEGRAM) url = TELEGRAM_API;
    if (!url || !url[0]) {
        snprintf(err, errlen, "webhook: url is required");
        return -1;
    }
    if (check_url(url, err, errlen) != 0 || !(w->url = strdup(url))) return -1;
    url_origin(url, w->origin, sizeof w->origin);
    w->fmt.url = w->url;
    if (webhook_format_check(&w->fmt, err, errlen) != 0) return -1;

    long long t = w->host.opt_int(opts, "timeout", 15000);
    if (t <= 0 || t > TIMEOUT_MAX_MS) {
        snprintf(err, errlen, "webhook: timeout must be between 1ms and 10m");
        return -1;
    }
    w->timeout_ms = (long)t;

    const char *secret = w->host.opt_string(opts, "secret");
    if (secret) {
        if (!secret[0]) {
            snprintf(err, errlen, "webhook: secret must not be empty");
            return -1;
        }
        w->secret_len = strlen(secret);
        if (!(w->secret = malloc(w->secret_len))) return -1;
        memcpy(w->secret, secret, w->secret_len);
    }
    return read_headers(w, opts, err, errlen);
}

static int webhook_init(const struct herald_host *host, const struct herald_opts *opts,
                        void **state, char *err, size_t errlen)
{
    struct webhook *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "webhook: out of memory");
        return -1;
    }
    if (atext_host_copy(&w->host, host) != 0 || !w->host.http_request) {
        snprintf(err, errlen, "webhook: the host table lacks required functions");
        free(w);
        return -1;
    }
    err[0] = '\0';
    if (read_options(w, opts, err, errlen) != 0) {
        if (!err[0]) snprintf(err, errlen, "webhook: out of memory");
        webhook_fini(w);
        return -1;
    }
    w->host.log(w->host.ctx, HERALD_LOG_DEBUG, "webhook: posting %s to %s",
                webhook_format_name(w->fmt.format), w->origin);
    *state = w;
    return 0;
}

/* --- delivery --- */

static void call_free(struct webhook_call *c)
{
    webhook_msg_free(&c->msg);
    for (size_t i = 0; i < sizeof c->std_headers / sizeof c->std_headers[0]; i++)
        free(c->std_headers[i]);
    free(c);
}

/* "Name: value" with value cleaned to one line (an alert id must not inject a header). */
static char *std_header(const char *name, const char *value)
{
    struct atext h = {0};
    atext_puts(&h, name);
    atext_puts(&h, ": ");
    atext_put_field(&h, value, 1000);
    if (h.failed) {
        atext_free(&h);
        return NULL;
    }
    return h.p;
}

/* "sha256=<hex HMAC-SHA256(secret, body)>", or NULL when OpenSSL fails. */
static char *signature(const struct webhook *w, const struct atext *body)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    static const unsigned char empty[1];
    if (!HMAC(EVP_sha256(), w->secret, (int)w->secret_len,
              body->p ? (const unsigned char *)body->p : empty, body->len, mac, &len))
        return NULL;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    hex[2 * len] = '\0';
    char *out = malloc(strlen("sha256=") + 2 * len + 1);
    if (out) sprintf(out, "sha256=%s", hex);
    return out;
}

/* Whether the user configured a header with the same name as line h: theirs wins. */
static int user_overrides(const struct webhook *w, const char *h)
{
    size_t n = strcspn(h, ":");
    for (size_t i = 0; i < w->n_headers; i++)
        if (strncasecmp(w->headers[i], h, n) == 0 && w->headers[i][n] == ':') return 1;
    return 0;
}

/* Fill c->headers: ours (content type, agent, idempotency key, signature), the format's,
 * then the user's. Returns -1 when out of memory. */
static int build_headers(struct webhook_call *c, const struct herald_alert *al)
{
    const struct webhook *w = c->wh;
    c->std_headers[0] = std_header("Content-Type", c->msg.content_type);
    c->std_headers[1] = std_header("User-Agent", WEBHOOK_USER_AGENT);
    c->std_headers[2] = std_header("Idempotency-Key", al->id ? al->id : "");
    if (!c->std_headers[0] || !c->std_headers[1] || !c->std_headers[2]) return -1;
    if (w->secret) {
        char *sig = signature(w, &c->msg.body);
        c->std_headers[3] = sig ? std_header("X-Herald-Signature", sig) : NULL;
        free(sig);
        if (!c->std_headers[3]) return -1;
    }
    for (size_t i = 0; i < 4; i++)
        if (c->std_headers[i] && !user_overrides(w, c->std_headers[i]))
            c->headers[c->n_headers++] = c->std_headers[i];
    for (size_t i = 0; i < c->msg.n_headers; i++)
        if (!user_overrides(w, c->msg.headers[i])) c->headers[c->n_headers++] = c->msg.headers[i];
    for (size_t i = 0; i < w->n_headers; i++)
        c->headers[c->n_headers++] = w->headers[i];
    return 0;
}

/* Append up to DETAIL_BODY_MAX bytes of a response body as one clean line. */
static void put_body_excerpt(struct atext *b, const struct herald_http_response *res)
{
    if (!res->body || res->body_len == 0) return;
    size_t n = res->body_len < DETAIL_BODY_MAX ? res->body_len : DETAIL_BODY_MAX;
    n = atext_cut(res->body, res->body_len, n);
    atext_puts(b, ": ");
    atext_put_clean(b, res->body, n, SIZE_MAX);
}

/* DELIVERED for 2xx; RETRY for no response, 408, 425, 429 and 5xx; FAILED otherwise. */
static enum herald_result classify(long status)
{
    if (status >= 200 && status <= 299) return HERALD_DELIVERED;
    if (status <= 0 || status == 408 || status == 425 || status == 429 || status >= 500)
        return HERALD_RETRY;
    return HERALD_FAILED;
}

static void on_response(void *arg, const struct herald_http_response *res)
{
    struct webhook_call *c = arg;
    struct webhook *w = c->wh;
    enum herald_result r = classify(res->status);
    struct atext detail = {0};
    if (res->status <= 0) {
        atext_printf(&detail, "webhook: no response from %s: ", w->origin);
        atext_put_field(&detail, res->error ? res->error : "transport error", 300);
    } else if (r != HERALD_DELIVERED) {
        atext_printf(&detail, "webhook: HTTP %ld from %s", res->status, w->origin);
        put_body_excerpt(&detail, res);
    }
    if (r == HERALD_RETRY && res->retry_after_s >= 0 && w->host.retry_after) {
        w->host.retry_after(c->d, res->retry_after_s);
        atext_printf(&detail, " (retry after %lds)", res->retry_after_s);
    }
    w->host.log(w->host.ctx, HERALD_LOG_DEBUG, "webhook: %s %s -> %ld",
                c->msg.method ? c->msg.method : "POST", w->origin, res->status);
    w->host.complete(c->d, r, detail.failed ? "webhook: delivery failed" : detail.p);
    atext_free(&detail);
    call_free(c);
}

static int webhook_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct webhook *w = state;
    char err[512] = "webhook: out of memory";
    struct webhook_call *c = calloc(1, sizeof *c);
    if (!c) {
        w->host.complete(d, HERALD_RETRY, err);
        return 0;
    }
    c->wh = w;
    c->d = d;
    enum herald_result r = webhook_format_render(&w->fmt, alert, &c->msg, err, sizeof err);
    if (r == HERALD_DELIVERED && build_headers(c, alert) != 0) {
        snprintf(err, sizeof err, "webhook: out of memory building headers");
        r = HERALD_RETRY;
    }
    if (r != HERALD_DELIVERED) {
        call_free(c);
        w->host.complete(d, r, err);
        return 0;
    }
    struct herald_http_request req = {
        .struct_size = sizeof req,
        .method = c->msg.method ? c->msg.method : "POST",
        .url = c->msg.url ? c->msg.url : w->url,
        .headers = c->headers,
        .n_headers = c->n_headers,
        .body = c->msg.body.p ? c->msg.body.p : "",
        .body_len = c->msg.body.len,
        .timeout_ms = w->timeout_ms,
    };
    /* On success `c` belongs to on_response, which may already have run and freed it. */
    if (w->host.http_request(w->host.ctx, &req, on_response, c) != 0) {
        call_free(c);
        snprintf(err, sizeof err, "webhook: could not start a request to %s", w->origin);
        w->host.complete(d, HERALD_RETRY, err);
    }
    return 0;
}

__attribute__((visibility("default"))) const struct herald_plugin herald_plugin =
    HERALD_PLUGIN_INIT("webhook",
                       "send alerts to HTTP endpoints: JSON, Slack, Discord, Mattermost, Teams, "
                       "ntfy, Gotify, Matrix, Telegram or text",
                       webhook_options, webhook_init, webhook_deliver, webhook_fini);
