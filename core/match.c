/*
 * match — tokenised docs and the evaluation of compiled queries against them. doc_new()
 * tokenises an article's fields once (text.c) into tokens with byte spans, a table of
 * distinct folded words with their positions, and, per stemming language on first use, a
 * table of stems with theirs. query_match() walks the query tree: boolean nodes combine
 * truth values, positional nodes (terms, phrases, concepts, NEAR) produce spans of token
 * positions that carry the evidence of the leaves inside them. Temporary memory comes from
 * a scratch area owned by the doc and reused from one query to the next, so evaluating a
 * query rarely calls malloc. Evidence goes to the caller's evidence_list.
 */
#include "query_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum {
    DOC_FIELD_MAX = 64 << 20, /* bytes of one field that are tokenised and searched */
    SPAN_CAP = 4096,          /* spans kept per node: enough to decide and to explain */
    EV_MATCH_CAP = 1000,      /* evidence entries one query_match appends at most */
    REGEX_HITS_CAP = 100,     /* matches of one regex reported per field */
    SLOP_STEPS = 20000,       /* backtracking steps per sloppy-phrase window */
};

/* ---- scratch: a bump allocator whose chunks are kept between queries ---- */

struct scratch_chunk {
    struct scratch_chunk *next;
    size_t size, used;
    max_align_t data[];
};

static void *scratch_alloc(struct doc *d, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0) n = sizeof(max_align_t);
    struct scratch_chunk *c = d->scratch_cur;
    while (c && c->size - c->used < n) {
        c = c->next;
        if (c) c->used = 0;
    }
    if (!c) {
        size_t size = d->scratch_cur ? d->scratch_cur->size * 2 : 16384;
        if (size < n) size = n;
        c = malloc(sizeof *c + size);
        if (!c) return NULL;
        c->size = size;
        c->used = 0;
        c->next = NULL;
        /* append after the last chunk so the order of reuse stays stable */
        struct scratch_chunk **pp = &d->scratch;
        while (*pp)
            pp = &(*pp)->next;
        *pp = c;
    }
    d->scratch_cur = c;
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void scratch_reset(struct doc *d)
{
    d->scratch_cur = d->scratch;
    if (d->scratch) d->scratch->used = 0;
}

/* ---- doc construction ---- */

struct build {
    struct doc *d;
    uint8_t field;
    int oom;
};

static int grow(void **p, uint32_t *cap, size_t elem, uint32_t need)
{
    if (need <= *cap) return 0;
    uint32_t c = *cap ? *cap : 64;
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

static int wtab_rehash(struct doc *d)
{
    uint32_t cap = d->wtab_cap ? d->wtab_cap * 2 : 256;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < d->nwords; i++) {
        uint32_t h = d->words[i].hash & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = i + 1;
    }
    free(d->wtab);
    d->wtab = t;
    d->wtab_cap = cap;
    return 0;
}

/* The id of folded word w (whose qhash is `hash`), or UINT32_MAX. */
static uint32_t word_find(const struct doc *d, const char *w, size_t n, uint32_t hash)
{
    if (!d->wtab_cap) return UINT32_MAX;
    uint32_t h = hash & (d->wtab_cap - 1);
    for (uint32_t id; (id = d->wtab[h]); h = (h + 1) & (d->wtab_cap - 1)) {
        const struct dword *dw = &d->words[id - 1];
        if (dw->hash == hash && dw->len == n && !memcmp(dw->s, w, n)) return id - 1;
    }
    return UINT32_MAX;
}

uint32_t doc_word_id(const struct doc *d, const char *w, size_t n)
{
    return word_find(d, w, n, qhash(w, n));
}

static uint32_t word_add(struct doc *d, const char *w, size_t n)
{
    uint32_t hash = qhash(w, n);
    uint32_t id = word_find(d, w, n, hash);
    if (id != UINT32_MAX) return id;
    if ((d->nwords + 1) * 2 > d->wtab_cap && wtab_rehash(d) < 0) return UINT32_MAX;
    if (grow((void **)&d->words, &d->capwords, sizeof *d->words, d->nwords + 1) < 0)
        return UINT32_MAX;
    char *s = arena_strndup(&d->arena, w, n);
    if (!s) return UINT32_MAX;
    id = d->nwords++;
    struct dword *dw = &d->words[id];
    dw->s = s;
    dw->len = (uint32_t)n;
    dw->hash = hash;
    dw->npos = 0;
    dw->pos_off = 0;
    dw->ncp = (uint32_t)text_utf8_len(w, n);
    dw->cmask = qchar_mask(w, n);
    uint32_t h = dw->hash & (d->wtab_cap - 1);
    while (d->wtab[h])
        h = (h + 1) & (d->wtab_cap - 1);
    d->wtab[h] = id + 1;
    return id;
}

static int on_doc_token(void *arg, const struct text_token *t)
{
    struct build *b = arg;
    struct doc *d = b->d;
    if (d->ntoks == UINT32_MAX - 1 ||
        grow((void **)&d->toks, &d->captoks, sizeof *d->toks, d->ntoks + 1) < 0) {
        b->oom = 1;
        return 1;
    }
    uint32_t w = word_add(d, t->folded, t->folded_len);
    if (w == UINT32_MAX) {
        b->oom = 1;
        return 1;
    }
    struct dtok *k = &d->toks[d->ntoks++];
    k->start = (uint32_t)t->start;
    k->end = (uint32_t)t->end;
    k->word = w;
    k->field = b->field;
    d->words[w].npos++;
    return 0;
}

static int build_positions(struct doc *d)
{
    if (grow((void **)&d->wpos, &d->capwpos, sizeof *d->wpos, d->ntoks + 1) < 0) return -1;
    uint32_t off = 0;
    for (uint32_t i = 0; i < d->nwords; i++) {
        d->words[i].pos_off = off;
        off += d->words[i].npos;
        d->words[i].npos = 0;
    }
    for (uint32_t t = 0; t < d->ntoks; t++) {
        struct dword *w = &d->words[d->toks[t].word];
        d->wpos[w->pos_off + w->npos++] = t;
    }
    return 0;
}

