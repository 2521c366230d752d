/*
 * email notifier — sends each alert as one RFC 5322 message over SMTP through the host's
 * asynchronous mail_send (the daemon's curl multi handle; this plugin never blocks and never
 * owns a curl handle). Input is the alert from deliver(); this file builds the message: From,
 * To, a Subject rendered from a template (RFC 2047 UTF-8 encoded-words when not plain ASCII),
 * Date, a Message-ID derived from the alert id (a retry carries the same id), and a
 * multipart/alternative body with a text/plain and a text/html part, both UTF-8 in
 * quoted-printable, CRLF line endings, no line over 76 octets. SMTP replies map to DELIVERED
 * (2xx), RETRY (4xx, no reply, transport errors) and FAILED (5xx). The password is never
 * logged or put in a detail; logs name only smtp[s]://host[:port].
 */
#include "../common/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    URL_MAX = 2048,
    ADDR_MAX = 254, /* RFC 5321 path limit */
    RCPT_MAX = 50,
    SUBJECT_MAX = 600,   /* bytes of subject text before encoding */
    ENC_WORD_BYTES = 45, /* 60 base64 chars: each encoded-word stays within 75 */
    QP_LINE = 76,
    TIMEOUT_MAX_MS = 10 * 60 * 1000,
    ORIGIN_MAX = 256,
    EVIDENCE_LINES = 5,
};

#define DEFAULT_SUBJECT "[herald] {{rule}}: {{title}}"

struct email {
    struct herald_host host;
    char *url, *from_addr, *from_name, *username, *password;
    char origin[ORIGIN_MAX];
    char *to[RCPT_MAX];
    size_t n_to;
    int starttls;
    long timeout_ms;
    struct tpl subject;
};

/* One message in flight: what the host may still read until the callback runs. */
struct email_call {
    struct email *em;
    struct herald_delivery *d;
    struct atext msg;
};

static const struct herald_opt_spec email_options[] = {
    {"url", HERALD_OPT_STRING, 1, NULL,
     "SMTP server: smtp://host[:port] (default port 25; 587 for submission) or "
     "smtps://host[:port]"},
    {"from", HERALD_OPT_STRING, 1, NULL, "sender: addr@example.org or \"Name <addr@example.org>\""},
    {"to", HERALD_OPT_STRING, 1, NULL, "recipients: comma-separated addresses"},
    {"username", HERALD_OPT_STRING, 0, NULL, "SMTP AUTH user name"},
    {"password", HERALD_OPT_STRING, 0, NULL, "SMTP AUTH password (never logged)"},
    {"starttls", HERALD_OPT_BOOL, 0, NULL,
     "require STARTTLS on smtp:// (default: true when username is set, else false)"},
    {"subject", HERALD_OPT_TEMPLATE, 0, DEFAULT_SUBJECT,
     "subject template: {{title}} {{rule}} {{source}} {{published}} {{id}} {{notifier}} …"},
    {"timeout", HERALD_OPT_DURATION, 0, "30s", "give up on one attempt after this long"},
    {0},
};

/* --- options --- */

/* scheme://host[:port] of url without any user:password@, for logs. */
static void url_origin(const char *url, char *out, size_t outlen)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t end = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', end);
    const char *host = at ? at + 1 : auth;
    int scheme = (int)(auth - url);
    snprintf(out, outlen, "%.*s%.*s", scheme, url, (int)(end - (size_t)(host - auth)), host);
}

static int check_url(const char *url, char *err, size_t errlen)
{
    size_t skip = strncmp(url, "smtp://", 7) == 0 ? 7 : strncmp(url, "smtps://", 8) == 0 ? 8 : 0;
    if (!skip) {
        snprintf(err, errlen, "email: url must start with smtp:// or smtps://");
        return -1;
    }
    size_t n = strlen(url);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
            snprintf(err, errlen, "email: url must not contain spaces or control characters");
            return -1;
        }
    size_t end = strcspn(url + skip, "/?#");
    if (n > URL_MAX || end == 0) {
        snprintf(err, errlen, "email: url has no host (or is longer than %d bytes)", URL_MAX);
        return -1;
    }
    if (memchr(url + skip, '@', end)) {
        snprintf(err, errlen, "email: put credentials in username and password, not in the url");
        return -1;
    }
    return 0;
}

/* Whether s[0..n) is a plausible bare address: local@domain, printable ASCII, none of the
 * characters that would break a header or an SMTP command. */
