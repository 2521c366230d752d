/*
 * lua_notifier — notifier types written in Lua, presented to the core as C plugins.
 *
 * `herald.notifier_type "name" { options = …, send = function(alert, opts) … end }` makes
 * one `struct lua_type`, whose first member is a `struct herald_plugin` with init/deliver/
 * fini implemented here: config.c validates `herald.notifier { type = "name", … }` against
 * its option table like any plugin's, and the outbox delivers through it with the same
 * ordering, retries and dead letters. A delivery runs `send` as a coroutine of the config's
 * Lua state on the loop thread; `herald.http.request` starts the host's asynchronous HTTP
 * request and yields, and the completion callback resumes the coroutine with the response.
 * Every resume runs under an instruction budget (a count hook on the coroutine, re-armed on
 * every instruction once tripped, as in sandbox.c) and the state's memory cap.
 *
 * The types of one Lua state live in a `struct lua_types` found through the state's
 * registry. It is reference counted — by the config, by each instance, by each delivery —
 * and closes the state when the last reference goes, so a reload may free the config while
 * a delivery of the old one waits for its HTTP response.
 */
#include "lua_notifier.h"

#include "alert.h"
#include "config.h"
#include "lua_json.h"
#include "util.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    HOOK_EVERY = 1000,
    DEFAULT_BUDGET = 5 * 1000 * 1000, /* instructions per resume, as a rule's match */
    MAX_OPTIONS = 64,
    MAX_TYPES = 256,
    MAX_REQUESTS = 16, /* per delivery: each bounded by its timeout, so the whole send is */
    MAX_HEADERS = 64,
    DEFAULT_TIMEOUT_MS = 15 * 1000,
    MAX_TIMEOUT_MS = 10 * 60 * 1000,
    MAX_URL = 8192,
    MAX_BODY = 16 << 20,
    MAX_REASON = 300,
    MAX_RETRY_AFTER_S = 7 * 86400,
};

#define TYPE_MAGIC 0x4c4e5459u
/* Read by sandbox.c's require(): once set, modules loaded are no longer reported to the
 * config, which may already be freed. */
#define DETACHED_KEY "herald.sandbox.detached"

static const char REG_KEY = 0; /* registry key of the state's struct lua_types */

struct lua_delivery;

struct lua_types {
    struct sandbox *sb;
    lua_State *L;
    long refs; /* the config, each instance, each delivery in flight */
    int sealed;
    const struct plugin_registry *plugins; /* while the config loads */
    struct lua_type **v;
    size_t n, cap;
    struct lua_delivery *current; /* whose coroutine is running now */
};

struct lua_type {
    struct herald_plugin plugin; /* first: the core only ever sees this */
    unsigned magic;
    struct lua_types *owner;
    char *name;
    char *description;
    char *where; /* "file:line" of the declaration */
    struct herald_opt_spec *options;
    size_t n_options;
    int send_ref;
    long budget;
};

/* One instance: a `herald.notifier` of a Lua type. */
struct lua_inst {
    struct lua_type *type;
    const struct herald_host *host;
    int opts_ref;
};

/* One HTTP request in flight; its buffers live until the callback. */
struct lua_http {
    char *method, *url, *body;
    size_t body_len;
    char **headers;
    size_t n_headers;
    long timeout_ms;
};

struct lua_delivery {
    struct lua_inst *inst;
    struct herald_delivery *d;
    lua_State *co;
    int co_ref;
    int running;  /* inside lua_resume */
    int waiting;  /* a request is in flight */
    int answered; /* its response arrived and is not yet handed to Lua */
    int requests;
    long budget_left; /* in units of HOOK_EVERY instructions */
    int tripped;
    char where[200]; /* where the budget stopped it */
    struct lua_http *req;
    long status;
    char *error;
    char *body;
    size_t body_len;
    long retry_after;
};

static int type_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                     char *err, size_t errlen);
static int type_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d);
static void type_fini(void *state);

/* ---- the registry of types ------------------------------------------------------------- */

static struct lua_types *types_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &REG_KEY);
    struct lua_types *t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return t;
}

static void type_free(struct lua_type *t)
{
    for (size_t i = 0; i < t->n_options; i++) {
        free((char *)t->options[i].name);
        free((char *)t->options[i].default_value);
        free((char *)t->options[i].help);
    }
    free(t->options);
    free(t->name);
    free(t->description);
    free(t->where);
    free(t);
}

/* Drop one reference; the last one closes the Lua state. */
static void types_unref(struct lua_types *o)
{
    if (--o->refs > 0) return;
    for (size_t i = 0; i < o->n; i++)
        type_free(o->v[i]);
    free(o->v);
    sandbox_free(o->sb);
    free(o);
}

void lua_notifier_release(struct sandbox *sb)
{
    if (!sb) return;
    lua_State *L = sandbox_state(sb);
    struct lua_types *o = types_of(L);
    if (!o) {
        sandbox_free(sb);
        return;
    }
    /* The key exists since lua_notifier_open, so this assignment allocates nothing. */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, DETACHED_KEY);
    o->sealed = 1;
    o->plugins = NULL;
    types_unref(o);
}

void lua_notifier_seal(lua_State *L)
{
    struct lua_types *o = types_of(L);
    if (!o) return;
    o->sealed = 1;
    o->plugins = NULL;
}

const struct herald_plugin *lua_notifier_find(lua_State *L, const char *name)
{
    struct lua_types *o = types_of(L);
    for (size_t i = 0; o && i < o->n; i++)
        if (strcmp(o->v[i]->name, name) == 0) return &o->v[i]->plugin;
    return NULL;
}

void lua_notifier_names(lua_State *L, char *buf, size_t n)
{
    struct lua_types *o = types_of(L);
    size_t off = strlen(buf);
    for (size_t i = 0; o && i < o->n && off < n; i++) {
        int w = snprintf(buf + off, n - off, ", %s", o->v[i]->name);
        if (w < 0) break;
        off += (size_t)w;
    }
}

size_t lua_notifier_count(struct sandbox *sb)
{
    struct lua_types *o = sb ? types_of(sandbox_state(sb)) : NULL;
    return o ? o->n : 0;
}

