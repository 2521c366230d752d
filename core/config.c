/*
 * config — the Lua side of the config file and its validation.
 *
 * The config is a Lua program run in the sandbox with a `herald` table of declaration
 * functions. Each declaration records where it was written (file:line) so that errors
 * found later — an unknown notifier in a rule, a query that does not parse — point at the
 * user's line like a compiler would. Declarations accept both the curried form
 * `herald.rule "name" { … }` and the single-table form `herald.rule { name = "…", … }`.
 */
#include "config.h"

#include "log.h"
#include "lua_notifier.h"
#include "util.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef HERALD_DATA_DIR
#define HERALD_DATA_DIR "/usr/local/share/herald"
#endif

enum { CONFIG_BUDGET = 200 * 1000 * 1000, RULE_BUDGET = 5 * 1000 * 1000 };

#define GROW(arr, n, cap) grow_array((void **)&(arr), &(cap), (n) + 1, sizeof *(arr))

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p) return -1;
    memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Loader state kept as the upvalue of every declaration function. */
struct loader {
    struct config *cfg;
    const struct config_env *env;
    size_t cap_sources, cap_notifiers, cap_rules;
};

/* ---- small Lua helpers ------------------------------------------------------------- */

/* The file and line of the user's code calling the current C function. */
static void caller_pos(lua_State *L, char **file, int *line)
{
    lua_Debug ar;
    *file = NULL;
    *line = 0;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) {
            *file = strdup(ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
            *line = ar.currentline;
            return;
        }
    }
    *file = strdup("?");
}

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32) return 99;
    unsigned d[33][33];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            unsigned sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            unsigned del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* Reject keys of the table at `idx` that are not in `allowed` (NULL-terminated), with a
 * suggestion for a likely typo. `extra` may list more allowed keys (or be NULL). Returns the
 * keys present as bits by their index in `allowed` (the first 64), so that a caller reads
 * only those: a source of 10,000 names two or three of its fourteen keys. */
static uint64_t check_keys(lua_State *L, int idx, const char *const *allowed,
                           const struct herald_opt_spec *extra, const char *what, const char *name)
{
    uint64_t present = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            if (lua_type(L, -1) == LUA_TNUMBER && strcmp(what, "concept") == 0) continue;
            luaL_error(L, "%s '%s': keys must be names, got a %s", what, name,
                       luaL_typename(L, -1));
        }
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) {
            ok = strcmp(k, *a) == 0;
            if (ok && a - allowed < 64) present |= UINT64_C(1) << (a - allowed);
        }
        for (const struct herald_opt_spec *o = extra; o && o->name && !ok; o++)
            ok = strcmp(k, o->name) == 0;
        if (ok) continue;
        /* Only a key that is wrong pays for the suggestion: 10,000 sources check 20,000. */
        const char *best = NULL;
        unsigned best_d = 3;
        for (const char *const *a = allowed; *a; a++) {
            unsigned dd = edit_distance(k, *a);
            if (dd < best_d) {
                best_d = dd;
                best = *a;
            }
        }
        for (const struct herald_opt_spec *o = extra; o && o->name; o++) {
            unsigned dd = edit_distance(k, o->name);
            if (dd < best_d) {
                best_d = dd;
                best = o->name;
            }
        }
        if (best)
            luaL_error(L, "unknown key '%s' in %s '%s' (did you mean '%s'?)", k, what, name, best);
        luaL_error(L, "unknown key '%s' in %s '%s'", k, what, name);
    }
    return present;
}

/* Optional string field; NULL when absent. Errors name the declaration. */
static char *opt_str_field(lua_State *L, int idx, const char *key, const char *what,
                           const char *name)
{
    lua_getfield(L, idx, key);
    char *v = NULL;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s '%s': '%s' must be a string, got a %s", what, name, key,
                       luaL_typename(L, -1));
        v = strdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

/* Optional duration field (string like "5m" or seconds); `fallback` when absent. */
static int64_t opt_duration_field(lua_State *L, int idx, const char *key, int64_t fallback,
                                  const char *what, const char *name)
{
    lua_getfield(L, idx, key);
    int64_t ms = fallback;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        double s = lua_tonumber(L, -1);
        if (!(s > 0) || s > 1e12)
            luaL_error(L, "%s '%s': '%s' must be a positive duration", what, name, key);
        ms = (int64_t)(s * 1000);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        if (duration_parse(lua_tostring(L, -1), &ms) != 0)
            luaL_error(L,
                       "%s '%s': '%s' is not a duration: \"%s\" (write e.g. \"90s\", \"5m\", "
                       "\"2h\", \"1d\")",
                       what, name, key, lua_tostring(L, -1));
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "%s '%s': '%s' must be a duration string, got a %s", what, name, key,
                   luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return ms;
}

/* throttle = "30m", digest = "1h", quiet = "22:00-07:00" of a rule or a notifier. */
static void read_hold(lua_State *L, struct hold_policy *p, const char *what, const char *name)
{
    hold_policy_init(p);
    p->throttle_ms = opt_duration_field(L, 1, "throttle", 0, what, name);
    p->digest_ms = opt_duration_field(L, 1, "digest", 0, what, name);
    lua_getfield(L, 1, "quiet");
    if (lua_type(L, -1) == LUA_TSTRING) {
        if (hold_quiet_parse(lua_tostring(L, -1), &p->quiet_from, &p->quiet_to) != 0)
            luaL_error(L,
                       "%s '%s': quiet must be local times \"HH:MM-HH:MM\" (e.g. "
                       "\"22:00-07:00\"), got \"%s\"",
                       what, name, lua_tostring(L, -1));
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "%s '%s': quiet must be a string \"HH:MM-HH:MM\", got a %s", what, name,
                   luaL_typename(L, -1));
    }
    lua_pop(L, 1);
}

