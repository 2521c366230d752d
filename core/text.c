/*
 * text — word segmentation and normalisation. Words are runs of letters, digits and
 * combining marks (utf8proc categories), with digits joined across "," and "." ("6,000");
 * an English possessive "'s" is dropped, other apostrophes and all other punctuation
 * separate words. Folding is NFKC + case folding + removal of accents (combining marks
 * after Latin, Greek, Cyrillic, Arabic and Hebrew letters; the vowel signs of Indic and
 * South-East Asian scripts are kept because they are not accents there). ASCII words take a
 * fast path. Stemming wraps libstemmer (Snowball) per language.
 */
#include "text.h"

#include <libstemmer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum cls { C_SEP, C_WORD, C_DIGIT, C_IDEO };

/* Class of an ASCII byte, computed without a table so the code stays obvious. */
static enum cls ascii_cls(unsigned char c)
{
    if (c >= '0' && c <= '9') return C_DIGIT;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return C_WORD;
    return C_SEP;
}

/* Han ideographs and kana have no spaces between words: each character is a word. */
static int is_ideo(int32_t c)
{
    return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x20000 && c <= 0x3FFFF);
}

static enum cls cp_cls(int32_t c)
{
    if (c < 0x80) return ascii_cls((unsigned char)c);
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return is_ideo(c) ? C_IDEO : C_WORD;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return C_WORD;
    case UTF8PROC_CATEGORY_ND:
        return C_DIGIT;
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return C_WORD;
    default:
        return C_SEP;
    }
}

/* Decode one character at s[i]; invalid bytes decode as a separator of length 1. */
static size_t decode(const char *s, size_t len, size_t i, int32_t *cp)
{
    unsigned char b = (unsigned char)s[i];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    utf8proc_ssize_t n =
        utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), cp);
    if (n <= 0) {
        *cp = -1;
        return 1;
    }
    return (size_t)n;
}

static enum cls cls_decode(const char *s, size_t len, size_t i, size_t *clen)
{
    int32_t cp;
    *clen = decode(s, len, i, &cp);
    return cp < 0 ? C_SEP : cp_cls(cp);
}

/* The class of the character at s[i] and its length. ASCII, nearly every byte of most
 * text, is decided here inline: this is called once per character of every article. */
static inline enum cls cls_at(const char *s, size_t len, size_t i, size_t *clen)
{
    unsigned char b = (unsigned char)s[i];
    if (b < 0x80) {
        *clen = 1;
        return ascii_cls(b);
    }
    return cls_decode(s, len, i, clen);
}

/* Marks after these base letters are accents to strip. */
static int strips_marks(int32_t base)
{
    if (base < 0x0900) return 1; /* Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, … */
    if (base >= 0x1E00 && base <= 0x1FFF) return 1; /* Latin/Greek extended */
    return 0;
}

static int is_mark(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME;
}

/* Cut a UTF-8 string at a character boundary so it fits in `max` bytes. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

enum { FOLD_IN_MAX = 4 * TEXT_WORD_MAX, FOLD_BUF = 2048 };

static size_t fold_unicode(const char *s, size_t len, char *out, size_t cap)
{
    utf8proc_int32_t buf[FOLD_BUF];
    const utf8proc_option_t opt = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD;
    len = utf8_cut(s, len, FOLD_IN_MAX);
    utf8proc_ssize_t n;
    for (;;) {
        n = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, buf, FOLD_BUF,
                               opt);
        if (n < 0) return 0;
        if (n <= FOLD_BUF) break;
        len = utf8_cut(s, len, len / 2); /* rare: huge compatibility expansions */
        if (len == 0) return 0;
    }
    utf8proc_ssize_t k = 0;
    int32_t base = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t c = buf[i];
        if (is_mark(c) && strips_marks(base)) continue;
        if (!is_mark(c)) base = c;
        buf[k++] = c;
    }
    if (k == 0) return 0;
    utf8proc_ssize_t bytes = utf8proc_reencode(buf, k, UTF8PROC_COMPOSE);
    if (bytes <= 0) return 0;
    const char *u = (const char *)buf;
    size_t m = utf8_cut(u, (size_t)bytes, cap - 1);
    memcpy(out, u, m);
    out[m] = '\0';
    return m;
}

