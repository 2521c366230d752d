/*
 * arena — bump allocator for the many small strings of one parsed document or article.
 * Everything allocated from an arena is freed at once by arena_free(); nothing is freed
 * individually. Allocation failure returns NULL; callers report it as out of memory.
 */
#ifndef HERALD_ARENA_H
#define HERALD_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;
    size_t used_total; /* bytes handed out, for caps and statistics */
};

/* Start an empty arena (no allocation happens until the first alloc). */
void arena_init(struct arena *a);
/* Release every block of the arena; the arena can be reused after arena_init(). */
void arena_free(struct arena *a);
/* Forget everything allocated but keep the newest block for what comes next (its size was
 * enough before): releases the other blocks. */
void arena_reset(struct arena *a);
/* `n` bytes aligned for any type, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* A NUL-terminated copy of `s[0..n)`, or NULL when out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* A NUL-terminated copy of `s` (NULL stays NULL). */
char *arena_strdup(struct arena *a, const char *s);

#endif
