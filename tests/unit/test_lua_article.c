/*
 * test_lua_article — the Lua `article` object (core/lua_article.c) in a plain Lua state:
 * fields, a:has / a:near / a:count / a:find / a:evidence, argument errors worded like
 * Lua's, the query cache, and expiry after the evaluation.
 */
#include "check.h"
#include "lua_article.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

static const char *const cats[] = {"world", "middle-east"};

static const struct herald_article article = {
    sizeof(struct herald_article),
    "item-1",
    "bbc-world",
    "Iraq asks US troops to leave",
    "https://example.com/iraq",
    "Jane Smith",
    "summary",
    "The parliament demanded the removal of all US troops after the strike on Solemani.",
    1578182400,
    cats,
    2,
    "en",
};

struct fixture {
    lua_State *L;
    struct concepts *c;
    struct doc *d;
    struct evidence_list ev;
    char out[1024];
};

static int fixture_open(struct fixture *f, const struct herald_article *a)
{
    memset(f, 0, sizeof *f);
    f->L = luaL_newstate();
    if (!f->L) return -1;
    luaL_openlibs(f->L);
    lua_article_open(f->L);
    f->c = concepts_new();
    const char *forms[] = {"withdraw*", "pull out", "removal", "leave"};
    struct query_error err;
    if (!f->c || concepts_add(f->c, "withdrawal", forms, 4, &err) < 0) return -1;
    struct doc_fields df = {a->title, a->text, a->author, a->link, a->source, a->lang};
    f->d = doc_new(&df);
    return f->d ? 0 : -1;
}

static void fixture_close(struct fixture *f)
{
    lua_close(f->L); /* before the concepts: cached queries are freed by __gc */
    doc_free(f->d);
    concepts_free(f->c);
    evidence_list_free(&f->ev);
}

/* Run `body` as function(a) with a fresh article object; the result (or the error) is
 * rendered with tostring into f->out. Returns 0 on success, 1 on a Lua error. */
static int run(struct fixture *f, const char *body)
{
    lua_State *L = f->L;
    char chunk[2048];
    snprintf(chunk, sizeof chunk, "return function(a) %s end", body);
    if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        snprintf(f->out, sizeof f->out, "load: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    struct query_options opt = {NULL, 1};
    lua_article_push(L, &article, f->d, f->c, &opt, &f->ev);
    int idx = lua_gettop(L);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    int rc = lua_pcall(L, 1, 1, 0);
    snprintf(f->out, sizeof f->out, "%s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
    lua_article_expire(L, idx);
    lua_pop(L, 2);
    return rc == LUA_OK ? 0 : 1;
}

TEST(fields)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    CHECK_INT(run(&f, "return a.title"), 0);
    CHECK_STR(f.out, "Iraq asks US troops to leave");
    CHECK_INT(run(&f, "return a.published"), 0);
    CHECK_STR(f.out, "1578182400");
    CHECK_INT(run(&f, "return math.type(a.published)"), 0);
    CHECK_STR(f.out, "integer");
    CHECK_INT(run(&f, "return a.link .. '|' .. a.source .. '|' .. a.author .. '|' .. a.lang "
                      ".. '|' .. a.id"),
              0);
    CHECK_STR(f.out, "https://example.com/iraq|bbc-world|Jane Smith|en|item-1");
    CHECK_INT(run(&f, "return #a.categories .. a.categories[2]"), 0);
    CHECK_STR(f.out, "2middle-east");
    CHECK_INT(run(&f, "return a.nonsense"), 0);
    CHECK_STR(f.out, "nil");
    CHECK_INT(run(&f, "a.title = 'x'"), 1);
    CHECK_CONTAINS(f.out, "read-only");
    CHECK_INT(run(&f, "return getmetatable(a)"), 0);
    CHECK_STR(f.out, "article");
    fixture_close(&f);
}

TEST(unknown_published_is_nil)
{
    struct herald_article a = article;
    a.published = -1;
    a.lang = NULL;
    struct fixture f;
    CHECK_INT(fixture_open(&f, &a), 0);
    lua_State *L = f.L;
    struct query_options opt = {NULL, 1};
    lua_article_push(L, &a, f.d, f.c, &opt, &f.ev);
    lua_getfield(L, -1, "published");
    CHECK(lua_isnil(L, -1));
    lua_getfield(L, -2, "lang");
    CHECK(lua_isnil(L, -1));
    lua_pop(L, 3);
    fixture_close(&f);
}

TEST(has_and_evidence)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    CHECK_INT(run(&f, "return a:has('troop* NEAR/8 @withdrawal')"), 0);
    CHECK_STR(f.out, "true");
    CHECK(f.ev.n >= 2);
    CHECK_INT(run(&f, "return a:has('Syria')"), 0);
    CHECK_STR(f.out, "false");
    CHECK_INT(run(&f, "a:has('Soleimani~1'); local e = a:evidence(); local last = e[#e]; "
                      "return last.field .. ' ' .. last.start .. ' ' .. last['end'] .. ' ' .. "
                      "last.term .. ' ' .. last.text"),
              0);
    /* "Solemani" is at bytes 73..81 of the text: Lua positions 74..81 */
    CHECK_STR(f.out, "text 74 81 Soleimani~1 Solemani");
    CHECK_INT(run(&f, "local e = a:evidence(); local s = a.text; "
                      "return s:sub(e[#e].start, e[#e]['end'])"),
              0);
    CHECK_STR(f.out, "Solemani");
    fixture_close(&f);
}

