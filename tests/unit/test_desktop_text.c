/*
 * test_desktop_text — the D-Bus-free half of the desktop notifier (plugins/desktop/
 * desktop_text.h, header-only, included here): option values, the summary and body rendered
 * from an alert in body markup and in plain text (escaping, matched words, cutting), the link
 * line, and the story map that makes a second alert about the same story replace the first
 * notification. The D-Bus half runs against dbus-daemon and dunst in
 * tests/integration/test_desktop.py.
 */
#include "check.h"

#include "../../plugins/desktop/desktop_text.h"

static const char TEXT[] = "Lawmakers in Baghdad voted <today> & on Sunday for the removal of "
                           "all US troops from Iraq.";

/* An alert of rule "iraq" whose evidence is "Baghdad" (bytes 13..20 of TEXT). The snippet
 * shows 60 bytes of context after it, up to the space at byte 80 (after "troops"). */
struct sample {
    struct herald_article a;
    struct herald_evidence ev[2];
    struct herald_alert al;
};

static void sample_init(struct sample *s)
{
    memset(s, 0, sizeof *s);
    s->a.struct_size = sizeof s->a;
    s->a.id = "urn:1";
    s->a.source = "news";
    s->a.title = "Troops\nto <leave> Iraq";
    s->a.link = "http://news.test/iraq?a=1&b=2";
    s->a.summary = "A vote & a <week>.";
    s->a.text = TEXT;
    s->a.published = 1578303000; /* 2020-01-06T09:30:00Z */
    s->ev[0] = (struct herald_evidence){"text", 13, 20, "Baghdad"};
    s->al.struct_size = sizeof s->al;
    s->al.id = "alert-1";
    s->al.rule = "iraq";
    s->al.notifier = "desk";
    s->al.article = &s->a;
    s->al.evidence = s->ev;
    s->al.n_evidence = 1;
}

TEST(urgency_values)
{
    CHECK_INT(desk_urgency("low"), 0);
    CHECK_INT(desk_urgency("normal"), 1);
    CHECK_INT(desk_urgency("critical"), 2);
    CHECK_INT(desk_urgency("urgent"), -1);
    CHECK_INT(desk_urgency("Normal"), -1);
    CHECK_INT(desk_urgency(NULL), -1);
}

TEST(expire_values)
{
    int32_t ms = 123;
    CHECK_INT(desk_expire("default", &ms), 0);
    CHECK_INT(ms, -1);
    CHECK_INT(desk_expire("never", &ms), 0);
    CHECK_INT(ms, 0);
    CHECK_INT(desk_expire("10s", &ms), 0);
    CHECK_INT(ms, 10000);
    CHECK_INT(desk_expire("1500ms", &ms), 0);
    CHECK_INT(ms, 1500);
    CHECK_INT(desk_expire("1.5s", &ms), 0);
    CHECK_INT(ms, 1500);
    CHECK_INT(desk_expire("2m", &ms), 0);
    CHECK_INT(ms, 120000);
    CHECK_INT(desk_expire("30", &ms), 0);
    CHECK_INT(ms, 30000);
    CHECK_INT(desk_expire("24h", &ms), 0);
    CHECK_INT(ms, 86400000);
    CHECK_INT(desk_expire("25h", &ms), -1);
    CHECK_INT(desk_expire("0s", &ms), -1);
    CHECK_INT(desk_expire("2d", &ms), -1);
    CHECK_INT(desk_expire("soon", &ms), -1);
    CHECK_INT(desk_expire("10 s", &ms), -1);
    CHECK_INT(desk_expire("", &ms), -1);
    CHECK_INT(desk_expire("99999999999999s", &ms), -1);
}

TEST(summary_is_plain_one_line)
{
    struct sample s;
    sample_init(&s);
    struct tpl t = {0};
    char err[200];
    CHECK_INT(tpl_parse(&t, "{{rule}}: {{title}}", err, sizeof err), 0);
    struct atext b = {0};
    desk_summary(&b, &t, &s.al);
    CHECK_STR(b.p, "iraq: Troops to <leave> Iraq");
    atext_free(&b);
    tpl_free(&t);
}