static int opt_bool_field(lua_State *L, int idx, const char *key, int fallback, const char *what,
                          const char *name)
{
    lua_getfield(L, idx, key);
    int v = fallback;
    if (lua_type(L, -1) == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "%s '%s': '%s' must be true or false, got a %s", what, name, key,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static long long opt_int_field(lua_State *L, int idx, const char *key, long long fallback,
                               const char *what, const char *name)
{
    lua_getfield(L, idx, key);
    long long v = fallback;
    if (lua_isinteger(L, -1))
        v = lua_tointeger(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "%s '%s': '%s' must be an integer, got a %s", what, name, key,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 128) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '/' || *p == ':') return 0;
    return 1;
}

/* How many declarations of a kind the config holds so far, and where the i-th one is. */
static size_t declared_count(const struct loader *ld, const char *what)
{
    const struct config *cfg = ld->cfg;
    if (strcmp(what, "source") == 0) return cfg->n_sources;
    if (strcmp(what, "rule") == 0) return cfg->n_rules;
    return cfg->n_notifiers;
}

static void declared_at(const struct loader *ld, const char *what, size_t i, const char **file,
                        int *line)
{
    const struct config *cfg = ld->cfg;
    *file = "?";
    *line = 0;
    if (strcmp(what, "source") == 0 && i < cfg->n_sources) {
        *file = cfg->sources[i].file;
        *line = cfg->sources[i].line;
    } else if (strcmp(what, "rule") == 0 && i < cfg->n_rules) {
        *file = cfg->rules[i].file;
        *line = cfg->rules[i].line;
    } else if (strcmp(what, "notifier") == 0 && i < cfg->n_notifiers) {
        *file = cfg->notifiers[i].file;
        *line = cfg->notifiers[i].line;
    }
    if (!*file) *file = "?";
}

/* Names are unique per kind. A registry table per kind maps each name (the Lua string at
 * name_idx) to the index its declaration is about to take, whose file and line the config
 * keeps: constant time with ten thousand sources, and no string built per declaration. */
static void claim_name(lua_State *L, const struct loader *ld, const char *what, int name_idx)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "herald.declared") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "herald.declared");
    }
    if (lua_getfield(L, -1, what) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, what);
    }
    lua_pushvalue(L, name_idx);
    if (lua_rawget(L, -2) == LUA_TNUMBER) {
        const char *file;
        int line;
        declared_at(ld, what, (size_t)lua_tointeger(L, -1), &file, &line);
        luaL_error(L, "%s '%s' is declared twice (first at %s:%d)", what, lua_tostring(L, name_idx),
                   file, line);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, name_idx);
    lua_pushinteger(L, (lua_Integer)declared_count(ld, what));
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

/*
 * Declarations come in two spellings. Curried: the first call gets the name and returns a
 * closure that takes the table. Single table: the name is the table's `name` field. Both
 * end in a `declare_*` function with the table at stack index 1, the name string at 2.
 */
typedef void (*declare_fn)(lua_State *L, struct loader *ld, const char *name);

/* The loader behind a declaration function, or a Lua error once the config has loaded:
 * the loader lives on config_load's stack, and a rule's match or a notifier type's send
 * calling herald.rule later must get an error, not a dangling pointer. */
static struct loader *live_loader(lua_State *L, const char *what)
{
    void *ld = lua_touserdata(L, lua_upvalueindex(1));
    lua_getfield(L, LUA_REGISTRYINDEX, "herald.loader");
    int live = ld && lua_touserdata(L, -1) == ld;
    lua_pop(L, 1);
    if (!live) luaL_error(L, "herald.%s can only be used while the config loads", what);
    return ld;
}

static int decl_table_call(lua_State *L)
{
    const char *what = lua_tostring(L, lua_upvalueindex(3));
    struct loader *ld = live_loader(L, what);
    declare_fn fn = (declare_fn)lua_touserdata(L, lua_upvalueindex(2));
    const char *name = lua_tostring(L, lua_upvalueindex(4));
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "%s '%s': expected a table after the name, got a %s", what, name,
                          luaL_typename(L, 1));
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(4));
    if (strcmp(what, "concept") != 0) claim_name(L, ld, what, 2);
    fn(L, ld, name);
    return 0;
}

static int decl_entry(lua_State *L)
{
    const char *what = lua_tostring(L, lua_upvalueindex(3));
    if (lua_type(L, 1) == LUA_TSTRING) {
        const char *name = lua_tostring(L, 1);
        if (!valid_name(name))
            return luaL_error(L,
                              "%s name '%s' is not valid (1-128 characters, no '/', ':' or "
                              "control characters)",
                              what, name);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, lua_upvalueindex(2));
        lua_pushvalue(L, lua_upvalueindex(3));
        lua_pushvalue(L, 1);
        lua_pushcclosure(L, decl_table_call, 4);
        return 1;
    }
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "name");
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L,
                              "herald.%s { … } needs a name: herald.%s \"name\" { … } or "
                              "name = \"…\" in the table",
                              what, what);
        const char *name = lua_tostring(L, -1);
        if (!valid_name(name)) return luaL_error(L, "%s name '%s' is not valid", what, name);
        struct loader *ld = live_loader(L, what);
        declare_fn fn = (declare_fn)lua_touserdata(L, lua_upvalueindex(2));
        /* The name string stays referenced at index 2 while the table loses its `name`
         * key, so the key check below does not see it. */
        lua_settop(L, 2);
        lua_pushnil(L);
        lua_setfield(L, 1, "name");
        if (strcmp(what, "concept") != 0) claim_name(L, ld, what, 2);
        fn(L, ld, name);
        return 0;
    }
    return luaL_error(L, "herald.%s: expected a name string or a table, got a %s", what,
                      luaL_typename(L, 1));
}

