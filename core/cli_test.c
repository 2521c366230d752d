/*
 * cli_test — `herald test`: run the rules of a config on article files (a feed, an HTML
 * page or plain text) without a store or a network, and show which rules fire and why:
 * each piece of evidence in its sentence with the matched words highlighted (colour on a
 * terminal, [brackets] otherwise), or everything as JSON for tools.
 */
#include "cli.h"

#include "alert.h"
#include "evaluate.h"
#include "herald.h"
#include "textdoc.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct test_ctx {
    const struct cli_test_opts *opt;
    const struct herald_article *a;
    const char *file;
    json_t *rules_json; /* --json: the current item's firing rules */
    size_t fired;
};

static int span_cmp(const void *x, const void *y)
{
    const struct evidence *a = x, *b = y;
    int f = strcmp(a->field, b->field);
    if (f) return f;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* Print one context line: text[s..e) with every evidence span of `field` inside it
 * highlighted. */
static void print_context(const struct test_ctx *tc, const char *field, const char *text, size_t s,
                          size_t e, int cl, int cr, const struct evidence *ev, size_t n)
{
    const char *open = tc->opt->color ? "\033[1;31m" : "[";
    const char *close = tc->opt->color ? "\033[0m" : "]";
    printf("      %s: %s", field, cl ? "…" : "");
    size_t pos = s;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].field, field) != 0 || ev[i].start < pos || ev[i].end > e) continue;
        for (; pos < ev[i].start; pos++)
            putchar(text[pos] == '\n' ? ' ' : text[pos]);
        printf("%s%.*s%s", open, (int)(ev[i].end - ev[i].start), text + ev[i].start, close);
        pos = ev[i].end;
    }
    for (; pos < e; pos++)
        putchar(text[pos] == '\n' ? ' ' : text[pos]);
    printf("%s\n", cr ? "…" : "");
}

/* Move a window edge to a word boundary so that lines never start or end mid-word. */
static size_t word_start(const char *t, size_t lo, size_t pos)
{
    if (pos <= lo) return lo;
    size_t p = pos;
    while (p > lo && t[p - 1] != ' ' && t[p - 1] != '\n')
        p--;
    return p > lo ? p : pos;
}

static size_t word_end(const char *t, size_t hi, size_t pos)
{
    if (pos >= hi) return hi;
    size_t p = pos;
    while (p < hi && t[p] != ' ' && t[p] != '\n')
        p++;
    return p;
}

/* One context line: spans ev[first..last] of one sentence of `field`. */
struct ctx_line {
    size_t first, last;
    size_t distinct; /* distinct terms matched in the sentence */
};

