/*
 * test_lua_notifier — notifier types declared in Lua: how the config declares and validates
 * them (errors as file:line: message), and deliveries through the `struct herald_plugin` they
 * present, driven by a fake host whose http_request the test answers by hand: the request
 * send made, the three results (delivered, retry with Retry-After, failed), Lua errors and
 * runaway sends as retries, the alert and opts tables, herald.json, and a delivery that
 * outlives its config (a reload while the HTTP request is in flight).
 */
#include "check.h"
#include "config.h"
#include "lua_notifier.h"
#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static struct plugin_registry *plugins;

/* ---- the fake host ---- */

struct fake {
    int completes;
    enum herald_result result;
    char detail[1024];
    long retry_after;
    int requests;
    char method[16];
    char url[512];
    char headers[16][256];
    size_t n_headers;
    char body[8192];
    long timeout_ms;
    herald_http_cb cb; /* the request waiting for an answer */
    void *arg;
    int refuse;      /* http_request returns -1 */
    int answer_sync; /* answer with this status from inside http_request */
    char log[4096];
    /* Called after complete(), as the core's notifier_release does for a retired instance. */
    const struct herald_plugin *fini_plugin;
    void *fini_state;
};
static struct fake fk;

static void f_log(void *ctx, enum herald_log_level level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    size_t off = strlen(fk.log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fk.log + off, sizeof fk.log - off, fmt, ap);
    va_end(ap);
}

static void answer(long status, const char *body, long retry_after, const char *error)
{
    struct herald_http_response res = {.struct_size = sizeof res,
                                       .status = status,
                                       .error = error,
                                       .body = body,
                                       .body_len = body ? strlen(body) : 0,
                                       .retry_after_s = retry_after};
    herald_http_cb cb = fk.cb;
    fk.cb = NULL;
    cb(fk.arg, &res);
}

static int f_http(void *ctx, const struct herald_http_request *req, herald_http_cb cb, void *arg)
{
    (void)ctx;
    if (fk.refuse) return -1;
    fk.requests++;
    snprintf(fk.method, sizeof fk.method, "%s", req->method);
    snprintf(fk.url, sizeof fk.url, "%s", req->url);
    fk.n_headers = req->n_headers < 16 ? req->n_headers : 16;
    for (size_t i = 0; i < fk.n_headers; i++)
        snprintf(fk.headers[i], sizeof fk.headers[i], "%s", req->headers[i]);
    snprintf(fk.body, sizeof fk.body, "%.*s", (int)req->body_len, req->body ? req->body : "");
    fk.timeout_ms = req->timeout_ms;
    fk.cb = cb;
    fk.arg = arg;
    if (fk.answer_sync) answer(fk.answer_sync, "sync", -1, NULL);
    return 0;
}

static void f_complete(struct herald_delivery *d, enum herald_result r, const char *detail)
{
    (void)d;
    fk.completes++;
    fk.result = r;
    snprintf(fk.detail, sizeof fk.detail, "%s", detail ? detail : "");
    if (fk.fini_plugin) {
        fk.fini_plugin->fini(fk.fini_state);
        fk.fini_plugin = NULL;
    }
}

static void f_retry_after(struct herald_delivery *d, long seconds)
{
    (void)d;
    fk.retry_after = seconds;
}

static const struct herald_host host = {
    .version = HERALD_HOST_VERSION,
    .struct_size = sizeof host,
    .log = f_log,
    .opt_string = opts_string,
    .opt_int = opts_int,
    .http_request = f_http,
    .complete = f_complete,
    .retry_after = f_retry_after,
};

static void fake_reset(void)
{
    memset(&fk, 0, sizeof fk);
    fk.retry_after = -1;
}

/* ---- configs ---- */

static const char *write_cfg(const char *name, const char *body)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(body, f);
    fclose(f);
    return path;
}

static int load(const char *body, struct config **cfg, char *err, size_t n)
{
    const char *path = write_cfg("herald.lua", body);
    struct config_env env = {.plugins = plugins, .library_dir = "scripts/lib"};
    return config_load(path, &env, cfg, err, n);
}

