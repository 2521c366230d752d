/*
 * index — the stored-query index. Input: compiled queries (rule_index_add) and tokenised
 * docs; output: for each doc, the rules worth evaluating. Each query is reduced to the
 * clauses a matching doc must satisfy, each clause a set of keys at least one of which the
 * doc contains: a term gives its stem (or folded form for exact words), two neighbouring
 * stemmed words of a phrase their pair, a wildcard the bucket of its first 2-7 characters,
 * a fuzzy word its deletions (see "fuzzy words"), an OR one clause, the union of its
 * operands' keys (each operand reduced to its cheapest set). Every word of a phrase and
 * every operand of an AND or NEAR is required, so each gives its own clauses; the index
 * keeps the two cheapest, and a rule is a candidate when the doc satisfies both (two rare
 * words are much rarer together than either alone). NOT and regexes give no key; a query
 * with no clause is evaluated on every doc. The reduction only ever widens what can match,
 * so a candidate list never misses a rule that would match. A doc looks up its words,
 * stems, word pairs, prefixes and deletions; a bit filter answers most of the lookups of
 * absent keys without touching the table.
 */
#include "index.h"
#include "query_impl.h"

#include <pthread.h>
#include <utf8proc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wildcards are keyed by the bucket of their first 2 to PREFIX_LONG characters: the longest
 * their prefix allows, since a 3-character bucket ("pro") holds far more words than a
 * 4-character one ("proj"), and "after" far more than "aftern". */
enum { KEY_MAX = 16 + TEXT_WORD_MAX, MAX_LANGS = 8, PREFIX_LONG = 7 };

struct ikey {
    char k[KEY_MAX];
    size_t n;
    double cost;
    int flen, fdist; /* 'z' keys: the fuzzy word's characters and distance */
};

/* A disjunction of keys; none = cannot be reduced (always true). */
struct disj {
    struct ikey *v;
    size_t n;
    int none;
    double cost;
};

struct entry {
    char *key;
    uint32_t klen, hash;
    uint32_t *slots;
    uint32_t n, cap;
};

/* What one lookup writes; see index.h. */
struct index_scratch {
    struct stem_cache *stems[MAX_LANGS]; /* per language of the index, made on first use */
    /* Per slot, one bit each: the doc satisfies clause 0 (picked) or clause 1 (picked2). */
    uint64_t *picked, *picked2;
    uint32_t cappicked, cappicked2;
    size_t *out;
    uint32_t capout;
    uint32_t *stem_hash, *stem_pow; /* per doc stem: polynomial hash, ZMUL^length */
    uint32_t capstem, capstem2;
    struct index_scratch *next; /* in the spare list */
};

struct rule_index {
    size_t *rules; /* slot -> rule number */
    uint32_t nrules, caprules;
    uint32_t *always;
    uint32_t nalways, capalways;
    struct entry *tab;
    uint32_t tab_cap, tab_n;
    char langs[MAX_LANGS][8];
    int nlangs;
    /* Per slot, one bit: the rule has at most one clause (clause 1 always holds). */
    uint64_t *single;
    uint32_t capsingle;
    int ordered;       /* rule numbers ascend with slots: no sort needed */
    uint32_t nkeys[5]; /* keys of each type ('f', 'p', 's', 'z', 'b') present in the table */
    unsigned plens;    /* bit k set when some 'p' key has k characters */
    /* Per doc word length m in characters, bit k set when some fuzzy word at distance k
     * has m - k to m + k characters: only those doc words need their deletions looked up. */
    unsigned char fzwords[TEXT_WORD_MAX + 1];
    /* Bit (hash & (8 * tab_cap - 1)) set for each key of the table: most doc keys are
     * absent, and this 1/32nd of the table's size answers them without touching it. */
    uint64_t *filter;
    struct index_scratch own;    /* for rule_index_candidates */
    struct index_scratch *spare; /* given back by threads, for the next to take */
    pthread_mutex_t spare_lock;
};

struct rule_index *rule_index_new(void)
{
    struct rule_index *ix = calloc(1, sizeof *ix);
    if (ix) pthread_mutex_init(&ix->spare_lock, NULL);
    return ix;
}

static void scratch_clear(struct index_scratch *s)
{
    for (int i = 0; i < MAX_LANGS; i++)
        stem_cache_free(s->stems[i]);
    free(s->picked);
    free(s->picked2);
    free(s->out);
    free(s->stem_hash);
    free(s->stem_pow);
    memset(s, 0, sizeof *s);
}

struct index_scratch *rule_index_scratch_take(struct rule_index *ix)
{
    pthread_mutex_lock(&ix->spare_lock);
    struct index_scratch *s = ix->spare;
    if (s) ix->spare = s->next;
    pthread_mutex_unlock(&ix->spare_lock);
    return s ? s : calloc(1, sizeof *s);
}

