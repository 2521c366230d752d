/*
 * log — one line per event on stderr (journald picks it up), with a level filter. The
 * logger lives in the daemon's context and is passed to whoever reports events.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <herald/plugin.h>

#include <stdarg.h>
#include <stdio.h>

struct logger {
    enum herald_log_level level; /* lines above this level are dropped */
    int timestamps;              /* prefix an ISO-8601 UTC time (off under journald) */
    FILE *out;                   /* stderr unless a test redirects it */
};

/* A logger at INFO to stderr, timestamps unless $JOURNAL_STREAM says journald reads us. */
void log_init(struct logger *lg);
/* Log one line; printf-style. */
void log_msg(const struct logger *lg, enum herald_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a va_list. */
void log_vmsg(const struct logger *lg, enum herald_log_level lvl, const char *fmt, va_list ap);
/* Parse "error", "warn", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);
/* Copy `url` into buf with credentials, query string and path tokens masked, so that
 * secrets in webhook URLs never reach a log. Returns buf. */
char *log_mask_url(const char *url, char *buf, size_t n);

#endif