/* Expect a load error "<dir>/herald.lua:<line>: …<words>…". */
static int expect_error(const char *body, int line, const char *words, char *msg, size_t n)
{
    struct config *cfg = NULL;
    char err[2048];
    if (load(body, &cfg, err, sizeof err) == 0) {
        config_free(cfg);
        snprintf(msg, n, "loaded, expected an error");
        return 0;
    }
    char prefix[400];
    snprintf(prefix, sizeof prefix, "%s/herald.lua:%d: ", dir, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, words)) {
        snprintf(msg, n, "got \"%s\", wanted \"%s…%s\"", err, prefix, words);
        return 0;
    }
    return 1;
}

#define CHECK_ERROR(body, line, words)                                                             \
    do {                                                                                           \
        char m_[2600];                                                                             \
        if (!expect_error(body, line, words, m_, sizeof m_)) {                                     \
            CHECK_FAIL_("%s", m_);                                                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* A pushover-like type that posts JSON built from the alert and maps statuses to results. */
#define PUSHOVER                                                                                   \
    "herald.notifier_type \"pushover\" {\n"                                                        \
    "  options = { token = \"string\", user = \"string\",\n"                                       \
    "              priority = { type = \"integer\", default = 0 } },\n"                            \
    "  send = function(alert, opts)\n"                                                             \
    "    local res = herald.http.request { method = \"POST\", url = \"https://push.test/1\",\n"    \
    "      headers = { [\"Content-Type\"] = \"application/json\" },\n"                             \
    "      body = herald.json.encode { token = opts.token, user = opts.user, title = "             \
    "alert.title,\n"                                                                               \
    "                                  message = alert.text, url = alert.link,\n"                  \
    "                                  priority = opts.priority },\n"                              \
    "      timeout = \"10s\" }\n"                                                                  \
    "    if res.status == 429 or res.status >= 500 then\n"                                         \
    "      return false, \"HTTP \" .. res.status, res.retry_after end\n"                           \
    "    if res.status >= 400 then return \"failed\", \"HTTP \" .. res.status end\n"               \
    "    return true\n"                                                                            \
    "  end,\n"                                                                                     \
    "}\n" /* 17 lines */

static const struct cfg_notifier *notifier(const struct config *cfg, const char *name)
{
    long i = config_notifier_index(cfg, name);
    return i >= 0 ? &cfg->notifiers[i] : NULL;
}

/* Start an instance of notifier `name` as the core does. */
static void *start(const struct config *cfg, const char *name, char *err, size_t n)
{
    const struct cfg_notifier *c = notifier(cfg, name);
    void *state = NULL;
    if (!c || c->plugin->init(&host, &c->opts, &state, err, n) != 0) return NULL;
    return state;
}

/* The sample alert every delivery here carries. */
static const char *const CATS[] = {"world", "middle east"};
static const struct herald_article ARTICLE = {
    .struct_size = sizeof ARTICLE,
    .id = "urn:item:1",
    .source = "news",
    .title = "US troops asked to leave Iraq",
    .link = "https://news.test/iraq",
    .author = "A. Writer",
    .summary = "Parliament votes.",
    .text = "Lawmakers voted for the removal of all US troops from Iraq.",
    .published = 1578249000,
    .categories = CATS,
    .n_categories = 2,
    .lang = "en",
};
static const struct herald_evidence EVIDENCE[] = {
    {"title", 3, 9, "troop*"},
    {"text", 24, 31, "@withdrawal"},
};
static const struct herald_alert ALERT = {
    .struct_size = sizeof ALERT,
    .id = "3f9c2a7d41e0b6c8",
    .rule = "iraq",
    .notifier = "phone",
    .created = 1578249067,
    .attempt = 2,
    .article = &ARTICLE,
    .evidence = EVIDENCE,
    .n_evidence = 2,
    .json = "{\"id\":\"3f9c2a7d41e0b6c8\"}",
};

static int deliver(const struct config *cfg, const char *name, void *state)
{
    return notifier(cfg, name)->plugin->deliver(state, &ALERT, (struct herald_delivery *)&fk);
}

static void stop(const struct config *cfg, const char *name, void *state)
{
    notifier(cfg, name)->plugin->fini(state);
}

/* ---- declaring ---- */

TEST(type_declared_and_notifier_validated_against_it)
{
    struct config *cfg = NULL;
    char err[2048];
    int rc = load(PUSHOVER "herald.notifier \"phone\" { type = \"pushover\", token = \"t\", "
                           "user = \"u\", retry_min = \"5s\" }\n",
                  &cfg, err, sizeof err);
    if (rc != 0) CHECK_FAIL_("%s", err);
    CHECK(rc == 0);
    const struct cfg_notifier *n = notifier(cfg, "phone");
    CHECK(n != NULL);
    CHECK_STR(n->type, "pushover");
    CHECK(lua_notifier_is_lua(n->plugin));
    CHECK_INT(n->retry_min_ms, 5000);
    CHECK_STR(opts_string(&n->opts, "token"), "t");
    CHECK_INT(opts_int(&n->opts, "priority", -1), 0); /* the declared default */
    /* Options listed by name, as `herald plugins` shows them. */
    const struct herald_opt_spec *o = n->plugin->options;
    CHECK_STR(o[0].name, "priority");
    CHECK_INT(o[0].type, HERALD_OPT_INT);
    CHECK_INT(o[0].required, 0);
    CHECK_STR(o[0].default_value, "0");
    CHECK_STR(o[1].name, "token");
    CHECK_INT(o[1].required, 1);
    CHECK_STR(o[2].name, "user");
    CHECK(o[3].name == NULL);
    CHECK_INT(lua_notifier_count(cfg->sb), 1);
    CHECK(lua_notifier_at(cfg->sb, 0) == n->plugin);
    CHECK(lua_notifier_at(cfg->sb, 1) == NULL);
    CHECK_CONTAINS(n->plugin->description, "herald.lua:1");
    config_free(cfg);
}

TEST(single_table_form_and_optional_shorthand)
{
    struct config *cfg = NULL;
    char err[2048];
    int rc = load("herald.notifier_type { name = \"t\", description = \"my service\",\n"
                  "  options = { key = \"string?\", wait = { type = \"duration\", default = "
                  "\"90s\" } },\n"
                  "  send = function() end }\n"
                  "herald.notifier \"n\" { type = \"t\" }\n",
                  &cfg, err, sizeof err);
    if (rc != 0) CHECK_FAIL_("%s", err);
    CHECK(rc == 0);
    const struct cfg_notifier *n = notifier(cfg, "n");
    CHECK_STR(n->plugin->description, "my service");
    CHECK(opts_string(&n->opts, "key") == NULL);
    CHECK_INT(opts_int(&n->opts, "wait", 0), 90000);
    config_free(cfg);
}

TEST(declaration_errors_point_at_the_line)
{
    const char *good = "herald.notifier_type \"x\" { options = { token = \"string\" }, send = "
                       "function() end }\n";
    char body[1024];
    snprintf(body, sizeof body, "%s\nherald.notifier \"n\" { type = \"y\", token = \"a\" }\n",
             good);
    CHECK_ERROR(body, 3, "unknown type 'y'");
    CHECK_ERROR(body, 3, ", x)"); /* the Lua type is among those listed */
    snprintf(body, sizeof body, "%sherald.notifier \"n\" { type = \"x\" }\n", good);
    CHECK_ERROR(body, 2, "notifier 'n': 'token' is required");
    snprintf(body, sizeof body, "%sherald.notifier \"n\" { type = \"x\", token = 5 }\n", good);
    CHECK_ERROR(body, 2, "'token' must be a string, got a number");
    snprintf(body, sizeof body,
             "%sherald.notifier \"n\" { type = \"x\", token = \"a\", tokn = 1 }\n", good);
    CHECK_ERROR(body, 2, "unknown key 'tokn' in notifier 'n' (did you mean 'token'?)");
    CHECK_ERROR("\nherald.notifier_type \"x\" { send = 42 }\n", 2,
                "notifier type 'x': send must be a function(alert, opts) … end, got a number");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end,\n"
                "  options = { a = \"strng\" } }\n",
                1, "option 'a': unknown type");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end,\n"
                "  options = { a = { type = \"integer\", default = \"1\" } } }\n",
                1, "option 'a': default must be an integer");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end,\n"
                "  options = { type = \"string\" } }\n",
                1, "option 'type': reserved");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end,\n"
                "  options = { l = { type = \"list\", default = {} } } }\n",
                1, "map and list options take no default");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end,\n"
                "  options = { a = { type = \"string\", default = \"d\", required = true } } }\n",
                1, "has a default, so it cannot be required");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end, sned = 1 }\n", 1,
                "unknown key 'sned' in notifier type 'x'");
    CHECK_ERROR("herald.notifier_type \"x\" { send = function() end }\n\n"
                "herald.notifier_type \"x\" { send = function() end }\n",
                3, "notifier type 'x' is declared twice (first at ");
    CHECK_ERROR("herald.notifier_type \"a/b\" { send = function() end }\n", 1,
                "notifier type name 'a/b' is not valid");
    CHECK_ERROR("local r = herald.http.request { url = \"http://x.test/\" }\n", 1,
                "herald.http.request can only be used inside a notifier's send function");
}