const struct herald_plugin *lua_notifier_at(struct sandbox *sb, size_t i)
{
    struct lua_types *o = sb ? types_of(sandbox_state(sb)) : NULL;
    return o && i < o->n ? &o->v[i]->plugin : NULL;
}

int lua_notifier_is_lua(const struct herald_plugin *p)
{
    return p && p->init == type_init;
}

/* ---- declaring a type ---------------------------------------------------------------- */

static const struct {
    const char *name;
    enum herald_opt_type type;
} OPT_TYPES[] = {
    {"string", HERALD_OPT_STRING},     {"integer", HERALD_OPT_INT}, {"boolean", HERALD_OPT_BOOL},
    {"duration", HERALD_OPT_DURATION}, {"map", HERALD_OPT_MAP},     {"list", HERALD_OPT_LIST},
};

static int valid_type_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static int valid_option_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || (*s >= '0' && *s <= '9')) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

static int opt_type_parse(const char *s, size_t len, enum herald_opt_type *out)
{
    for (size_t i = 0; i < sizeof OPT_TYPES / sizeof OPT_TYPES[0]; i++)
        if (strlen(OPT_TYPES[i].name) == len && strncmp(OPT_TYPES[i].name, s, len) == 0) {
            *out = OPT_TYPES[i].type;
            return 0;
        }
    return -1;
}

static const char *opt_type_name(enum herald_opt_type t)
{
    for (size_t i = 0; i < sizeof OPT_TYPES / sizeof OPT_TYPES[0]; i++)
        if (OPT_TYPES[i].type == t) return OPT_TYPES[i].name;
    return "?";
}

/* One option as read from the declaration, before anything is allocated. */
struct spec_draft {
    const char *name; /* strings stay alive in the declaration's table */
    enum herald_opt_type type;
    int required;
    char deflt[64]; /* textual default, "" for none */
    const char *deflt_str;
    const char *help;
};

/* t[k] of the table at idx without metamethods (pushed); its type. Values read from a
 * user's table are checked and then used, so no __index may hand out something else. */
static int rawfield(lua_State *L, int idx, const char *k)
{
    idx = lua_absindex(L, idx);
    lua_pushstring(L, k);
    return lua_rawget(L, idx);
}

/* Raise "notifier type 'x': option 'o': …" for the declaration being read. */
static int spec_error(lua_State *L, const char *type, const char *opt, const char *msg,
                      const char *arg)
{
    return luaL_error(L, "notifier type '%s': option '%s': %s%s", type, opt, msg, arg ? arg : "");
}

/* The default of a table-form option spec at the top of the stack (value pushed by the
 * caller at index -1) into d; raises on a value that does not fit the type. */
static void read_default(lua_State *L, const char *type, struct spec_draft *d)
{
    int t = lua_type(L, -1);
    switch (d->type) {
    case HERALD_OPT_STRING:
        if (t != LUA_TSTRING) spec_error(L, type, d->name, "default must be a string", NULL);
        d->deflt_str = lua_tostring(L, -1);
        break;
    case HERALD_OPT_INT:
        if (!lua_isinteger(L, -1)) spec_error(L, type, d->name, "default must be an integer", NULL);
        snprintf(d->deflt, sizeof d->deflt, "%lld", (long long)lua_tointeger(L, -1));
        break;
    case HERALD_OPT_BOOL:
        if (t != LUA_TBOOLEAN) spec_error(L, type, d->name, "default must be true or false", NULL);
        snprintf(d->deflt, sizeof d->deflt, "%s", lua_toboolean(L, -1) ? "true" : "false");
        break;
    case HERALD_OPT_DURATION: {
        int64_t ms = 0;
        if (t == LUA_TNUMBER) {
            double s = lua_tonumber(L, -1);
            if (!(s > 0) || s > 1e9)
                spec_error(L, type, d->name, "default must be a positive duration", NULL);
            ms = (int64_t)(s * 1000);
        } else if (t != LUA_TSTRING || duration_parse(lua_tostring(L, -1), &ms) != 0) {
            spec_error(L, type, d->name,
                       "default must be a duration such as \"30s\" or a number of seconds", NULL);
        }
        snprintf(d->deflt, sizeof d->deflt, "%lldms", (long long)(ms > 0 ? ms : 1));
        break;
    }
    default:
        spec_error(L, type, d->name,
                   "map and list options take no default (leave it out: the option is then nil)",
                   NULL);
    }
}

/* Read the option spec at the top of the stack (key at -2) into d. */
static void read_spec(lua_State *L, const char *type, struct spec_draft *d)
{
    if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "notifier type '%s': options must be named (got a %s key)", type,
                   luaL_typename(L, -2));
    memset(d, 0, sizeof *d);
    d->name = lua_tostring(L, -2);
    if (!valid_option_name(d->name))
        spec_error(L, type, d->name, "not a valid name (letters, digits and _)", NULL);
    for (const char *const *k = config_notifier_keys; *k; k++)
        if (strcmp(d->name, *k) == 0 || strcmp(d->name, "name") == 0)
            spec_error(L, type, d->name, "reserved: every notifier has this key", NULL);
    if (lua_type(L, -1) == LUA_TSTRING) {
        /* Shorthand: "string" is required, "string?" optional. */
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        int optional = len > 0 && s[len - 1] == '?';
        if (opt_type_parse(s, optional ? len - 1 : len, &d->type) != 0)
            spec_error(L, type, d->name,
                       "unknown type (string, integer, boolean, duration, map or list, "
                       "with ? when optional): ",
                       s);
        d->required = !optional;
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        spec_error(L, type, d->name,
                   "give a type name (\"string\", \"integer?\", …) or a table { type = …, "
                   "default = … }",
                   NULL);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (strcmp(k, "type") && strcmp(k, "default") && strcmp(k, "required") && strcmp(k, "help"))
            spec_error(L, type, d->name, "unknown key (type, default, required, help): ", k);
        lua_pop(L, 1);
    }
    if (rawfield(L, -1, "type") != LUA_TSTRING ||
        opt_type_parse(lua_tostring(L, -1), lua_rawlen(L, -1), &d->type) != 0)
        spec_error(L, type, d->name,
                   "type must be \"string\", \"integer\", \"boolean\", \"duration\", \"map\" or "
                   "\"list\"",
                   NULL);
    lua_pop(L, 1);
    int has_default = rawfield(L, -1, "default") != LUA_TNIL;
    if (has_default) read_default(L, type, d);
    lua_pop(L, 1);
    int rt = rawfield(L, -1, "required");
    if (rt != LUA_TNIL && rt != LUA_TBOOLEAN)
        spec_error(L, type, d->name, "required must be true or false", NULL);
    d->required = rt == LUA_TNIL ? !has_default : lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (d->required && has_default)
        spec_error(L, type, d->name, "has a default, so it cannot be required", NULL);
    int ht = rawfield(L, -1, "help");
    if (ht != LUA_TNIL && (ht != LUA_TSTRING || lua_rawlen(L, -1) > 200))
        spec_error(L, type, d->name, "help must be a string of at most 200 bytes", NULL);
    d->help = ht == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
}

