/*
 * test_text — word segmentation, folding and stemming (core/text.c): byte spans of words,
 * possessives, hyphens, numbers, accents, case, scripts, invalid UTF-8, Snowball stems.
 */
#include "check.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

struct toks {
    char words[32][TEXT_WORD_MAX + 1];
    size_t start[32], end[32];
    int n;
};

static int on_tok(void *arg, const struct text_token *t)
{
    struct toks *k = arg;
    if (k->n == 32) return 1;
    memcpy(k->words[k->n], t->folded, t->folded_len + 1);
    k->start[k->n] = t->start;
    k->end[k->n] = t->end;
    k->n++;
    return 0;
}

static struct toks tokenize(const char *s)
{
    struct toks k;
    memset(&k, 0, sizeof k);
    text_tokenize(s, strlen(s), on_tok, &k);
    return k;
}

static const char *fold(const char *s)
{
    static char buf[TEXT_WORD_MAX + 1];
    text_fold(s, strlen(s), buf, sizeof buf);
    return buf;
}

TEST(fold_accents_and_case)
{
    CHECK_STR(fold("Irák"), "irak");
    CHECK_STR(fold("ÉCOLE"), "ecole");
    CHECK_STR(fold("Straße"), "strasse");
    CHECK_STR(fold("\xef\xac\x81ne"), "fine"); /* U+FB01 ligature fi */
    CHECK_STR(fold("Ёлка"), "елка");
    CHECK_STR(fold("Ἀθῆναι"), "αθηναι");
    CHECK_STR(fold("TROOPS"), "troops");
    CHECK_STR(fold("Çağlayan"), "caglayan");
}

TEST(fold_keeps_indic_vowel_signs)
{
    /* Devanagari vowel signs are letters' parts, not accents: stripping them would merge
     * different words. */
    CHECK_STR(fold("हिन्दी"), "हिन्दी");
}

TEST(fold_truncates_at_char_boundary)
{
    char in[400], out[TEXT_WORD_MAX + 1];
    for (int i = 0; i < 199; i++)
        memcpy(in + 2 * i, "é", 2);
    in[398] = '\0';
    size_t n = text_fold(in, strlen(in), out, sizeof out);
    CHECK(n <= TEXT_WORD_MAX);
    CHECK(n > 0);
    CHECK(out[n - 1] == 'e');
}

TEST(tokens_spans_possessive_hyphen_number)
{
    struct toks k = tokenize("Iraq's long-standing troops, 6,000 men.");
    CHECK_INT(k.n, 6);
    CHECK_STR(k.words[0], "iraq");
    CHECK_INT(k.start[0], 0);
    CHECK_INT(k.end[0], 4);
    CHECK_STR(k.words[1], "long");
    CHECK_INT(k.start[1], 7);
    CHECK_STR(k.words[2], "standing");
    CHECK_INT(k.start[2], 12);
    CHECK_INT(k.end[2], 20);
    CHECK_STR(k.words[3], "troops");
    CHECK_STR(k.words[4], "6,000");
    CHECK_INT(k.start[4], 29);
    CHECK_INT(k.end[4], 34);
    CHECK_STR(k.words[5], "men");
    CHECK_INT(k.end[5], 38);
}

TEST(tokens_typographic_apostrophe)
{
    struct toks k = tokenize("Iraq\xe2\x80\x99s Hezbollah");
    CHECK_INT(k.n, 2);
    CHECK_STR(k.words[0], "iraq");
    CHECK_INT(k.end[0], 4);
    CHECK_STR(k.words[1], "hezbollah");
    CHECK_INT(k.start[1], 9);
    CHECK_INT(k.end[1], 18);
}

TEST(tokens_other_apostrophes_split)
{
    struct toks k = tokenize("don't l'armée 'quoted'");
    CHECK_INT(k.n, 5);
    CHECK_STR(k.words[0], "don");
    CHECK_STR(k.words[1], "t");
    CHECK_STR(k.words[2], "l");
    CHECK_STR(k.words[3], "armee");
    CHECK_STR(k.words[4], "quoted");
}