TEST(a_type_cannot_shadow_a_plugin)
{
    if (!plugin_find(plugins, "webhook")) SKIP("the webhook plugin is not built");
    CHECK_ERROR("\nherald.notifier_type \"webhook\" { send = function() end }\n", 2,
                "notifier type 'webhook' clashes with the built-in plugin");
}

/* ---- delivering ---- */

static struct config *load_ok(const char *body)
{
    struct config *cfg = NULL;
    char err[2048];
    if (load(body, &cfg, err, sizeof err) != 0) {
        printf("  load: %s\n", err);
        return NULL;
    }
    return cfg;
}

#define PHONE "herald.notifier \"phone\" { type = \"pushover\", token = \"tok\", user = \"usr\" }\n"

TEST(send_posts_and_a_2xx_delivers)
{
    fake_reset();
    struct config *cfg = load_ok(PUSHOVER PHONE);
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "phone", err, sizeof err);
    CHECK(st != NULL);
    CHECK_INT(deliver(cfg, "phone", st), 0);
    CHECK_INT(fk.completes, 0); /* waiting for the response */
    CHECK_INT(fk.requests, 1);
    CHECK_STR(fk.method, "POST");
    CHECK_STR(fk.url, "https://push.test/1");
    CHECK_INT(fk.n_headers, 1);
    CHECK_STR(fk.headers[0], "Content-Type: application/json");
    CHECK_INT(fk.timeout_ms, 10000);
    json_error_t je;
    json_t *b = json_loads(fk.body, 0, &je);
    CHECK(b != NULL);
    CHECK_STR(json_string_value(json_object_get(b, "token")), "tok");
    CHECK_STR(json_string_value(json_object_get(b, "user")), "usr");
    CHECK_STR(json_string_value(json_object_get(b, "title")), ARTICLE.title);
    CHECK_STR(json_string_value(json_object_get(b, "message")), ARTICLE.text);
    CHECK_STR(json_string_value(json_object_get(b, "url")), ARTICLE.link);
    CHECK_INT(json_integer_value(json_object_get(b, "priority")), 0);
    json_decref(b);
    /* Keys sorted: the same table always encodes to the same bytes. */
    CHECK(strncmp(fk.body, "{\"message\":", 11) == 0);
    answer(200, "{\"status\":1}", -1, NULL);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    stop(cfg, "phone", st);
    config_free(cfg);
}