TEST(near_count_find)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    CHECK_INT(run(&f, "return a:near('troop*', '@withdrawal', 8)"), 0);
    CHECK_STR(f.out, "true");
    CHECK_INT(run(&f, "return a:near('troop*', 'strike', 2)"), 0);
    CHECK_STR(f.out, "false");
    CHECK_INT(run(&f, "return a:near('US', 'removal OR strike', 5)"), 0);
    CHECK_STR(f.out, "true");
    CHECK_INT(run(&f, "return a:count('troops')"), 0);
    CHECK_STR(f.out, "2"); /* title and text */
    CHECK_INT(run(&f, "return a:count('Syria')"), 0);
    CHECK_STR(f.out, "0");
    CHECK_INT(run(&f, "local s, i, j, fld = a:find('Sol[a-z]+'); "
                      "return s .. ' ' .. i .. ' ' .. j .. ' ' .. fld"),
              0);
    CHECK_STR(f.out, "Solemani 74 81 text");
    CHECK_INT(run(&f, "return (a:find('/iraq/i'))"), 0);
    CHECK_STR(f.out, "Iraq");
    CHECK_INT(run(&f, "return a:find('nothing here')"), 0);
    CHECK_STR(f.out, "nil");
    fixture_close(&f);
}

TEST(argument_errors_read_like_lua)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    CHECK_INT(run(&f, "return a:has('(troops')"), 1);
    CHECK_CONTAINS(f.out, "bad argument #1 to 'has' (query expected: expected ')' at col 8)");
    CHECK_INT(run(&f, "return a:has()"), 1);
    CHECK_CONTAINS(f.out, "bad argument #1 to 'has' (string expected, got no value)");
    CHECK_INT(run(&f, "return a:near('troops', 'x', 'far')"), 1);
    CHECK_CONTAINS(f.out, "bad argument #3 to 'near' (number expected, got string)");
    CHECK_INT(run(&f, "return a:near('troops', '(x', 3)"), 1);
    CHECK_CONTAINS(f.out, "bad argument #2 to 'near' (query expected: expected ')' at col 3)");
    CHECK_INT(run(&f, "return a:near('a AND b', 'x', 3)"), 1);
    CHECK_CONTAINS(f.out, "bad argument #1 to 'near' (query expected: NEAR operands");
    CHECK_INT(run(&f, "return a:near('a', 'x', 0)"), 1);
    CHECK_CONTAINS(f.out, "bad argument #3 to 'near' (distance must be between 1 and 1000)");
    CHECK_INT(run(&f, "return a:count('@nope')"), 1);
    CHECK_CONTAINS(f.out, "bad argument #1 to 'count' (query expected: unknown concept @nope "
                          "at col 1)");
    CHECK_INT(run(&f, "return a:find('(')"), 1);
    CHECK_CONTAINS(f.out, "bad argument #1 to 'find' (regex expected: missing closing "
                          "parenthesis at col 2)");
    CHECK_INT(run(&f, "return a.has({}, 'x')"), 1);
    CHECK_CONTAINS(f.out, "bad argument #1 to 'has' (herald.article expected, got table)");
    fixture_close(&f);
}