/* Empty d for another article, keeping its buffers (tables built for wildcard and fuzzy
 * lookups go: they are rare and sized by the old words). */
static void doc_clear(struct doc *d)
{
    free(d->pfx_head);
    free(d->pfx_next);
    free(d->sfx_head);
    free(d->sfx_next);
    free(d->bylen);
    free(d->bylen_off);
    d->pfx_head = d->pfx_next = d->sfx_head = d->sfx_next = d->bylen = d->bylen_off = NULL;
    d->pfx_cap = 0;
    arena_reset(&d->arena);
    memset(d->stems, 0, sizeof d->stems); /* they lived in the arena */
    d->nstems = 0;
    scratch_reset(d);
    memset(d->fstr, 0, sizeof d->fstr);
    memset(d->flen, 0, sizeof d->flen);
    memset(d->lang, 0, sizeof d->lang);
    d->ntoks = d->nwords = 0;
    if (d->wtab) memset(d->wtab, 0, (size_t)d->wtab_cap * sizeof *d->wtab);
}

struct doc *doc_new(const struct doc_fields *f)
{
    return doc_renew(NULL, f);
}

struct doc *doc_renew(struct doc *d, const struct doc_fields *f)
{
    if (d) {
        doc_clear(d);
    } else {
        d = calloc(1, sizeof *d);
        if (!d) return NULL;
        arena_init(&d->arena);
    }
    const char *src[QF_COUNT] = {f->title, f->text, f->author, f->link, f->source};
    const char *lang = f->lang ? f->lang : "en";
    size_t ln = strlen(lang);
    if (ln >= sizeof d->lang) ln = sizeof d->lang - 1;
    memcpy(d->lang, lang, ln);
    struct build b = {d, 0, 0};
    for (int i = 0; i < QF_COUNT && !b.oom; i++) {
        d->fstr[i] = src[i];
        if (!src[i]) continue;
        size_t n = strlen(src[i]);
        d->flen[i] = n > DOC_FIELD_MAX ? DOC_FIELD_MAX : n;
        b.field = (uint8_t)i;
        text_tokenize(src[i], d->flen[i], on_doc_token, &b);
    }
    if (b.oom || build_positions(d) < 0) {
        doc_free(d);
        return NULL;
    }
    return d;
}

void doc_free(struct doc *d)
{
    if (!d) return;
    struct scratch_chunk *c = d->scratch;
    while (c) {
        struct scratch_chunk *n = c->next;
        free(c);
        c = n;
    }
    pcre2_match_data_free(d->md);
    pcre2_match_context_free(d->mctx);
    free(d->toks);
    free(d->words);
    free(d->wtab);
    free(d->wpos);
    free(d->pfx_head);
    free(d->pfx_next);
    free(d->sfx_head);
    free(d->sfx_next);
    free(d->bylen);
    free(d->bylen_off);
    arena_free(&d->arena);
    free(d);
}

/* ---- stems ---- */

/* The id of stem s (whose qhash is `hash`), or UINT32_MAX. */
static uint32_t stem_find(const struct stemmap *m, const char *s, size_t n, uint32_t hash)
{
    for (uint32_t h = hash & (m->tab_cap - 1), id; (id = m->tab[h]);
         h = (h + 1) & (m->tab_cap - 1)) {
        id--;
        if (m->stem_hash[id] == hash && m->stem_len[id] == n && !memcmp(m->stem_s[id], s, n))
            return id;
    }
    return UINT32_MAX;
}

uint32_t stemmap_id(const struct stemmap *m, const char *s, size_t n)
{
    return stem_find(m, s, n, qhash(s, n));
}

/* ---- the stem cache ---- */

enum {
    STEM_CACHE_MAX = 1 << 16,   /* words kept before the cache starts over */
    STEM_CACHE_FIRST = 1 << 12, /* slots at first: the table doubles as words come */
};

struct stem_entry {
    const char *w, *s; /* folded word and its stem, in the cache's arena; w NULL: empty */
    uint32_t wlen, slen, hash;
};

struct stem_cache {
    char lang[8];
    struct text_stemmer *st; /* NULL when the language has no stemmer ("") */
    struct arena arena;
    struct stem_entry *tab; /* open addressing, cap slots (at most 2 * STEM_CACHE_MAX) */
    uint32_t n, cap;
};

struct stem_cache *stem_cache_new(const char *lang)
{
    struct stem_cache *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    snprintf(sc->lang, sizeof sc->lang, "%s", lang);
    arena_init(&sc->arena);
    /* Small at first: a cache per thread, and a big zeroed table costs a page fault (and,
     * read before written, a TLB flush on every core) per page before it is any use. */
    sc->cap = STEM_CACHE_FIRST;
    sc->tab = calloc(sc->cap, sizeof *sc->tab);
    sc->st = lang[0] ? text_stemmer_new(lang) : NULL;
    if (!sc->tab || (lang[0] && !sc->st)) {
        stem_cache_free(sc);
        return NULL;
    }
    return sc;
}

void stem_cache_free(struct stem_cache *sc)
{
    if (!sc) return;
    text_stemmer_free(sc->st);
    arena_free(&sc->arena);
    free(sc->tab);
    free(sc);
}

/* Start over once full; only between docs, while no stem of the cache is in use. */
static void stem_cache_trim(struct stem_cache *sc)
{
    if (sc->n < STEM_CACHE_MAX) return;
    arena_free(&sc->arena);
    arena_init(&sc->arena);
    memset(sc->tab, 0, (size_t)sc->cap * sizeof *sc->tab);
    sc->n = 0;
}

/* Double the table (entries keep their arena strings). 0, or -1 when out of memory (the
 * cache then stays as it is). */