/* ---- sources ------------------------------------------------------------------------ */

static char *file_url(struct config *cfg, const char *path)
{
    char *expanded = path_expand(path);
    if (!expanded) return NULL;
    char *abs = expanded;
    if (expanded[0] != '/') {
        abs = path_join(cfg->dir, expanded);
        free(expanded);
        if (!abs) return NULL;
    }
    char real[PATH_MAX];
    const char *use = realpath(abs, real) ? real : abs;
    size_t n = strlen(use) + 8;
    char *url = malloc(n);
    if (url) snprintf(url, n, "file://%s", use);
    free(abs);
    return url;
}

enum source_key {
    SK_URL,
    SK_PATH,
    SK_KIND,
    SK_LANG,
    SK_EVERY,
    SK_MIN_EVERY,
    SK_MAX_EVERY,
    SK_TIMEOUT,
    SK_INSECURE,
    SK_MAX_BYTES,
    SK_ENABLED,
    SK_CONNECT_TIMEOUT,
    SK_PROXY,
    SK_USER_AGENT,
    SK_COUNT
};

static void declare_source(lua_State *L, struct loader *ld, const char *name)
{
    static const char *const keys[SK_COUNT + 1] = {[SK_URL] = "url",
                                                   [SK_PATH] = "path",
                                                   [SK_KIND] = "kind",
                                                   [SK_LANG] = "lang",
                                                   [SK_EVERY] = "every",
                                                   [SK_MIN_EVERY] = "min_every",
                                                   [SK_MAX_EVERY] = "max_every",
                                                   [SK_TIMEOUT] = "timeout",
                                                   [SK_INSECURE] = "insecure",
                                                   [SK_MAX_BYTES] = "max_bytes",
                                                   [SK_ENABLED] = "enabled",
                                                   [SK_CONNECT_TIMEOUT] = "connect_timeout",
                                                   [SK_PROXY] = "proxy",
                                                   [SK_USER_AGENT] = "user_agent",
                                                   [SK_COUNT] = NULL};
    struct config *cfg = ld->cfg;
    const uint64_t has = check_keys(L, 1, keys, NULL, "source", name);
#define HAS(k) (has & (UINT64_C(1) << (k)))
    char *url = HAS(SK_URL) ? opt_str_field(L, 1, "url", "source", name) : NULL;
    char *path = HAS(SK_PATH) ? opt_str_field(L, 1, "path", "source", name) : NULL;
    if (url && path) {
        free(url);
        free(path);
        luaL_error(L, "source '%s': give either url or path, not both", name);
    }
    if (!url && !path)
        luaL_error(L, "source '%s': needs url = \"https://…\" or path = \"…\"", name);
    if (path) {
        url = file_url(cfg, path);
        free(path);
    } else if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 &&
               strncmp(url, "file://", 7) != 0) {
        lua_pushfstring(L,
                        "source '%s': url must start with http://, https:// or file:// (got "
                        "\"%s\")",
                        name, url);
        free(url);
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        lua_error(L);
    }
    char *kind = HAS(SK_KIND) ? opt_str_field(L, 1, "kind", "source", name) : NULL;
    if (kind && strcmp(kind, "feed") != 0 && strcmp(kind, "page") != 0) {
        lua_pushfstring(L, "source '%s': kind must be \"feed\" or \"page\" (got \"%s\")", name,
                        kind);
        free(kind);
        free(url);
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        lua_error(L);
    }
    if (GROW(cfg->sources, cfg->n_sources, ld->cap_sources) != 0) luaL_error(L, "out of memory");
    struct cfg_source *s = &cfg->sources[cfg->n_sources++];
    s->name = strdup(name);
    s->url = url;
    s->kind = kind ? kind : strdup("feed");
    caller_pos(L, &s->file, &s->line);
    s->lang = HAS(SK_LANG) ? opt_str_field(L, 1, "lang", "source", name) : NULL;
    s->every_ms = HAS(SK_EVERY) ? opt_duration_field(L, 1, "every", 0, "source", name) : 0;
    s->min_every_ms =
        HAS(SK_MIN_EVERY) ? opt_duration_field(L, 1, "min_every", 0, "source", name) : 0;
    s->max_every_ms =
        HAS(SK_MAX_EVERY) ? opt_duration_field(L, 1, "max_every", 0, "source", name) : 0;
    if (s->min_every_ms && s->max_every_ms && s->min_every_ms > s->max_every_ms)
        luaL_error(L, "source '%s': min_every is longer than max_every", name);
    s->timeout_ms =
        HAS(SK_TIMEOUT) ? (long)opt_duration_field(L, 1, "timeout", 60000, "source", name) : 60000;
    s->connect_timeout_ms =
        HAS(SK_CONNECT_TIMEOUT)
            ? (long)opt_duration_field(L, 1, "connect_timeout", 15000, "source", name)
            : 15000;
    s->proxy = HAS(SK_PROXY) ? opt_str_field(L, 1, "proxy", "source", name) : NULL;
    s->user_agent = HAS(SK_USER_AGENT) ? opt_str_field(L, 1, "user_agent", "source", name) : NULL;
    s->insecure = HAS(SK_INSECURE) ? opt_bool_field(L, 1, "insecure", 0, "source", name) : 0;
    s->enabled = HAS(SK_ENABLED) ? opt_bool_field(L, 1, "enabled", 1, "source", name) : 1;
    long long mb =
        HAS(SK_MAX_BYTES) ? opt_int_field(L, 1, "max_bytes", 16 << 20, "source", name) : 16 << 20;
    if (mb <= 0) luaL_error(L, "source '%s': max_bytes must be positive", name);
    s->max_bytes = (size_t)mb;