void rule_index_scratch_put(struct rule_index *ix, struct index_scratch *s)
{
    if (!s) return;
    pthread_mutex_lock(&ix->spare_lock);
    s->next = ix->spare;
    ix->spare = s;
    pthread_mutex_unlock(&ix->spare_lock);
}

void rule_index_free(struct rule_index *ix)
{
    if (!ix) return;
    for (uint32_t i = 0; i < ix->tab_cap; i++) {
        free(ix->tab[i].key);
        free(ix->tab[i].slots);
    }
    free(ix->tab);
    free(ix->filter);
    free(ix->rules);
    free(ix->always);
    free(ix->single);
    scratch_clear(&ix->own);
    while (ix->spare) {
        struct index_scratch *s = ix->spare;
        ix->spare = s->next;
        scratch_clear(s);
        free(s);
    }
    pthread_mutex_destroy(&ix->spare_lock);
    free(ix);
}

static int grow32(void **p, uint32_t *cap, size_t elem, uint32_t need)
{
    if (need <= *cap) return 0;
    uint32_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > UINT32_MAX / 2) return -1;
        c *= 2;
    }
    void *np = realloc(*p, (size_t)c * elem);
    if (!np) return -1;
    *p = np;
    *cap = c;
    return 0;
}

/* ---- keys ---- */

static const char *const stopwords[] = {"the", "a",   "an",   "of",   "to",   "in",   "and", "or",
                                        "is",  "on",  "at",   "by",   "for",  "with", "it",  "as",
                                        "be",  "was", "that", "this", "from", "are"};

static double word_cost(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (strlen(stopwords[i]) == n && !memcmp(stopwords[i], s, n)) return 50;
    size_t cps = text_utf8_len(s, n);
    return cps >= 5 ? 1 : cps == 4 ? 2 : 4;
}

/* Bytes of the first `k` characters of s[0..n). */
static size_t first_chars(const char *s, size_t n, size_t k)
{
    size_t i = 0;
    while (i < n && k > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        k--;
    }
    return i;
}

static size_t key_make(char *k, char type, const char *lang, const char *s, size_t n)
{
    size_t i = 0, ln = lang ? strlen(lang) : 0;
    k[i++] = type;
    if (lang) {
        memcpy(k + i, lang, ln);
        i += ln;
        k[i++] = '\0';
    }
    if (n > KEY_MAX - i) n = KEY_MAX - i; /* the same cut on both sides keeps keys equal */
    memcpy(k + i, s, n);
    return i + n;
}