TEST(retry_with_retry_after_and_permanent_failure)
{
    fake_reset();
    struct config *cfg = load_ok(PUSHOVER PHONE);
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "phone", err, sizeof err);
    CHECK(st != NULL);
    deliver(cfg, "phone", st);
    answer(503, "busy", 7, NULL);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_STR(fk.detail, "pushover: HTTP 503");
    CHECK_INT(fk.retry_after, 7);
    fake_reset();
    deliver(cfg, "phone", st);
    answer(403, "no", -1, NULL);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_FAILED);
    CHECK_STR(fk.detail, "pushover: HTTP 403");
    CHECK_INT(fk.retry_after, -1);
    stop(cfg, "phone", st);
    config_free(cfg);
}

/* A type whose send is the Lua code given, with a 200,000-instruction budget. */
static struct config *load_send(const char *code)
{
    char body[4096];
    snprintf(body, sizeof body,
             "herald.notifier_type \"t\" { budget = 200000,\n"
             "  send = function(alert, opts)\n%s\n  end }\n"
             "herald.notifier \"n\" { type = \"t\" }\n"
             "herald.notifier \"ok\" { type = \"t\" }\n",
             code);
    return load_ok(body);
}

/* Deliver once to `name` of a fresh config with the send body `code`; fk holds the result. */
static int run_send(const char *code)
{
    fake_reset();
    struct config *cfg = load_send(code);
    if (!cfg) return -1;
    char err[512];
    void *st = start(cfg, "n", err, sizeof err);
    if (!st) {
        config_free(cfg);
        return -1;
    }
    deliver(cfg, "n", st);
    stop(cfg, "n", st);
    config_free(cfg);
    return 0;
}