static int cmp_draft(const void *a, const void *b)
{
    return strcmp(((const struct spec_draft *)a)->name, ((const struct spec_draft *)b)->name);
}

/* Read the `options` table at index `idx` into drafts (at most MAX_OPTIONS), sorted by name
 * so that `herald plugins` and error messages are stable. */
static size_t read_options(lua_State *L, int idx, const char *type, struct spec_draft *drafts)
{
    size_t n = 0;
    if (lua_isnil(L, idx)) return 0;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "notifier type '%s': options must be a table of name = type, got a %s", type,
                   luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (n == MAX_OPTIONS)
            luaL_error(L, "notifier type '%s': more than %d options", type, MAX_OPTIONS);
        read_spec(L, type, &drafts[n++]);
        lua_pop(L, 1);
    }
    qsort(drafts, n, sizeof *drafts, cmp_draft);
    return n;
}

static char *help_text(const struct spec_draft *d, const char *type)
{
    char buf[256];
    if (d->help) return strdup(d->help);
    snprintf(buf, sizeof buf, "%s option of Lua notifier type %s", opt_type_name(d->type), type);
    return strdup(buf);
}

/* Build the C side of a type from validated drafts. NULL when out of memory. */
static struct lua_type *type_new(struct lua_types *o, const char *name, const char *desc,
                                 const char *where, const struct spec_draft *drafts, size_t n)
{
    struct lua_type *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->magic = TYPE_MAGIC;
    t->owner = o;
    t->send_ref = LUA_NOREF;
    t->name = strdup(name);
    t->where = strdup(where);
    char dbuf[512];
    snprintf(dbuf, sizeof dbuf, "Lua notifier type declared at %s", where);
    t->description = strdup(desc ? desc : dbuf);
    t->options = calloc(n + 1, sizeof *t->options);
    int oom = !t->name || !t->where || !t->description || !t->options;
    for (size_t i = 0; !oom && i < n; i++) {
        struct herald_opt_spec *s = &t->options[i];
        const char *dv = drafts[i].deflt_str  ? drafts[i].deflt_str
                         : drafts[i].deflt[0] ? drafts[i].deflt
                                              : NULL;
        s->name = strdup(drafts[i].name);
        s->type = drafts[i].type;
        s->required = drafts[i].required;
        s->default_value = dv ? strdup(dv) : NULL;
        s->help = help_text(&drafts[i], name);
        t->n_options = i + 1;
        oom = !s->name || (dv && !s->default_value) || !s->help;
    }
    if (oom) {
        type_free(t);
        return NULL;
    }
    t->plugin.abi_major = HERALD_ABI_MAJOR;
    t->plugin.abi_minor = HERALD_ABI_MINOR;
    t->plugin.struct_size = sizeof t->plugin;
    t->plugin.name = t->name;
    t->plugin.kind = HERALD_PLUGIN_NOTIFIER;
    t->plugin.description = t->description;
    t->plugin.options = t->options;
    t->plugin.init = type_init;
    t->plugin.deliver = type_deliver;
    t->plugin.fini = type_fini;
    return t;
}

/* The declaration's table is at index 1. */
static void declare_type(lua_State *L, struct lua_types *o, const char *name)
{
    static const char *const keys[] = {"options", "send", "description", "budget"};
    if (o->sealed) luaL_error(L, "herald.notifier_type can only be used while the config loads");
    if (!valid_type_name(name))
        luaL_error(L,
                   "notifier type name '%s' is not valid (1-64 letters, digits, '_', '-' or "
                   "'.')",
                   name);
    if (plugin_find(o->plugins, name))
        luaL_error(L,
                   "notifier type '%s' clashes with the built-in plugin of that name; choose "
                   "another name",
                   name);
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i]->name, name) == 0)
            luaL_error(L, "notifier type '%s' is declared twice (first at %s)", name,
                       o->v[i]->where);
    if (o->n >= MAX_TYPES) luaL_error(L, "more than %d notifier types", MAX_TYPES);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        int ok = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !ok; i++)
            ok = strcmp(k, keys[i]) == 0;
        if (!ok)
            luaL_error(L,
                       "unknown key '%s' in notifier type '%s' (it takes options, send, "
                       "description and budget)",
                       k, name);
    }
    lua_settop(L, 1);
    rawfield(L, 1, "send"); /* 2 */
    if (!lua_isfunction(L, 2))
        luaL_error(L, "notifier type '%s': send must be a function(alert, opts) … end, got a %s",
                   name, luaL_typename(L, 2));
    rawfield(L, 1, "description"); /* 3 */
    if (!lua_isnil(L, 3) && (lua_type(L, 3) != LUA_TSTRING || lua_rawlen(L, 3) > 200))
        luaL_error(L, "notifier type '%s': description must be a string of at most 200 bytes",
                   name);
    rawfield(L, 1, "budget"); /* 4 */
    long budget = DEFAULT_BUDGET;
    if (!lua_isnil(L, 4)) {
        if (!lua_isinteger(L, 4) || lua_tointeger(L, 4) <= 0 || lua_tointeger(L, 4) > 1000000000)
            luaL_error(L, "notifier type '%s': budget must be a positive instruction count", name);
        budget = (long)lua_tointeger(L, 4);
    }
    rawfield(L, 1, "options"); /* 5 */
    struct spec_draft drafts[MAX_OPTIONS];
    size_t n = read_options(L, 5, name, drafts);
    luaL_where(L, 1); /* 6: "file:line: " */
    size_t wl;
    const char *w = lua_tolstring(L, 6, &wl);
    lua_pushlstring(L, w, wl >= 2 ? wl - 2 : wl); /* 7 */
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct lua_type **nv = realloc(o->v, cap * sizeof *nv);
        if (!nv) luaL_error(L, "out of memory");
        o->v = nv;
        o->cap = cap;
    }
    lua_pushvalue(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* From here on nothing raises until the type is registered. */
    struct lua_type *t = type_new(o, name, lua_tostring(L, 3), lua_tostring(L, 7), drafts, n);
    if (!t) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        luaL_error(L, "out of memory");
    }
    t->send_ref = ref;
    t->budget = budget;
    o->v[o->n++] = t;
}

