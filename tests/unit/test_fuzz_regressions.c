/*
 * test_fuzz_regressions — the hostile inputs kept in tests/fixtures/fuzz-regressions/
 * (found or written while fuzzing the parser with tests/fuzz/), each parsed the way its
 * fuzz target does it: every file must parse or be refused with a reason, never crash
 * (run under `make sanitize` too). Some have checked expectations: the caps of struct
 * feed_limits, and the streaming HTML-to-text reader on fragments where it must read
 * what libxml2's HTML parser reads.
 */
#include "check.h"
#include "feed.h"
#include "html.h"

#include <dirent.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIR_REGRESSIONS "tests/fixtures/fuzz-regressions"

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, fp) : 0;
    fclose(fp);
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

static int parse_file(const char *name, const struct feed_limits *lim, struct feed **out, char *err,
                      size_t errlen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DIR_REGRESSIONS, name);
    size_t len = 0;
    char *data = slurp(path, &len);
    if (!data) {
        snprintf(err, errlen, "cannot read %.200s", path);
        *out = NULL;
        return -2;
    }
    int rc = feed_parse(data, len, "http://fuzz.example/feed", NULL, lim, out, err, errlen);
    free(data);
    return rc;
}

/* Every kept input: a feed, or -1 with a reason; a page also through the extractor. */
TEST(every_kept_input_parses_or_is_refused)
{
    DIR *d = opendir(DIR_REGRESSIONS);
    CHECK(d != NULL);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        files++;
        struct feed_limits lim = {.max_bytes = 1u << 20, .max_items = 200, .max_depth = 64};
        struct feed *f = NULL;
        char err[256] = "";
        int rc = parse_file(e->d_name, &lim, &f, err, sizeof err);
        if (rc == -2) {
            closedir(d);
            CHECK_STR(err, "");
        }
        if (rc == 0) {
            char *js = feed_to_json(f);
            char *txt = feed_to_text(f);
            int ok = js && txt && f->n_items <= 200;
            free(js);
            free(txt);
            feed_free(f);
            if (!ok) closedir(d);
            CHECK(ok);
        } else if (err[0] == '\0') {
            closedir(d);
            CHECK_STR(e->d_name, "a refused input without a reason");
        }
        if (strncmp(e->d_name, "html-", 5) == 0) {
            char path[512];
            size_t len = 0;
            snprintf(path, sizeof path, "%s/%s", DIR_REGRESSIONS, e->d_name);
            char *data = slurp(path, &len);
            xmlDoc *doc = data ? html_parse_doc(data, len, NULL, NULL) : NULL;
            if (doc) {
                struct arena a;
                arena_init(&a);
                struct html_page pg;
                int prc = html_page_extract(doc, "https://fuzz.example/a", &a, &pg);
                arena_free(&a);
                xmlFreeDoc(doc);
                if (prc != 0) closedir(d);
                CHECK_INT(prc, 0);
            }
            free(data);
        }
    }
    closedir(d);
    CHECK(files >= 4);
}

/* 300 nested elements: past libxml2's own 256 the document is recovered (bozo); past a
 * configured max_depth it is refused. */
TEST(deep_nesting_is_capped)
{
    struct feed *f = NULL;
    char err[256];
    CHECK_INT(parse_file("feed-deep-nesting.xml", NULL, &f, err, sizeof err), 0);
    CHECK(f->bozo);
    CHECK_CONTAINS(f->bozo_reason, "depth");
    CHECK_INT(f->n_items, 1);
    CHECK_STR(f->items[0].title, "Nested");
    feed_free(f);
    struct feed_limits lim = {.max_depth = 64};
    CHECK_INT(parse_file("feed-deep-nesting.xml", &lim, &f, err, sizeof err), -1);
    CHECK(f == NULL);
    CHECK_CONTAINS(err, "nested deeper than 64 levels");
}

/* 300 items: the item cap keeps the first max_items, in document order. */
TEST(item_cap_keeps_the_first_items)
{
    struct feed *f = NULL;
    char err[256];
    struct feed_limits lim = {.max_items = 100};
    CHECK_INT(parse_file("feed-many-items.xml", &lim, &f, err, sizeof err), 0);
    CHECK_INT(f->n_items, 100);
    CHECK_STR(f->items[99].title, "Item 99");
    CHECK_STR(f->items[99].link, "http://many.example/i/99");
    feed_free(f);
    CHECK_INT(parse_file("feed-many-items.xml", NULL, &f, err, sizeof err), 0);
    CHECK_INT(f->n_items, 300);
    feed_free(f);
}

