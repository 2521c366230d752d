/*
 * config — loading the user's Lua config (herald.source / notifier / rule / concept /
 * options declarations) into a validated `struct config`. The Lua state that ran the
 * config stays alive inside the config: rules' `match` functions live in it.
 * Every error is reported as "file:line: message".
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include "hold.h"
#include "index.h"
#include "plugin.h"
#include "query.h"
#include "sandbox.h"

#include <stddef.h>
#include <stdint.h>

struct cfg_source {
    char *name;
    char *url;            /* http://, https:// or file:// */
    char *kind;           /* "feed" (also reads HTML pages as one article) or "page" */
    char *lang;           /* NULL: from the feed, else "en" */
    int64_t every_ms;     /* the first interval; it then adapts within min..max */
    int64_t min_every_ms; /* lower bound of the adaptive interval (default every/4, >= 1m) */
    int64_t max_every_ms; /* upper bound (default every*4) */
    size_t max_bytes;
    long timeout_ms;
    long connect_timeout_ms;
    char *proxy;      /* NULL: herald.options proxy, else curl's default (environment) */
    char *user_agent; /* NULL: herald.options user_agent, else herald/VERSION */
    int insecure;
    int enabled;
    char *file;
    int line;
};

struct cfg_notifier {
    char *name;
    char *type;
    const struct herald_plugin *plugin;
    struct herald_opts opts;
    int64_t retry_min_ms;
    int64_t retry_max_ms;
    int64_t give_up_ms;
    struct hold_policy hold; /* throttle, digest, quiet */
    char *file;
    int line;
};

struct cfg_rule {
    char *name;
    char *query_src; /* NULL when the rule is a pure `match` function */
    struct query *query;
    int match_ref; /* registry ref of the match function, or LUA_NOREF */
    char **notify; /* notifier names */
    size_t n_notify;
    char *lang; /* NULL: "en" */
    int stem;
    long budget;             /* instructions per evaluation of `match` */
    struct hold_policy hold; /* throttle, digest, quiet: override the notifiers' */
    char *file;
    int line;
    /* Run-time health: consecutive failures; disabled after too many. */
    int failures;
    int disabled;
    int paused; /* `herald pause RULE` */
    unsigned long hits;
};

/* herald.expect { rule = …, fires = …, not_fires = … }: a rule's test cases. */
struct cfg_expect {
    char *rule;
    char **fires; /* article files (absolute, or relative to the config's folder) */
    size_t n_fires;
    char **not_fires;
    size_t n_not_fires;
    char *file;
    int line;
};

struct config {
    struct sandbox *sb;
    char *path;
    char *dir;
    struct cfg_source *sources;
    size_t n_sources;
    struct cfg_notifier *notifiers;
    size_t n_notifiers;
    struct cfg_rule *rules;
    size_t n_rules;
    struct concepts *concepts;
    struct rule_index *index;
    int holds;  /* parse jobs using the rules (config_hold) */
    int doomed; /* config_free was called while held */
    struct cfg_expect *expects;
    size_t n_expects;
    char **files; /* the config file and every module it required, for reload-on-save */
    size_t n_files;
    /* herald.options { … } */
    char *state_dir;  /* NULL: XDG default */
    int log_level;    /* -1: unset */
    char *user_agent; /* NULL: default */
    char *proxy;      /* NULL: from the environment (http_proxy, https_proxy, no_proxy) */
    int64_t default_every_ms;
    int64_t retention_ms; /* seen items and finished alerts older than this are pruned */
    long max_concurrent;
    long max_per_host;
    /* Parser caps for every fetched document (0: the parser's default, see feed.h). */
    size_t max_document_bytes;
    size_t max_items;
    int max_depth;
};

/* Hooks the loader needs from the daemon. */
struct config_env {
    const struct plugin_registry *plugins;      /* to validate notifier types and options */
    const char *library_dir;                    /* herald's Lua library for require(), or NULL */
    const char *state_dir;                      /* exposed to the config as herald.state_dir */
    void (*print)(void *arg, const char *line); /* Lua print() */
    void *print_arg;
};

/* The keys every notifier takes whatever its type (read by the core, not the plugin),
 * NULL-terminated; no plugin option may take one of these names. */
extern const char *const config_notifier_keys[];

/* Load and validate `path`. Returns 0 and sets *out, or -1 with one or more
 * "file:line: message" lines in err. */
int config_load(const char *path, const struct config_env *env, struct config **out, char *err,
                size_t errlen);
/* Release a config and its Lua state. NULL is allowed. A held config (config_hold) is
 * released when its last hold goes. Loop thread only, as hold and release. */
void config_free(struct config *c);
/* Keep `c` alive for a job on the thread pool that reads its rules; config_release ends it. */
void config_hold(struct config *c);
void config_release(struct config *c);
/* Index of the notifier named `name`, or -1. */
long config_notifier_index(const struct config *c, const char *name);
/* The source named `name`, or NULL. */
const struct cfg_source *config_source(const struct config *c, const char *name);

#endif