TEST(results_of_send)
{
    CHECK_INT(run_send("    return"), 0);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    CHECK_INT(run_send("    return true"), 0);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    CHECK_INT(run_send("    return false, 'later\\nplease', 30.2"), 0);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_STR(fk.detail, "t: later please"); /* one line */
    CHECK_INT(fk.retry_after, 31);
    CHECK_INT(run_send("    return nil, 'no route'"), 0);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_STR(fk.detail, "t: no route");
    CHECK_INT(run_send("    return 'failed', 'unknown user'"), 0);
    CHECK_INT(fk.result, HERALD_FAILED);
    CHECK_STR(fk.detail, "t: unknown user");
    CHECK_INT(run_send("    return 42"), 0);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "send returned a number");
}

TEST(a_lua_error_retries_with_its_file_and_line)
{
    char where[400];
    snprintf(where, sizeof where, "t: send: %s/herald.lua:3: boom", dir);
    CHECK_INT(run_send("    error('boom')"), 0);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_STR(fk.detail, where);
    CHECK_INT(run_send("    local x\n    x.y = 1"), 0);
    CHECK_INT(fk.result, HERALD_RETRY);
    snprintf(where, sizeof where, "%s/herald.lua:4: attempt to index a nil value", dir);
    CHECK_CONTAINS(fk.detail, where);
    /* An error without a position gets the line where send was. */
    CHECK_INT(run_send("    error({})"), 0);
    snprintf(where, sizeof where, "t: send: %s/herald.lua:3: (error object is a table value)", dir);
    CHECK_STR(fk.detail, where);
    /* Declarations are over: no dangling loader behind herald.source at delivery time. */
    CHECK_INT(run_send("    herald.source 'late' { url = 'http://x.test/' }"), 0);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "herald.source can only be used while the config loads");
    CHECK_INT(run_send("    herald.notifier_type 'late' { send = print }"), 0);
    CHECK_CONTAINS(fk.detail, "herald.notifier_type can only be used while the config loads");
}

TEST(a_runaway_send_is_stopped_and_the_state_still_works)
{
    fake_reset();
    struct config *cfg = load_send("    if alert.notifier == 'phone' then\n"
                                   "      while true do pcall(function() while true do end end) "
                                   "end\n"
                                   "    end\n"
                                   "    return true");
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "n", err, sizeof err);
    void *ok = start(cfg, "ok", err, sizeof err);
    CHECK(st && ok);
    deliver(cfg, "n", st); /* ALERT.notifier is "phone": loops */
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "t: send stopped: instruction budget exceeded at ");
    CHECK_CONTAINS(fk.detail, "/herald.lua:4");
    CHECK_CONTAINS(fk.log, "budget of 200000 instructions");
    /* The same state delivers the next alert, for this instance and another. */
    struct herald_alert other = ALERT;
    other.notifier = "ok";
    fake_reset();
    CHECK_INT(notifier(cfg, "ok")->plugin->deliver(ok, &other, (struct herald_delivery *)&fk), 0);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    stop(cfg, "n", st);
    stop(cfg, "ok", ok);
    config_free(cfg);
}

TEST(a_send_over_the_memory_cap_is_stopped)
{
    /* Doubling a string reaches the state's 256 MiB long before the budget. */
    CHECK_INT(run_send("    local s = 'x'\n    for i = 1, 40 do s = s .. s end\n    return true"),
              0);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "t: send stopped: memory limit exceeded at ");
    CHECK_CONTAINS(fk.detail, "/herald.lua:4");
}

