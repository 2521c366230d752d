/*
 * test_util — durations, paths, whole-file reads, hashing, URL masking for logs, and the
 * alert id and context helpers built on them.
 */
#include "alert.h"
#include "check.h"
#include "log.h"
#include "textdoc.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(durations)
{
    int64_t ms = 0;
    CHECK(duration_parse("90s", &ms) == 0);
    CHECK_INT(ms, 90000);
    CHECK(duration_parse("5m", &ms) == 0);
    CHECK_INT(ms, 300000);
    CHECK(duration_parse("2h", &ms) == 0);
    CHECK_INT(ms, 7200000);
    CHECK(duration_parse("1d", &ms) == 0);
    CHECK_INT(ms, 86400000);
    CHECK(duration_parse("1h30m", &ms) == 0);
    CHECK_INT(ms, 5400000);
    CHECK(duration_parse("250ms", &ms) == 0);
    CHECK_INT(ms, 250);
    CHECK(duration_parse("45", &ms) == 0);
    CHECK_INT(ms, 45000);
    CHECK(duration_parse("1.5h", &ms) == 0);
    CHECK_INT(ms, 5400000);
    static const char *const bad[] = {"", "5 minutes", "m", "-5m", "0s", "5x", "1e99d", NULL};
    for (const char *const *b = bad; *b; b++)
        if (duration_parse(*b, &ms) == 0) {
            CHECK_FAIL_("'%s' was accepted as %lld ms", *b, (long long)ms);
            return;
        }
    char buf[32];
    CHECK_STR(duration_format(5400000, buf, sizeof buf), "1h30m");
    CHECK_STR(duration_format(250, buf, sizeof buf), "250ms");
    CHECK_STR(duration_format(0, buf, sizeof buf), "0s");
}

TEST(paths)
{
    char *p = path_join("/a/b", "c.lua");
    CHECK_STR(p, "/a/b/c.lua");
    free(p);
    p = path_join("/a/b/", "c");
    CHECK_STR(p, "/a/b/c");
    free(p);
    p = path_dirname("/x/y/z.lua");
    CHECK_STR(p, "/x/y");
    free(p);
    p = path_dirname("z.lua");
    CHECK_STR(p, ".");
    free(p);
    setenv("HOME", "/home/tester", 1);
    p = path_expand("~/state/a.jsonl");
    CHECK_STR(p, "/home/tester/state/a.jsonl");
    free(p);
    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    p = xdg_state_dir();
    CHECK_STR(p, "/xdg/state/herald");
    free(p);
    unsetenv("XDG_STATE_HOME");
    p = xdg_state_dir();
    CHECK_STR(p, "/home/tester/.local/state/herald");
    free(p);
    unsetenv("XDG_CONFIG_HOME");
    p = xdg_config_file();
    CHECK_STR(p, "/home/tester/.config/herald/herald.lua");
    free(p);
}

TEST(file_reads_are_bounded)
{
    char path[] = "/tmp/herald-test-util-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 1000; i++)
        fputs("0123456789", f);
    fclose(f);
    char *data;
    size_t len;
    CHECK(file_read_all(path, 1 << 20, &data, &len) == 0);
    CHECK_INT(len, 10000);
    CHECK_INT(data[len], 0);
    free(data);
    errno = 0;
    CHECK(file_read_all(path, 4096, &data, &len) != 0);
    CHECK_INT(errno, EFBIG);
    unlink(path);
    CHECK(file_read_all("/nonexistent/x", 4096, &data, &len) != 0);
    CHECK_INT(errno, ENOENT);
}