#undef HAS
}

/* Fill a source's unset interval and its adaptive bounds once the whole file ran (the
 * default `every` may come from a later herald.options). The bounds default to every/4
 * (at least a minute, unless every itself is shorter) and every*4; `every` is then kept
 * inside them. */
static void source_bounds(struct cfg_source *s, const struct config *cfg)
{
    enum { MINUTE_MS = 60000 };
    if (s->every_ms == 0) s->every_ms = cfg->default_every_ms;
    int64_t every = s->every_ms;
    if (s->min_every_ms == 0) {
        int64_t lo = every / 4 > MINUTE_MS ? every / 4 : MINUTE_MS;
        s->min_every_ms = lo < every ? lo : every;
        if (s->max_every_ms && s->min_every_ms > s->max_every_ms) s->min_every_ms = s->max_every_ms;
    }
    if (s->max_every_ms == 0) {
        int64_t hi = every > INT64_MAX / 4 ? every : every * 4;
        s->max_every_ms = hi > s->min_every_ms ? hi : s->min_every_ms;
    }
    if (s->every_ms < s->min_every_ms) s->every_ms = s->min_every_ms;
    if (s->every_ms > s->max_every_ms) s->every_ms = s->max_every_ms;
}

/* ---- notifiers ---------------------------------------------------------------------- */

static void set_opt(struct opt_value *v, const char *name, enum herald_opt_type t, char *text)
{
    v->name = strdup(name);
    v->type = t;
    v->text = text;
}

/* A LIST option at the top of the stack: an array of strings, checked whole before anything is
 * allocated so that an error leaves `v` untouched. */
static void read_list_opt(lua_State *L, const struct herald_opt_spec *o, struct opt_value *v,
                          const char *name)
{
    enum { LIST_MAX = 256, ITEM_MAX = 65536 };
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L,
                   "notifier '%s': '%s' must be a list of strings such as { \"a\", \"b\" }, "
                   "got a %s",
                   name, o->name, luaL_typename(L, -1));
    size_t n = (size_t)lua_rawlen(L, -1), keys = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        keys++;
        lua_pop(L, 1);
    }
    if (keys != n)
        luaL_error(L,
                   "notifier '%s': '%s' must be a list (an array of strings without named keys "
                   "or holes)",
                   name, o->name);
    if (n > LIST_MAX)
        luaL_error(L, "notifier '%s': '%s' has %d items; at most %d", name, o->name, (int)n,
                   LIST_MAX);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        size_t len = 0;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!s)
            luaL_error(L, "notifier '%s': '%s' item %d must be a string, got a %s", name, o->name,
                       (int)i, luaL_typename(L, -1));
        if (strlen(s) != len || len > ITEM_MAX)
            luaL_error(L, "notifier '%s': '%s' item %d holds a NUL byte or is longer than %d bytes",
                       name, o->name, (int)i, ITEM_MAX);
        lua_pop(L, 1);
    }
    set_opt(v, o->name, o->type, NULL);
    v->list = calloc(n + 1, sizeof(char *));
    if (!v->list) luaL_error(L, "out of memory");
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        v->list[v->list_n] = strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (!v->list[v->list_n]) luaL_error(L, "out of memory");
        v->list_n++;
    }
}

/* Read one plugin option from the table at index 1 into `v`; fills the default when unset.
 * Returns 1 when a value was stored, 0 when unset without default. */
