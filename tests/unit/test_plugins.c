/*
 * test_plugins — loads the built notifier plugins (stdout, file, webhook, email, exec) with dlopen,
 * the way the daemon does, and drives them through a fake host table implemented here: options
 * from a small key/value array (defaults from each plugin's own option table), log lines
 * collected in memory, HTTP requests, mails and spawned programs recorded and answered by the
 * test. Plugins are
 * looked up in $HERALD_PLUGIN_PATH, else build/plugins under $HERALD_ROOT or the working directory;
 * a plugin that is not built is a SKIP.
 */
#include "check.h"

#include <herald/plugin.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- the fake host --- */

struct herald_opts {
    const struct herald_opt_spec *spec;
    const char *kv[16][2];
    size_t n;
    const char *map[8][2]; /* entries of the MAP key "headers" */
    size_t n_map;
    const char *list[300]; /* items of the LIST key "command" */
    size_t n_list;
};

struct herald_delivery {
    int n_complete;
    enum herald_result result;
    char detail[2048];
    int has_detail;
    int n_retry_after;
    long retry_after;
    int retry_after_before_complete;
};

struct recorded_request {
    char method[16];
    char url[512];
    char *headers[64];
    size_t n_headers;
    char *body;
    size_t body_len;
    long timeout_ms;
};

struct fake {
    char log[32][512];
    int n_log;
    int n_requests;
    int refuse_requests; /* http_request returns -1 */
    struct recorded_request req;
    herald_http_cb cb;
    void *cb_arg;
    int refuse_mail; /* mail_send returns -1 */
    int n_mails;
    struct herald_mail mail; /* the last mail; strings copied below */
    char *mail_msg;
    char mail_url[256], mail_from[256], mail_to[8][256], mail_user[64], mail_pass[64];
    int refuse_spawn; /* spawn returns -1 */
    int n_spawns;
    char *spawn_argv[300]; /* the last program's argv, copied */
    size_t spawn_argc;
    char *spawn_input; /* its stdin, copied; NULL when none */
    size_t spawn_input_len;
    long spawn_timeout_ms;
    herald_spawn_cb spawn_cb;
    void *spawn_arg;
};

static void fake_log(void *ctx, enum herald_log_level level, const char *fmt, ...)
{
    struct fake *f = ctx;
    if (f->n_log >= 32) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->log[f->n_log++], sizeof f->log[0], fmt, ap);
    va_end(ap);
}

static const struct herald_opt_spec *spec_of(const struct herald_opts *o, const char *name)
{
    for (const struct herald_opt_spec *s = o->spec; s && s->name; s++)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}

static const char *fake_opt_string(const struct herald_opts *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->kv[i][0], name) == 0) return o->kv[i][1];
    const struct herald_opt_spec *s = spec_of(o, name);
    return s ? s->default_value : NULL;
}

/* What the core does after validation: BOOL as 0/1, DURATION ("15s", "2m") in ms. */
static long long fake_opt_int(const struct herald_opts *o, const char *name, long long fallback)
{
    const char *v = fake_opt_string(o, name);
    const struct herald_opt_spec *s = spec_of(o, name);
    if (!v) return fallback;
    if (strcmp(v, "true") == 0) return 1;
    if (strcmp(v, "false") == 0) return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (s && s->type == HERALD_OPT_DURATION) {
        long long unit = *end == 'm' ? 60000 : *end == 'h' ? 3600000 : *end == 's' ? 1000 : 1;
        return n * unit;
    }
    return n;
}

static size_t fake_map_count(const struct herald_opts *o, const char *name)
{
    return strcmp(name, "headers") == 0 ? o->n_map : 0;
}

static int fake_map_at(const struct herald_opts *o, const char *name, size_t i, const char **k,
                       const char **v)
{
    if (strcmp(name, "headers") != 0 || i >= o->n_map) return -1;
    *k = o->map[i][0];
    *v = o->map[i][1];
    return 0;
}

static size_t fake_list_count(const struct herald_opts *o, const char *name)
{
    return strcmp(name, "command") == 0 ? o->n_list : 0;
}

static const char *fake_list_at(const struct herald_opts *o, const char *name, size_t i)
{
    return strcmp(name, "command") == 0 && i < o->n_list ? o->list[i] : NULL;
}

static void spawn_forget(struct fake *f)
{
    for (size_t i = 0; i < f->spawn_argc; i++)
        free(f->spawn_argv[i]);
    f->spawn_argc = 0;
    free(f->spawn_input);
    f->spawn_input = NULL;
    f->spawn_input_len = 0;
}

/* Records the request; the test answers it later with spawn_answer(). */
static int fake_spawn(void *ctx, const struct herald_spawn *sp, herald_spawn_cb cb, void *arg)
{
    struct fake *f = ctx;
    if (f->refuse_spawn) return -1;
    spawn_forget(f);
    f->n_spawns++;
    for (size_t i = 0; i < sp->argc && i < 300; i++)
        f->spawn_argv[f->spawn_argc++] = strdup(sp->argv[i]);
    if (sp->input) {
        f->spawn_input = malloc(sp->input_len + 1);
        memcpy(f->spawn_input, sp->input, sp->input_len);
        f->spawn_input[sp->input_len] = '\0';
        f->spawn_input_len = sp->input_len;
    }
    f->spawn_timeout_ms = sp->timeout_ms;
    f->spawn_cb = cb;
    f->spawn_arg = arg;
    return 0;
}

static void spawn_answer(struct fake *f, int exit_status, int term_signal, const char *error,
                         const char *output)
{
    struct herald_spawn_result r = {
        .struct_size = sizeof r,
        .exit_status = exit_status,
        .term_signal = term_signal,
        .error = error,
        .output = output ? output : "",
        .output_len = output ? strlen(output) : 0,
    };
    herald_spawn_cb cb = f->spawn_cb;
    f->spawn_cb = NULL;
    cb(f->spawn_arg, &r);
}

static void recorded_free(struct recorded_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int fake_http(void *ctx, const struct herald_http_request *req, herald_http_cb cb, void *arg)
{
    struct fake *f = ctx;
    if (f->refuse_requests) return -1;
    recorded_free(&f->req);
    f->n_requests++;
    snprintf(f->req.method, sizeof f->req.method, "%s", req->method);
    snprintf(f->req.url, sizeof f->req.url, "%s", req->url);
    for (size_t i = 0; i < req->n_headers && i < 64; i++)
        f->req.headers[f->req.n_headers++] = strdup(req->headers[i]);
    f->req.body = malloc(req->body_len + 1);
    memcpy(f->req.body, req->body, req->body_len);
    f->req.body[req->body_len] = '\0';
    f->req.body_len = req->body_len;
    f->req.timeout_ms = req->timeout_ms;
    f->cb = cb;
    f->cb_arg = arg;
    return 0;
}

static int fake_mail(void *ctx, const struct herald_mail *m, herald_http_cb cb, void *arg)
{
    struct fake *f = ctx;
    if (f->refuse_mail) return -1;
    f->n_mails++;
    f->mail = *m;
    free(f->mail_msg);
    f->mail_msg = malloc(m->message_len + 1);
    memcpy(f->mail_msg, m->message, m->message_len);
    f->mail_msg[m->message_len] = '\0';
    snprintf(f->mail_url, sizeof f->mail_url, "%s", m->url);
    snprintf(f->mail_from, sizeof f->mail_from, "%s", m->from);
    for (size_t i = 0; i < m->n_to && i < 8; i++)
        snprintf(f->mail_to[i], sizeof f->mail_to[i], "%s", m->to[i]);
    snprintf(f->mail_user, sizeof f->mail_user, "%s", m->username ? m->username : "");
    snprintf(f->mail_pass, sizeof f->mail_pass, "%s", m->password ? m->password : "");
    f->cb = cb;
    f->cb_arg = arg;
    return 0;
}

static void fake_complete(struct herald_delivery *d, enum herald_result r, const char *detail)
{
    d->n_complete++;
    d->result = r;
    d->has_detail = detail != NULL;
    snprintf(d->detail, sizeof d->detail, "%s", detail ? detail : "");
}

static void fake_retry_after(struct herald_delivery *d, long seconds)
{
    d->n_retry_after++;
    d->retry_after = seconds;
    d->retry_after_before_complete = d->n_complete == 0;
}

static struct herald_host fake_host(struct fake *f)
{
    struct herald_host h = {
        .version = HERALD_HOST_VERSION,
        .struct_size = sizeof h,
        .ctx = f,
        .log = fake_log,
        .opt_string = fake_opt_string,
        .opt_int = fake_opt_int,
        .opt_map_count = fake_map_count,
        .opt_map_at = fake_map_at,
        .http_request = fake_http,
        .complete = fake_complete,
        .retry_after = fake_retry_after,
        .mail_send = fake_mail,
        .opt_list_count = fake_list_count,
        .opt_list_at = fake_list_at,
        .spawn = fake_spawn,
    };
    return h;
}

/* Answer the recorded request; the plugin's callback runs now, as it would on the loop. */
static void respond(struct fake *f, long status, const char *body, long retry_after,
                    const char *error)
{
    struct herald_http_response res = {
        .struct_size = sizeof res,
        .status = status,
        .error = error,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .retry_after_s = retry_after,
    };
    herald_http_cb cb = f->cb;
    f->cb = NULL;
    cb(f->cb_arg, &res);
}

/* The recorded header line named `name` (case-insensitive), or NULL. */
static const char *req_header(const struct fake *f, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < f->req.n_headers; i++)
        if (strncasecmp(f->req.headers[i], name, n) == 0 && f->req.headers[i][n] == ':')
            return f->req.headers[i];
    return NULL;
}

static int count_headers(const struct fake *f, const char *name)
{
    size_t n = strlen(name);
    int c = 0;
    for (size_t i = 0; i < f->req.n_headers; i++)
        c += strncasecmp(f->req.headers[i], name, n) == 0 && f->req.headers[i][n] == ':';
    return c;
}

/* --- loading --- */

struct loaded {
    void *dl;
    const struct herald_plugin *p;
    char path[1024];
};

static int plugin_load(const char *name, struct loaded *l)
{
    const char *dir = getenv("HERALD_PLUGIN_PATH");
    const char *root = getenv("HERALD_ROOT");
    if (dir && dir[0])
        snprintf(l->path, sizeof l->path, "%s/%s.so", dir, name);
    else if (root && root[0])
        snprintf(l->path, sizeof l->path, "%s/build/plugins/%s.so", root, name);
    else
        snprintf(l->path, sizeof l->path, "build/plugins/%s.so", name);
    if (access(l->path, R_OK) != 0) return -1;
    l->dl = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
    if (!l->dl) {
        printf("dlopen %s: %s\n", l->path, dlerror());
        return -2;
    }
    l->p = dlsym(l->dl, HERALD_PLUGIN_SYMBOL);
    return l->p ? 0 : -2;
}

#define LOAD(name, l)                                                                              \
    do {                                                                                           \
        int rc_ = plugin_load(name, &l);                                                           \
        if (rc_ == -1) SKIP("%s not built (looked for %s)", name, l.path);                         \
        CHECK(rc_ == 0);                                                                           \
    } while (0)

static void plugin_unload(struct loaded *l)
{
    if (l->dl) dlclose(l->dl);
    l->dl = NULL;
}

static const struct herald_opt_spec *find_opt(const struct herald_plugin *p, const char *name)
{
    for (const struct herald_opt_spec *s = p->options; s && s->name; s++)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}

/* --- the sample alert --- */

static const char sample_text[] =
    "Lawmakers in Baghdad voted on Sunday for the removal of all US troops from Iraq, a week "
    "after the strike near the airport. The government said the vote was binding.";
static const char sample_title[] = "US troops asked to leave Iraq";
static const char sample_json[] =
    "{\"id\":\"a1b2c3\",\"rule\":\"iraq-withdrawal\",\"notifier\":\"team\","
    "\"created\":\"2020-01-05T18:31:00Z\",\"article\":{\"id\":\"n1\",\"source\":\"example-world\","
    "\"title\":\"US troops asked to leave Iraq\",\"link\":\"https://example.org/news/1\","
    "\"author\":null,\"published\":\"2020-01-05T18:30:00Z\",\"summary\":\"Vote in Baghdad.\","
    "\"text\":\"...\",\"categories\":[\"world\"],\"lang\":\"en\"},\"evidence\":[]}";

struct sample {
    struct herald_article article;
    struct herald_evidence ev[4];
    struct herald_alert alert;
    const char *cats[1];
};

/* The evidence span of `word` inside `field_text`, found from the text itself. */
static struct herald_evidence span_of(const char *field, const char *field_text, const char *word,
                                      const char *term)
{
    const char *at = strstr(field_text, word);
    size_t start = at ? (size_t)(at - field_text) : 0;
    struct herald_evidence e = {field, start, start + (at ? strlen(word) : 0), term};
    return e;
}

static void sample_init(struct sample *s)
{
    memset(s, 0, sizeof *s);
    s->cats[0] = "world";
    s->article = (struct herald_article){
        .struct_size = sizeof s->article,
        .id = "n1",
        .source = "example-world",
        .title = sample_title,
        .link = "https://example.org/news/1",
        .summary = "Vote in Baghdad.",
        .text = sample_text,
        .published = 1578249000, /* 2020-01-05T18:30:00Z */
        .categories = s->cats,
        .n_categories = 1,
        .lang = "en",
    };
    s->ev[0] = span_of("text", sample_text, "troops", "troop*");
    s->ev[1] = span_of("text", sample_text, "removal", "@withdrawal");
    s->ev[2] = span_of("text", sample_text, "Iraq", "Iraq");
    s->ev[3] = span_of("title", sample_title, "troops", "troop*");
    s->alert = (struct herald_alert){
        .struct_size = sizeof s->alert,
        .id = "a1b2c3",
        .rule = "iraq-withdrawal",
        .notifier = "team",
        .created = 1578249060,
        .attempt = 1,
        .article = &s->article,
        .evidence = s->ev,
        .n_evidence = 4,
        .json = sample_json,
    };
}

