/* Unit tests for core/prematch.c and the split rule evaluation (evaluate.c): the hits the
 * pool computes for a feed fire exactly the rules, with exactly the evidence, that
 * rules_evaluate finds on the loop; they are refused for another config; and several
 * threads may compute them at once over one config (each with a scratch of its own). */
#include "check.h"
#include "config.h"
#include "evaluate.h"
#include "feed.h"
#include "prematch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static const char *FEED =
    "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>"
    "<item><guid>a</guid><title>Iraq asks US troops to leave</title>"
    "<description>Lawmakers voted for the removal of all US troops.</description></item>"
    "<item><guid>b</guid><title>Floods in the north</title>"
    "<description>Rivers burst their banks after a week of rain.</description></item>"
    "<item><guid>c</guid><title>General Solemani killed</title>"
    "<description>Qassem Soleimani was killed in a strike near Baghdad.</description></item>"
    "<item><title>no guid: an id is derived</title></item>"
    "</channel></rss>";

static const char *RULES =
    "herald.rule 'iraq' { query = '(troop* NEAR/8 (leave OR removal)) AND Iraq' }\n"
    "herald.rule 'general' { query = 'Soleimani~1', match = function(a) return a:has('kill*') end "
    "}\n"
    "herald.rule 'everything' { match = function(a) return a.title:find('Floods') ~= nil end }\n";

static struct config *load(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/herald.lua", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(RULES, f);
    fclose(f);
    struct config_env env = {.library_dir = "scripts/lib", .state_dir = dir};
    struct config *cfg = NULL;
    char err[1024];
    if (config_load(path, &env, &cfg, err, sizeof err) != 0) printf("# %s\n", err);
    return cfg;
}

static struct feed *parse(void)
{
    struct feed *f = NULL;
    char err[256];
    if (feed_parse(FEED, strlen(FEED), NULL, NULL, NULL, &f, err, sizeof err) != 0) return NULL;
    return f;
}

/* What fired for one item: "rule:field:start-end,…;" per rule, in order. */
struct fired {
    char s[1024];
};

static int record(void *arg, struct cfg_rule *r, const struct evidence_list *ev)
{
    struct fired *out = arg;
    size_t n = strlen(out->s);
    n += (size_t)snprintf(out->s + n, sizeof out->s - n, "%s", r->name);
    for (size_t i = 0; i < ev->n && n < sizeof out->s; i++)
        n += (size_t)snprintf(out->s + n, sizeof out->s - n, ":%s:%zu-%zu", ev->v[i].field,
                              ev->v[i].start, ev->v[i].end);
    if (n < sizeof out->s) snprintf(out->s + n, sizeof out->s - n, ";");
    return 0;
}

TEST(pool_hits_fire_what_the_loop_finds)
{
    struct config *cfg = load();
    struct feed *f = parse();
    CHECK(cfg && f);
    if (!cfg || !f) return;
    CHECK_INT((int)f->n_items, 4);
    struct prematch pm;
    CHECK_INT(prematch_feed(cfg, "wire", NULL, f, NULL, &pm), 0);
    struct logger lg;
    log_init(&lg);
    int any = 0;
    for (size_t i = 0; i < f->n_items; i++) {
        struct herald_article a;
        article_from_item(&a, "wire", NULL, f, &f->items[i]);
        struct fired loop = {""}, pool = {""};
        int n1 = rules_evaluate(cfg, &a, &lg, record, &loop);
        const struct rule_hit *hits = NULL;
        size_t nh = 0;
        CHECK(prematch_item(&pm, cfg, f->n_items, i, &hits, &nh));
        int n2 = rules_fire(cfg, &a, NULL, hits, nh, &pm.hits.ev, &lg, record, &pool);
        CHECK_INT(n2, n1);
        CHECK_STR(pool.s, loop.s);
        any += n1;
    }
    CHECK_INT(any, 3); /* iraq on a, everything on b, general on c */
    /* The query-less rule is a hit on every item (its Lua decides, on the loop). */
    CHECK_INT((int)pm.count[1], 1);
    CHECK_INT((int)pm.count[3], 1);
    /* Another config (a reload) or another feed: the hits do not apply. */
    const struct rule_hit *hits = NULL;
    size_t nh = 0;
    struct config *other = load();
    CHECK(!prematch_item(&pm, other, f->n_items, 0, &hits, &nh));
    CHECK(!prematch_item(&pm, cfg, f->n_items + 1, 0, &hits, &nh));
    CHECK(!prematch_item(NULL, cfg, f->n_items, 0, &hits, &nh));
    config_free(other);
    prematch_free(&pm);
    feed_free(f);
    config_free(cfg);
}

