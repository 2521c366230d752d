/*
 * date — reads the dates feeds and pages carry into seconds since the epoch, UTC.
 * Input: the text of <pubDate>, <dc:date>, <updated>, JSON Feed date_published, HTML
 * meta tags. Output: int64 seconds for struct item / struct feed, or -1 when the text
 * cannot be read with confidence. Two readers: ISO 8601 / RFC 3339 / W3C-DTF (and the
 * "2020/1/10 14:03" form), and a tolerant token reader for RFC 822 and its many
 * deviations (asctime, missing day names, one-digit fields, named and military zones).
 * No mktime/TZ: calendar math is days_from_civil, so results never depend on the host.
 */
#include "date.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

/* The broken-down fields both readers fill; zone in seconds east of UTC. */
struct dt {
    int64_t year;
    int mon, day, hour, min, sec;
    int zone;
};

static int64_t dt_to_epoch(const struct dt *t)
{
    if (t->year < 1000 || t->year > 9999 || t->mon < 1 || t->mon > 12) return -1;
    if (t->day < 1 || t->day > days_in_month(t->year, t->mon)) return -1;
    if (t->hour < 0 || t->hour > 24 || t->min < 0 || t->min > 59 || t->sec < 0 || t->sec > 60)
        return -1;
    if (t->hour == 24 && (t->min || t->sec)) return -1;
    int64_t s = days_from_civil(t->year, t->mon, t->day) * 86400;
    return s + t->hour * 3600 + t->min * 60 + t->sec - t->zone;
}

/* Read 1..maxd digits at *p; returns the count read (0 when none). */
static int digits(const char **p, int maxd, int *out)
{
    int n = 0, v = 0;
    while (n < maxd && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n;
}

static const char *skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* "+hh:mm", "+hhmm", "+hh", "Z" at *p; 0 and advances on success. */
static int numeric_zone(const char **p, int *zone)
{
    const char *s = *p;
    if (*s == 'Z' || *s == 'z') {
        *zone = 0;
        *p = s + 1;
        return 0;
    }
    if (*s != '+' && *s != '-') return -1;
    int sign = *s == '-' ? -1 : 1, hh, mm = 0;
    s++;
    int n = digits(&s, 2, &hh);
    if (n == 0) return -1;
    if (n == 1 && !isdigit((unsigned char)*s)) {
        /* "+8" is seen in the wild; accept a lone hour digit. */
    } else if (*s == ':') {
        s++;
        if (digits(&s, 2, &mm) != 2) return -1;
    } else if (isdigit((unsigned char)*s)) {
        if (digits(&s, 2, &mm) != 2) return -1;
    }
    if (hh > 14 || mm > 59) return -1;
    *zone = sign * (hh * 3600 + mm * 60);
    *p = s;
    return 0;
}

/* Everything after a complete date may only be spaces or a bit of known noise. */
static int only_trailing_junk(const char *p)
{
    p = skip_ws(p);
    return *p == '\0' || *p == '(' || *p == '[';
}

/* ISO 8601 / RFC 3339 / W3C-DTF and "YYYY/M/D h:m:s": year first, then '-' or '/'. */
static int64_t parse_iso(const char *s)
{
    const char *p = s;
    struct dt t = {0};
    int y, n = digits(&p, 4, &y);
    if (n != 4 || (*p != '-' && *p != '/')) return -1;
    char sep = *p++;
    t.year = y;
    if (digits(&p, 2, &t.mon) == 0) return -1;
    t.day = 1;
    if (*p == sep) {
        p++;
        if (digits(&p, 2, &t.day) == 0) return -1;
    } else if (sep == '/') {
        return -1;
    }
    if (*p == 'T' || *p == 't' || *p == ' ' || *p == '_') {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        if (isdigit((unsigned char)*q)) {
            p = q;
            if (digits(&p, 2, &t.hour) == 0 || *p != ':') return -1;
            p++;
            if (digits(&p, 2, &t.min) != 2 && sep == '-') return -1;
            if (*p == ':') {
                p++;
                if (digits(&p, 2, &t.sec) == 0) return -1;
                if (*p == '.' || *p == ',') {
                    p++;
                    if (!isdigit((unsigned char)*p)) return -1;
                    while (isdigit((unsigned char)*p))
                        p++;
                }
            }
            p = skip_ws(p);
            if (numeric_zone(&p, &t.zone) != 0) {
                if (strncmp(p, "UTC", 3) == 0 || strncmp(p, "GMT", 3) == 0) p += 3;
            }
        }
    }
    if (!only_trailing_junk(p)) return -1;
    return dt_to_epoch(&t);
}

struct zone_name {
    const char *name;
    int minutes;
};

/* Named zones seen in feeds. Ambiguous abbreviations (IST, CST in Asia, BST in
 * Bangladesh) take their most common meaning in English-language feeds. */
static const struct zone_name zones[] = {
    {"UT", 0},     {"UTC", 0},     {"GMT", 0},     {"Z", 0},      {"WET", 0},    {"EST", -300},
    {"EDT", -240}, {"CST", -360},  {"CDT", -300},  {"MST", -420}, {"MDT", -360}, {"PST", -480},
    {"PDT", -420}, {"AKST", -540}, {"AKDT", -480}, {"HST", -600}, {"AST", -240}, {"ADT", -180},
    {"NST", -210}, {"NDT", -150},  {"BST", 60},    {"IST", 330},  {"CET", 60},   {"CEST", 120},
    {"MET", 60},   {"MEST", 120},  {"WEST", 60},   {"EET", 120},  {"EEST", 180}, {"MSK", 180},
    {"JST", 540},  {"KST", 540},   {"HKT", 480},   {"SGT", 480},  {"AEST", 600}, {"AEDT", 660},
    {"ACST", 570}, {"ACDT", 630},  {"AWST", 480},  {"NZST", 720}, {"NZDT", 780}, {"BRT", -180},
    {"ART", -180}, {"PKT", 300},   {"WIB", 420},
};

static int zone_lookup(const char *w, size_t n, int *zone)
{
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        if (strlen(zones[i].name) == n && strncasecmp(zones[i].name, w, n) == 0) {
            *zone = zones[i].minutes * 60;
            return 0;
        }
    }
    /* Military zones: A–I = +1..+9, K–M = +10..+12, N–Y = -1..-12 (J is unused). */
    if (n == 1 && isalpha((unsigned char)w[0])) {
        int c = toupper((unsigned char)w[0]);
        if (c >= 'A' && c <= 'I')
            *zone = (c - 'A' + 1) * 3600;
        else if (c >= 'K' && c <= 'M')
            *zone = (c - 'K' + 10) * 3600;
        else if (c >= 'N' && c <= 'Y')
            *zone = -(c - 'N' + 1) * 3600;
        else
            return -1;
        return 0;
    }
    return -1;
}

