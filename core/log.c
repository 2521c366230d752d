/*
 * log — formatting of log lines. Levels are words (error, warn, info, debug) so that a
 * human reading journalctl and a grep both understand them.
 */
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(struct logger *lg)
{
    lg->level = HERALD_LOG_INFO;
    lg->timestamps = getenv("JOURNAL_STREAM") == NULL;
    lg->out = stderr;
}

void log_vmsg(const struct logger *lg, enum herald_log_level lvl, const char *fmt, va_list ap)
{
    if (!lg || lvl > lg->level) return;
    FILE *out = lg->out ? lg->out : stderr;
    char line[4096];
    int off = 0;
    if (lg->timestamps) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        off = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    }
    off += snprintf(line + off, sizeof line - (size_t)off,
                    "herald %s: ", level_names[lvl <= HERALD_LOG_DEBUG ? lvl : HERALD_LOG_DEBUG]);
    vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
    /* One fputs per line so lines from a log burst never interleave mid-line. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, out);
    fflush(out);
}

void log_msg(const struct logger *lg, enum herald_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lg, lvl, fmt, ap);
    va_end(ap);
}

int log_level_parse(const char *s)
{
    for (int i = 0; i <= HERALD_LOG_DEBUG; i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    if (strcmp(s, "warning") == 0) return HERALD_LOG_WARN;
    return -1;
}

char *log_mask_url(const char *url, char *buf, size_t n)
{
    if (!url) {
        snprintf(buf, n, "(none)");
        return buf;
    }
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end || strncmp(url, "file", 4) == 0) {
        snprintf(buf, n, "%s", url);
        return buf;
    }
    const char *host = scheme_end + 3;
    const char *at = NULL;
    const char *p = host;
    for (; *p && *p != '/' && *p != '?' && *p != '#'; p++)
        if (*p == '@') at = p;
    if (at) host = at + 1;
    /* Keep scheme://host/first-path-segment; tokens live further down the path (Slack,
     * Discord), in the query (ntfy, Gotify) or in a first segment with digits in it
     * (Telegram's /bot<token>/), which is masked too. */
    const char *path = p;
    const char *seg_end = path;
    if (*seg_end == '/') {
        int digits = 0;
        seg_end++;
        for (; *seg_end && *seg_end != '/' && *seg_end != '?' && *seg_end != '#'; seg_end++)
            digits += *seg_end >= '0' && *seg_end <= '9';
        if (digits) seg_end = path;
    }
    int masked = *seg_end != '\0' || at != NULL;
    snprintf(buf, n, "%.*s://%.*s%.*s%s", (int)(scheme_end - url), url, (int)(p - host), host,
             (int)(seg_end - path), path, masked ? "/…" : "");
    return buf;
}
