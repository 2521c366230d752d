/*
 * cli_check — `herald check` (validate a config like a compiler: file:line: message) and
 * `herald plugins` (what notifier types this installation has, with their options).
 */
#include "cli.h"

#include "config.h"
#include "lua_notifier.h"
#include "herald.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static void check_log(void *ctx, enum herald_log_level level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    (void)fmt;
}

static int check_http(void *ctx, const struct herald_http_request *req, herald_http_cb cb,
                      void *arg)
{
    (void)ctx;
    (void)req;
    (void)cb;
    (void)arg;
    return -1;
}

static int check_mail(void *ctx, const struct herald_mail *m, herald_http_cb cb, void *arg)
{
    (void)ctx;
    (void)m;
    (void)cb;
    (void)arg;
    return -1;
}

static int check_spawn(void *ctx, const struct herald_spawn *sp, herald_spawn_cb cb, void *arg)
{
    (void)ctx;
    (void)sp;
    (void)cb;
    (void)arg;
    return -1;
}

static void check_complete(struct herald_delivery *d, enum herald_result r, const char *detail)
{
    (void)d;
    (void)r;
    (void)detail;
}

static void check_retry_after(struct herald_delivery *d, long seconds)
{
    (void)d;
    (void)seconds;
}

/* Start and stop each notifier's plugin instance, so that values only the plugin can judge
 * (a webhook URL, a format name) are checked now rather than when the daemon starts. */
static int check_notifiers(const struct config *cfg)
{
    struct herald_host host = {.version = HERALD_HOST_VERSION,
                               .struct_size = sizeof host,
                               .log = check_log,
                               .opt_string = opts_string,
                               .opt_int = opts_int,
                               .opt_map_count = opts_map_count,
                               .opt_map_at = opts_map_at,
                               .http_request = check_http,
                               .complete = check_complete,
                               .retry_after = check_retry_after,
                               .mail_send = check_mail,
                               .opt_list_count = opts_list_count,
                               .opt_list_at = opts_list_at,
                               .spawn = check_spawn};
    int bad = 0;
    for (size_t i = 0; i < cfg->n_notifiers; i++) {
        const struct cfg_notifier *n = &cfg->notifiers[i];
        void *state = NULL;
        char err[512] = "";
        if (n->plugin->init(&host, &n->opts, &state, err, sizeof err) != 0) {
            fprintf(stderr, "%s:%d: notifier '%s': %s\n", n->file, n->line, n->name,
                    err[0] ? err : "the plugin refused its options");
            bad = 1;
        } else if (n->plugin->fini) {
            n->plugin->fini(state);
        }
    }
    return bad;
}

int cli_check(const char *config_path)
{
    struct logger lg;
    log_init(&lg);
    lg.timestamps = 0;
    struct plugin_registry *plugins = herald_load_plugins(&lg);
    char *lib = herald_library_dir();
    char *path = config_path ? NULL : xdg_config_file();
    const char *use = config_path ? config_path : path;
    char *state = xdg_state_dir();
    struct config_env env = {.plugins = plugins, .library_dir = lib, .state_dir = state};
    struct config *cfg = NULL;
    char err[8192];
    int rc = 0;
    if (config_load(use, &env, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        rc = 78;
    } else if (check_notifiers(cfg) != 0) {
        rc = 78;
    } else {
        size_t with_match = 0;
        for (size_t i = 0; i < cfg->n_rules; i++)
            with_match += cfg->rules[i].match_ref >= 0;
        printf("%s: OK: %zu sources, %zu notifiers, %zu rules (%zu with a match function)\n", use,
               cfg->n_sources, cfg->n_notifiers, cfg->n_rules, with_match);
    }
    config_free(cfg);
    plugin_registry_free(plugins);
    free(lib);
    free(state);
    free(path);
    return rc;
}

static const char *type_name(enum herald_opt_type t)
{
    switch (t) {
    case HERALD_OPT_STRING:
        return "string";
    case HERALD_OPT_INT:
        return "integer";
    case HERALD_OPT_BOOL:
        return "boolean";
    case HERALD_OPT_DURATION:
        return "duration";
    case HERALD_OPT_MAP:
        return "table";
    case HERALD_OPT_LIST:
        return "list";
    case HERALD_OPT_TEMPLATE:
        return "template";
    }
    return "?";
}

static void print_plugin(const struct herald_plugin *p, const char *mark)
{
    printf("%s%s — %s\n", p->name, mark, p->description ? p->description : "");
    for (const struct herald_opt_spec *o = p->options; o && o->name; o++)
        printf("    %-12s %-9s %s%s%s%s%s\n", o->name, type_name(o->type),
               o->required ? "(required) " : "", o->help ? o->help : "",
               o->default_value ? " [default " : "", o->default_value ? o->default_value : "",
               o->default_value ? "]" : "");
}

/* The notifier types config_path declares in Lua; 0, or 78 when it does not load. */
static int print_lua_types(const char *config_path, const struct plugin_registry *r)
{
    char *lib = herald_library_dir(), *state = xdg_state_dir();
    struct config_env env = {.plugins = r, .library_dir = lib, .state_dir = state};
    struct config *cfg = NULL;
    char err[8192];
    int rc = 0;
    if (config_load(config_path, &env, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        rc = 78;
    } else {
        for (size_t i = 0; i < lua_notifier_count(cfg->sb); i++)
            print_plugin(lua_notifier_at(cfg->sb, i), " (Lua)");
    }
    config_free(cfg);
    free(lib);
    free(state);
    return rc;
}

int cli_plugins(const char *config_path)
{
    struct logger lg;
    log_init(&lg);
    lg.timestamps = 0;
    struct plugin_registry *r = herald_load_plugins(&lg);
    for (size_t i = 0; i < plugin_count(r); i++)
        print_plugin(plugin_at(r, i), "");
    int rc = config_path ? print_lua_types(config_path, r) : 0;
    if (plugin_count(r) == 0) {
        fprintf(stderr, "herald: no plugins found (set HERALD_PLUGIN_PATH)\n");
        if (rc == 0) rc = 69;
    }
    plugin_registry_free(r);
    return rc;
}