static int read_plugin_opt(lua_State *L, const struct herald_opt_spec *o, struct opt_value *v,
                           const char *name)
{
    lua_getfield(L, 1, o->name);
    int t = lua_type(L, -1);
    char buf[64];
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        if (o->required)
            luaL_error(L, "notifier '%s': '%s' is required (%s)", name, o->name,
                       o->help ? o->help : "see the plugin's documentation");
        if (!o->default_value || o->type == HERALD_OPT_LIST) return 0;
        if (o->type == HERALD_OPT_DURATION) {
            int64_t ms;
            if (duration_parse(o->default_value, &ms) != 0) return 0;
            snprintf(buf, sizeof buf, "%lld", (long long)ms);
            set_opt(v, o->name, o->type, strdup(buf));
        } else {
            set_opt(v, o->name, o->type, strdup(o->default_value));
        }
        return 1;
    }
    switch (o->type) {
    case HERALD_OPT_TEMPLATE:
        if (t == LUA_TFUNCTION) {
            /* Called per alert at delivery (render.c); the plugin sees a placeholder. */
            char ph[128];
            snprintf(ph, sizeof ph, "{{lua:%s}}", o->name);
            set_opt(v, o->name, o->type, strdup(ph));
            lua_pushvalue(L, -1);
            v->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            break;
        }
        if (t != LUA_TSTRING)
            luaL_error(L,
                       "notifier '%s': '%s' must be a template string or a function(alert), "
                       "got a %s",
                       name, o->name, luaL_typename(L, -1));
        set_opt(v, o->name, o->type, strdup(lua_tostring(L, -1)));
        break;
    case HERALD_OPT_STRING:
        if (t != LUA_TSTRING)
            luaL_error(L, "notifier '%s': '%s' must be a string, got a %s", name, o->name,
                       luaL_typename(L, -1));
        set_opt(v, o->name, o->type, strdup(lua_tostring(L, -1)));
        break;
    case HERALD_OPT_INT:
        if (!lua_isinteger(L, -1))
            luaL_error(L, "notifier '%s': '%s' must be an integer, got a %s", name, o->name,
                       luaL_typename(L, -1));
        snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, -1));
        set_opt(v, o->name, o->type, strdup(buf));
        break;
    case HERALD_OPT_BOOL:
        if (t != LUA_TBOOLEAN)
            luaL_error(L, "notifier '%s': '%s' must be true or false, got a %s", name, o->name,
                       luaL_typename(L, -1));
        set_opt(v, o->name, o->type, strdup(lua_toboolean(L, -1) ? "1" : "0"));
        break;
    case HERALD_OPT_DURATION: {
        lua_pop(L, 1);
        int64_t ms = opt_duration_field(L, 1, o->name, 0, "notifier", name);
        snprintf(buf, sizeof buf, "%lld", (long long)ms);
        set_opt(v, o->name, o->type, strdup(buf));
        return 1;
    }
    case HERALD_OPT_MAP: {
        if (t != LUA_TTABLE)
            luaL_error(L, "notifier '%s': '%s' must be a table of names to strings, got a %s", name,
                       o->name, luaL_typename(L, -1));
        set_opt(v, o->name, o->type, NULL);
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            n++;
            lua_pop(L, 1);
        }
        v->map_keys = calloc(n + 1, sizeof(char *));
        v->map_vals = calloc(n + 1, sizeof(char *));
        if (!v->map_keys || !v->map_vals) luaL_error(L, "out of memory");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "notifier '%s': '%s' must map names to strings", name, o->name);
            v->map_keys[v->map_n] = strdup(lua_tostring(L, -2));
            v->map_vals[v->map_n] = strdup(lua_tostring(L, -1));
            v->map_n++;
            lua_pop(L, 1);
        }
        break;
    }
    case HERALD_OPT_LIST:
        read_list_opt(L, o, v, name);
        break;
    default:
        luaL_error(L, "notifier '%s': option '%s' has an unknown type in its plugin", name,
                   o->name);
    }
    lua_pop(L, 1);
    return 1;
}

const char *const config_notifier_keys[] = {"type",     "retry_min", "retry_max", "give_up_after",
                                            "throttle", "digest",    "quiet",     NULL};

static void declare_notifier(lua_State *L, struct loader *ld, const char *name)
{
    const char *const *keys = config_notifier_keys;
    struct config *cfg = ld->cfg;
    lua_getfield(L, 1, "type");
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "notifier '%s': needs type = \"…\" (a notifier plugin's name)", name);
    const char *type = lua_tostring(L, -1);
    const struct herald_plugin *p = plugin_find(ld->env->plugins, type);
    if (!p) p = lua_notifier_find(L, type);
    if (!p) {
        char names[512];
        plugin_names(ld->env->plugins, names, sizeof names);
        lua_notifier_names(L, names, sizeof names);
        luaL_error(L, "notifier '%s': unknown type '%s' (available: %s)", name, type, names);
    }
    lua_pop(L, 1);
    check_keys(L, 1, keys, p->options, "notifier", name);

    if (GROW(cfg->notifiers, cfg->n_notifiers, ld->cap_notifiers) != 0)
        luaL_error(L, "out of memory");
    struct cfg_notifier *n = &cfg->notifiers[cfg->n_notifiers++];
    n->name = strdup(name);
    n->type = strdup(p->name);
    n->plugin = p;
    caller_pos(L, &n->file, &n->line);
    n->retry_min_ms = opt_duration_field(L, 1, "retry_min", 10 * 1000, "notifier", name);
    n->retry_max_ms = opt_duration_field(L, 1, "retry_max", 60 * 60 * 1000, "notifier", name);
    n->give_up_ms = opt_duration_field(L, 1, "give_up_after", 7LL * 86400 * 1000, "notifier", name);
    read_hold(L, &n->hold, "notifier", name);
    size_t count = 0;
    for (const struct herald_opt_spec *o = p->options; o && o->name; o++)
        count++;
    n->opts.v = calloc(count + 1, sizeof *n->opts.v);
    if (!n->opts.v) luaL_error(L, "out of memory");
    for (const struct herald_opt_spec *o = p->options; o && o->name; o++)
        if (read_plugin_opt(L, o, &n->opts.v[n->opts.n], name)) n->opts.n++;
}

/* ---- rules and concepts --------------------------------------------------------------- */

static void read_notify(lua_State *L, struct cfg_rule *r, const char *name)
{
    lua_getfield(L, 1, "notify");
    if (lua_type(L, -1) == LUA_TSTRING) {
        r->notify = calloc(1, sizeof(char *));
        if (!r->notify) luaL_error(L, "out of memory");
        r->notify[0] = strdup(lua_tostring(L, -1));
        r->n_notify = 1;
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        size_t n = (size_t)lua_rawlen(L, -1);
        r->notify = calloc(n + 1, sizeof(char *));
        if (!r->notify) luaL_error(L, "out of memory");
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "rule '%s': notify must list notifier names (item %d is a %s)", name,
                           (int)i, luaL_typename(L, -1));
            r->notify[r->n_notify++] = strdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "rule '%s': notify must be a notifier name or a list of names, got a %s",
                   name, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
}