static void disj_free(struct disj *d)
{
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

static int disj_single(struct disj *d, const struct ikey *k)
{
    d->v = malloc(sizeof *d->v);
    if (!d->v) return -1;
    d->v[0] = *k;
    d->n = 1;
    d->none = 0;
    d->cost = k->cost;
    return 0;
}

/* ---- fuzzy words ----
 *
 * A fuzzy word at distance k is keyed by every string its folded form gives with up to k
 * characters deleted (the symmetric-delete scheme), and a doc word looks up the same of
 * its own. Why that is exact: the distance counts substitutions, deletions, insertions and
 * swaps of two neighbours (restricted Damerau-Levenshtein, on disjoint stretches of the
 * words), and each is undone by deleting at most one character on each side (a swap "ab"
 * / "ba" by deleting the "a" of both), so two words within k edits share a string reached
 * by at most k deletions from each. Characters are decoded exactly as match.c does for the
 * distance, so both sides count them alike. The keys are 'z', the distance digit and the
 * string; their hash is polynomial, so the doc side gets the hash of each deletion from
 * prefix hashes without building the string, and only builds the key when the table's
 * filter lets it through. */

enum { FUZZ_MAX = 2, ZMUL = 0x01000193 };

/* Byte offsets of the characters of s[0..n), as match.c's edit distance decodes them
 * (an invalid byte is one character); cb[m] = n. Returns m, the number of characters. */
static int char_bounds(const char *s, size_t n, size_t *cb)
{
    int m = 0;
    size_t i = 0;
    while (i < n && m < TEXT_WORD_MAX) {
        cb[m++] = i;
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t l =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        i += l <= 0 ? 1 : (size_t)l;
    }
    cb[m] = i;
    return m;
}

/* The polynomial hash h * ZMUL^n + s[0] * ZMUL^(n-1) + ... + s[n-1] (mod 2^32). */
static uint32_t zpoly(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = h * ZMUL + (unsigned char)s[i];
    return h;
}

/* Spread a polynomial hash over all its bits (murmur3's finaliser): the table and the
 * filter use the low ones. */
static uint32_t zmix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* The hash the table files key k[0..n) under. */
static uint32_t key_hash(const char *k, size_t n)
{
    return n && (k[0] == 'z' || k[0] == 'b' || k[0] == 'p') ? zmix(zpoly(0, k, n)) : qhash(k, n);
}

/* Calls fn(arg, del, nd) for each way of deleting nd <= k of the m characters (del[]
 * ascending), nd = 0 included. Returns the first non-zero fn result, else 0. */
static int each_deletion(int m, int k, int (*fn)(void *, const int *, int), void *arg)
{
    int del[FUZZ_MAX] = {0, 0}, rc = fn(arg, del, 0);
    for (int i = 0; !rc && k >= 1 && i < m; i++) {
        del[0] = i;
        rc = fn(arg, del, 1);
        for (int j = i + 1; !rc && k >= 2 && j < m; j++) {
            del[1] = j;
            rc = fn(arg, del, 2);
        }
    }
    return rc;
}

/* A word with its character offsets, for building its deletions. */
struct zword {
    const char *s;
    size_t n;
    size_t cb[TEXT_WORD_MAX + 1];
    int m, k;
};

/* The key of word z with the characters del[0..nd) deleted. */
static size_t zkey(const struct zword *z, const int *del, int nd, char *key)
{
    size_t at = 0, o = 2;
    key[0] = 'z';
    key[1] = (char)('0' + z->k);
    for (int i = 0; i <= nd; i++) {
        size_t to = i < nd ? z->cb[del[i]] : z->n;
        memcpy(key + o, z->s + at, to - at);
        o += to - at;
        if (i < nd) at = z->cb[del[i] + 1];
    }
    return o;
}

struct zquery {
    struct zword z;
    struct disj *out;
    double cost;
};

static int add_deletion(void *arg, const int *del, int nd)
{
    struct zquery *zq = arg;
    struct ikey *k = &zq->out->v[zq->out->n++];
    k->n = zkey(&zq->z, del, nd, k->k);
    k->cost = zq->cost;
    k->flen = zq->z.m;
    k->fdist = zq->z.k;
    return 0;
}

/* The keys of a fuzzy word: its deletions; the clause costs about what a slightly rarer
 * word would, as it lets through the words within 2k edits. */
static int fuzzy_keys(const struct qword *w, struct disj *out)
{
    struct zquery zq;
    if (w->dist < 1 || w->dist > FUZZ_MAX) return 0; /* the parser allows 1 and 2 only */
    zq.z.s = w->folded;
    zq.z.n = w->flen;
    zq.z.k = w->dist;
    zq.z.m = char_bounds(w->folded, w->flen, zq.z.cb);
    size_t m = (size_t)zq.z.m, nkeys = 1 + m + (zq.z.k >= 2 ? m * (m - 1) / 2 : 0);
    zq.cost = word_cost(w->folded, w->flen) * (zq.z.k + 1);
    zq.out = out;
    out->v = malloc(nkeys * sizeof *out->v);
    if (!out->v) return -1;
    out->n = 0;
    out->none = 0;
    out->cost = zq.cost;
    return each_deletion(zq.z.m, zq.z.k, add_deletion, &zq);
}

/* The keys one query word requires (one of them), in *out; out->none when it has none.
 * Returns 0, or -1 when out of memory. */
static int word_keys(const struct query *q, const struct qword *w, struct disj *out)
{
    struct ikey k;
    k.flen = k.fdist = 0;
    out->none = 1;
    out->v = NULL;
    out->n = 0;
    switch (w->kind) {
    case QW_STEM:
        k.n = key_make(k.k, 's', q->lang, w->stem, w->slen);
        k.cost = word_cost(w->folded, w->flen);
        return disj_single(out, &k);
    case QW_EXACT:
        k.n = key_make(k.k, 'f', NULL, w->folded, w->flen);
        k.cost = word_cost(w->folded, w->flen);
        return disj_single(out, &k);
    case QW_PREFIX: {
        size_t c = w->ncp >= PREFIX_LONG ? PREFIX_LONG : w->ncp;
        k.n = key_make(k.k, 'p', NULL, w->folded, first_chars(w->folded, w->flen, c));
        k.cost = c >= 6 ? 2.5 : c == 5 ? 3 : c == 4 ? 4 : c == 3 ? 6 : 12;
        return disj_single(out, &k);
    }
    case QW_FUZZY:
        return fuzzy_keys(w, out);
    }
    return 0;
}

/* Keep the cheaper of *best and *cand (freeing the other). */
static void disj_pick(struct disj *best, struct disj *cand)
{
    if (cand->none) {
        disj_free(cand);
        return;
    }
    if (best->none || cand->cost < best->cost) {
        disj_free(best);
        *best = *cand;
        return;
    }
    disj_free(cand);
}

static int reduce(const struct query *q, const struct qnode *n, struct disj *out);

/* ---- phrases ----
 *
 * Two neighbouring stemmed words of an exact phrase ("market since") must be stems of two
 * neighbouring tokens of one field, a pair much rarer than either word: the phrase is keyed
 * by 'b', the language and both stems ("b" lang NUL stem NUL stem), and the doc side looks
 * up the stems of each pair of neighbouring tokens. Hashed like 'z' keys (polynomial), so
 * the doc side combines per-stem hashes without building the key. */

/* The pair key of words i and i + 1 of phrase n; 0 when they have none (not both stems,
 * or too long). */
static int pair_key(const struct query *q, const struct qnode *n, size_t i, struct ikey *out)
{
    const struct qword *a = &n->words[i], *b = &n->words[i + 1];
    size_t ln = strlen(q->lang);
    if (n->slop >= 0 || a->kind != QW_STEM || b->kind != QW_STEM) return 0;
    if (3 + ln + a->slen + b->slen > KEY_MAX) return 0;
    char *k = out->k;
    k[0] = 'b';
    memcpy(k + 1, q->lang, ln);
    k[1 + ln] = '\0';
    memcpy(k + 2 + ln, a->stem, a->slen);
    k[2 + ln + a->slen] = '\0';
    memcpy(k + 3 + ln + a->slen, b->stem, b->slen);
    out->n = 3 + ln + a->slen + b->slen;
    double ca = word_cost(a->folded, a->flen), cb = word_cost(b->folded, b->flen);
    double lo = ca < cb ? ca : cb, hi = ca < cb ? cb : ca;
    out->cost = lo * (hi >= 50 ? 0.5 : 0.25); /* "of the" stays dear */
    out->flen = out->fdist = 0;
    return 1;
}

/* The clauses of a phrase or term: its word pairs, and the words no pair covers. */
static int seq_clauses(const struct query *q, const struct qnode *n,
                       void (*take)(void *, struct disj *), void *arg)
{
    int covered_prev = 0; /* word i is in the pair (i - 1, i) */
    for (size_t i = 0; i < n->nwords; i++) {
        struct ikey k;
        struct disj d = {NULL, 0, 1, 0};
        int pair = i + 1 < n->nwords && pair_key(q, n, i, &k);
        if (pair) {
            if (disj_single(&d, &k) < 0) return -1;
        } else if (!covered_prev) {
            if (word_keys(q, &n->words[i], &d) < 0) return -1;
        }
        take(arg, &d);
        covered_prev = pair;
    }
    return 0;
}

static void take_pick(void *arg, struct disj *d)
{
    disj_pick(arg, d);
}

static int reduce_seq(const struct query *q, const struct qnode *n, struct disj *out)
{
    return seq_clauses(q, n, take_pick, out);
}

static int reduce_all(const struct query *q, const struct qnode *n, struct disj *out)
{
    for (size_t i = 0; i < n->nkids; i++) {
        struct disj d = {NULL, 0, 1, 0};
        if (reduce(q, n->kids[i], &d) < 0) return -1;
        disj_pick(out, &d);
    }
    return 0;
}

static int reduce_any(const struct query *q, const struct qnode *n, struct disj *out)
{
    struct disj acc = {NULL, 0, 0, 0};
    for (size_t i = 0; i < n->nkids; i++) {
        struct disj d = {NULL, 0, 1, 0};
        if (reduce(q, n->kids[i], &d) < 0) goto fail;
        if (d.none) {
            disj_free(&acc);
            return 0; /* one branch needs nothing: the OR needs nothing */
        }
        struct ikey *v = realloc(acc.v, (acc.n + d.n) * sizeof *v);
        if (!v) {
            disj_free(&d);
            goto fail;
        }
        memcpy(v + acc.n, d.v, d.n * sizeof *v);
        acc.v = v;
        acc.n += d.n;
        acc.cost += d.cost;
        disj_free(&d);
    }
    *out = acc;
    return 0;
fail:
    disj_free(&acc);
    return -1;
}

/* The required clauses of a query, from which the index keeps the two cheapest. */
struct clauses {
    struct disj best[2]; /* best[0] the cheapest; none when absent */
};

static void clauses_offer(struct clauses *cl, struct disj *d)
{
    if (d->none) {
        disj_free(d);
        return;
    }
    if (cl->best[0].none || d->cost < cl->best[0].cost) {
        disj_free(&cl->best[1]);
        cl->best[1] = cl->best[0];
        cl->best[0] = *d;
    } else if (cl->best[1].none || d->cost < cl->best[1].cost) {
        disj_free(&cl->best[1]);
        cl->best[1] = *d;
    } else {
        disj_free(d);
    }
}

static void take_offer(void *arg, struct disj *d)
{
    clauses_offer(arg, d);
}

static int collect(const struct query *q, const struct qnode *n, struct clauses *cl)
{
    switch (n->kind) {
    case QN_SEQ:
        return seq_clauses(q, n, take_offer, cl);
    case QN_AND:
    case QN_NEAR:
        for (size_t i = 0; i < n->nkids; i++)
            if (collect(q, n->kids[i], cl) < 0) return -1;
        return 0;
    case QN_OR: {
        struct disj d = {NULL, 0, 1, 0};
        if (reduce(q, n, &d) < 0) return -1;
        clauses_offer(cl, &d);
        return 0;
    }
    case QN_NOT:
    case QN_REGEX:
        return 0;
    }
    return 0;
}

static int reduce(const struct query *q, const struct qnode *n, struct disj *out)
{
    out->none = 1;
    out->v = NULL;
    out->n = 0;
    switch (n->kind) {
    case QN_SEQ:
        return reduce_seq(q, n, out);
    case QN_AND:
    case QN_NEAR:
        return reduce_all(q, n, out);
    case QN_OR:
        return reduce_any(q, n, out);
    case QN_NOT:
    case QN_REGEX:
        return 0;
    }
    return 0;
}

/* ---- the key table ---- */

static struct entry *lookup(const struct rule_index *ix, const char *k, size_t n, uint32_t hash)
{
    if (!ix->tab_cap) return NULL;
    for (uint32_t h = hash & (ix->tab_cap - 1);; h = (h + 1) & (ix->tab_cap - 1)) {
        struct entry *e = &ix->tab[h];
        if (!e->key) return e;
        if (e->hash == hash && e->klen == n && !memcmp(e->key, k, n)) return e;
    }
}

static void filter_set(uint64_t *f, uint32_t tab_cap, uint32_t hash)
{
    uint32_t bit = hash & (tab_cap * 8 - 1);
    f[bit / 64] |= 1ull << (bit % 64);
}

/* 0 when key hash `hash` is certainly not in the table. */
static int filter_has(const struct rule_index *ix, uint32_t hash)
{
    if (!ix->filter) return 0; /* an empty table */
    uint32_t bit = hash & (ix->tab_cap * 8 - 1);
    return (int)((ix->filter[bit / 64] >> (bit % 64)) & 1u);
}

static int rehash(struct rule_index *ix)
{
    uint32_t cap = ix->tab_cap ? ix->tab_cap * 2 : 256;
    if (cap > UINT32_MAX / 8) return -1; /* the filter's bit numbers must fit */
    struct entry *t = calloc(cap, sizeof *t);
    /* the filter has 8 bits per table entry: at most 1 in 16 set, the table being at most
     * half full */
    uint64_t *f = calloc(cap / 8, sizeof *f);
    if (!t || !f) {
        free(t);
        free(f);
        return -1;
    }
    for (uint32_t i = 0; i < ix->tab_cap; i++) {
        struct entry *e = &ix->tab[i];
        if (!e->key) continue;
        uint32_t h = e->hash & (cap - 1);
        while (t[h].key)
            h = (h + 1) & (cap - 1);
        t[h] = *e;
        filter_set(f, cap, e->hash);
    }
    free(ix->tab);
    free(ix->filter);
    ix->tab = t;
    ix->tab_cap = cap;
    ix->filter = f;
    return 0;
}

static int key_type(char t)
{
    return t == 'f' ? 0 : t == 'p' ? 1 : t == 's' ? 2 : t == 'z' ? 3 : 4;
}

static int key_add(struct rule_index *ix, const struct ikey *k, uint32_t slot)
{
    if ((ix->tab_n + 1) * 2 > ix->tab_cap && rehash(ix) < 0) return -1;
    uint32_t hash = key_hash(k->k, k->n);
    struct entry *e = lookup(ix, k->k, k->n, hash);
    if (!e->key) {
        e->key = malloc(k->n);
        if (!e->key) return -1;
        memcpy(e->key, k->k, k->n);
        e->klen = (uint32_t)k->n;
        e->hash = hash;
        ix->tab_n++;
        ix->nkeys[key_type(k->k[0])]++;
        if (k->k[0] == 'p') ix->plens |= 1u << text_utf8_len(k->k + 1, k->n - 1);
        filter_set(ix->filter, ix->tab_cap, hash);
    }
    if (k->k[0] == 'z') /* doc words within k characters of its length need deletions */
        for (int m = k->flen - k->fdist; m <= k->flen + k->fdist; m++)
            if (m >= 0 && m <= TEXT_WORD_MAX) ix->fzwords[m] |= (unsigned char)(1u << k->fdist);
    if (e->n && e->slots[e->n - 1] == slot) return 0; /* the same key twice in one rule */
    if (grow32((void **)&e->slots, &e->cap, sizeof *e->slots, e->n + 1) < 0) return -1;
    e->slots[e->n++] = slot;
    return 0;
}

static int lang_add(struct rule_index *ix, const char *lang)
{
    for (int i = 0; i < ix->nlangs; i++)
        if (!strcmp(ix->langs[i], lang)) return 0;
    if (ix->nlangs == MAX_LANGS) return 1; /* too many: caller makes the rule always-run */
    snprintf(ix->langs[ix->nlangs++], sizeof ix->langs[0], "%s", lang);
    return 0;
}

static int has_stem_key(const struct clauses *cl)
{
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < cl->best[c].n; i++)
            if (cl->best[c].v[i].k[0] == 's' || cl->best[c].v[i].k[0] == 'b') return 1;
    return 0;
}

