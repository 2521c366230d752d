/*
 * stdout notifier — prints each alert to the daemon's standard output: a readable block
 * (headline, link, source and date, up to three evidence snippets) or, with format = "json",
 * the alert JSON on one line, or the user's template rendered as plain text. Input is the
 * alert the core hands to deliver(); output is one
 * fwrite + fflush per alert on stdout, so a pipe reader sees whole alerts. Synchronous: the
 * delivery completes before deliver() returns.
 */
#include <herald/plugin.h>

#include "../common/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stdout_notifier {
    struct herald_host host;
    int json;       /* print alert->json instead of the text block */
    struct tpl tpl; /* with a template: print it instead of the text block */
    int has_tpl;
};

static const struct herald_opt_spec stdout_options[] = {
    {"format", HERALD_OPT_STRING, 0, "text",
     "\"text\": a readable block per alert; \"json\": the alert JSON on one line"},
    {"template", HERALD_OPT_TEMPLATE, 0, NULL,
     "text to print per alert: {{title}} {{link}} {{rule}} {{source}} {{published}} "
     "{{summary}} {{evidence}} {{id}} {{notifier}}"},
    {0},
};

static int stdout_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                       char *err, size_t errlen)
{
    struct herald_host h;
    if (atext_host_copy(&h, host) != 0) {
        snprintf(err, errlen, "stdout: the host table lacks required functions");
        return -1;
    }
    const char *format = h.opt_string(opts, "format");
    if (!format) format = "text";
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        snprintf(err, errlen, "stdout: format must be \"text\" or \"json\", not \"%.40s\"", format);
        return -1;
    }
    struct stdout_notifier *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "stdout: out of memory");
        return -1;
    }
    n->host = h;
    n->json = strcmp(format, "json") == 0;
    const char *tpl = h.opt_string(opts, "template");
    if (tpl && n->json) {
        snprintf(err, errlen, "stdout: template applies to format = \"text\" only");
        free(n);
        return -1;
    }
    if (tpl) {
        char why[300];
        if (tpl_parse(&n->tpl, tpl, why, sizeof why) != 0) {
            snprintf(err, errlen, "stdout: template: %s", why);
            free(n);
            return -1;
        }
        n->has_tpl = 1;
    }
    *state = n;
    return 0;
}

/* The alert JSON as one line: raw newlines can only be whitespace between JSON tokens
 * (inside strings they are escaped), so turning them into spaces keeps the document valid. */
static void put_json_line(struct atext *b, const char *json)
{
    size_t start = b->len;
    atext_puts(b, json);
    for (size_t i = start; i < b->len && !b->failed; i++)
        if (b->p[i] == '\n' || b->p[i] == '\r') b->p[i] = ' ';
    atext_puts(b, "\n");
}

static int stdout_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct stdout_notifier *n = state;
    struct atext b = {0};
    if (n->json) {
        if (!alert->json) {
            n->host.complete(d, HERALD_FAILED, "stdout: the alert has no JSON");
            return 0;
        }
        put_json_line(&b, alert->json);
    } else if (n->has_tpl) {
        tpl_render(&b, &n->tpl, alert, AMARK_PLAIN);
        if (!b.len || b.p[b.len - 1] != '\n') atext_puts(&b, "\n"); /* one whole line at least */
    } else {
        atext_alert_block(&b, alert);
    }
    if (b.failed) {
        atext_free(&b);
        n->host.complete(d, HERALD_RETRY, "stdout: out of memory rendering the alert");
        return 0;
    }
    errno = 0;
    size_t len = b.len;
    size_t put = fwrite(b.p, 1, len, stdout);
    int flushed = fflush(stdout);
    int saved = errno;
    atext_free(&b);
    if (put != len || flushed != 0 || ferror(stdout)) {
        clearerr(stdout); /* let the next attempt try again */
        char detail[160];
        snprintf(detail, sizeof detail, "stdout: write failed: %s",
                 saved ? strerror(saved) : "short write");
        n->host.complete(d, HERALD_RETRY, detail);
        return 0;
    }
    n->host.complete(d, HERALD_DELIVERED, NULL);
    return 0;
}

static void stdout_fini(void *state)
{
    struct stdout_notifier *n = state;
    if (n) tpl_free(&n->tpl);
    free(n);
}

__attribute__((visibility("default"))) const struct herald_plugin herald_plugin =
    HERALD_PLUGIN_INIT("stdout", "print alerts to standard output (text, a template or JSON lines)",
                       stdout_options, stdout_init, stdout_deliver, stdout_fini);