static int l_type_table(lua_State *L)
{
    struct lua_types *o = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "notifier type '%s': expected a table after the name, got a %s", name,
                          luaL_typename(L, 1));
    lua_settop(L, 1);
    declare_type(L, o, name);
    return 0;
}

/* herald.notifier_type "name" { … } or herald.notifier_type { name = "…", … } */
static int l_notifier_type(lua_State *L)
{
    struct lua_types *o = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, 1);
        lua_pushcclosure(L, l_type_table, 2);
        return 1;
    }
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "herald.notifier_type: expected a name string or a table, got a %s",
                          luaL_typename(L, 1));
    lua_settop(L, 1);
    if (rawfield(L, 1, "name") != LUA_TSTRING)
        return luaL_error(L, "herald.notifier_type { … } needs a name: herald.notifier_type "
                             "\"name\" { … } or name = \"…\" in the table");
    /* Copied: the table loses its `name` key, so that the key check does not see it. */
    char name[72];
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    if (len >= sizeof name)
        return luaL_error(L,
                          "notifier type name '%s' is not valid (1-64 letters, digits, '_', "
                          "'-' or '.')",
                          s);
    memcpy(name, s, len + 1);
    lua_pushliteral(L, "name");
    lua_pushnil(L);
    lua_rawset(L, 1);
    lua_settop(L, 1);
    declare_type(L, o, name);
    return 0;
}

/* ---- herald.http.request ------------------------------------------------------------- */

static void http_free(struct lua_http *r)
{
    if (!r) return;
    free(r->method);
    free(r->url);
    free(r->body);
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r);
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int valid_header(const char *name, size_t nl, const char *value, size_t vl)
{
    if (nl == 0 || nl > 256 || vl > 8192) return 0;
    for (size_t i = 0; i < nl; i++)
        if (!is_tchar((unsigned char)name[i])) return 0;
    for (size_t i = 0; i < vl; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') return 0;
    return 1;
}

/* The request table at index 1, checked whole; raises with the caller's file:line. */
static void check_request(lua_State *L, long *timeout_ms)
{
    static const char *const keys[] = {"method", "url", "headers", "body", "timeout"};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        int ok = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !ok; i++)
            ok = strcmp(k, keys[i]) == 0;
        if (!ok)
            luaL_error(L,
                       "herald.http.request: unknown key '%s' (it takes method, url, headers, "
                       "body and timeout)",
                       k);
    }
    size_t ul = 0;
    const char *url = rawfield(L, 1, "url") == LUA_TSTRING ? lua_tolstring(L, -1, &ul) : NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        luaL_error(L, "herald.http.request: url must be a string starting with http:// or "
                      "https://");
    if (ul > MAX_URL || strlen(url) != ul || strpbrk(url, " \t\r\n"))
        luaL_error(L, "herald.http.request: url holds spaces or control characters, or is longer "
                      "than 8192 bytes");
    int mt = rawfield(L, 1, "method");
    if (mt != LUA_TNIL) {
        const char *m = mt == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "PUT") && strcmp(m, "PATCH") &&
            strcmp(m, "DELETE"))
            luaL_error(L, "herald.http.request: method must be \"GET\", \"POST\", \"PUT\", "
                          "\"PATCH\" or \"DELETE\"");
    }
    int bt = rawfield(L, 1, "body");
    if (bt != LUA_TNIL && bt != LUA_TSTRING)
        luaL_error(L,
                   "herald.http.request: body must be a string (herald.json.encode makes one "
                   "from a table), got a %s",
                   luaL_typename(L, -1));
    if (bt == LUA_TSTRING && lua_rawlen(L, -1) > MAX_BODY)
        luaL_error(L, "herald.http.request: body is larger than 16 MiB");
    if (bt == LUA_TSTRING && mt == LUA_TSTRING && strcmp(lua_tostring(L, -2), "GET") == 0)
        luaL_error(L, "herald.http.request: a GET request has no body");
    int ht = rawfield(L, 1, "headers");
    if (ht != LUA_TNIL) {
        if (ht != LUA_TTABLE)
            luaL_error(L, "herald.http.request: headers must be a table of names to strings");
        int n = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            size_t nl = 0, vl = 0;
            const char *hn = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &nl) : NULL;
            const char *hv = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &vl) : NULL;
            if (!hn || !hv || !valid_header(hn, nl, hv, vl))
                luaL_error(L, "herald.http.request: headers must map header names to strings "
                              "without line breaks");
            if (++n > MAX_HEADERS) luaL_error(L, "herald.http.request: more than 64 headers");
            lua_pop(L, 1);
        }
    }
    int tt = rawfield(L, 1, "timeout");
    int64_t ms = DEFAULT_TIMEOUT_MS;
    if (tt == LUA_TNUMBER) {
        double s = lua_tonumber(L, -1);
        ms = s > 0 && s < 1e9 ? (int64_t)(s * 1000) : 0;
    } else if (tt == LUA_TSTRING) {
        if (duration_parse(lua_tostring(L, -1), &ms) != 0) ms = 0;
    } else if (tt != LUA_TNIL) {
        ms = 0;
    }
    if (ms <= 0 || ms > MAX_TIMEOUT_MS)
        luaL_error(L, "herald.http.request: timeout must be a duration from 1ms to 10m (\"10s\" "
                      "or a number of seconds)");
    *timeout_ms = (long)ms;
    lua_settop(L, 1);
}