static void clauses_free(struct clauses *cl)
{
    disj_free(&cl->best[0]);
    disj_free(&cl->best[1]);
}

static void set_bit(uint64_t *bits, uint32_t slot)
{
    bits[slot / 64] |= 1ull << (slot % 64);
}

/* Grow the per-slot bit set for one more rule (new words start cleared). */
static int grow_bits(struct rule_index *ix)
{
    uint32_t need = ix->nrules / 64 + 1, old = ix->capsingle;
    if (grow32((void **)&ix->single, &ix->capsingle, sizeof *ix->single, need) < 0) return -1;
    if (ix->capsingle > old)
        memset(ix->single + old, 0, (ix->capsingle - old) * sizeof *ix->single);
    return 0;
}

int rule_index_add(struct rule_index *ix, size_t rule, const struct query *q)
{
    if (ix->nrules >= UINT32_MAX / 2 - 1) return -1; /* postings hold slot * 2 + clause */
    if (grow32((void **)&ix->rules, &ix->caprules, sizeof *ix->rules, ix->nrules + 1) < 0 ||
        grow_bits(ix) < 0)
        return -1;
    uint32_t slot = ix->nrules;
    struct clauses cl = {{{NULL, 0, 1, 0}, {NULL, 0, 1, 0}}};
    if (q && collect(q, q->root, &cl) < 0) {
        clauses_free(&cl);
        return -1;
    }
    int always = cl.best[0].none;
    if (!always && has_stem_key(&cl)) {
        int r = lang_add(ix, q->lang);
        if (r < 0) {
            clauses_free(&cl);
            return -1;
        }
        always = r > 0;
    }
    if (always) {
        if (grow32((void **)&ix->always, &ix->capalways, sizeof *ix->always, ix->nalways + 1) < 0) {
            clauses_free(&cl);
            return -1;
        }
        ix->always[ix->nalways++] = slot;
    } else {
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < cl.best[c].n; i++)
                if (key_add(ix, &cl.best[c].v[i], slot * 2 + (uint32_t)c) < 0) {
                    clauses_free(&cl);
                    return -1;
                }
    }
    if (always || cl.best[1].none) set_bit(ix->single, slot);
    clauses_free(&cl);
    if (slot == 0)
        ix->ordered = 1;
    else if (rule <= ix->rules[slot - 1])
        ix->ordered = 0;
    ix->rules[slot] = rule;
    ix->nrules++;
    return 0;
}

