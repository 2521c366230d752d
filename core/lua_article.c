/*
 * lua_article — the `article` userdata of Lua rules. The userdata holds borrowed pointers
 * (article, doc, concepts, evidence list) valid for one rule evaluation; lua_article_expire
 * clears them so a rule that kept `a` in a global gets a clean error instead of touching
 * freed memory. Queries and regexes given to the methods are compiled once per state and
 * kept in a registry table keyed by options + concept set + source, each as a userdata
 * whose __gc frees it. Errors read like Lua's own argument errors.
 */
#include "lua_article.h"

#include "query_impl.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define ARTICLE_MT "herald.article"
#define QUERY_MT "herald.query"
#define REGEX_MT "herald.regex"
#define CACHE_KEY "herald.article.cache"
#define CACHE_COUNT_KEY "herald.article.cache_n"

enum { CACHE_MAX = 4096 };

struct lart {
    const struct herald_article *a;
    struct doc *d;
    const struct concepts *c;
    struct evidence_list *ev;
    int stem;
    char lang[16];
    int valid;
};

struct lquery {
    struct query *q;
};

struct lregex {
    pcre2_code *re;
};

static struct lart *check_article(lua_State *L)
{
    struct lart *u = luaL_checkudata(L, 1, ARTICLE_MT);
    if (!u->valid) luaL_error(L, "article used outside its rule evaluation");
    return u;
}

/* ---- the cache ---- */

/* Push the cache table, creating it when missing. */
static void cache_push(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    lua_pushinteger(L, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_COUNT_KEY);
}

static void cache_count_inc(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_COUNT_KEY);
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, n + 1);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_COUNT_KEY);
}

void lua_article_cache_trim(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_COUNT_KEY);
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (n <= CACHE_MAX) return;
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    lua_pushinteger(L, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_COUNT_KEY);
}

static int query_gc(lua_State *L)
{
    struct lquery *lq = luaL_checkudata(L, 1, QUERY_MT);
    query_free(lq->q);
    lq->q = NULL;
    return 0;
}

static int regex_gc(lua_State *L)
{
    struct lregex *lr = luaL_checkudata(L, 1, REGEX_MT);
    pcre2_code_free(lr->re);
    lr->re = NULL;
    return 0;
}

