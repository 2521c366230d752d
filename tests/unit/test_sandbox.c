/*
 * test_sandbox — the Lua sandbox refuses what rules must not do and stops what they must
 * not do for long: each case runs a chunk and checks the error (or the value) it yields.
 */
#include "check.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char last_print[256];

static void on_print(void *arg, const char *line)
{
    (void)arg;
    snprintf(last_print, sizeof last_print, "%s", line);
}

static struct sandbox *new_sb(size_t mem)
{
    struct sandbox_options o = {
        .memory_limit = mem, .config_dir = "tests/fixtures/sandbox", .print = on_print};
    char err[256];
    return sandbox_new(&o, err, sizeof err);
}

/* Run `code`; returns the error message (static copy) or NULL on success, and the first
 * result converted to a string in `result`. */
static const char *run(struct sandbox *sb, const char *code, long budget, char *result, size_t n)
{
    static char err[512];
    lua_State *L = sandbox_state(sb);
    if (luaL_loadbufferx(L, code, strlen(code), "=rule", "t") != LUA_OK) {
        snprintf(err, sizeof err, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return err;
    }
    int rc = sandbox_pcall(sb, 0, 1, budget);
    if (rc != LUA_OK) {
        snprintf(err, sizeof err, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return err;
    }
    if (result) snprintf(result, n, "%s", luaL_tolstring(L, -1, NULL));
    lua_settop(L, 0);
    return NULL;
}

TEST(infinite_loop_is_stopped)
{
    struct sandbox *sb = new_sb(0);
    CHECK(sb);
    const char *e = run(sb, "while true do end", 1000000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "instruction budget exceeded");
    /* The state is usable afterwards. */
    char out[64];
    CHECK(run(sb, "return 1 + 1", 1000000, out, sizeof out) == NULL);
    CHECK_STR(out, "2");
    sandbox_free(sb);
}

TEST(pcall_cannot_swallow_the_budget)
{
    struct sandbox *sb = new_sb(0);
    const char *e = run(sb,
                        "local n = 0\n"
                        "for i = 1, 100 do pcall(function() while true do end end) n = n + 1 end\n"
                        "return n",
                        1000000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "instruction budget exceeded");
    sandbox_free(sb);
}

TEST(memory_cap_stops_a_doubling_string)
{
    struct sandbox *sb = new_sb(32u << 20);
    const char *e = run(sb, "local s = 'x' while true do s = s .. s end", 100000000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "memory");
    CHECK(sandbox_memory(sb) < (32u << 20));
    char out[64];
    CHECK(run(sb, "return #('ab'):rep(3)", 1000000, out, sizeof out) == NULL);
    CHECK_STR(out, "6");
    sandbox_free(sb);
}

TEST(string_rep_is_capped_before_it_allocates)
{
    struct sandbox *sb = new_sb(64u << 20);
    const char *e = run(sb, "return ('x'):rep(1e12)", 1000000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "exceeds the memory limit");
    sandbox_free(sb);
}

TEST(dangerous_globals_are_absent)
{
    struct sandbox *sb = new_sb(0);
    char out[128];
    static const char *const probes[] = {"return type(io)",
                                         "return type(os.execute)",
                                         "return type(os.exit)",
                                         "return type(os.getenv)",
                                         "return type(os.remove)",
                                         "return type(debug)",
                                         "return type(dofile)",
                                         "return type(loadfile)",
                                         "return type(string.dump)",
                                         "return type(package)",
                                         "return type(collectgarbage)",
                                         "return type(coroutine)",
                                         NULL};
    for (const char *const *p = probes; *p; p++) {
        CHECK(run(sb, *p, 100000, out, sizeof out) == NULL);
        if (strcmp(out, "nil") != 0) {
            CHECK_FAIL_("%s gave %s", *p, out);
            return;
        }
    }
    CHECK(run(sb, "return type(os.time) .. type(os.date) .. type(os.clock)", 100000, out,
              sizeof out) == NULL);
    CHECK_STR(out, "functionfunctionfunction");
    const char *e = run(sb, "os.execute('touch /tmp/herald-pwned')", 100000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "execute");
    CHECK(access("/tmp/herald-pwned", F_OK) != 0);
    e = run(sb, "io.open('/etc/passwd')", 100000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "io");
    sandbox_free(sb);
}

TEST(binary_chunks_are_refused)
{
    struct sandbox *sb = new_sb(0);
    const char *e = run(sb, "return load('\\27Lua\\84\\0', 'x', 'b')", 100000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "binary chunks are not allowed");
    char out[128];
    /* Mode "bt" is refused too, and a binary string given as text fails to load. */
    CHECK(run(sb, "local f, err = load('\\27Lua', 'x', 't') return tostring(f) .. ' ' .. err",
              100000, out, sizeof out) == NULL);
    CHECK_CONTAINS(out, "nil");
    /* Text chunks work, with an environment. */
    CHECK(run(sb, "return load('return x * 2', 'c', 't', {x = 21})()", 100000, out, sizeof out) ==
          NULL);
    CHECK_STR(out, "42");
    sandbox_free(sb);
}

TEST(string_metatable_is_hidden)
{
    struct sandbox *sb = new_sb(0);
    char out[64];
    CHECK(run(sb, "return getmetatable('')", 100000, out, sizeof out) == NULL);
    CHECK_STR(out, "string");
    CHECK(run(sb, "return ('abc'):upper()", 100000, out, sizeof out) == NULL);
    CHECK_STR(out, "ABC");
    /* Methods on strings use the sandbox's string table, which has no dump. */
    CHECK(run(sb, "return type(('x').dump)", 100000, out, sizeof out) == NULL);
    CHECK_STR(out, "nil");
    sandbox_free(sb);
}

TEST(require_stays_in_its_folders)
{
    struct sandbox *sb = new_sb(0);
    char out[64];
    CHECK(run(sb, "return require('helper').answer", 100000, out, sizeof out) == NULL);
    CHECK_STR(out, "42");
    CHECK(run(sb, "return require('helper') == require('helper')", 100000, out, sizeof out) ==
          NULL);
    CHECK_STR(out, "true");
    const char *e = run(sb, "return require('../../etc/passwd')", 100000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "bad module name");
    e = run(sb, "return require('socket')", 100000, NULL, 0);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, "module 'socket' not found");
    sandbox_free(sb);
}

TEST(errors_carry_the_line_and_print_is_captured)
{
    struct sandbox *sb = new_sb(0);
    const char *e = run(sb, "local x = 1\nerror('boom')", 100000, NULL, 0);
    CHECK(e != NULL);
    CHECK_STR(e, "rule:2: boom");
    CHECK(run(sb, "print('hello', 42)", 100000, NULL, 0) == NULL);
    CHECK_STR(last_print, "hello\t42");
    sandbox_free(sb);
}

int main(void)
{
    RUN(infinite_loop_is_stopped);
    RUN(pcall_cannot_swallow_the_budget);
    RUN(memory_cap_stops_a_doubling_string);
    RUN(string_rep_is_capped_before_it_allocates);
    RUN(dangerous_globals_are_absent);
    RUN(binary_chunks_are_refused);
    RUN(string_metatable_is_hidden);
    RUN(require_stays_in_its_folders);
    RUN(errors_carry_the_line_and_print_is_captured);
    return check_summary();
}