/* ---- candidates ---- */

static void pick_key_hashed(const struct rule_index *ix, struct index_scratch *sc, const char *k,
                            size_t n, uint32_t hash)
{
    if (!filter_has(ix, hash)) return;
    const struct entry *e = lookup(ix, k, n, hash);
    if (!e || !e->key) return;
    for (uint32_t i = 0; i < e->n; i++) {
        uint32_t p = e->slots[i];
        set_bit(p & 1 ? sc->picked2 : sc->picked, p >> 1);
    }
}

static void pick_key(const struct rule_index *ix, struct index_scratch *sc, const char *k, size_t n)
{
    pick_key_hashed(ix, sc, k, n, key_hash(k, n));
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* A doc word whose deletions are being looked up, with the prefix hashes they are
 * hashed from. */
struct zdoc {
    const struct rule_index *ix;
    struct index_scratch *sc;
    struct zword z;
    uint32_t pre[TEXT_WORD_MAX + 1]; /* pre[b]: hash of "z<k>" and the first b bytes */
    uint32_t pw[TEXT_WORD_MAX + 1];  /* ZMUL^b */
};

/* Hash of bytes [a, b) of the word, continuing hash h. */
static uint32_t zseg(const struct zdoc *zd, uint32_t h, size_t a, size_t b)
{
    uint32_t seg = zd->pre[b] - zd->pre[a] * zd->pw[b - a];
    return h * zd->pw[b - a] + seg;
}

static int pick_deletion(void *arg, const int *del, int nd)
{
    const struct zdoc *zd = arg;
    const struct zword *z = &zd->z;
    uint32_t h = zd->pre[0]; /* "z<k>" */
    size_t at = 0;
    for (int i = 0; i <= nd; i++) {
        size_t to = i < nd ? z->cb[del[i]] : z->n;
        h = zseg(zd, h, at, to);
        if (i < nd) at = z->cb[del[i] + 1];
    }
    h = zmix(h);
    if (!filter_has(zd->ix, h)) return 0;
    char key[KEY_MAX];
    pick_key_hashed(zd->ix, zd->sc, key, zkey(z, del, nd, key), h);
    return 0;
}

/* Look up the deletions of doc word s[0..n) at each distance some fuzzy word of a
 * compatible length is keyed with. */
static void pick_fuzzy(const struct rule_index *ix, const char *s, size_t n, struct zdoc *zd)
{
    zd->z.s = s;
    zd->z.n = n;
    zd->z.m = char_bounds(s, n, zd->z.cb);
    unsigned ks = ix->fzwords[zd->z.m];
    for (int k = 1; k <= FUZZ_MAX; k++) {
        if (!((ks >> k) & 1u)) continue;
        char head[2] = {'z', (char)('0' + k)};
        zd->z.k = k;
        zd->pre[0] = zpoly(0, head, 2);
        for (size_t b = 0; b < n; b++)
            zd->pre[b + 1] = zd->pre[b] * ZMUL + (unsigned char)s[b];
        each_deletion(zd->z.m, k, pick_deletion, zd);
    }
}

/* Look up the wildcard buckets of doc word s[0..n): its first 2 to PREFIX_LONG characters,
 * for the lengths some wildcard is keyed with, hashing each prefix from the one before. */
static void pick_prefixes(const struct rule_index *ix, struct index_scratch *sc, const char *s,
                          size_t n)
{
    uint32_t h = zpoly(0, "p", 1);
    size_t i = 0;
    for (unsigned nch = 1; nch <= PREFIX_LONG && i < n && (ix->plens >> nch); nch++) {
        do
            h = h * ZMUL + (unsigned char)s[i++];
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80); /* as first_chars() counts */
        if (!((ix->plens >> nch) & 1u)) continue;
        uint32_t hash = zmix(h);
        if (!filter_has(ix, hash)) continue;
        char k[KEY_MAX];
        pick_key_hashed(ix, sc, k, key_make(k, 'p', NULL, s, i), hash);
    }
}