static int addr_ok(const char *s, size_t n)
{
    if (n < 3 || n > ADDR_MAX) return 0;
    const char *at = memchr(s, '@', n);
    if (!at || at == s || at == s + n - 1) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>(),;:\\\"[]", c)) return 0;
    }
    return 1;
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return strndup(s, n);
}

/* from: "addr" or "Display Name <addr>". */
static int read_from(struct email *em, const char *from, char *err, size_t errlen)
{
    const char *lt = strrchr(from, '<');
    const char *addr = from;
    size_t alen = strlen(from);
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1] != '\0') goto bad;
        addr = lt + 1;
        alen = (size_t)(gt - addr);
        if (!(em->from_name = trimmed_dup(from, (size_t)(lt - from)))) return -1;
        for (const unsigned char *p = (const unsigned char *)em->from_name; *p; p++)
            if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') goto bad;
        if (strlen(em->from_name) > 200) goto bad;
    }
    if (!addr_ok(addr, alen)) goto bad;
    return (em->from_addr = strndup(addr, alen)) ? 0 : -1;
bad:
    snprintf(err, errlen,
             "email: from must be an address (a@b.c) or \"Name <a@b.c>\" without quotes or "
             "control characters");
    return -1;
}

static int read_to(struct email *em, const char *to, char *err, size_t errlen)
{
    const char *p = to;
    for (;;) {
        size_t n = strcspn(p, ",");
        char *a = trimmed_dup(p, n);
        if (!a) return -1;
        if (a[0] && !addr_ok(a, strlen(a))) {
            snprintf(err, errlen, "email: to: \"%.60s\" is not a bare address (a@b.c)", a);
            free(a);
            return -1;
        }
        if (a[0] && em->n_to == RCPT_MAX) {
            free(a);
            snprintf(err, errlen, "email: to: at most %d recipients", RCPT_MAX);
            return -1;
        }
        if (a[0])
            em->to[em->n_to++] = a;
        else
            free(a);
        if (!p[n]) break;
        p += n + 1;
    }
    if (em->n_to == 0) {
        snprintf(err, errlen, "email: to needs at least one address");
        return -1;
    }
    return 0;
}

static void email_fini(void *state)
{
    struct email *em = state;
    if (!em) return;
    if (em->password) {
        volatile char *p = em->password;
        while (*p)
            *p++ = '\0';
    }
    free(em->password);
    free(em->username);
    free(em->url);
    free(em->from_addr);
    free(em->from_name);
    for (size_t i = 0; i < em->n_to; i++)
        free(em->to[i]);
    tpl_free(&em->subject);
    free(em);
}

static int read_options(struct email *em, const struct herald_opts *opts, char *err, size_t errlen)
{
    const struct herald_host *h = &em->host;
    const char *url = h->opt_string(opts, "url");
    const char *from = h->opt_string(opts, "from");
    const char *to = h->opt_string(opts, "to");
    if (!url || !from || !to) {
        snprintf(err, errlen, "email: url, from and to are required");
        return -1;
    }
    if (check_url(url, err, errlen) != 0) return -1;
    if (!(em->url = strdup(url))) return -1;
    url_origin(url, em->origin, sizeof em->origin);
    if (read_from(em, from, err, errlen) != 0 || read_to(em, to, err, errlen) != 0) return -1;
    const char *user = h->opt_string(opts, "username");
    const char *pass = h->opt_string(opts, "password");
    if ((user && !(em->username = strdup(user))) || (pass && !(em->password = strdup(pass))))
        return -1;
    if (pass && !user) {
        snprintf(err, errlen, "email: password is set but username is not");
        return -1;
    }
    int plain = strncmp(url, "smtp://", 7) == 0;
    em->starttls =
        h->opt_string(opts, "starttls") ? (int)h->opt_int(opts, "starttls", 0) : (user != NULL);
    if (!plain) em->starttls = 0; /* smtps:// is TLS from the first byte */
    if (plain && user && !em->starttls)
        h->log(h->ctx, HERALD_LOG_WARN,
               "email: starttls = false: the password goes to %s unencrypted", em->origin);
    long long t = h->opt_int(opts, "timeout", 30000);
    if (t <= 0 || t > TIMEOUT_MAX_MS) {
        snprintf(err, errlen, "email: timeout must be between 1ms and 10m");
        return -1;
    }
    em->timeout_ms = (long)t;
    const char *subject = h->opt_string(opts, "subject");
    char why[300];
    if (tpl_parse(&em->subject, subject ? subject : DEFAULT_SUBJECT, why, sizeof why) != 0) {
        snprintf(err, errlen, "email: subject: %s", why);
        return -1;
    }
    return 0;
}