static int line_cmp(const void *x, const void *y)
{
    const struct ctx_line *a = x, *b = y;
    /* Sentences where more of the query met come first; then the text's order. */
    if (a->distinct != b->distinct) return a->distinct > b->distinct ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

static size_t distinct_terms(const struct evidence *ev, size_t first, size_t last)
{
    size_t n = 0;
    for (size_t k = first; k <= last; k++) {
        int seen = 0;
        for (size_t m = first; m < k && !seen; m++)
            seen = ev[m].term && ev[k].term && strcmp(ev[m].term, ev[k].term) == 0;
        n += !seen;
    }
    return n;
}

static void print_evidence(const struct test_ctx *tc, const struct evidence_list *evl)
{
    enum { WINDOW = 110, SHOW = 8 };
    if (evl->n == 0) {
        printf("      (fired by its match function; no query evidence)\n");
        return;
    }
    struct evidence *ev = malloc(evl->n * sizeof *ev);
    struct ctx_line *lines = malloc(evl->n * sizeof *lines);
    if (!ev || !lines) {
        free(ev);
        free(lines);
        return;
    }
    memcpy(ev, evl->v, evl->n * sizeof *ev);
    qsort(ev, evl->n, sizeof *ev, span_cmp);
    /* Group the spans by sentence: spans inside one sentence share a line. */
    size_t n_lines = 0;
    for (size_t i = 0; i < evl->n;) {
        const char *text = alert_article_field(tc->a, ev[i].field);
        if (!text || ev[i].end > strlen(text)) {
            i++;
            continue;
        }
        size_t s, e;
        int cl, cr;
        alert_context_bounds(text, ev[i].start, ev[i].end, 2000, &s, &e, &cl, &cr);
        size_t j = i;
        while (j + 1 < evl->n && strcmp(ev[j + 1].field, ev[i].field) == 0 &&
               ev[j + 1].start >= s && ev[j + 1].end <= e)
            j++;
        lines[n_lines++] = (struct ctx_line){i, j, distinct_terms(ev, i, j)};
        i = j + 1;
    }
    qsort(lines, n_lines, sizeof *lines, line_cmp);
    for (size_t k = 0; k < n_lines && k < SHOW; k++) {
        size_t i = lines[k].first, j = lines[k].last;
        const char *text = alert_article_field(tc->a, ev[i].field);
        size_t s, e;
        int cl, cr;
        alert_context_bounds(text, ev[i].start, ev[i].end, 2000, &s, &e, &cl, &cr);
        size_t ws = ev[i].start > s + WINDOW ? word_start(text, s, ev[i].start - WINDOW) : s;
        size_t we = ev[j].end + WINDOW < e ? word_end(text, e, ev[j].end + WINDOW) : e;
        print_context(tc, ev[i].field, text, ws, we, cl || ws > s, cr || we < e, ev + i, j - i + 1);
    }
    if (n_lines > SHOW) printf("      (and %zu more)\n", n_lines - SHOW);
    free(lines);
    free(ev);
}

static int on_fire(void *arg, struct cfg_rule *r, const struct evidence_list *ev)
{
    struct test_ctx *tc = arg;
    tc->fired++;
    if (tc->opt->json) {
        char *doc = alert_to_json("-", r->name, 0, tc->a, ev);
        json_t *parsed = doc ? json_loads(doc, 0, NULL) : NULL;
        free(doc);
        json_t *o = json_pack(
            "{s:s, s:s, s:i, s:o}", "rule", r->name, "file", r->file, "line", r->line, "evidence",
            parsed ? json_incref(json_object_get(parsed, "evidence")) : json_array());
        json_decref(parsed);
        if (o) json_array_append_new(tc->rules_json, o);
        return 0;
    }
    const char *on = tc->opt->color ? "\033[1;32m" : "";
    const char *off = tc->opt->color ? "\033[0m" : "";
    printf("  %sFIRES%s %s  (%s:%d)\n", on, off, r->name, r->file, r->line);
    print_evidence(tc, ev);
    return 0;
}

/* Read `path` as a feed, a page or plain text. Returns 0, or an exit status. */
static int load_doc(const char *path, struct feed **out)
{
    char *data;
    size_t len;
    if (file_read_all(path, 64u << 20, &data, &len) != 0) {
        fprintf(stderr, "herald: %s: %s\n", path, strerror(errno));
        return 66;
    }
    char err[512], terr[256];
    int rc = feed_parse(data, len, NULL, NULL, NULL, out, err, sizeof err);
    if (rc != 0) rc = textdoc_parse(data, len, path, out, terr, sizeof terr);
    free(data);
    if (rc != 0) {
        fprintf(stderr, "herald: %s: not a feed, a web page or text: %s\n", path, err);
        return 65;
    }
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int test_file(struct config *cfg, const struct logger *lg, struct test_ctx *tc,
                     const char *path, json_t *out)
{
    struct feed *f = NULL;
    int rc = load_doc(path, &f);
    if (rc) return rc;
    for (size_t i = 0; i < f->n_items; i++) {
        struct herald_article a;
        article_from_item(&a, base_name(path), NULL, f, &f->items[i]);
        tc->a = &a;
        tc->file = path;
        if (tc->opt->json) {
            tc->rules_json = json_array();
        } else {
            if (f->n_items > 1)
                printf("%s #%zu: %s\n", path, i + 1, a.title ? a.title : "(untitled)");
            else
                printf("%s: %s\n", path, a.title ? a.title : "(untitled)");
        }
        size_t before = tc->fired;
        if (rules_evaluate(cfg, &a, lg, on_fire, tc) < 0) {
            fprintf(stderr, "herald: %s: out of memory\n", path);
            json_decref(tc->rules_json);
            feed_free(f);
            return 70;
        }
        if (tc->opt->json) {
            json_array_append_new(out, json_pack("{s:s, s:I, s:s?, s:s?, s:o}", "file", path,
                                                 "item", (json_int_t)i, "title", a.title, "link",
                                                 a.link, "rules", tc->rules_json));
        } else if (tc->fired == before) {
            printf("  (no rule fires)\n");
        }
    }
    feed_free(f);
    return 0;
}

struct probe {
    const char *rule;
    int fired;
};

static int on_probe(void *arg, struct cfg_rule *r, const struct evidence_list *ev)
{
    struct probe *p = arg;
    (void)ev;
    if (strcmp(r->name, p->rule) == 0) p->fired = 1;
    return 0;
}

/* Does `rule` fire on any article of `path`? 1 yes, 0 no, or an exit status > 1. */
static int fires_on(struct config *cfg, const struct logger *lg, const char *rule, const char *path)
{
    struct feed *f = NULL;
    int rc = load_doc(path, &f);
    if (rc) return rc;
    struct probe p = {.rule = rule};
    for (size_t i = 0; i < f->n_items && !p.fired; i++) {
        struct herald_article a;
        article_from_item(&a, base_name(path), NULL, f, &f->items[i]);
        if (rules_evaluate(cfg, &a, lg, on_probe, &p) < 0) {
            feed_free(f);
            return 70;
        }
    }
    feed_free(f);
    return p.fired;
}

/* One line per expectation; returns the number that failed. */
static size_t check_files(struct config *cfg, const struct logger *lg, const struct cfg_expect *e,
                          char **files, size_t n, int want, size_t *ok)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        int r = fires_on(cfg, lg, e->rule, files[i]);
        if (r == want) {
            printf("ok    %s %s %s\n", e->rule, want ? "fires on" : "stays quiet on", files[i]);
            (*ok)++;
        } else if (r > 1) {
            printf("FAIL  %s: cannot read %s (%s:%d)\n", e->rule, files[i], e->file, e->line);
            failed++;
        } else {
            printf("FAIL  %s should %s %s (%s:%d)\n", e->rule, want ? "fire on" : "stay quiet on",
                   files[i], e->file, e->line);
            failed++;
        }
    }
    return failed;
}

