/* Unit tests for core/hold.c: quiet-hours parsing, policy merging and release times, all
 * with an explicit clock (no waiting). Times are fixed epochs; TZ is set per test. */
#include "check.h"
#include "hold.h"

#include <stdlib.h>
#include <time.h>

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* 2026-01-10 12:00:00 UTC, a Saturday in winter. */
static const int64_t NOON = 1768046400;
enum { MIN = 60, HOUR = 3600 };

TEST(quiet_parse_accepts_and_refuses)
{
    int a = -1, b = -1;
    CHECK_INT(hold_quiet_parse("22:00-07:00", &a, &b), 0);
    CHECK_INT(a, 22 * 60);
    CHECK_INT(b, 7 * 60);
    CHECK_INT(hold_quiet_parse(" 9:30 - 17:45 ", &a, &b), 0);
    CHECK_INT(a, 9 * 60 + 30);
    CHECK_INT(b, 17 * 60 + 45);
    CHECK_INT(hold_quiet_parse("00:00-24:00", &a, &b), -1); /* same instant: not a window */
    CHECK_INT(hold_quiet_parse("25:00-07:00", &a, &b), -1);
    CHECK_INT(hold_quiet_parse("22:60-07:00", &a, &b), -1);
    CHECK_INT(hold_quiet_parse("22:00", &a, &b), -1);
    CHECK_INT(hold_quiet_parse("22:00-07:00 tomorrow", &a, &b), -1);
    CHECK_INT(hold_quiet_parse("-1:00-07:00", &a, &b), -1);
    CHECK_INT(hold_quiet_parse("", &a, &b), -1);
    CHECK_INT(hold_quiet_parse(NULL, &a, &b), -1);
}

TEST(merge_rule_overrides_notifier)
{
    struct hold_policy r, n, out;
    int per_rule = -1;
    hold_policy_init(&r);
    hold_policy_init(&n);
    n.digest_ms = HOUR * 1000;
    n.quiet_from = 22 * 60;
    n.quiet_to = 7 * 60;
    hold_policy_merge(&r, &n, &out, &per_rule);
    CHECK_INT(per_rule, 0);
    CHECK_INT(out.digest_ms, HOUR * 1000);
    CHECK_INT(out.quiet_from, 22 * 60);
    r.throttle_ms = 30 * MIN * 1000;
    hold_policy_merge(&r, &n, &out, &per_rule);
    CHECK_INT(per_rule, 1);
    CHECK_INT(out.throttle_ms, 30 * MIN * 1000);
    CHECK_INT(out.digest_ms, HOUR * 1000); /* the rule did not set one: the notifier's */
    CHECK_INT(out.quiet_to, 7 * 60);
    hold_policy_merge(&r, NULL, &out, &per_rule);
    CHECK_INT(out.digest_ms, 0);
    CHECK_INT(out.quiet_from, -1);
    CHECK(hold_policy_active(&out));
    hold_policy_init(&out);
    CHECK(!hold_policy_active(&out));
}

TEST(throttle_one_message_per_window)
{
    set_tz("UTC");
    struct hold_policy p;
    hold_policy_init(&p);
    p.throttle_ms = 30 * MIN * 1000;
    struct hold_state st = {0, 0};
    CHECK_INT(hold_release_time(&p, &st, NOON), 0); /* never sent: goes now */
    st.last_sent = NOON;
    CHECK_INT(hold_release_time(&p, &st, NOON + 10 * MIN), NOON + 30 * MIN);
    st.open_release = NOON + 30 * MIN; /* later alerts join the waiting ones */
    CHECK_INT(hold_release_time(&p, &st, NOON + 20 * MIN), NOON + 30 * MIN);
    st.open_release = 0;
    CHECK_INT(hold_release_time(&p, &st, NOON + 30 * MIN), 0); /* window over */
    CHECK_INT(hold_release_time(&p, &st, NOON + 2 * HOUR), 0);
    /* The clock stepped back a day after the last send: one window from now, not a day. */
    CHECK_INT(hold_release_time(&p, &st, NOON - 24 * HOUR), NOON - 24 * HOUR + 30 * MIN);
}

