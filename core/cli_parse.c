/*
 * cli_parse — `herald parse`: show what herald reads from a feed or a page, from a file or
 * through the same fetcher the daemon uses (so a URL is read exactly as a poll would).
 */
#include "cli.h"

#include "feed.h"
#include "fetch.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct one_fetch {
    int done;
    int ok;
    char *body;
    size_t len;
    char *content_type;
    char *effective_url;
    char error[512];
};

static void on_done(void *arg, const struct fetch_result *r)
{
    struct one_fetch *of = arg;
    of->done = 1;
    if (!r->ok) {
        snprintf(of->error, sizeof of->error, "%s", r->error ? r->error : "transfer failed");
        return;
    }
    if (r->status >= 400) {
        snprintf(of->error, sizeof of->error, "HTTP %ld", r->status);
        return;
    }
    of->body = malloc(r->len + 1);
    if (!of->body) {
        snprintf(of->error, sizeof of->error, "out of memory");
        return;
    }
    memcpy(of->body, r->body, r->len);
    of->body[r->len] = '\0';
    of->len = r->len;
    of->content_type = r->content_type ? strdup(r->content_type) : NULL;
    of->effective_url = strdup(r->effective_url);
    of->ok = 1;
}

/* Fetch one URL on a private loop. Returns 0, or 1 with of->error set. */
static int fetch_url(const char *url, struct one_fetch *of)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        snprintf(of->error, sizeof of->error, "cannot start an event loop");
        return 1;
    }
    struct fetcher *f = NULL;
    int rc = 1;
    if (fetcher_new(&loop, NULL, &f, of->error, sizeof of->error) == 0) {
        struct fetch_request req = {.url = url};
        if (fetch_start(f, &req, on_done, of, of->error, sizeof of->error) == 0) {
            uv_run(&loop, UV_RUN_DEFAULT);
            rc = of->ok ? 0 : 1;
        }
        fetcher_close(f);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop);
    return rc;
}

int cli_parse(const char *target, int json)
{
    struct one_fetch of = {0};
    int is_url = strstr(target, "://") != NULL;
    if (is_url) {
        if (fetch_url(target, &of) != 0) {
            fprintf(stderr, "herald: %s: %s\n", target, of.error);
            free(of.body);
            free(of.content_type);
            free(of.effective_url);
            return 66;
        }
    } else if (file_read_all(target, 64u << 20, &of.body, &of.len) != 0) {
        fprintf(stderr, "herald: %s: %s\n", target,
                errno == EFBIG ? "larger than 64 MiB" : strerror(errno));
        return 66;
    }
    struct feed *f = NULL;
    char err[512];
    int rc = feed_parse(of.body, of.len, is_url ? of.effective_url : NULL, of.content_type, NULL,
                        &f, err, sizeof err);
    free(of.body);
    free(of.content_type);
    free(of.effective_url);
    if (rc != 0) {
        fprintf(stderr, "herald: %s: %s\n", target, err);
        return 65;
    }
    char *out = json ? feed_to_json(f) : feed_to_text(f);
    feed_free(f);
    if (!out) {
        fprintf(stderr, "herald: out of memory\n");
        return 70;
    }
    fputs(out, stdout);
    if (out[0] && out[strlen(out) - 1] != '\n') putchar('\n');
    free(out);
    return 0;
}