static void declare_rule(lua_State *L, struct loader *ld, const char *name)
{
    static const char *const keys[] = {"query",  "match",    "notify", "lang",  "stem",
                                       "budget", "throttle", "digest", "quiet", NULL};
    struct config *cfg = ld->cfg;
    check_keys(L, 1, keys, NULL, "rule", name);
    lua_getfield(L, 1, "match");
    int has_match = lua_type(L, -1) == LUA_TFUNCTION;
    if (!has_match && !lua_isnil(L, -1))
        luaL_error(L, "rule '%s': match must be a function(a) … end, got a %s", name,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    char *query = opt_str_field(L, 1, "query", "rule", name);
    if (!query && !has_match)
        luaL_error(L, "rule '%s': needs a query = \"…\" or a match function", name);
    if (GROW(cfg->rules, cfg->n_rules, ld->cap_rules) != 0) {
        free(query);
        luaL_error(L, "out of memory");
    }
    struct cfg_rule *r = &cfg->rules[cfg->n_rules++];
    r->name = strdup(name);
    r->query_src = query;
    r->match_ref = LUA_NOREF;
    caller_pos(L, &r->file, &r->line);
    r->lang = opt_str_field(L, 1, "lang", "rule", name);
    r->stem = opt_bool_field(L, 1, "stem", 1, "rule", name);
    long long budget = opt_int_field(L, 1, "budget", RULE_BUDGET, "rule", name);
    if (budget <= 0) luaL_error(L, "rule '%s': budget must be a positive instruction count", name);
    r->budget = (long)budget;
    read_notify(L, r, name);
    read_hold(L, &r->hold, "rule", name);
    if (has_match) {
        lua_getfield(L, 1, "match");
        r->match_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
}

static void declare_concept(lua_State *L, struct loader *ld, const char *name)
{
    size_t n = (size_t)lua_rawlen(L, 1);
    if (n == 0)
        luaL_error(L, "concept '%s': needs a list of forms, e.g. { \"leave\", \"exit\" }", name);
    const char **forms = calloc(n, sizeof(char *));
    if (!forms) luaL_error(L, "out of memory");
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i);
        if (lua_type(L, -1) != LUA_TSTRING) {
            free(forms);
            luaL_error(L, "concept '%s': item %d must be a string, got a %s", name, (int)i,
                       luaL_typename(L, -1));
        }
        forms[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive: it is in the table */
    }
    struct query_error qe = {0};
    int rc = concepts_add(ld->cfg->concepts, name, forms, n, &qe);
    free(forms);
    if (rc != 0) luaL_error(L, "concept '%s': %s", name, qe.msg);
}

/* A parser cap of herald.options: absent → 0 (the parser's default), else 1..max. */
/* A parser cap from herald.options; `current` (the value so far, 0 for the default) when
 * the key is absent, so a second herald.options call does not reset it. */
static long long opt_cap_field(lua_State *L, const char *key, long long current, long long max)
{
    long long v = opt_int_field(L, 1, key, current, "options", "herald");
    lua_getfield(L, 1, key);
    int given = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (given && (v <= 0 || v > max))
        luaL_error(L, "options: %s must be an integer from 1 to %I", key, (lua_Integer)max);
    return v;
}

static int l_options(lua_State *L)
{
    static const char *const keys[] = {
        "state_dir",          "log_level", "user_agent", "every", "max_concurrent", "max_per_host",
        "max_document_bytes", "max_items", "max_depth",  "proxy", "retention",      NULL};
    struct loader *ld = live_loader(L, "options");
    struct config *cfg = ld->cfg;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_keys(L, 1, keys, NULL, "options", "herald.options");
    char *sd = opt_str_field(L, 1, "state_dir", "options", "herald.options");
    if (sd) {
        free(cfg->state_dir);
        char *e = path_expand(sd);
        free(sd);
        cfg->state_dir = e && e[0] != '/' ? path_join(cfg->dir, e) : e;
        if (e && e[0] != '/') free(e);
    }
    char *lvl = opt_str_field(L, 1, "log_level", "options", "herald.options");
    if (lvl) {
        int l = log_level_parse(lvl);
        free(lvl);
        if (l < 0)
            luaL_error(L, "options: log_level must be \"error\", \"warn\", \"info\" or \"debug\"");
        cfg->log_level = l;
    }
    char *ua = opt_str_field(L, 1, "user_agent", "options", "herald.options");
    if (ua) {
        free(cfg->user_agent);
        cfg->user_agent = ua;
    }
    char *proxy = opt_str_field(L, 1, "proxy", "options", "herald.options");
    if (proxy) {
        free(cfg->proxy);
        cfg->proxy = proxy;
    }
    cfg->default_every_ms =
        opt_duration_field(L, 1, "every", cfg->default_every_ms, "options", "herald.options");
    cfg->retention_ms =
        opt_duration_field(L, 1, "retention", cfg->retention_ms, "options", "herald.options");
    cfg->max_concurrent =
        (long)opt_int_field(L, 1, "max_concurrent", cfg->max_concurrent, "options", "herald");
    cfg->max_per_host =
        (long)opt_int_field(L, 1, "max_per_host", cfg->max_per_host, "options", "herald");
    if (cfg->max_concurrent <= 0 || cfg->max_per_host <= 0)
        luaL_error(L, "options: max_concurrent and max_per_host must be positive");
    cfg->max_document_bytes = (size_t)opt_cap_field(L, "max_document_bytes",
                                                    (long long)cfg->max_document_bytes, INT32_MAX);
    cfg->max_items = (size_t)opt_cap_field(L, "max_items", (long long)cfg->max_items, INT32_MAX);
    cfg->max_depth = (int)opt_cap_field(L, "max_depth", cfg->max_depth, INT_MAX);
    return 0;
}

/* A list of file names: one string or a list of strings; paths relative to the file that
 * declares them are made absolute so `herald test --check` works from any directory. */
static char *resolve_file(const char *base, const char *f)
{
    char *joined = f[0] == '/' ? strdup(f) : path_join(base, f);
    char real[PATH_MAX];
    if (joined && realpath(joined, real)) {
        free(joined);
        return strdup(real);
    }
    return joined;
}

static char **read_files(lua_State *L, const char *base, const char *key, size_t *n)
{
    *n = 0;
    lua_getfield(L, 1, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        lua_newtable(L);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "expect: '%s' must be a file name or a list of file names", key);
    size_t count = (size_t)lua_rawlen(L, -1);
    char **v = calloc(count + 1, sizeof *v);
    if (!v) luaL_error(L, "out of memory");
    for (size_t i = 1; i <= count; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        if (lua_type(L, -1) != LUA_TSTRING) {
            free(v);
            luaL_error(L, "expect: '%s' item %d must be a file name", key, (int)i);
        }
        const char *f = lua_tostring(L, -1);
        v[(*n)++] = resolve_file(base, f);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v;
}

static int l_expect(lua_State *L)
{
    static const char *const keys[] = {"rule", "fires", "not_fires", NULL};
    struct loader *ld = live_loader(L, "expect");
    struct config *cfg = ld->cfg;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_keys(L, 1, keys, NULL, "expect", "herald.expect");
    lua_getfield(L, 1, "rule");
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "herald.expect needs rule = \"name\" and fires = / not_fires = files");
    lua_pop(L, 1);
    struct cfg_expect *grown = realloc(cfg->expects, (cfg->n_expects + 1) * sizeof *grown);
    if (!grown) return luaL_error(L, "out of memory");
    cfg->expects = grown;
    struct cfg_expect *e = &cfg->expects[cfg->n_expects++];
    memset(e, 0, sizeof *e);
    e->rule = opt_str_field(L, 1, "rule", "expect", "herald.expect");
    caller_pos(L, &e->file, &e->line);
    char *base = path_dirname(e->file);
    if (!base) return luaL_error(L, "out of memory");
    e->fires = read_files(L, base, "fires", &e->n_fires);
    e->not_fires = read_files(L, base, "not_fires", &e->n_not_fires);
    free(base);
    if (!e->n_fires && !e->n_not_fires)
        return luaL_error(L, "expect '%s': give fires = or not_fires = (article files)", e->rule);
    return 0;
}

static void push_decl(lua_State *L, struct loader *ld, const char *what, declare_fn fn)
{
    lua_pushlightuserdata(L, ld);
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushstring(L, what);
    lua_pushcclosure(L, decl_entry, 3);
    lua_setfield(L, -2, what);
}

/* Runs inside a protected call: builds the `herald` table and runs the file. */
static int run_config(lua_State *L)
{
    struct loader *ld = lua_touserdata(L, 1);
    const char *path = lua_tostring(L, 2);
    lua_newtable(L);
    push_decl(L, ld, "source", declare_source);
    push_decl(L, ld, "notifier", declare_notifier);
    push_decl(L, ld, "rule", declare_rule);
    push_decl(L, ld, "concept", declare_concept);
    lua_pushlightuserdata(L, ld);
    lua_pushcclosure(L, l_options, 1);
    lua_setfield(L, -2, "options");
    lua_pushlightuserdata(L, ld);
    lua_pushcclosure(L, l_expect, 1);
    lua_setfield(L, -2, "expect");
    lua_pushstring(L, HERALD_VERSION);
    lua_setfield(L, -2, "version");
    if (ld->env->state_dir) {
        lua_pushstring(L, ld->env->state_dir);
        lua_setfield(L, -2, "state_dir");
    }
    lua_notifier_open(L, ld->env->plugins);
    lua_setglobal(L, "herald");
    lua_pushlightuserdata(L, ld);
    lua_setfield(L, LUA_REGISTRYINDEX, "herald.loader");
    if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
    lua_call(L, 0, 0);
    /* Declarations are over: later calls (from a rule or a send) get an error. */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "herald.loader");
    lua_notifier_seal(L);
    return 0;
}