/* Read a whole file into a NUL-terminated buffer the caller frees. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    if (buf) buf[len] = '\0';
    return buf;
}

/* A fresh empty directory under the test output folder (or /tmp); 0 on success. */
static int tmp_dir(char *out, size_t outlen, const char *tag)
{
    const char *base = getenv("HERALD_TEST_OUT");
    snprintf(out, outlen, "%s/plugins-%s-XXXXXX", base && base[0] ? base : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

/* Remove a directory made by tmp_dir (and nothing else). */
static void rm_rf(const char *dir)
{
    if (!strstr(dir, "/plugins-") || strchr(dir, '\'')) return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* Run deliver() with stdout redirected to `sink` (a path); returns what went to the sink in
 * *out when sink is a regular file. */
static int deliver_captured(const struct herald_plugin *p, void *st, const struct herald_alert *a,
                            struct herald_delivery *d, const char *sink, char **out)
{
    fflush(stdout);
    int saved = dup(1);
    int fd = open(sink, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) return -1;
    dup2(fd, 1);
    close(fd);
    int rc = p->deliver(st, a, d);
    fflush(stdout);
    clearerr(stdout);
    dup2(saved, 1);
    close(saved);
    if (out) *out = slurp(sink);
    return rc;
}

/* Count lines (by '\n') of s. */
static int line_count(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* --- common ABI checks --- */

static int abi_ok(const struct herald_plugin *p, const char *name)
{
    return p->abi_major == HERALD_ABI_MAJOR && p->struct_size == sizeof(struct herald_plugin) &&
           p->kind == HERALD_PLUGIN_NOTIFIER && p->name && strcmp(p->name, name) == 0 &&
           p->description && p->options && p->init && p->deliver && p->fini;
}

/* Every option has a name, a known type and one line of help. */
static int options_ok(const struct herald_plugin *p)
{
    int n = 0;
    for (const struct herald_opt_spec *s = p->options; s->name; s++, n++)
        if (s->type < HERALD_OPT_STRING || s->type > HERALD_OPT_TEMPLATE || !s->help ||
            !s->help[0] || strchr(s->help, '\n'))
            return 0;
    return n > 0;
}

/* === stdout === */

TEST(stdout_abi_and_options)
{
    struct loaded l = {0};
    LOAD("stdout", l);
    CHECK(abi_ok(l.p, "stdout"));
    CHECK(options_ok(l.p));
    const struct herald_opt_spec *fmt = find_opt(l.p, "format");
    CHECK(fmt && fmt->type == HERALD_OPT_STRING && !fmt->required);
    CHECK_STR(fmt->default_value, "text");

    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts bad = {.spec = l.p->options, .kv = {{"format", "xml"}}, .n = 1};
    char err[256] = "";
    void *st = NULL;
    CHECK(l.p->init(&h, &bad, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "stdout: format must be");
    CHECK_CONTAINS(err, "xml");
    plugin_unload(&l);
}

TEST(stdout_text_block)
{
    struct loaded l = {0};
    LOAD("stdout", l);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {.spec = l.p->options};
    char err[256] = "", dir[512], sink[600];
    void *st = NULL;
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    char *out = NULL;
    CHECK_INT(tmp_dir(dir, sizeof dir, "stdout"), 0);
    snprintf(sink, sizeof sink, "%s/out.txt", dir);
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d, sink, &out), 0);
    l.p->fini(st);
    rm_rf(dir);
    CHECK(out);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_DELIVERED);
    const char *want = "[herald] ALERT iraq-withdrawal: US troops asked to leave Iraq\n"
                       "  https://example.org/news/1\n"
                       "  source: example-world  published: 2020-01-05T18:30:00Z\n"
                       "  evidence: ";
    int starts = strncmp(out, want, strlen(want)) == 0;
    if (!starts) printf("got: %s\n", out);
    CHECK(starts);
    /* Three matches in one sentence make one snippet; the title match makes a second. */
    CHECK_CONTAINS(out, "voted on Sunday for the [removal] of all US [troops] from [Iraq], a week");
    CHECK_CONTAINS(out, "  evidence: US [troops] asked to leave Iraq\n");
    CHECK_INT(line_count(out), 5);
    free(out);
    plugin_unload(&l);
}

TEST(stdout_json_and_write_error)
{
    struct loaded l = {0};
    LOAD("stdout", l);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {.spec = l.p->options, .kv = {{"format", "json"}}, .n = 1};
    char err[256] = "", dir[512], sink[600];
    void *st = NULL;
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    char *out = NULL;
    CHECK_INT(tmp_dir(dir, sizeof dir, "stdout"), 0);
    snprintf(sink, sizeof sink, "%s/out.json", dir);
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d, sink, &out), 0);
    rm_rf(dir);
    CHECK(out);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_DELIVERED);
    CHECK_INT(strlen(out), strlen(sample_json) + 1);
    CHECK(strncmp(out, sample_json, strlen(sample_json)) == 0);
    CHECK_INT(out[strlen(sample_json)], '\n');
    free(out);

    struct herald_delivery d2 = {0};
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d2, "/dev/full", NULL), 0);
    l.p->fini(st);
    CHECK_INT(d2.n_complete, 1);
    CHECK_INT(d2.result, HERALD_RETRY);
    CHECK_CONTAINS(d2.detail, "stdout: write failed");
    plugin_unload(&l);
}

TEST(stdout_hostile_article)
{
    struct loaded l = {0};
    LOAD("stdout", l);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {.spec = l.p->options};
    char err[256] = "", dir[512], sink[600];
    void *st = NULL;
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    /* An escape sequence and a newline in the title, a span past the end of the text, a
     * span in an unknown field, invalid UTF-8 and no link or date. */
    s.article.title = "Evil\x1b[2J title\nsecond line \xff\xfe end";
    s.article.link = NULL;
    s.article.published = -1;
    s.ev[0].end = strlen(sample_text) + 10;
    s.ev[1].field = "nonsense";
    s.alert.n_evidence = 2;
    struct herald_delivery d = {0};
    char *out = NULL;
    CHECK_INT(tmp_dir(dir, sizeof dir, "stdout"), 0);
    snprintf(sink, sizeof sink, "%s/out.txt", dir);
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d, sink, &out), 0);
    l.p->fini(st);
    rm_rf(dir);
    CHECK(out);
    CHECK_INT(d.result, HERALD_DELIVERED);
    CHECK(!strchr(out, '\x1b'));
    CHECK_CONTAINS(out, "[herald] ALERT iraq-withdrawal: Evil [2J title second line ?? end\n");
    CHECK_CONTAINS(out, "published: unknown\n");
    CHECK_INT(line_count(out), 2); /* no link line, no usable evidence */
    free(out);
    plugin_unload(&l);
}

/* === file === */

TEST(file_abi_and_bad_options)
{
    struct loaded l = {0};
    LOAD("file", l);
    CHECK(abi_ok(l.p, "file"));
    CHECK(options_ok(l.p));
    const struct herald_opt_spec *path = find_opt(l.p, "path");
    const struct herald_opt_spec *fs = find_opt(l.p, "fsync");
    CHECK(path && path->type == HERALD_OPT_STRING && path->required);
    CHECK(fs && fs->type == HERALD_OPT_BOOL && !fs->required);
    CHECK_STR(fs->default_value, "true");

    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    char err[256] = "";
    void *st = NULL;
    struct herald_opts none = {.spec = l.p->options};
    CHECK(l.p->init(&h, &none, &st, err, sizeof err) != 0);
    CHECK_STR(err, "file: path is required");
    struct herald_opts user = {.spec = l.p->options, .kv = {{"path", "~bob/x.jsonl"}}, .n = 1};
    CHECK(l.p->init(&h, &user, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "~bob/x.jsonl");
    plugin_unload(&l);
}

TEST(file_appends_json_lines)
{
    struct loaded l = {0};
    LOAD("file", l);
    char dir[512], path[700], err[256] = "";
    CHECK_INT(tmp_dir(dir, sizeof dir, "file"), 0);
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", dir, 1);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {
        .spec = l.p->options, .kv = {{"path", "~/state/herald/alerts.jsonl"}}, .n = 1};
    void *st = NULL;
    int rc = l.p->init(&h, &o, &st, err, sizeof err);
    if (old_home) setenv("HOME", old_home, 1);
    free(old_home);
    CHECK_INT(rc, 0);

    struct sample s;
    sample_init(&s);
    struct herald_delivery d1 = {0}, d2 = {0};
    CHECK_INT(l.p->deliver(st, &s.alert, &d1), 0);
    /* A pretty-printed document must still become exactly one line. */
    s.alert.json = "{\n  \"id\": \"second\",\n  \"rule\": \"r\\nx\"\n}";
    CHECK_INT(l.p->deliver(st, &s.alert, &d2), 0);
    l.p->fini(st);
    CHECK_INT(d1.n_complete, 1);
    CHECK_INT(d1.result, HERALD_DELIVERED);
    CHECK_INT(d2.n_complete, 1);
    CHECK_INT(d2.result, HERALD_DELIVERED);

    snprintf(path, sizeof path, "%s/state/herald/alerts.jsonl", dir);
    struct stat sb;
    CHECK_INT(stat(path, &sb), 0);
    CHECK_INT(sb.st_mode & 0777, 0600);
    char *text = slurp(path);
    rm_rf(dir);
    CHECK(text);
    CHECK_INT(line_count(text), 2);
    char *nl = strchr(text, '\n');
    *nl = '\0';
    json_error_t je;
    json_t *a = json_loads(text, 0, &je), *b = json_loads(nl + 1, 0, &je);
    int ok = a && b && json_is_object(a) && json_is_object(b);
    const char *id1 = ok ? json_string_value(json_object_get(a, "id")) : NULL;
    const char *id2 = ok ? json_string_value(json_object_get(b, "id")) : NULL;
    const char *rule2 = ok ? json_string_value(json_object_get(b, "rule")) : NULL;
    int good = id1 && id2 && rule2 && strcmp(id1, "a1b2c3") == 0 && strcmp(id2, "second") == 0 &&
               strcmp(rule2, "r\nx") == 0;
    json_decref(a);
    json_decref(b);
    free(text);
    CHECK(ok);
    CHECK(good);
    plugin_unload(&l);
}

TEST(file_error_names_path)
{
    struct loaded l = {0};
    LOAD("file", l);
    char dir[512], blocker[600], path[700], err[256] = "";
    CHECK_INT(tmp_dir(dir, sizeof dir, "file"), 0);
    snprintf(blocker, sizeof blocker, "%s/not-a-dir", dir);
    FILE *fp = fopen(blocker, "w");
    CHECK(fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/sub/alerts.jsonl", blocker);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {
        .spec = l.p->options, .kv = {{"path", path}, {"fsync", "false"}}, .n = 2};
    void *st = NULL;
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(l.p->deliver(st, &s.alert, &d), 0);
    l.p->fini(st);
    rm_rf(dir);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_CONTAINS(d.detail, path);
    CHECK_CONTAINS(d.detail, "Not a directory");
    plugin_unload(&l);
}

/* Four processes append 150 alerts each of ~6 KB to one file: every line must parse. */
TEST(file_concurrent_appends_do_not_interleave)
{
    struct loaded l = {0};
    LOAD("file", l);
    char dir[512], path[700], err[256] = "";
    CHECK_INT(tmp_dir(dir, sizeof dir, "file"), 0);
    snprintf(path, sizeof path, "%s/alerts.jsonl", dir);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {
        .spec = l.p->options, .kv = {{"path", path}, {"fsync", "false"}}, .n = 2};
    void *st = NULL;
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    enum { WRITERS = 4, EACH = 150, PAD = 6000 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        CHECK(pids[w] >= 0);
        if (pids[w] == 0) {
            static char json[PAD + 100];
            int n = snprintf(json, sizeof json, "{\"writer\":%d,\"pad\":\"", w);
            memset(json + n, 'a' + w, PAD);
            memcpy(json + n + PAD, "\"}", 3);
            struct sample s;
            sample_init(&s);
            s.alert.json = json;
            int bad = 0;
            for (int i = 0; i < EACH; i++) {
                struct herald_delivery d = {0};
                bad += l.p->deliver(st, &s.alert, &d) != 0 || d.result != HERALD_DELIVERED;
            }
            _exit(bad ? 1 : 0);
        }
    }
    int children_ok = 1;
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        waitpid(pids[w], &status, 0);
        children_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    l.p->fini(st);
    char *text = slurp(path);
    rm_rf(dir);
    CHECK(children_ok);
    CHECK(text);
    int lines = 0, parsed = 0;
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        lines++;
        json_t *j = json_loads(line, 0, NULL);
        parsed += j && strlen(json_string_value(json_object_get(j, "pad"))) == PAD;
        json_decref(j);
    }
    free(text);
    CHECK_INT(lines, WRITERS * EACH);
    CHECK_INT(parsed, WRITERS * EACH);
    plugin_unload(&l);
}

/* === webhook === */

static const char hook_url[] = "https://hooks.example.com/services/T000/B000/SECRETTOKEN?k=abc";

struct hook {
    struct loaded l;
    struct fake f;
    struct herald_host h;
    struct herald_opts o;
    void *st;
};

/* Init a webhook instance with `format` (NULL: default) and optional secret. */
static int hook_init(struct hook *k, const char *format, const char *secret, char *err,
                     size_t errlen)
{
    k->h = fake_host(&k->f);
    k->o = (struct herald_opts){.spec = k->l.p->options};
    k->o.kv[k->o.n][0] = "url";
    k->o.kv[k->o.n++][1] = hook_url;
    k->o.kv[k->o.n][0] = "timeout";
    k->o.kv[k->o.n++][1] = "5s";
    if (format) {
        k->o.kv[k->o.n][0] = "format";
        k->o.kv[k->o.n++][1] = format;
    }
    if (secret) {
        k->o.kv[k->o.n][0] = "secret";
        k->o.kv[k->o.n++][1] = secret;
    }
    k->o.map[0][0] = "Authorization";
    k->o.map[0][1] = "Bearer t0k";
    k->o.n_map = 1;
    return k->l.p->init(&k->h, &k->o, &k->st, err, errlen);
}

