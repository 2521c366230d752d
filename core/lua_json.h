/*
 * lua_json — the herald.json table (encode, decode, null, array) for a Lua state.
 */
#ifndef HERALD_LUA_JSON_H
#define HERALD_LUA_JSON_H

#include <lua.h>

/* Set `json` (encode, decode, null, array) on the table at the top of L's stack. Raises a
 * Lua error when out of memory. */
void lua_json_open(lua_State *L);

#endif