TEST(byte_cap_refuses_large_documents)
{
    struct feed *f = NULL;
    char err[256];
    struct feed_limits lim = {.max_bytes = 1000};
    CHECK_INT(parse_file("feed-many-items.xml", &lim, &f, err, sizeof err), -1);
    CHECK_CONTAINS(err, "document too large");
}

/* JSON nested past jansson's depth limit is refused as invalid JSON, not a crash. */
TEST(json_deep_arrays_refused)
{
    struct feed *f = NULL;
    char err[256];
    CHECK_INT(parse_file("jsonfeed-deep-arrays.json", NULL, &f, err, sizeof err), -1);
    CHECK_CONTAINS(err, "invalid JSON");
}

/* Descriptions whose markup ends badly: an unterminated comment hides the rest (as in
 * libxml2), a stray </div> is ignored, a </p> ends the implied paragraph, &#150; is
 * windows-1252's en dash, unknown or unterminated entities stay as written. */
TEST(fragments_with_broken_markup)
{
    struct feed *f = NULL;
    char err[256];
    CHECK_INT(parse_file("feed-html-fragments.xml", NULL, &f, err, sizeof err), 0);
    CHECK_INT(f->n_items, 2);
    CHECK_STR(f->items[0].summary, "Kept text & more");
    CHECK_STR(f->items[1].summary, "onetwo\n\nthree \xE2\x80\x93 \xF0\x9F\x98\x80 &bogus; &amp");
    feed_free(f);
}

static const char *text_of(struct arena *a, const char *html)
{
    return html_to_text(html, strlen(html), a);
}

/* The streaming reader against what libxml2's HTML parser made of the same fragments. */
TEST(streaming_text_matches_libxml2_structure)
{
    struct arena a;
    arena_init(&a);
    CHECK_STR(text_of(&a, "x<div>z</div>"), "x\n\nz");        /* implied <p> around "x" */
    CHECK_STR(text_of(&a, "<b>x</b>y<div>z</div>"), "xy\nz"); /* none after an element */
    CHECK_STR(text_of(&a, "<p><b>x<div>y</div>"), "x\ny");    /* <div> ends only a top <p> */
    CHECK_STR(text_of(&a, "<p>a<div>b</div>c</p>d"), "a\n\nb\ncd");
    CHECK_STR(text_of(&a, "<font>a<p>b</font>c"), "a\n\nb\n\nc");
    CHECK_STR(text_of(&a, "<table><tr><td>a<td>b</table>c"), "a b\n\nc");
    CHECK_STR(text_of(&a, "<div>a<iframe>b</div>c"), "a\nc");
    CHECK_STR(text_of(&a, "<p>a<noscript>n</p>m"), "a\n\nm");
    CHECK_STR(text_of(&a, "a<script>x</SCRIPT >b"), "ab");
    CHECK_STR(text_of(&a, "<a title=\"x>y\">link</a> z"), "link z");
    CHECK_STR(text_of(&a, "a </5> b"), "a 5> b");
    CHECK_STR(text_of(&a, "<p>x</p><?a b c>z<?"), "x\n\nz");
    CHECK_STR(text_of(&a, "a<![CDATA[x]]>b"), "a<![CDATA[x]]>b");
    CHECK_STR(text_of(&a, "<html><head><title>T</title></head><body><p>x</p></body></html>"), "x");
    CHECK_STR(text_of(&a, "&#8211 x &#0;&#xD800;&#99999999;y"), "\xE2\x80\x93 x y");
    CHECK_STR(text_of(&a, "&AMP; &amp &apos; &nbsp;&hellip;"), "&AMP; &amp ' \xE2\x80\xA6");
    arena_free(&a);
}

int main(void)
{
    xmlInitParser();
    RUN(every_kept_input_parses_or_is_refused);
    RUN(deep_nesting_is_capped);
    RUN(item_cap_keeps_the_first_items);
    RUN(byte_cap_refuses_large_documents);
    RUN(json_deep_arrays_refused);
    RUN(fragments_with_broken_markup);
    RUN(streaming_text_matches_libxml2_structure);
    return check_summary();
}
