/*
 * text — splitting UTF-8 text into words and normalising them, the ground the query
 * language stands on. Input: article fields and query terms (any UTF-8, possibly invalid);
 * output: words with byte spans, their folded forms (NFKC, case folded, accents removed)
 * and Snowball stems (libstemmer) by language. Used by match.c, query.c and anyone who
 * needs comparable word forms (dedupe, clustering).
 */
#ifndef HERALD_TEXT_H
#define HERALD_TEXT_H

#include <stddef.h>

/* Longest folded word kept, in bytes; longer words are cut at a character boundary. */
#define TEXT_WORD_MAX 128

/* One word of the input. */
struct text_token {
    size_t start, end;  /* byte span in the input */
    const char *folded; /* NUL-terminated folded form, valid during the callback only */
    size_t folded_len;  /* bytes, never 0 */
};

/* Called for each word in order; a non-zero return stops the walk. */
typedef int (*text_token_fn)(void *arg, const struct text_token *t);

/* Split s[0..len) into words (letters, digits and marks; "Iraq's" gives "iraq", hyphens and
 * other punctuation separate words, each Han/kana character is a word of its own) and call
 * fn for each. Returns 0, or the first non-zero value fn returned. */
int text_tokenize(const char *s, size_t len, text_token_fn fn, void *arg);

/* Fold s[0..len) as one word (NFKC, case folding, accents stripped) into out[0..cap),
 * NUL-terminated; returns the length written. cap must be at least 1. */
size_t text_fold(const char *s, size_t len, char *out, size_t cap);

/* The ISO 639-1 code of the Snowball stemmer for a language tag ("en", "en-GB", "pt_BR",
 * "english"), or NULL when there is no stemmer for it. The result is a static string. */
const char *text_stem_lang(const char *tag);

struct text_stemmer;

/* A stemmer for a code from text_stem_lang(); NULL when unsupported or out of memory. */
struct text_stemmer *text_stemmer_new(const char *lang);
/* Release a stemmer. NULL is allowed. */
void text_stemmer_free(struct text_stemmer *s);
/* The stem of the folded word w[0..n); the pointer is valid until the next call on `s`.
 * Falls back to the word itself when stemming fails. Sets *outlen. */
const char *text_stem(struct text_stemmer *s, const char *w, size_t n, size_t *outlen);

/* The folded words of s joined by single spaces, as a malloc'ed string the caller frees;
 * NULL when out of memory. NULL input gives an empty string. */
char *text_normalize(const char *s);

/* Number of UTF-8 characters in s[0..n) (lead bytes counted). */
size_t text_utf8_len(const char *s, size_t n);

#endif
