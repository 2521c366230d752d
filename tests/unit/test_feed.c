/*
 * test_feed — feed_parse on one small handwritten fixture per dialect (tests/fixtures/
 * feeds/), malformed and mis-encoded input, XXE, non-feeds, limits, ids, and the
 * feed_to_json schema. Expectations are what each fixture says.
 */
#include "check.h"
#include "feed.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *rel, size_t *len)
{
    const char *root = getenv("HERALD_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", root ? root : ".", rel);
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, fp);
        n += r;
    } while (r > 0);
    fclose(fp);
    *len = n;
    return buf;
}

/* Parse a fixture; NULL (and a printed reason) when it fails. */
static struct feed *load(const char *rel, const char *url, const char *ctype)
{
    size_t len = 0;
    char *data = slurp(rel, &len);
    if (!data) {
        printf("  cannot read fixture %s\n", rel);
        return NULL;
    }
    struct feed *f = NULL;
    char err[256];
    if (feed_parse(data, len, url, ctype, NULL, &f, err, sizeof err) != 0)
        printf("  %s: %s\n", rel, err);
    free(data);
    return f;
}

static int has_category(const struct item *it, const char *c)
{
    for (size_t i = 0; i < it->n_categories; i++)
        if (strcmp(it->categories[i], c) == 0) return 1;
    return 0;
}

