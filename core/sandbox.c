/*
 * sandbox — a locked-down Lua 5.4 state (after redis's script_lua.c and mpv's lua.c).
 *
 * Globals are built from an allow-list rather than by deleting from a full environment, so
 * a library added to Lua later cannot leak in. Two holes the usual sandboxes leave open are
 * closed: `getmetatable("")` returns a placeholder instead of the real string metatable,
 * and `string.rep` is capped because the instruction hook never fires inside one C call.
 * The budget hook, once tripped, re-arms itself on every instruction so a rule's own pcall
 * cannot swallow the stop.
 */
#include "sandbox.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HOOK_EVERY = 1000 };

struct sandbox {
    lua_State *L;
    size_t used, limit;
    int over_limit;
    long budget_left; /* in units of HOOK_EVERY instructions */
    int tripped;
    char *config_dir;
    char *library_dir;
    void (*print)(void *arg, const char *line);
    void *print_arg;
    void (*loaded)(void *arg, const char *path);
    void *loaded_arg;
};

static const char BUDGET_MSG[] = "instruction budget exceeded";

static void *on_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    /* When ptr is NULL, osize encodes the kind of object, not a size. */
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && sb->used - old + nsize > sb->limit) {
        sb->over_limit = 1;
        return NULL;
    }
    void *np = realloc(ptr, nsize);
    if (!np) return NULL;
    sb->used = sb->used - old + nsize;
    return np;
}

struct sandbox *sandbox_of(lua_State *L)
{
    return *(struct sandbox **)lua_getextraspace(L);
}

static void on_count(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct sandbox *sb = sandbox_of(L);
    if (sb->tripped || --sb->budget_left <= 0) {
        sb->tripped = 1;
        /* From now on fire on every instruction, so a pcall inside the rule that caught
         * this error runs into it again at once. */
        lua_sethook(L, on_count, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", BUDGET_MSG);
    }
}

/* print(...) → one log line through the sandbox's print callback. */
static int l_print(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    if (sb->print) sb->print(sb->print_arg, lua_tostring(L, -1));
    return 0;
}

/* load(chunk [, name [, mode [, env]]]) restricted to text chunks. */
static int l_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b')) return luaL_error(L, "load: binary chunks are not allowed in herald");
    int has_env = !lua_isnone(L, 4);
    if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (has_env) {
        lua_pushvalue(L, 4);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

static int l_string_rep(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    size_t seplen = 0;
    if (!lua_isnoneornil(L, 3)) luaL_checklstring(L, 3, &seplen);
    double total = n > 0 ? (double)n * (double)(len + seplen) : 0;
    double room = (double)(sb->limit > sb->used ? sb->limit - sb->used : 0);
    if (total > room / 2 || total > 64.0 * 1024 * 1024) {
        /* lua_pushfstring knows no precision, so format the number here. */
        char msg[128];
        snprintf(msg, sizeof msg, "string.rep: a result of %.0f bytes exceeds the memory limit",
                 total);
        return luaL_error(L, "%s", msg);
    }
    lua_getfield(L, lua_upvalueindex(1), "rep");
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int valid_module_name(const char *s)
{
    if (!*s || *s == '.') return 0;
    for (const char *p = s; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')) return 0;
        if (p[0] == '.' && p[1] == '.') return 0;
    }
    return 1;
}

/* require(name): modules from the config's folder, then herald's Lua library; nothing
 * else (no C modules, no package.path). */
static int l_require(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "herald.loaded");
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    if (!valid_module_name(name))
        return luaL_error(L, "require: bad module name '%s' (letters, digits, _ - and dots)", name);
    char rel[512];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *p = rel; *p; p++)
        if (*p == '.') *p = '/';
    const char *dirs[2] = {sb->config_dir, sb->library_dir};
    char path[1024];
    int found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/%s.lua", dirs[i], rel);
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            found = 1;
        }
    }
    if (!found)
        return luaL_error(L, "module '%s' not found (looked in %s/%s.lua%s%s%s)", name,
                          sb->config_dir ? sb->config_dir : ".", rel,
                          sb->library_dir ? " and " : "", sb->library_dir ? sb->library_dir : "",
                          sb->library_dir ? "/…" : "");
    if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
    /* Once the owner has let go of the state (lua_notifier_release sets this registry flag
     * while a notifier's send still runs in it), loaded_arg may be gone. */
    lua_getfield(L, LUA_REGISTRYINDEX, "herald.sandbox.detached");
    int detached = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (sb->loaded && !detached) sb->loaded(sb->loaded_arg, path);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

static void copy_fields(lua_State *L, const char *lib, const char *const *names)
{
    /* stack: new table; the library table is a global of the full state */
    lua_getglobal(L, lib);
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, -3, *n);
    }
    lua_pop(L, 1);
}