/* The compiled form of `src` for this article's options, or NULL with err filled. */
static const struct query *get_query(lua_State *L, struct lart *u, const char *src,
                                     struct query_error *err)
{
    cache_push(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char head[96];
    snprintf(head, sizeof head, "q%s\x01%d\x01%p\x01", u->lang, u->stem, (const void *)u->c);
    luaL_addstring(&b, head);
    luaL_addstring(&b, src);
    luaL_pushresult(&b);
    lua_pushvalue(L, -1);
    if (lua_gettable(L, -3) == LUA_TUSERDATA) {
        struct lquery *lq = lua_touserdata(L, -1);
        lua_pop(L, 3);
        return lq->q;
    }
    lua_pop(L, 1);
    struct lquery *lq = lua_newuserdatauv(L, sizeof *lq, 0);
    lq->q = NULL;
    luaL_setmetatable(L, QUERY_MT);
    struct query_options opt = {u->lang, u->stem};
    if (query_compile(src, u->c, &opt, &lq->q, err) < 0) {
        lua_pop(L, 3);
        return NULL;
    }
    lua_settable(L, -3); /* cache[key] = lq */
    lua_pop(L, 1);
    cache_count_inc(L);
    return lq->q;
}

static int query_arg_error(lua_State *L, int arg, const struct query_error *err)
{
    if (err->col > 0)
        return luaL_argerror(
            L, arg, lua_pushfstring(L, "query expected: %s at col %d", err->msg, err->col));
    return luaL_argerror(L, arg, lua_pushfstring(L, "query expected: %s", err->msg));
}

static int run_query(lua_State *L, struct lart *u, const struct query *q, struct evidence_list *ev)
{
    int r = query_match(q, u->d, ev);
    if (r < 0) return luaL_error(L, "out of memory while matching");
    return r;
}

/* ---- methods ---- */

static int m_has(lua_State *L)
{
    struct lart *u = check_article(L);
    const char *src = luaL_checkstring(L, 2);
    struct query_error err;
    const struct query *q = get_query(L, u, src, &err);
    if (!q) return query_arg_error(L, 2, &err);
    lua_pushboolean(L, run_query(L, u, q, u->ev));
    return 1;
}

static int m_near(lua_State *L)
{
    struct lart *u = check_article(L);
    const char *x = luaL_checkstring(L, 2);
    const char *y = luaL_checkstring(L, 3);
    lua_Integer n = luaL_checkinteger(L, 4);
    luaL_argcheck(L, n >= 1 && n <= 1000, 4, "distance must be between 1 and 1000");
    const char *src = lua_pushfstring(L, "(%s) NEAR/%d (%s)", x, (int)n, y);
    struct query_error err;
    const struct query *q = get_query(L, u, src, &err);
    if (!q) {
        /* say which operand is wrong when one fails on its own */
        struct query_error e1;
        if (!get_query(L, u, x, &e1)) return query_arg_error(L, 2, &e1);
        if (!get_query(L, u, y, &e1)) return query_arg_error(L, 3, &e1);
        return luaL_argerror(L, 2, lua_pushfstring(L, "query expected: %s", err.msg));
    }
    lua_pushboolean(L, run_query(L, u, q, u->ev));
    return 1;
}

static int m_count(lua_State *L)
{
    struct lart *u = check_article(L);
    const char *src = luaL_checkstring(L, 2);
    struct query_error err;
    const struct query *q = get_query(L, u, src, &err);
    if (!q) return query_arg_error(L, 2, &err);
    struct evidence_list ev = {NULL, 0, 0};
    int r = query_match(q, u->d, &ev);
    size_t n = ev.n;
    evidence_list_free(&ev);
    if (r < 0) return luaL_error(L, "out of memory while matching");
    lua_pushinteger(L, r > 0 ? (lua_Integer)n : 0);
    return 1;
}

/* Parse "/re/flags" or a bare pattern into a compiled regex, cached like queries. */
static pcre2_code *get_regex(lua_State *L, const char *src, char *msg, size_t msglen)
{
    cache_push(L);
    lua_pushfstring(L, "r%s", src);
    lua_pushvalue(L, -1);
    if (lua_gettable(L, -3) == LUA_TUSERDATA) {
        struct lregex *lr = lua_touserdata(L, -1);
        lua_pop(L, 3);
        return lr->re;
    }
    lua_pop(L, 1);
    struct lregex *lr = lua_newuserdatauv(L, sizeof *lr, 0); /* owns re from the start */
    lr->re = NULL;
    luaL_setmetatable(L, REGEX_MT);
    size_t len = strlen(src), plen = len;
    const char *pat = src;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    const char *close = len > 1 && src[0] == '/' ? strrchr(src, '/') : NULL;
    if (close && close > src) {
        pat = src + 1;
        plen = (size_t)(close - pat);
        for (const char *f = close + 1; *f; f++) {
            switch (*f) {
            case 'i':
                opts |= PCRE2_CASELESS;
                break;
            case 'm':
                opts |= PCRE2_MULTILINE;
                break;
            case 's':
                opts |= PCRE2_DOTALL;
                break;
            case 'x':
                opts |= PCRE2_EXTENDED;
                break;
            default:
                snprintf(msg, msglen, "unknown regex flag '%c' (use i, m, s, x)", *f);
                lua_pop(L, 3);
                return NULL;
            }
        }
    }
    int ec;
    PCRE2_SIZE off;
    lr->re = pcre2_compile((PCRE2_SPTR)pat, plen, opts, &ec, &off, NULL);
    if (!lr->re) {
        char m[160];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)m, sizeof m);
        snprintf(msg, msglen, "%s at col %d", m,
                 (int)text_utf8_len(src, (size_t)(pat - src) + off) + 1);
        lua_pop(L, 3);
        return NULL;
    }
    pcre2_jit_compile(lr->re, PCRE2_JIT_COMPLETE);
    lua_settable(L, -3);
    lua_pop(L, 1);
    cache_count_inc(L);
    return lr->re;
}

static int m_find(lua_State *L)
{
    struct lart *u = check_article(L);
    const char *src = luaL_checkstring(L, 2);
    char msg[200];
    pcre2_code *re = get_regex(L, src, msg, sizeof msg);
    if (!re) return luaL_argerror(L, 2, lua_pushfstring(L, "regex expected: %s", msg));
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!md || !mc) {
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
        return luaL_error(L, "out of memory");
    }
    pcre2_set_match_limit(mc, 1000000);
    pcre2_set_depth_limit(mc, 10000);
    const char *fields[2] = {u->a->title, u->a->text};
    const char *names[2] = {"title", "text"};
    int hit = -1;
    size_t start = 0, end = 0;
    for (int f = 0; f < 2 && hit < 0; f++) {
        if (!fields[f]) continue;
        int rc = pcre2_match(re, (PCRE2_SPTR)fields[f], strlen(fields[f]), 0, 0, md, mc);
        if (rc < 0) continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        hit = f;
        start = ov[0];
        end = ov[1] > ov[0] ? ov[1] : ov[0];
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    if (hit < 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, fields[hit] + start, end - start);
    lua_pushinteger(L, (lua_Integer)start + 1);
    lua_pushinteger(L, (lua_Integer)end);
    lua_pushstring(L, names[hit]);
    return 4;
}