/* Look up the pair key of each two neighbouring tokens of one field (see pair_key), the
 * hash of each combined from per-stem hashes. */
static int pick_pairs(const struct rule_index *ix, struct index_scratch *sc, const struct doc *d,
                      const struct stemmap *m, const char *lang)
{
    if (grow32((void **)&sc->stem_hash, &sc->capstem, sizeof *sc->stem_hash, m->nstems) < 0 ||
        grow32((void **)&sc->stem_pow, &sc->capstem2, sizeof *sc->stem_pow, m->nstems) < 0)
        return -1;
    for (uint32_t s = 0; s < m->nstems; s++) {
        uint32_t h = 0, pw = 1;
        for (uint32_t i = 0; i < m->stem_len[s]; i++) {
            h = h * ZMUL + (unsigned char)m->stem_s[s][i];
            pw *= ZMUL;
        }
        sc->stem_hash[s] = h;
        sc->stem_pow[s] = pw;
    }
    char head[16] = "b";
    size_t ln = strlen(lang);
    memcpy(head + 1, lang, ln); /* lang: at most 7 bytes (ix->langs) */
    uint32_t h0 = zpoly(0, head, ln + 2);
    for (uint32_t t = 0; t + 1 < d->ntoks; t++) {
        if (d->toks[t].field != d->toks[t + 1].field) continue;
        uint32_t a = m->word_stem[d->toks[t].word], b = m->word_stem[d->toks[t + 1].word];
        uint32_t h =
            ((h0 * sc->stem_pow[a] + sc->stem_hash[a]) * ZMUL) * sc->stem_pow[b] + sc->stem_hash[b];
        h = zmix(h);
        if (!filter_has(ix, h)) continue;
        size_t n = ln + 3 + m->stem_len[a] + m->stem_len[b];
        if (n > KEY_MAX) continue; /* too long to be keyed: pair_key skipped it too */
        char k[KEY_MAX];
        memcpy(k, head, ln + 2);
        memcpy(k + ln + 2, m->stem_s[a], m->stem_len[a]);
        k[ln + 2 + m->stem_len[a]] = '\0';
        memcpy(k + ln + 3 + m->stem_len[a], m->stem_s[b], m->stem_len[b]);
        pick_key_hashed(ix, sc, k, n, h);
    }
    return 0;
}