static void hook_done(struct hook *k)
{
    if (k->st) k->l.p->fini(k->st);
    k->st = NULL;
    recorded_free(&k->f.req);
    plugin_unload(&k->l);
}

/* No log line and no detail may show the URL's path or query. */
static int leaks_secret(const struct fake *f, const struct herald_delivery *d)
{
    for (int i = 0; i < f->n_log; i++)
        if (strstr(f->log[i], "SECRETTOKEN") || strstr(f->log[i], "k=abc")) return 1;
    return strstr(d->detail, "SECRETTOKEN") || strstr(d->detail, "k=abc");
}

TEST(webhook_abi_and_bad_options)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    const struct herald_plugin *p = k.l.p;
    CHECK(abi_ok(p, "webhook"));
    CHECK(options_ok(p));
    const struct herald_opt_spec *url = find_opt(p, "url"), *to = find_opt(p, "timeout");
    const struct herald_opt_spec *hd = find_opt(p, "headers"), *fm = find_opt(p, "format");
    const struct herald_opt_spec *sec = find_opt(p, "secret");
    /* not required by the schema: telegram builds it from the token; the plugin checks it */
    CHECK(url && url->type == HERALD_OPT_STRING && !url->required);
    static const char *const strs[] = {"template", "token", "room", "chat_id"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const struct herald_opt_spec *o = find_opt(p, strs[i]);
        enum herald_opt_type want = i == 0 ? HERALD_OPT_TEMPLATE : HERALD_OPT_STRING;
        CHECK(o && o->type == want && !o->required && !o->default_value);
    }
    const struct herald_opt_spec *pr = find_opt(p, "priority");
    CHECK(pr && pr->type == HERALD_OPT_INT && !pr->required);
    CHECK(to && to->type == HERALD_OPT_DURATION);
    CHECK_STR(to->default_value, "15s");
    CHECK(hd && hd->type == HERALD_OPT_MAP);
    CHECK(fm && fm->type == HERALD_OPT_STRING);
    CHECK_STR(fm->default_value, "json");
    CHECK(sec && sec->type == HERALD_OPT_STRING);

    struct herald_host h = fake_host(&k.f);
    char err[256] = "";
    void *st = NULL;
    struct herald_opts o = {.spec = p->options, .kv = {{"url", "ftp://example.com/x"}}, .n = 1};
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_STR(err, "webhook: url must start with http:// or https://");
    o.kv[0][1] = "https://";
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_STR(err, "webhook: url has no host");
    o.kv[0][1] = "https://example.com/a b";
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "spaces");
    o.kv[0][1] = "https://example.com/hook";
    o.kv[1][0] = "format";
    o.kv[1][1] = "xml";
    o.n = 2;
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "webhook: format must be");
    CHECK_CONTAINS(err, "mattermost, teams, ntfy, gotify, matrix, telegram");
    o.kv[0][1] = "";
    o.kv[1][1] = "slack";
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_STR(err, "webhook: url is required");
    o.kv[0][1] = "https://example.com/hook";
    o.kv[1][0] = "timeout";
    o.kv[1][1] = "0";
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "webhook: timeout");
    o.n = 1;
    o.map[0][0] = "X-Evil";
    o.map[0][1] = "a\r\nHost: attacker";
    o.n_map = 1;
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "X-Evil");
    o.map[0][0] = "Bad Name";
    o.map[0][1] = "x";
    CHECK(p->init(&h, &o, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "not a valid header name");
    o.map[0][0] = "X-Fine";
    o.kv[0][1] = "https://user:hunter2@hooks.example.com:8443/x/SECRETTOKEN";
    CHECK_INT(p->init(&h, &o, &st, err, sizeof err), 0);
    p->fini(st);
    CHECK(k.f.n_log >= 1);
    for (int i = 0; i < k.f.n_log; i++) {
        CHECK_CONTAINS(k.f.log[i], "https://hooks.example.com:8443");
        CHECK(!strstr(k.f.log[i], "hunter2") && !strstr(k.f.log[i], "SECRETTOKEN"));
    }
    hook_done(&k);
}

TEST(webhook_json_request)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, NULL, NULL, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_INT(k.f.n_requests, 1);
    CHECK_INT(d.n_complete, 0); /* asynchronous: nothing is decided before the response */
    CHECK_STR(k.f.req.method, "POST");
    CHECK_STR(k.f.req.url, hook_url);
    CHECK_INT(k.f.req.timeout_ms, 5000);
    CHECK_STR(k.f.req.body, sample_json);
    CHECK_INT(k.f.req.body_len, strlen(sample_json));
    CHECK_STR(req_header(&k.f, "Content-Type"), "Content-Type: application/json");
    CHECK_STR(req_header(&k.f, "Idempotency-Key"), "Idempotency-Key: a1b2c3");
    CHECK_STR(req_header(&k.f, "Authorization"), "Authorization: Bearer t0k");
    CHECK(req_header(&k.f, "X-Herald-Signature") == NULL);
#ifdef HERALD_VERSION
    CHECK_STR(req_header(&k.f, "User-Agent"), "User-Agent: herald/" HERALD_VERSION);
#else
    CHECK_CONTAINS(req_header(&k.f, "User-Agent"), "User-Agent: herald");
#endif
    respond(&k.f, 200, "ok", -1, NULL);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_DELIVERED);
    CHECK(!leaks_secret(&k.f, &d));
    hook_done(&k);
}

/* The user's header replaces ours of the same name instead of sending two. */
TEST(webhook_user_header_overrides)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    k.h = fake_host(&k.f);
    k.o = (struct herald_opts){.spec = k.l.p->options,
                               .kv = {{"url", "http://127.0.0.1:9/x"}},
                               .n = 1,
                               .map = {{"content-type", "application/cloudevents+json"}},
                               .n_map = 1};
    CHECK_INT(k.l.p->init(&k.h, &k.o, &k.st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_INT(count_headers(&k.f, "Content-Type"), 1);
    CHECK_STR(req_header(&k.f, "Content-Type"), "content-type: application/cloudevents+json");
    CHECK_INT(k.f.req.timeout_ms, 15000); /* the declared default */
    respond(&k.f, 204, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    hook_done(&k);
}

/* RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?"). */
TEST(webhook_signature_rfc4231)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "json", "Jefe", err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.alert.json = "what do ya want for nothing?";
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_STR(req_header(&k.f, "X-Herald-Signature"),
              "X-Herald-Signature: "
              "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    respond(&k.f, 200, NULL, -1, NULL);
    CHECK_INT(d.n_complete, 1);
    hook_done(&k);
}

/* The signature covers the body actually sent, whatever the format. */
TEST(webhook_signature_matches_body)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "slack", "s3cr3t-key", err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    CHECK(HMAC(EVP_sha256(), "s3cr3t-key", 10, (const unsigned char *)k.f.req.body,
               k.f.req.body_len, mac, &len));
    char want[128] = "X-Herald-Signature: sha256=";
    for (unsigned i = 0; i < len; i++)
        snprintf(want + strlen(want), 3, "%02x", mac[i]);
    CHECK_STR(req_header(&k.f, "X-Herald-Signature"), want);
    respond(&k.f, 200, NULL, -1, NULL);
    hook_done(&k);
}

TEST(webhook_slack_body)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "slack", NULL, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.article.title = "Troops <b>out</b> & home";
    s.alert.n_evidence = 3; /* keep the evidence in the text only */
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_STR(req_header(&k.f, "Content-Type"), "Content-Type: application/json");
    json_t *root = json_loads(k.f.req.body, 0, NULL);
    CHECK(root);
    const char *text = json_string_value(json_object_get(root, "text"));
    json_t *blocks = json_object_get(root, "blocks");
    const char *head = json_string_value(
        json_object_get(json_object_get(json_array_get(blocks, 0), "text"), "text"));
    const char *ev = json_string_value(
        json_object_get(json_object_get(json_array_get(blocks, 1), "text"), "text"));
    const char *type0 = json_string_value(json_object_get(json_array_get(blocks, 0), "type"));
    char t[512] = "", hd[1024] = "", e[1024] = "";
    snprintf(t, sizeof t, "%s", text ? text : "");
    snprintf(hd, sizeof hd, "%s", head ? head : "");
    snprintf(e, sizeof e, "%s", ev ? ev : "");
    int is_section = type0 && strcmp(type0, "section") == 0;
    json_decref(root);
    respond(&k.f, 200, NULL, -1, NULL);
    hook_done(&k);
    CHECK(is_section);
    CHECK_STR(t, "[herald] iraq-withdrawal: Troops &lt;b&gt;out&lt;/b&gt; &amp; home");
    CHECK_CONTAINS(hd, "*<https://example.org/news/1|Troops &lt;b&gt;out&lt;/b&gt; &amp; home>*");
    CHECK_CONTAINS(hd, "rule iraq-withdrawal");
    CHECK_CONTAINS(hd, "source: example-world");
    CHECK_STR(e, "> \xe2\x80\xa6in Baghdad voted on Sunday for the *removal* of all US *troops* "
                 "from *Iraq*, a week after the strike near the airport. The\xe2\x80\xa6\n");
    CHECK_STR(hd, "*<https://example.org/news/1|Troops &lt;b&gt;out&lt;/b&gt; &amp; home>*\n"
                  "rule iraq-withdrawal \xc2\xb7 source: example-world \xc2\xb7 "
                  "published: 2020-01-05T18:30:00Z");
}

/* Count UTF-16 code units of a UTF-8 string (what Discord's limits count). */
static size_t utf16_units(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xc0) != 0x80) n++;
        if (*p >= 0xf0) n++;
    }
    return n;
}

TEST(webhook_discord_body_and_limits)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "discord", NULL, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    json_t *root = json_loads(k.f.req.body, 0, NULL);
    CHECK(root);
    json_t *embed = json_array_get(json_object_get(root, "embeds"), 0);
    char title[512] = "", url[256] = "", desc[2048] = "", content[256] = "", ts[64] = "";
    snprintf(title, sizeof title, "%s", json_string_value(json_object_get(embed, "title")));
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(embed, "url")));
    snprintf(desc, sizeof desc, "%s", json_string_value(json_object_get(embed, "description")));
    snprintf(content, sizeof content, "%s", json_string_value(json_object_get(root, "content")));
    snprintf(ts, sizeof ts, "%s", json_string_value(json_object_get(embed, "timestamp")));
    json_t *parse = json_object_get(json_object_get(root, "allowed_mentions"), "parse");
    int no_mentions = json_is_array(parse) && json_array_size(parse) == 0;
    json_decref(root);
    respond(&k.f, 200, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    CHECK_STR(title, sample_title);
    CHECK_STR(url, "https://example.org/news/1");
    CHECK_STR(ts, "2020-01-05T18:30:00Z");
    CHECK_CONTAINS(content, "iraq-withdrawal");
    CHECK_STR(content, "**[herald] iraq-withdrawal**");
    /* the title's evidence is outside the text's window: two quoted lines, then the summary */
    CHECK_STR(desc, "> \xe2\x80\xa6in Baghdad voted on Sunday for the **removal** of all US "
                    "**troops** from **Iraq**, a week after the strike near the airport. "
                    "The\xe2\x80\xa6\n> US **troops** asked to leave Iraq\n\nVote in Baghdad.");
    CHECK(no_mentions);

    /* 300 two-byte and four-byte characters in the title, a 20,000-byte summary. */
    static char long_title[1300], summary[20001];
    size_t n = 0;
    for (int i = 0; i < 150; i++) {
        memcpy(long_title + n, "\xc3\xa9\xf0\x9f\x93\xb0", 6); /* é 📰 */
        n += 6;
    }
    long_title[n] = '\0';
    memset(summary, 'x', sizeof summary - 1);
    summary[sizeof summary - 1] = '\0';
    s.article.title = long_title;
    s.article.summary = summary;
    struct herald_delivery d2 = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d2), 0);
    root = json_loads(k.f.req.body, 0, NULL); /* jansson rejects invalid UTF-8 */
    CHECK(root);
    embed = json_array_get(json_object_get(root, "embeds"), 0);
    size_t tu = utf16_units(json_string_value(json_object_get(embed, "title")));
    size_t du = utf16_units(json_string_value(json_object_get(embed, "description")));
    size_t cu = utf16_units(json_string_value(json_object_get(root, "content")));
    const char *t2 = json_string_value(json_object_get(embed, "title"));
    int ends_ellipsis = t2 && strlen(t2) >= 3 && strcmp(t2 + strlen(t2) - 3, "\xe2\x80\xa6") == 0;
    json_decref(root);
    respond(&k.f, 200, NULL, -1, NULL);
    hook_done(&k);
    CHECK(tu <= 256 && tu >= 250);
    CHECK_INT(du, 4096); /* evidence + summary exceed it: cut to 4095 units + an ellipsis */
    CHECK(cu <= 2000);
    CHECK(ends_ellipsis);
}

/* Decode one RFC 2047 "=?UTF-8?B?…?=" word sequence back to UTF-8. */
static int rfc2047_decode(const char *v, char *out, size_t outlen)
{
    size_t len = 0;
    while (*v) {
        if (*v == ' ') {
            v++;
            continue;
        }
        if (strncmp(v, "=?UTF-8?B?", 10) != 0) return -1;
        v += 10;
        const char *end = strstr(v, "?=");
        if (!end || (size_t)(end - v) / 4 * 3 + len + 1 > outlen) return -1;
        int n =
            EVP_DecodeBlock((unsigned char *)out + len, (const unsigned char *)v, (int)(end - v));
        if (n < 0) return -1;
        for (const char *p = end - 1; p >= v && *p == '='; p--)
            n--; /* EVP_DecodeBlock counts padding as zero bytes */
        len += (size_t)n;
        v = end + 2;
    }
    out[len] = '\0';
    return 0;
}

