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
    /* always: NOT syria (80), regex (70), alpha OR /x/ (20), no query (5); the fuzzy rule
     * (40) is keyed by "soleimani" less up to one character, and no word here is near it */
    CHECK_INT(n, 4);
    CHECK_INT(c[0], 5);
    CHECK_INT(c[1], 20);
    CHECK_INT(c[2], 70);
    CHECK_INT(c[3], 80);
    n = candidates_for(ix, NULL, "General Solemani was killed.", &c);
    CHECK(contains(c, n, 40)); /* one deletion from "soleimani" */
    CHECK(!contains(c, n, 90));
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

/* ---- fuzzy words ---- */

/* Words to make fuzzy queries and near-miss doc words from: names, short words (fuzzy is
 * ignored below 4 characters), accents, case, characters whose folded form is longer
 * (ß -> ss, the ligature ﬁ -> fi), Cyrillic, Greek and a separator (a phrase of fuzzy
 * words). */
static const char *const fvocab[] = {
    "Soleimani", "Solemani",  "Suleimani",  "Muhandis", "al-Muhandis", "Baghdad", "Bagdad",
    "Iraq",      "Irak",      "Irk",        "out",      "pull",        "Zürich",  "ZURICH",
    "Straße",    "strasse",   "ﬁnance",     "Москва",   "Moskva",      "Αθήνα",   "Athina",
    "troops",    "tropes",    "withdrawal", "abcd",     "abcde",       "ÉCOLE",   "ecoles",
    "Kataib",    "Hezbollah", "Hizballah",  "naïve",    "naive",       "Ab",      "Øresund",
};
#define NFVOCAB (sizeof fvocab / sizeof fvocab[0])

/* Characters the mutations insert or substitute (each one UTF-8 character). */
static const char *const fchars[] = {"a", "e", "i", "o", "u", "s", "h", "x", "E", "é",
                                     "ü", "ß", "ø", "я", "Σ", "ı", "k", "M", "n", "-"};
#define NFCHARS (sizeof fchars / sizeof fchars[0])