struct month_name {
    const char *name;
    int mon;
};

/* English names plus the abbreviations of de/fr/es/it/pt/nl feeds that do not collide. */
static const struct month_name months[] = {
    {"jan", 1},  {"feb", 2},  {"mar", 3},  {"apr", 4},  {"may", 5},  {"jun", 6},  {"jul", 7},
    {"aug", 8},  {"sep", 9},  {"oct", 10}, {"nov", 11}, {"dec", 12}, {"sept", 9}, {"ene", 1},
    {"gen", 1},  {"jän", 1},  {"janv", 1}, {"fev", 2},  {"fév", 2},  {"févr", 2}, {"mär", 3},
    {"mrz", 3},  {"abr", 4},  {"avr", 4},  {"mai", 5},  {"mag", 5},  {"mei", 5},  {"juin", 6},
    {"giu", 6},  {"juil", 7}, {"lug", 7},  {"ago", 8},  {"aoû", 8},  {"set", 9},  {"okt", 10},
    {"out", 10}, {"ott", 10}, {"dez", 12}, {"dic", 12}, {"déc", 12}, {"des", 12},
};

static const char *const month_full[] = {"january",   "february", "march",    "april",
                                         "may",       "june",     "july",     "august",
                                         "september", "october",  "november", "december"};

static int month_lookup(const char *w, size_t n)
{
    char low[16];
    if (n >= sizeof low) return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)w[i]);
    low[n] = '\0';
    if (n > 0 && low[n - 1] == '.') low[--n] = '\0';
    for (size_t i = 0; i < sizeof months / sizeof months[0]; i++)
        if (strcmp(months[i].name, low) == 0) return months[i].mon;
    for (int i = 0; i < 12; i++)
        if (n > 3 && strcmp(month_full[i], low) == 0) return i + 1;
    return 0;
}

static int is_day_name(const char *w, size_t n)
{
    static const char *const names[] = {"mon",      "tue",    "wed",      "thu",     "fri",
                                        "sat",      "sun",    "monday",   "tuesday", "wednesday",
                                        "thursday", "friday", "saturday", "sunday",  "tues",
                                        "thur",     "thurs"};
    if (n > 0 && w[n - 1] == '.') n--;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], w, n) == 0) return 1;
    return 0;
}

/* h:m[:s][.frac] at *p. */
static int clock_time(const char **p, struct dt *t)
{
    const char *s = *p;
    if (digits(&s, 2, &t->hour) == 0 || *s != ':') return -1;
    s++;
    if (digits(&s, 2, &t->min) == 0) return -1;
    if (*s == ':') {
        s++;
        if (digits(&s, 2, &t->sec) == 0) return -1;
        if (*s == '.' && isdigit((unsigned char)s[1])) {
            s++;
            while (isdigit((unsigned char)*s))
                s++;
        }
    }
    *p = s;
    return 0;
}

