/*
 * lua_json — herald.json for the config's Lua: encode (keys sorted, so the same table
 * always gives the same bytes), decode (nil, err on bad input), `null` and `array` (marks
 * a table to encode as an array even when empty). Built on jansson. Input and output are
 * Lua values; nothing else of herald is involved.
 */
#include "lua_json.h"

#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JSON_DEPTH = 128 };

#define BOX_MT "herald.json.box"
#define ARRAY_MT "herald.json.array"

static const char NULL_KEY = 0; /* herald.json.null is a light userdata pointing here */

/* A box that owns jansson memory while Lua works on it, so a Lua error (out of memory)
 * half-way through encode or decode frees it through __gc instead of leaking it. */
struct json_box {
    json_t *root;
    char *text;
};

static void box_clear(struct json_box *b)
{
    if (b->root) json_decref(b->root);
    free(b->text);
    b->root = NULL;
    b->text = NULL;
}

static int box_gc(lua_State *L)
{
    box_clear(luaL_checkudata(L, 1, BOX_MT));
    return 0;
}

static struct json_box *box_new(lua_State *L)
{
    struct json_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->root = NULL;
    b->text = NULL;
    luaL_setmetatable(L, BOX_MT);
    return b;
}

static int is_array_marked(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, ARRAY_MT);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* Number of elements when the table at idx is a sequence 1..n with no other keys, else -1;
 * 0 for an empty table. */
static lua_Integer array_length(lua_State *L, int idx)
{
    lua_Integer keys = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max) max = k;
        keys++;
    }
    return keys == max ? max : -1;
}

/* Convert the value at idx to JSON; NULL with err filled on a value JSON cannot hold. Never
 * raises: jansson memory must not leak through a Lua error. */
static json_t *to_json(lua_State *L, int idx, int depth, char *err, size_t errlen)
{
    if (depth > JSON_DEPTH) {
        snprintf(err, errlen, "nested more than %d levels (a cycle?)", JSON_DEPTH);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
        double v = lua_tonumber(L, idx);
        if (v != v || v - v != 0) {
            snprintf(err, errlen, "NaN and infinity have no JSON form");
            return NULL;
        }
        return json_real(v);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j = json_stringn(s, len);
        if (!j) snprintf(err, errlen, "a string is not valid UTF-8");
        return j;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &NULL_KEY) return json_null();
        break;
    case LUA_TTABLE: {
        if (!lua_checkstack(L, 4)) {
            snprintf(err, errlen, "nested too deeply");
            return NULL;
        }
        idx = lua_absindex(L, idx);
        lua_Integer n = array_length(L, idx);
        if (n > 0 || (n == 0 && is_array_marked(L, idx))) {
            json_t *a = json_array();
            for (lua_Integer i = 1; a && i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_t *v = to_json(L, -1, depth + 1, err, errlen);
                lua_pop(L, 1);
                if (!v || json_array_append_new(a, v) != 0) {
                    json_decref(a);
                    return NULL;
                }
            }
            return a;
        }
        json_t *o = json_object();
        lua_pushnil(L);
        while (o && lua_next(L, idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                snprintf(err, errlen,
                         "a table mixes a %s key with others (JSON objects take "
                         "string keys, arrays 1..n)",
                         luaL_typename(L, -2));
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            json_t *v = to_json(L, -1, depth + 1, err, errlen);
            lua_pop(L, 1);
            if (!v || json_object_setn_new(o, k, kl, v) != 0) {
                lua_pop(L, 1);
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        break;
    }
    snprintf(err, errlen, "cannot encode a %s", luaL_typename(L, idx));
    return NULL;
}

/* herald.json.encode(value) → string: compact, object keys sorted (the same table always
 * gives the same bytes). Raises on values JSON cannot hold. */
static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    struct json_box *b = box_new(L);
    char err[200] = "out of memory";
    b->root = to_json(L, 1, 0, err, sizeof err);
    if (!b->root) return luaL_error(L, "herald.json.encode: %s", err);
    b->text = json_dumps(b->root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!b->text) return luaL_error(L, "herald.json.encode: out of memory");
    lua_pushstring(L, b->text);
    box_clear(b);
    return 1;
}

/* 1 when no container in j is nested deeper than JSON_DEPTH. */
static int depth_ok(json_t *j, int depth)
{
    if (depth > JSON_DEPTH) return 0;
    const char *k;
    size_t i;
    json_t *v;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            if (!depth_ok(v, depth + 1)) return 0;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (!depth_ok(v, depth + 1)) return 0;
        }
    }
    return 1;
}

static void push_json(lua_State *L, json_t *j)
{
    luaL_checkstack(L, 4, "herald.json.decode");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(j));
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach(j, k, kl, v)
        {
            lua_pushlstring(L, k, kl);
            push_json(L, v);
            lua_rawset(L, -3);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        lua_createtable(L, n < 65536 ? (int)n : 65536, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_array_get(j, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        if (n == 0) luaL_setmetatable(L, ARRAY_MT); /* so that [] encodes back as [] */
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(j));
        break;
    case JSON_NULL:
        lua_pushlightuserdata(L, (void *)&NULL_KEY);
        break;
    }
}

/* herald.json.decode(text) → value, or nil and "line L column C: why". null becomes
 * herald.json.null. */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    struct json_box *b = box_new(L);
    json_error_t je;
    b->root = json_loadb(s, len, JSON_DECODE_ANY, &je);
    if (!b->root) {
        lua_pushnil(L);
        lua_pushfstring(L, "line %d column %d: %s", je.line, je.column, je.text);
        return 2;
    }
    if (!depth_ok(b->root, 0)) {
        box_clear(b);
        lua_pushnil(L);
        lua_pushfstring(L, "nested more than %d levels", JSON_DEPTH);
        return 2;
    }
    push_json(L, b->root);
    box_clear(b);
    return 1;
}

/* herald.json.array(t) → t, marked so that it encodes as an array even when empty. */
static int l_json_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, ARRAY_MT);
    return 1;
}

void lua_json_open(lua_State *L)
{
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "herald.json");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, ARRAY_MT)) {
        lua_pushliteral(L, "array");
        lua_setfield(L, -2, "__jsontype");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, l_json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, l_json_decode);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, l_json_array);
    lua_setfield(L, -2, "array");
    lua_pushlightuserdata(L, (void *)&NULL_KEY);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");
}