static int stem_cache_grow(struct stem_cache *sc)
{
    uint32_t cap = sc->cap * 2;
    struct stem_entry *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < sc->cap; i++) {
        if (!sc->tab[i].w) continue;
        uint32_t j = sc->tab[i].hash & (cap - 1);
        while (t[j].w)
            j = (j + 1) & (cap - 1);
        t[j] = sc->tab[i];
    }
    free(sc->tab);
    sc->tab = t;
    sc->cap = cap;
    return 0;
}

/* The stem of folded word w[0..n) (qhash `hash`); valid until the next stem_cache_trim. A
 * full cache (or a failed copy) still answers, from the stemmer's buffer, without keeping
 * the word. */
static const char *stem_cached(struct stem_cache *sc, const char *w, size_t n, uint32_t hash,
                               size_t *slen)
{
    uint32_t mask = sc->cap - 1;
    uint32_t i = hash & mask;
    for (; sc->tab[i].w; i = (i + 1) & mask) {
        const struct stem_entry *e = &sc->tab[i];
        if (e->hash == hash && e->wlen == n && !memcmp(e->w, w, n)) {
            *slen = e->slen;
            return e->s == e->w ? w : e->s; /* unchanged: the caller's own word */
        }
    }
    const char *s = sc->st ? text_stem(sc->st, w, n, slen) : (*slen = n, w);
    if (sc->n >= STEM_CACHE_MAX) return s;
    if ((sc->n + 1) * 2 > sc->cap) {
        if (sc->cap >= 2 * STEM_CACHE_MAX || stem_cache_grow(sc) != 0) return s;
        mask = sc->cap - 1;
        for (i = hash & mask; sc->tab[i].w; i = (i + 1) & mask)
            ;
    }
    char *wc = arena_strndup(&sc->arena, w, n);
    const char *sc_s =
        wc && (*slen != n || memcmp(s, w, n)) ? arena_strndup(&sc->arena, s, *slen) : wc;
    if (!wc || !sc_s) return s;
    sc->tab[i] = (struct stem_entry){wc, sc_s, (uint32_t)n, (uint32_t)*slen, hash};
    sc->n++;
    return sc_s == wc ? w : sc_s;
}

static int stemmap_fill(struct doc *d, struct stemmap *m, struct text_stemmer *st,
                        struct stem_cache *sc)
{
    uint32_t nw = d->nwords;
    m->tab_cap = 16;
    while (m->tab_cap < nw * 2 + 2)
        m->tab_cap *= 2;
    struct arena *a = &d->arena;
    m->word_stem = arena_alloc(a, ((size_t)nw + 1) * sizeof *m->word_stem);
    m->stem_s = arena_alloc(a, ((size_t)nw + 1) * sizeof *m->stem_s);
    m->stem_len = arena_alloc(a, ((size_t)nw + 1) * sizeof *m->stem_len);
    m->stem_hash = arena_alloc(a, ((size_t)nw + 1) * sizeof *m->stem_hash);
    m->npos = arena_alloc(a, ((size_t)nw + 1) * sizeof *m->npos);
    m->pos_off = arena_alloc(a, ((size_t)nw + 1) * sizeof *m->pos_off);
    m->pos = arena_alloc(a, ((size_t)d->ntoks + 1) * sizeof *m->pos);
    m->tab = arena_alloc(a, (size_t)m->tab_cap * sizeof *m->tab);
    if (!m->word_stem || !m->stem_s || !m->stem_len || !m->stem_hash || !m->npos || !m->pos_off ||
        !m->pos || !m->tab)
        return -1;
    memset(m->npos, 0, ((size_t)nw + 1) * sizeof *m->npos);
    memset(m->tab, 0, (size_t)m->tab_cap * sizeof *m->tab);
    for (uint32_t w = 0; w < nw; w++) {
        const struct dword *dw = &d->words[w];
        size_t sl = dw->len;
        const char *s = sc   ? stem_cached(sc, dw->s, dw->len, dw->hash, &sl)
                        : st ? text_stem(st, dw->s, dw->len, &sl)
                             : dw->s;
        if (s != dw->s && sl == dw->len && !memcmp(s, dw->s, sl)) s = dw->s; /* unchanged */
        uint32_t hash = s == dw->s ? dw->hash : qhash(s, sl);
        uint32_t id = stem_find(m, s, sl, hash);
        if (id == UINT32_MAX) {
            id = m->nstems++;
            const char *copy = s == dw->s ? dw->s : arena_strndup(&d->arena, s, sl);
            if (!copy) return -1;
            m->stem_s[id] = copy;
            m->stem_len[id] = (uint32_t)sl;
            m->stem_hash[id] = hash;
            uint32_t h = m->stem_hash[id] & (m->tab_cap - 1);
            while (m->tab[h])
                h = (h + 1) & (m->tab_cap - 1);
            m->tab[h] = id + 1;
        }
        m->word_stem[w] = id;
        m->npos[id] += dw->npos;
    }
    uint32_t off = 0;
    for (uint32_t s = 0; s < m->nstems; s++) {
        m->pos_off[s] = off;
        off += m->npos[s];
        m->npos[s] = 0;
    }
    for (uint32_t t = 0; t < d->ntoks; t++) {
        uint32_t s = m->word_stem[d->toks[t].word];
        m->pos[m->pos_off[s] + m->npos[s]++] = t;
    }
    return 0;
}

