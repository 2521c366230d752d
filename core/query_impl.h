/*
 * query_impl — the insides of compiled queries and tokenised docs, shared by the modules
 * of the rule language only: query.c builds the tree, match.c evaluates it against a doc,
 * index.c reads both to pick candidate rules. Nothing outside those files includes this.
 */
#ifndef HERALD_QUERY_IMPL_H
#define HERALD_QUERY_IMPL_H

#include "arena.h"
#include "match.h"
#include "query.h"
#include "text.h"

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Fields of an article, as bit numbers of a scope mask. */
enum qfield { QF_TITLE, QF_TEXT, QF_AUTHOR, QF_LINK, QF_SOURCE, QF_COUNT };
#define QF_DEFAULT ((1u << QF_TITLE) | (1u << QF_TEXT))

/* The name of field `f` ("title", …). */
const char *qfield_name(int f);

/* How one word of a term or phrase compares with a doc's words. */
enum qword_kind {
    QW_STEM,   /* same stem in the query's language */
    QW_EXACT,  /* same folded form */
    QW_PREFIX, /* folded form starts with `folded` */
    QW_FUZZY,  /* folded forms within `dist` edits */
};

struct qword {
    enum qword_kind kind;
    const char *folded; /* folded form (the prefix for QW_PREFIX) */
    size_t flen;
    const char *stem; /* QW_STEM: the stem */
    size_t slen;
    int dist;   /* QW_FUZZY: maximum edit distance, 1 or 2 */
    size_t ncp; /* characters in `folded` */
    /* Computed once at compile time because every candidate doc needs them: */
    uint32_t fhash; /* qhash of `folded` */
    uint32_t shash; /* QW_STEM: qhash of `stem` */
    uint64_t cmask; /* bit (c & 63) set for each byte c of `folded` (fuzzy filter) */
};

enum qnode_kind { QN_AND, QN_OR, QN_NOT, QN_NEAR, QN_SEQ, QN_REGEX };

struct qnode {
    enum qnode_kind kind;
    unsigned fields; /* leaves: scope mask of enum qfield bits */
    int col;         /* 1-based column where the node starts in the source */
    struct qnode **kids;
    size_t nkids; /* AND/OR: n >= 2; NOT: 1; NEAR: 2 */
    int near;     /* NEAR: maximum distance in positions */
    struct qword *words;
    size_t nwords;    /* SEQ: 1 for a term, more for a phrase */
    int slop;         /* SEQ: -1 exact order; >= 0 any order within nwords + slop positions */
    pcre2_code *re;   /* REGEX */
    const char *term; /* leaves: the term as written, for evidence */
};

struct qregex {
    pcre2_code *re;
    struct qregex *next;
};

struct query {
    struct arena arena; /* nodes, words and strings */
    const char *src;
    struct qnode *root;
    char lang[8];           /* stemming language code, "" when none */
    struct qregex *regexes; /* compiled patterns to release */
};

/* 1 when the node can produce positions (terms, phrases, concepts, NEAR, OR of those). */
int qnode_positional(const struct qnode *n);

/* ---- tokenised doc ---- */

struct dtok {
    uint32_t start, end; /* byte span in the field */
    uint32_t word;       /* index into doc.words */
    uint8_t field;       /* enum qfield */
};

struct dword {
    const char *s; /* folded form, in the doc's arena */
    uint32_t len;
    uint32_t hash;
    uint32_t pos_off, npos; /* slice of doc.wpos: token indexes, ascending */
    uint32_t ncp;           /* characters */
    uint64_t cmask;         /* ASCII words: bit (c & 63) set for each byte c; fuzzy filter */
};

/* The stems of a doc's words in one language. */
struct stemmap {
    char lang[8];
    uint32_t *word_stem; /* per word: stem id */
    uint32_t nstems;
    const char **stem_s; /* per stem: string and length */
    uint32_t *stem_len;
    uint32_t *stem_hash;
    uint32_t *tab; /* open addressing: stem id + 1, 0 empty */
    uint32_t tab_cap;
    uint32_t *pos_off, *npos; /* per stem: slice of `pos` */
    uint32_t *pos;
};

struct scratch_chunk;

struct doc {
    const char *fstr[QF_COUNT];
    size_t flen[QF_COUNT];
    char lang[16];
    struct arena arena;
    struct dtok *toks;
    uint32_t ntoks, captoks;
    struct dword *words;
    uint32_t nwords, capwords;
    uint32_t *wtab; /* open addressing: word id + 1, 0 empty */
    uint32_t wtab_cap;
    uint32_t *wpos;
    uint32_t capwpos;
    /* Words chained by the hash of their first two characters (bucket: word id + 1, 0
     * ends a chain), built on the first wildcard lookup. */
    uint32_t *pfx_head, *pfx_next;
    uint32_t pfx_cap;
    /* The same by their last two characters, built on the first fuzzy lookup. */
    uint32_t *sfx_head, *sfx_next;
    /* Word ids grouped by length in characters (bylen_off[n]..bylen_off[n + 1] holds the
     * words of n characters), built on the first fuzzy lookup. */
    uint32_t *bylen, *bylen_off;
    struct stemmap *stems[8];
    int nstems;
    struct scratch_chunk *scratch, *scratch_cur;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};

/* FNV-1a; used for words, stems and index keys. */
uint32_t qhash(const char *s, size_t n);
/* qhash of what was hashed into h followed by s[0..n): qhash(ab) = qhash_more(qhash(a), b). */
uint32_t qhash_more(uint32_t h, const char *s, size_t n);
#define QHASH_START 2166136261u /* qhash of nothing */
/* Bit (c & 63) set for each byte c of s[0..n): a cheap filter for edit distances. */
uint64_t qchar_mask(const char *s, size_t n);
/* The id of folded word w in the doc, or UINT32_MAX. */
uint32_t doc_word_id(const struct doc *d, const char *w, size_t n);
/* The doc's stems in language `lang` ("" for none), computed on first use; NULL when out
 * of memory. */
struct stemmap *doc_stems(struct doc *d, const char *lang);
/* The id of stem s in the map, or UINT32_MAX. */
uint32_t stemmap_id(const struct stemmap *m, const char *s, size_t n);

/* Stems of the words seen in many docs, in one language, so that a word is stemmed once
 * rather than once per doc (Snowball is the dearest step of tokenising). The index owns
 * one per language it looks stems up in. */
struct stem_cache;

/* A cache for language `lang` ("" for none); NULL when out of memory or unsupported. */
struct stem_cache *stem_cache_new(const char *lang);
/* Release a cache. NULL is allowed. */
void stem_cache_free(struct stem_cache *sc);
/* doc_stems() in the cache's language, stemming through the cache. */
struct stemmap *doc_stems_cached(struct doc *d, struct stem_cache *sc);

#endif