TEST(the_alert_table)
{
    fake_reset();
    struct config *cfg =
        load_send("    local e = alert.evidence\n"
                  "    herald.http.request { url = 'http://x.test/', body = herald.json.encode {\n"
                  "      id = alert.id, rule = alert.rule, notifier = alert.notifier,\n"
                  "      created = alert.created, attempt = alert.attempt, title = alert.title,\n"
                  "      link = alert.link, text = alert.text, summary = alert.summary,\n"
                  "      author = alert.author, source = alert.source, published = "
                  "alert.published,\n"
                  "      categories = alert.categories, lang = alert.lang, json = alert.json,\n"
                  "      article_id = alert.article_id, n = #e,\n"
                  "      e1 = { e[1].field, e[1].start, e[1]['end'], e[1].finish, e[1].term, "
                  "e[1].text },\n"
                  "      e2 = e[2].text, sub = alert.text:sub(e[2].start, e[2].finish) } }\n"
                  "    return true");
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "n", err, sizeof err);
    CHECK(st != NULL);
    deliver(cfg, "n", st);
    CHECK_INT(fk.requests, 1);
    CHECK_STR(fk.method, "POST"); /* a body and no method */
    json_error_t je;
    json_t *b = json_loads(fk.body, 0, &je);
    CHECK(b != NULL);
#define S(k) json_string_value(json_object_get(b, k))
#define I(k) json_integer_value(json_object_get(b, k))
    CHECK_STR(S("id"), "3f9c2a7d41e0b6c8");
    CHECK_STR(S("rule"), "iraq");
    CHECK_STR(S("notifier"), "phone");
    CHECK_INT(I("created"), 1578249067);
    CHECK_INT(I("attempt"), 2);
    CHECK_STR(S("title"), "US troops asked to leave Iraq");
    CHECK_STR(S("link"), "https://news.test/iraq");
    CHECK_STR(S("summary"), "Parliament votes.");
    CHECK_STR(S("author"), "A. Writer");
    CHECK_STR(S("source"), "news");
    CHECK_INT(I("published"), 1578249000);
    CHECK_STR(S("lang"), "en");
    CHECK_STR(S("json"), ALERT.json);
    CHECK_STR(S("article_id"), "urn:item:1");
    CHECK_INT(I("n"), 2);
    json_t *cats = json_object_get(b, "categories");
    CHECK_INT(json_array_size(cats), 2);
    CHECK_STR(json_string_value(json_array_get(cats, 1)), "middle east");
    json_t *e1 = json_object_get(b, "e1");
    CHECK_STR(json_string_value(json_array_get(e1, 0)), "title");
    CHECK_INT(json_integer_value(json_array_get(e1, 1)), 4); /* 1-based, like a:evidence() */
    CHECK_INT(json_integer_value(json_array_get(e1, 2)), 9); /* inclusive end */
    CHECK_INT(json_integer_value(json_array_get(e1, 3)), 9);
    CHECK_STR(json_string_value(json_array_get(e1, 4)), "troop*");
    CHECK_STR(json_string_value(json_array_get(e1, 5)), "troops");
    CHECK_STR(S("e2"), "removal");
    CHECK_STR(S("sub"), "removal");
#undef S
#undef I
    json_decref(b);
    answer(200, "", -1, NULL);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    stop(cfg, "n", st);
    config_free(cfg);
}

TEST(the_opts_table)
{
    fake_reset();
    struct config *cfg = load_ok(
        "herald.notifier_type \"t\" {\n"
        "  options = { s = 'string', i = 'integer?', b = { type = 'boolean', default = true },\n"
        "              d = { type = 'duration', default = 1.5 }, m = 'map?', l = 'list?' },\n"
        "  send = function(alert, opts)\n"
        "    local seen = opts.changed\n"
        "    opts.changed = true\n"
        "    opts.m.added = 'x'\n"
        "    herald.http.request { url = 'http://x.test/', body = herald.json.encode {\n"
        "      s = opts.s, i = opts.i, it = math.type(opts.i), b = opts.b, d = opts.d,\n"
        "      m = opts.m, l = opts.l, seen = seen or false } }\n"
        "  end }\n"
        "herald.notifier \"n\" { type = 't', s = 'str', i = 7, m = { K = 'v' }, l = { 'a', 'b' } "
        "}\n");
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "n", err, sizeof err);
    CHECK(st != NULL);
    for (int round = 0; round < 2; round++) {
        deliver(cfg, "n", st);
        CHECK_INT(fk.requests, round + 1);
        CHECK_STR(fk.body, "{\"b\":true,\"d\":1.5,\"i\":7,\"it\":\"integer\",\"l\":[\"a\",\"b\"],"
                           "\"m\":{\"K\":\"v\",\"added\":\"x\"},\"s\":\"str\",\"seen\":false}");
        answer(204, NULL, -1, NULL);
        CHECK_INT(fk.result, HERALD_DELIVERED); /* returned nothing */
    }
    stop(cfg, "n", st);
    config_free(cfg);
}