static struct stemmap *stems_build(struct doc *d, const char *lang, struct stem_cache *sc)
{
    for (int i = 0; i < d->nstems; i++)
        if (!strcmp(d->stems[i]->lang, lang)) return d->stems[i];
    if (d->nstems == (int)(sizeof d->stems / sizeof d->stems[0])) {
        /* many languages on one doc: drop the oldest map (its memory goes with the doc) */
        memmove(d->stems, d->stems + 1, (size_t)(d->nstems - 1) * sizeof d->stems[0]);
        d->nstems--;
    }
    /* The map and its arrays live in the doc's arena: one article's lookups cost a few
     * blocks, not a dozen mallocs and frees (a tenth of the CPU at 200,000 articles). */
    struct stemmap *m = arena_alloc(&d->arena, sizeof *m);
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    snprintf(m->lang, sizeof m->lang, "%s", lang);
    int rc;
    if (sc) {
        stem_cache_trim(sc);
        rc = stemmap_fill(d, m, NULL, sc);
    } else {
        struct text_stemmer *st = lang[0] ? text_stemmer_new(lang) : NULL;
        rc = (lang[0] && !st) ? -1 : stemmap_fill(d, m, st, NULL);
        text_stemmer_free(st);
    }
    if (rc < 0) return NULL;
    d->stems[d->nstems++] = m;
    return m;
}

struct stemmap *doc_stems(struct doc *d, const char *lang)
{
    return stems_build(d, lang, NULL);
}

struct stemmap *doc_stems_cached(struct doc *d, struct stem_cache *sc)
{
    return stems_build(d, sc->lang, sc);
}

/* ---- evaluation ---- */

struct evi {
    const char *term;
    uint32_t start, end;
    uint8_t field;
};

struct span {
    uint32_t first, last;
    uint8_t field;
    uint32_t nev;
    struct evi *ev;
};

struct spans {
    struct span *v;
    size_t n;
};

struct ectx {
    const struct query *q;
    struct doc *d;
    struct evidence_list *ev; /* NULL: not collecting */
    size_t ev_base;
    struct stemmap *sm;
    int oom;
};

struct rword {
    const struct qword *w;
    uint32_t id; /* QW_EXACT: word id; QW_STEM: stem id; UINT32_MAX when absent */
};

static struct stemmap *ctx_stems(struct ectx *c)
{
    if (!c->sm) {
        c->sm = doc_stems(c->d, c->q->lang);
        if (!c->sm) c->oom = 1;
    }
    return c->sm;
}

static int rword_init(struct ectx *c, const struct qword *w, struct rword *r)
{
    r->w = w;
    r->id = UINT32_MAX;
    if (w->kind == QW_EXACT) {
        r->id = word_find(c->d, w->folded, w->flen, w->fhash);
    } else if (w->kind == QW_STEM) {
        struct stemmap *m = ctx_stems(c);
        if (!m) return -1;
        r->id = stem_find(m, w->stem, w->slen, w->shash);
    }
    return 0;
}

/* Restricted Damerau-Levenshtein distance of two code point strings, or max+1 when above
 * `max` (rows stop early once every cell exceeds it). */
static int edit_distance(const int32_t *a, int n, const int32_t *b, int m, int max)
{
    int rows[3][TEXT_WORD_MAX + 2];
    int *pp = rows[0], *prev = rows[1], *cur = rows[2];
    int prevbest = 0;
    for (int j = 0; j <= m; j++)
        prev[j] = j;
    for (int i = 1; i <= n; i++) {
        cur[0] = i;
        int best = cur[0];
        for (int j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v) v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < best) best = v;
        }
        /* a transposition reaches back two rows, so both must be past the limit */
        if (best > max && prevbest > max) return max + 1;
        prevbest = best;
        int *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

static int to_cps(const char *s, size_t n, int32_t *out, int cap)
{
    int k = 0;
    size_t i = 0;
    while (i < n && k < cap) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t l =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (l <= 0) {
            cp = (unsigned char)s[i];
            l = 1;
        }
        out[k++] = cp;
        i += (size_t)l;
    }
    return k;
}

/* 1 when more than `k` (0 to 2) bits of x are set; popcount without the CPU instruction. */
static int bits_above(uint64_t x, int k)
{
    for (int i = 0; i < k && x; i++)
        x &= x - 1;
    return x != 0;
}

static int fuzzy_ok(const struct qword *w, const struct dword *dw)
{
    int dn = (int)dw->ncp - (int)w->ncp;
    if (dn > w->dist || -dn > w->dist) return 0;
    int32_t a[TEXT_WORD_MAX + 1], b[TEXT_WORD_MAX + 1];
    int n, m;
    if (w->ncp == w->flen && dw->ncp == dw->len) { /* ASCII: no decoding needed */
        /* each edit adds or removes at most one distinct character on either side */
        if (bits_above(w->cmask & ~dw->cmask, w->dist) ||
            bits_above(dw->cmask & ~w->cmask, w->dist))
            return 0;
        n = (int)w->flen;
        m = (int)dw->len;
        for (int i = 0; i < n; i++)
            a[i] = (unsigned char)w->folded[i];
        for (int i = 0; i < m; i++)
            b[i] = (unsigned char)dw->s[i];
    } else {
        n = to_cps(w->folded, w->flen, a, TEXT_WORD_MAX);
        m = to_cps(dw->s, dw->len, b, TEXT_WORD_MAX);
    }
    return edit_distance(a, n, b, m, w->dist) <= w->dist;
}