static int pick_doc_keys(const struct rule_index *ix, struct index_scratch *sc, struct doc *d)
{
    char k[KEY_MAX];
    struct zdoc zd;
    if (ix->nkeys[3]) {
        zd.ix = ix;
        zd.sc = sc;
        zd.pw[0] = 1;
        for (int i = 1; i <= TEXT_WORD_MAX; i++)
            zd.pw[i] = zd.pw[i - 1] * ZMUL;
    }
    for (uint32_t w = 0; w < d->nwords && (ix->nkeys[0] || ix->nkeys[1] || ix->nkeys[3]); w++) {
        const struct dword *dw = &d->words[w];
        /* words are at most TEXT_WORD_MAX bytes (text.h); the test guards the arrays */
        if (ix->nkeys[3] && dw->len <= TEXT_WORD_MAX) pick_fuzzy(ix, dw->s, dw->len, &zd);
        if (ix->nkeys[0]) pick_key(ix, sc, k, key_make(k, 'f', NULL, dw->s, dw->len));
        if (ix->nkeys[1]) pick_prefixes(ix, sc, dw->s, dw->len);
    }
    for (int l = 0; l < ix->nlangs && (ix->nkeys[2] || ix->nkeys[4]); l++) {
        if (!sc->stems[l]) sc->stems[l] = stem_cache_new(ix->langs[l]);
        /* without a cache (out of memory) the doc still gets its stems, only slower */
        struct stemmap *m =
            sc->stems[l] ? doc_stems_cached(d, sc->stems[l]) : doc_stems(d, ix->langs[l]);
        if (!m) return -1;
        /* The key is "s<lang>\0<stem>": its hash continues the header's, and the key is
         * only written out for a hash the filter lets through. */
        size_t hl = key_make(k, 's', ix->langs[l], "", 0);
        uint32_t h0 = qhash(k, hl);
        for (uint32_t s = 0; ix->nkeys[2] && s < m->nstems; s++) {
            size_t n = m->stem_len[s] < KEY_MAX - hl ? m->stem_len[s] : KEY_MAX - hl;
            uint32_t hash = qhash_more(h0, m->stem_s[s], n);
            if (!filter_has(ix, hash)) continue;
            memcpy(k + hl, m->stem_s[s], n);
            pick_key_hashed(ix, sc, k, hl + n, hash);
        }
        if (ix->nkeys[4] && pick_pairs(ix, sc, d, m, ix->langs[l]) < 0) return -1;
    }
    return 0;
}