static const char *field_text(const struct herald_article *a, const char *field)
{
    if (!strcmp(field, "title")) return a->title;
    if (!strcmp(field, "text")) return a->text;
    if (!strcmp(field, "author")) return a->author;
    if (!strcmp(field, "link")) return a->link;
    if (!strcmp(field, "source")) return a->source;
    return NULL;
}

static int m_evidence(lua_State *L)
{
    struct lart *u = check_article(L);
    size_t n = u->ev ? u->ev->n : 0;
    lua_createtable(L, (int)(n < 1000000 ? n : 1000000), 0);
    for (size_t i = 0; i < n; i++) {
        const struct evidence *e = &u->ev->v[i];
        lua_createtable(L, 0, 5);
        lua_pushstring(L, e->field);
        lua_setfield(L, -2, "field");
        lua_pushinteger(L, (lua_Integer)e->start + 1);
        lua_setfield(L, -2, "start");
        lua_pushinteger(L, (lua_Integer)e->end);
        lua_setfield(L, -2, "end");
        lua_pushstring(L, e->term);
        lua_setfield(L, -2, "term");
        const char *s = field_text(u->a, e->field);
        if (s && e->end >= e->start && e->end <= strlen(s)) {
            lua_pushlstring(L, s + e->start, e->end - e->start);
            lua_setfield(L, -2, "text");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---- fields ---- */

static void push_opt_string(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

static int push_field(lua_State *L, const struct herald_article *a, const char *k)
{
    if (!strcmp(k, "title"))
        push_opt_string(L, a->title);
    else if (!strcmp(k, "text"))
        push_opt_string(L, a->text);
    else if (!strcmp(k, "link"))
        push_opt_string(L, a->link);
    else if (!strcmp(k, "source"))
        push_opt_string(L, a->source);
    else if (!strcmp(k, "author"))
        push_opt_string(L, a->author);
    else if (!strcmp(k, "summary"))
        push_opt_string(L, a->summary);
    else if (!strcmp(k, "lang"))
        push_opt_string(L, a->lang);
    else if (!strcmp(k, "id"))
        push_opt_string(L, a->id);
    else if (!strcmp(k, "published")) {
        if (a->published >= 0)
            lua_pushinteger(L, (lua_Integer)a->published);
        else
            lua_pushnil(L);
    } else if (!strcmp(k, "categories")) {
        lua_createtable(L, (int)(a->n_categories < 4096 ? a->n_categories : 4096), 0);
        for (size_t i = 0; i < a->n_categories; i++) {
            push_opt_string(L, a->categories[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    } else {
        return 0;
    }
    return 1;
}

static int article_index(lua_State *L)
{
    struct lart *u = check_article(L);
    const char *k = lua_tostring(L, 2);
    if (!k) return lua_pushnil(L), 1;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    if (!push_field(L, u->a, k)) lua_pushnil(L);
    return 1;
}

static int article_newindex(lua_State *L)
{
    return luaL_error(L, "article fields are read-only");
}

static int article_tostring(lua_State *L)
{
    struct lart *u = luaL_checkudata(L, 1, ARTICLE_MT);
    if (!u->valid)
        lua_pushstring(L, "article (expired)");
    else
        lua_pushfstring(L, "article: %s", u->a->title ? u->a->title : "(untitled)");
    return 1;
}

static const luaL_Reg methods[] = {
    {"has", m_has},   {"near", m_near},         {"count", m_count},
    {"find", m_find}, {"evidence", m_evidence}, {NULL, NULL},
};

void lua_article_open(lua_State *L)
{
    if (luaL_newmetatable(L, ARTICLE_MT)) {
        luaL_newlib(L, methods);
        lua_pushcclosure(L, article_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, article_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, article_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "article");
        lua_setfield(L, -2, "__metatable"); /* getmetatable(a) must not expose the internals */
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, QUERY_MT)) {
        lua_pushcfunction(L, query_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, REGEX_MT)) {
        lua_pushcfunction(L, regex_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}

int lua_article_push(lua_State *L, const struct herald_article *a, struct doc *d,
                     const struct concepts *c, const struct query_options *opt,
                     struct evidence_list *ev)
{
    lua_article_open(L);
    struct lart *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->a = a;
    u->d = d;
    u->c = c;
    u->ev = ev;
    u->stem = opt ? opt->stem : 1;
    const char *lang = opt && opt->lang ? opt->lang : a->lang ? a->lang : "en";
    snprintf(u->lang, sizeof u->lang, "%s", lang);
    u->valid = 1;
    luaL_setmetatable(L, ARTICLE_MT);
    return 0;
}

void lua_article_expire(lua_State *L, int idx)
{
    struct lart *u = luaL_testudata(L, idx, ARTICLE_MT);
    if (!u) return;
    u->valid = 0;
    u->a = NULL;
    u->d = NULL;
    u->c = NULL;
    u->ev = NULL;
}