/* ---- validation after the file ran ---------------------------------------------------- */

static void add_error(char *err, size_t errlen, const char *file, int line, const char *fmt,
                      const char *a, const char *b)
{
    size_t off = strlen(err);
    if (off + 2 >= errlen) return;
    char msg[768];
    snprintf(msg, sizeof msg, fmt, a, b);
    snprintf(err + off, errlen - off, "%s%s:%d: %s", off ? "\n" : "", file, line, msg);
}

static int validate(struct config *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    for (size_t i = 0; i < cfg->n_rules; i++) {
        struct cfg_rule *r = &cfg->rules[i];
        for (size_t j = 0; j < r->n_notify; j++)
            if (config_notifier_index(cfg, r->notify[j]) < 0)
                add_error(err, errlen, r->file, r->line,
                          "rule '%s' notifies '%s', which is not a declared notifier", r->name,
                          r->notify[j]);
        if (!r->query_src) continue;
        struct query_options qo = {.lang = r->lang, .stem = r->stem};
        struct query_error qe = {0};
        if (query_compile(r->query_src, cfg->concepts, &qo, &r->query, &qe) != 0) {
            char msg[400];
            if (qe.col > 0)
                snprintf(msg, sizeof msg, "%s at col %d", qe.msg, qe.col);
            else
                snprintf(msg, sizeof msg, "%s", qe.msg);
            add_error(err, errlen, r->file, r->line, "rule '%s': query: %s", r->name, msg);
        }
    }
    for (size_t i = 0; i < cfg->n_expects; i++) {
        const struct cfg_expect *e = &cfg->expects[i];
        int known = 0;
        for (size_t j = 0; j < cfg->n_rules && !known; j++)
            known = strcmp(cfg->rules[j].name, e->rule) == 0;
        if (!known)
            add_error(err, errlen, e->file, e->line, "expect: no rule named '%s'%s", e->rule, "");
    }
    if (err[0]) return -1;
    cfg->index = rule_index_new();
    if (!cfg->index) {
        snprintf(err, errlen, "%s: out of memory", cfg->path);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (rule_index_add(cfg->index, i, cfg->rules[i].query) != 0) {
            snprintf(err, errlen, "%s: out of memory", cfg->path);
            return -1;
        }
    return 0;
}

static void add_file(void *arg, const char *path)
{
    struct config *cfg = arg;
    char **v = realloc(cfg->files, (cfg->n_files + 1) * sizeof *v);
    if (!v) return;
    cfg->files = v;
    char *copy = strdup(path);
    if (copy) cfg->files[cfg->n_files++] = copy;
}

int config_load(const char *path, const struct config_env *env, struct config **out, char *err,
                size_t errlen)
{
    struct config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    cfg->path = strdup(path);
    cfg->dir = path_dirname(path);
    cfg->log_level = -1;
    cfg->default_every_ms = 15 * 60 * 1000;
    cfg->retention_ms = 90LL * 86400 * 1000;
    cfg->max_concurrent = 64;
    cfg->max_per_host = 6;
    cfg->concepts = concepts_new();
    FILE *probe = fopen(path, "r");
    if (!probe) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open config: %s%s", path, strerror(e),
                 e == ENOENT ? " (start from the example " HERALD_DATA_DIR
                               "/herald.lua, scripts/herald.lua in the source, or give "
                               "another file with -c FILE)"
                             : "");
        config_free(cfg);
        return -1;
    }
    fclose(probe);
    struct sandbox_options so = {.config_dir = cfg->dir,
                                 .library_dir = env->library_dir,
                                 .print = env->print,
                                 .print_arg = env->print_arg,
                                 .loaded = add_file,
                                 .loaded_arg = cfg};
    add_file(cfg, path);
    char sberr[256];
    cfg->sb = sandbox_new(&so, sberr, sizeof sberr);
    if (!cfg->sb || !cfg->concepts || !cfg->path || !cfg->dir) {
        snprintf(err, errlen, "%s: %s", path, cfg->sb ? "out of memory" : sberr);
        config_free(cfg);
        return -1;
    }
    lua_State *L = sandbox_state(cfg->sb);
    struct loader ld = {.cfg = cfg, .env = env};
    lua_pushcfunction(L, run_config);
    lua_pushlightuserdata(L, &ld);
    lua_pushstring(L, path);
    if (sandbox_pcall(cfg->sb, 2, 0, CONFIG_BUDGET) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg && strncmp(msg, path, strlen(path)) == 0)
            snprintf(err, errlen, "%s", msg);
        else
            snprintf(err, errlen, "%s: %s", path, msg ? msg : "error");
        config_free(cfg);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_sources; i++)
        source_bounds(&cfg->sources[i], cfg);
    if (validate(cfg, err, errlen) != 0) {
        config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

void config_hold(struct config *c)
{
    c->holds++;
}

void config_release(struct config *c)
{
    if (--c->holds == 0 && c->doomed) config_free(c);
}

void config_free(struct config *c)
{
    if (!c) return;
    if (c->holds > 0) {
        c->doomed = 1; /* a parse job still reads its rules: freed by the last release */
        return;
    }
    for (size_t i = 0; i < c->n_sources; i++) {
        struct cfg_source *s = &c->sources[i];
        free(s->name);
        free(s->url);
        free(s->kind);
        free(s->lang);
        free(s->proxy);
        free(s->user_agent);
        free(s->file);
    }
    free(c->sources);
    for (size_t i = 0; i < c->n_notifiers; i++) {
        struct cfg_notifier *n = &c->notifiers[i];
        free(n->name);
        free(n->type);
        free(n->file);
        opts_free(&n->opts);
    }
    free(c->notifiers);
    rule_index_free(c->index);
    for (size_t i = 0; i < c->n_rules; i++) {
        struct cfg_rule *r = &c->rules[i];
        free(r->name);
        free(r->query_src);
        query_free(r->query);
        for (size_t j = 0; j < r->n_notify; j++)
            free(r->notify[j]);
        free(r->notify);
        free(r->lang);
        free(r->file);
    }
    free(c->rules);
    for (size_t i = 0; i < c->n_expects; i++) {
        struct cfg_expect *e = &c->expects[i];
        for (size_t j = 0; j < e->n_fires; j++)
            free(e->fires[j]);
        for (size_t j = 0; j < e->n_not_fires; j++)
            free(e->not_fires[j]);
        free(e->fires);
        free(e->not_fires);
        free(e->rule);
        free(e->file);
    }
    free(c->expects);
    for (size_t i = 0; i < c->n_files; i++)
        free(c->files[i]);
    free(c->files);
    concepts_free(c->concepts);
    lua_notifier_release(c->sb); /* closed now, or when its Lua notifiers' last delivery ends */
    free(c->state_dir);
    free(c->user_agent);
    free(c->proxy);
    free(c->path);
    free(c->dir);
    free(c);
}

long config_notifier_index(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->n_notifiers; i++)
        if (strcmp(c->notifiers[i].name, name) == 0) return (long)i;
    return -1;
}

const struct cfg_source *config_source(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->n_sources; i++)
        if (strcmp(c->sources[i].name, name) == 0) return &c->sources[i];
    return NULL;
}
