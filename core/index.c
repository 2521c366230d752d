/*
 * index — the stored-query index. Input: compiled queries (rule_index_add) and tokenised
 * docs; output: for each doc, the rules worth evaluating. Each query is reduced to the
 * clauses a matching doc must satisfy, each clause a set of keys at least one of which the
 * doc contains: a term gives its stem (or folded form for exact words), a wildcard the
 * bucket of its first 2-3 characters, an OR one clause, the union of its operands' keys
 * (each operand reduced to its cheapest set). Every word of a phrase and every operand of
 * an AND or NEAR is required, so each gives its own clauses; the index keeps the two
 * cheapest, and a rule is a candidate when the doc satisfies both (two rare words are much
 * rarer together than either alone). NOT, regexes and fuzzy words give no key; a query with
 * no clause is evaluated on every doc. The reduction only ever widens what can match, so a
 * candidate list never misses a rule that would match.
 */
#include "index.h"
#include "query_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wildcards are keyed by the bucket of their first 2, 3 or PREFIX_LONG characters: the
 * longest their prefix allows, since a 3-character bucket ("neg") holds far more words than
 * a 5-character one ("negot"). */
enum { KEY_MAX = 16 + TEXT_WORD_MAX, MAX_LANGS = 8, PREFIX_LONG = 5 };

