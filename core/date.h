/*
 * date — parsing the dates feeds and pages carry (RFC 822 with its wild deviations,
 * RFC 3339 / W3C-DTF, common non-standard forms) into seconds since the epoch, UTC.
 */
#ifndef HERALD_DATE_H
#define HERALD_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Seconds since the epoch (UTC) for the date in `s`, or -1 when it cannot be read with
 * confidence (never a guess). */
int64_t date_parse(const char *s);

/* Format `t` as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes); returns buf. */
char *date_format_utc(int64_t t, char *buf, size_t n);

#endif
