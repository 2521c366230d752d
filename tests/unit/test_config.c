/*
 * test_config — loading configs: declarations in both spellings, defaults, validation
 * errors reported as file:line: message, plugin option checking, require, and the
 * built-in safety of the config run itself (a config that loops forever fails to load).
 */
#include "check.h"
#include "config.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static struct plugin_registry *plugins;

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
    struct config_env env = {
        .plugins = plugins, .library_dir = "scripts/lib", .state_dir = "/var/lib/herald-test"};
    return config_load(path, &env, cfg, err, n);
}

/* Expect a load error whose first line is "<dir>/herald.lua:<line>: …<words>…". */
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

TEST(declarations_and_defaults)
{
    struct config *cfg = NULL;
    char err[1024];
    int rc = load("herald.options { every = '2m', log_level = 'debug' }\n"
                  "herald.source 'a' { url = 'http://127.0.0.1:1/a.xml' }\n"
                  "herald.source { name = 'b', path = 'feeds/b.xml', every = 90, lang = 'de' }\n"
                  "herald.notifier 'out' { type = 'stdout' }\n"
                  "herald.notifier 'log' { type = 'file', path = herald.state_dir .. '/a.jsonl' }\n"
                  "herald.concept 'leaving' { 'leave', 'pull out' }\n"
                  "herald.rule 'r1' { query = 'troops AND @leaving', notify = 'out' }\n"
                  "herald.rule { name = 'r2', match = function(a) return true end }\n",
                  &cfg, err, sizeof err);
    if (rc != 0) CHECK_FAIL_("load failed: %s", err);
    CHECK(rc == 0);
    CHECK_INT(cfg->n_sources, 2);
    CHECK_STR(cfg->sources[0].name, "a");
    CHECK_INT(cfg->sources[0].every_ms, 120000);
    CHECK_STR(cfg->sources[0].kind, "feed");
    CHECK_INT(cfg->sources[0].enabled, 1);
    CHECK_INT(cfg->sources[0].line, 2);
    CHECK_INT(cfg->sources[1].every_ms, 90000);
    CHECK_STR(cfg->sources[1].lang, "de");
    /* A relative path is the config's folder; it becomes a file:// URL. */
    char want[600];
    snprintf(want, sizeof want, "file://%s/feeds/b.xml", dir);
    CHECK_STR(cfg->sources[1].url, want);
    CHECK_INT(cfg->log_level, 3);
    CHECK_INT(cfg->n_notifiers, 2);
    CHECK_STR(opts_string(&cfg->notifiers[1].opts, "path"), "/var/lib/herald-test/a.jsonl");
    /* Plugin defaults are filled in. */
    CHECK_STR(opts_string(&cfg->notifiers[0].opts, "format"), "text");
    CHECK_INT(cfg->n_rules, 2);
    CHECK(cfg->rules[0].query != NULL);
    CHECK_INT(cfg->rules[0].n_notify, 1);
    CHECK(cfg->rules[1].query == NULL);
    CHECK(cfg->rules[1].match_ref >= 0);
    CHECK_INT(cfg->rules[1].n_notify, 0);
    CHECK_INT(cfg->rules[1].line, 8);
    config_free(cfg);
}