static int email_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                      char *err, size_t errlen)
{
    struct email *em = calloc(1, sizeof *em);
    if (!em) {
        snprintf(err, errlen, "email: out of memory");
        return -1;
    }
    if (atext_host_copy(&em->host, host) != 0 || host->version < 2 ||
        host->struct_size < offsetof(struct herald_host, mail_send) + sizeof host->mail_send ||
        !em->host.mail_send) {
        snprintf(err, errlen, "email: this herald cannot send mail (host table version < 2)");
        free(em);
        return -1;
    }
    err[0] = '\0';
    if (read_options(em, opts, err, errlen) != 0) {
        if (!err[0]) snprintf(err, errlen, "email: out of memory");
        email_fini(em);
        return -1;
    }
    em->host.log(em->host.ctx, HERALD_LOG_DEBUG, "email: sending to %zu recipient(s) via %s",
                 em->n_to, em->origin);
    *state = em;
    return 0;
}

/* --- the message --- */

static int is_ascii_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x7f || (unsigned char)s[i] < 0x20) return 0;
    return !strstr(s, "=?"); /* would read as an encoded-word */
}

static void put_base64(struct atext *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n) v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        atext_putn(b, q, 4);
    }
}

/* Header text (one clean line) as is when plain ASCII, else as RFC 2047 UTF-8 base64
 * encoded-words folded onto continuation lines; `col` is where the text starts on its line,
 * so that no line passes 76 characters. */
static void put_header_text(struct atext *b, const char *s, size_t col)
{
    size_t n = strlen(s);
    if (is_ascii_safe(s, n)) {
        atext_putn(b, s, n);
        return;
    }
    size_t pos = 0;
    while (pos < n) {
        size_t room = pos ? ENC_WORD_BYTES : col < 60 ? (76 - 12 - col) / 4 * 3 : 3;
        size_t take = atext_cut(s + pos, n - pos, room);
        if (take == 0) take = 1;
        if (pos) atext_puts(b, "\r\n ");
        atext_puts(b, "=?UTF-8?B?");
        put_base64(b, (const unsigned char *)s + pos, take);
        atext_puts(b, "?=");
        pos += take;
    }
}

/* Quoted-printable (RFC 2045 6.7) of UTF-8 text whose lines end with '\n': CRLF hard breaks,
 * soft breaks before 76 columns, trailing blanks and a line-leading '.' encoded. */
static void put_qp(struct atext *b, const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            atext_puts(b, "\r\n");
            col = 0;
            continue;
        }
        char enc[4];
        size_t len = 1;
        int at_eol = i + 1 == n || s[i + 1] == '\n';
        int literal = (c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
                      ((c == ' ' || c == '\t') && !at_eol);
        if (literal) {
            enc[0] = (char)c;
        } else {
            snprintf(enc, sizeof enc, "=%02X", c);
            len = 3;
        }
        if (col + len > QP_LINE - 1) {
            atext_puts(b, "=\r\n");
            col = 0;
        }
        atext_putn(b, enc, len);
        col += len;
    }
    if (col) atext_puts(b, "\r\n");
}

/* The alert id as the left part of a Message-ID: kept when it is dot-atom text, else
 * hex-encoded; either way the same id always gives the same Message-ID. */
static void put_msgid_left(struct atext *b, const char *id)
{
    size_t n = strlen(id);
    int ok = n > 0 && n <= 200 && id[0] != '.' && id[n - 1] != '.' && !strstr(id, "..");
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             strchr("!#$%&'*+-/=?^_`{|}~.", c);
    }
    if (ok) {
        atext_putn(b, id, n);
        return;
    }
    atext_puts(b, "x");
    for (size_t i = 0; i < n && i < 120; i++)
        atext_printf(b, "%02x", (unsigned char)id[i]);
}

