/*
 * test_fetch — the curl-multi-on-libuv fetcher against a tiny HTTP responder running on
 * the same loop (a uv_tcp server on 127.0.0.1, port chosen by the kernel): status and
 * headers, conditional requests, Retry-After, bounded bodies, redirects, POST bodies,
 * file:// URLs, cancellation, and a loop that closes with no handle left behind.
 */
#include "check.h"
#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uv_loop_t loop;
static uv_tcp_t server;
static int port;
static char last_request[8192];
static struct conn *hung; /* the connection /hang never answered */

struct conn {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
};

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    uv_close((uv_handle_t *)w->handle, on_conn_closed);
    free(w->data);
    free(w);
}

static void respond(struct conn *c, const char *resp, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(len);
    memcpy(copy, resp, len);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

/* Route by the request line; `Connection: close` keeps each exchange on its own socket. */
static void answer(struct conn *c)
{
    char resp[4096];
    const char *req = c->buf;
    snprintf(last_request, sizeof last_request, "%s", req);
    const char *body = "<rss version=\"2.0\"><channel><title>t</title></channel></rss>";
    if (strncmp(req, "GET /etag ", 10) == 0) {
        if (strstr(req, "If-None-Match: \"v1\""))
            snprintf(resp, sizeof resp,
                     "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                     "Connection: close\r\n\r\n");
        else
            snprintf(resp, sizeof resp,
                     "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nLast-Modified: Mon, 06 Jan 2020 09:30:00 "
                     "GMT\r\nContent-Type: application/rss+xml\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     strlen(body), body);
    } else if (strncmp(req, "GET /busy ", 10) == 0) {
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (strncmp(req, "GET /big ", 9) == 0) {
        char big[3000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n%s", big);
    } else if (strncmp(req, "GET /moved ", 11) == 0) {
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 301 Moved Permanently\r\nLocation: /etag\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
    } else if (strncmp(req, "GET /temp ", 10) == 0) {
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 302 Found\r\nLocation: /etag\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
    } else if (strncmp(req, "GET /loop ", 10) == 0) {
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
    } else if (strncmp(req, "POST /hook ", 11) == 0) {
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    } else if (strncmp(req, "GET /hang ", 10) == 0) {
        /* Never answer: the client's timeout or cancellation ends it. */
        if (hung) uv_close((uv_handle_t *)&hung->tcp, on_conn_closed);
        hung = c;
        return;
    } else {
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    respond(c, resp, strlen(resp));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    (void)buf;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end) return;
    /* A POST carries a body after the headers: wait for all of it. */
    const char *cl = strstr(c->buf, "Content-Length: ");
    if (cl && cl < end && c->len < (size_t)(end + 4 - c->buf) + (size_t)atoi(cl + 16)) return;
    uv_read_stop(s);
    answer(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0) return;
    struct conn *c = calloc(1, sizeof *c);
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

struct got {
    int done;
    int ok;
    long status;
    char error[256];
    char body[4096];
    size_t len;
    char etag[64], last_modified[64], effective[256];
    long retry_after;
    int permanent;
};

static void on_done(void *arg, const struct fetch_result *r)
{
    struct got *g = arg;
    g->done++;
    g->ok = r->ok;
    g->status = r->status;
    snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
    g->len = r->len;
    snprintf(g->body, sizeof g->body, "%.*s", (int)r->len, r->body);
    snprintf(g->etag, sizeof g->etag, "%s", r->etag ? r->etag : "");
    snprintf(g->last_modified, sizeof g->last_modified, "%s",
             r->last_modified ? r->last_modified : "");
    snprintf(g->effective, sizeof g->effective, "%s", r->effective_url);
    g->retry_after = r->retry_after_s;
    g->permanent = r->permanent_redirect;
    uv_stop(&loop);
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    uv_stop(&loop);
}

static struct fetcher *fetcher;

static void url_for(char *buf, size_t n, const char *path)
{
    snprintf(buf, n, "http://127.0.0.1:%d%s", port, path);
}

/* Run one request to completion on the shared loop. */
static void fetch_one(struct fetch_request *req, struct got *g)
{
    memset(g, 0, sizeof *g);
    char err[256];
    if (fetch_start(fetcher, req, on_done, g, err, sizeof err) != 0) {
        snprintf(g->error, sizeof g->error, "start: %.200s", err);
        return;
    }
    /* The server keeps the loop alive, so the run ends by uv_stop: from on_done, or from
     * a watchdog that bounds every request to 10 s. */
    uv_timer_t dog;
    uv_timer_init(&loop, &dog);
    uv_timer_start(&dog, on_watchdog, 10000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_timer_stop(&dog);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    if (!g->done) snprintf(g->error, sizeof g->error, "no answer within 10 s");
}

TEST(status_body_and_validators)
{
    char url[128];
    url_for(url, sizeof url, "/etag");
    struct fetch_request req = {.url = url};
    struct got g;
    fetch_one(&req, &g);
    CHECK_INT(g.done, 1);
    CHECK(g.ok);
    CHECK_INT(g.status, 200);
    CHECK_CONTAINS(g.body, "<rss version=\"2.0\">");
    CHECK_STR(g.etag, "\"v1\"");
    CHECK_STR(g.last_modified, "Mon, 06 Jan 2020 09:30:00 GMT");
    CHECK_CONTAINS(last_request, "User-Agent: herald/");
    CHECK_CONTAINS(last_request, "Accept-Encoding:");
    req.etag = "\"v1\"";
    req.last_modified = "Mon, 06 Jan 2020 09:30:00 GMT";
    fetch_one(&req, &g);
    CHECK(g.ok);
    CHECK_INT(g.status, 304);
    CHECK_CONTAINS(last_request, "If-Modified-Since: Mon, 06 Jan 2020 09:30:00 GMT");
    CHECK_INT(g.len, 0);
}

TEST(retry_after_and_errors)
{
    char url[128];
    url_for(url, sizeof url, "/busy");
    struct fetch_request req = {.url = url};
    struct got g;
    fetch_one(&req, &g);
    CHECK(g.ok);
    CHECK_INT(g.status, 429);
    CHECK_INT(g.retry_after, 120);
    url_for(url, sizeof url, "/nothing-here");
    fetch_one(&req, &g);
    CHECK_INT(g.status, 404);
    CHECK_INT(g.retry_after, -1);
}

TEST(bodies_are_bounded)
{
    char url[128];
    url_for(url, sizeof url, "/big");
    struct fetch_request req = {.url = url, .max_bytes = 1000};
    struct got g;
    fetch_one(&req, &g);
    CHECK(!g.ok);
    CHECK_CONTAINS(g.error, "larger than 1000 bytes");
}

TEST(redirects)
{
    char url[128];
    url_for(url, sizeof url, "/moved");
    struct fetch_request req = {.url = url};
    struct got g;
    fetch_one(&req, &g);
    CHECK(g.ok);
    CHECK_INT(g.status, 200);
    CHECK_INT(g.permanent, 1);
    CHECK_CONTAINS(g.effective, "/etag");
    url_for(url, sizeof url, "/temp");
    fetch_one(&req, &g);
    CHECK_INT(g.status, 200);
    CHECK_INT(g.permanent, 0);
    url_for(url, sizeof url, "/loop");
    fetch_one(&req, &g);
    CHECK(!g.ok);
    CHECK_CONTAINS(g.error, "redirect");
}

TEST(post_with_headers)
{
    char url[128];
    url_for(url, sizeof url, "/hook");
    const char *headers[] = {"Content-Type: application/json", "Idempotency-Key: abc"};
    struct fetch_request req = {.url = url,
                                .method = "POST",
                                .headers = headers,
                                .n_headers = 2,
                                .body = "{\"a\":1}",
                                .body_len = 7};
    struct got g;
    fetch_one(&req, &g);
    CHECK(g.ok);
    CHECK_INT(g.status, 201);
    CHECK_STR(g.body, "ok");
    CHECK_CONTAINS(last_request, "POST /hook HTTP/1.1");
    CHECK_CONTAINS(last_request, "Idempotency-Key: abc");
    CHECK_CONTAINS(last_request, "{\"a\":1}");
}

TEST(file_urls)
{
    char cwd[512], url[700];
    CHECK(getcwd(cwd, sizeof cwd));
    snprintf(url, sizeof url, "file://%s/scripts/samples/science.atom", cwd);
    struct fetch_request req = {.url = url};
    struct got g;
    fetch_one(&req, &g);
    CHECK(g.ok);
    CHECK_CONTAINS(g.body, "Example Science Desk");
    snprintf(url, sizeof url, "file://%s/no/such/file.xml", cwd);
    fetch_one(&req, &g);
    CHECK(!g.ok);
    CHECK(g.error[0] != '\0');
}

TEST(timeouts)
{
    char url[128];
    url_for(url, sizeof url, "/hang");
    struct fetch_request req = {.url = url, .timeout_ms = 300};
    struct got g;
    fetch_one(&req, &g);
    CHECK(!g.ok);
    CHECK_CONTAINS(g.error, "timed out");
}

static void on_server_closed(uv_handle_t *h)
{
    (void)h;
}

TEST(close_cancels_and_the_loop_ends_clean)
{
    char url[128];
    url_for(url, sizeof url, "/hang");
    struct fetch_request req = {.url = url};
    struct got g = {0};
    char err[128];
    CHECK(fetch_start(fetcher, &req, on_done, &g, err, sizeof err) == 0);
    for (int i = 0; i < 50; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT(fetcher_active(fetcher), 1);
    fetcher_close(fetcher);
    fetcher = NULL;
    CHECK_INT(g.done, 1);
    CHECK(!g.ok);
    CHECK_CONTAINS(g.error, "cancelled");
    uv_close((uv_handle_t *)&server, on_server_closed);
    if (hung) uv_close((uv_handle_t *)&hung->tcp, on_conn_closed);
    /* The cancelled callback called uv_stop, which ends the next run at once: run until
     * the loop has nothing left. */
    for (int i = 0; i < 10 && uv_run(&loop, UV_RUN_DEFAULT) != 0; i++) {
    }
    CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 64, on_connection) != 0) {
        printf("FAIL setup: cannot listen on 127.0.0.1\n");
        return 1;
    }
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    port = ntohs(bound.sin_port);
    char err[128];
    if (fetcher_new(&loop, NULL, &fetcher, err, sizeof err) != 0) {
        printf("FAIL setup: %s\n", err);
        return 1;
    }
    RUN(status_body_and_validators);
    RUN(retry_after_and_errors);
    RUN(bodies_are_bounded);
    RUN(redirects);
    RUN(post_with_headers);
    RUN(file_urls);
    RUN(timeouts);
    RUN(close_cancels_and_the_loop_ends_clean);
    return check_summary();
}