TEST(errors_point_at_the_line)
{
    CHECK_ERROR("\n\nherald.rule 'x' { query = 'a' \n", 4, "'}' expected");
    CHECK_ERROR("herald.notifier 'out' { type = 'stdout' }\n\n"
                "herald.rule 'x' { query = 'a', notify = { 'out', 'nope' } }\n",
                3, "rule 'x' notifies 'nope', which is not a declared notifier");
    CHECK_ERROR("herald.rule 'x' { qeury = 'a' }", 1, "did you mean 'query'?");
    CHECK_ERROR("herald.rule 'x' { }", 1, "needs a query");
    CHECK_ERROR("\nherald.rule 'x' { query = 'a AND (b' }", 2, "query: expected ')' at col 9");
    CHECK_ERROR("herald.rule 'x' { query = '@nope' }", 1, "unknown concept");
    CHECK_ERROR("herald.rule 'x' { query = 'a' }\nherald.rule 'x' { query = 'b' }", 2,
                "declared twice (first at");
    /* The first declaration's place, in both spellings and for each kind. */
    CHECK_ERROR("herald.rule 'x' { query = 'a' }\nherald.rule 'x' { query = 'b' }", 2,
                "/herald.lua:1)");
    CHECK_ERROR("herald.source 's' { url = 'http://x/' }\n\n"
                "herald.source { name = 's', url = 'http://y/' }",
                3, "source 's' is declared twice (first at ");
    CHECK_ERROR(
        "\nherald.notifier 'n' { type = 'stdout' }\nherald.notifier 'n' { type = 'stdout' }", 3,
        "notifier 'n' is declared twice (first at ");
    CHECK_ERROR(
        "\nherald.notifier 'n' { type = 'stdout' }\nherald.notifier 'n' { type = 'stdout' }", 3,
        "/herald.lua:2)");
    CHECK_ERROR("herald.source 's' { url = 'ftp://x/' }", 1, "must start with http://");
    CHECK_ERROR("herald.source 's' { }", 1, "needs url");
    CHECK_ERROR("herald.source 's' { url = 'http://x/', every = 'often' }", 1, "not a duration");
    CHECK_ERROR("herald.source 's' { url = 'http://x/', every = -5 }", 1,
                "must be a positive duration");
    CHECK_ERROR("herald.notifier 'n' { type = 'pager' }", 1, "unknown type 'pager' (available:");
    CHECK_ERROR("herald.notifier 'n' { type = 'file' }", 1, "'path' is required");
    CHECK_ERROR("herald.notifier 'n' { type = 'webhook', url = 'http://x', timeout = true }", 1,
                "'timeout' must be a duration");
    CHECK_ERROR("herald.notifier 'n' { type = 'stdout', colour = 'red' }", 1,
                "unknown key 'colour'");
    CHECK_ERROR("herald.rule 'x' { match = 'yes' }", 1, "match must be a function");
    CHECK_ERROR("herald.options { log_level = 'loud' }", 1, "log_level must be");
    CHECK_ERROR("local t = nil\nprint(t.x)", 2, "attempt to index");
    CHECK_ERROR("herald.rule 'a/b' { query = 'x' }", 1, "is not valid");
}

/* LIST options (the exec plugin's command): kept in order, checked item by item. */
TEST(list_options)
{
    if (!plugin_find(plugins, "exec")) SKIP("the exec plugin is not built");
    struct config *cfg = NULL;
    char err[2048];
    int rc = load("herald.notifier 'x' { type = 'exec',\n"
                  "  command = { '/bin/echo', '{{title}}', 'a b', '' } }\n",
                  &cfg, err, sizeof err);
    if (rc != 0) printf("  %s\n", err);
    CHECK_INT(rc, 0);
    const struct herald_opts *o = &cfg->notifiers[0].opts;
    CHECK(opts_list_count(o, "command") == 4);
    CHECK_STR(opts_list_at(o, "command", 0), "/bin/echo");
    CHECK_STR(opts_list_at(o, "command", 1), "{{title}}");
    CHECK_STR(opts_list_at(o, "command", 2), "a b");
    CHECK_STR(opts_list_at(o, "command", 3), "");
    CHECK(opts_list_at(o, "command", 4) == NULL);
    CHECK(opts_string(o, "command") == NULL); /* a list is not a string */
    CHECK(opts_list_count(o, "timeout") == 0);
    config_free(cfg);
    CHECK_ERROR("herald.notifier 'x' { type = 'exec' }", 1, "'command' is required");
    CHECK_ERROR("\nherald.notifier 'x' { type = 'exec', command = '/bin/echo hi' }", 2,
                "'command' must be a list of strings");
    CHECK_ERROR("herald.notifier 'x' { type = 'exec', command = { '/bin/echo', 42 } }", 1,
                "'command' item 2 must be a string, got a number");
    CHECK_ERROR("herald.notifier 'x' { type = 'exec', command = { '/bin/echo', x = 'y' } }", 1,
                "without named keys or holes");
    CHECK_ERROR("herald.notifier 'x' { type = 'exec', command = { '/bin/echo', nil, 'z' } }", 1,
                "without named keys or holes");
    CHECK_ERROR("herald.notifier 'x' { type = 'exec', command = { '/bin/echo', 'a\\0b' } }", 1,
                "holds a NUL byte");
    CHECK_ERROR("local t = {}\nfor i = 1, 300 do t[i] = 'a' end\n"
                "herald.notifier 'x' { type = 'exec', command = t }",
                3, "has 300 items; at most 256");
}

