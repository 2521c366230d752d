/*
 * util — helpers with no better home. Durations are the config's currency ("5m"), paths
 * follow XDG, and hashing goes through OpenSSL's EVP interface.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int duration_parse(const char *s, int64_t *ms)
{
    if (!s || !*s) return -1;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || v < 0) return -1;
        p = end;
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's' || *p == '\0') {
            unit = 1000;
            p += *p ? 1 : 0;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else if (*p == 'd') {
            unit = 86400 * 1000;
            p++;
        } else if (*p == 'w') {
            unit = 7 * 86400 * 1000LL;
            p++;
        } else {
            return -1;
        }
        double add = v * (double)unit;
        if (add > 1e15) return -1;
        total += (int64_t)add;
    }
    if (total <= 0) return -1;
    *ms = total;
    return 0;
}

char *duration_format(int64_t ms, char *buf, size_t n)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t off = 0;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, n, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && ms > 0 && off < n; i++) {
        if (ms < units[i].ms) continue;
        int w =
            snprintf(buf + off, n - off, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
        if (w < 0) break;
        off += (size_t)w;
        ms %= units[i].ms;
    }
    return buf;
}

char *path_expand(const char *path)
{
    if (path[0] == '~' && path[1] == '/') {
        const char *home = getenv("HOME");
        if (home && *home) return path_join(home, path + 2);
    }
    return strdup(path);
}

char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + nl + 2);
    if (!p) return NULL;
    memcpy(p, dir, dl);
    size_t off = dl;
    if (dl && dir[dl - 1] != '/') p[off++] = '/';
    memcpy(p + off, name, nl + 1);
    return p;
}

char *path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int mkdir_p(const char *path, unsigned mode)
{
    char *p = strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, mode);
    int err = errno;
    free(p);
    if (rc != 0 && err != EEXIST) {
        errno = err;
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int file_read_all(const char *path, size_t max, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = max < 65536 ? max : 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return -1;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return -1;
    }
    if (n == cap && cap >= max) {
        /* Exactly at the cap: there may be more; be strict. */
        free(buf);
        errno = EFBIG;
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static char *xdg_path(const char *env, const char *fallback, const char *leaf)
{
    const char *base = getenv(env);
    char *dir;
    if (base && base[0] == '/') {
        dir = path_join(base, "herald");
    } else {
        const char *home = getenv("HOME");
        char *b = path_join(home && *home ? home : ".", fallback);
        if (!b) return NULL;
        dir = path_join(b, "herald");
        free(b);
    }
    if (!dir || !leaf) return dir;
    char *p = path_join(dir, leaf);
    free(dir);
    return p;
}

char *xdg_config_file(void)
{
    return xdg_path("XDG_CONFIG_HOME", ".config", "herald.lua");
}

char *xdg_state_dir(void)
{
    return xdg_path("XDG_STATE_HOME", ".local/state", NULL);
}

void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < mdlen && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * (mdlen < 32 ? mdlen : 32)] = '\0';
}

int64_t now_ms(void)
{
    const char *fake = getenv("HERALD_FAKE_NOW");
    if (fake && *fake) return (int64_t)strtoll(fake, NULL, 10) * 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_seconds(void)
{
    return now_ms() / 1000;
}

void sb_init(struct strbuf *b)
{
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void sb_free(struct strbuf *b)
{
    free(b->s);
    sb_init(b);
}

void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sb_puts(struct strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        sb_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

char *sb_steal(struct strbuf *b)
{
    if (b->oom) {
        sb_free(b);
        return NULL;
    }
    char *s = b->s ? b->s : strdup("");
    sb_init(b);
    return s;
}
