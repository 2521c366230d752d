/*
 * match_driver — the herald side of bench/match: loads one generated rule file with
 * config_load (queries compiled, rule index built), reads the corpus (JSON Lines with
 * "title" and "text") into memory, then runs rules_evaluate on every article exactly as
 * the daemon's pipeline does, counting the rules that fire. Timing of the loop covers
 * tokenising, stemming, index lookup, query matching with evidence and Lua `match`
 * functions; loading the config and building the index are timed apart.
 * Output, one line on stdout:
 *   "rules=R articles=A bytes=B seconds=S mbps=M matches=N matched_articles=K
 *    load_seconds=L index_seconds=I tokenize_seconds=T corpus_rss_kb=C peak_rss_kb=P
 *    index_checked=X index_misses=Y"
 * Usage: match_driver [-l LIBDIR] [-p PLUGINDIR] [-t] [-c STEP] [-H FILE] CONFIG CORPUS...
 *   -t       also time doc_new alone over the corpus (the tokenising + stemming share).
 *   -c STEP  check the index on every STEP-th article: evaluate every rule's query without
 *            it and count the matches its candidate list would have missed (must be 0).
 *   -H FILE  write "rule hits" lines (to compare two builds of the engine).
 */
#include "config.h"
#include "evaluate.h"
#include "index.h"
#include "log.h"
#include "match.h"
#include "plugin.h"
#include "query_impl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct article {
    char *title;
    char *text;
};

struct corpus {
    struct article *v;
    size_t n, cap;
    size_t bytes; /* title + text */
};

struct counts {
    unsigned long matches;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident set of this process in KiB. VmHWM first: getrusage's ru_maxrss survives
 * execve, so under a big parent (the Python script) it would report the parent's peak. */
static long peak_rss_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    if (fp) fclose(fp);
    if (kb >= 0) return kb;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

static char *dup_field(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return strdup(s ? s : "");
}

static int corpus_add(struct corpus *c, json_t *obj)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct article *v = realloc(c->v, cap * sizeof *v);
        if (!v) return -1;
        c->v = v;
        c->cap = cap;
    }
    struct article *a = &c->v[c->n];
    a->title = dup_field(obj, "title");
    a->text = dup_field(obj, "text");
    if (!a->title || !a->text) {
        free(a->title);
        free(a->text);
        return -1;
    }
    c->bytes += strlen(a->title) + strlen(a->text);
    c->n++;
    return 0;
}

/* Read one JSON Lines file; lines that are not JSON objects are skipped. */
static int corpus_read(struct corpus *c, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "match_driver: %s: cannot open\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, fp)) > 0) {
        json_error_t je;
        json_t *obj = json_loadb(line, (size_t)len, 0, &je);
        if (!obj) continue;
        if (json_is_object(obj) && corpus_add(c, obj) != 0) rc = -1;
        json_decref(obj);
        if (rc) break;
    }
    free(line);
    fclose(fp);
    return rc;
}

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].title);
        free(c->v[i].text);
    }
    free(c->v);
}

static int on_fire(void *arg, struct cfg_rule *rule, const struct evidence_list *ev)
{
    struct counts *k = arg;
    k->matches++;
    return 0;
}

static void article_of(const struct article *src, const char *id, struct herald_article *a)
{
    memset(a, 0, sizeof *a);
    a->struct_size = sizeof *a;
    a->id = id;
    a->source = "corpus";
    a->title = src->title;
    a->text = src->text;
    a->published = -1;
    a->lang = "en";
}

/* Seconds to build the config's index again from its compiled queries. */
static double time_index(const struct config *cfg)
{
    double t0 = now();
    struct rule_index *ix = rule_index_new();
    for (size_t i = 0; ix && i < cfg->n_rules; i++)
        if (rule_index_add(ix, i, cfg->rules[i].query) != 0) break;
    double t = now() - t0;
    rule_index_free(ix);
    return t;
}

/* Seconds to tokenise and stem (in English, through a stem cache as the index does) every
 * article, with no rule involved. */
static double time_tokenize(const struct corpus *c)
{
    struct stem_cache *sc = stem_cache_new("en");
    double t0 = now();
    for (size_t i = 0; sc && i < c->n; i++) {
        struct doc_fields f = {.title = c->v[i].title, .text = c->v[i].text, .lang = "en"};
        struct doc *d = doc_new(&f);
        if (!d || !doc_stems_cached(d, sc)) fprintf(stderr, "match_driver: out of memory\n");
        doc_free(d);
    }
    double t = now() - t0;
    stem_cache_free(sc);
    return t;
}