static void put_date(struct atext *b, int64_t t)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = t > 0 && t < INT64_C(253402300799) ? (time_t)t : time(NULL);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) memset(&tm, 0, sizeof tm);
    atext_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
                 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void put_text_body(struct atext *b, const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    char date[32];
    amark_field(b, AMARK_PLAIN, a && a->title && a->title[0] ? a->title : "(untitled)", 500);
    atext_puts(b, "\n");
    if (a && amark_url_ok(a->link) && strlen(a->link) <= 2000) {
        atext_puts(b, a->link);
        atext_puts(b, "\n");
    }
    atext_puts(b, "\nRule: ");
    amark_field(b, AMARK_PLAIN, al->rule ? al->rule : "?", 200);
    atext_puts(b, "\nSource: ");
    amark_field(b, AMARK_PLAIN, a && a->source ? a->source : "?", 200);
    atext_puts(b, "\nPublished: ");
    atext_puts(b, a && atext_iso8601(a->published, date) == 0 ? date : "unknown");
    atext_puts(b, "\n");
    struct atext ev = {0};
    atext_evidence(&ev, al, EVIDENCE_LINES, "  ", "\n");
    if (ev.len) {
        atext_puts(b, "\nEvidence:\n");
        atext_putn(b, ev.p, ev.len);
    }
    if (ev.failed) b->failed = 1;
    atext_free(&ev);
}

static void put_html_body(struct atext *b, const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    char date[32];
    int link = a && amark_url_ok(a->link) && strlen(a->link) <= 2000;
    atext_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n<h2>");
    if (link) {
        atext_puts(b, "<a href=\"");
        amark_put_url(b, AMARK_HTML, a->link);
        atext_puts(b, "\">");
    }
    amark_field(b, AMARK_HTML, a && a->title && a->title[0] ? a->title : "(untitled)", 500);
    atext_puts(b, link ? "</a></h2>\n" : "</h2>\n");
    if (link) {
        atext_puts(b, "<p><a href=\"");
        amark_put_url(b, AMARK_HTML, a->link);
        atext_puts(b, "\">");
        amark_put_url(b, AMARK_HTML, a->link);
        atext_puts(b, "</a></p>\n");
    }
    atext_puts(b, "<p>Rule: ");
    amark_field(b, AMARK_HTML, al->rule ? al->rule : "?", 200);
    atext_puts(b, "<br>\nSource: ");
    amark_field(b, AMARK_HTML, a && a->source ? a->source : "?", 200);
    atext_puts(b, "<br>\nPublished: ");
    atext_puts(b, a && atext_iso8601(a->published, date) == 0 ? date : "unknown");
    atext_puts(b, "</p>\n");
    struct atext_marks m = amark_marks(AMARK_HTML);
    struct atext ev = {0};
    atext_evidence_marked(&ev, al, EVIDENCE_LINES, "<li>", "</li>\n", &m, SIZE_MAX);
    if (ev.len) {
        atext_puts(b, "<ul>\n");
        atext_putn(b, ev.p, ev.len);
        atext_puts(b, "</ul>\n");
    }
    if (ev.failed) b->failed = 1;
    atext_free(&ev);
    atext_puts(b, "</body></html>\n");
}

/* A boundary that cannot occur in quoted-printable output ("=_" needs a literal '='). */
static void make_boundary(char out[64], const char *id)
{
    uint64_t h = 1469598103934665603u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    snprintf(out, 64, "=_herald_%016llx", (unsigned long long)h);
}

