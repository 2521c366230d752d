/*
 * sandbox — the Lua state the config and the rules run in: allow-listed globals (no io, no
 * os beyond time/date/clock, no debug, no binary chunks, no string.dump), a require that
 * only reaches the config's own folder and herald's Lua library, a memory cap enforced by
 * the allocator, and an instruction budget per call that a rule's own pcall cannot swallow.
 */
#ifndef HERALD_SANDBOX_H
#define HERALD_SANDBOX_H

#include <lua.h>
#include <stddef.h>

struct sandbox;

struct sandbox_options {
    size_t memory_limit;     /* bytes for the whole state; 0: 256 MiB */
    const char *config_dir;  /* where require() looks first */
    const char *library_dir; /* herald's Lua library (scripts/lib), or NULL */
    /* print() from Lua goes here (may be NULL: dropped). */
    void (*print)(void *arg, const char *line);
    void *print_arg;
    /* Told the path of every module require() loads (may be NULL). */
    void (*loaded)(void *arg, const char *path);
    void *loaded_arg;
};

/* A new sandboxed state. Returns NULL with a message in err on failure. */
struct sandbox *sandbox_new(const struct sandbox_options *opt, char *err, size_t errlen);
/* Close the state and free the sandbox. NULL is allowed. */
void sandbox_free(struct sandbox *sb);
/* The Lua state. */
lua_State *sandbox_state(struct sandbox *sb);
/* The sandbox a state belongs to. */
struct sandbox *sandbox_of(lua_State *L);

/* Call the function below `nargs` arguments on the stack, like lua_pcall, with at most
 * `budget` VM instructions (0: unlimited). On error returns non-zero and leaves a message
 * on the stack: "instruction budget exceeded", "memory limit exceeded" or the error
 * message (which carries the file:line where it was raised). */
int sandbox_pcall(struct sandbox *sb, int nargs, int nresults, long budget);

/* Load and run a Lua source file (text only) in the sandbox. Returns 0, or non-zero with
 * the message ("file:line: …") on the stack. */
int sandbox_dofile(struct sandbox *sb, const char *path, long budget);

/* Bytes currently allocated by the state. */
size_t sandbox_memory(const struct sandbox *sb);

#endif