static int word_ok(struct ectx *c, const struct rword *r, uint32_t word)
{
    const struct qword *w = r->w;
    const struct dword *dw = &c->d->words[word];
    switch (w->kind) {
    case QW_EXACT:
        return word == r->id;
    case QW_STEM:
        return r->id != UINT32_MAX && c->sm->word_stem[word] == r->id;
    case QW_PREFIX:
        return dw->len >= w->flen && !memcmp(dw->s, w->folded, w->flen);
    case QW_FUZZY:
        return fuzzy_ok(w, dw);
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Positions of the words [ids, ids + n) merged in ascending order (scratch memory). */
static int merge_words(struct ectx *c, const uint32_t *ids, size_t n, const uint32_t **v,
                       size_t *nv)
{
    if (n == 1) {
        const struct dword *dw = &c->d->words[ids[0]];
        *v = c->d->wpos + dw->pos_off;
        *nv = dw->npos;
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += c->d->words[ids[i]].npos;
    uint32_t *out = scratch_alloc(c->d, total * sizeof *out + 1);
    if (!out) return c->oom = 1, -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dword *dw = &c->d->words[ids[i]];
        memcpy(out + k, c->d->wpos + dw->pos_off, dw->npos * sizeof *out);
        k += dw->npos;
    }
    if (k > 1) qsort(out, k, sizeof *out, cmp_u32);
    *v = out;
    *nv = k;
    return 0;
}

/* Bytes of the first two characters of s[0..n), or 0 when it has fewer. */
static size_t two_chars(const char *s, size_t n)
{
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        if (i >= n) return 0;
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* Bytes of the last two characters of s[0..n), or 0 when it has fewer. */
static size_t last_two(const char *s, size_t n)
{
    size_t i = n;
    for (int k = 0; k < 2; k++) {
        if (i == 0) return 0;
        i--;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
    }
    return n - i;
}

static uint32_t table_cap(const struct doc *d)
{
    uint32_t cap = 16;
    while (cap < d->nwords)
        cap *= 2;
    return cap;
}

/* Chain the doc's words by their first (or last) two characters: a wildcard then only
 * compares the words of its chain, a fuzzy word those of two chains. */
static int ends_table(struct doc *d, int last, uint32_t **headp, uint32_t **nextp)
{
    uint32_t cap = table_cap(d);
    uint32_t *head = calloc(cap, sizeof *head);
    uint32_t *next = malloc(((size_t)d->nwords + 1) * sizeof *next);
    *headp = head;
    *nextp = next;
    if (!head || !next) return -1;
    d->pfx_cap = cap;
    for (uint32_t i = 0; i < d->nwords; i++) {
        const struct dword *dw = &d->words[i];
        size_t k = last ? last_two(dw->s, dw->len) : two_chars(dw->s, dw->len);
        next[i] = 0;
        if (k == 0) continue;
        uint32_t h = qhash(dw->s + (last ? dw->len - k : 0), k) & (cap - 1);
        next[i] = head[h];
        head[h] = i + 1;
    }
    return 0;
}

/* memcmp(a, b, n) == 0 for the few bytes of word ends and prefixes, without a call. */
static int same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* A growing list of word ids in scratch memory; the first id needs no allocation. */
struct idvec {
    uint32_t *v;
    size_t n, cap;
    uint32_t one;
};

static int idvec_push(struct ectx *c, struct idvec *iv, uint32_t id)
{
    if (iv->n == 0) {
        iv->one = id;
        iv->v = &iv->one;
        iv->n = iv->cap = 1;
        return 0;
    }
    if (iv->n == iv->cap) {
        size_t nc = iv->cap * 4;
        uint32_t *m = scratch_alloc(c->d, nc * sizeof *m);
        if (!m) return c->oom = 1, -1;
        memcpy(m, iv->v, iv->n * sizeof *m);
        iv->v = m;
        iv->cap = nc;
    }
    iv->v[iv->n++] = id;
    return 0;
}

static int prefix_words(struct ectx *c, const struct qword *w, const uint32_t **v, size_t *nv)
{
    struct doc *d = c->d;
    *nv = 0;
    if (!d->nwords) return 0;
    if (!d->pfx_head && ends_table(d, 0, &d->pfx_head, &d->pfx_next) < 0) return c->oom = 1, -1;
    size_t k = two_chars(w->folded, w->flen);
    if (k == 0) return 0;
    struct idvec iv = {NULL, 0, 0, 0};
    for (uint32_t id = d->pfx_head[qhash(w->folded, k) & (d->pfx_cap - 1)]; id;
         id = d->pfx_next[id - 1]) {
        const struct dword *dw = &d->words[id - 1];
        if (dw->len < w->flen || !same_bytes(dw->s, w->folded, w->flen)) continue;
        if (idvec_push(c, &iv, id - 1) < 0) return -1;
    }
    if (iv.n == 0) return 0;
    return merge_words(c, iv.v, iv.n, v, nv);
}

enum { LEN_BUCKETS = TEXT_WORD_MAX + 2 }; /* lengths 0..TEXT_WORD_MAX, longer share the last */

static uint32_t len_bucket(uint32_t ncp)
{
    return ncp < LEN_BUCKETS - 1 ? ncp : LEN_BUCKETS - 1;
}

/* Group the doc's words by length (a counting sort): a fuzzy word at distance k only needs
 * the words within k characters of its own length. */
static int length_table(struct doc *d)
{
    d->bylen_off = calloc(LEN_BUCKETS + 1, sizeof *d->bylen_off);
    d->bylen = malloc(((size_t)d->nwords + 1) * sizeof *d->bylen);
    if (!d->bylen_off || !d->bylen) return -1;
    for (uint32_t i = 0; i < d->nwords; i++)
        d->bylen_off[len_bucket(d->words[i].ncp) + 1]++;
    for (uint32_t b = 0; b < LEN_BUCKETS; b++)
        d->bylen_off[b + 1] += d->bylen_off[b];
    uint32_t fill[LEN_BUCKETS];
    memcpy(fill, d->bylen_off, sizeof fill);
    for (uint32_t i = 0; i < d->nwords; i++)
        d->bylen[fill[len_bucket(d->words[i].ncp)]++] = i;
    return 0;
}

/* A word within one edit of a word of 5 or more characters keeps its first two or its last
 * two characters (an edit at position 0 or 1 leaves positions n-2 and n-1 alone), so only
 * the words of those two chains can match. */
static int fuzzy_by_ends(struct ectx *c, const struct qword *w, const uint32_t **v, size_t *nv)
{
    struct doc *d = c->d;
    if ((!d->pfx_head && ends_table(d, 0, &d->pfx_head, &d->pfx_next) < 0) ||
        (!d->sfx_head && ends_table(d, 1, &d->sfx_head, &d->sfx_next) < 0))
        return c->oom = 1, -1;
    size_t p2 = two_chars(w->folded, w->flen), s2 = last_two(w->folded, w->flen);
    const char *tail = w->folded + w->flen - s2;
    struct idvec iv = {NULL, 0, 0, 0};
    for (uint32_t id = d->pfx_head[qhash(w->folded, p2) & (d->pfx_cap - 1)]; id;
         id = d->pfx_next[id - 1]) {
        const struct dword *dw = &d->words[id - 1];
        if (dw->len < p2 || !same_bytes(dw->s, w->folded, p2) || !fuzzy_ok(w, dw)) continue;
        if (idvec_push(c, &iv, id - 1) < 0) return -1;
    }
    for (uint32_t id = d->sfx_head[qhash(tail, s2) & (d->pfx_cap - 1)]; id;
         id = d->sfx_next[id - 1]) {
        const struct dword *dw = &d->words[id - 1];
        if (dw->len < s2 || !same_bytes(dw->s + dw->len - s2, tail, s2)) continue;
        if (dw->len >= p2 && same_bytes(dw->s, w->folded, p2)) continue; /* in the first chain */
        if (!fuzzy_ok(w, dw)) continue;
        if (idvec_push(c, &iv, id - 1) < 0) return -1;
    }
    if (iv.n == 0) return 0;
    return merge_words(c, iv.v, iv.n, v, nv);
}

static int fuzzy_words(struct ectx *c, const struct qword *w, const uint32_t **v, size_t *nv)
{
    struct doc *d = c->d;
    *nv = 0;
    if (!d->nwords) return 0;
    if (w->dist == 1 && w->ncp >= 5) return fuzzy_by_ends(c, w, v, nv);
    if (!d->bylen && length_table(d) < 0) return c->oom = 1, -1;
    uint32_t ncp = (uint32_t)w->ncp, dist = (uint32_t)w->dist;
    uint32_t lo = len_bucket(ncp > dist ? ncp - dist : 0), hi = len_bucket(ncp + dist);
    uint32_t from = d->bylen_off[lo], to = d->bylen_off[hi + 1];
    if (from == to) return 0;
    uint32_t *ids = scratch_alloc(d, (size_t)(to - from) * sizeof *ids);
    if (!ids) return c->oom = 1, -1;
    size_t n = 0;
    for (uint32_t i = from; i < to; i++)
        if (fuzzy_ok(w, &d->words[d->bylen[i]])) ids[n++] = d->bylen[i];
    if (n == 0) return 0;
    return merge_words(c, ids, n, v, nv);
}

/* The token positions where word matcher r matches, ascending. */
static int rword_positions(struct ectx *c, const struct rword *r, const uint32_t **v, size_t *nv)
{
    *v = NULL;
    *nv = 0;
    switch (r->w->kind) {
    case QW_EXACT:
        if (r->id == UINT32_MAX) return 0;
        return merge_words(c, &r->id, 1, v, nv);
    case QW_STEM:
        if (r->id == UINT32_MAX) return 0;
        *v = c->sm->pos + c->sm->pos_off[r->id];
        *nv = c->sm->npos[r->id];
        return 0;
    case QW_PREFIX:
        return prefix_words(c, r->w, v, nv);
    case QW_FUZZY:
        return fuzzy_words(c, r->w, v, nv);
    }
    return 0;
}

static int spans_push(struct ectx *c, struct spans *s, size_t *cap, const struct span *sp)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct span *v = scratch_alloc(c->d, nc * sizeof *v);
        if (!v) return c->oom = 1, -1;
        if (s->n) memcpy(v, s->v, s->n * sizeof *v);
        s->v = v;
        *cap = nc;
    }
    s->v[s->n++] = *sp;
    return 0;
}

static int span_one(struct ectx *c, const struct qnode *n, uint32_t first, uint32_t last,
                    struct spans *out, size_t *cap)
{
    struct evi *e = scratch_alloc(c->d, sizeof *e);
    if (!e) return c->oom = 1, -1;
    const struct dtok *t = c->d->toks;
    e->term = n->term;
    e->start = t[first].start;
    e->end = t[last].end;
    e->field = t[first].field;
    struct span sp = {first, last, t[first].field, 1, e};
    return spans_push(c, out, cap, &sp);
}

static int in_scope(const struct qnode *n, const struct dtok *t)
{
    return (n->fields >> t->field) & 1u;
}

/* Exact phrase (or a single word) starting at each position of word 0. */
static int seq_exact(struct ectx *c, const struct qnode *n, const struct rword *rw,
                     struct spans *out, int stop_first)
{
    const uint32_t *pos;
    size_t np, cap = 0;
    if (rword_positions(c, &rw[0], &pos, &np) < 0) return -1;
    const struct doc *d = c->d;
    for (size_t i = 0; i < np && out->n < SPAN_CAP; i++) {
        uint32_t p = pos[i];
        if (!in_scope(n, &d->toks[p])) continue;
        if ((size_t)p + n->nwords > d->ntoks) continue;
        size_t k;
        for (k = 1; k < n->nwords; k++) {
            const struct dtok *t = &d->toks[p + k];
            if (t->field != d->toks[p].field || !word_ok(c, &rw[k], t->word)) break;
        }
        if (k < n->nwords) continue;
        if (span_one(c, n, p, p + (uint32_t)n->nwords - 1, out, &cap) < 0) return -1;
        if (stop_first) break;
    }
    return 0;
}

struct slop_state {
    struct ectx *c;
    const struct rword *rw;
    size_t k;
    uint32_t lo, hi; /* window of token positions */
    uint32_t anchor;
    uint32_t *assign;
    long steps;
};

/* Give each phrase word a distinct token of the window; the anchor must be used. */
static int slop_assign(struct slop_state *s, size_t i)
{
    if (--s->steps < 0) return 0;
    if (i == s->k) {
        for (size_t j = 0; j < s->k; j++)
            if (s->assign[j] == s->anchor) return 1;
        return 0;
    }
    const struct dtok *toks = s->c->d->toks;
    for (uint32_t t = s->lo; t <= s->hi; t++) {
        size_t j;
        for (j = 0; j < i && s->assign[j] != t; j++) {
        }
        if (j < i) continue;
        if (!word_ok(s->c, &s->rw[i], toks[t].word)) continue;
        s->assign[i] = t;
        if (slop_assign(s, i + 1)) return 1;
    }
    return 0;
}

/* Sloppy phrase: every word within a window of nwords + slop positions, in any order. */
static int seq_sloppy(struct ectx *c, const struct qnode *n, const struct rword *rw,
                      struct spans *out, int stop_first)
{
    struct doc *d = c->d;
    size_t total = 0, cap = 0;
    const uint32_t **lists = scratch_alloc(d, n->nwords * sizeof *lists);
    size_t *lens = scratch_alloc(d, n->nwords * sizeof *lens);
    uint32_t *assign = scratch_alloc(d, n->nwords * sizeof *assign);
    if (!lists || !lens || !assign) return c->oom = 1, -1;
    for (size_t i = 0; i < n->nwords; i++) {
        if (rword_positions(c, &rw[i], &lists[i], &lens[i]) < 0) return -1;
        if (lens[i] == 0) return 0;
        total += lens[i];
    }
    uint32_t *cand = scratch_alloc(d, total * sizeof *cand);
    if (!cand) return c->oom = 1, -1;
    size_t nc = 0;
    for (size_t i = 0; i < n->nwords; i++) {
        memcpy(cand + nc, lists[i], lens[i] * sizeof *cand);
        nc += lens[i];
    }
    if (nc > 1) qsort(cand, nc, sizeof *cand, cmp_u32);
    size_t width = n->nwords + (size_t)n->slop;
    struct slop_state s = {c, rw, n->nwords, 0, 0, 0, assign, 0};
    for (size_t i = 0; i < nc && out->n < SPAN_CAP; i++) {
        uint32_t p = cand[i];
        if (i > 0 && cand[i - 1] == p) continue;
        if (!in_scope(n, &d->toks[p])) continue;
        uint8_t f = d->toks[p].field;
        uint32_t hi = p;
        while (hi + 1 < d->ntoks && hi + 1 - p < width && d->toks[hi + 1].field == f)
            hi++;
        s.lo = p;
        s.hi = hi;
        s.anchor = p;
        s.steps = SLOP_STEPS;
        if (!slop_assign(&s, 0)) continue;
        uint32_t last = p;
        for (size_t j = 0; j < n->nwords; j++)
            if (assign[j] > last) last = assign[j];
        if (span_one(c, n, p, last, out, &cap) < 0) return -1;
        if (stop_first) break;
    }
    return 0;
}

static int eval_seq(struct ectx *c, const struct qnode *n, struct spans *out, int stop_first)
{
    struct rword small[8];
    struct rword *rw = small;
    if (n->nwords > 8) {
        rw = scratch_alloc(c->d, n->nwords * sizeof *rw);
        if (!rw) return c->oom = 1, -1;
    }
    for (size_t i = 0; i < n->nwords; i++)
        if (rword_init(c, &n->words[i], &rw[i]) < 0) return -1;
    if (n->slop >= 0) return seq_sloppy(c, n, rw, out, stop_first);
    return seq_exact(c, n, rw, out, stop_first);
}

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->last < y->last ? -1 : x->last > y->last;
}