TEST(several_errors_are_reported_together)
{
    struct config *cfg = NULL;
    char err[2048];
    int rc = load("herald.rule 'a' { query = '(x', notify = 'n1' }\n"
                  "herald.rule 'b' { query = 'y', notify = 'n2' }\n",
                  &cfg, err, sizeof err);
    CHECK(rc != 0);
    CHECK_CONTAINS(err, "herald.lua:1: rule 'a' notifies 'n1'");
    CHECK_CONTAINS(err, "herald.lua:1: rule 'a': query:");
    CHECK_CONTAINS(err, "herald.lua:2: rule 'b' notifies 'n2'");
}

TEST(a_config_that_loops_forever_fails_to_load)
{
    struct config *cfg = NULL;
    char err[1024];
    CHECK(load("while true do end", &cfg, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "instruction budget exceeded");
}

TEST(require_finds_the_config_folder_and_the_library)
{
    mkdir_p(dir, 0700);
    char sub[400];
    snprintf(sub, sizeof sub, "%s/packs", dir);
    CHECK(mkdir_p(sub, 0700) == 0);
    CHECK(write_cfg("packs/world.lua", "herald.rule 'from-pack' { query = '@withdrawal' }\n"));
    struct config *cfg = NULL;
    char err[1024];
    int rc = load("require 'herald.concepts'\nrequire 'packs.world'\n", &cfg, err, sizeof err);
    if (rc != 0) CHECK_FAIL_("%s", err);
    CHECK(rc == 0);
    CHECK_INT(cfg->n_rules, 1);
    CHECK_STR(cfg->rules[0].file + strlen(cfg->rules[0].file) - strlen("packs/world.lua"),
              "packs/world.lua");
    config_free(cfg);
}

TEST(names_are_unique_per_kind_only)
{
    struct config *cfg = NULL;
    char err[1024];
    CHECK_INT(load("herald.notifier 'x' { type = 'stdout' }\n"
                   "herald.source 'x' { url = 'http://127.0.0.1:1/x.xml', every = '5m' }\n"
                   "herald.rule 'x' { query = 'a', notify = { 'x' } }\n",
                   &cfg, err, sizeof err),
              0);
    if (!cfg) return;
    CHECK_INT(cfg->n_sources, 1);
    CHECK_INT(cfg->n_rules, 1);
    CHECK_INT(cfg->n_notifiers, 1);
    CHECK_INT(cfg->sources[0].every_ms, 300000);
    CHECK_INT(cfg->sources[0].timeout_ms, 60000);
    CHECK_INT(cfg->sources[0].connect_timeout_ms, 15000);
    CHECK_INT((long long)cfg->sources[0].max_bytes, 16 << 20);
    CHECK_INT(cfg->sources[0].enabled, 1);
    CHECK_INT(cfg->sources[0].insecure, 0);
    CHECK(cfg->sources[0].proxy == NULL);
    config_free(cfg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herald-test-config-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    char *path = plugin_default_path();
    plugins =
        plugin_registry_load(getenv("HERALD_PLUGIN_PATH") ? path : "build/plugins", NULL, NULL);
    free(path);
    if (plugin_count(plugins) == 0) {
        printf("SKIP config: no plugins built (run make first)\n");
        plugin_registry_free(plugins);
        return 0;
    }
    RUN(declarations_and_defaults);
    RUN(errors_point_at_the_line);
    RUN(names_are_unique_per_kind_only);
    RUN(list_options);
    RUN(several_errors_are_reported_together);
    RUN(a_config_that_loops_forever_fails_to_load);
    RUN(require_finds_the_config_folder_and_the_library);
    plugin_registry_free(plugins);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return check_summary();
}
