/*
 * herald plugin ABI — the only thing a plugin .so sees of the daemon.
 *
 * A plugin exports one symbol, `herald_plugin`, a `const struct herald_plugin`. The loader
 * checks `abi_major` against HERALD_ABI_MAJOR and reads only the first `struct_size` bytes,
 * so fields are only ever appended. The plugin reaches the daemon through the `struct
 * herald_host` function table handed to `init` (never by linking daemon symbols); the host
 * table is versioned the same way. Everything passed in to a callback is borrowed for the
 * duration of that call unless stated otherwise.
 *
 * Delivery contract: `deliver` either returns non-zero (an immediate failure; it must then
 * never call `complete`) or returns 0 and calls `host->complete(delivery, result, detail)`
 * exactly once, now or later from a callback on the loop thread.
 */
#ifndef HERALD_PLUGIN_H
#define HERALD_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERALD_ABI_MAJOR 1
#define HERALD_ABI_MINOR 1
#define HERALD_HOST_VERSION 4

/* The symbol every plugin exports. */
#define HERALD_PLUGIN_SYMBOL "herald_plugin"

enum herald_log_level {
    HERALD_LOG_ERROR = 0,
    HERALD_LOG_WARN = 1,
    HERALD_LOG_INFO = 2,
    HERALD_LOG_DEBUG = 3,
};

enum herald_plugin_kind {
    HERALD_PLUGIN_NOTIFIER = 1,
};

/* How one delivery attempt ended. */
enum herald_result {
    HERALD_DELIVERED = 0, /* done; never send again */
    HERALD_RETRY = 1,     /* transient failure; the outbox retries with back-off */
    HERALD_FAILED = 2,    /* permanent failure; the alert is kept as dead */
};

/* Types of configuration keys a plugin declares; the core validates them before `init`. */
enum herald_opt_type {
    HERALD_OPT_STRING = 1,
    HERALD_OPT_INT = 2,      /* a Lua integer */
    HERALD_OPT_BOOL = 3,     /* a Lua boolean */
    HERALD_OPT_DURATION = 4, /* "90s", "5m", "2h", "1d" or a number of seconds; read as ms */
    HERALD_OPT_MAP = 5,      /* a table of string keys to string values (e.g. headers) */
    HERALD_OPT_LIST = 6,     /* a Lua array of strings (e.g. a command's argv); host version 3 */
    /* A message template (ABI minor 1): a string, or in the config a Lua function(alert)
     * whose result the plugin gets as "{{lua:OPTION}}", filled from alert->rendered. */
    HERALD_OPT_TEMPLATE = 7,
};

/* One configuration key a plugin accepts. Arrays of these end with a zeroed entry. */
struct herald_opt_spec {
    const char *name;
    enum herald_opt_type type;
    int required;              /* non-zero: the config must set it */
    const char *default_value; /* textual default for scalar types, or NULL */
    const char *help;          /* one line for `herald plugins` and error messages */
};

/* Opaque: a validated option set. Read it through the host's opt_* functions. */
struct herald_opts;

/* Opaque: one pending delivery; handed to deliver(), finished with host->complete(). */
struct herald_delivery;

/* The article an alert is about. Strings are UTF-8 plain text, or NULL when absent. */
struct herald_article {
    size_t struct_size;
    const char *id;     /* the item's stable id within its source */
    const char *source; /* the source's name from the config */
    const char *title;
    const char *link;
    const char *author;
    const char *summary;
    const char *text;  /* full plain text (content, else summary) */
    int64_t published; /* seconds since the epoch, UTC; -1 when unknown */
    const char *const *categories;
    size_t n_categories;
    const char *lang; /* BCP 47-ish language tag, or NULL */
};

/* One piece of evidence: where a rule's term matched, as a byte span in a field. */
struct herald_evidence {
    const char *field; /* "title", "text", "author", "link" or "source" */
    size_t start;      /* byte offset in that field of the article */
    size_t end;        /* one past the last byte */
    const char *term;  /* the query term that matched, as written in the rule */
};

/* A template option the config wrote as a Lua function, and its plain-text result. */
struct herald_rendered {
    const char *option;
    const char *text;
};

/* One alert to deliver to one notifier. */
struct herald_alert {
    size_t struct_size;
    const char *id;       /* stable idempotency key: the same alert always has the same id */
    const char *rule;     /* the rule's name */
    const char *notifier; /* the notifier instance's name */
    int64_t created;      /* when the alert was raised, seconds since the epoch */
    unsigned attempt;     /* 1 on the first delivery attempt */
    const struct herald_article *article;
    const struct herald_evidence *evidence;
    size_t n_evidence;
    const char *json; /* the whole alert as one JSON document (docs/alert-json.md) */
    /* ABI minor 1 (check struct_size): what the notifier's template functions returned for
     * this alert, one entry per HERALD_OPT_TEMPLATE option given as a Lua function. */
    const struct herald_rendered *rendered;
    size_t n_rendered;
};