TEST(webhook_ntfy_request)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "ntfy", NULL, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_STR(req_header(&k.f, "Content-Type"), "Content-Type: text/plain; charset=utf-8");
    CHECK_STR(req_header(&k.f, "Title"), "Title: US troops asked to leave Iraq");
    CHECK_STR(req_header(&k.f, "Click"), "Click: https://example.org/news/1");
    CHECK_STR(req_header(&k.f, "Tags"), "Tags: herald,iraq-withdrawal");
    CHECK_CONTAINS(k.f.req.body, "the [removal] of all US [troops] from [Iraq]");
    CHECK_CONTAINS(k.f.req.body, "source: example-world  published: 2020-01-05T18:30:00Z\n");
    respond(&k.f, 200, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);

    /* A non-ASCII title travels as RFC 2047 encoded words; CR/LF can never reach a header. */
    const char *de = "Irak fordert Truppenabzug \xe2\x80\x93 Bundestag ber\xc3\xa4t \xc3\xbc"
                     "ber den Einsatz der Bundeswehr im Nahen Osten";
    s.article.title = de;
    s.alert.rule = "rule,with\r\nX-Injected: 1";
    struct herald_delivery d2 = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d2), 0);
    const char *title = req_header(&k.f, "Title");
    CHECK(title);
    char decoded[512];
    CHECK_INT(rfc2047_decode(title + 7, decoded, sizeof decoded), 0);
    CHECK_STR(decoded, de);
    CHECK(req_header(&k.f, "X-Injected") == NULL);
    CHECK_STR(req_header(&k.f, "Tags"), "Tags: herald,rule-with--X-Injected--1");
    for (size_t i = 0; i < k.f.req.n_headers; i++)
        CHECK(!strpbrk(k.f.req.headers[i], "\r\n"));
    respond(&k.f, 200, NULL, -1, NULL);
    hook_done(&k);
}

TEST(webhook_text_body)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "text", NULL, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_STR(req_header(&k.f, "Content-Type"), "Content-Type: text/plain; charset=utf-8");
    CHECK(strncmp(k.f.req.body,
                  "[herald] ALERT iraq-withdrawal: US troops asked to leave Iraq\n"
                  "  https://example.org/news/1\n",
                  90) == 0);
    respond(&k.f, 200, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    hook_done(&k);
}

/* One delivery answered with `status`; returns the finished delivery record. */
static struct herald_delivery answer(struct hook *k, long status, const char *body,
                                     long retry_after, const char *error)
{
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    if (k->l.p->deliver(k->st, &s.alert, &d) != 0 || !k->f.cb) {
        d.n_complete = -1;
        return d;
    }
    respond(&k->f, status, body, retry_after, error);
    return d;
}

TEST(webhook_status_mapping)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "json", NULL, err, sizeof err), 0);

    struct herald_delivery d = answer(&k, 500, "oops", -1, NULL);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_CONTAINS(d.detail, "HTTP 500 from https://hooks.example.com");
    CHECK_INT(d.n_retry_after, 0);

    d = answer(&k, 429, "slow down", 30, NULL);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_INT(d.n_retry_after, 1);
    CHECK_INT(d.retry_after, 30);
    CHECK(d.retry_after_before_complete);

    d = answer(&k, 503, NULL, 0, NULL);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_INT(d.n_retry_after, 1);
    CHECK_INT(d.retry_after, 0);

    d = answer(&k, 408, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_RETRY);
    d = answer(&k, 425, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_RETRY);

    d = answer(&k, 404, "no such hook\n", -1, NULL);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_FAILED);
    CHECK_CONTAINS(d.detail, "404");
    CHECK_CONTAINS(d.detail, "no such hook");
    CHECK(!leaks_secret(&k.f, &d));

    /* Only the first 200 bytes of a long error body reach the detail. */
    static char big[1000];
    memset(big, 'E', sizeof big - 1);
    memcpy(big + 200, "TAIL", 4);
    d = answer(&k, 400, big, -1, NULL);
    CHECK_INT(d.result, HERALD_FAILED);
    CHECK_CONTAINS(d.detail, "EEEE");
    CHECK(!strstr(d.detail, "TAIL"));

    d = answer(&k, 301, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_FAILED);

    d = answer(&k, 0, NULL, -1, "Failed to connect to hooks.example.com port 443");
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_CONTAINS(d.detail, "Failed to connect");
    CHECK(!leaks_secret(&k.f, &d));

    d = answer(&k, 201, NULL, -1, NULL);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_DELIVERED);
    hook_done(&k);
}

/* When the host cannot start the request, the callback never runs: the plugin completes. */
TEST(webhook_request_refused)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    CHECK_INT(hook_init(&k, "json", NULL, err, sizeof err), 0);
    k.f.refuse_requests = 1;
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_CONTAINS(d.detail, "https://hooks.example.com");
    CHECK(!leaks_secret(&k.f, &d));
    s.alert.json = NULL; /* nothing to send can ever be sent */
    k.f.refuse_requests = 0;
    struct herald_delivery d2 = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d2), 0);
    CHECK_INT(d2.n_complete, 1);
    CHECK_INT(d2.result, HERALD_FAILED);
    CHECK_INT(k.f.n_requests, 0);
    hook_done(&k);
}

static int hook_init_kv(struct hook *k, const char *url, const char *const *kv, char *err,
                        size_t errlen);

/* Random spans (some past the end, some reversed, some inside a character) over text full of
 * broken UTF-8, control characters and markup: every format must still complete once and
 * every JSON body must parse (jansson rejects invalid UTF-8). */
TEST(webhook_hostile_evidence)
{
    static const char *pieces[] = {
        "troops ", "\xc3\xa9", "\xf0\x9f\x93\xb0", "\xe2\x80", "\xff", "\x1b[0m",
        "\n",      "&<>|*",    "\xc2\x85",         "word ",    "  \t"};
    static const char *fmts[] = {"slack", "discord", "ntfy",   "text",     "json",
                                 "teams", "gotify",  "matrix", "telegram", "mattermost"};
    static const char *const extra[][4] = {{NULL},
                                           {NULL},
                                           {NULL},
                                           {NULL},
                                           {NULL},
                                           {NULL},
                                           {"token", "t", NULL},
                                           {"token", "t", "room", "!r:x"},
                                           {"token", "1:a", "chat_id", "1"},
                                           {NULL}};
    static const char *const tpls[] = {NULL, "{{title}} {{evidence}} {{summary}}"};
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        char text[600] = "", title[200] = "";
        while (strlen(text) < 500) {
            seed = seed * 1103515245u + 12345u;
            strcat(text, pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])]);
        }
        memcpy(title, text + round % 50, 120);
        struct herald_evidence ev[40];
        size_t tl = strlen(text);
        for (int i = 0; i < 40; i++) {
            seed = seed * 1103515245u + 12345u;
            size_t a = (seed >> 8) % (tl + 8);
            seed = seed * 1103515245u + 12345u;
            size_t b = a + (seed >> 8) % 300;
            if (i % 7 == 0) b = a > 3 ? a - 3 : 0; /* reversed */
            ev[i] = (struct herald_evidence){i % 5 == 0 ? "title" : "text", a, b, "t*"};
        }
        struct hook k = {0};
        LOAD("webhook", k.l);
        char err[256] = "";
        size_t fi = (size_t)round % 10;
        const char *kv[12] = {"format", fmts[fi]};
        size_t n = 2;
        for (size_t j = 0; j < 4 && extra[fi][j]; j++)
            kv[n++] = extra[fi][j];
        if (tpls[(round / 10) % 2]) {
            kv[n++] = "template";
            kv[n++] = tpls[(round / 10) % 2];
        }
        kv[n] = NULL;
        CHECK_INT(hook_init_kv(&k, hook_url, kv, err, sizeof err), 0);
        struct sample s;
        sample_init(&s);
        s.article.text = text;
        s.article.title = title;
        s.article.summary = text;
        s.article.link = round % 2 ? "https://x.example/a|b>c" : "javascript:alert(1)";
        s.alert.evidence = ev;
        s.alert.n_evidence = 40;
        struct herald_delivery d = {0};
        CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
        CHECK_INT(k.f.n_requests, 1);
        int json_ok = 1;
        if (fi != 2 && fi != 3 && (fi != 4 || tpls[(round / 10) % 2])) {
            json_t *j = json_loads(k.f.req.body, 0, NULL);
            json_ok = j != NULL;
            json_decref(j);
        }
        for (size_t i = 0; i < k.f.req.n_headers; i++)
            CHECK(!strpbrk(k.f.req.headers[i], "\r\n"));
        respond(&k.f, 200, NULL, -1, NULL);
        hook_done(&k);
        CHECK(json_ok);
        CHECK_INT(d.n_complete, 1);
        CHECK_INT(d.result, HERALD_DELIVERED);
    }
}

/* --- native formats, options and templates --- */

/* Init a webhook at `url` (NULL: no url option) with option pairs ending in NULL. */
static int hook_init_kv(struct hook *k, const char *url, const char *const *kv, char *err,
                        size_t errlen)
{
    k->h = fake_host(&k->f);
    k->o = (struct herald_opts){.spec = k->l.p->options};
    if (url) {
        k->o.kv[0][0] = "url";
        k->o.kv[0][1] = url;
        k->o.n = 1;
    }
    for (size_t i = 0; kv[i] && k->o.n < 16; i += 2) {
        k->o.kv[k->o.n][0] = kv[i];
        k->o.kv[k->o.n++][1] = kv[i + 1];
    }
    return k->l.p->init(&k->h, &k->o, &k->st, err, errlen);
}

/* The init error for one option set ("" when init succeeded). */
static const char *init_error(struct hook *k, const char *url, const char *const *kv)
{
    static char err[512];
    err[0] = '\0';
    if (hook_init_kv(k, url, kv, err, sizeof err) == 0) {
        k->l.p->fini(k->st);
        k->st = NULL;
        return "";
    }
    return err;
}

/* The value at a dotted path ("attachments.0.content"), numbers indexing arrays; or NULL. */
static json_t *jpath(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    for (char *save = NULL, *seg = strtok_r(buf, ".", &save); seg && v;
         seg = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v) && seg[0] >= '0' && seg[0] <= '9')
            v = json_array_get(v, strtoul(seg, NULL, 10));
        else
            v = json_object_get(v, seg);
    }
    return v;
}