struct ikey {
    char k[KEY_MAX];
    size_t n;
    double cost;
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

struct rule_index {
    size_t *rules; /* slot -> rule number */
    uint32_t nrules, caprules;
    uint32_t *always;
    uint32_t nalways, capalways;
    struct entry *tab;
    uint32_t tab_cap, tab_n;
    char langs[MAX_LANGS][8];
    struct stem_cache *stems[MAX_LANGS]; /* per language, made on first use */
    int nlangs;
    /* Per slot, one bit each: the doc satisfies clause 0 (picked) or clause 1 (picked2) of
     * the rule; `single` marks rules with at most one clause (clause 1 always holds). */
    uint64_t *picked, *picked2, *single;
    uint32_t cappicked, cappicked2, capsingle;
    int ordered;       /* rule numbers ascend with slots: no sort needed */
    uint32_t nkeys[3]; /* keys of each type ('f', 'p', 's') present in the table */
    unsigned plens;    /* bit k set when some 'p' key has k characters */
    size_t *out;
    uint32_t capout;
};

struct rule_index *rule_index_new(void)
{
    return calloc(1, sizeof(struct rule_index));
}

void rule_index_free(struct rule_index *ix)
{
    if (!ix) return;
    for (uint32_t i = 0; i < ix->tab_cap; i++) {
        free(ix->tab[i].key);
        free(ix->tab[i].slots);
    }
    free(ix->tab);
    for (int i = 0; i < ix->nlangs; i++)
        stem_cache_free(ix->stems[i]);
    free(ix->rules);
    free(ix->always);
    free(ix->picked);
    free(ix->picked2);
    free(ix->single);
    free(ix->out);
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

/* The key of one query word; 0 when it has none (fuzzy). */
static int word_key(const struct query *q, const struct qword *w, struct ikey *out)
{
    switch (w->kind) {
    case QW_STEM:
        out->n = key_make(out->k, 's', q->lang, w->stem, w->slen);
        out->cost = word_cost(w->folded, w->flen);
        return 1;
    case QW_EXACT:
        out->n = key_make(out->k, 'f', NULL, w->folded, w->flen);
        out->cost = word_cost(w->folded, w->flen);
        return 1;
    case QW_PREFIX: {
        size_t k = w->ncp >= PREFIX_LONG ? PREFIX_LONG : w->ncp >= 3 ? 3 : 2;
        out->n = key_make(out->k, 'p', NULL, w->folded, first_chars(w->folded, w->flen, k));
        out->cost = k == PREFIX_LONG ? 3 : k == 3 ? 6 : 12;
        return 1;
    }
    case QW_FUZZY:
        return 0;
    }
    return 0;
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

static int reduce_seq(const struct query *q, const struct qnode *n, struct disj *out)
{
    struct ikey best;
    int have = 0;
    for (size_t i = 0; i < n->nwords; i++) {
        struct ikey k;
        if (!word_key(q, &n->words[i], &k)) continue;
        if (!have || k.cost < best.cost) best = k;
        have = 1;
    }
    if (!have) return 0;
    return disj_single(out, &best);
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

static int collect(const struct query *q, const struct qnode *n, struct clauses *cl)
{
    switch (n->kind) {
    case QN_SEQ:
        for (size_t i = 0; i < n->nwords; i++) {
            struct ikey k;
            struct disj d = {NULL, 0, 1, 0};
            if (!word_key(q, &n->words[i], &k)) continue;
            if (disj_single(&d, &k) < 0) return -1;
            clauses_offer(cl, &d);
        }
        return 0;
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

static int rehash(struct rule_index *ix)
{
    uint32_t cap = ix->tab_cap ? ix->tab_cap * 2 : 256;
    struct entry *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < ix->tab_cap; i++) {
        struct entry *e = &ix->tab[i];
        if (!e->key) continue;
        uint32_t h = e->hash & (cap - 1);
        while (t[h].key)
            h = (h + 1) & (cap - 1);
        t[h] = *e;
    }
    free(ix->tab);
    ix->tab = t;
    ix->tab_cap = cap;
    return 0;
}

static int key_add(struct rule_index *ix, const struct ikey *k, uint32_t slot)
{
    if ((ix->tab_n + 1) * 2 > ix->tab_cap && rehash(ix) < 0) return -1;
    uint32_t hash = qhash(k->k, k->n);
    struct entry *e = lookup(ix, k->k, k->n, hash);
    if (!e->key) {
        e->key = malloc(k->n);
        if (!e->key) return -1;
        memcpy(e->key, k->k, k->n);
        e->klen = (uint32_t)k->n;
        e->hash = hash;
        ix->tab_n++;
        ix->nkeys[k->k[0] == 'f' ? 0 : k->k[0] == 'p' ? 1 : 2]++;
        if (k->k[0] == 'p') ix->plens |= 1u << text_utf8_len(k->k + 1, k->n - 1);
    }
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
            if (cl->best[c].v[i].k[0] == 's') return 1;
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

/* Grow the per-slot bit sets for one more rule (new words start cleared). */
static int grow_bits(struct rule_index *ix)
{
    uint32_t need = ix->nrules / 64 + 1, old = ix->capsingle;
    if (grow32((void **)&ix->picked, &ix->cappicked, sizeof *ix->picked, need) < 0 ||
        grow32((void **)&ix->picked2, &ix->cappicked2, sizeof *ix->picked2, need) < 0 ||
        grow32((void **)&ix->single, &ix->capsingle, sizeof *ix->single, need) < 0)
        return -1;
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

static void pick_key(struct rule_index *ix, const char *k, size_t n)
{
    const struct entry *e = lookup(ix, k, n, qhash(k, n));
    if (!e || !e->key) return;
    for (uint32_t i = 0; i < e->n; i++) {
        uint32_t p = e->slots[i];
        set_bit(p & 1 ? ix->picked2 : ix->picked, p >> 1);
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int pick_doc_keys(struct rule_index *ix, struct doc *d)
{
    char k[KEY_MAX];
    for (uint32_t w = 0; w < d->nwords && (ix->nkeys[0] || ix->nkeys[1]); w++) {
        const struct dword *dw = &d->words[w];
        if (ix->nkeys[0]) pick_key(ix, k, key_make(k, 'f', NULL, dw->s, dw->len));
        if (!ix->nkeys[1]) continue;
        static const unsigned lens[] = {2, 3, PREFIX_LONG};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
            if ((ix->plens >> lens[i]) & 1u && dw->ncp >= lens[i])
                pick_key(ix, k,
                         key_make(k, 'p', NULL, dw->s, first_chars(dw->s, dw->len, lens[i])));
    }
    for (int l = 0; l < ix->nlangs && ix->nkeys[2]; l++) {
        if (!ix->stems[l]) ix->stems[l] = stem_cache_new(ix->langs[l]);
        /* without a cache (out of memory) the doc still gets its stems, only slower */
        struct stemmap *m =
            ix->stems[l] ? doc_stems_cached(d, ix->stems[l]) : doc_stems(d, ix->langs[l]);
        if (!m) return -1;
        for (uint32_t s = 0; s < m->nstems; s++)
            pick_key(ix, k, key_make(k, 's', ix->langs[l], m->stem_s[s], m->stem_len[s]));
    }
    return 0;
}

long rule_index_candidates(struct rule_index *ix, struct doc *d, const size_t **out)
{
    if (grow32((void **)&ix->out, &ix->capout, sizeof *ix->out, ix->nrules + 1) < 0) return -1;
    *out = ix->out;
    if (ix->nrules == 0) return 0;
    uint32_t nwords64 = (ix->nrules + 63) / 64;
    memset(ix->picked, 0, nwords64 * sizeof *ix->picked);
    memset(ix->picked2, 0, nwords64 * sizeof *ix->picked2);
    for (uint32_t i = 0; i < ix->nalways; i++)
        set_bit(ix->picked, ix->always[i]);
    if (ix->tab_n && pick_doc_keys(ix, d) < 0) return -1;
    size_t n = 0;
    for (uint32_t i = 0; i < nwords64; i++)
        for (uint64_t bits = ix->picked[i] & (ix->picked2[i] | ix->single[i]); bits;
             bits &= bits - 1)
            ix->out[n++] = ix->rules[i * 64 + (uint32_t)__builtin_ctzll(bits)];
    if (!ix->ordered) {
        qsort(ix->out, n, sizeof *ix->out, cmp_size);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (k == 0 || ix->out[k - 1] != ix->out[i]) ix->out[k++] = ix->out[i];
        n = k;
    }
    return (long)n;
}
