/*
 * util — small helpers shared by the core: durations, paths, whole-file reads, hashing.
 */
#ifndef HERALD_UTIL_H
#define HERALD_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parse "250ms", "90s", "5m", "2h", "1d", "1w", "1h30m" or a plain number of seconds into
 * milliseconds. Returns 0, or -1 when malformed or not positive. */
int duration_parse(const char *s, int64_t *ms);
/* Format ms compactly ("5m", "1h30m", "250ms") into buf; returns buf. */
char *duration_format(int64_t ms, char *buf, size_t n);

/* A malloc'd copy of `path` with a leading "~/" replaced by $HOME; NULL when out of memory. */
char *path_expand(const char *path);
/* A malloc'd "dir/name". */
char *path_join(const char *dir, const char *name);
/* A malloc'd copy of the directory part of `path` ("." when there is none). */
char *path_dirname(const char *path);
/* mkdir -p with `mode` for the directories it creates; 0 or -1 with errno set. */
int mkdir_p(const char *path, unsigned mode);
/* Read a whole file into a malloc'd buffer (NUL-terminated, *len excludes the NUL) of at
 * most `max` bytes. Returns 0, or -1 with errno set (EFBIG when larger than max). */
int file_read_all(const char *path, size_t max, char **data, size_t *len);

/* The XDG config file (~/.config/herald/herald.lua) and state dir (~/.local/state/herald),
 * honouring $XDG_CONFIG_HOME / $XDG_STATE_HOME; malloc'd. */
char *xdg_config_file(void);
char *xdg_state_dir(void);

/* Hex SHA-256 of data into out (65 bytes). */
void sha256_hex(const void *data, size_t len, char out[65]);

/* Wall-clock seconds since the epoch. Honours $HERALD_FAKE_NOW (seconds) for tests. */
int64_t now_seconds(void);
/* Wall-clock milliseconds since the epoch (same override, ×1000). */
int64_t now_ms(void);

/* Growable byte buffer for building strings. */
struct strbuf {
    char *s;
    size_t len, cap;
    int oom; /* set once an append failed; later appends are no-ops */
};
void sb_init(struct strbuf *b);
void sb_free(struct strbuf *b);
void sb_add(struct strbuf *b, const char *s, size_t n);
void sb_puts(struct strbuf *b, const char *s);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the string over to the caller (NULL when an append ran out of memory). */
char *sb_steal(struct strbuf *b);

#endif
