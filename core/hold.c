/*
 * hold — the throttle / digest / quiet-hours arithmetic (see hold.h). Input is the policy
 * from the config and the batch state from the store; output is a release time. Quiet
 * hours are local wall-clock times, so they follow the machine's TZ and DST changes.
 */
#include "hold.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void hold_policy_init(struct hold_policy *p)
{
    memset(p, 0, sizeof *p);
    p->quiet_from = p->quiet_to = -1;
}

/* "HH:MM" at s → minutes after midnight, or -1; *end is set past it. */
static int parse_clock(const char *s, const char **end)
{
    int h = 0, m = 0, n = 0;
    if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || n < 4) return -1;
    if (s[0] < '0' || s[0] > '9' || h < 0 || h > 24 || m < 0 || m > 59) return -1;
    if (h == 24 && m != 0) return -1;
    *end = s + n;
    return (h * 60 + m) % (24 * 60);
}

int hold_quiet_parse(const char *s, int *from, int *to)
{
    if (!s) return -1;
    while (*s == ' ')
        s++;
    const char *p = s;
    int a = parse_clock(p, &p);
    if (a < 0) return -1;
    while (*p == ' ')
        p++;
    if (*p != '-') return -1;
    p++;
    while (*p == ' ')
        p++;
    int b = parse_clock(p, &p);
    if (b < 0) return -1;
    while (*p == ' ')
        p++;
    if (*p || a == b) return -1;
    *from = a;
    *to = b;
    return 0;
}

void hold_policy_merge(const struct hold_policy *rule, const struct hold_policy *notifier,
                       struct hold_policy *out, int *per_rule)
{
    *per_rule = rule && hold_policy_active(rule);
    hold_policy_init(out);
    const struct hold_policy *n = notifier;
    out->throttle_ms = rule && rule->throttle_ms ? rule->throttle_ms : n ? n->throttle_ms : 0;
    out->digest_ms = rule && rule->digest_ms ? rule->digest_ms : n ? n->digest_ms : 0;
    const struct hold_policy *q = rule && rule->quiet_from >= 0 ? rule : n;
    if (q && q->quiet_from >= 0) {
        out->quiet_from = q->quiet_from;
        out->quiet_to = q->quiet_to;
    }
}

int hold_policy_active(const struct hold_policy *p)
{
    return p->throttle_ms > 0 || p->digest_ms > 0 || p->quiet_from >= 0;
}

static int local_minute(int64_t t, struct tm *tm)
{
    time_t tt = (time_t)t;
    if (!localtime_r(&tt, tm)) return -1;
    return tm->tm_hour * 60 + tm->tm_min;
}

int hold_in_quiet(const struct hold_policy *p, int64_t t)
{
    if (p->quiet_from < 0 || p->quiet_to < 0) return 0;
    struct tm tm;
    int m = local_minute(t, &tm);
    if (m < 0) return 0;
    if (p->quiet_from < p->quiet_to) return m >= p->quiet_from && m < p->quiet_to;
    return m >= p->quiet_from || m < p->quiet_to;
}

int64_t hold_quiet_end(const struct hold_policy *p, int64_t t)
{
    if (!hold_in_quiet(p, t)) return t;
    struct tm tm;
    if (local_minute(t, &tm) < 0) return t;
    /* The next time the local clock reads quiet_to: today's, else tomorrow's. */
    for (int day = 0; day < 3; day++) {
        struct tm e = tm;
        e.tm_mday += day;
        e.tm_hour = p->quiet_to / 60;
        e.tm_min = p->quiet_to % 60;
        e.tm_sec = 0;
        e.tm_isdst = -1;
        time_t end = mktime(&e);
        if (end != (time_t)-1 && (int64_t)end > t) return (int64_t)end;
    }
    return t;
}

int64_t hold_release_time(const struct hold_policy *p, const struct hold_state *s, int64_t now)
{
    /* Alerts already waiting: the new one joins them, so they go out together, in order. */
    if (s->open_release > 0) return s->open_release;
    int64_t r = now;
    if (p->throttle_ms > 0 && s->last_sent > 0) {
        /* A clock stepped back must not hold alerts for the size of the step. */
        int64_t last = s->last_sent > now ? now : s->last_sent;
        int64_t next = last + (p->throttle_ms + 999) / 1000;
        if (next > r) r = next;
    }
    if (p->digest_ms > 0 && now + (p->digest_ms + 999) / 1000 > r)
        r = now + (p->digest_ms + 999) / 1000;
    if (r == now && !hold_in_quiet(p, now)) return 0;
    if (r < now) r = now;
    /* A window that ends inside quiet hours waits for them to end. */
    return hold_quiet_end(p, r);
}