/* An HTTP request a plugin asks the host to perform on the daemon's loop. */
struct herald_http_request {
    size_t struct_size;
    const char *method; /* "POST", "GET", "PUT" */
    const char *url;
    const char *const *headers; /* "Name: value" strings */
    size_t n_headers;
    const char *body;
    size_t body_len;
    long timeout_ms; /* 0: the host's default */
};

struct herald_http_response {
    size_t struct_size;
    long status;       /* HTTP status, 0 when no response arrived */
    const char *error; /* transport error text, NULL on a response */
    const char *body;  /* borrowed for the callback */
    size_t body_len;
    long retry_after_s; /* parsed Retry-After header in seconds, -1 when absent */
};

typedef void (*herald_http_cb)(void *arg, const struct herald_http_response *res);

/* One message a plugin asks the host to send over SMTP on the daemon's loop (host version 2).
 * The completion callback gets a herald_http_response whose `status` is the server's last
 * SMTP reply code (250 when accepted; 0 when none arrived) and `error` is set on failure. */
struct herald_mail {
    size_t struct_size;
    const char *url;                 /* smtp://host[:port] or smtps://host[:port] */
    const char *username, *password; /* SMTP AUTH, or NULL */
    int starttls;                    /* 1: require STARTTLS on smtp:// (fail without it) */
    const char *from;                /* envelope sender, a bare address */
    const char *const *to;           /* envelope recipients, bare addresses */
    size_t n_to;
    const char *message; /* the whole RFC 5322 message, CRLF line endings, not dot-stuffed */
    size_t message_len;
    long timeout_ms; /* 0: the host's default */
};

/* A program a plugin asks the host to run on the daemon's loop (host version 3). No shell is
 * involved: argv[0] is the program (an absolute path, else looked up in PATH) and each element
 * reaches it as one argument, as is. The child runs in its own process group; `input` is
 * written to its stdin, which is then closed; at `timeout_ms` the whole group is killed. */
struct herald_spawn {
    size_t struct_size;
    const char *const *argv; /* argc strings; no terminating NULL needed */
    size_t argc;
    const char *input; /* bytes for stdin, or NULL for an empty stdin */
    size_t input_len;
    long timeout_ms; /* 0: the host's default (30 s) */
};

/* How a spawned program ended. */
struct herald_spawn_result {
    size_t struct_size;
    int exit_status;    /* the exit code, or -1 when killed by a signal or never started */
    int term_signal;    /* the signal that ended it, else 0 */
    const char *error;  /* why it did not run or was killed ("timed out after 5 s"), else NULL */
    const char *output; /* the first 64 KiB of stdout and stderr interleaved; borrowed */
    size_t output_len;
};

typedef void (*herald_spawn_cb)(void *arg, const struct herald_spawn_result *r);

/* Events of a watched file descriptor (host version 4). */
enum herald_io_event {
    HERALD_IO_READ = 1,  /* readable (POLLIN) */
    HERALD_IO_WRITE = 2, /* writable (POLLOUT) */
    HERALD_IO_ERROR = 4, /* only passed to the callback: polling the descriptor failed */
};

/* Opaque handles of the host's loop (host version 4): a file descriptor watch and a timer. */
struct herald_watch;
struct herald_timer;

/* `events` are the HERALD_IO_* bits that are ready. */
typedef void (*herald_watch_cb)(void *arg, int events);
typedef void (*herald_timer_cb)(void *arg);

/* What the daemon offers a plugin. Check `version`/`struct_size` before using later fields. */
struct herald_host {
    uint32_t version;
    size_t struct_size;
    void *ctx; /* pass back as the first argument of log/http_request */

