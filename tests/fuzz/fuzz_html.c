/*
 * fuzz_html — libFuzzer target for the HTML side: a web page parsed by html_parse_doc and
 * read by html_page_extract (metadata, JSON-LD, dates, the readability-style scorer), the
 * same bytes as a feed fragment through html_to_text, and as a fetched page through
 * feed_parse with an HTML Content-Type. Built and run by `make fuzz`.
 */
#include "feed.h"
#include "html.h"

#include <libxml/parser.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    xmlInitParser();
    return 0;
}

static void fuzz_page(const char *s, size_t n)
{
    xmlDoc *doc = html_parse_doc(s, n, NULL, NULL);
    if (!doc) return;
    struct arena a;
    arena_init(&a);
    struct html_page pg;
    html_page_extract(doc, "https://news.example.com/world/2020/story.html?id=1", &a, &pg);
    xmlFreeDoc(doc);
    arena_free(&a);
}

static void fuzz_fragment(const char *s, size_t n)
{
    struct arena a;
    arena_init(&a);
    html_to_text(s, n, &a);
    arena_free(&a);
}

static void fuzz_feed_page(const char *s, size_t n)
{
    struct feed_limits lim = {.max_bytes = 1u << 20, .max_items = 200, .max_depth = 64};
    struct feed *f = NULL;
    char err[256];
    if (feed_parse(s, n, "https://news.example.com/a/b.html", "text/html; charset=utf-8", &lim, &f,
                   err, sizeof err) != 0)
        return;
    free(feed_to_json(f));
    feed_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    fuzz_page(s, size);
    /* Feed fragments are short, and feed_parse repeats the page work on top of sniffing:
     * both only for small inputs, so big pages keep the extractor fast to fuzz. */
    if (size > 64 * 1024) return 0;
    fuzz_fragment(s, size);
    fuzz_feed_page(s, size);
    return 0;
}