TEST(body_markup_escapes_and_bolds)
{
    struct sample s;
    sample_init(&s);
    struct atext b = {0};
    desk_body(&b, NULL, &s.al, 1);
    CHECK(!b.failed);
    CHECK_STR(b.p, "Lawmakers in <b>Baghdad</b> voted &lt;today&gt; &amp; on Sunday for the "
                   "removal of all US troops\xe2\x80\xa6\nnews \xc2\xb7 2020-01-06 09:30 UTC");
    atext_free(&b);
}

TEST(body_plain_brackets_and_no_escapes)
{
    struct sample s;
    sample_init(&s);
    struct atext b = {0};
    desk_body(&b, NULL, &s.al, 0);
    CHECK_STR(b.p, "Lawmakers in [Baghdad] voted <today> & on Sunday for the removal of all "
                   "US troops\xe2\x80\xa6\nnews \xc2\xb7 2020-01-06 09:30 UTC");
    atext_free(&b);
}

TEST(body_without_evidence_shows_the_summary)
{
    struct sample s;
    sample_init(&s);
    s.al.n_evidence = 0;
    s.a.published = -1;
    struct atext b = {0};
    desk_body(&b, NULL, &s.al, 1);
    CHECK_STR(b.p, "A vote &amp; a &lt;week&gt;.\nnews");
    atext_free(&b);
}

TEST(evidence_out_of_bounds_is_ignored)
{
    struct sample s;
    sample_init(&s);
    s.ev[0].start = 5000;
    s.ev[0].end = 5007;
    struct atext b = {0};
    desk_body(&b, NULL, &s.al, 0);
    CHECK_STR(b.p, "A vote & a <week>.\nnews \xc2\xb7 2020-01-06 09:30 UTC");
    atext_free(&b);
}

TEST(body_template_in_both_modes)
{
    struct sample s;
    sample_init(&s);
    struct tpl t = {0};
    char err[200];
    CHECK_INT(tpl_parse(&t, "<i>{{source}}</i>: {{evidence}}", err, sizeof err), 0);
    struct atext m = {0}, p = {0};
    desk_body(&m, &t, &s.al, 1);
    desk_body(&p, &t, &s.al, 0);
    CHECK_CONTAINS(m.p, "<i>news</i>: Lawmakers in <b>Baghdad</b> voted &lt;today&gt;");
    CHECK_CONTAINS(p.p, "news: Lawmakers in [Baghdad] voted <today>");
    CHECK(strstr(p.p, "<i>") == NULL);
    atext_free(&m);
    atext_free(&p);
    tpl_free(&t);
}

/* Each '&' of markup text starts one of the three entities the body uses. */
static int entities_whole(const char *s)
{
    for (const char *p = strchr(s, '&'); p; p = strchr(p + 1, '&'))
        if (strncmp(p, "&amp;", 5) != 0 && strncmp(p, "&lt;", 4) != 0 && strncmp(p, "&gt;", 4) != 0)
            return 0;
    return 1;
}

TEST(long_body_is_cut_whole)
{
    struct sample s;
    sample_init(&s);
    static char big[1200];
    for (size_t i = 0; i + 1 < sizeof big; i++)
        big[i] = "a&<b "[i % 5];
    s.a.summary = big;
    struct tpl t = {0};
    char err[200];
    CHECK_INT(tpl_parse(&t, "<b>{{summary}}</b> {{summary}} {{summary}}", err, sizeof err), 0);
    struct atext b = {0};
    desk_body(&b, &t, &s.al, 1);
    CHECK(!b.failed);
    CHECK(amark_units(b.p, b.len) <= DESK_BODY_UNITS);
    CHECK(entities_whole(b.p));
    CHECK_CONTAINS(b.p, "\xe2\x80\xa6"); /* cut, with an ellipsis */
    atext_free(&b);
    tpl_free(&t);
}

