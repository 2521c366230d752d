/*
 * test_pages — the page reader over every saved article in shared/data/pages: the title
 * agrees with the one in manifest.json, the extracted text holds the first words of the
 * expected article text, and the token-level F1 against expected.txt stays above a floor
 * (per page and on average; the mean is printed). SKIPs when the data is absent.
 */
#include "check.h"
#include "feed.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_F1_FLOOR 0.50
#define MEAN_F1_FLOOR 0.85

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return NULL;
    }
    long n = ftell(fp);
    rewind(fp);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

struct tok {
    const char *p;
    size_t n;
};

static int word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || c == '_';
}

/* Lower-cased ASCII in place, then split into maximal runs of word bytes. */
static struct tok *tokenize(char *s, size_t *count)
{
    size_t cap = 1024, n = 0;
    struct tok *t = malloc(cap * sizeof *t);
    for (char *p = s; t && *p;) {
        while (*p && !word_byte((unsigned char)*p))
            p++;
        if (!*p) break;
        char *start = p;
        while (*p && word_byte((unsigned char)*p)) {
            *p = (char)tolower((unsigned char)*p);
            p++;
        }
        if (n == cap) {
            struct tok *nt = realloc(t, cap * 2 * sizeof *t);
            if (!nt) {
                free(t);
                return NULL;
            }
            t = nt;
            cap *= 2;
        }
        t[n++] = (struct tok){start, (size_t)(p - start)};
    }
    *count = n;
    return t;
}

static int tok_cmp(const void *a, const void *b)
{
    const struct tok *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Token-multiset F1 of two texts (both modified: lower-cased). */
static double token_f1(char *got, char *want)
{
    size_t ng = 0, nw = 0;
    struct tok *g = tokenize(got, &ng), *w = tokenize(want, &nw);
    double f1 = 0;
    if (g && w && ng && nw) {
        qsort(g, ng, sizeof *g, tok_cmp);
        qsort(w, nw, sizeof *w, tok_cmp);
        size_t i = 0, j = 0, common = 0;
        while (i < ng && j < nw) {
            int c = tok_cmp(&g[i], &w[j]);
            if (c == 0) {
                common++;
                i++;
                j++;
            } else if (c < 0)
                i++;
            else
                j++;
        }
        double p = (double)common / (double)ng, r = (double)common / (double)nw;
        f1 = common ? 2 * p * r / (p + r) : 0;
    }
    free(g);
    free(w);
    return f1;
}

/* The first few words (up to 40 bytes, cut at a space) of the longest paragraph of the
 * expected text: the heart of the article, not a caption or a dateline. */
static void key_words(const char *s, char *out, size_t n)
{
    const char *best = s;
    size_t best_len = 0;
    for (const char *p = s; *p;) {
        size_t l = strcspn(p, "\n");
        if (l > best_len) {
            best = p;
            best_len = l;
        }
        p += l;
        if (*p) p++;
    }
    s = best;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t k = 0;
    while (s[k] && s[k] != '\n' && k + 1 < n && k < 40)
        k++;
    if (s[k] && s[k] != '\n')
        while (k > 10 && s[k] != ' ')
            k--;
    memcpy(out, s, k);
    out[k] = '\0';
}

/* One title is the other with a site name added or removed. */
static int titles_agree(const char *got, const char *want)
{
    return got && want && (strstr(got, want) || strstr(want, got));
}

TEST(pages_every_article)
{
    const char *root = getenv("HERALD_ROOT");
    char dir[1024], path[1400];
    snprintf(dir, sizeof dir, "%s/../shared/data/pages", root ? root : ".");
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_t *man = json_load_file(path, 0, NULL);
    if (!man) SKIP("shared/data/pages not found");
    size_t i, pages = 0, titles = 0, starts = 0, low = 0;
    double sum = 0;
    json_t *e;
    json_array_foreach(man, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "dir"));
        const char *title = json_string_value(json_object_get(e, "title"));
        size_t hl = 0, tl = 0;
        snprintf(path, sizeof path, "%s/%s/source.html", dir, name ? name : "");
        char *html = slurp(path, &hl);
        snprintf(path, sizeof path, "%s/%s/expected.txt", dir, name ? name : "");
        char *want = slurp(path, &tl);
        struct feed *f = NULL;
        char err[256];
        if (!html || !want ||
            feed_parse(html, hl, "https://example.org/article", NULL, NULL, &f, err, sizeof err)) {
            printf("  %s: unreadable\n", name);
            free(html);
            free(want);
            continue;
        }
        pages++;
        const struct item *it = &f->items[0];
        if (titles_agree(it->title, title))
            titles++;
        else
            printf("  %s: title \"%s\"\n", name, it->title ? it->title : "(null)");
        char head[64];
        key_words(want, head, sizeof head);
        const char *text = item_text(it);
        if (strstr(text, head))
            starts++;
        else
            printf("  %s: text lacks \"%s\"\n", name, head);
        char *got = strdup(text);
        double f1 = got ? token_f1(got, want) : 0;
        free(got);
        if (f1 < PAGE_F1_FLOOR) {
            printf("  %s: F1 %.3f below %.2f\n", name, f1, PAGE_F1_FLOOR);
            low++;
        }
        sum += f1;
        feed_free(f);
        free(html);
        free(want);
    }
    json_decref(man);
    double mean = pages ? sum / (double)pages : 0;
    printf("  pages: %zu read, %zu titles agree, %zu hold the key paragraph, mean token F1 %.3f\n",
           pages, titles, starts, mean);
    CHECK_INT(pages, i);
    CHECK_INT(titles, pages);
    CHECK_INT(starts, pages);
    CHECK_INT(low, 0);
    CHECK(mean >= MEAN_F1_FLOOR);
}

int main(void)
{
    RUN(pages_every_article);
    return check_summary();
}
