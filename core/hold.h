/*
 * hold — when an alert may go out: the throttle, digest and quiet-hours policy of a rule
 * and a notifier, as pure functions of the clock. The caller (batch.c) reads the batch
 * state from the store and passes `now`, so every decision can be tested without waiting.
 */
#ifndef HERALD_HOLD_H
#define HERALD_HOLD_H

#include <stdint.h>

/* The delivery policy of a rule or a notifier, as configured. Zero/-1 fields are unset. */
struct hold_policy {
    int64_t throttle_ms; /* at most one message per window; the rest folded into the next */
    int64_t digest_ms;   /* collect alerts over a window into one message */
    int quiet_from;      /* quiet hours, minutes after local midnight; -1 when none */
    int quiet_to;        /* end of quiet hours (exclusive); may be before quiet_from */
};

/* What a batch looks like in the store when a new alert arrives. */
struct hold_state {
    int64_t last_sent;    /* when the batch last sent a message, seconds; 0 never */
    int64_t open_release; /* release time of alerts already held, seconds; 0 when none */
};

/* An unset policy (no throttle, no digest, no quiet hours). */
void hold_policy_init(struct hold_policy *p);

/* Parse quiet hours written "22:00-07:00" (24-hour local times; the end is exclusive and
 * may be on the next day). Returns 0, or -1 when malformed or when both ends are equal. */
int hold_quiet_parse(const char *s, int *from, int *to);

/* The policy for alerts of a rule to a notifier: each of throttle, digest and quiet hours
 * from the rule when it sets it, else from the notifier. Sets *per_rule when the rule set
 * any of them (its alerts are then batched apart from the notifier's other alerts). */
void hold_policy_merge(const struct hold_policy *rule, const struct hold_policy *notifier,
                       struct hold_policy *out, int *per_rule);

/* 1 when the policy holds anything at all. */
int hold_policy_active(const struct hold_policy *p);

/* 1 when local time `t` (seconds since the epoch) is inside the quiet hours. */
int hold_in_quiet(const struct hold_policy *p, int64_t t);

/* The first moment at or after `t` that is outside the quiet hours (`t` itself when it is
 * outside, or there are none). Seconds since the epoch, local time rules (DST-safe). */
int64_t hold_quiet_end(const struct hold_policy *p, int64_t t);

/* When a new alert arriving at `now` may go out: 0 to send it now, else the release time
 * (seconds) of the batch it joins or opens. */
int64_t hold_release_time(const struct hold_policy *p, const struct hold_state *s, int64_t now);

#endif