TEST(sha256_known_vector)
{
    char hex[65];
    sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(log_masks_secrets_in_urls)
{
    char buf[256];
    CHECK_STR(log_mask_url("https://hooks.slack.com/services/T000/B000/XXXX", buf, sizeof buf),
              "https://hooks.slack.com/services/…");
    CHECK_STR(log_mask_url("https://user:pw@example.com/a", buf, sizeof buf),
              "https://example.com/a/…");
    CHECK_STR(log_mask_url("https://ntfy.sh/topic?auth=abc", buf, sizeof buf),
              "https://ntfy.sh/topic/…");
    CHECK_STR(log_mask_url("http://127.0.0.1:9000/alerts", buf, sizeof buf),
              "http://127.0.0.1:9000/alerts");
    CHECK_STR(
        log_mask_url("https://api.telegram.org/bot123456:ABC-def/sendMessage", buf, sizeof buf),
        "https://api.telegram.org/…");
}

TEST(alert_ids_are_stable_and_distinct)
{
    char a[33], b[33], c[33];
    alert_make_id("rule", "source", "item-1", a);
    alert_make_id("rule", "source", "item-1", b);
    CHECK_STR(a, b);
    CHECK_INT(strlen(a), 32);
    alert_make_id("rule", "source", "item-2", c);
    CHECK(strcmp(a, c) != 0);
    /* Field boundaries matter: ("ab","c") is not ("a","bc"). */
    alert_make_id("ab", "c", "x", b);
    alert_make_id("a", "bc", "x", c);
    CHECK(strcmp(b, c) != 0);
}

TEST(alert_context_is_the_sentence)
{
    const char *t = "First sentence here. The removal of all US troops was decreed. Last one.";
    const char *w = strstr(t, "troops");
    char *ctx = alert_context(t, (size_t)(w - t), (size_t)(w - t) + 6, 120);
    CHECK_STR(ctx, "The removal of all US troops was decreed.");
    free(ctx);
    ctx = alert_context(t, (size_t)(w - t), (size_t)(w - t) + 6, 10);
    CHECK_CONTAINS(ctx, "…");
    CHECK_CONTAINS(ctx, "troops");
    free(ctx);
}

TEST(alert_json_round_trip)
{
    const char *cats[] = {"World"};
    struct herald_article a = {.struct_size = sizeof a,
                               .id = "id-1",
                               .source = "src",
                               .title = "Troops \"leave\" Iraq",
                               .link = "http://x/1",
                               .text = "US troops will leave.",
                               .published = 1578303000,
                               .categories = cats,
                               .n_categories = 1};
    struct evidence ev[] = {{"text", 3, 9, "troop*"}};
    struct evidence_list el = {ev, 1, 1};
    char *json = alert_to_json("abc", "rule-1", 1578303100, &a, &el);
    CHECK(json);
    struct alert_delivery_doc d;
    char err[128];
    CHECK(alert_delivery_parse(json, "hook", 2, &d, err, sizeof err) == 0);
    CHECK_STR(d.alert.id, "abc");
    CHECK_STR(d.alert.rule, "rule-1");
    CHECK_STR(d.alert.notifier, "hook");
    CHECK_INT(d.alert.attempt, 2);
    CHECK_INT(d.alert.created, 1578303100);
    CHECK_STR(d.article.title, "Troops \"leave\" Iraq");
    CHECK_INT(d.article.published, 1578303000);
    CHECK_INT(d.article.n_categories, 1);
    CHECK_STR(d.article.categories[0], "World");
    CHECK_INT(d.alert.n_evidence, 1);
    CHECK_INT(d.alert.evidence[0].start, 3);
    CHECK_INT(d.alert.evidence[0].end, 9);
    CHECK_CONTAINS(d.alert.json, "\"notifier\":\"hook\"");
    CHECK_CONTAINS(d.alert.json, "\"match\":\"troops\"");
    alert_delivery_free(&d);
    free(json);
    CHECK(alert_delivery_parse("{\"not\":\"an alert\"}", "hook", 1, &d, err, sizeof err) != 0);
    CHECK(alert_delivery_parse("garbage", "hook", 1, &d, err, sizeof err) != 0);
}

TEST(text_documents)
{
    struct feed *f = NULL;
    char err[128];
    const char *doc = "Floods in the north\n\nRiver levels peaked overnight.\n";
    CHECK(textdoc_parse(doc, strlen(doc), "floods.txt", &f, err, sizeof err) == 0);
    CHECK_INT(f->n_items, 1);
    CHECK_STR(f->items[0].title, "Floods in the north");
    CHECK_STR(f->items[0].content, "River levels peaked overnight.\n");
    CHECK_STR(f->items[0].id, "floods.txt");
    feed_free(f);
    const char *one = "A single long paragraph without a title line.";
    CHECK(textdoc_parse(one, strlen(one), "x.txt", &f, err, sizeof err) == 0);
    CHECK(f->items[0].title == NULL);
    CHECK_STR(f->items[0].content, one);
    feed_free(f);
    CHECK(textdoc_parse("a\0b", 3, "bin", &f, err, sizeof err) != 0);
    CHECK(textdoc_parse("\xff\xfe", 2, "bin", &f, err, sizeof err) != 0);
}

int main(void)
{
    RUN(durations);
    RUN(paths);
    RUN(file_reads_are_bounded);
    RUN(sha256_known_vector);
    RUN(log_masks_secrets_in_urls);
    RUN(alert_ids_are_stable_and_distinct);
    RUN(alert_context_is_the_sentence);
    RUN(alert_json_round_trip);
    RUN(text_documents);
    return check_summary();
}
