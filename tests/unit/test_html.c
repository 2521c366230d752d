/*
 * test_html — HTML to plain text (entities, &nbsp;, block elements, whitespace, scripts),
 * URL resolution, and the page reader on small pages written for these tests.
 */
#include "check.h"
#include "html.h"

#include <libxml/parser.h>
#include <string.h>

static const char *text_of(struct arena *a, const char *html)
{
    return html_to_text(html, strlen(html), a);
}

TEST(html_entities_and_nbsp)
{
    struct arena a;
    arena_init(&a);
    CHECK_STR(text_of(&a, "Fish &amp; Chips&nbsp;&nbsp;today"), "Fish & Chips today");
    CHECK_STR(text_of(&a, "caf&eacute; &#8211; &#x2019;quoted&rsquo;"), "café – ’quoted’");
    CHECK_STR(text_of(&a, "a &lt;b&gt; tag"), "a <b> tag");
    CHECK_STR(text_of(&a, "no markup at all"), "no markup at all");
    arena_free(&a);
}

TEST(html_blocks_become_lines)
{
    struct arena a;
    arena_init(&a);
    CHECK_STR(text_of(&a, "<p>First para.</p><p>Second <b>bold</b> para.</p>"),
              "First para.\n\nSecond bold para.");
    CHECK_STR(text_of(&a, "line one<br>line two<br/>line three"), "line one\nline two\nline three");
    CHECK_STR(text_of(&a, "<ul><li>one</li><li>two</li></ul>"), "one\ntwo");
    CHECK_STR(text_of(&a, "<h2>Head</h2>body text"), "Head\n\nbody text");
    arena_free(&a);
}

TEST(html_whitespace_collapsed)
{
    struct arena a;
    arena_init(&a);
    CHECK_STR(text_of(&a, "  <p>  lots \n\t of    space  </p>  "), "lots of space");
    CHECK_STR(html_collapse_ws("a\r\n\r\n  b\xC2\xA0\xC2\xA0"
                               "c ",
                               14, &a),
              "a b c");
    CHECK_STR(text_of(&a, "<div><div><p>deep</p></div></div><p>next</p>"), "deep\n\nnext");
    arena_free(&a);
}

TEST(html_scripts_and_styles_dropped)
{
    struct arena a;
    arena_init(&a);
    CHECK_STR(text_of(&a, "<p>Keep</p><script>var x = '<p>no</p>';</script><style>p{}</style>"
                          "<p>this</p>"),
              "Keep\n\nthis");
    CHECK_STR(text_of(&a, "<img src=x.png alt=picture>caption"), "caption");
    CHECK_STR(text_of(&a, "<!-- a comment -->visible"), "visible");
    arena_free(&a);
}

TEST(html_broken_markup)
{
    struct arena a;
    arena_init(&a);
    CHECK_STR(text_of(&a, "<p>unclosed <b>bold <i>italic"), "unclosed bold italic");
    CHECK_STR(text_of(&a, "AT&T < 5 & more"), "AT&T < 5 & more");
    CHECK_STR(text_of(&a, "</div></p>stray closers"), "stray closers");
    CHECK_STR(text_of(&a, ""), "");
    arena_free(&a);
}

TEST(html_resolve)
{
    struct arena a;
    arena_init(&a);
    const char *base = "http://example.com/news/world/index.html?x=1#top";
    CHECK_STR(html_resolve_url(&a, "story.html", base), "http://example.com/news/world/story.html");
    CHECK_STR(html_resolve_url(&a, "/a/b", base), "http://example.com/a/b");
    CHECK_STR(html_resolve_url(&a, "../up", base), "http://example.com/news/up");
    CHECK_STR(html_resolve_url(&a, "./", base), "http://example.com/news/world/");
    CHECK_STR(html_resolve_url(&a, "//cdn.example.org/i.png", base),
              "http://cdn.example.org/i.png");
    CHECK_STR(html_resolve_url(&a, "?page=2", base),
              "http://example.com/news/world/index.html?page=2");
    CHECK_STR(html_resolve_url(&a, "#c", base), "http://example.com/news/world/index.html?x=1#c");
    CHECK_STR(html_resolve_url(&a, "", base), "http://example.com/news/world/index.html?x=1");
    CHECK_STR(html_resolve_url(&a, "https://other.org/x", base), "https://other.org/x");
    CHECK_STR(html_resolve_url(&a, "a-%26-b%21", "http://h.com/d/"), "http://h.com/d/a-%26-b%21");
    CHECK_STR(html_resolve_url(&a, "rel/x", NULL), "rel/x");
    CHECK_STR(html_resolve_url(&a, "x", "http://h.com"), "http://h.com/x");
    arena_free(&a);
}