/* Articles checked and rule matches the index missed, on every step-th article. */
static void check_index(const struct config *cfg, const struct corpus *c, size_t step,
                        unsigned long *checked, unsigned long *misses)
{
    char *cand = calloc(cfg->n_rules + 1, 1);
    for (size_t i = 0; cand && i < c->n; i += step) {
        struct doc_fields f = {.title = c->v[i].title, .text = c->v[i].text, .lang = "en"};
        struct doc *d = doc_new(&f);
        const size_t *v;
        long n = d ? rule_index_candidates(cfg->index, d, &v) : -1;
        for (long k = 0; k < n; k++)
            cand[v[k]] = 1;
        for (size_t r = 0; n >= 0 && r < cfg->n_rules; r++) {
            const struct query *q = cfg->rules[r].query;
            if (q && !cand[r] && query_match(q, d, NULL) == 1) (*misses)++;
        }
        memset(cand, 0, cfg->n_rules);
        doc_free(d);
        (*checked)++;
    }
    free(cand);
}

static void usage(void)
{
    fprintf(stderr, "usage: match_driver [-l LIBDIR] [-p PLUGINDIR] [-t] [-c STEP] [-H FILE] "
                    "CONFIG CORPUS.jsonl...\n");
}

int main(int argc, char **argv)
{
    const char *libdir = NULL, *plugdir = "", *hits_path = NULL;
    int tokenize = 0, opt;
    long check_step = 0;
    while ((opt = getopt(argc, argv, "l:p:tc:H:")) != -1) {
        if (opt == 'l')
            libdir = optarg;
        else if (opt == 'p')
            plugdir = optarg;
        else if (opt == 't')
            tokenize = 1;
        else if (opt == 'H')
            hits_path = optarg;
        else if (opt == 'c')
            check_step = strtol(optarg, NULL, 10);
        else
            return usage(), 2;
    }
    if (argc - optind < 2) return usage(), 2;
    struct corpus c = {0};
    for (int i = optind + 1; i < argc; i++)
        if (corpus_read(&c, argv[i]) != 0) return 1;
    long corpus_rss = peak_rss_kb();

    struct logger lg;
    log_init(&lg);
    lg.level = HERALD_LOG_ERROR; /* a generated match function failing is counted, not shown */
    struct plugin_registry *plugins = plugin_registry_load(plugdir, NULL, NULL);
    struct config_env env = {.plugins = plugins, .library_dir = libdir};
    struct config *cfg = NULL;
    char err[4096];
    double t0 = now();
    if (!plugins || config_load(argv[optind], &env, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "match_driver: %s\n", plugins ? err : "out of memory");
        plugin_registry_free(plugins);
        corpus_free(&c);
        return 1;
    }
    double load_s = now() - t0;
    double index_s = time_index(cfg);
    double tok_s = tokenize ? time_tokenize(&c) : 0;
    unsigned long checked = 0, misses = 0;
    if (check_step > 0) check_index(cfg, &c, (size_t)check_step, &checked, &misses);

    struct counts k = {0};
    unsigned long matched_articles = 0;
    int failed = 0;
    t0 = now();
    for (size_t i = 0; i < c.n; i++) {
        struct herald_article a;
        char id[32];
        snprintf(id, sizeof id, "%zu", i);
        article_of(&c.v[i], id, &a);
        int n = rules_evaluate(cfg, &a, &lg, on_fire, &k);
        if (n < 0) {
            failed = 1;
            break;
        }
        if (n > 0) matched_articles++;
    }
    double secs = now() - t0;
    unsigned long disabled = 0;
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (cfg->rules[i].disabled) disabled++;
    printf("rules=%zu articles=%zu bytes=%zu seconds=%.4f mbps=%.3f matches=%lu "
           "matched_articles=%lu disabled_rules=%lu load_seconds=%.4f index_seconds=%.4f "
           "tokenize_seconds=%.4f corpus_rss_kb=%ld peak_rss_kb=%ld index_checked=%lu "
           "index_misses=%lu\n",
           cfg->n_rules, c.n, c.bytes, secs, secs > 0 ? (double)c.bytes / 1e6 / secs : 0, k.matches,
           matched_articles, disabled, load_s, index_s, tok_s, corpus_rss, peak_rss_kb(), checked,
           misses);
    FILE *hf = hits_path ? fopen(hits_path, "w") : NULL;
    for (size_t i = 0; hf && i < cfg->n_rules; i++)
        fprintf(hf, "%s %lu\n", cfg->rules[i].name, cfg->rules[i].hits);
    if (hf) fclose(hf);
    if (hits_path && !hf) fprintf(stderr, "match_driver: %s: cannot write\n", hits_path);
    config_free(cfg);
    plugin_registry_free(plugins);
    corpus_free(&c);
    if (failed) fprintf(stderr, "match_driver: rules_evaluate failed (out of memory)\n");
    return failed;
}