static int run_checks(struct config *cfg, const struct logger *lg, const char *path)
{
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < cfg->n_expects; i++) {
        const struct cfg_expect *e = &cfg->expects[i];
        failed += check_files(cfg, lg, e, e->fires, e->n_fires, 1, &ok);
        failed += check_files(cfg, lg, e, e->not_fires, e->n_not_fires, 0, &ok);
    }
    if (cfg->n_expects == 0) {
        printf("%s declares no herald.expect { rule = …, fires = … } cases\n", path);
        return 0;
    }
    printf("%zu expectations: %zu ok, %zu failed\n", ok + failed, ok, failed);
    return failed ? 1 : 0;
}

int cli_test(const struct cli_test_opts *opt)
{
    struct logger lg;
    log_init(&lg);
    lg.timestamps = 0;
    struct plugin_registry *plugins = herald_load_plugins(&lg);
    char *lib = herald_library_dir();
    char *state = xdg_state_dir();
    struct config_env env = {.plugins = plugins, .library_dir = lib, .state_dir = state};
    struct config *cfg = NULL;
    char err[8192];
    int rc = 0;
    if (config_load(opt->config_path, &env, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        rc = 78;
        goto out;
    }
    if (opt->check) {
        rc = run_checks(cfg, &lg, opt->config_path);
        goto out;
    }
    struct test_ctx tc = {.opt = opt};
    json_t *all = opt->json ? json_array() : NULL;
    for (int i = 0; i < opt->n_files && rc == 0; i++) {
        if (i > 0 && !opt->json) printf("\n");
        rc = test_file(cfg, &lg, &tc, opt->files[i], all);
    }
    if (opt->json && rc == 0) {
        char *s = json_dumps(all, JSON_INDENT(2));
        if (s) printf("%s\n", s);
        free(s);
    }
    json_decref(all);
    if (rc == 0) rc = tc.fired ? 0 : 1;
out:
    config_free(cfg);
    plugin_registry_free(plugins);
    free(lib);
    free(state);
    return rc;
}
