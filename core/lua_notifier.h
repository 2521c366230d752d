/*
 * lua_notifier — notifier types written in Lua (`herald.notifier_type "name" { options = …,
 * send = function(alert, opts) … end }`), with the `herald.http.request` and `herald.json`
 * functions their send functions use. Input: the declarations of the config's Lua state
 * (config.c calls in while the config loads). Output: one `struct herald_plugin` per type,
 * which config.c validates notifiers against and the outbox delivers through exactly as it
 * does through a C plugin; each delivery runs `send` as a coroutine on the loop thread that
 * sleeps while the host's HTTP request is in flight.
 *
 * Lifetime: the config's Lua state outlives the config while an instance of one of its Lua
 * types is alive (a delivery in flight across a reload): the config, each instance and each
 * delivery hold a reference, and the state is closed when the last one is dropped.
 */
#ifndef HERALD_LUA_NOTIFIER_H
#define HERALD_LUA_NOTIFIER_H

#include "plugin.h"
#include "sandbox.h"

#include <lua.h>
#include <stddef.h>

/* Add notifier_type, http and json to the `herald` table at the top of L's stack. Called
 * while the config loads, inside a protected call (raises a Lua error when out of memory).
 * A Lua type may not take the name of a plugin of `plugins` (borrowed until
 * lua_notifier_seal). */
void lua_notifier_open(lua_State *L, const struct plugin_registry *plugins);

/* The config file has run: herald.notifier_type refuses from now on. */
void lua_notifier_seal(lua_State *L);

/* The Lua notifier type `name` declared so far in L, or NULL. */
const struct herald_plugin *lua_notifier_find(lua_State *L, const char *name);

/* Append the Lua types' names (", name" each) to `buf`, a list from plugin_names(). */
void lua_notifier_names(lua_State *L, char *buf, size_t n);

/* Number of Lua notifier types of a config's sandbox, and the i-th (NULL past the end),
 * e.g. for `herald plugins -c FILE`. Valid while the config is. */
size_t lua_notifier_count(struct sandbox *sb);
const struct herald_plugin *lua_notifier_at(struct sandbox *sb, size_t i);

/* Push the table a Lua function gets for an alert (id, rule, title, link, text, evidence…,
 * as docs/plugins.md describes). Raises a Lua error when out of memory. */
void lua_notifier_push_alert(lua_State *L, const struct herald_alert *al);

/* 1 when `p` is a notifier type declared in Lua. */
int lua_notifier_is_lua(const struct herald_plugin *p);

/* The config drops its hold on its sandbox (config_free calls this instead of
 * sandbox_free): the state is closed now, or when the last instance or delivery of one of
 * its Lua types ends. NULL is allowed. */
void lua_notifier_release(struct sandbox *sb);

#endif
