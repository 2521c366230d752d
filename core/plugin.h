/*
 * plugin — finding, loading and checking notifier plugins (.so files exporting a
 * `struct herald_plugin`), validating a notifier's options against the plugin's declared
 * schema, and the option store plugins read through the host table.
 */
#ifndef HERALD_PLUGIN_LOADER_H
#define HERALD_PLUGIN_LOADER_H

#include <herald/plugin.h>

#include <stddef.h>

struct plugin_registry;

/* One option value as validated from the config. */
struct opt_value {
    char *name;
    enum herald_opt_type type;
    char *text;      /* scalar value as text (DURATION as milliseconds, BOOL as 0/1) */
    char **map_keys; /* MAP entries */
    char **map_vals;
    size_t map_n;
    char **list; /* LIST elements, in order */
    size_t list_n;
    int fn_ref; /* TEMPLATE given as a Lua function: its registry ref (text is then
                 * "{{lua:NAME}}"); 0 otherwise */
};

/* Opaque to plugins; the core's definition. */
struct herald_opts {
    struct opt_value *v;
    size_t n;
};

/* Load every *.so in each directory of the colon-separated `path` (missing directories
 * are skipped). A file that fails to load or has another ABI is reported through `warn`
 * (may be NULL) and skipped. Returns the registry or NULL when out of memory. */
struct plugin_registry *plugin_registry_load(const char *path,
                                             void (*warn)(void *arg, const char *msg), void *arg);
/* dlclose every plugin. */
void plugin_registry_free(struct plugin_registry *r);
/* The plugin named `name` (a notifier `type`), or NULL. */
const struct herald_plugin *plugin_find(const struct plugin_registry *r, const char *name);
/* Names of the loaded plugins, comma-separated, into buf (for error messages). */
char *plugin_names(const struct plugin_registry *r, char *buf, size_t n);
/* Number of loaded plugins, and the i-th one. */
size_t plugin_count(const struct plugin_registry *r);
const struct herald_plugin *plugin_at(const struct plugin_registry *r, size_t i);

/* The default plugin search path: $HERALD_PLUGIN_PATH, then <dir of the executable>/plugins,
 * then the installed plugin directory. malloc'd. */
char *plugin_default_path(void);

/* Option store operations (also behind the host table). */
const char *opts_string(const struct herald_opts *o, const char *name);
long long opts_int(const struct herald_opts *o, const char *name, long long fallback);
size_t opts_map_count(const struct herald_opts *o, const char *name);
int opts_map_at(const struct herald_opts *o, const char *name, size_t i, const char **key,
                const char **value);
/* Number of strings of a LIST key (0 when unset), and string i (NULL when out of range). */
size_t opts_list_count(const struct herald_opts *o, const char *name);
const char *opts_list_at(const struct herald_opts *o, const char *name, size_t i);
void opts_free(struct herald_opts *o);

#endif