/* Split UTF-8 s into characters (start offsets in at[], count returned; at[n] = end). */
static int split_chars(const char *s, size_t *at, int cap)
{
    int n = 0;
    size_t i = 0, len = strlen(s);
    while (i < len && n < cap) {
        at[n++] = i;
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    at[n] = i;
    return n;
}

/* Append to buf a copy of word w with `edits` random character edits (insert, delete,
 * substitute, swap two neighbours) at random places, ends included. */
static void mutate(char *buf, size_t cap, const char *w, unsigned edits)
{
    char cur[256], next[256];
    snprintf(cur, sizeof cur, "%s", w);
    for (unsigned e = 0; e < edits; e++) {
        size_t at[128];
        int n = split_chars(cur, at, 120);
        unsigned op = rnd(4), i = rnd((unsigned)n + 1);
        const char *c = fchars[rnd(NFCHARS)];
        next[0] = '\0';
        for (int k = 0; k <= n; k++) {
            int here = (int)i == k;
            if (here && op == 0) append(next, sizeof next, c); /* insert before k */
            if (k == n) break;
            char one[8];
            snprintf(one, sizeof one, "%.*s", (int)(at[k + 1] - at[k]), cur + at[k]);
            if (here && op == 1) continue; /* delete k */
            if (here && op == 2) {         /* substitute k */
                append(next, sizeof next, c);
                continue;
            }
            if (here && op == 3 && k + 1 < n) { /* swap k and k + 1 */
                char two[8];
                snprintf(two, sizeof two, "%.*s", (int)(at[k + 2] - at[k + 1]), cur + at[k + 1]);
                append(next, sizeof next, two);
                append(next, sizeof next, one);
                k++;
                continue;
            }
            append(next, sizeof next, one);
        }
        if (next[0]) snprintf(cur, sizeof cur, "%s", next);
    }
    append(buf, cap, cur);
}

static void gen_fuzzy_leaf(char *buf, size_t cap)
{
    static const char *const dists[] = {"~1", "~2", "~", "~0", "~2", "~1"};
    const char *w = fvocab[rnd(NFVOCAB)];
    if (rnd(8) == 0) { /* now and then a plain word, so fuzzy shares rules with others */
        append(buf, cap, w);
        return;
    }
    if (rnd(6) == 0) { /* or a mutated word: queries with typos too */
        mutate(buf, cap, w, 1);
    } else {
        append(buf, cap, w);
    }
    append(buf, cap, dists[rnd(sizeof dists / sizeof dists[0])]);
}

static void gen_fuzzy_query(char *buf, size_t cap, int depth)
{
    if (depth <= 0) {
        gen_fuzzy_leaf(buf, cap);
        return;
    }
    static const char *const ops[] = {" OR ", " AND ", " ", " NEAR/3 "};
    const char *op = ops[rnd(4)];
    append(buf, cap, "(");
    gen_fuzzy_query(buf, cap, op[1] == 'N' ? 0 : depth - 1);
    append(buf, cap, op);
    gen_fuzzy_query(buf, cap, op[1] == 'N' ? 0 : depth - 1);
    append(buf, cap, ")");
}

static void gen_fuzzy_text(char *buf, size_t cap, unsigned words)
{
    buf[0] = '\0';
    for (unsigned i = 0; i < words; i++) {
        if (i) append(buf, cap, rnd(5) ? " " : ", ");
        const char *w = fvocab[rnd(NFVOCAB)];
        unsigned r = rnd(10);
        mutate(buf, cap, w, r < 3 ? 0 : r < 6 ? 1 : r < 9 ? 2 : 3);
    }
}

TEST(fuzzy_candidates_contain_every_match)
{
    enum { NQ = 500, ND = 500 };
    struct concepts *c = concepts_new();
    const char *forms[] = {"Soleimani~1", "Muhandis~2", "Irak~1", "out~1"};
    CHECK_INT(concepts_add(c, "w", forms, 4, &err), 0);
    struct rule_index *ix = rule_index_new();
    struct query **q = calloc(NQ, sizeof *q);
    CHECK(ix && q);
    for (int i = 0; i < NQ; i++) {
        char src[1024] = "";
        if (i % 10 == 9)
            append(src, sizeof src, "@w");
        else
            gen_fuzzy_query(src, sizeof src, (int)rnd(3));
        q[i] = compile(src, c);
        CHECK(q[i] != NULL);
        CHECK_INT(rule_index_add(ix, (size_t)i, q[i]), 0);
    }
    long total_cand = 0, total_match = 0;
    for (int d = 0; d < ND; d++) {
        char title[512], text[4096];
        gen_fuzzy_text(title, sizeof title, 1 + rnd(3));
        gen_fuzzy_text(text, sizeof text, 1 + rnd(12));
        struct doc_fields f = {title, text, NULL, NULL, NULL, "en"};
        struct doc *doc = doc_new(&f);
        CHECK(doc != NULL);
        const size_t *cand;
        long n = rule_index_candidates(ix, doc, &cand);
        CHECK(n >= 0);
        total_cand += n;
        for (int i = 0; i < NQ; i++) {
            int r = query_match(q[i], doc, NULL);
            CHECK(r >= 0);
            if (!r) continue;
            total_match++;
            if (!contains(cand, n, (size_t)i)) {
                printf("missed rule %d: %s\n  title: %s\n  text: %s\n", i, query_source(q[i]),
                       title, text);
                CHECK(!"candidate list missed a matching fuzzy rule");
            }
        }
        doc_free(doc);
    }
    /* fuzzy rules are keyed now: most are left out of each small doc */
    CHECK(total_cand < (long)NQ * ND / 2);
    CHECK(total_match > 0);
    printf("  fuzzy index: %ld candidates for %ld matches over %d docs x %d rules\n", total_cand,
           total_match, ND, NQ);
    rule_index_free(ix);
    for (int i = 0; i < NQ; i++)
        query_free(q[i]);
    free(q);
    concepts_free(c);
}

/* Each kind of edit at each end and across the middle, at distance 1 and 2. */
TEST(fuzzy_edits_everywhere)
{
    static const struct {
        const char *query, *word;
        int match;
    } cases[] = {
        {"Soleimani~1", "xsoleimani", 1}, /* insertion before the first piece */
        {"Soleimani~1", "soleimanix", 1}, /* after the last */
        {"Soleimani~1", "osleimani", 1},  /* swap at the start */
        {"Soleimani~1", "soleimain", 1},  /* swap at the end */
        {"Soleimani~1", "soliemani", 1},  /* swap in the middle */
        {"Soleimani~1", "soleamani", 1},  /* substitution in the middle */
        {"Soleimani~1", "SOLEIMANÍ", 1},  /* case and accents fold away */
        {"Soleimani~1", "solimanu", 0},   /* two edits */
        {"Soleimani~2", "solimanu", 1},
        {"Soleimani~2", "xsoleimanix", 1},
        {"Soleimani~2", "osleimain", 1},  /* a swap at each end */
        {"Soleimani~2", "xsoleimanx", 1}, /* an insertion and a substitution */
        {"Soleimani~2", "olemanix", 0},
        {"Muhandis~2", "muhandis", 1},
        {"Muhandis~2", "mhuandsi", 1},
        {"Москва~1", "москвы", 1},
        {"Москва~1", "мосвка", 1},
        {"Straße~1", "strase", 1}, /* ß folds to ss */
        {"Irak~2", "ir", 1},       /* two deletions leave "ir" on the query side */
        {"Irk~1", "irak", 0},      /* under four characters fuzzy is ignored */
        {"Irk~1", "IRK", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query *q = compile(cases[i].query, NULL);
        CHECK(q != NULL);
        struct rule_index *ix = rule_index_new();
        CHECK_INT(rule_index_add(ix, 7, q), 0);
        char text[128];
        snprintf(text, sizeof text, "before %s after", cases[i].word);
        struct doc_fields f = {NULL, text, NULL, NULL, NULL, "en"};
        struct doc *d = doc_new(&f);
        const size_t *c;
        long n = rule_index_candidates(ix, d, &c);
        int r = query_match(q, d, NULL);
        if (r != cases[i].match || (r && n != 1))
            printf("  %s on \"%s\": match %d, %ld candidates\n", cases[i].query, cases[i].word, r,
                   n);
        CHECK_INT(r, cases[i].match);
        if (r) CHECK_INT(n, 1);
        doc_free(d);
        rule_index_free(ix);
        query_free(q);
    }
    /* keyed: an unrelated doc leaves every one of them out */
    const char *keyed[] = {"Soleimani~1", "Soleimani~2", "Muhandis~2", "Москва~1", "Straße~1"};
    struct rule_index *ix = rule_index_new();
    struct query *q[5];
    for (int i = 0; i < 5; i++) {
        q[i] = compile(keyed[i], NULL);
        CHECK(q[i] != NULL);
        CHECK_INT(rule_index_add(ix, (size_t)i, q[i]), 0);
    }
    const size_t *c;
    CHECK_INT(candidates_for(ix, "Markets", "Shares rose on Monday.", &c), 0);
    rule_index_free(ix);
    for (int i = 0; i < 5; i++)
        query_free(q[i]);
}

/* ---- phrases: keyed by pairs of neighbouring stems ---- */

static const char *const pvocab[] = {"troops", "troop", "Troopers", "pull",    "pulled",
                                     "pulls",  "out",   "the",      "of",      "Iraq's",
                                     "U.S.",   "ÉCOLE", "ecole",    "leaving", "leave"};
#define NPVOCAB (sizeof pvocab / sizeof pvocab[0])

static void gen_phrase(char *buf, size_t cap)
{
    static const char *const pre[] = {"", "", "=", "title:", "text:"};
    static const char *const post[] = {"", "", "", "~1", "~2"};
    unsigned n = 2 + rnd(3);
    append(buf, cap, pre[rnd(5)]);
    append(buf, cap, "\"");
    for (unsigned i = 0; i < n; i++) {
        if (i) append(buf, cap, " ");
        const char *w = pvocab[rnd(NPVOCAB)];
        append(buf, cap, w);
        /* now and then a wildcard on an ASCII word (words inside quotes may end with *) */
        if (rnd(8) == 0 && (unsigned char)w[0] < 0x80 && strlen(w) >= 3 && !strchr(w, '\'') &&
            !strchr(w, '.'))
            append(buf, cap, "*");
    }
    append(buf, cap, "\"");
    append(buf, cap, post[rnd(5)]);
}

static void gen_phrase_query(char *buf, size_t cap)
{
    switch (rnd(6)) {
    case 0:
        gen_phrase(buf, cap);
        append(buf, cap, " OR ");
        gen_phrase(buf, cap);
        return;
    case 1:
        gen_phrase(buf, cap);
        append(buf, cap, " NEAR/3 ");
        gen_phrase(buf, cap);
        return;
    case 2:
        gen_phrase(buf, cap);
        append(buf, cap, rnd(2) ? " AND " : " AND NOT ");
        append(buf, cap, pvocab[rnd(NPVOCAB)]);
        return;
    case 3:
        append(buf, cap, "@p");
        return;
    case 4: /* an unquoted term with separators is a phrase too */
        append(buf, cap, rnd(2) ? "pull-out" : "U.S.-troops");
        return;
    default:
        gen_phrase(buf, cap);
        return;
    }
}

TEST(phrase_pairs_contain_every_match)
{
    enum { NQ = 400, ND = 600 };
    struct concepts *c = concepts_new();
    const char *forms[] = {"pull out", "\"the troops\"", "leave", "U.S. troops"};
    CHECK_INT(concepts_add(c, "p", forms, 4, &err), 0);
    struct rule_index *ix = rule_index_new();
    struct query **q = calloc(NQ, sizeof *q);
    CHECK(ix && q);
    for (int i = 0; i < NQ; i++) {
        char src[1024] = "";
        gen_phrase_query(src, sizeof src);
        q[i] = compile(src, c);
        CHECK(q[i] != NULL);
        CHECK_INT(rule_index_add(ix, (size_t)i, q[i]), 0);
    }
    long total_cand = 0, total_match = 0;
    for (int d = 0; d < ND; d++) {
        char title[256] = "", text[1024] = "";
        unsigned nt = 1 + rnd(4), nx = 2 + rnd(14);
        for (unsigned i = 0; i < nt; i++) {
            if (i) append(title, sizeof title, " ");
            append(title, sizeof title, pvocab[rnd(NPVOCAB)]);
        }
        for (unsigned i = 0; i < nx; i++) {
            if (i) append(text, sizeof text, rnd(6) ? " " : ". ");
            append(text, sizeof text, pvocab[rnd(NPVOCAB)]);
        }
        struct doc_fields f = {title, text, NULL, NULL, NULL, "en"};
        struct doc *doc = doc_new(&f);
        CHECK(doc != NULL);
        const size_t *cand;
        long n = rule_index_candidates(ix, doc, &cand);
        CHECK(n >= 0);
        total_cand += n;
        for (int i = 0; i < NQ; i++) {
            int r = query_match(q[i], doc, NULL);
            CHECK(r >= 0);
            if (!r) continue;
            total_match++;
            if (!contains(cand, n, (size_t)i)) {
                printf("missed rule %d: %s\n  title: %s\n  text: %s\n", i, query_source(q[i]),
                       title, text);
                CHECK(!"candidate list missed a matching phrase rule");
            }
        }
        doc_free(doc);
    }
    CHECK(total_cand < (long)NQ * ND * 3 / 4);
    CHECK(total_match > 0);
    printf("  phrase index: %ld candidates for %ld matches over %d docs x %d rules\n", total_cand,
           total_match, ND, NQ);
    rule_index_free(ix);
    for (int i = 0; i < NQ; i++)
        query_free(q[i]);
    free(q);
    concepts_free(c);
}

TEST(phrase_needs_its_words_side_by_side)
{
    struct rule_index *ix = rule_index_new();
    struct query *q = compile("\"pull out\" OR \"troop withdrawal\"", NULL);
    CHECK(q != NULL);
    CHECK_INT(rule_index_add(ix, 3, q), 0);
    const size_t *c;
    /* every word present, no pair side by side in one field */
    CHECK_INT(candidates_for(ix, "Troop", "Withdrawal: they will pull the troops out.", &c), 0);
    CHECK_INT(candidates_for(ix, "Pull", "Out of time.", &c), 0);
    /* stems side by side */
    CHECK_INT(candidates_for(ix, NULL, "Plans for troops withdrawing soon.", &c), 1);
    CHECK_INT(candidates_for(ix, "They pulled out", NULL, &c), 1);
    rule_index_free(ix);
    query_free(q);
}

TEST(wildcards_by_long_prefixes)
{
    static const struct {
        const char *query, *text;
        int cand;
    } cases[] = {
        {"aftern*", "This afternoon.", 1},
        {"aftern*", "After the storm.", 0}, /* keyed by "aftern", not "after" */
        {"sharehol*", "SHAREHOLDERS met.", 1},
        {"sharehol*", "Shares rose.", 0},
        {"écol*", "Les ÉCOLES ferment.", 1},
        {"Москв*", "В Москве тихо.", 1},
        {"Москв*", "В Минске тихо.", 0},
        {"ab*", "Abroad.", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query *q = compile(cases[i].query, NULL);
        CHECK(q != NULL);
        struct rule_index *ix = rule_index_new();
        CHECK_INT(rule_index_add(ix, 1, q), 0);
        const size_t *c;
        long n = candidates_for(ix, NULL, cases[i].text, &c);
        if (n != cases[i].cand) printf("  %s on \"%s\": %ld\n", cases[i].query, cases[i].text, n);
        CHECK_INT(n, cases[i].cand);
        rule_index_free(ix);
        query_free(q);
    }
}

int main(void)
{
    RUN(selects_by_required_words);
    RUN(candidates_contain_every_match);
    RUN(other_languages_and_many_rules);
    RUN(fuzzy_candidates_contain_every_match);
    RUN(fuzzy_edits_everywhere);
    RUN(phrase_pairs_contain_every_match);
    RUN(phrase_needs_its_words_side_by_side);
    RUN(wildcards_by_long_prefixes);
    return check_summary();
}
