/*
 * lua_article — the `article` object a Lua rule's match function receives: read-only fields
 * (title, text, link, source, published, author, summary, categories, lang, id) and the
 * query methods a:has(q), a:near(x, y, n), a:count(q), a:find(regex), a:evidence(). Input:
 * the article, its tokenised doc and the rule's concepts, borrowed for one evaluation;
 * output: booleans and counts to Lua, evidence appended to the caller's evidence_list.
 */
#ifndef HERALD_LUA_ARTICLE_H
#define HERALD_LUA_ARTICLE_H

#include "match.h"
#include "query.h"

#include <herald/plugin.h>
#include <lua.h>

/* Register the "herald.article" metatable (and those of the cached queries) in L. */
void lua_article_open(lua_State *L);

/* Push an article userdata. Everything passed in is borrowed until lua_article_expire();
 * `ev` (may be NULL) receives the evidence of a:has() and a:near() calls that return true.
 * Queries compile with opt->stem and the stemming language opt->lang, else the article's
 * lang, else "en". Returns 0 (raises a Lua error when out of memory, like lua_newuserdata). */
int lua_article_push(lua_State *L, const struct herald_article *a, struct doc *d,
                     const struct concepts *c, const struct query_options *opt,
                     struct evidence_list *ev);

/* Invalidate the article userdata at stack index `idx`: any later use raises "article used
 * outside its rule evaluation". Call it once the rule's evaluation is over. */
void lua_article_expire(lua_State *L, int idx);

/* Compiled a:has() queries are cached per state; the `term` strings of evidence they
 * produced point into them. When the cache has grown past its cap, drop it; call this only
 * when no such evidence is still in use (e.g. after the article's alerts are stored). */
void lua_article_cache_trim(lua_State *L);

#endif
