/*
 * test_page — sources of kind "page": a section page yields its article links (same site,
 * story-like paths, headline text, not navigation, no repeats), an article page is read
 * as an article, and every real article page of the shared corpus is recognised as one.
 */
#include "check.h"
#include "page.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int scan_file(const char *path, const char *url, struct arena *a, struct page_scan *s)
{
    char *data;
    size_t len;
    if (file_read_all(path, 16u << 20, &data, &len) != 0) return -1;
    int rc = page_scan(data, len, url, 50, a, s);
    free(data);
    return rc;
}

TEST(section_page_lists_its_stories)
{
    struct arena a;
    arena_init(&a);
    struct page_scan s;
    CHECK(scan_file("tests/fixtures/site/index.html", "https://www.ministry.example/press/", &a,
                    &s) == 0);
    CHECK_INT(s.is_article, 0);
    CHECK_INT(s.n_links, 3);
    CHECK_STR(s.links[0],
              "https://www.ministry.example/press/2020/01/06/minister-statement-on-troop-presence");
    CHECK_STR(s.links[1], "https://www.ministry.example/press/story-2.html");
    CHECK_STR(s.links[2],
              "https://www.ministry.example/press/2020/01/04/budget-consultation-opens-today");
    arena_free(&a);
}

TEST(article_page_is_an_article)
{
    struct arena a;
    arena_init(&a);
    struct page_scan s;
    CHECK(scan_file("tests/fixtures/site/story-2.html",
                    "https://www.ministry.example/press/story-2.html", &a, &s) == 0);
    CHECK_INT(s.is_article, 1);
    CHECK_INT(s.n_links, 0);
    arena_free(&a);
}

TEST(not_html_is_refused)
{
    struct arena a;
    arena_init(&a);
    struct page_scan s;
    CHECK(page_scan("", 0, "https://x.example/", 10, &a, &s) != 0);
    arena_free(&a);
}

TEST(real_article_pages_are_articles)
{
    const char *root = getenv("HERALD_ROOT");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/../shared/data/pages", root ? root : ".");
    DIR *d = opendir(dir);
    if (!d) SKIP("../shared/data/pages is absent");
    struct dirent *e;
    int pages = 0, articles = 0;
    char missed[1024] = "";
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".json")) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s/source.html", dir, e->d_name);
        struct arena a;
        arena_init(&a);
        struct page_scan s;
        if (scan_file(path, "https://news.example.com/a/story", &a, &s) == 0) {
            pages++;
            if (s.is_article)
                articles++;
            else
                snprintf(missed + strlen(missed), sizeof missed - strlen(missed), " %s", e->d_name);
        }
        arena_free(&a);
    }
    closedir(d);
    CHECK(pages >= 10);
    if (articles != pages) CHECK_FAIL_("not recognised as articles:%s", missed);
    CHECK_INT(articles, pages);
}

int main(void)
{
    RUN(section_page_lists_its_stories);
    RUN(article_page_is_an_article);
    RUN(not_html_is_refused);
    RUN(real_article_pages_are_articles);
    return check_summary();
}