TEST(feed_rss2)
{
    struct feed *f = load("feeds/rss2.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_RSS20);
    CHECK_INT(f->bozo, 0);
    CHECK_STR(f->title, "Herald Test & News");
    CHECK_STR(f->link, "https://news.example/");
    CHECK_STR(f->language, "en-gb");
    CHECK_STR(f->generator, "handwritten");
    CHECK_STR(f->image, "https://news.example/logo.png");
    CHECK_INT(f->updated, 1578303000); /* 2020-01-06T09:30:00Z */
    CHECK_INT(f->n_items, 3);
    const struct item *it = &f->items[0];
    CHECK_STR(it->id, "news-1001");
    CHECK_STR(it->title, "Iraqi parliament asks US troops to leave");
    CHECK_STR(it->link, "https://news.example/world/iraq-vote");
    CHECK_INT(it->published, 1578241200); /* 2020-01-05T16:20:00Z */
    CHECK_STR(it->author, "Jane Reporter");
    CHECK_STR(it->summary, "Lawmakers voted to expel foreign forces.\n\nMore soon.");
    CHECK_CONTAINS(it->summary_html, "<b>expel</b>");
    CHECK_STR(it->content, "The vote came two days after the strike.\n\nFull story here.");
    CHECK_STR(item_text(it), it->content);
    CHECK_INT(it->n_categories, 3);
    CHECK(has_category(it, "World") && has_category(it, "Middle East") && has_category(it, "Iraq"));
    CHECK_INT(it->n_enclosures, 3);
    CHECK_STR(it->enclosures[0].url, "https://news.example/audio/1001.mp3");
    CHECK_STR(it->enclosures[0].type, "audio/mpeg");
    CHECK_INT(it->enclosures[0].length, 123456);
    CHECK_STR(it->enclosures[1].url, "https://news.example/img/1001.jpg");
    CHECK_INT(it->enclosures[1].length, -1);
    /* relative link resolved against the channel link; no guid: the link is the id */
    CHECK_STR(f->items[1].link, "https://news.example/world/second");
    CHECK_STR(f->items[1].id, "https://news.example/world/second");
    CHECK_INT(f->items[1].published, 1578150000); /* 2020-01-04T15:00:00Z */
    CHECK_STR(item_text(&f->items[1]), "Plain description, no markup.");
    /* untitled, unlinked: title derived from the text, id a hash */
    CHECK(f->items[2].title != NULL);
    CHECK(strncmp(f->items[2].title, "An item with neither title", 26) == 0);
    CHECK(strlen(f->items[2].title) < 100);
    CHECK(strncmp(f->items[2].id, "sha256:", 7) == 0);
    CHECK_INT(strlen(f->items[2].id), 7 + 64);
    feed_free(f);
}

TEST(feed_ids_are_stable)
{
    struct feed *a = load("feeds/rss2.xml", NULL, NULL);
    struct feed *b = load("feeds/rss2.xml", "https://other.example/rss", NULL);
    CHECK(a && b);
    CHECK_STR(a->items[2].id, b->items[2].id);
    feed_free(a);
    feed_free(b);
}

TEST(feed_rss091_latin1)
{
    struct feed *f = load("feeds/rss091.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_RSS09X);
    CHECK_STR(f->title, "Café News");
    CHECK_INT(f->n_items, 1);
    CHECK_STR(f->items[0].title, "L'été arrive à Paris");
    CHECK_STR(f->items[0].summary, "Il fait chaud à Paris cet été.");
    CHECK_INT(f->items[0].published, -1);
    feed_free(f);
}

TEST(feed_rss090_rdf)
{
    struct feed *f = load("feeds/rss090.rdf", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_RSS09X);
    CHECK_STR(f->title, "Netscape Era");
    CHECK_INT(f->n_items, 2);
    CHECK_STR(f->items[1].title, "Second headline");
    CHECK_STR(f->items[1].link, "http://old.example/2");
    feed_free(f);
}

TEST(feed_rss10_rdf)
{
    struct feed *f = load("feeds/rss10.rdf", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_RSS10);
    CHECK_STR(f->language, "de-AT");
    CHECK_INT(f->n_items, 1);
    CHECK_STR(f->items[0].title, "Wien feiert");
    CHECK_INT(f->items[0].published, 1485204895); /* 2017-01-23T20:54:55Z */
    CHECK(has_category(&f->items[0], "Kultur"));
    feed_free(f);
}

TEST(feed_atom10)
{
    struct feed *f = load("feeds/atom10.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_ATOM10);
    CHECK_STR(f->title, "Atom Example");
    CHECK_STR(f->description, "A subtitle");
    CHECK_STR(f->link, "https://atom.example/");
    CHECK_STR(f->author, "John Doe");
    CHECK_STR(f->generator, "Gen 1.0");
    CHECK_STR(f->image, "https://atom.example/logo.png");
    CHECK_STR(f->language, "en");
    CHECK_INT(f->n_items, 2);
    const struct item *it = &f->items[0];
    CHECK_STR(it->title, "Atom-Powered Robots Run Amok");
    CHECK_STR(it->id, "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a");
    CHECK_STR(it->link, "https://atom.example/2003/12/13/atom03");
    CHECK_INT(it->published, 1071318569); /* 2003-12-13T12:29:29Z */
    CHECK_INT(it->updated, 1071340202);   /* 2003-12-13T18:30:02Z */
    CHECK_STR(it->author, "John Doe");    /* inherited from the feed */
    CHECK_STR(it->summary, "Some text.");
    CHECK_STR(it->content, "Robots everywhere.\n\nSecond paragraph.");
    CHECK_CONTAINS(it->content_html, "<em>everywhere</em>");
    CHECK(has_category(it, "Robots") && has_category(it, "tech"));
    CHECK_INT(it->n_enclosures, 1);
    CHECK_INT(it->enclosures[0].length, 1337);
    CHECK_STR(f->items[1].author, "Mary Roe");
    CHECK_STR(f->items[1].content, "Escaped & encoded");
    CHECK_INT(f->items[1].published, 1071392400); /* only <updated>: 2003-12-14T09:00:00Z */
    feed_free(f);
}

TEST(feed_atom03)
{
    struct feed *f = load("feeds/atom03.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_ATOM03);
    CHECK_STR(f->description, "Atom zero point three");
    CHECK_STR(f->link, "http://atom03.example/");
    CHECK_INT(f->n_items, 1);
    CHECK_STR(f->items[0].title, "Hello 0.3");
    CHECK_INT(f->items[0].published, 1083337200); /* 2004-04-30T15:00:00Z */
    CHECK_STR(f->items[0].content, "Escaped content");
    CHECK_STR(f->items[0].author, "Old Timer");
    feed_free(f);
}

TEST(feed_jsonfeed)
{
    struct feed *f = load("feeds/jsonfeed.json", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_JSONFEED);
    CHECK_STR(f->title, "JSON Example");
    CHECK_STR(f->link, "https://json.example/");
    CHECK_STR(f->image, "https://json.example/icon.png");
    CHECK_STR(f->author, "Ann Author");
    CHECK_STR(f->language, "en-US");
    CHECK_INT(f->n_items, 2);
    const struct item *it = &f->items[0];
    CHECK_STR(it->id, "2");
    CHECK_STR(it->link, "https://json.example/posts/2");
    CHECK_STR(it->title, "Second post – with an entity");
    CHECK_STR(it->content, "Hello, world.");
    CHECK_STR(it->summary, "Short summary");
    CHECK_INT(it->published, 1578247200); /* 2020-01-05T18:00:00Z */
    CHECK(has_category(it, "iraq"));
    CHECK_INT(it->enclosures[0].length, 42);
    CHECK_STR(f->items[1].id, "1");
    CHECK_STR(f->items[1].link, "https://elsewhere.example/story");
    CHECK_STR(f->items[1].content, "Only text in two paragraphs.");
    CHECK_STR(f->items[1].author, "Old Style");
    CHECK(f->items[1].title != NULL); /* derived from the text */
    feed_free(f);
}

TEST(feed_malformed_recovered)
{
    struct feed *f = load("feeds/malformed.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->bozo, 1);
    CHECK(f->bozo_reason != NULL && *f->bozo_reason);
    CHECK_INT(f->format, FEED_RSS20);
    CHECK(f->n_items >= 1);
    CHECK_CONTAINS(f->items[0].title, "Tom");
    CHECK_CONTAINS(f->items[0].title, "Jerry");
    CHECK_CONTAINS(f->items[0].link, "http://broken.example/tom");
    feed_free(f);
}

TEST(feed_latin1_without_declaration)
{
    struct feed *f = load("feeds/latin1-nodecl.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_STR(f->title, "Notícias do Brasil");
    CHECK_STR(f->items[0].title, "Eleição em São Paulo");
    /* windows-1252, not ISO-8859-1: 0x93/0x94 are curly quotes */
    CHECK_STR(f->items[0].summary, "Coração \xE2\x80\x9C"
                                   "aspas\xE2\x80\x9D");
    feed_free(f);
}

TEST(feed_http_charset_hint)
{
    /* windows-1251 bytes without a declaration: only the Content-Type can tell */
    static const char doc[] = "<rss version=\"2.0\"><channel><title>\xcd\xee\xe2\xee\xf1\xf2\xe8"
                              "</title><item><title>x</title></item></channel></rss>";
    struct feed *f = NULL;
    char err[200];
    CHECK_INT(feed_parse(doc, sizeof doc - 1, NULL, "application/rss+xml; charset=windows-1251",
                         NULL, &f, err, sizeof err),
              0);
    CHECK_STR(f->title, "Новости");
    feed_free(f);
}

TEST(feed_xml_base)
{
    struct feed *f = load("feeds/xmlbase.xml", "https://fetched.example/x", NULL);
    CHECK(f != NULL);
    CHECK_STR(f->link, "http://base.example/blog/");
    CHECK_INT(f->n_items, 2);
    CHECK_STR(f->items[0].link, "http://base.example/blog/2020/01/first-post");
    CHECK_STR(f->items[1].link, "http://base.example/about");
    feed_free(f);
}

TEST(feed_relative_links_use_fetch_url)
{
    struct feed *f = load("feeds/rss-relative.xml", "https://site.example/feeds/rss", NULL);
    CHECK(f != NULL);
    CHECK_STR(f->link, "https://site.example/news/");
    CHECK_STR(f->items[0].link, "https://site.example/news/story-a.html");
    CHECK_STR(f->items[1].link, "https://site.example/b.html");
    feed_free(f);
}

TEST(feed_no_external_entities)
{
    struct feed *f = load("feeds/xxe.xml", NULL, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->n_items, 1);
    const struct item *it = &f->items[0];
    int leaked = (it->title && strstr(it->title, "root:")) || strstr(item_text(it), "root:");
    CHECK_STR(it->link, "http://x.example/1");
    CHECK_CONTAINS(it->summary, "before");
    CHECK_CONTAINS(it->summary, "after");
    feed_free(f);
    CHECK(!leaked);
}

TEST(feed_html_page)
{
    struct feed *f = load("pages/article.html", "https://journal.example/monde/vote?ref=rss", NULL);
    CHECK(f != NULL);
    CHECK_INT(f->format, FEED_HTML);
    CHECK_INT(f->n_items, 1);
    const struct item *it = &f->items[0];
    CHECK_STR(it->title, "Le parlement vote le départ des troupes");
    CHECK_STR(it->link, "https://journal.example/monde/vote?ref=rss");
    CHECK_STR(it->author, "Marie Dupont");
    CHECK_INT(it->published, 1578245400); /* 2020-01-05T17:30:00Z */
    CHECK_STR(f->language, "fr");
    CHECK_CONTAINS(it->content, "départ des troupes étrangères");
    CHECK_CONTAINS(it->content, "s'est tenue");
    CHECK_CONTAINS(it->content, "vote historique.");
    CHECK(strstr(it->content, "Accueil") == NULL);
    CHECK(strstr(it->content, "Autre article") == NULL);
    CHECK(strstr(it->content, "droits réservés") == NULL);
    feed_free(f);
}

static void expect_refusal(const char *data, size_t len, const char *why)
{
    struct feed *f = (struct feed *)1;
    char err[256] = "";
    int rc = feed_parse(data, len, NULL, NULL, NULL, &f, err, sizeof err);
    CHECK_INT(rc, -1);
    CHECK(f == NULL);
    CHECK_CONTAINS(err, why);
}

TEST(feed_refuses_non_feeds)
{
    expect_refusal("", 0, "empty document");
    expect_refusal("  \n\t ", 5, "empty document");
    expect_refusal("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "not a feed or HTML page: a PNG image");
    expect_refusal("Just some words.\nAnother line.\n", 31, "not a feed or HTML page: plain text");
    expect_refusal("{\"name\": \"not a feed\", \"items\": []}", 35,
                   "JSON object without a JSON Feed");
    expect_refusal("[1, 2, 3]", 9, "not a feed or HTML page");
    expect_refusal("<?xml version=\"1.0\"?><config><a/></config>", 42, "root <config>");
    expect_refusal("\x1f\x8b\x08\x00\x00\x00", 6, "gzip");
}

TEST(feed_limits)
{
    size_t len = 0;
    char *data = slurp("feeds/rss2.xml", &len);
    CHECK(data != NULL);
    struct feed_limits lim = {0, 2, 0};
    struct feed *f = NULL;
    char err[200];
    CHECK_INT(feed_parse(data, len, NULL, NULL, &lim, &f, err, sizeof err), 0);
    CHECK_INT(f->n_items, 2);
    feed_free(f);
    struct feed_limits small = {100, 0, 0};
    f = NULL;
    CHECK_INT(feed_parse(data, len, NULL, NULL, &small, &f, err, sizeof err), -1);
    CHECK_CONTAINS(err, "too large");
    free(data);
}

TEST(feed_deep_nesting_is_safe)
{
    size_t depth = 5000, n = 0;
    char *doc = malloc(depth * 7 + 200);
    CHECK(doc != NULL);
    n += (size_t)sprintf(doc, "<rss version=\"2.0\"><channel><item><description>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(doc + n, "<x>");
    n += (size_t)sprintf(doc + n, "deep");
    struct feed *f = NULL;
    char err[200];
    int rc = feed_parse(doc, n, NULL, NULL, NULL, &f, err, sizeof err);
    free(doc);
    if (rc == 0) {
        CHECK_INT(f->bozo, 1);
        feed_free(f);
    } else {
        CHECK(err[0] != '\0');
    }
}

TEST(feed_depth_cap)
{
    static const char doc[] = "<rss version=\"2.0\"><channel><item><description><a><b><c><d>"
                              "deep</d></c></b></a></description></item></channel></rss>";
    struct feed_limits lim = {0, 0, 5};
    struct feed *f = NULL;
    char err[200];
    CHECK_INT(feed_parse(doc, sizeof doc - 1, NULL, NULL, &lim, &f, err, sizeof err), -1);
    CHECK_CONTAINS(err, "deeper than 5");
    lim.max_depth = 8;
    CHECK_INT(feed_parse(doc, sizeof doc - 1, NULL, NULL, &lim, &f, err, sizeof err), 0);
    CHECK_INT(f->n_items, 1);
    feed_free(f);
}

TEST(feed_deep_html_is_safe)
{
    size_t depth = 100000, n = 0;
    char *doc = malloc(depth * 5 + 64);
    CHECK(doc != NULL);
    n += (size_t)sprintf(doc, "<html><body>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(doc + n, "<div>");
    n += (size_t)sprintf(doc + n, "text");
    struct feed *f = NULL;
    char err[200];
    int rc = feed_parse(doc, n, NULL, NULL, NULL, &f, err, sizeof err);
    free(doc);
    if (rc == 0) {
        CHECK_INT(f->format, FEED_HTML);
        feed_free(f);
    } else {
        CHECK_CONTAINS(err, "deeper");
    }
}

TEST(feed_json_schema)
{
    struct feed *f = load("feeds/rss2.xml", NULL, NULL);
    CHECK(f != NULL);
    char *s = feed_to_json(f);
    feed_free(f);
    CHECK(s != NULL);
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    free(s);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "format")), "rss2.0");
    CHECK(json_is_false(json_object_get(j, "bozo")));
    json_t *feed = json_object_get(j, "feed");
    const char *fkeys[] = {"title",   "link",   "description", "language",
                           "updated", "author", "generator",   "image"};
    for (size_t i = 0; i < 8; i++)
        CHECK(json_object_get(feed, fkeys[i]) != NULL);
    CHECK_INT(json_object_size(feed), 8);
    CHECK(json_is_null(json_object_get(feed, "author")));
    CHECK_STR(json_string_value(json_object_get(feed, "updated")), "2020-01-06T09:30:00Z");
    json_t *items = json_object_get(j, "items");
    CHECK_INT(json_array_size(items), 3);
    json_t *it = json_array_get(items, 0);
    const char *ikeys[] = {"id",     "title",   "link",    "published",  "updated",
                           "author", "summary", "content", "categories", "enclosures"};
    for (size_t i = 0; i < 10; i++)
        CHECK(json_object_get(it, ikeys[i]) != NULL);
    CHECK_INT(json_object_size(it), 10);
    CHECK_STR(json_string_value(json_object_get(it, "published")), "2020-01-05T16:20:00Z");
    CHECK(json_is_null(json_object_get(it, "updated")));
    CHECK_INT(json_array_size(json_object_get(it, "categories")), 3);
    json_t *enc = json_array_get(json_object_get(it, "enclosures"), 0);
    CHECK_INT(json_integer_value(json_object_get(enc, "length")), 123456);
    json_t *enc2 = json_array_get(json_object_get(it, "enclosures"), 1);
    CHECK(json_is_null(json_object_get(enc2, "length")));
    CHECK_INT(json_object_size(j), 4);
    json_decref(j);
}

TEST(feed_text_summary)
{
    struct feed *f = load("feeds/atom10.xml", NULL, NULL);
    CHECK(f != NULL);
    char *s = feed_to_text(f);
    feed_free(f);
    CHECK(s != NULL);
    CHECK_CONTAINS(s, "atom1.0");
    CHECK_CONTAINS(s, "Atom Example");
    CHECK_CONTAINS(s, "2003-12-13T12:29:29Z  Atom-Powered Robots Run Amok");
    CHECK_CONTAINS(s, "https://atom.example/2");
    free(s);
}

TEST(feed_format_names)
{
    CHECK_STR(feed_format_name(FEED_RSS20), "rss2.0");
    CHECK_STR(feed_format_name(FEED_RSS10), "rss1.0");
    CHECK_STR(feed_format_name(FEED_RSS09X), "rss0.9x");
    CHECK_STR(feed_format_name(FEED_ATOM10), "atom1.0");
    CHECK_STR(feed_format_name(FEED_ATOM03), "atom0.3");
    CHECK_STR(feed_format_name(FEED_JSONFEED), "jsonfeed1");
    CHECK_STR(feed_format_name(FEED_HTML), "html");
}

int main(void)
{
    RUN(feed_rss2);
    RUN(feed_ids_are_stable);
    RUN(feed_rss091_latin1);
    RUN(feed_rss090_rdf);
    RUN(feed_rss10_rdf);
    RUN(feed_atom10);
    RUN(feed_atom03);
    RUN(feed_jsonfeed);
    RUN(feed_malformed_recovered);
    RUN(feed_latin1_without_declaration);
    RUN(feed_http_charset_hint);
    RUN(feed_xml_base);
    RUN(feed_relative_links_use_fetch_url);
    RUN(feed_no_external_entities);
    RUN(feed_html_page);
    RUN(feed_refuses_non_feeds);
    RUN(feed_limits);
    RUN(feed_deep_nesting_is_safe);
    RUN(feed_depth_cap);
    RUN(feed_deep_html_is_safe);
    RUN(feed_json_schema);
    RUN(feed_text_summary);
    RUN(feed_format_names);
    return check_summary();
}
