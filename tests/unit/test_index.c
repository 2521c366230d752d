/*
 * test_index — the stored-query index (core/index.c): the candidate list must contain every
 * rule that matches (checked over thousands of generated queries and docs), be sorted and
 * without repeats, and actually leave out rules whose required words are absent.
 */
#include "check.h"
#include "index.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct query_error err;

static struct query *compile(const char *src, const struct concepts *c)
{
    struct query *q = NULL;
    struct query_options opt = {"en", 1};
    if (query_compile(src, c, &opt, &q, &err) < 0) {
        printf("compile failed: %s: col %d %s\n", src, err.col, err.msg);
        return NULL;
    }
    return q;
}

static int contains(const size_t *v, long n, size_t x)
{
    for (long i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static long candidates_for(struct rule_index *ix, const char *title, const char *text,
                           const size_t **out)
{
    struct doc_fields f = {title, text, NULL, NULL, NULL, "en"};
    struct doc *d = doc_new(&f);
    long n = rule_index_candidates(ix, d, out);
    doc_free(d);
    return n;
}

TEST(selects_by_required_words)
{
    struct rule_index *ix = rule_index_new();
    const char *src[] = {"troops AND iraq",   "baghdad",      "NOT syria",   "/sole[a-z]+/",
                         "withdraw* OR exit", "\"pull out\"", "Soleimani~1", "alpha /x/",
                         "alpha OR /x/",      "=Troops"};
    struct query *q[10];
    for (int i = 0; i < 10; i++) {
        q[i] = compile(src[i], NULL);
        CHECK(q[i] != NULL);
        CHECK_INT(rule_index_add(ix, (size_t)(100 - i * 10), q[i]), 0); /* numbers descend */
    }
    CHECK_INT(rule_index_add(ix, 5, NULL), 0); /* a rule without a query */
    const size_t *c;
    long n = candidates_for(ix, NULL, "Nothing relevant here.", &c);
    /* always: NOT syria (80), regex (70), fuzzy (40), alpha OR /x/ (20), no query (5) */
    CHECK_INT(n, 5);
    CHECK_INT(c[0], 5);
    CHECK_INT(c[1], 20);
    CHECK_INT(c[2], 40);
    CHECK_INT(c[3], 70);
    CHECK_INT(c[4], 80);
    n = candidates_for(ix, "Troop moves", "They will pull out of Iraq; withdrawal soon. Alpha.",
                       &c);
    CHECK(contains(c, n, 100)); /* troops AND iraq */
    CHECK(!contains(c, n, 90)); /* baghdad */
    CHECK(contains(c, n, 60));  /* withdraw* */
    CHECK(contains(c, n, 50));  /* "pull out" */
    CHECK(contains(c, n, 30));  /* alpha /x/ */
    CHECK(!contains(c, n, 10)); /* =Troops: exact form absent */
    for (long i = 1; i < n; i++)
        CHECK(c[i - 1] < c[i]);
    n = candidates_for(ix, NULL, "TROOPS", &c);
    CHECK(contains(c, n, 10));
    rule_index_free(ix);
    for (int i = 0; i < 10; i++)
        query_free(q[i]);
}

/* ---- generated queries and docs ---- */

static uint64_t rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const vocab[] = {
    "troop",    "troops",    "Troopers", "withdraw", "withdrawal",    "withdrawing", "Iraq",
    "Iraq's",   "Irák",      "baghdad",  "leave",    "leaving",       "removal",     "remove",
    "Solemani", "Soleimani", "pull",     "out",      "pullout",       "the",         "of",
    "alpha",    "beta",      "ÉCOLE",    "ecole",    "long-standing", "standing",    "6,000",
};
#define NVOCAB (sizeof vocab / sizeof vocab[0])

static void append(char *buf, size_t cap, const char *s)
{
    strncat(buf, s, cap - strlen(buf) - 1);
}

static void gen_leaf(char *buf, size_t cap)
{
    const char *w = vocab[rnd(NVOCAB)];
    switch (rnd(9)) {
    case 0: { /* wildcard on a prefix of an ASCII word */
        char p[32];
        size_t n = strlen(w);
        if (n < 3 || (unsigned char)w[0] >= 0x80 || strchr(w, '\'') || strchr(w, '-') ||
            strchr(w, ',')) {
            append(buf, cap, w);
            return;
        }
        size_t k = 2 + rnd((unsigned)(n - 2));
        snprintf(p, sizeof p, "%.*s*", (int)k, w);
        append(buf, cap, p);
        return;
    }
    case 1:
        append(buf, cap, "\"");
        append(buf, cap, w);
        append(buf, cap, " ");
        append(buf, cap, vocab[rnd(NVOCAB)]);
        append(buf, cap, "\"");
        if (rnd(2)) append(buf, cap, rnd(2) ? "~1" : "~3");
        return;
    case 2:
        append(buf, cap, "=");
        append(buf, cap, w);
        return;
    case 3:
        append(buf, cap, w);
        append(buf, cap, "~1");
        return;
    case 4:
        append(buf, cap, "@w");
        return;
    case 5:
        append(buf, cap, rnd(2) ? "title:" : "text:");
        append(buf, cap, w);
        return;
    case 6:
        append(buf, cap, "/");
        append(buf, cap, rnd(2) ? "tro+p" : "le?ave");
        append(buf, cap, "/i");
        return;
    default:
        append(buf, cap, w);
        return;
    }
}

static void gen_positional(char *buf, size_t cap, int depth)
{
    if (depth <= 0 || rnd(3)) {
        for (;;) { /* regexes are not positional */
            size_t mark = strlen(buf);
            gen_leaf(buf, cap);
            if (buf[mark] != '/') return;
            buf[mark] = '\0';
        }
    }
    append(buf, cap, "(");
    gen_positional(buf, cap, depth - 1);
    append(buf, cap, rnd(2) ? " OR " : " NEAR/2 ");
    gen_positional(buf, cap, depth - 1);
    append(buf, cap, ")");
}

static void gen_query(char *buf, size_t cap, int depth)
{
    if (depth <= 0) {
        gen_leaf(buf, cap);
        return;
    }
    switch (rnd(6)) {
    case 0:
    case 1:
        append(buf, cap, "(");
        gen_query(buf, cap, depth - 1);
        append(buf, cap, rnd(2) ? " AND " : " ");
        gen_query(buf, cap, depth - 1);
        append(buf, cap, ")");
        return;
    case 2:
        append(buf, cap, "(");
        gen_query(buf, cap, depth - 1);
        append(buf, cap, " OR ");
        gen_query(buf, cap, depth - 1);
        append(buf, cap, ")");
        return;
    case 3:
        append(buf, cap, "NOT ");
        gen_query(buf, cap, depth - 1);
        return;
    case 4: {
        char n[16];
        snprintf(n, sizeof n, " NEAR/%u ", 1 + rnd(4));
        gen_positional(buf, cap, depth - 1);
        append(buf, cap, n);
        gen_positional(buf, cap, depth - 1);
        return;
    }
    default:
        gen_leaf(buf, cap);
        return;
    }
}

static void gen_text(char *buf, size_t cap, unsigned words)
{
    buf[0] = '\0';
    for (unsigned i = 0; i < words; i++) {
        if (i) append(buf, cap, rnd(5) ? " " : ", ");
        append(buf, cap, vocab[rnd(NVOCAB)]);
    }
}

TEST(candidates_contain_every_match)
{
    enum { NQ = 600, ND = 400 };
    struct concepts *c = concepts_new();
    const char *forms[] = {"withdraw*", "pull out", "removal", "leave"};
    CHECK_INT(concepts_add(c, "w", forms, 4, &err), 0);
    struct rule_index *ix = rule_index_new();
    struct query **q = calloc(NQ, sizeof *q);
    CHECK(ix && q);
    for (int i = 0; i < NQ; i++) {
        char src[1024] = "";
        gen_query(src, sizeof src, 1 + (int)rnd(3));
        q[i] = compile(src, c);
        CHECK(q[i] != NULL);
        CHECK_INT(rule_index_add(ix, (size_t)i, q[i]), 0);
    }
    long total_cand = 0, total_match = 0;
    for (int d = 0; d < ND; d++) {
        char title[256], text[2048];
        gen_text(title, sizeof title, 1 + rnd(4));
        gen_text(text, sizeof text, 3 + rnd(30));
        struct doc_fields f = {title, text, NULL, NULL, NULL, "en"};
        struct doc *doc = doc_new(&f);
        CHECK(doc != NULL);
        const size_t *cand;
        long n = rule_index_candidates(ix, doc, &cand);
        CHECK(n >= 0);
        for (long k = 1; k < n; k++)
            CHECK(cand[k - 1] < cand[k]);
        total_cand += n;
        for (int i = 0; i < NQ; i++) {
            int r = query_match(q[i], doc, NULL);
            CHECK(r >= 0);
            if (!r) continue;
            total_match++;
            if (!contains(cand, n, (size_t)i)) {
                printf("missed rule %d: %s\n  title: %s\n  text: %s\n", i, query_source(q[i]),
                       title, text);
                CHECK(!"candidate list missed a matching rule");
            }
        }
        doc_free(doc);
    }
    /* the index must leave a good part of the rules out on these small docs */
    CHECK(total_cand < (long)NQ * ND * 9 / 10);
    CHECK(total_match > 0);
    printf("  index: %ld candidates for %ld matches over %d docs x %d rules\n", total_cand,
           total_match, ND, NQ);
    rule_index_free(ix);
    for (int i = 0; i < NQ; i++)
        query_free(q[i]);
    free(q);
    concepts_free(c);
}

TEST(other_languages_and_many_rules)
{
    struct rule_index *ix = rule_index_new();
    struct query *de = NULL, *en = NULL;
    struct query_options o_de = {"de", 1}, o_en = {"en", 1};
    CHECK_INT(query_compile("Truppen", NULL, &o_de, &de, &err), 0);
    CHECK_INT(query_compile("troops", NULL, &o_en, &en, &err), 0);
    CHECK_INT(rule_index_add(ix, 1, de), 0);
    CHECK_INT(rule_index_add(ix, 2, en), 0);
    const size_t *c;
    long n = candidates_for(ix, NULL, "Die Truppe zieht ab", &c);
    CHECK_INT(n, 1);
    CHECK_INT(c[0], 1);
    n = candidates_for(ix, NULL, "one troop", &c);
    CHECK_INT(n, 1);
    CHECK_INT(c[0], 2);
    /* the same rule number twice is reported once */
    CHECK_INT(rule_index_add(ix, 2, en), 0);
    n = candidates_for(ix, NULL, "troop", &c);
    CHECK_INT(n, 1);
    rule_index_free(ix);
    query_free(de);
    query_free(en);
}

int main(void)
{
    RUN(selects_by_required_words);
    RUN(candidates_contain_every_match);
    RUN(other_languages_and_many_rules);
    return check_summary();
}