TEST(digest_collects_over_a_window)
{
    set_tz("UTC");
    struct hold_policy p;
    hold_policy_init(&p);
    p.digest_ms = HOUR * 1000;
    struct hold_state st = {0, 0};
    CHECK_INT(hold_release_time(&p, &st, NOON), NOON + HOUR);
    st.open_release = NOON + HOUR;
    CHECK_INT(hold_release_time(&p, &st, NOON + 59 * MIN), NOON + HOUR);
    /* Throttle and digest together: the later of the two. */
    st.open_release = 0;
    st.last_sent = NOON;
    p.throttle_ms = 3 * HOUR * 1000;
    CHECK_INT(hold_release_time(&p, &st, NOON + 10 * MIN), NOON + 3 * HOUR);
}

TEST(quiet_hours_hold_until_they_end)
{
    set_tz("UTC");
    struct hold_policy p;
    hold_policy_init(&p);
    CHECK_INT(hold_quiet_parse("22:00-07:00", &p.quiet_from, &p.quiet_to), 0);
    struct hold_state st = {0, 0};
    CHECK_INT(hold_release_time(&p, &st, NOON), 0);
    CHECK(!hold_in_quiet(&p, NOON + 10 * HOUR - 1));                           /* 21:59:59 */
    CHECK(hold_in_quiet(&p, NOON + 10 * HOUR));                                /* 22:00 */
    CHECK_INT(hold_release_time(&p, &st, NOON + 11 * HOUR), NOON + 19 * HOUR); /* 23:00 → 07:00 */
    CHECK_INT(hold_release_time(&p, &st, NOON + 16 * HOUR), NOON + 19 * HOUR); /* 04:00 → 07:00 */
    CHECK_INT(hold_release_time(&p, &st, NOON + 19 * HOUR), 0);                /* 07:00 is out */
    /* A digest window that ends inside quiet hours waits for their end. */
    p.digest_ms = HOUR * 1000;
    CHECK_INT(hold_release_time(&p, &st, NOON + 9 * HOUR + 30 * MIN), NOON + 19 * HOUR);
    CHECK_INT(hold_release_time(&p, &st, NOON + 8 * HOUR), NOON + 9 * HOUR);
}

TEST(quiet_hours_within_a_day)
{
    set_tz("UTC");
    struct hold_policy p;
    hold_policy_init(&p);
    CHECK_INT(hold_quiet_parse("12:30-14:00", &p.quiet_from, &p.quiet_to), 0);
    CHECK(!hold_in_quiet(&p, NOON));
    CHECK(hold_in_quiet(&p, NOON + 30 * MIN));
    CHECK_INT(hold_quiet_end(&p, NOON + 45 * MIN), NOON + 2 * HOUR);
    CHECK_INT(hold_quiet_end(&p, NOON), NOON);
}

TEST(quiet_hours_follow_local_time_and_dst)
{
    /* Berlin: 2026-03-28 23:00 CET (22:00 UTC) is in quiet hours 22:00-07:00; the clocks
     * go forward that night, so 07:00 CEST is 05:00 UTC, seven hours of real time. */
    set_tz("Europe/Berlin");
    struct hold_policy p;
    hold_policy_init(&p);
    CHECK_INT(hold_quiet_parse("22:00-07:00", &p.quiet_from, &p.quiet_to), 0);
    const int64_t t = 1774735200; /* 2026-03-28T22:00:00Z */
    CHECK(hold_in_quiet(&p, t));
    CHECK_INT(hold_quiet_end(&p, t), 1774760400); /* 2026-03-29T05:00:00Z */
    /* The same instant in UTC is 22:00: also quiet, but it ends at 07:00 UTC. */
    set_tz("UTC");
    CHECK_INT(hold_quiet_end(&p, t), 1774767600);
}

int main(void)
{
    RUN(quiet_parse_accepts_and_refuses);
    RUN(merge_rule_overrides_notifier);
    RUN(throttle_one_message_per_window);
    RUN(digest_collects_over_a_window);
    RUN(quiet_hours_hold_until_they_end);
    RUN(quiet_hours_within_a_day);
    RUN(quiet_hours_follow_local_time_and_dst);
    return check_summary();
}