TEST(queries_are_cached)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    CHECK_INT(run(&f, "return a:has('troops') and a:has('troops') and a:has('Iraq')"), 0);
    CHECK_STR(f.out, "true");
    lua_getfield(f.L, LUA_REGISTRYINDEX, "herald.article.cache_n");
    CHECK_INT(lua_tointeger(f.L, -1), 2);
    lua_pop(f.L, 1);
    lua_article_cache_trim(f.L); /* under the cap: kept */
    lua_getfield(f.L, LUA_REGISTRYINDEX, "herald.article.cache_n");
    CHECK_INT(lua_tointeger(f.L, -1), 2);
    lua_pop(f.L, 1);
    CHECK_INT(run(&f, "for i = 1, 5000 do a:has('w' .. i) end return true"), 0);
    lua_article_cache_trim(f.L);
    lua_getfield(f.L, LUA_REGISTRYINDEX, "herald.article.cache_n");
    CHECK_INT(lua_tointeger(f.L, -1), 0);
    lua_pop(f.L, 1);
    CHECK_INT(run(&f, "return a:has('troops')"), 0);
    CHECK_STR(f.out, "true");
    fixture_close(&f);
}

TEST(expired_article_is_refused)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    CHECK_INT(run(&f, "saved = a; return a.title ~= nil"), 0);
    CHECK_STR(f.out, "true");
    int rc = luaL_dostring(f.L, "return saved:has('troops')");
    CHECK(rc != LUA_OK);
    CHECK_CONTAINS(lua_tostring(f.L, -1), "article used outside its rule evaluation");
    lua_pop(f.L, 1);
    rc = luaL_dostring(f.L, "return saved.title");
    CHECK(rc != LUA_OK);
    CHECK_CONTAINS(lua_tostring(f.L, -1), "article used outside its rule evaluation");
    lua_pop(f.L, 1);
    rc = luaL_dostring(f.L, "return tostring(saved)");
    CHECK_INT(rc, LUA_OK);
    CHECK_STR(lua_tostring(f.L, -1), "article (expired)");
    lua_pop(f.L, 1);
    lua_pushinteger(f.L, 3);
    lua_article_expire(f.L, -1); /* not an article: ignored */
    lua_pop(f.L, 1);
    fixture_close(&f);
}

TEST(evidence_without_list)
{
    struct fixture f;
    CHECK_INT(fixture_open(&f, &article), 0);
    struct query_options opt = {"en", 0};
    lua_article_push(f.L, &article, f.d, f.c, &opt, NULL);
    lua_setglobal(f.L, "a");
    CHECK_INT(luaL_dostring(f.L, "return a:has('troops'), #a:evidence(), a:has('=troop')"), LUA_OK);
    CHECK(lua_toboolean(f.L, -3));
    CHECK_INT(lua_tointeger(f.L, -2), 0);
    CHECK(!lua_toboolean(f.L, -1)); /* stem = 0: "troop" is not "troops" */
    lua_pop(f.L, 3);
    fixture_close(&f);
}

int main(void)
{
    RUN(fields);
    RUN(unknown_published_is_nil);
    RUN(has_and_evidence);
    RUN(near_count_find);
    RUN(argument_errors_read_like_lua);
    RUN(queries_are_cached);
    RUN(expired_article_is_refused);
    RUN(evidence_without_list);
    return check_summary();
}