static void put_part(struct atext *b, const char *boundary, const char *type,
                     const struct atext *body)
{
    atext_printf(b, "--%s\r\nContent-Type: %s; charset=UTF-8\r\n", boundary, type);
    atext_puts(b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    put_qp(b, body->p ? body->p : "", body->len);
}

/* The whole message for one alert into b (CRLF line endings). */
static void build_message(const struct email *em, const struct herald_alert *al, struct atext *b)
{
    const char *id = al->id && al->id[0] ? al->id : "unknown";
    atext_puts(b, "From: ");
    if (em->from_name && em->from_name[0]) {
        if (is_ascii_safe(em->from_name, strlen(em->from_name)))
            atext_printf(b, "\"%s\"", em->from_name);
        else
            put_header_text(b, em->from_name, 6);
        atext_puts(b, " ");
    }
    atext_printf(b, "<%s>\r\nTo: ", em->from_addr);
    for (size_t i = 0; i < em->n_to; i++)
        atext_printf(b, "%s%s", i ? ",\r\n " : "", em->to[i]);
    struct atext subj = {0}, line = {0};
    tpl_render(&subj, &em->subject, al, AMARK_PLAIN);
    atext_put_field(&line, subj.p ? subj.p : "", SUBJECT_MAX);
    if (subj.failed || line.failed) b->failed = 1;
    atext_puts(b, "\r\nSubject: ");
    put_header_text(b, line.p ? line.p : "", 9);
    atext_free(&subj);
    atext_free(&line);
    atext_puts(b, "\r\nDate: ");
    put_date(b, al->created);
    atext_puts(b, "\r\nMessage-ID: <");
    put_msgid_left(b, id);
    atext_puts(b, "@herald>\r\nMIME-Version: 1.0\r\n");
    atext_puts(b, "Auto-Submitted: auto-generated\r\nX-Herald-Rule: ");
    struct atext rule = {0};
    atext_put_field(&rule, al->rule ? al->rule : "?", 200);
    put_header_text(b, rule.p ? rule.p : "", 15);
    atext_free(&rule);
    char boundary[64];
    make_boundary(boundary, id);
    atext_printf(b, "\r\nContent-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n",
                 boundary);
    atext_puts(b, "This is a MIME message with a text and an HTML part.\r\n\r\n");
    struct atext text = {0}, html = {0};
    put_text_body(&text, al);
    put_html_body(&html, al);
    put_part(b, boundary, "text/plain", &text);
    atext_puts(b, "\r\n");
    put_part(b, boundary, "text/html", &html);
    atext_printf(b, "\r\n--%s--\r\n", boundary);
    if (text.failed || html.failed) b->failed = 1;
    atext_free(&text);
    atext_free(&html);
}

/* --- delivery --- */

/* 2xx: accepted. 4xx or no reply: try again later. 5xx: the server refuses for good. */
static enum herald_result classify(long code, int transport_error)
{
    if (code >= 200 && code <= 299 && !transport_error) return HERALD_DELIVERED;
    if (code >= 500 && code <= 599) return HERALD_FAILED;
    return HERALD_RETRY;
}

static void on_sent(void *arg, const struct herald_http_response *res)
{
    struct email_call *c = arg;
    struct email *em = c->em;
    enum herald_result r = classify(res->status, res->error != NULL);
    struct atext detail = {0};
    if (r != HERALD_DELIVERED) {
        if (res->status > 0)
            atext_printf(&detail, "email: SMTP %ld from %s", res->status, em->origin);
        else
            atext_printf(&detail, "email: no reply from %s", em->origin);
        if (res->error) {
            atext_puts(&detail, ": ");
            atext_put_field(&detail, res->error, 300);
        }
    }
    em->host.log(em->host.ctx, HERALD_LOG_DEBUG, "email: %s -> %ld", em->origin, res->status);
    em->host.complete(c->d, r, detail.failed ? "email: delivery failed" : detail.p);
    atext_free(&detail);
    atext_free(&c->msg);
    free(c);
}

static int email_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct email *em = state;
    struct email_call *c = calloc(1, sizeof *c);
    if (!c) {
        em->host.complete(d, HERALD_RETRY, "email: out of memory");
        return 0;
    }
    c->em = em;
    c->d = d;
    build_message(em, alert, &c->msg);
    if (c->msg.failed) {
        atext_free(&c->msg);
        free(c);
        em->host.complete(d, HERALD_RETRY, "email: out of memory building the message");
        return 0;
    }
    struct herald_mail m = {
        .struct_size = sizeof m,
        .url = em->url,
        .username = em->username,
        .password = em->password,
        .starttls = em->starttls,
        .from = em->from_addr,
        .to = (const char *const *)em->to,
        .n_to = em->n_to,
        .message = c->msg.p,
        .message_len = c->msg.len,
        .timeout_ms = em->timeout_ms,
    };
    /* On success `c` belongs to on_sent, which may already have run and freed it. */
    if (em->host.mail_send(em->host.ctx, &m, on_sent, c) != 0) {
        atext_free(&c->msg);
        free(c);
        char err[ORIGIN_MAX + 64];
        snprintf(err, sizeof err, "email: could not start sending to %s", em->origin);
        em->host.complete(d, HERALD_RETRY, err);
    }
    return 0;
}

__attribute__((visibility("default"))) const struct herald_plugin herald_plugin =
    HERALD_PLUGIN_INIT("email",
                       "send alerts as e-mail over SMTP (STARTTLS, AUTH): UTF-8 subject, text "
                       "and HTML parts, Message-ID from the alert id",
                       email_options, email_init, email_deliver, email_fini);