static char *dup_len(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* The checked request table at index 1 as C copies; NULL when out of memory. Raises
 * nothing. */
static struct lua_http *copy_request(lua_State *L, long timeout_ms)
{
    struct lua_http *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->timeout_ms = timeout_ms;
    int oom = 0;
    size_t n;
    rawfield(L, 1, "url");
    const char *s = lua_tolstring(L, -1, &n);
    oom |= !(r->url = dup_len(s, n));
    lua_pop(L, 1);
    if (rawfield(L, 1, "body") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
        oom |= !(r->body = dup_len(s, n));
        r->body_len = n;
    }
    lua_pop(L, 1);
    const char *m = rawfield(L, 1, "method") == LUA_TSTRING ? lua_tostring(L, -1)
                    : r->body                               ? "POST"
                                                            : "GET";
    oom |= !(r->method = strdup(m));
    lua_pop(L, 1);
    if (rawfield(L, 1, "headers") == LUA_TTABLE) {
        r->headers = calloc(MAX_HEADERS, sizeof *r->headers);
        oom |= !r->headers;
        lua_pushnil(L);
        while (!oom && lua_next(L, -2)) {
            size_t nl, vl;
            const char *hn = lua_tolstring(L, -2, &nl);
            const char *hv = lua_tolstring(L, -1, &vl);
            char *line = malloc(nl + vl + 3);
            if (line) {
                memcpy(line, hn, nl);
                memcpy(line + nl, ": ", 2);
                memcpy(line + nl + 2, hv, vl);
                line[nl + 2 + vl] = '\0';
                r->headers[r->n_headers++] = line;
            }
            oom |= !line;
            lua_pop(L, 1);
        }
        if (oom) lua_settop(L, 1);
    }
    lua_settop(L, 1);
    if (oom) {
        http_free(r);
        return NULL;
    }
    return r;
}

static void run_delivery(struct lua_delivery *dl, int nargs);
static int push_response(struct lua_delivery *dl);
static void finish(struct lua_delivery *dl, enum herald_result r, const char *detail,
                   long retry_after);

static void on_http(void *arg, const struct herald_http_response *res)
{
    struct lua_delivery *dl = arg;
    http_free(dl->req);
    dl->req = NULL;
    dl->waiting = 0;
    dl->answered = 1;
    dl->status = res ? res->status : 0;
    dl->retry_after = res ? res->retry_after_s : -1;
    const char *e = res ? res->error : "no response";
    dl->error = e ? strdup(e) : NULL;
    size_t n = res && res->body ? res->body_len : 0;
    dl->body = dup_len(n ? res->body : "", n);
    dl->body_len = n;
    if (!dl->body || (e && !dl->error)) {
        /* Keep going with what fits: the send sees a transport error. */
        free(dl->body);
        free(dl->error);
        dl->body = NULL;
        dl->body_len = 0;
        dl->error = NULL;
        dl->status = -1;
    }
    /* A callback run from inside http_request itself finds the coroutine still running;
     * run_delivery resumes it once it has yielded. */
    if (dl->running) return;
    if (push_response(dl) != 0) return;
    run_delivery(dl, 1);
}

/* herald.http.request { method =, url =, headers =, body =, timeout = } → response */
static int l_http_request(lua_State *L)
{
    struct lua_types *o = lua_touserdata(L, lua_upvalueindex(1));
    struct lua_delivery *dl = o->current;
    if (!dl || dl->co != L)
        return luaL_error(L,
                          "herald.http.request can only be used inside a notifier's send function");
    if (!lua_isyieldable(L))
        return luaL_error(L, "herald.http.request cannot wait here (inside table.sort, "
                             "string.gsub, a metamethod or another C function); call it from "
                             "the send function's own code");
    if (dl->requests >= MAX_REQUESTS)
        return luaL_error(L, "herald.http.request: at most %d requests per delivery", MAX_REQUESTS);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    long timeout_ms;
    check_request(L, &timeout_ms);
    struct lua_http *r = copy_request(L, timeout_ms);
    if (!r) return luaL_error(L, "herald.http.request: out of memory");
    dl->req = r;
    dl->waiting = 1;
    dl->answered = 0;
    dl->requests++;
    struct herald_http_request hr = {
        .struct_size = sizeof hr,
        .method = r->method,
        .url = r->url,
        .headers = (const char *const *)r->headers,
        .n_headers = r->n_headers,
        .body = r->body,
        .body_len = r->body_len,
        .timeout_ms = r->timeout_ms,
    };
    const struct herald_host *host = dl->inst->host;
    if (host->http_request(host->ctx, &hr, on_http, dl) != 0) {
        http_free(r);
        dl->req = NULL;
        dl->waiting = 0;
        lua_createtable(L, 0, 4);
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "status");
        lua_pushliteral(L, "");
        lua_setfield(L, -2, "body");
        lua_newtable(L);
        lua_setfield(L, -2, "headers");
        lua_pushliteral(L, "the request could not be started (the daemon is stopping, or the "
                           "host refused it)");
        lua_setfield(L, -2, "error");
        return 1;
    }
    return lua_yield(L, 0);
}

/* ---- instances ----------------------------------------------------------------------- */

/* The type of a notifier being initialised. The core always hands init() the opts of a
 * declared notifier (struct cfg_notifier, in notifiers_sync as in `herald check`), and a
 * plugin's init gets no other handle on which type it is; the checks below make sure. */
static struct lua_type *type_of_opts(const struct herald_opts *opts)
{
    if (!opts) return NULL;
    const struct cfg_notifier *c =
        (const struct cfg_notifier *)((const char *)opts - offsetof(struct cfg_notifier, opts));
    if (!lua_notifier_is_lua(c->plugin)) return NULL;
    struct lua_type *t = (struct lua_type *)c->plugin;
    return t->magic == TYPE_MAGIC ? t : NULL;
}