TEST(tokens_accented_span_is_original_bytes)
{
    struct toks k = tokenize("à Irák!");
    CHECK_INT(k.n, 2);
    CHECK_STR(k.words[0], "a");
    CHECK_INT(k.end[0], 2);
    CHECK_STR(k.words[1], "irak");
    CHECK_INT(k.start[1], 3);
    CHECK_INT(k.end[1], 8);
}

TEST(tokens_ideographs_one_each)
{
    struct toks k = tokenize("東京都 Tokyo");
    CHECK_INT(k.n, 4);
    CHECK_INT(k.end[0], 3);
    CHECK_STR(k.words[3], "tokyo");
}

TEST(tokens_invalid_utf8_and_empty)
{
    struct toks k = tokenize("a\xff\xfe"
                             "b \xe2\x80");
    CHECK_INT(k.n, 2);
    CHECK_STR(k.words[0], "a");
    CHECK_STR(k.words[1], "b");
    k = tokenize("  ,,; -- ");
    CHECK_INT(k.n, 0);
    CHECK_INT(text_tokenize(NULL, 0, on_tok, &k), 0);
}

TEST(stem_languages)
{
    CHECK_STR(text_stem_lang("en"), "en");
    CHECK_STR(text_stem_lang("en-GB"), "en");
    CHECK_STR(text_stem_lang("pt_BR"), "pt");
    CHECK_STR(text_stem_lang("English"), "en");
    CHECK_STR(text_stem_lang("nb"), "nb");
    CHECK(text_stem_lang("zh") == NULL);
    CHECK(text_stem_lang("") == NULL);
    CHECK(text_stem_lang(NULL) == NULL);
    CHECK(text_stemmer_new("xx") == NULL);
}

static const char *stem(struct text_stemmer *s, const char *w)
{
    static char buf[256];
    size_t n;
    const char *r = text_stem(s, w, strlen(w), &n);
    memcpy(buf, r, n);
    buf[n] = '\0';
    return buf;
}

TEST(stem_english)
{
    struct text_stemmer *s = text_stemmer_new("en");
    CHECK(s != NULL);
    CHECK_STR(stem(s, "troops"), "troop");
    CHECK_STR(stem(s, "troop"), "troop");
    CHECK_STR(stem(s, "withdrawing"), "withdraw");
    CHECK_STR(stem(s, "leaving"), "leav");
    CHECK_STR(stem(s, "leave"), "leav");
    text_stemmer_free(s);
}

TEST(stem_german_and_french)
{
    struct text_stemmer *de = text_stemmer_new("de");
    struct text_stemmer *fr = text_stemmer_new("fr-FR");
    CHECK(de && fr);
    char a[32];
    snprintf(a, sizeof a, "%s", stem(de, "truppen"));
    CHECK_STR(stem(de, "truppe"), a);
    snprintf(a, sizeof a, "%s", stem(fr, "soldats"));
    CHECK_STR(stem(fr, "soldat"), a);
    text_stemmer_free(de);
    text_stemmer_free(fr);
}

TEST(normalize_whole_string)
{
    char *n = text_normalize("Irák's long-standing ÉCOLE, 6,000!");
    CHECK(n != NULL);
    CHECK_STR(n, "irak long standing ecole 6,000");
    free(n);
    n = text_normalize(NULL);
    CHECK_STR(n, "");
    free(n);
}

TEST(utf8_len)
{
    CHECK_INT(text_utf8_len("Irák", strlen("Irák")), 4);
    CHECK_INT(text_utf8_len("", 0), 0);
}

int main(void)
{
    RUN(fold_accents_and_case);
    RUN(fold_keeps_indic_vowel_signs);
    RUN(fold_truncates_at_char_boundary);
    RUN(tokens_spans_possessive_hyphen_number);
    RUN(tokens_typographic_apostrophe);
    RUN(tokens_other_apostrophes_split);
    RUN(tokens_accented_span_is_original_bytes);
    RUN(tokens_ideographs_one_each);
    RUN(tokens_invalid_utf8_and_empty);
    RUN(stem_languages);
    RUN(stem_english);
    RUN(stem_german_and_french);
    RUN(normalize_whole_string);
    RUN(utf8_len);
    return check_summary();
}