/* Items the source's last poll processed are not tokenised again on the pool; the loop
 * evaluates them itself should the store still call one new. */
TEST(items_of_the_last_poll_are_skipped)
{
    struct config *cfg = load();
    struct feed *f = parse();
    CHECK(cfg && f);
    if (!cfg || !f) return;
    struct prematch_hint hint = {0};
    prematch_hint_set(&hint, f);
    CHECK_INT((int)hint.n, 4);
    f->items[2].id = "c-new"; /* a story the last poll did not have */
    struct prematch pm;
    CHECK_INT(prematch_feed(cfg, "wire", NULL, f, &hint, &pm), 0);
    const struct rule_hit *hits = NULL;
    size_t nh = 0;
    CHECK(!prematch_item(&pm, cfg, f->n_items, 0, &hits, &nh));
    CHECK(!prematch_item(&pm, cfg, f->n_items, 3, &hits, &nh));
    CHECK(prematch_item(&pm, cfg, f->n_items, 2, &hits, &nh));
    CHECK_INT((int)nh, 2); /* general's query and the query-less rule */
    struct prematch_hint copy;
    prematch_hint_copy(&hint, &copy);
    CHECK_INT((int)copy.n, 4);
    prematch_hint_free(&copy);
    prematch_hint_free(&hint);
    prematch_free(&pm);
    feed_free(f);
    config_free(cfg);
}

struct worker {
    struct config *cfg;
    struct feed *f;
    size_t hits;
    int rc;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int round = 0; round < 200 && w->rc == 0; round++) {
        struct prematch pm;
        w->rc = prematch_feed(w->cfg, "wire", NULL, w->f, NULL, &pm);
        w->hits += pm.hits.n;
        prematch_free(&pm);
    }
    return NULL;
}

TEST(threads_share_one_config)
{
    struct config *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) return;
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){cfg, parse(), 0, 0};
        CHECK(w[i].f != NULL);
        if (!w[i].f) return;
    }
    int started[4];
    for (int i = 0; i < 4; i++)
        started[i] = pthread_create(&t[i], NULL, work, &w[i]) == 0;
    /* Every thread is joined before any check can end the test. */
    for (int i = 0; i < 4; i++)
        if (started[i]) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(started[i]);
        CHECK_INT(w[i].rc, 0);
        /* per feed: iraq (a), general (c: its query; the Lua part is the loop's), and the
         * query-less rule on each of the four items (the last one gets a derived id) */
        CHECK_INT((int)w[i].hits, 200 * 6);
        feed_free(w[i].f);
    }
    config_free(cfg);
}

TEST(held_config_outlives_free)
{
    struct config *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) return;
    config_hold(cfg);
    config_free(cfg); /* deferred: a parse job still reads its rules */
    CHECK_INT(cfg->doomed, 1);
    CHECK_INT((int)cfg->n_rules, 3);
    config_release(cfg); /* freed here; ASan and valgrind would flag a leak otherwise */
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herald-test-prematch-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(pool_hits_fire_what_the_loop_finds);
    RUN(items_of_the_last_poll_are_skipped);
    RUN(threads_share_one_config);
    RUN(held_config_outlives_free);
    char path[600];
    snprintf(path, sizeof path, "%s/herald.lua", dir);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