static void push_opt(lua_State *L, const struct opt_value *v)
{
    const char *s = v->text ? v->text : "";
    switch (v->type) {
    case HERALD_OPT_INT:
        lua_pushinteger(L, (lua_Integer)strtoll(s, NULL, 10));
        break;
    case HERALD_OPT_BOOL:
        lua_pushboolean(L, strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
        break;
    case HERALD_OPT_DURATION: {
        long long ms = strtoll(s, NULL, 10);
        if (ms % 1000 == 0)
            lua_pushinteger(L, ms / 1000);
        else
            lua_pushnumber(L, (double)ms / 1000.0);
        break;
    }
    case HERALD_OPT_MAP:
        lua_createtable(L, 0, (int)v->map_n);
        for (size_t i = 0; i < v->map_n; i++) {
            lua_pushstring(L, v->map_vals[i]);
            lua_setfield(L, -2, v->map_keys[i]);
        }
        break;
    case HERALD_OPT_LIST:
        lua_createtable(L, (int)v->list_n, 0);
        for (size_t i = 0; i < v->list_n; i++) {
            lua_pushstring(L, v->list[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    default:
        lua_pushstring(L, s);
    }
}

/* Protected: the instance's options as a Lua table, kept in the registry. */
static int build_opts(lua_State *L)
{
    struct lua_inst *in = lua_touserdata(L, 1);
    const struct herald_opts *opts = lua_touserdata(L, 2);
    lua_createtable(L, 0, (int)opts->n);
    for (size_t i = 0; i < opts->n; i++) {
        push_opt(L, &opts->v[i]);
        lua_setfield(L, -2, opts->v[i].name);
    }
    in->opts_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int type_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                     char *err, size_t errlen)
{
    struct lua_type *t = type_of_opts(opts);
    if (!t) {
        snprintf(err, errlen, "lua: not a notifier of a Lua notifier type");
        return -1;
    }
    struct lua_inst *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "%s: out of memory", t->name);
        return -1;
    }
    in->type = t;
    in->host = host;
    in->opts_ref = LUA_NOREF;
    lua_State *L = t->owner->L;
    lua_pushcfunction(L, build_opts);
    lua_pushlightuserdata(L, in);
    lua_pushlightuserdata(L, (void *)opts);
    if (sandbox_pcall(t->owner->sb, 2, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "%s: %s", t->name, lua_tostring(L, -1));
        lua_pop(L, 1);
        free(in);
        return -1;
    }
    t->owner->refs++;
    *state = in;
    return 0;
}

static void type_fini(void *state)
{
    struct lua_inst *in = state;
    if (!in) return;
    struct lua_types *o = in->type->owner;
    luaL_unref(o->L, LUA_REGISTRYINDEX, in->opts_ref);
    free(in);
    types_unref(o);
}

/* ---- deliveries ---------------------------------------------------------------------- */

static void set_str(lua_State *L, const char *key, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

/* The evidence list: spans as rules see them in a:evidence() (1-based start, inclusive
 * end), the end also as `finish` for code that avoids the keyword. */
static void push_evidence(lua_State *L, const struct herald_alert *al)
{
    size_t n = al->evidence ? al->n_evidence : 0;
    lua_createtable(L, n < 4096 ? (int)n : 4096, 0);
    for (size_t i = 0; i < n; i++) {
        const struct herald_evidence *e = &al->evidence[i];
        lua_createtable(L, 0, 6);
        set_str(L, "field", e->field);
        set_str(L, "term", e->term);
        lua_pushinteger(L, (lua_Integer)e->start + 1);
        lua_setfield(L, -2, "start");
        lua_pushinteger(L, (lua_Integer)e->end);
        lua_setfield(L, -2, "end");
        lua_pushinteger(L, (lua_Integer)e->end);
        lua_setfield(L, -2, "finish");
        const char *s = alert_article_field(al->article, e->field);
        if (s && e->end >= e->start && e->end <= strlen(s)) {
            lua_pushlstring(L, s + e->start, e->end - e->start);
            lua_setfield(L, -2, "text");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void lua_notifier_push_alert(lua_State *L, const struct herald_alert *al)
{
    const struct herald_article *a = al->article;
    lua_createtable(L, 0, 20);
    set_str(L, "id", al->id);
    set_str(L, "rule", al->rule);
    set_str(L, "notifier", al->notifier);
    lua_pushinteger(L, (lua_Integer)al->created);
    lua_setfield(L, -2, "created");
    lua_pushinteger(L, (lua_Integer)al->attempt);
    lua_setfield(L, -2, "attempt");
    set_str(L, "json", al->json);
    if (a) {
        set_str(L, "article_id", a->id);
        set_str(L, "source", a->source);
        set_str(L, "title", a->title);
        set_str(L, "link", a->link);
        set_str(L, "author", a->author);
        set_str(L, "summary", a->summary);
        lua_pushstring(L, a->text ? a->text : "");
        lua_setfield(L, -2, "text");
        set_str(L, "lang", a->lang);
        if (a->published >= 0) {
            lua_pushinteger(L, (lua_Integer)a->published);
            lua_setfield(L, -2, "published");
        }
    }
    size_t nc = a && a->categories ? a->n_categories : 0;
    lua_createtable(L, nc < 4096 ? (int)nc : 4096, 0);
    for (size_t i = 0; i < nc; i++) {
        if (!a->categories[i]) continue;
        lua_pushstring(L, a->categories[i]);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    lua_setfield(L, -2, "categories");
    push_evidence(L, al);
    lua_setfield(L, -2, "evidence");
}

/* A fresh copy of the instance's options, so one delivery's changes never reach the next. */
static void push_opts_copy(lua_State *L, int ref)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    int src = lua_gettop(L);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        if (lua_type(L, -1) == LUA_TTABLE) {
            int inner = lua_gettop(L);
            lua_newtable(L);
            lua_pushnil(L);
            while (lua_next(L, inner)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -4);
            }
            lua_replace(L, inner);
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_remove(L, src);
}

/* Protected: the coroutine with send, alert and opts on its stack. */
static int setup_delivery(lua_State *L)
{
    struct lua_delivery *dl = lua_touserdata(L, 1);
    const struct herald_alert *al = lua_touserdata(L, 2);
    lua_State *co = lua_newthread(L);
    dl->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    dl->co = co;
    lua_rawgeti(L, LUA_REGISTRYINDEX, dl->inst->type->send_ref);
    lua_notifier_push_alert(L, al);
    push_opts_copy(L, dl->inst->opts_ref);
    if (!lua_checkstack(co, 3)) return luaL_error(L, "out of memory");
    lua_xmove(L, co, 3);
    return 0;
}

/* Protected: the response table of the request just answered. */
static int build_response(lua_State *L)
{
    struct lua_delivery *dl = lua_touserdata(L, 1);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, dl->status < 0 ? 0 : dl->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, dl->body ? dl->body : "", dl->body ? dl->body_len : 0);
    lua_setfield(L, -2, "body");
    /* The host reports these response headers (lower-case names, as HTTP/2 writes them). */
    lua_newtable(L);
    if (dl->retry_after >= 0) {
        lua_pushfstring(L, "%d", (int)(dl->retry_after < 1000000000 ? dl->retry_after : 0));
        lua_setfield(L, -2, "retry-after");
    }
    lua_setfield(L, -2, "headers");
    if (dl->status < 0)
        lua_pushliteral(L, "out of memory reading the response");
    else
        lua_pushstring(L, dl->error);
    lua_setfield(L, -2, "error");
    if (dl->retry_after >= 0) {
        lua_pushinteger(L, (lua_Integer)dl->retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    return 1;
}

static void clear_response(struct lua_delivery *dl)
{
    free(dl->error);
    free(dl->body);
    dl->error = NULL;
    dl->body = NULL;
    dl->body_len = 0;
    dl->answered = 0;
}

/* Put the response on the coroutine's stack; on failure the delivery is finished (retry). */
static int push_response(struct lua_delivery *dl)
{
    struct lua_types *o = dl->inst->type->owner;
    lua_State *L = o->L;
    lua_pushcfunction(L, build_response);
    lua_pushlightuserdata(L, dl);
    int rc = sandbox_pcall(o->sb, 1, 1, 0);
    clear_response(dl);
    if (rc != LUA_OK || !lua_checkstack(dl->co, 2)) {
        char detail[300];
        snprintf(detail, sizeof detail, "%s: cannot hand the response to send: %s",
                 dl->inst->type->name, rc != LUA_OK ? lua_tostring(L, -1) : "out of memory");
        lua_pop(L, 1);
        finish(dl, HERALD_RETRY, detail, -1);
        return -1;
    }
    lua_xmove(L, dl->co, 1);
    return 0;
}

/* Copy `s` into out as one line of at most MAX_REASON bytes, cut on a UTF-8 boundary. */
static void one_line(char *out, size_t n, const char *s, size_t len)
{
    size_t cap = n - 1 < MAX_REASON ? n - 1 : MAX_REASON;
    size_t k = len < cap ? len : cap;
    if (k < len)
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
    for (size_t i = 0; i < k; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[k] = '\0';
}

/* The value at idx of the finished coroutine as reason text (strings and numbers; nothing
 * here calls Lua code or allocates in the coroutine). */
static void reason_at(lua_State *co, int idx, char *out, size_t n)
{
    if (lua_type(co, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(co, idx, &len);
        one_line(out, n, s, len);
    } else if (lua_isinteger(co, idx)) {
        snprintf(out, n, "%lld", (long long)lua_tointeger(co, idx));
    } else if (lua_type(co, idx) == LUA_TNUMBER) {
        snprintf(out, n, "%g", lua_tonumber(co, idx));
    } else {
        out[0] = '\0';
    }
}

/* send returned: interpret its values. */
static void settle(struct lua_delivery *dl, int nres)
{
    lua_State *co = dl->co;
    const char *type = dl->inst->type->name;
    int base = lua_gettop(co) - nres + 1;
    char reason[MAX_REASON + 1], detail[MAX_REASON + 128];
    if (nres == 0 || (lua_type(co, base) == LUA_TBOOLEAN && lua_toboolean(co, base))) {
        finish(dl, HERALD_DELIVERED, NULL, -1);
        return;
    }
    reason_at(co, base + 1, reason, sizeof reason);
    if (lua_type(co, base) == LUA_TSTRING && strcmp(lua_tostring(co, base), "failed") == 0) {
        snprintf(detail, sizeof detail, "%s: %s", type, reason[0] ? reason : "send failed");
        finish(dl, HERALD_FAILED, detail, -1);
        return;
    }
    if (lua_isnil(co, base) || lua_type(co, base) == LUA_TBOOLEAN) {
        long after = -1;
        if (nres >= 3 && lua_type(co, base + 2) == LUA_TNUMBER) {
            double s = lua_tonumber(co, base + 2);
            after = s <= 0 ? 0 : s >= MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : (long)(s + 0.999);
        }
        snprintf(detail, sizeof detail, "%s: %s", type, reason[0] ? reason : "send returned false");
        finish(dl, HERALD_RETRY, detail, after);
        return;
    }
    snprintf(detail, sizeof detail,
             "%s: send returned a %s; return true, false [, reason [, seconds]] or \"failed\", "
             "reason",
             type, luaL_typename(co, base));
    finish(dl, HERALD_RETRY, detail, -1);
}

/* The innermost Lua frame of the dead coroutine as "file:line", or "" when there is none. */
static void error_where(lua_State *co, char *out, size_t n)
{
    lua_Debug ar;
    out[0] = '\0';
    for (int level = 0; lua_getstack(co, level, &ar); level++) {
        if (!lua_getinfo(co, "Sl", &ar) || ar.currentline <= 0) continue;
        snprintf(out, n, "%s:%d", ar.short_src, ar.currentline);
        return;
    }
}

/* send raised an error, or was stopped: a retry, with the error and where it happened. */
static void fail(struct lua_delivery *dl, int rc)
{
    lua_State *co = dl->co;
    const struct lua_type *t = dl->inst->type;
    const struct herald_host *host = dl->inst->host;
    char detail[MAX_REASON + 256], msg[MAX_REASON + 1], where[200];
    if (dl->tripped || rc == LUA_ERRMEM) {
        const char *what = dl->tripped ? "instruction budget exceeded" : "memory limit exceeded";
        if (!dl->tripped) error_where(co, dl->where, sizeof dl->where);
        snprintf(detail, sizeof detail, "%s: send stopped: %s%s%s", t->name, what,
                 dl->where[0] ? " at " : "", dl->where);
        host->log(host->ctx, HERALD_LOG_ERROR, "%s (a budget of %ld instructions per step)", detail,
                  t->budget);
        finish(dl, HERALD_RETRY, detail, -1);
        return;
    }
    if (lua_type(co, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(co, -1, &len);
        one_line(msg, sizeof msg, s, len);
    } else {
        snprintf(msg, sizeof msg, "(error object is a %s value)", luaL_typename(co, -1));
    }
    error_where(co, where, sizeof where);
    size_t wl = strlen(where);
    int placed = wl && strncmp(msg, where, wl) == 0;
    snprintf(detail, sizeof detail, "%s: send: %s%s%s", t->name, placed || !wl ? "" : where,
             placed || !wl ? "" : ": ", msg);
    finish(dl, HERALD_RETRY, detail, -1);
}

static void on_count(lua_State *co, lua_Debug *ar)
{
    struct lua_types *o = types_of(co);
    struct lua_delivery *dl = o ? o->current : NULL;
    if (!dl || dl->co != co) return;
    if (dl->tripped || --dl->budget_left <= 0) {
        if (!dl->tripped && lua_getinfo(co, "Sl", ar) && ar->currentline > 0)
            snprintf(dl->where, sizeof dl->where, "%s:%d", ar->short_src, ar->currentline);
        dl->tripped = 1;
        /* Fire on every instruction from now on, so a pcall in send that caught this
         * error runs into it again at once. */
        lua_sethook(co, on_count, LUA_MASKCOUNT, 1);
        luaL_error(co, "instruction budget exceeded");
    }
}

/* Resume the coroutine with `nargs` values on its stack until it waits for a response
 * that has not come yet, returns, or fails. */
static void run_delivery(struct lua_delivery *dl, int nargs)
{
    struct lua_types *o = dl->inst->type->owner;
    lua_State *co = dl->co;
    for (;;) {
        dl->budget_left = dl->inst->type->budget / HOOK_EVERY + 1;
        dl->tripped = 0;
        dl->running = 1;
        struct lua_delivery *outer = o->current;
        o->current = dl;
        lua_sethook(co, on_count, LUA_MASKCOUNT, HOOK_EVERY);
        int nres = 0;
        int rc = lua_resume(co, o->L, nargs, &nres);
        lua_sethook(co, NULL, 0, 0);
        o->current = outer;
        dl->running = 0;
        if (rc == LUA_OK && !dl->tripped) {
            settle(dl, nres);
            return;
        }
        if (rc != LUA_YIELD) {
            fail(dl, rc == LUA_OK ? LUA_ERRRUN : rc);
            return;
        }
        lua_pop(co, nres);
        if (!dl->waiting && !dl->answered) {
            char detail[200];
            snprintf(detail, sizeof detail, "%s: send yielded without a request to wait for",
                     dl->inst->type->name);
            finish(dl, HERALD_RETRY, detail, -1);
            return;
        }
        if (!dl->answered) return; /* on_http resumes it */
        if (push_response(dl) != 0) return;
        nargs = 1;
    }
}

/* The delivery ends: release the coroutine, then tell the host. complete() may finalise
 * the instance and close the Lua state, so nothing here touches either after it. */
static void finish(struct lua_delivery *dl, enum herald_result r, const char *detail,
                   long retry_after)
{
    struct lua_types *o = dl->inst->type->owner;
    const struct herald_host *host = dl->inst->host;
    struct herald_delivery *d = dl->d;
    char copy[MAX_REASON + 256];
    snprintf(copy, sizeof copy, "%s", detail ? detail : "");
    luaL_unref(o->L, LUA_REGISTRYINDEX, dl->co_ref);
    http_free(dl->req);
    clear_response(dl);
    free(dl);
    if (r == HERALD_RETRY && retry_after >= 0) host->retry_after(d, retry_after);
    host->complete(d, r, copy[0] ? copy : NULL);
    types_unref(o);
}

static int type_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct lua_inst *in = state;
    struct lua_types *o = in->type->owner;
    struct lua_delivery *dl = calloc(1, sizeof *dl);
    if (!dl) return -1;
    dl->inst = in;
    dl->d = d;
    dl->co_ref = LUA_NOREF;
    dl->retry_after = -1;
    lua_State *L = o->L;
    lua_pushcfunction(L, setup_delivery);
    lua_pushlightuserdata(L, dl);
    lua_pushlightuserdata(L, (void *)alert);
    o->refs++;
    if (sandbox_pcall(o->sb, 2, 0, 0) != LUA_OK) {
        char detail[300];
        snprintf(detail, sizeof detail, "%s: cannot start send: %s", in->type->name,
                 lua_tostring(L, -1));
        lua_pop(L, 1);
        finish(dl, HERALD_RETRY, detail, -1);
        return 0;
    }
    run_delivery(dl, 2);
    return 0;
}

/* ---- opening ------------------------------------------------------------------------- */

void lua_notifier_open(lua_State *L, const struct plugin_registry *plugins)
{
    struct lua_types *o = types_of(L);
    if (!o) {
        /* The registry slots exist before the struct, so that storing its pointer and,
         * later, the detached flag allocate nothing and cannot fail. */
        lua_pushboolean(L, 0);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &REG_KEY);
        lua_pushboolean(L, 0);
        lua_setfield(L, LUA_REGISTRYINDEX, DETACHED_KEY);
        o = calloc(1, sizeof *o);
        if (!o) luaL_error(L, "out of memory");
        o->sb = sandbox_of(L);
        o->L = sandbox_state(o->sb);
        o->refs = 1;
        lua_pushlightuserdata(L, o);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &REG_KEY);
    }
    o->plugins = plugins;
    o->sealed = 0;
    lua_pushlightuserdata(L, o);
    lua_pushcclosure(L, l_notifier_type, 1);
    lua_setfield(L, -2, "notifier_type");

    lua_createtable(L, 0, 1);
    lua_pushlightuserdata(L, o);
    lua_pushcclosure(L, l_http_request, 1);
    lua_setfield(L, -2, "request");
    lua_setfield(L, -2, "http");

    lua_json_open(L);
}