static int open_all(lua_State *L)
{
    struct sandbox *sb = lua_touserdata(L, 1);
    luaL_openlibs(L);

    static const char *const base[] = {"assert",       "error",    "ipairs",   "next",
                                       "pairs",        "pcall",    "rawequal", "rawget",
                                       "rawlen",       "rawset",   "select",   "setmetatable",
                                       "getmetatable", "tonumber", "tostring", "type",
                                       "xpcall",       "_VERSION", NULL};
    static const char *const string_fns[] = {
        "byte",  "char",    "find", "format", "gmatch", "gsub",     "len",    "lower",
        "match", "reverse", "sub",  "upper",  "pack",   "packsize", "unpack", NULL};
    static const char *const table_fns[] = {"concat", "insert", "move",   "pack",
                                            "remove", "sort",   "unpack", NULL};
    static const char *const math_fns[] = {
        "abs",       "ceil", "cos",    "deg",        "exp",  "floor",      "fmod",
        "huge",      "log",  "max",    "maxinteger", "min",  "mininteger", "modf",
        "pi",        "rad",  "random", "randomseed", "sin",  "sqrt",       "tan",
        "tointeger", "type", "ult",    "atan",       "asin", "acos",       NULL};
    static const char *const utf8_fns[] = {"char", "charpattern", "codes", "codepoint",
                                           "len",  "offset",      NULL};
    static const char *const os_fns[] = {"time", "date", "clock", "difftime", NULL};

    /* The new global table, built from the allow-list. */
    lua_newtable(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    for (const char *const *n = base; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, -3, *n);
    }
    lua_pop(L, 1);

    struct {
        const char *name;
        const char *const *fns;
    } libs[] = {{"string", string_fns},
                {"table", table_fns},
                {"math", math_fns},
                {"utf8", utf8_fns},
                {"os", os_fns}};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_newtable(L);
        copy_fields(L, libs[i].name, libs[i].fns);
        lua_setfield(L, -2, libs[i].name);
    }
    /* string.rep with a cap; the real one is its upvalue. */
    lua_getfield(L, -1, "string");
    lua_getglobal(L, "string");
    lua_pushcclosure(L, l_string_rep, 1);
    lua_setfield(L, -2, "rep");
    lua_pop(L, 1);

    lua_pushcfunction(L, l_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, l_require);
    lua_setfield(L, -2, "require");
    lua_getfield(L, -1, "table");
    lua_getfield(L, -1, "unpack");
    lua_setfield(L, -3, "unpack");
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");

    /* Strings index the sandbox's own string table, and their metatable is hidden. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, -3, "string");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "string");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* Swap in the new globals; the full libraries become unreachable and are collected. */
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "herald.loaded");
    (void)sb;
    return 0;
}

struct sandbox *sandbox_new(const struct sandbox_options *opt, char *err, size_t errlen)
{
    struct sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sb->limit = opt && opt->memory_limit ? opt->memory_limit : (size_t)256 << 20;
    if (opt) {
        sb->print = opt->print;
        sb->print_arg = opt->print_arg;
        sb->loaded = opt->loaded;
        sb->loaded_arg = opt->loaded_arg;
        sb->config_dir = opt->config_dir ? strdup(opt->config_dir) : NULL;
        sb->library_dir = opt->library_dir ? strdup(opt->library_dir) : NULL;
    }
    sb->L = lua_newstate(on_alloc, sb);
    if (!sb->L) {
        snprintf(err, errlen, "cannot create a Lua state");
        sandbox_free(sb);
        return NULL;
    }
    *(struct sandbox **)lua_getextraspace(sb->L) = sb;
    /* Set-up runs inside one protected call so running out of memory there is an error,
     * not a panic. */
    lua_pushcfunction(sb->L, open_all);
    lua_pushlightuserdata(sb->L, sb);
    if (lua_pcall(sb->L, 1, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "cannot set up the Lua sandbox: %s", lua_tostring(sb->L, -1));
        sandbox_free(sb);
        return NULL;
    }
    return sb;
}

void sandbox_free(struct sandbox *sb)
{
    if (!sb) return;
    if (sb->L) lua_close(sb->L);
    free(sb->config_dir);
    free(sb->library_dir);
    free(sb);
}

lua_State *sandbox_state(struct sandbox *sb)
{
    return sb->L;
}

size_t sandbox_memory(const struct sandbox *sb)
{
    return sb->used;
}

static int msghandler(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    const char *msg = lua_tostring(L, 1);
    if (sb->tripped) {
        lua_pushstring(L, BUDGET_MSG);
        return 1;
    }
    if (sb->over_limit) {
        lua_pushstring(L, "memory limit exceeded");
        return 1;
    }
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    /* One line: errors end up in log lines and `herald check` output, where the
     * "file:line: message" the error already carries is what a user needs. */
    lua_pushstring(L, msg);
    return 1;
}

int sandbox_pcall(struct sandbox *sb, int nargs, int nresults, long budget)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    sb->tripped = 0;
    sb->over_limit = 0;
    if (budget > 0) {
        sb->budget_left = budget / HOOK_EVERY + 1;
        lua_sethook(L, on_count, LUA_MASKCOUNT, HOOK_EVERY);
    }
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_sethook(L, NULL, 0, 0);
    if (rc != LUA_OK && sb->over_limit && !sb->tripped) {
        lua_pop(L, 1);
        lua_pushstring(L, "memory limit exceeded");
    }
    sb->tripped = 0;
    sb->over_limit = 0;
    lua_remove(L, base);
    /* Let the collector reclaim what a failed or greedy call left behind. */
    if (rc != LUA_OK) lua_gc(L, LUA_GCCOLLECT);
    return rc;
}

int sandbox_dofile(struct sandbox *sb, const char *path, long budget)
{
    if (luaL_loadfilex(sb->L, path, "t") != LUA_OK) return 1;
    return sandbox_pcall(sb, 0, 0, budget);
}