/* A string inside a JSON document by a dotted path ("attachments.0.content.type"), or "". */
static const char *jstr(json_t *root, const char *path)
{
    json_t *v = jpath(root, path);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* Deliver `al` and parse the body (the caller responds and decrefs). */
static json_t *deliver_json(struct hook *k, const struct herald_alert *al,
                            struct herald_delivery *d)
{
    if (k->l.p->deliver(k->st, al, d) != 0 || !k->f.cb) return NULL;
    return json_loads(k->f.req.body, 0, NULL);
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static const char hostile_title[] =
    "Troops <b>out</b> & \"home\" *now* _x_ [y](z) @channel \xf0\x9f\x93\xb0";

TEST(webhook_format_options)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    const char *gotify[] = {"format", "gotify", NULL};
    CHECK_STR(init_error(&k, "https://push.example.de", gotify),
              "webhook: gotify needs token = \"<application token>\"");
    CHECK_STR(init_error(&k, "https://push.example.de/message?token=abc", gotify), "");
    const char *gprio[] = {"format", "gotify", "token", "t", "priority", "11", NULL};
    CHECK_STR(init_error(&k, "https://push.example.de", gprio),
              "webhook: gotify priority must be 0 to 10");
    const char *nprio[] = {"format", "ntfy", "priority", "9", NULL};
    CHECK_STR(init_error(&k, "https://ntfy.sh/t", nprio),
              "webhook: ntfy priority must be 1 (min) to 5 (max)");
    const char *sprio[] = {"format", "slack", "priority", "3", NULL};
    CHECK_CONTAINS(init_error(&k, "https://hooks.slack.com/x", sprio),
                   "priority is only used by the ntfy and gotify formats");
    const char *stoken[] = {"format", "slack", "token", "x", NULL};
    CHECK_CONTAINS(init_error(&k, "https://hooks.slack.com/x", stoken), "token is only used by");
    const char *sroom[] = {"format", "discord", "room", "!a:b", NULL};
    CHECK_STR(init_error(&k, "https://discord.com/api/webhooks/1/x", sroom),
              "webhook: room is only used by the matrix format");
    const char *mnoroom[] = {"format", "matrix", "token", "syt", NULL};
    CHECK_STR(init_error(&k, "https://matrix.example.org", mnoroom),
              "webhook: matrix needs token (an access token) and room");
    const char *malias[] = {"format", "matrix", "token", "syt", "room", "#news:example.org", NULL};
    CHECK_CONTAINS(init_error(&k, "https://matrix.example.org", malias), "must be a room id");
    const char *mspace[] = {"format", "matrix", "token", "a b", "room", "!r:example.org", NULL};
    CHECK_CONTAINS(init_error(&k, "https://matrix.example.org", mspace), "without spaces");
    const char *tnotoken[] = {"format", "telegram", "chat_id", "42", NULL};
    CHECK_CONTAINS(init_error(&k, NULL, tnotoken), "telegram needs token");
    const char *tbadtoken[] = {"format", "telegram", "token", "12:a/b", "chat_id", "42", NULL};
    CHECK_CONTAINS(init_error(&k, NULL, tbadtoken), "telegram needs token");
    const char *tbadchat[] = {"format", "telegram", "token", "12:ab", "chat_id", "chat", NULL};
    CHECK_CONTAINS(init_error(&k, NULL, tbadchat), "telegram needs chat_id");
    const char *tok[] = {"format", "telegram", "token", "12:ab", "chat_id", "@news_x", NULL};
    CHECK_STR(init_error(&k, NULL, tok), "");
    const char *badkey[] = {"format", "slack", "template", "{{title}} {{titel}}", NULL};
    CHECK_STR(init_error(&k, "https://hooks.slack.com/x", badkey),
              "webhook: template: unknown placeholder {{titel}} (known: title, link, rule, "
              "source, published, summary, evidence, id, notifier)");
    const char *unclosed[] = {"template", "{{title}} {{link", NULL};
    CHECK_CONTAINS(init_error(&k, "https://x.example", unclosed),
                   "webhook: template: unclosed placeholder \"{{link\"");
    const char *spaced[] = {"format", "text", "template", "{{ title }}!", NULL};
    CHECK_STR(init_error(&k, "https://x.example", spaced), "");
    hook_done(&k);
}

TEST(webhook_mattermost_body)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    const char *kv[] = {"format", "mattermost", NULL};
    CHECK_INT(hook_init_kv(&k, "https://mm.example.com/hooks/xyz", kv, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.alert.n_evidence = 3;
    struct herald_delivery d = {0};
    json_t *root = deliver_json(&k, &s.alert, &d);
    CHECK(root);
    CHECK_INT(json_object_size(root), 1);
    CHECK_STR(jstr(root, "text"),
              "**[herald] iraq-withdrawal**: [US troops asked to leave "
              "Iraq](https://example.org/news/1)\n"
              "> \xe2\x80\xa6in Baghdad voted on Sunday for the **removal** of all US **troops** "
              "from **Iraq**, a week after the strike near the airport. The\xe2\x80\xa6\n\n"
              "source: example-world \xc2\xb7 published: 2020-01-05T18:30:00Z");
    CHECK_STR(req_header(&k.f, "Content-Type"), "Content-Type: application/json");
    json_decref(root);
    respond(&k.f, 200, "ok", -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    hook_done(&k);
}

TEST(webhook_teams_card)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    const char *kv[] = {"format", "teams", NULL};
    CHECK_INT(
        hook_init_kv(&k, "https://example.webhook.office.com/webhookb2/x", kv, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    json_t *root = deliver_json(&k, &s.alert, &d);
    CHECK(root);
    CHECK_STR(jstr(root, "type"), "message");
    CHECK_INT(json_array_size(json_object_get(root, "attachments")), 1);
    CHECK_STR(jstr(root, "attachments.0.contentType"), "application/vnd.microsoft.card.adaptive");
    CHECK(json_is_null(jpath(root, "attachments.0.contentUrl")));
    CHECK_STR(jstr(root, "attachments.0.content.type"), "AdaptiveCard");
    CHECK_STR(jstr(root, "attachments.0.content.version"), "1.2");
    CHECK_STR(jstr(root, "attachments.0.content.$schema"),
              "http://adaptivecards.io/schemas/adaptive-card.json");
    json_t *body = jpath(root, "attachments.0.content.body");
    CHECK_INT(json_array_size(body), 5);
    for (size_t i = 0; i < 5; i++) {
        CHECK_STR(jstr(json_array_get(body, i), "type"), "TextBlock");
        CHECK(json_is_true(json_object_get(json_array_get(body, i), "wrap")));
    }
    CHECK_STR(jstr(body, "0.text"), "[herald] iraq-withdrawal");
    CHECK_STR(jstr(body, "1.text"), "US troops asked to leave Iraq");
    CHECK_STR(jstr(body, "1.weight"), "Bolder");
    CHECK_STR(jstr(body, "2.text"),
              "\xe2\x80\xa6in Baghdad voted on Sunday for the **removal** of all US **troops** "
              "from **Iraq**, a week after the strike near the airport. The\xe2\x80\xa6");
    CHECK_STR(jstr(body, "3.text"), "US **troops** asked to leave Iraq");
    CHECK_STR(jstr(body, "4.text"),
              "source: example-world \xc2\xb7 published: 2020-01-05T18:30:00Z");
    CHECK_STR(jstr(root, "attachments.0.content.actions.0.type"), "Action.OpenUrl");
    CHECK_STR(jstr(root, "attachments.0.content.actions.0.url"), "https://example.org/news/1");
    json_decref(root);
    respond(&k.f, 200, "1", -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    hook_done(&k);
}

TEST(webhook_gotify_request)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    const char *kv[] = {"format", "gotify", "token", "AbCdEf.12", "priority", "8", NULL};
    CHECK_INT(hook_init_kv(&k, "https://push.example.de/", kv, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.alert.n_evidence = 3;
    struct herald_delivery d = {0};
    json_t *root = deliver_json(&k, &s.alert, &d);
    CHECK(root);
    CHECK_STR(k.f.req.method, "POST");
    CHECK_STR(k.f.req.url, "https://push.example.de/message");
    CHECK_STR(req_header(&k.f, "X-Gotify-Key"), "X-Gotify-Key: AbCdEf.12");
    CHECK_STR(jstr(root, "title"), "[herald] iraq-withdrawal: US troops asked to leave Iraq");
    CHECK_STR(jstr(root, "message"),
              "> \xe2\x80\xa6in Baghdad voted on Sunday for the **removal** of all US **troops** "
              "from **Iraq**, a week after the strike near the airport. The\xe2\x80\xa6  \n\n"
              "source: example-world \xc2\xb7 published: 2020-01-05T18:30:00Z\n\n"
              "[Open article](https://example.org/news/1)");
    CHECK(json_is_integer(json_object_get(root, "priority")));
    CHECK_INT(json_integer_value(json_object_get(root, "priority")), 8);
    CHECK_STR(jstr(root, "extras.client::display.contentType"), "text/markdown");
    CHECK_STR(jstr(root, "extras.client::notification.click.url"), "https://example.org/news/1");
    json_decref(root);
    respond(&k.f, 200, "{}", -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    CHECK(!strstr(d.detail, "AbCdEf"));
    hook_done(&k);

    /* The token may sit in the URL's query instead; /message is added before it. */
    struct hook k2 = {0};
    LOAD("webhook", k2.l);
    const char *kv2[] = {"format", "gotify", NULL};
    CHECK_INT(hook_init_kv(&k2, "https://example.de/gotify?token=Q1", kv2, err, sizeof err), 0);
    s.article.link = NULL;
    struct herald_delivery d2 = {0};
    root = deliver_json(&k2, &s.alert, &d2);
    CHECK(root);
    CHECK_STR(k2.f.req.url, "https://example.de/gotify/message?token=Q1");
    CHECK(req_header(&k2.f, "X-Gotify-Key") == NULL);
    CHECK(json_object_get(root, "priority") == NULL);
    CHECK(jpath(root, "extras.client::notification") == NULL);
    json_decref(root);
    respond(&k2.f, 200, NULL, -1, NULL);
    hook_done(&k2);
}

TEST(webhook_matrix_request)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    const char *kv[] = {"format", "matrix", "token", "syt_SeCrEt", "room", "!RoomA:example.org",
                        NULL};
    CHECK_INT(hook_init_kv(&k, "https://matrix.example.org/", kv, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.alert.n_evidence = 3;
    struct herald_delivery d = {0};
    json_t *root = deliver_json(&k, &s.alert, &d);
    CHECK(root);
    CHECK_STR(k.f.req.method, "PUT");
    CHECK_STR(k.f.req.url, "https://matrix.example.org/_matrix/client/v3/rooms/"
                           "%21RoomA%3Aexample.org/send/m.room.message/a1b2c3");
    CHECK_STR(req_header(&k.f, "Authorization"), "Authorization: Bearer syt_SeCrEt");
    CHECK_STR(req_header(&k.f, "Idempotency-Key"), "Idempotency-Key: a1b2c3");
    CHECK_INT(json_object_size(root), 4);
    CHECK_STR(jstr(root, "msgtype"), "m.notice");
    CHECK_STR(jstr(root, "format"), "org.matrix.custom.html");
    CHECK(strncmp(jstr(root, "body"),
                  "[herald] ALERT iraq-withdrawal: US troops asked to leave Iraq\n"
                  "  https://example.org/news/1\n",
                  90) == 0);
    CHECK_STR(jstr(root, "formatted_body"),
              "<p><b>[herald] iraq-withdrawal</b>: <a href=\"https://example.org/news/1\">US "
              "troops asked to leave Iraq</a></p><blockquote>\xe2\x80\xa6in Baghdad voted on "
              "Sunday for the <b>removal</b> of all US <b>troops</b> from <b>Iraq</b>, a week "
              "after the strike near the airport. The\xe2\x80\xa6</blockquote><p><i>source: "
              "example-world \xc2\xb7 published: 2020-01-05T18:30:00Z</i></p>");
    json_decref(root);
    respond(&k.f, 502, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_RETRY);
    /* The retry goes to the same transaction URL: the homeserver keeps one event. */
    char first[512];
    snprintf(first, sizeof first, "%s", k.f.req.url);
    s.alert.attempt = 2;
    struct herald_delivery d2 = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d2), 0);
    CHECK_STR(k.f.req.url, first);
    respond(&k.f, 200, "{\"event_id\":\"$e\"}", -1, NULL);
    CHECK_INT(d2.result, HERALD_DELIVERED);
    /* An id with reserved characters is percent-encoded as one path segment. */
    s.alert.id = "a/b c?";
    struct herald_delivery d3 = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d3), 0);
    CHECK_CONTAINS(k.f.req.url, "/send/m.room.message/a%2Fb%20c%3F");
    respond(&k.f, 200, NULL, -1, NULL);
    for (int i = 0; i < k.f.n_log; i++)
        CHECK(!strstr(k.f.log[i], "SeCrEt"));
    CHECK(!strstr(d.detail, "SeCrEt"));
    hook_done(&k);
}

TEST(webhook_telegram_request)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    const char *kv[] = {"format",  "telegram",       "token", "123456:ABC-def_ghi",
                        "chat_id", "-1001234567890", NULL};
    CHECK_INT(hook_init_kv(&k, NULL, kv, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.alert.n_evidence = 3;
    struct herald_delivery d = {0};
    json_t *root = deliver_json(&k, &s.alert, &d);
    CHECK(root);
    CHECK_STR(k.f.req.method, "POST");
    CHECK_STR(k.f.req.url, "https://api.telegram.org/bot123456:ABC-def_ghi/sendMessage");
    json_t *chat = json_object_get(root, "chat_id");
    CHECK(json_is_integer(chat));
    CHECK(json_integer_value(chat) == -1001234567890LL);
    CHECK_STR(jstr(root, "parse_mode"), "HTML");
    CHECK_STR(jstr(root, "text"),
              "<b>[herald] iraq-withdrawal</b>\n<a href=\"https://example.org/news/1\">US troops "
              "asked to leave Iraq</a>\n<blockquote>\xe2\x80\xa6in Baghdad voted on Sunday for "
              "the <b>removal</b> of all US <b>troops</b> from <b>Iraq</b>, a week after the "
              "strike near the airport. The\xe2\x80\xa6</blockquote>\n<i>source: example-world "
              "\xc2\xb7 published: 2020-01-05T18:30:00Z</i>");
    CHECK_STR(jstr(root, "link_preview_options.url"), "https://example.org/news/1");
    json_decref(root);
    respond(&k.f, 401, "{\"ok\":false,\"description\":\"Unauthorized\"}", -1, NULL);
    CHECK_INT(d.result, HERALD_FAILED);
    CHECK_CONTAINS(d.detail, "HTTP 401 from https://api.telegram.org");
    CHECK(!strstr(d.detail, "ABC-def"));
    for (int i = 0; i < k.f.n_log; i++)
        CHECK(!strstr(k.f.log[i], "ABC-def"));
    hook_done(&k);

    /* A channel name is a string; a local Bot API server replaces the default URL. */
    struct hook k2 = {0};
    LOAD("webhook", k2.l);
    const char *kv2[] = {"format", "telegram", "token", "9:xY", "chat_id", "@herald_news", NULL};
    CHECK_INT(hook_init_kv(&k2, "http://127.0.0.1:8081/", kv2, err, sizeof err), 0);
    s.article.link = "javascript:alert(1)";
    struct herald_delivery d2 = {0};
    root = deliver_json(&k2, &s.alert, &d2);
    CHECK(root);
    CHECK_STR(k2.f.req.url, "http://127.0.0.1:8081/bot9:xY/sendMessage");
    CHECK_STR(jstr(root, "chat_id"), "@herald_news");
    CHECK(json_is_true(jpath(root, "link_preview_options.is_disabled")));
    CHECK(!strstr(jstr(root, "text"), "javascript"));
    json_decref(root);
    respond(&k2.f, 200, NULL, -1, NULL);
    hook_done(&k2);
}

TEST(webhook_ntfy_priority_and_token)
{
    struct hook k = {0};
    LOAD("webhook", k.l);
    char err[256] = "";
    const char *kv[] = {"format", "ntfy", "priority", "4", "token", "tk_abc", NULL};
    CHECK_INT(hook_init_kv(&k, "https://ntfy.sh/herald-alerts", kv, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
    CHECK_STR(req_header(&k.f, "Priority"), "Priority: 4");
    CHECK_STR(req_header(&k.f, "Authorization"), "Authorization: Bearer tk_abc");
    CHECK_STR(k.f.req.url, "https://ntfy.sh/herald-alerts");
    respond(&k.f, 200, NULL, -1, NULL);
    CHECK_INT(d.result, HERALD_DELIVERED);
    hook_done(&k);
}

/* The same hostile title in every format, escaped for each receiver's markup. */
TEST(webhook_escaping_per_format)
{
    static const char *const fmts[][7] = {
        {"slack", NULL},
        {"discord", NULL},
        {"mattermost", NULL},
        {"teams", NULL},
        {"gotify", "token", "t", NULL},
        {"matrix", "token", "t", "room", "!r:example.org", NULL},
        {"telegram", "token", "1:a", "chat_id", "1", NULL},
    };
    char got[7][1024];
    for (size_t i = 0; i < 7; i++) {
        struct hook k = {0};
        LOAD("webhook", k.l);
        char err[256] = "";
        const char *kv[12] = {"format"};
        size_t n = 1;
        for (size_t j = 0; fmts[i][j]; j++)
            kv[n++] = fmts[i][j];
        kv[n] = NULL;
        CHECK_INT(hook_init_kv(&k, "https://example.com/x", kv, err, sizeof err), 0);
        struct sample s;
        sample_init(&s);
        s.article.title = hostile_title;
        s.alert.n_evidence = 3;
        struct herald_delivery d = {0};
        json_t *root = deliver_json(&k, &s.alert, &d);
        CHECK(root);
        const char *paths[] = {
            "text",  "embeds.0.title", "text", "attachments.0.content.body.1.text",
            "title", "formatted_body", "text"};
        snprintf(got[i], sizeof got[i], "%s", jstr(root, paths[i]));
        if (i == 5) CHECK_CONTAINS(jstr(root, "body"), hostile_title);
        json_decref(root);
        respond(&k.f, 200, NULL, -1, NULL);
        hook_done(&k);
    }
    CHECK_STR(got[0], "[herald] iraq-withdrawal: Troops &lt;b&gt;out&lt;/b&gt; &amp; \"home\" "
                      "*now* _x_ [y](z) @channel \xf0\x9f\x93\xb0");
    CHECK_STR(got[1], "Troops \\<b\\>out\\</b\\> & \"home\" \\*now\\* \\_x\\_ \\[y\\](z) @channel "
                      "\xf0\x9f\x93\xb0");
    CHECK_CONTAINS(got[2], "[Troops \\<b\\>out\\</b\\> & \"home\" \\*now\\* \\_x\\_ \\[y\\](z) "
                           "@\xe2\x80\x8b"
                           "channel \xf0\x9f\x93\xb0](https://example.org/news/1)");
    CHECK_STR(got[3], "Troops <b>out</b> & \"home\" \\*now\\* \\_x\\_ \\[y\\](z) @channel "
                      "\xf0\x9f\x93\xb0");
    CHECK_STR(got[4], "[herald] iraq-withdrawal: Troops <b>out</b> & \"home\" *now* _x_ [y](z) "
                      "@channel \xf0\x9f\x93\xb0"); /* a Gotify title is plain text */
    CHECK_CONTAINS(got[5], "\">Troops &lt;b&gt;out&lt;/b&gt; &amp; &quot;home&quot; *now* _x_ "
                           "[y](z) @channel \xf0\x9f\x93\xb0</a>");
    CHECK_CONTAINS(got[6], "\">Troops &lt;b&gt;out&lt;/b&gt; &amp; &quot;home&quot; *now* _x_ "
                           "[y](z) @channel \xf0\x9f\x93\xb0</a>");
}

/* Whether the HTML has as many closing as opening tags of each kind Telegram allows. */
static int html_balanced(const char *h)
{
    static const char *const tags[] = {"b", "i", "a", "blockquote", "p"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        char open1[32], open2[32], close[32];
        snprintf(open1, sizeof open1, "<%s>", tags[i]);
        snprintf(open2, sizeof open2, "<%s ", tags[i]);
        snprintf(close, sizeof close, "</%s>", tags[i]);
        if (count_of(h, open1) + count_of(h, open2) != count_of(h, close)) return 0;
    }
    /* no cut entity: every '&' starts one of the entities we write */
    for (const char *p = strchr(h, '&'); p; p = strchr(p + 1, '&'))
        if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
            strncmp(p, "&quot;", 6) && strncmp(p, "&#39;", 5))
            return 0;
    return 1;
}

/* A deliberately huge article: every format stays within its receiver's documented limits,
 * with valid UTF-8 and (for HTML) balanced tags and whole entities. */
TEST(webhook_limits_huge_article)
{
    static char title[12001], text[200001];
    size_t n = 0;
    while (n + 7 < sizeof title - 1) {
        memcpy(title + n, "<&>\xf0\x9f\x93\xb0", 7); /* markup and a 2-unit emoji */
        n += 7;
    }
    title[n] = '\0';
    for (n = 0; n + 12 < sizeof text - 1; n += 12)
        memcpy(text + n, "troops & <x>", 12);
    text[n] = '\0';
    struct herald_evidence ev[8];
    for (int i = 0; i < 8; i++)
        ev[i] = (struct herald_evidence){"text", (size_t)i * 24000, (size_t)i * 24000 + 6, "t"};
    static const char *const fmts[][8] = {
        {"slack", NULL},
        {"discord", NULL},
        {"mattermost", NULL},
        {"teams", NULL},
        {"gotify", "token", "t", NULL},
        {"matrix", "token", "t", "room", "!r:example.org", NULL},
        {"telegram", "token", "1:a", "chat_id", "1", NULL},
        {"ntfy", NULL},
        {"telegram", "token", "1:a", "chat_id", "1", "template",
         "<b>{{summary}}{{summary}}{{summary}}{{summary}}{{summary}}</b>", NULL},
    };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        struct hook k = {0};
        LOAD("webhook", k.l);
        char err[256] = "";
        const char *kv[12] = {"format"};
        size_t m = 1;
        for (size_t j = 0; fmts[i][j]; j++)
            kv[m++] = fmts[i][j];
        kv[m] = NULL;
        CHECK_INT(hook_init_kv(&k, "https://example.com/x", kv, err, sizeof err), 0);
        struct sample s;
        sample_init(&s);
        s.article.title = title;
        s.article.text = text;
        s.article.summary = text;
        s.alert.evidence = ev;
        s.alert.n_evidence = 8;
        struct herald_delivery d = {0};
        CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
        const char *f = fmts[i][0];
        if (strcmp(f, "ntfy") == 0) {
            CHECK(k.f.req.body_len <= 4096);
            respond(&k.f, 200, NULL, -1, NULL);
            hook_done(&k);
            continue;
        }
        json_t *root = json_loads(k.f.req.body, 0, NULL);
        CHECK(root);
        if (strcmp(f, "slack") == 0) {
            CHECK(utf16_units(jstr(root, "blocks.0.text.text")) <= 3000);
            CHECK(utf16_units(jstr(root, "blocks.1.text.text")) <= 3000);
            CHECK(utf16_units(jstr(root, "text")) <= 3000);
        } else if (strcmp(f, "discord") == 0) {
            size_t t = utf16_units(jstr(root, "embeds.0.title"));
            size_t de = utf16_units(jstr(root, "embeds.0.description"));
            size_t fo = utf16_units(jstr(root, "embeds.0.footer.text"));
            CHECK(t <= 256 && de <= 4096 && fo <= 2048 && t + de + fo <= 6000);
            CHECK(utf16_units(jstr(root, "content")) <= 2000);
        } else if (strcmp(f, "mattermost") == 0) {
            CHECK(utf16_units(jstr(root, "text")) <= 16383);
        } else if (strcmp(f, "teams") == 0) {
            CHECK(k.f.req.body_len <= 28000);
        } else if (strcmp(f, "gotify") == 0) {
            CHECK(utf16_units(jstr(root, "message")) <= 4096);
        } else if (strcmp(f, "matrix") == 0) {
            CHECK(k.f.req.body_len <= 65536);
            CHECK(html_balanced(jstr(root, "formatted_body")));
        } else {
            const char *t = jstr(root, "text");
            CHECK(utf16_units(t) <= 4096);
            CHECK(html_balanced(t));
            if (fmts[i][5] && fmts[i][6]) { /* the template's <b> was cut open and closed again */
                CHECK(utf16_units(t) > 4000);
                CHECK(strlen(t) > 8 && strcmp(t + strlen(t) - 7, "\xe2\x80\xa6</b>") == 0);
            }
        }
        json_decref(root);
        respond(&k.f, 200, NULL, -1, NULL);
        hook_done(&k);
    }
}

/* One template per format: values escaped for the format, the template's own markup kept. */
TEST(webhook_templates)
{
    static const char all[] = "{{rule}}|{{title}}|{{link}}|{{source}}|{{published}}|{{summary}}|"
                              "{{id}}|{{notifier}}\n{{evidence}}";
    static const char *const cases[][9] = {
        {"text", "template", all, NULL},
        {"json", "template", all, NULL},
        {"telegram", "token", "1:a", "chat_id", "1", "template", "<b>{{title}}</b>\n{{evidence}}",
         NULL},
        {"slack", "template", "*{{title}}* {{link}}", NULL},
        {"matrix", "token", "t", "room", "!r:x", "template", "<i>{{title}}</i>", NULL},
        {"discord", "template", "{{title}}", NULL},
        {"ntfy", "template", "{{title}} {{evidence}}", NULL},
    };
    char got[7][2048], extra[2048] = "", id[64] = "";
    for (size_t i = 0; i < 7; i++) {
        struct hook k = {0};
        LOAD("webhook", k.l);
        char err[256] = "";
        const char *kv[12] = {"format"};
        size_t n = 1;
        for (size_t j = 0; cases[i][j]; j++)
            kv[n++] = cases[i][j];
        kv[n] = NULL;
        CHECK_INT(hook_init_kv(&k, "https://example.com/x", kv, err, sizeof err), 0);
        struct sample s;
        sample_init(&s);
        s.article.title = hostile_title;
        s.alert.n_evidence = 3;
        struct herald_delivery d = {0};
        CHECK_INT(k.l.p->deliver(k.st, &s.alert, &d), 0);
        json_t *root = json_loads(k.f.req.body, 0, NULL);
        const char *paths[] = {NULL, "message", "text", "text", "formatted_body", "content", NULL};
        snprintf(got[i], sizeof got[i], "%s", paths[i] ? jstr(root, paths[i]) : k.f.req.body);
        if (i == 1) snprintf(id, sizeof id, "%s", jstr(root, "id"));
        if (i == 3) snprintf(extra, sizeof extra, "%s", jstr(root, "blocks.0.text.text"));
        if (i == 4) CHECK_STR(jstr(root, "body"), hostile_title); /* the template's tags left out */
        json_decref(root);
        respond(&k.f, 200, NULL, -1, NULL);
        hook_done(&k);
    }
    static const char plain[] =
        "iraq-withdrawal|Troops <b>out</b> & \"home\" *now* _x_ [y](z) @channel "
        "\xf0\x9f\x93\xb0|https://example.org/news/1|example-world|2020-01-05T18:30:00Z|Vote in "
        "Baghdad.|a1b2c3|team\n\xe2\x80\xa6in Baghdad voted on Sunday for the [removal] of all US "
        "[troops] from [Iraq], a week after the strike near the airport. The\xe2\x80\xa6";
    CHECK_STR(got[0], plain);
    CHECK_STR(got[1], plain); /* json: the alert document plus "message" */
    CHECK_STR(id, "a1b2c3");
    CHECK_STR(got[2], "<b>Troops &lt;b&gt;out&lt;/b&gt; &amp; &quot;home&quot; *now* _x_ [y](z) "
                      "@channel \xf0\x9f\x93\xb0</b>\n\xe2\x80\xa6in Baghdad voted on Sunday for "
                      "the <b>removal</b> of all US <b>troops</b> from <b>Iraq</b>, a week after "
                      "the strike near the airport. The\xe2\x80\xa6");
    CHECK_STR(got[3], "*Troops &lt;b&gt;out&lt;/b&gt; &amp; \"home\" *now* _x_ [y](z) @channel "
                      "\xf0\x9f\x93\xb0* https://example.org/news/1");
    CHECK_STR(extra, got[3]); /* the section shows the same text */
    CHECK_STR(got[4], "<i>Troops &lt;b&gt;out&lt;/b&gt; &amp; &quot;home&quot; *now* _x_ [y](z) "
                      "@channel \xf0\x9f\x93\xb0</i>");
    CHECK_STR(got[5], "Troops \\<b\\>out\\</b\\> & \"home\" \\*now\\* \\_x\\_ \\[y\\](z) @channel "
                      "\xf0\x9f\x93\xb0");
    CHECK(strncmp(got[6], hostile_title, strlen(hostile_title)) == 0);
    CHECK_CONTAINS(got[6], " \xe2\x80\xa6in Baghdad voted on Sunday for the [removal] of all");
}

TEST(stdout_template)
{
    struct loaded l = {0};
    LOAD("stdout", l);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    const struct herald_opt_spec *t = find_opt(l.p, "template");
    CHECK(t && t->type == HERALD_OPT_TEMPLATE && !t->required);
    struct herald_opts bad = {
        .spec = l.p->options, .kv = {{"template", "{{title}} {{nope}}"}}, .n = 1};
    char err[256] = "", dir[512], sink[600];
    void *st = NULL;
    CHECK(l.p->init(&h, &bad, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "stdout: template: unknown placeholder {{nope}}");
    struct herald_opts both = {
        .spec = l.p->options, .kv = {{"template", "{{title}}"}, {"format", "json"}}, .n = 2};
    CHECK(l.p->init(&h, &both, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "format = \"text\" only");
    struct herald_opts o = {
        .spec = l.p->options, .kv = {{"template", "{{rule}}: {{title}} ({{link}})"}}, .n = 1};
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    s.article.title = "Line\nbreak \x1b[31mred";
    CHECK_INT(tmp_dir(dir, sizeof dir, "stdout-tpl"), 0);
    snprintf(sink, sizeof sink, "%s/out.txt", dir);
    struct herald_delivery d = {0};
    char *out = NULL;
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d, sink, &out), 0);
    l.p->fini(st);
    rm_rf(dir);
    CHECK(out);
    CHECK_STR(out, "iraq-withdrawal: Line break [31mred (https://example.org/news/1)\n");
    free(out);
    CHECK_INT(d.result, HERALD_DELIVERED);
    plugin_unload(&l);
}

/* A template written as a Lua function reaches a plugin as "{{lua:OPTION}}"; the text the
 * core rendered comes in alert->rendered, cleaned like any value, and nothing when absent. */
TEST(stdout_template_rendered_by_lua)
{
    struct loaded l = {0};
    LOAD("stdout", l);
    struct fake f = {0};
    struct herald_host h = fake_host(&f);
    struct herald_opts o = {
        .spec = l.p->options, .kv = {{"template", "[{{lua:template}}] {{rule}}"}}, .n = 1};
    char err[256] = "", dir[512], sink[600];
    void *st = NULL;
    CHECK_INT(l.p->init(&h, &o, &st, err, sizeof err), 0);
    struct sample s;
    sample_init(&s);
    const struct herald_rendered r[] = {{"other", "no"}, {"template", "From Lua\x1b[1m!"}};
    s.alert.rendered = r;
    s.alert.n_rendered = 2;
    CHECK_INT(tmp_dir(dir, sizeof dir, "stdout-lua"), 0);
    snprintf(sink, sizeof sink, "%s/out.txt", dir);
    struct herald_delivery d = {0};
    char *out = NULL;
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d, sink, &out), 0);
    CHECK_STR(out ? out : "", "[From Lua [1m!] iraq-withdrawal\n"); /* control → space */
    free(out);
    out = NULL;
    s.alert.n_rendered = 1; /* only "other": the placeholder stays empty */
    CHECK_INT(deliver_captured(l.p, st, &s.alert, &d, sink, &out), 0);
    CHECK_STR(out ? out : "", "[] iraq-withdrawal\n");
    free(out);
    l.p->fini(st);
    rm_rf(dir);
    plugin_unload(&l);
}

/* --- email --- */

struct mailer {
    struct loaded l;
    struct fake f;
    struct herald_host h;
    struct herald_opts o;
    void *st;
};

static void mailer_opt(struct mailer *k, const char *name, const char *value)
{
    k->o.kv[k->o.n][0] = name;
    k->o.kv[k->o.n++][1] = value;
}

/* Options for a working instance; `extra` pairs (NULL-terminated) override them. */
static int mailer_init(struct mailer *k, const char *const *extra, char *err, size_t errlen)
{
    k->h = fake_host(&k->f);
    k->o = (struct herald_opts){.spec = k->l.p->options};
    for (size_t i = 0; extra && extra[i]; i += 2) /* first: the fake host takes the first */
        mailer_opt(k, extra[i], extra[i + 1]);
    mailer_opt(k, "url", "smtp://mail.example.org:587");
    mailer_opt(k, "from", "Herald Bot <herald@example.org>");
    mailer_opt(k, "to", " ops@example.org , desk@example.net ");
    return k->l.p->init(&k->h, &k->o, &k->st, err, errlen);
}

static void mailer_done(struct mailer *k)
{
    if (k->st) k->l.p->fini(k->st);
    k->st = NULL;
    free(k->f.mail_msg);
    k->f.mail_msg = NULL;
    plugin_unload(&k->l);
}

/* Decode quoted-printable s[0..n) (soft breaks removed, CRLF to LF); caller frees. */
static char *qp_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=' && i + 2 < n) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            *o++ = '\n';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* The value of header `name` in msg, unfolded, with every RFC 2047 B encoded-word decoded. */
static void header_decoded(const char *msg, const char *name, char *out, size_t outlen)
{
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *v = strstr(msg, key);
    out[0] = '\0';
    if (!v) return;
    v += strlen(key);
    size_t len = 0;
    while (*v && !(v[0] == '\r' && v[1] == '\n' && v[2] != ' ')) {
        if (strncmp(v, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr(v + 10, "?=");
            if (!end) return;
            unsigned char dec[128];
            int n = EVP_DecodeBlock(dec, (const unsigned char *)v + 10, (int)(end - v - 10));
            if (n < 0) return;
            if (end[-1] == '=') n--;
            if (end[-2] == '=') n--;
            if (len + (size_t)n + 1 > outlen) return;
            memcpy(out + len, dec, (size_t)n);
            len += (size_t)n;
            v = end + 2;
        } else if (v[0] == '\r' && v[1] == '\n') {
            v += 3; /* folding: CRLF SP between encoded-words is not part of the text */
        } else {
            if (len + 2 > outlen) return;
            out[len++] = *v++;
        }
        out[len] = '\0';
    }
}

/* The decoded body of the MIME part with Content-Type `type` in msg; caller frees. */
static char *part_decoded(const char *msg, const char *type)
{
    char key[96];
    snprintf(key, sizeof key, "Content-Type: %s; charset=UTF-8\r\n", type);
    const char *p = strstr(msg, key);
    if (!p) return NULL;
    if (!strstr(p, "Content-Transfer-Encoding: quoted-printable\r\n")) return NULL;
    const char *body = strstr(p, "\r\n\r\n");
    const char *end = body ? strstr(body, "\r\n--=_herald_") : NULL;
    if (!end) return NULL;
    return qp_decode(body + 4, (size_t)(end - body - 4));
}

TEST(email_abi_and_options)
{
    struct mailer k = {0};
    LOAD("email", k.l);
    const struct herald_plugin *p = k.l.p;
    CHECK(abi_ok(p, "email"));
    CHECK(options_ok(p));
    static const char *const req[] = {"url", "from", "to"};
    for (size_t i = 0; i < 3; i++) {
        const struct herald_opt_spec *o = find_opt(p, req[i]);
        CHECK(o && o->type == HERALD_OPT_STRING && o->required);
    }
    const struct herald_opt_spec *tls = find_opt(p, "starttls"), *sub = find_opt(p, "subject");
    CHECK(tls && tls->type == HERALD_OPT_BOOL && !tls->required);
    CHECK(sub && sub->default_value);
    CHECK_STR(sub->default_value, "[herald] {{rule}}: {{title}}");
    CHECK(find_opt(p, "timeout") && find_opt(p, "timeout")->type == HERALD_OPT_DURATION);

    char err[256] = "";
    static const char *const bad[][3] = {
        {"url", "http://mail.example.org", "url must start with smtp:// or smtps://"},
        {"url", "smtp://user:pw@mail.example.org", "not in the url"},
        {"url", "smtp://", "url has no host"},
        {"to", "Ops <ops@example.org>", "is not a bare address"},
        {"to", " , ", "at least one address"},
        {"from", "nobody", "from must be an address"},
        {"from", "Evil\r\nBcc: x@y.z <a@b.c>", "from must be an address"},
        {"subject", "{{titel}}", "unknown placeholder {{titel}}"},
        {"password", "pw", "password is set but username is not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *extra[] = {bad[i][0], bad[i][1], NULL};
        k.st = NULL;
        CHECK(mailer_init(&k, extra, err, sizeof err) != 0);
        CHECK(k.st == NULL);
        CHECK_CONTAINS(err, bad[i][2]);
    }
    /* A host table from before mail_send (version 1) is refused, not crashed on. */
    struct herald_host old = fake_host(&k.f);
    old.version = 1;
    old.struct_size = offsetof(struct herald_host, mail_send);
    struct herald_opts o = {.spec = p->options,
                            .kv = {{"url", "smtp://h"}, {"from", "a@b.c"}, {"to", "d@e.f"}},
                            .n = 3};
    void *st = NULL;
    CHECK(p->init(&old, &o, &st, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "version < 2");
    mailer_done(&k);
}

/* starttls: required by default only when credentials are sent over smtp://. */
TEST(email_starttls_default)
{
    struct mailer k = {0};
    LOAD("email", k.l);
    struct herald_delivery d = {0};
    struct sample s;
    sample_init(&s);
    char err[256] = "";
    const char *const auth[] = {"username", "bot", "password", "hunter2-SECRET", NULL};
    CHECK(mailer_init(&k, auth, err, sizeof err) == 0);
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    respond(&k.f, 250, NULL, -1, NULL);
    CHECK_INT(k.f.mail.starttls, 1);
    CHECK_STR(k.f.mail_user, "bot");
    CHECK_STR(k.f.mail_pass, "hunter2-SECRET");
    k.l.p->fini(k.st);
    k.st = NULL;
    CHECK(mailer_init(&k, NULL, err, sizeof err) == 0);
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    respond(&k.f, 250, NULL, -1, NULL);
    CHECK_INT(k.f.mail.starttls, 0);
    CHECK(k.f.mail.username == NULL && k.f.mail.password == NULL);
    k.l.p->fini(k.st);
    k.st = NULL;
    const char *const off[] = {"username", "bot",   "password", "hunter2-SECRET",
                               "starttls", "false", NULL};
    k.f.n_log = 0;
    CHECK(mailer_init(&k, off, err, sizeof err) == 0);
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    respond(&k.f, 250, NULL, -1, NULL);
    CHECK_INT(k.f.mail.starttls, 0);
    int warned = 0;
    for (int i = 0; i < k.f.n_log; i++) {
        warned |= strstr(k.f.log[i], "unencrypted") != NULL;
        CHECK(strstr(k.f.log[i], "hunter2") == NULL);
    }
    CHECK(warned);
    mailer_done(&k);
}

TEST(email_message_structure)
{
    struct mailer k = {0};
    LOAD("email", k.l);
    char err[256] = "";
    CHECK(mailer_init(&k, NULL, err, sizeof err) == 0);
    struct sample s;
    sample_init(&s);
    static const char title[] =
        "Ir\xc3\xa1k: \xc3\xa9lections \xe2\x80\x94 \xe9\x81\xb8\xe6\x8c\x99 "
        "<b>troops</b> & co";
    s.article.title = title;
    s.ev[3] = span_of("title", title, "troops", "troop*");
    struct herald_delivery d = {0};
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    CHECK_INT(k.f.n_mails, 1);
    CHECK_INT(d.n_complete, 0); /* in flight until the host answers */
    CHECK_STR(k.f.mail_url, "smtp://mail.example.org:587");
    CHECK_STR(k.f.mail_from, "herald@example.org");
    CHECK_INT((long)k.f.mail.n_to, 2);
    CHECK_STR(k.f.mail_to[0], "ops@example.org");
    CHECK_STR(k.f.mail_to[1], "desk@example.net");
    CHECK_INT(k.f.mail.timeout_ms, 30000);
    const char *m = k.f.mail_msg;
    CHECK_INT((long)strlen(m), (long)k.f.mail.message_len);

    /* Every line ends with CRLF and stays within 78 characters (RFC 5322 2.1.1). */
    size_t col = 0;
    for (const char *c = m; *c; c++) {
        if (*c == '\n') {
            CHECK(c > m && c[-1] == '\r');
            col = 0;
            continue;
        }
        CHECK(*c != '\r' || c[1] == '\n');
        CHECK(++col <= 78);
        CHECK((unsigned char)*c < 0x80); /* 7-bit clean: headers encoded, bodies in QP */
    }
    CHECK(strncmp(m, "From: \"Herald Bot\" <herald@example.org>\r\n", 41) == 0);
    CHECK_CONTAINS(m, "\r\nTo: ops@example.org,\r\n desk@example.net\r\n");
    CHECK_CONTAINS(m, "\r\nSubject: =?UTF-8?B?");
    char subject[512];
    header_decoded(m, "Subject", subject, sizeof subject);
    CHECK_STR(subject, "[herald] iraq-withdrawal: Ir\xc3\xa1k: \xc3\xa9lections \xe2\x80\x94 "
                       "\xe9\x81\xb8\xe6\x8c\x99 <b>troops</b> & co");
    CHECK_CONTAINS(m, "\r\nDate: Sun, 05 Jan 2020 18:31:00 +0000\r\n"); /* alert created */
    CHECK_CONTAINS(m, "\r\nMessage-ID: <a1b2c3@herald>\r\n");
    CHECK_CONTAINS(m, "\r\nMIME-Version: 1.0\r\n");
    CHECK_CONTAINS(m, "\r\nContent-Type: multipart/alternative;\r\n boundary=\"=_herald_");
    const char *b = strstr(m, "boundary=\"") + 10;
    char boundary[64];
    snprintf(boundary, sizeof boundary, "%.*s", (int)strcspn(b, "\""), b);
    char delim[80], close[80];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", boundary);
    snprintf(close, sizeof close, "\r\n--%s--\r\n", boundary);
    const char *p1 = strstr(m, delim), *p2 = p1 ? strstr(p1 + 1, delim) : NULL;
    CHECK(p1 && p2 && !strstr(p2 + 1, delim));
    CHECK(strstr(m, close) && strstr(m, close) > p2);
    CHECK(strstr(p1, "Content-Type: text/plain") < p2);
    CHECK(strstr(p2, "Content-Type: text/html") != NULL);
    /* Headers end before the first part. */
    CHECK(strstr(m, "\r\n\r\n") < p1);

    char *text = part_decoded(m, "text/plain"), *html = part_decoded(m, "text/html");
    CHECK(text && html);
    CHECK(strncmp(text, title, strlen(title)) == 0);
    CHECK_CONTAINS(text, "\nhttps://example.org/news/1\n");
    CHECK_CONTAINS(text, "Source: example-world\n");
    CHECK_CONTAINS(text, "Published: 2020-01-05T18:30:00Z\n");
    CHECK_CONTAINS(text, "[removal] of all US [troops] from [Iraq]");
    CHECK_CONTAINS(html, "<a href=\"https://example.org/news/1\">");
    CHECK_CONTAINS(html, "\xe9\x81\xb8\xe6\x8c\x99 &lt;b&gt;<b>troops</b>&lt;/b&gt; &amp; co");
    CHECK_CONTAINS(html, "<b>removal</b> of all US <b>troops</b> from <b>Iraq</b>");
    CHECK(strstr(html, "<b>troops</b> & co") == NULL);
    free(text);
    free(html);
    respond(&k.f, 250, NULL, -1, NULL);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_DELIVERED);
    mailer_done(&k);
}

/* The same alert always gives the same Message-ID; an id that is not dot-atom text is
 * hex-encoded rather than injected; a leading '.' never starts a body line. */
TEST(email_message_id_and_hostile_text)
{
    struct mailer k = {0};
    LOAD("email", k.l);
    char err[256] = "";
    const char *const sub[] = {"subject", "{{title}}\r\nBcc: victim@example.com", NULL};
    CHECK(mailer_init(&k, sub, err, sizeof err) == 0);
    struct sample s;
    sample_init(&s);
    s.alert.id = "x> <y@evil\r\nBcc: z";
    s.article.title = ".hidden\nBcc: victim@example.com";
    s.article.text = ".\r\n.\nline";
    s.alert.n_evidence = 0;
    struct herald_delivery d = {0};
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    respond(&k.f, 451, NULL, -1, "DATA failed: 451");
    CHECK_INT(d.result, HERALD_RETRY);
    char *first = strdup(k.f.mail_msg);
    CHECK_CONTAINS(first, "\r\nMessage-ID: <x783e203c7940657669");
    CHECK(strstr(first, "\r\nBcc:") == NULL);
    CHECK(strstr(first, "\r\n.") == NULL);
    char subject[256];
    header_decoded(first, "Subject", subject, sizeof subject);
    CHECK_STR(subject, ".hidden Bcc: victim@example.com Bcc: victim@example.com");
    s.alert.attempt = 2;
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    respond(&k.f, 250, NULL, -1, NULL);
    CHECK_INT(k.f.n_mails, 2);
    CHECK_STR(k.f.mail_msg, first); /* a retry sends the identical message */
    free(first);
    mailer_done(&k);
}

TEST(email_result_mapping)
{
    struct mailer k = {0};
    LOAD("email", k.l);
    char err[256] = "";
    const char *const auth[] = {"username", "bot", "password", "hunter2-SECRET", NULL};
    CHECK(mailer_init(&k, auth, err, sizeof err) == 0);
    struct sample s;
    sample_init(&s);
    static const struct {
        long status;
        const char *error;
        enum herald_result want;
        const char *detail;
    } cases[] = {
        {250, NULL, HERALD_DELIVERED, NULL},
        {451, "RCPT failed: 451", HERALD_RETRY, "email: SMTP 451 from smtp://mail.example.org:587"},
        {421, "service not available", HERALD_RETRY, "SMTP 421"},
        {550, "RCPT failed: 550", HERALD_FAILED,
         "email: SMTP 550 from smtp://mail.example.org:587"},
        {535, "Login denied", HERALD_FAILED, "SMTP 535"},
        {0, "Failed to connect: Connection refused", HERALD_RETRY,
         "email: no reply from smtp://mail.example.org:587: Failed to connect"},
        {250, "Operation timed out", HERALD_RETRY, "SMTP 250"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct herald_delivery d = {0};
        CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
        respond(&k.f, cases[i].status, NULL, -1, cases[i].error);
        CHECK_INT(d.n_complete, 1);
        CHECK_INT(d.result, cases[i].want);
        if (cases[i].detail)
            CHECK_CONTAINS(d.detail, cases[i].detail);
        else
            CHECK(!d.has_detail);
        CHECK(strstr(d.detail, "hunter2") == NULL);
    }
    struct herald_delivery d = {0};
    k.f.refuse_mail = 1;
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_RETRY);
    CHECK_CONTAINS(d.detail, "could not start sending to smtp://mail.example.org:587");
    for (int i = 0; i < k.f.n_log; i++)
        CHECK(strstr(k.f.log[i], "hunter2") == NULL);
    mailer_done(&k);
}

/* === exec === */

struct runner {
    struct loaded l;
    struct fake f;
    struct herald_host h;
    struct herald_opts o;
    void *st;
};

/* An instance whose command is the NULL-terminated `argv`; `extra` key/value pairs (NULL-
 * terminated, may be NULL) set the other options. */
static int runner_init(struct runner *k, const char *const *argv, const char *const *extra,
                       char *err, size_t errlen)
{
    k->h = fake_host(&k->f);
    k->o = (struct herald_opts){.spec = k->l.p->options};
    for (size_t i = 0; argv && argv[i]; i++)
        k->o.list[k->o.n_list++] = argv[i];
    for (size_t i = 0; extra && extra[i]; i += 2) {
        k->o.kv[k->o.n][0] = extra[i];
        k->o.kv[k->o.n++][1] = extra[i + 1];
    }
    k->st = NULL;
    return k->l.p->init(&k->h, &k->o, &k->st, err, errlen);
}

static void runner_done(struct runner *k)
{
    if (k->st) k->l.p->fini(k->st);
    k->st = NULL;
    spawn_forget(&k->f);
    plugin_unload(&k->l);
}

TEST(exec_abi_and_options)
{
    struct runner k = {0};
    LOAD("exec", k.l);
    const struct herald_plugin *p = k.l.p;
    CHECK(abi_ok(p, "exec"));
    CHECK(options_ok(p));
    const struct herald_opt_spec *cmd = find_opt(p, "command"), *t = find_opt(p, "timeout");
    const struct herald_opt_spec *in = find_opt(p, "stdin");
    CHECK(cmd && cmd->type == HERALD_OPT_LIST && cmd->required);
    CHECK(t && t->type == HERALD_OPT_DURATION && t->default_value);
    CHECK_STR(t->default_value, "30s");
    CHECK(in && in->type == HERALD_OPT_BOOL && in->default_value);
    CHECK_STR(in->default_value, "true");

    char err[512] = "";
    static const struct {
        const char *argv[4];
        const char *key, *value;
        const char *want;
    } bad[] = {
        {{NULL}, NULL, NULL, "command is required"},
        {{"no-such-program-herald-test", NULL},
         NULL,
         NULL,
         "exec: command 'no-such-program-herald-test' not found"},
        {{"/nonexistent/herald-test", NULL},
         NULL,
         NULL,
         "exec: command '/nonexistent/herald-test' not found"},
        {{"/etc/passwd", NULL}, NULL, NULL, "not an executable file"},
        {{"./script.sh", NULL}, NULL, NULL, "absolute path or a program name found in PATH"},
        {{"/bin/{{rule}}", NULL}, NULL, NULL, "cannot hold placeholders"},
        {{"/bin/sh", "-c", "{{titel}}", NULL},
         NULL,
         NULL,
         "command item 3: unknown placeholder {{titel}}"},
        {{"/bin/sh", "{{title", NULL}, NULL, NULL, "command item 2: unclosed placeholder"},
        {{"/bin/true", NULL}, "timeout", "0s", "timeout must be between"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *extra[] = {bad[i].key, bad[i].value, NULL};
        CHECK(runner_init(&k, bad[i].argv, bad[i].key ? extra : NULL, err, sizeof err) != 0);
        CHECK(k.st == NULL);
        CHECK_CONTAINS(err, bad[i].want);
    }
    /* A name without a slash is looked up in PATH and run by its full path. */
    const char *const by_name[] = {"sh", "x", NULL};
    CHECK(runner_init(&k, by_name, NULL, err, sizeof err) == 0);
    struct sample s;
    sample_init(&s);
    struct herald_delivery d = {0};
    CHECK(p->deliver(k.st, &s.alert, &d) == 0);
    CHECK_INT(k.f.n_spawns, 1);
    CHECK(k.f.spawn_argv[0][0] == '/');
    CHECK(strlen(k.f.spawn_argv[0]) > 3 &&
          strcmp(k.f.spawn_argv[0] + strlen(k.f.spawn_argv[0]) - 3, "/sh") == 0);
    spawn_answer(&k.f, 0, 0, NULL, NULL);
    CHECK_INT(d.n_complete, 1);
    p->fini(k.st);
    k.st = NULL;
    /* A host table from before spawn (version 2) is refused, not crashed on. */
    struct herald_host old = fake_host(&k.f);
    old.version = 2;
    old.struct_size = offsetof(struct herald_host, opt_list_count);
    k.o = (struct herald_opts){.spec = p->options, .list = {"/bin/true"}, .n_list = 1};
    void *st = NULL;
    CHECK(p->init(&old, &k.o, &st, err, sizeof err) != 0);
    CHECK(st == NULL);
    CHECK_CONTAINS(err, "version < 3");
    runner_done(&k);
}

/* Each list element becomes exactly one argument, with the placeholders filled in and nothing
 * else touched: quotes, spaces and $(…) in a title are plain bytes, since no shell runs. */
TEST(exec_argv_substitution)
{
    struct runner k = {0};
    LOAD("exec", k.l);
    static const char hostile[] = "It's \"big\" news; $(rm -rf /) `id` & more > /tmp/x";
    const char *const argv[] = {"/bin/echo",
                                "{{title}}",
                                "--rule={{rule}}",
                                "{{link}}",
                                "{{source}}/{{id}}",
                                "{{published}}",
                                "{{notifier}}",
                                "",
                                "literal {{ title }}!",
                                NULL};
    char err[512] = "";
    CHECK(runner_init(&k, argv, NULL, err, sizeof err) == 0);
    struct sample s;
    sample_init(&s);
    s.article.title = hostile;
    struct herald_delivery d = {0};
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    CHECK_INT(k.f.n_spawns, 1);
    CHECK_INT(d.n_complete, 0); /* not before the program ends */
    CHECK_INT(k.f.spawn_argc, 9);
    CHECK_STR(k.f.spawn_argv[0], "/bin/echo");
    CHECK_STR(k.f.spawn_argv[1], hostile);
    CHECK_STR(k.f.spawn_argv[2], "--rule=iraq-withdrawal");
    CHECK_STR(k.f.spawn_argv[3], "https://example.org/news/1");
    CHECK_STR(k.f.spawn_argv[4], "example-world/a1b2c3");
    CHECK_STR(k.f.spawn_argv[5], "2020-01-05T18:30:00Z");
    CHECK_STR(k.f.spawn_argv[6], "team");
    CHECK_STR(k.f.spawn_argv[7], "");
    char want[256];
    snprintf(want, sizeof want, "literal %s!", hostile);
    CHECK_STR(k.f.spawn_argv[8], want);
    /* stdin is the alert JSON, the timeout the default 30 s. */
    CHECK(k.f.spawn_input != NULL);
    CHECK_STR(k.f.spawn_input, sample_json);
    CHECK(k.f.spawn_input_len == strlen(sample_json));
    CHECK(k.f.spawn_timeout_ms == 30000);
    spawn_answer(&k.f, 0, 0, NULL, "ok\n");
    CHECK_INT(d.n_complete, 1);
    CHECK_INT(d.result, HERALD_DELIVERED);
    CHECK(!d.has_detail);
    k.l.p->fini(k.st);
    k.st = NULL;

    /* stdin = false: nothing on stdin; a set timeout is passed on. */
    const char *const extra[] = {"stdin", "false", "timeout", "2m", NULL};
    const char *const argv2[] = {"/bin/cat", NULL};
    CHECK(runner_init(&k, argv2, extra, err, sizeof err) == 0);
    struct herald_delivery d2 = {0};
    CHECK(k.l.p->deliver(k.st, &s.alert, &d2) == 0);
    CHECK_INT(k.f.spawn_argc, 1);
    CHECK(k.f.spawn_input == NULL);
    CHECK(k.f.spawn_timeout_ms == 120000);
    spawn_answer(&k.f, 0, 0, NULL, NULL);
    CHECK_INT(d2.result, HERALD_DELIVERED);
    runner_done(&k);
}

TEST(exec_result_mapping)
{
    struct runner k = {0};
    LOAD("exec", k.l);
    const char *const argv[] = {"/bin/true", "{{title}}", NULL};
    char err[512] = "";
    CHECK(runner_init(&k, argv, NULL, err, sizeof err) == 0);
    struct sample s;
    sample_init(&s);
    char long_out[600];
    memset(long_out, 'x', sizeof long_out - 1);
    long_out[sizeof long_out - 1] = '\0';
    memcpy(long_out, "first line\nsecond", 17);
    static const struct {
        int status, sig;
        const char *error, *output;
        enum herald_result want;
        const char *detail;
    } cases[] = {
        {0, 0, NULL, "fine", HERALD_DELIVERED, NULL},
        {75, 0, NULL, "try later", HERALD_RETRY,
         "exec: /bin/true exited with 75 (temporary failure): try later"},
        {3, 0, NULL, "no such user", HERALD_FAILED, "exec: /bin/true exited with 3: no such user"},
        {1, 0, NULL, NULL, HERALD_FAILED, "exited with 1"},
        {-1, 9, NULL, NULL, HERALD_RETRY, "killed by signal 9"},
        {-1, 9, "timed out after 30 s", "partial", HERALD_RETRY,
         "exec: /bin/true: timed out after 30 s: partial"},
        {-1, 0, "cannot run /bin/true: permission denied", NULL, HERALD_RETRY,
         "cannot run /bin/true: permission denied"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct herald_delivery d = {0};
        CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
        spawn_answer(&k.f, cases[i].status, cases[i].sig, cases[i].error, cases[i].output);
        CHECK_INT(d.n_complete, 1);
        CHECK_INT(d.result, cases[i].want);
        if (cases[i].detail)
            CHECK_CONTAINS(d.detail, cases[i].detail);
        else
            CHECK(!d.has_detail);
    }
    /* Only the first 200 bytes of the output are quoted, on one line. */
    struct herald_delivery d = {0};
    CHECK(k.l.p->deliver(k.st, &s.alert, &d) == 0);
    spawn_answer(&k.f, 2, 0, NULL, long_out);
    CHECK_INT(d.result, HERALD_FAILED);
    CHECK_CONTAINS(d.detail, "exec: /bin/true exited with 2: first line second");
    const char *colon = strstr(d.detail, ": first");
    CHECK(colon != NULL);
    CHECK(strlen(colon + 2) == 200);
    CHECK(strchr(d.detail, '\n') == NULL);
    /* A host that refuses to spawn: a retry, reported now. */
    struct herald_delivery d2 = {0};
    k.f.refuse_spawn = 1;
    CHECK(k.l.p->deliver(k.st, &s.alert, &d2) == 0);
    CHECK_INT(d2.n_complete, 1);
    CHECK_INT(d2.result, HERALD_RETRY);
    CHECK_CONTAINS(d2.detail, "could not start the program");
    runner_done(&k);
}

int main(void)
{
    RUN(stdout_abi_and_options);
    RUN(stdout_text_block);
    RUN(stdout_json_and_write_error);
    RUN(stdout_hostile_article);
    RUN(file_abi_and_bad_options);
    RUN(file_appends_json_lines);
    RUN(file_error_names_path);
    RUN(file_concurrent_appends_do_not_interleave);
    RUN(webhook_abi_and_bad_options);
    RUN(webhook_json_request);
    RUN(webhook_user_header_overrides);
    RUN(webhook_signature_rfc4231);
    RUN(webhook_signature_matches_body);
    RUN(webhook_slack_body);
    RUN(webhook_discord_body_and_limits);
    RUN(webhook_ntfy_request);
    RUN(webhook_text_body);
    RUN(webhook_status_mapping);
    RUN(webhook_request_refused);
    RUN(webhook_hostile_evidence);
    RUN(webhook_format_options);
    RUN(webhook_mattermost_body);
    RUN(webhook_teams_card);
    RUN(webhook_gotify_request);
    RUN(webhook_matrix_request);
    RUN(webhook_telegram_request);
    RUN(webhook_ntfy_priority_and_token);
    RUN(webhook_escaping_per_format);
    RUN(webhook_limits_huge_article);
    RUN(webhook_templates);
    RUN(stdout_template);
    RUN(stdout_template_rendered_by_lua);
    RUN(email_abi_and_options);
    RUN(email_starttls_default);
    RUN(email_message_structure);
    RUN(email_message_id_and_hostile_text);
    RUN(email_result_mapping);
    RUN(exec_abi_and_options);
    RUN(exec_argv_substitution);
    RUN(exec_result_mapping);
    return check_summary();
}