static const char page[] =
    "<!DOCTYPE html><html lang=\"en-GB\"><head><title>Troops asked to leave - The Daily</title>"
    "<meta property=\"og:title\" content=\"Troops asked to leave\">"
    "<meta property=\"article:published_time\" content=\"2020-01-05T16:00:00+01:00\">"
    "<link rel=\"canonical\" href=\"/world/troops-asked-to-leave\">"
    "<script>window.ads = 1;</script></head><body>"
    "<header><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav></header>"
    "<div class=\"sidebar\"><ul><li><a href=\"/a\">Most read one</a></li>"
    "<li><a href=\"/b\">Most read two</a></li></ul></div>"
    "<article class=\"story-body\"><h1>Troops asked to leave</h1>"
    "<p>Parliament voted on Sunday to ask foreign troops to leave the country, a decision "
    "that follows days of tension in the region.</p>"
    "<p>The resolution, passed with a large majority, calls on the government to end the "
    "presence of foreign forces, officials said.</p>"
    "<div class=\"share-tools\"><a href=\"#\">Share on Facebook</a></div>"
    "<p>Lawmakers from several blocs did not attend the session, which lasted three hours, "
    "according to reports.</p></article>"
    "<footer>Copyright The Daily</footer></body></html>";

TEST(html_page_reader)
{
    struct arena a;
    arena_init(&a);
    xmlDoc *doc = html_parse_doc(page, sizeof page - 1, NULL, NULL);
    CHECK(doc != NULL);
    struct html_page pg;
    int rc = html_page_extract(doc, "https://daily.example/world/x?utm=1", &a, &pg);
    xmlFreeDoc(doc);
    CHECK_INT(rc, 0);
    CHECK_STR(pg.title, "Troops asked to leave");
    CHECK_STR(pg.link, "https://daily.example/world/troops-asked-to-leave");
    CHECK_STR(pg.lang, "en-GB");
    CHECK_INT(pg.published, 1578236400); /* 2020-01-05T15:00:00Z */
    CHECK_CONTAINS(pg.text, "Parliament voted on Sunday");
    CHECK_CONTAINS(pg.text, "Lawmakers from several blocs");
    CHECK(strstr(pg.text, "Most read") == NULL);
    CHECK(strstr(pg.text, "Share on Facebook") == NULL);
    CHECK(strstr(pg.text, "Copyright") == NULL);
    CHECK(strstr(pg.text, "window.ads") == NULL);
    arena_free(&a);
}

TEST(html_page_title_fallback)
{
    static const char p2[] = "<html><head><title>A long headline about the news - Site</title>"
                             "</head><body><p>short</p></body></html>";
    struct arena a;
    arena_init(&a);
    xmlDoc *doc = html_parse_doc(p2, sizeof p2 - 1, NULL, NULL);
    CHECK(doc != NULL);
    struct html_page pg;
    CHECK_INT(html_page_extract(doc, NULL, &a, &pg), 0);
    xmlFreeDoc(doc);
    CHECK_STR(pg.title, "A long headline about the news");
    CHECK_STR(pg.text, "short");
    CHECK(pg.published == -1);
    CHECK(pg.lang == NULL);
    arena_free(&a);
}

int main(void)
{
    RUN(html_entities_and_nbsp);
    RUN(html_blocks_become_lines);
    RUN(html_whitespace_collapsed);
    RUN(html_scripts_and_styles_dropped);
    RUN(html_broken_markup);
    RUN(html_resolve);
    RUN(html_page_reader);
    RUN(html_page_title_fallback);
    return check_summary();
}