static int eval_spans(struct ectx *c, const struct qnode *n, struct spans *out, int stop_first);

static int eval_or_spans(struct ectx *c, const struct qnode *n, struct spans *out)
{
    size_t cap = 0;
    for (size_t i = 0; i < n->nkids; i++) {
        struct spans k = {NULL, 0};
        if (eval_spans(c, n->kids[i], &k, 0) < 0) return -1;
        for (size_t j = 0; j < k.n && out->n < SPAN_CAP; j++)
            if (spans_push(c, out, &cap, &k.v[j]) < 0) return -1;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_span);
    return 0;
}

static int near_pair(struct ectx *c, const struct span *a, const struct span *b, struct spans *out,
                     size_t *cap)
{
    struct evi *e = scratch_alloc(c->d, ((size_t)a->nev + b->nev) * sizeof *e);
    if (!e) return c->oom = 1, -1;
    memcpy(e, a->ev, a->nev * sizeof *e);
    memcpy(e + a->nev, b->ev, b->nev * sizeof *e);
    struct span sp = {a->first < b->first ? a->first : b->first,
                      a->last > b->last ? a->last : b->last, a->field, a->nev + b->nev, e};
    return spans_push(c, out, cap, &sp);
}

/* Pairs of non-overlapping spans of the two operands, in one field, at most `near` apart. */
static int eval_near(struct ectx *c, const struct qnode *n, struct spans *out, int stop_first)
{
    struct spans a = {NULL, 0}, b = {NULL, 0};
    if (eval_spans(c, n->kids[0], &a, 0) < 0) return -1;
    if (a.n == 0) return 0;
    if (eval_spans(c, n->kids[1], &b, 0) < 0) return -1;
    if (b.n == 0) return 0;
    uint32_t maxw = 0;
    for (size_t j = 0; j < b.n; j++)
        if (b.v[j].last - b.v[j].first > maxw) maxw = b.v[j].last - b.v[j].first;
    uint32_t dist = (uint32_t)n->near;
    size_t lo = 0, cap = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct span *x = &a.v[i];
        while (lo < b.n && (uint64_t)b.v[lo].first + maxw + dist < x->first)
            lo++;
        for (size_t j = lo; j < b.n; j++) {
            const struct span *y = &b.v[j];
            if ((uint64_t)y->first > (uint64_t)x->last + dist) break;
            if (y->field != x->field) continue;
            uint64_t gap;
            if (y->first > x->last)
                gap = y->first - x->last;
            else if (x->first > y->last)
                gap = x->first - y->last;
            else
                continue; /* overlapping: the same words cannot count twice */
            if (gap > dist) continue;
            if (out->n >= SPAN_CAP) goto done;
            if (near_pair(c, x, y, out, &cap) < 0) return -1;
            if (stop_first) return 0;
        }
    }
