/*
 * render — running a notifier's template functions for one alert (see render.h). Input: the
 * function refs config.c stored for HERALD_OPT_TEMPLATE options and the alert being
 * delivered. Output: plain-text strings the plugin puts where its template would have been,
 * escaped for its format like any value.
 */
#include "render.h"

#include "lua_notifier.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RENDER_BUDGET = 5 * 1000 * 1000, /* instructions per function call, as a rule's match */
    RENDER_MAX_BYTES = 64 * 1024,    /* longer results are cut (the plugin caps them too) */
};

int render_needed(const struct cfg_notifier *c)
{
    for (size_t i = 0; c && i < c->opts.n; i++)
        if (c->opts.v[i].fn_ref) return 1;
    return 0;
}

/* Inside the protected call, as building the alert table may raise (out of memory):
 * (function, alert pointer) → the function's result. */
static int call_with_alert(lua_State *L)
{
    const struct herald_alert *al = lua_touserdata(L, 2);
    lua_settop(L, 1);
    lua_notifier_push_alert(L, al);
    lua_call(L, 1, 1);
    return 1;
}

/* Call the function of option `v` with the alert; its string result is left on the stack. */
static int call_one(lua_State *L, struct sandbox *sb, const struct opt_value *v,
                    const struct herald_alert *al, char *err, size_t errlen)
{
    lua_pushcfunction(L, call_with_alert);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->fn_ref);
    lua_pushlightuserdata(L, (void *)al);
    if (sandbox_pcall(sb, 2, 1, RENDER_BUDGET) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "'%s' function: %s", v->name, msg ? msg : "error");
        return -1;
    }
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
        snprintf(err, errlen, "'%s' function returned a %s, not a string", v->name,
                 luaL_typename(L, -1));
        return -1;
    }
    return 0;
}

int render_alert(const struct config *cfg, const struct cfg_notifier *c,
                 const struct herald_alert *al, struct render_set *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    lua_State *L = sandbox_state(cfg->sb);
    int top = lua_gettop(L);
    out->v = calloc(c->opts.n + 1, sizeof *out->v);
    if (!out->v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->opts.n; i++) {
        const struct opt_value *v = &c->opts.v[i];
        if (!v->fn_ref) continue;
        if (call_one(L, cfg->sb, v, al, err, errlen) != 0) {
            lua_settop(L, top);
            render_set_free(out);
            return -1;
        }
        size_t len = 0;
        const char *s = lua_tolstring(L, -1, &len);
        char *text = malloc((len > RENDER_MAX_BYTES ? RENDER_MAX_BYTES : len) + 1);
        if (text) {
            size_t n = len > RENDER_MAX_BYTES ? RENDER_MAX_BYTES : len;
            memcpy(text, s, n);
            text[n] = '\0';
        }
        lua_settop(L, top);
        if (!text) {
            snprintf(err, errlen, "out of memory");
            render_set_free(out);
            return -1;
        }
        out->v[out->n].option = v->name;
        out->v[out->n++].text = text;
    }
    return 0;
}

void render_set_free(struct render_set *r)
{
    for (size_t i = 0; r->v && i < r->n; i++)
        free((char *)r->v[i].text);
    free(r->v);
    memset(r, 0, sizeof *r);
}