TEST(link_line)
{
    struct atext m = {0}, p = {0}, bad = {0};
    desk_link_line(&m, "http://news.test/x?a=1&b=<2>", 1);
    desk_link_line(&p, "http://news.test/x?a=1&b=2", 0);
    desk_link_line(&bad, "javascript:alert(1)", 1);
    CHECK_STR(m.p, "\nhttp://news.test/x?a=1&amp;b=%3C2%3E");
    CHECK_STR(p.p, "\nhttp://news.test/x?a=1&b=2");
    CHECK(bad.p == NULL);
    atext_free(&m);
    atext_free(&p);
}

TEST(story_keys)
{
    struct sample s;
    sample_init(&s);
    char *k = desk_story_key(&s.al);
    CHECK_STR(k, "link\nhttp://news.test/iraq?a=1&b=2");
    free(k);
    s.a.link = "";
    k = desk_story_key(&s.al);
    CHECK_STR(k, "id\nnews\nurn:1");
    free(k);
    s.a.id = NULL;
    CHECK(desk_story_key(&s.al) == NULL);
}

TEST(stories_replace_forget_and_evict)
{
    static struct desk_stories st; /* zeroed; large for the stack */
    memset(&st, 0, sizeof st);
    CHECK_INT(desk_stories_put(&st, "link\na", 7, "http://a/"), 0);
    CHECK_INT(desk_stories_put(&st, "link\nb", 8, NULL), 0);
    CHECK_INT(desk_stories_find(&st, "link\na")->id, 7);
    CHECK_STR(desk_stories_by_id(&st, 7)->link, "http://a/");
    CHECK(desk_stories_by_id(&st, 8)->link == NULL);
    CHECK(desk_stories_by_id(&st, 0) == NULL);
    /* the server answers with another id: the story follows it */
    CHECK_INT(desk_stories_put(&st, "link\na", 9, "http://a/"), 0);
    CHECK_INT(st.n, 2);
    CHECK(desk_stories_by_id(&st, 7) == NULL);
    CHECK_INT(desk_stories_find(&st, "link\na")->id, 9);
    /* an id reused for another story leaves the old story */
    CHECK_INT(desk_stories_put(&st, "link\nc", 8, NULL), 0);
    CHECK(desk_stories_find(&st, "link\nb") == NULL);
    CHECK_INT(st.n, 2);
    desk_stories_forget(&st, 9);
    CHECK(desk_stories_find(&st, "link\na") == NULL);
    CHECK_INT(st.n, 1);
    /* full: the least recently updated goes ("link\nc" was updated before all of these) */
    char key[32];
    for (int i = 0; i < DESK_STORIES; i++) {
        snprintf(key, sizeof key, "link\n%d", i);
        CHECK_INT(desk_stories_put(&st, key, (uint32_t)(100 + i), NULL), 0);
    }
    CHECK_INT(st.n, DESK_STORIES);
    CHECK(desk_stories_find(&st, "link\nc") == NULL);
    CHECK_INT(desk_stories_find(&st, "link\n0")->id, 100);
    CHECK_INT(desk_stories_put(&st, "link\n0", 100, NULL), 0); /* refreshed */
    CHECK_INT(desk_stories_put(&st, "link\nnew", 5000, NULL), 0);
    CHECK(desk_stories_find(&st, "link\n0") != NULL);
    CHECK(desk_stories_find(&st, "link\n1") == NULL);
    CHECK_INT(desk_stories_find(&st, "link\nnew")->id, 5000);
    desk_stories_free(&st);
    CHECK_INT(st.n, 0);
}

TEST(utf8_check)
{
    CHECK(desk_utf8_ok("caf\xc3\xa9 {{title}}"));
    CHECK(!desk_utf8_ok("caf\xe9"));
    CHECK(!desk_utf8_ok("\xc0\xaf"));
}

int main(void)
{
    RUN(urgency_values);
    RUN(expire_values);
    RUN(summary_is_plain_one_line);
    RUN(body_markup_escapes_and_bolds);
    RUN(body_plain_brackets_and_no_escapes);
    RUN(body_without_evidence_shows_the_summary);
    RUN(evidence_out_of_bounds_is_ignored);
    RUN(body_template_in_both_modes);
    RUN(long_body_is_cut_whole);
    RUN(link_line);
    RUN(story_keys);
    RUN(stories_replace_forget_and_evict);
    RUN(utf8_check);
    return check_summary();
}