done: /* callers rely on spans ordered by position */
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_span);
    return 0;
}

static int eval_spans(struct ectx *c, const struct qnode *n, struct spans *out, int stop_first)
{
    out->v = NULL;
    out->n = 0;
    switch (n->kind) {
    case QN_SEQ:
        return eval_seq(c, n, out, stop_first);
    case QN_OR:
        return eval_or_spans(c, n, out);
    case QN_NEAR:
        return eval_near(c, n, out, stop_first);
    default:
        return 0; /* the parser only puts positional nodes here */
    }
}

static int ev_add(struct ectx *c, const char *term, uint8_t field, size_t start, size_t end)
{
    struct evidence_list *ev = c->ev;
    for (size_t i = c->ev_base; i < ev->n; i++) {
        const struct evidence *e = &ev->v[i];
        /* one span once, even when several forms of a concept found it */
        if (e->start == start && e->end == end && e->field == qfield_name(field)) return 0;
    }
    if (ev->n - c->ev_base >= EV_MATCH_CAP) return 0;
    struct evidence e = {qfield_name(field), start, end, term};
    if (evidence_push(ev, &e) < 0) return c->oom = 1, -1;
    return 0;
}

static int emit_spans(struct ectx *c, const struct spans *s)
{
    for (size_t i = 0; i < s->n; i++)
        for (uint32_t k = 0; k < s->v[i].nev; k++) {
            const struct evi *e = &s->v[i].ev[k];
            if (ev_add(c, e->term, e->field, e->start, e->end) < 0) return -1;
        }
    return 0;
}