size_t text_fold(const char *s, size_t len, char *out, size_t cap)
{
    size_t i;
    for (i = 0; i < len && (unsigned char)s[i] < 0x80; i++) {
    }
    if (i < len) return fold_unicode(s, len, out, cap);
    size_t m = len < cap - 1 ? len : cap - 1;
    for (i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[m] = '\0';
    return m;
}

static int is_apostrophe(const char *s, size_t len, size_t i, size_t *alen)
{
    if (s[i] == '\'') {
        *alen = 1;
        return 1;
    }
    /* U+2019 RIGHT SINGLE QUOTATION MARK, the typographic apostrophe */
    if (i + 2 < len && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
        (unsigned char)s[i + 2] == 0x99) {
        *alen = 3;
        return 1;
    }
    return 0;
}

/* Length of a possessive "'s" at s[i] that ends a word, else 0. */
static size_t possessive_len(const char *s, size_t len, size_t i)
{
    size_t alen, clen;
    if (i >= len || !is_apostrophe(s, len, i, &alen)) return 0;
    size_t j = i + alen;
    if (j >= len || (s[j] != 's' && s[j] != 'S')) return 0;
    if (j + 1 < len && cls_at(s, len, j + 1, &clen) != C_SEP) return 0;
    return alen + 1;
}

/* End of the word starting at `i`; digits may be joined by one '.' or ','. */
static size_t word_end(const char *s, size_t len, size_t i)
{
    enum cls prev = C_SEP;
    while (i < len) {
        size_t clen;
        enum cls k = cls_at(s, len, i, &clen);
        if (k == C_WORD || k == C_DIGIT) {
            prev = k;
            i += clen;
            continue;
        }
        if (prev == C_DIGIT && (s[i] == ',' || s[i] == '.') && i + 1 < len &&
            ascii_cls((unsigned char)s[i + 1]) == C_DIGIT) {
            i++;
            continue;
        }
        break;
    }
    return i;
}

static int emit(const char *s, size_t start, size_t end, text_token_fn fn, void *arg)
{
    char buf[TEXT_WORD_MAX + 1];
    size_t n = text_fold(s + start, end - start, buf, sizeof buf);
    if (n == 0) return 0;
    struct text_token t = {start, end, buf, n};
    return fn(arg, &t);
}

int text_tokenize(const char *s, size_t len, text_token_fn fn, void *arg)
{
    size_t i = 0;
    if (!s) return 0;
    while (i < len) {
        size_t clen;
        enum cls k = cls_at(s, len, i, &clen);
        if (k == C_SEP) {
            i += clen;
            continue;
        }
        size_t end = k == C_IDEO ? i + clen : word_end(s, len, i);
        int rc = emit(s, i, end, fn, arg);
        if (rc) return rc;
        i = end + possessive_len(s, len, end);
    }
    return 0;
}

size_t text_utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* ---- stemming ---- */

static const struct {
    const char *code, *name;
} stem_langs[] = {
    {"ar", "arabic"},     {"ca", "catalan"},   {"da", "danish"},     {"de", "german"},
    {"el", "greek"},      {"en", "english"},   {"es", "spanish"},    {"eu", "basque"},
    {"fi", "finnish"},    {"fr", "french"},    {"ga", "irish"},      {"hi", "hindi"},
    {"hu", "hungarian"},  {"hy", "armenian"},  {"id", "indonesian"}, {"it", "italian"},
    {"lt", "lithuanian"}, {"ne", "nepali"},    {"nl", "dutch"},      {"no", "norwegian"},
    {"nb", "norwegian"},  {"nn", "norwegian"}, {"pt", "portuguese"}, {"ro", "romanian"},
    {"ru", "russian"},    {"sr", "serbian"},   {"sv", "swedish"},    {"ta", "tamil"},
    {"tr", "turkish"},    {"yi", "yiddish"},
};

const char *text_stem_lang(const char *tag)
{
    char low[16];
    size_t n = 0;
    if (!tag) return NULL;
    while (tag[n] && tag[n] != '-' && tag[n] != '_' && n < sizeof low - 1) {
        char c = tag[n];
        low[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    low[n] = '\0';
    for (size_t i = 0; i < sizeof stem_langs / sizeof stem_langs[0]; i++)
        if (!strcmp(low, stem_langs[i].code) || !strcmp(low, stem_langs[i].name))
            return stem_langs[i].code;
    return NULL;
}

struct text_stemmer {
    struct sb_stemmer *sb;
};

static const char *stem_name(const char *code)
{
    for (size_t i = 0; i < sizeof stem_langs / sizeof stem_langs[0]; i++)
        if (!strcmp(code, stem_langs[i].code)) return stem_langs[i].name;
    return NULL;
}

struct text_stemmer *text_stemmer_new(const char *lang)
{
    const char *code = text_stem_lang(lang);
    if (!code) return NULL;
    struct text_stemmer *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->sb = sb_stemmer_new(stem_name(code), "UTF_8");
    if (!s->sb) {
        free(s);
        return NULL;
    }
    return s;
}

void text_stemmer_free(struct text_stemmer *s)
{
    if (!s) return;
    sb_stemmer_delete(s->sb);
    free(s);
}

const char *text_stem(struct text_stemmer *s, const char *w, size_t n, size_t *outlen)
{
    const sb_symbol *r = sb_stemmer_stem(s->sb, (const sb_symbol *)w, (int)n);
    int len = r ? sb_stemmer_length(s->sb) : 0;
    if (!r || len <= 0) {
        *outlen = n;
        return w;
    }
    *outlen = (size_t)len;
    return (const char *)r;
}

/* ---- whole-string normalisation ---- */

struct norm_buf {
    char *p;
    size_t n, cap;
    int oom;
};

static int on_norm(void *arg, const struct text_token *t)
{
    struct norm_buf *b = arg;
    size_t need = b->n + t->folded_len + 2;
    if (need > b->cap) {
        size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return 1;
        }
        b->p = p;
        b->cap = cap;
    }
    if (b->n) b->p[b->n++] = ' ';
    memcpy(b->p + b->n, t->folded, t->folded_len);
    b->n += t->folded_len;
    b->p[b->n] = '\0';
    return 0;
}

char *text_normalize(const char *s)
{
    struct norm_buf b = {malloc(64), 0, 64, 0};
    if (!b.p) return NULL;
    b.p[0] = '\0';
    if (s) text_tokenize(s, strlen(s), on_norm, &b);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