/* Two-digit years as RFC 2822 §4.3 says: 00–49 are 20xx, 50–99 are 19xx. */
static int64_t full_year(int v, int ndigits)
{
    if (ndigits == 4) return v;
    if (ndigits <= 2) return v < 50 ? 2000 + v : 1900 + v;
    return -1;
}

/* The tolerant reader: tokens in any reasonable order (RFC 822, asctime, "December 10,
 * 2017 1:05 PM EST"). Day, month and year are required; time and zone are optional. */
static int64_t parse_words(const char *s)
{
    struct dt t = {0};
    int have_day = 0, have_year = 0, have_time = 0, have_zone = 0, pm = -1, ntok = 0;
    const char *p = s;
    t.mon = 0;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ',' || (*p == '-' && !have_time) ||
                      (*p == '.' && !isdigit((unsigned char)p[1]))))
            p++;
        if (!*p) break;
        int complete = have_day && have_year && t.mon;
        const char *w = p;
        if (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80) {
            while (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80 || *p == '.')
                p++;
            size_t n = (size_t)(p - w);
            int m, z;
            /* Cheapest test first for the usual "Wed, 25 Nov 2026 06:35:23 GMT": a leading
             * weekday, then the month, then a zone after the time. No English weekday is a
             * month or a zone name, so the order changes no result. */
            if (ntok == 0 && is_day_name(w, n)) {
                /* ignored: the weekday is redundant and often wrong */
            } else if (!t.mon && (m = month_lookup(w, n)) > 0) {
                t.mon = m;
            } else if (ntok != 0 && is_day_name(w, n)) {
                /* ignored, wherever it stands */
            } else if (n == 2 && (strncasecmp(w, "am", 2) == 0 || strncasecmp(w, "pm", 2) == 0)) {
                if (!have_time) return -1;
                pm = tolower((unsigned char)w[0]) == 'p';
            } else if (!have_zone && have_time && zone_lookup(w, n, &z) == 0) {
                t.zone = z;
                have_zone = 1;
                /* "GMT+0800" / "UTC-5": an offset glued to the name adds to it. */
                if (*p == '+' || *p == '-') {
                    int off;
                    if (numeric_zone(&p, &off) != 0) return -1;
                    t.zone += off;
                }
            } else if (ntok == 0) {
                /* a weekday in another language ("Seg,", "Di,") */
            } else if (complete) {
                break; /* trailing junk after a complete date */
            } else {
                return -1;
            }
        } else if (isdigit((unsigned char)*p)) {
            const char *q = p;
            int v, n = digits(&q, 9, &v);
            if (*q == ':') {
                if (have_time || clock_time(&p, &t) != 0) return -1;
                have_time = 1;
            } else {
                p = q;
                if (n == 4 && !have_year) {
                    t.year = v;
                    have_year = 1;
                } else if (n <= 2 && !have_day) {
                    t.day = v;
                    have_day = 1;
                } else if (n <= 2 && !have_year) {
                    t.year = full_year(v, n);
                    have_year = 1;
                } else if (complete) {
                    break;
                } else {
                    return -1;
                }
                if (*p == 's' || *p == 'n' || *p == 'r' || *p == 't') {
                    /* ordinal suffix: 1st 2nd 3rd 4th */
                    if (isalpha((unsigned char)p[1])) p += 2;
                }
            }
        } else if ((*p == '+' || *p == '-') && have_time && !have_zone) {
            if (numeric_zone(&p, &t.zone) != 0) return -1;
            have_zone = 1;
        } else if (complete) {
            break;
        } else {
            return -1;
        }
        ntok++;
    }
    if (!have_day || !have_year || !t.mon) return -1;
    if (pm >= 0) {
        if (t.hour < 1 || t.hour > 12) return -1;
        t.hour = t.hour % 12 + (pm ? 12 : 0);
    }
    return dt_to_epoch(&t);
}

int64_t date_parse(const char *s)
{
    if (!s) return -1;
    char buf[128];
    s = skip_ws(s);
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n + 1);
    if (isdigit((unsigned char)buf[0]) && isdigit((unsigned char)buf[1]) &&
        isdigit((unsigned char)buf[2]) && isdigit((unsigned char)buf[3]) &&
        (buf[4] == '-' || buf[4] == '/'))
        return parse_iso(buf);
    return parse_words(buf);
}

char *date_format_utc(int64_t t, char *buf, size_t n)
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem % 3600 / 60), (int)(rem % 60));
    return buf;
}