static int regex_prepare(struct ectx *c)
{
    struct doc *d = c->d;
    if (d->md) return 0;
    d->md = pcre2_match_data_create(16, NULL);
    d->mctx = pcre2_match_context_create(NULL);
    if (!d->md || !d->mctx) return c->oom = 1, -1;
    /* hostile patterns or texts must not stall the loop */
    pcre2_set_match_limit(d->mctx, 1000000);
    pcre2_set_depth_limit(d->mctx, 10000);
    pcre2_set_heap_limit(d->mctx, 20000);
    return 0;
}

static int eval_regex(struct ectx *c, const struct qnode *n)
{
    struct doc *d = c->d;
    if (regex_prepare(c) < 0) return -1;
    int found = 0;
    for (int f = 0; f < QF_COUNT; f++) {
        if (!((n->fields >> f) & 1u) || !d->fstr[f]) continue;
        PCRE2_SIZE off = 0, len = d->flen[f];
        for (int hits = 0; hits < REGEX_HITS_CAP && off <= len; hits++) {
            int rc = pcre2_match(n->re, (PCRE2_SPTR)d->fstr[f], len, off, 0, d->md, d->mctx);
            if (rc < 0) break; /* no match, or a limit hit: nothing more in this field */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(d->md);
            found = 1;
            if (!c->ev) return 1;
            if (ev_add(c, n->term, (uint8_t)f, ov[0], ov[1]) < 0) return -1;
            off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
            while (off < len && ((unsigned char)d->fstr[f][off] & 0xC0) == 0x80)
                off++;
        }
    }
    return found;
}

static int eval_bool(struct ectx *c, const struct qnode *n)
{
    switch (n->kind) {
    case QN_AND: {
        size_t mark = c->ev ? c->ev->n : 0;
        for (size_t i = 0; i < n->nkids; i++) {
            int r = eval_bool(c, n->kids[i]);
            if (r <= 0) {
                if (c->ev) c->ev->n = mark;
                return r;
            }
        }
        return 1;
    }
    case QN_OR: {
        int any = 0;
        for (size_t i = 0; i < n->nkids; i++) {
            int r = eval_bool(c, n->kids[i]);
            if (r < 0) return -1;
            if (r) any = 1;
            if (any && !c->ev) break;
        }
        return any;
    }
    case QN_NOT: {
        struct evidence_list *saved = c->ev;
        c->ev = NULL;
        int r = eval_bool(c, n->kids[0]);
        c->ev = saved;
        return r < 0 ? -1 : !r;
    }
    case QN_REGEX:
        return eval_regex(c, n);
    case QN_SEQ:
    case QN_NEAR: {
        struct spans s;
        if (eval_spans(c, n, &s, !c->ev) < 0) return -1;
        if (s.n && c->ev && emit_spans(c, &s) < 0) return -1;
        return s.n > 0;
    }
    }
    return 0;
}

int query_match(const struct query *q, struct doc *d, struct evidence_list *ev)
{
    if (!q || !d) return 0;
    struct ectx c = {q, d, ev, ev ? ev->n : 0, NULL, 0};
    scratch_reset(d);
    int r = eval_bool(&c, q->root);
    if (c.oom) r = -1;
    if (r <= 0 && ev) ev->n = c.ev_base;
    return r;
}

int evidence_push(struct evidence_list *ev, const struct evidence *e)
{
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 16;
        struct evidence *v = realloc(ev->v, cap * sizeof *v);
        if (!v) return -1;
        ev->v = v;
        ev->cap = cap;
    }
    ev->v[ev->n++] = *e;
    return 0;
}

void evidence_list_free(struct evidence_list *ev)
{
    if (!ev) return;
    free(ev->v);
    ev->v = NULL;
    ev->n = ev->cap = 0;
}