TEST(http_request_arguments_and_refusals)
{
    CHECK_INT(run_send("    herald.http.request { url = 'ftp://x.test/' }"), 0);
    CHECK_CONTAINS(fk.detail, "url must be a string starting with http:// or https://");
    CHECK_INT(run_send("    herald.http.request { url = 'http://x.test/', method = 'GET', body = "
                       "'x' }"),
              0);
    CHECK_CONTAINS(fk.detail, "a GET request has no body");
    CHECK_INT(run_send("    herald.http.request { url = 'http://x.test/', headers = { ['X-A'] = "
                       "'1\\r\\nX-B: 2' } }"),
              0);
    CHECK_CONTAINS(fk.detail, "without line breaks");
    CHECK_INT(run_send("    herald.http.request { url = 'http://x.test/', timeout = '1h' }"), 0);
    CHECK_CONTAINS(fk.detail, "timeout must be a duration from 1ms to 10m");
    CHECK_INT(run_send("    herald.http.request { url = 'http://x.test/', bdy = '' }"), 0);
    CHECK_CONTAINS(fk.detail, "unknown key 'bdy'");
    /* No yield from inside a C function such as table.sort's comparator. */
    CHECK_INT(run_send("    table.sort({ 2, 1 }, function(a, b)\n"
                       "      herald.http.request { url = 'http://x.test/' } return a < b end)"),
              0);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "herald.http.request cannot wait here");
    CHECK_INT(fk.requests, 0);
    /* The host refuses (stopping): send sees a transport error and may retry. */
    fake_reset();
    struct config *cfg = load_send("    local r = herald.http.request { url = 'http://x.test/' }\n"
                                   "    if r.error then return false, r.error end\n"
                                   "    return true");
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "n", err, sizeof err);
    fk.refuse = 1;
    deliver(cfg, "n", st);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "t: the request could not be started");
    /* A host that answers from inside http_request. */
    fake_reset();
    fk.answer_sync = 200;
    deliver(cfg, "n", st);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    CHECK_STR(fk.method, "GET"); /* no body, no method */
    /* A transport error reaches send as res.error. */
    fake_reset();
    deliver(cfg, "n", st);
    answer(0, NULL, -1, "Connection refused");
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_STR(fk.detail, "t: Connection refused");
    stop(cfg, "n", st);
    config_free(cfg);
}

TEST(requests_are_sequential_and_capped)
{
    fake_reset();
    struct config *cfg =
        load_send("    local got = {}\n"
                  "    for i = 1, 20 do\n"
                  "      local r = herald.http.request { url = 'http://x.test/' .. i }\n"
                  "      got[#got + 1] = r.status .. ':' .. r.body\n"
                  "    end\n"
                  "    return true");
    CHECK(cfg != NULL);
    char err[512];
    void *st = start(cfg, "n", err, sizeof err);
    deliver(cfg, "n", st);
    for (int i = 1; i <= 16; i++) {
        char url[64];
        snprintf(url, sizeof url, "http://x.test/%d", i);
        CHECK_STR(fk.url, url);
        CHECK_INT(fk.completes, 0);
        answer(200, "b", -1, NULL);
    }
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_RETRY);
    CHECK_CONTAINS(fk.detail, "at most 16 requests per delivery");
    stop(cfg, "n", st);
    config_free(cfg);
}