long rule_index_candidates(struct rule_index *ix, struct doc *d, const size_t **out)
{
    return rule_index_candidates_in(ix, &ix->own, d, out);
}

long rule_index_candidates_in(const struct rule_index *ix, struct index_scratch *sc, struct doc *d,
                              const size_t **out)
{
    uint32_t nwords64 = (ix->nrules + 63) / 64;
    if (grow32((void **)&sc->out, &sc->capout, sizeof *sc->out, ix->nrules + 1) < 0 ||
        grow32((void **)&sc->picked, &sc->cappicked, sizeof *sc->picked, nwords64 + 1) < 0 ||
        grow32((void **)&sc->picked2, &sc->cappicked2, sizeof *sc->picked2, nwords64 + 1) < 0)
        return -1;
    *out = sc->out;
    if (ix->nrules == 0) return 0;
    memset(sc->picked, 0, nwords64 * sizeof *sc->picked);
    memset(sc->picked2, 0, nwords64 * sizeof *sc->picked2);
    for (uint32_t i = 0; i < ix->nalways; i++)
        set_bit(sc->picked, ix->always[i]);
    if (ix->tab_n && pick_doc_keys(ix, sc, d) < 0) return -1;
    size_t n = 0;
    for (uint32_t i = 0; i < nwords64; i++)
        for (uint64_t bits = sc->picked[i] & (sc->picked2[i] | ix->single[i]); bits;
             bits &= bits - 1)
            sc->out[n++] = ix->rules[i * 64 + (uint32_t)__builtin_ctzll(bits)];
    if (!ix->ordered) {
        qsort(sc->out, n, sizeof *sc->out, cmp_size);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (k == 0 || sc->out[k - 1] != sc->out[i]) sc->out[k++] = sc->out[i];
        n = k;
    }
    return (long)n;
}