    /* Log one line attributed to the plugin instance; printf-style. */
    void (*log)(void *ctx, enum herald_log_level level, const char *fmt, ...);
    /* The value of a STRING/DURATION/INT/BOOL key as text, or NULL when unset and no default. */
    const char *(*opt_string)(const struct herald_opts *opts, const char *name);
    /* INT, BOOL (0/1) and DURATION (milliseconds) keys; `fallback` when unset. */
    long long (*opt_int)(const struct herald_opts *opts, const char *name, long long fallback);
    /* Number of entries of a MAP key (0 when unset). */
    size_t (*opt_map_count)(const struct herald_opts *opts, const char *name);
    /* Entry `i` of a MAP key; returns 0 and sets *key and *value, or -1 when out of range. */
    int (*opt_map_at)(const struct herald_opts *opts, const char *name, size_t i, const char **key,
                      const char **value);
    /* Start an asynchronous HTTP request; `cb` runs once on the loop thread, unless this
     * returns non-zero, in which case it never runs. */
    int (*http_request)(void *ctx, const struct herald_http_request *req, herald_http_cb cb,
                        void *arg);
    /* Finish a delivery started by deliver(); exactly once. `detail` may be NULL. */
    void (*complete)(struct herald_delivery *d, enum herald_result result, const char *detail);
    /* Ask for a retry no sooner than `seconds` from now (e.g. from Retry-After); call before
     * complete(d, HERALD_RETRY, …). */
    void (*retry_after)(struct herald_delivery *d, long seconds);

    /* Version 2. Send one mail asynchronously (libcurl SMTP; curl dot-stuffs the message);
     * `cb` runs once on the loop thread, unless this returns non-zero. */
    int (*mail_send)(void *ctx, const struct herald_mail *m, herald_http_cb cb, void *arg);

    /* Version 3. Number of strings of a LIST key (0 when unset), and string `i` (NULL when out
     * of range). */
    size_t (*opt_list_count)(const struct herald_opts *opts, const char *name);
    const char *(*opt_list_at)(const struct herald_opts *opts, const char *name, size_t i);
    /* Run a program asynchronously (struct herald_spawn); `cb` runs once on the loop thread,
     * after the program and its pipes are gone, unless this returns non-zero. A program that
     * cannot be started is reported through `cb` with `error` set. */
    int (*spawn)(void *ctx, const struct herald_spawn *s, herald_spawn_cb cb, void *arg);

    /* Version 4: run a library that owns a file descriptor (sd-bus, …) on the daemon's loop.
     * Watch `fd` for `events` (HERALD_IO_READ|WRITE; 0 watches nothing yet); `cb` runs on the
     * loop thread with the ready events. NULL when it cannot (or herald is stopping). Watches
     * and timers never keep the daemon running; close each one at the latest in fini. */
    struct herald_watch *(*watch_fd)(void *ctx, int fd, int events, herald_watch_cb cb, void *arg);
    /* Change the events a watch waits for (0: pause it). 0, or -1. */
    int (*watch_update)(struct herald_watch *w, int events);
    /* Stop and release a watch (NULL is ignored): its callback never runs again, even when this
     * is called from inside it. The descriptor stays open; close it afterwards. */
    void (*watch_close)(struct herald_watch *w);
    /* A one-shot timer calling cb(arg) on the loop thread once armed; NULL when it cannot. */
    struct herald_timer *(*timer_new)(void *ctx, herald_timer_cb cb, void *arg);
    /* Arm (or re-arm, replacing the earlier deadline) to fire once, `ms` from now. 0, or -1. */
    int (*timer_start)(struct herald_timer *t, uint64_t ms);
    /* Disarm; the callback does not run until the timer is started again. */
    void (*timer_stop)(struct herald_timer *t);
    /* Stop and release a timer (NULL is ignored); its callback never runs again. */
    void (*timer_close)(struct herald_timer *t);
};

/* The one struct a plugin exports as `herald_plugin`. */
struct herald_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t struct_size;
    const char *name; /* the `type` users write in herald.notifier { type = … } */
    enum herald_plugin_kind kind;
    const char *description;
    const struct herald_opt_spec *options; /* ends with a zeroed entry */

    /* Create one instance from validated options. Returns 0 and sets *state, or non-zero
     * with a message in err. */
    int (*init)(const struct herald_host *host, const struct herald_opts *opts, void **state,
                char *err, size_t errlen);
    /* Send one alert (see the delivery contract above). */
    int (*deliver)(void *state, const struct herald_alert *alert, struct herald_delivery *d);
    /* Release an instance. No delivery of it is in flight when this is called. */
    void (*fini)(void *state);
};

#define HERALD_PLUGIN_INIT(name_, desc_, opts_, init_, deliver_, fini_)                            \
    {                                                                                              \
        HERALD_ABI_MAJOR, HERALD_ABI_MINOR, sizeof(struct herald_plugin), (name_),                 \
            HERALD_PLUGIN_NOTIFIER, (desc_), (opts_), (init_), (deliver_), (fini_)                 \
    }

#ifdef __cplusplus
}
#endif
#endif