TEST(a_delivery_outlives_its_config)
{
    /* A reload frees the config (and, before, retires the instance) while the request is in
     * flight: the state stays until the delivery and the instance are done. */
    fake_reset();
    struct config *cfg = load_ok(PUSHOVER PHONE);
    CHECK(cfg != NULL);
    char err[512];
    const struct herald_plugin *p = notifier(cfg, "phone")->plugin;
    void *st = start(cfg, "phone", err, sizeof err);
    CHECK(st != NULL);
    CHECK_INT(p->deliver(st, &ALERT, (struct herald_delivery *)&fk), 0);
    CHECK_INT(fk.requests, 1);
    config_free(cfg);
    fk.fini_plugin = p;
    fk.fini_state = st;
    answer(200, "{}", -1, NULL);
    CHECK_INT(fk.completes, 1);
    CHECK_INT(fk.result, HERALD_DELIVERED);
    CHECK(fk.fini_plugin == NULL); /* finalised from complete(); ASan checks the rest */
}

TEST(herald_json)
{
    struct config *cfg = NULL;
    char err[2048];
    int rc =
        load("local j = herald.json\n"
             "assert(j.encode { b = { 1, 2, 'x' }, a = 1, c = { d = true } } == "
             "'{\"a\":1,\"b\":[1,2,\"x\"],\"c\":{\"d\":true}}')\n"
             "assert(j.encode({}) == '{}' and j.encode(j.array {}) == '[]')\n"
             "assert(j.encode { x = j.null } == '{\"x\":null}' and j.encode(1.5) == '1.5')\n"
             "local v = j.decode('{\"a\":[1,null,{\"b\":\"\\\\u00e9\"}],\"e\":[],\"f\":2.5}')\n"
             "assert(v.a[1] == 1 and v.a[2] == j.null and v.a[3].b == '\\u{e9}' and v.f == 2.5)\n"
             "assert(math.type(v.a[1]) == 'integer' and j.encode(v.e) == '[]')\n"
             "local bad, why = j.decode('{\"a\":')\n"
             "assert(bad == nil and why:find('line 1'))\n"
             "assert(j.decode(string.rep('[', 200) .. string.rep(']', 200)) == nil)\n"
             "assert(not pcall(j.encode, { f = print }))\n"
             "assert(not pcall(j.encode, { 1, 2, x = 3 }))\n"
             "assert(not pcall(j.encode, '\\xff'))\n"
             "local c = {} c.c = c\n"
             "local ok, e = pcall(j.encode, c)\n"
             "assert(not ok and e:find('cycle'))\n"
             "assert(not pcall(j.encode, 0/0))\n",
             &cfg, err, sizeof err);
    if (rc != 0) CHECK_FAIL_("%s", err);
    CHECK(rc == 0);
    config_free(cfg);
}

TEST(check_style_init_and_fini_without_deliveries)
{
    /* `herald check` starts and stops each instance with a host that can do nothing. */
    fake_reset();
    struct config *cfg = load_ok(PUSHOVER PHONE);
    CHECK(cfg != NULL);
    char err[512] = "";
    void *a = start(cfg, "phone", err, sizeof err);
    void *b = start(cfg, "phone", err, sizeof err);
    CHECK(a && b && a != b);
    stop(cfg, "phone", a);
    stop(cfg, "phone", b);
    config_free(cfg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herald-lua-notifier-%d", (int)getpid());
    if (mkdir_p(dir, 0700) != 0) return 1;
    const char *path = getenv("HERALD_PLUGIN_PATH");
    plugins = plugin_registry_load(path && *path ? path : "build/plugins", NULL, NULL);
    RUN(type_declared_and_notifier_validated_against_it);
    RUN(single_table_form_and_optional_shorthand);
    RUN(declaration_errors_point_at_the_line);
    RUN(a_type_cannot_shadow_a_plugin);
    RUN(send_posts_and_a_2xx_delivers);
    RUN(retry_with_retry_after_and_permanent_failure);
    RUN(results_of_send);
    RUN(a_lua_error_retries_with_its_file_and_line);
    RUN(a_runaway_send_is_stopped_and_the_state_still_works);
    RUN(a_send_over_the_memory_cap_is_stopped);
    RUN(the_alert_table);
    RUN(the_opts_table);
    RUN(http_request_arguments_and_refusals);
    RUN(requests_are_sequential_and_capped);
    RUN(a_delivery_outlives_its_config);
    RUN(herald_json);
    RUN(check_style_init_and_fini_without_deliveries);
    plugin_registry_free(plugins);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return check_summary();
}
