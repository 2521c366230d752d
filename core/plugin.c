/*
 * plugin — the loader. Plugins are opened with RTLD_NOW|RTLD_LOCAL so a missing symbol
 * fails at load time and two plugins never see each other's symbols. The exported struct
 * is checked for the ABI major version and its declared size before anything is read from
 * it, so an older plugin (a shorter struct) stays loadable when fields are appended.
 */
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct loaded {
    void *handle;
    struct herald_plugin p; /* a copy, zero-filled past the plugin's struct_size */
    char *file;
};

struct plugin_registry {
    struct loaded *v;
    size_t n, cap;
};

static void report(void (*warn)(void *, const char *), void *arg, const char *fmt, const char *a,
                   const char *b)
{
    if (!warn) return;
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    warn(arg, msg);
}

static int registry_has(const struct plugin_registry *r, const char *name)
{
    return plugin_find(r, name) != NULL;
}

static void load_one(struct plugin_registry *r, const char *file,
                     void (*warn)(void *, const char *), void *arg)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        report(warn, arg, "plugin %s not loaded: %s", file, dlerror());
        return;
    }
    const struct herald_plugin *p = dlsym(h, HERALD_PLUGIN_SYMBOL);
    if (!p) {
        report(warn, arg, "plugin %s not loaded: no '%s' symbol", file, HERALD_PLUGIN_SYMBOL);
        dlclose(h);
        return;
    }
    if (p->abi_major != HERALD_ABI_MAJOR || p->struct_size < offsetof(struct herald_plugin, fini) ||
        !p->name) {
        char want[64];
        snprintf(want, sizeof want, "ABI %u, this herald speaks %d", p->abi_major,
                 HERALD_ABI_MAJOR);
        report(warn, arg, "plugin %s not loaded: %s", file, want);
        dlclose(h);
        return;
    }
    if (registry_has(r, p->name)) {
        /* Earlier directories in the path win, as with $PATH. */
        dlclose(h);
        return;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct loaded *nv = realloc(r->v, cap * sizeof *nv);
        if (!nv) {
            dlclose(h);
            return;
        }
        r->v = nv;
        r->cap = cap;
    }
    struct loaded *l = &r->v[r->n];
    memset(l, 0, sizeof *l);
    size_t take = p->struct_size < sizeof l->p ? p->struct_size : sizeof l->p;
    memcpy(&l->p, p, take);
    l->handle = h;
    l->file = strdup(file);
    r->n++;
}

static int ends_with_so(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(struct plugin_registry *r, const char *dir, void (*warn)(void *, const char *),
                     void *arg)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < sizeof names / sizeof names[0])
        if (ends_with_so(de->d_name)) names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) continue;
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s/%s", dir, names[i]);
        load_one(r, file, warn, arg);
        free(names[i]);
    }
}

struct plugin_registry *plugin_registry_load(const char *path,
                                             void (*warn)(void *arg, const char *msg), void *arg)
{
    struct plugin_registry *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    char *copy = strdup(path ? path : "");
    if (!copy) {
        free(r);
        return NULL;
    }
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
        load_dir(r, dir, warn, arg);
    free(copy);
    return r;
}

void plugin_registry_free(struct plugin_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        dlclose(r->v[i].handle);
        free(r->v[i].file);
    }
    free(r->v);
    free(r);
}

const struct herald_plugin *plugin_find(const struct plugin_registry *r, const char *name)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->v[i].p.name, name) == 0) return &r->v[i].p;
    return NULL;
}

size_t plugin_count(const struct plugin_registry *r)
{
    return r ? r->n : 0;
}

const struct herald_plugin *plugin_at(const struct plugin_registry *r, size_t i)
{
    return i < r->n ? &r->v[i].p : NULL;
}

char *plugin_names(const struct plugin_registry *r, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; r && i < r->n && off < n; i++) {
        int w = snprintf(buf + off, n - off, "%s%s", i ? ", " : "", r->v[i].p.name);
        if (w < 0) break;
        off += (size_t)w;
    }
    if (!r || r->n == 0) snprintf(buf, n, "(none found)");
    return buf;
}

char *plugin_default_path(void)
{
    char exe[PATH_MAX];
    char path[3 * PATH_MAX + 8];
    const char *env = getenv("HERALD_PLUGIN_PATH");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *exe_dir = NULL;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            exe_dir = exe;
        }
    }
#ifndef HERALD_PLUGIN_DIR
#define HERALD_PLUGIN_DIR "/usr/local/lib/herald/plugins"
#endif
    snprintf(path, sizeof path, "%s%s%s%s%s", env && *env ? env : "", env && *env ? ":" : "",
             exe_dir ? exe_dir : "", exe_dir ? "/plugins:" : "", HERALD_PLUGIN_DIR);
    return strdup(path);
}

static const struct opt_value *opt_find(const struct herald_opts *o, const char *name)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (strcmp(o->v[i].name, name) == 0) return &o->v[i];
    return NULL;
}

const char *opts_string(const struct herald_opts *o, const char *name)
{
    const struct opt_value *v = opt_find(o, name);
    return v && v->type != HERALD_OPT_MAP && v->type != HERALD_OPT_LIST ? v->text : NULL;
}

long long opts_int(const struct herald_opts *o, const char *name, long long fallback)
{
    const char *s = opts_string(o, name);
    if (!s) return fallback;
    char *end;
    long long v = strtoll(s, &end, 10);
    return end != s ? v : fallback;
}

size_t opts_map_count(const struct herald_opts *o, const char *name)
{
    const struct opt_value *v = opt_find(o, name);
    return v && v->type == HERALD_OPT_MAP ? v->map_n : 0;
}

int opts_map_at(const struct herald_opts *o, const char *name, size_t i, const char **key,
                const char **value)
{
    const struct opt_value *v = opt_find(o, name);
    if (!v || v->type != HERALD_OPT_MAP || i >= v->map_n) return -1;
    *key = v->map_keys[i];
    *value = v->map_vals[i];
    return 0;
}

size_t opts_list_count(const struct herald_opts *o, const char *name)
{
    const struct opt_value *v = opt_find(o, name);
    return v && v->type == HERALD_OPT_LIST ? v->list_n : 0;
}

const char *opts_list_at(const struct herald_opts *o, const char *name, size_t i)
{
    const struct opt_value *v = opt_find(o, name);
    return v && v->type == HERALD_OPT_LIST && i < v->list_n ? v->list[i] : NULL;
}

void opts_free(struct herald_opts *o)
{
    for (size_t i = 0; i < o->n; i++) {
        struct opt_value *v = &o->v[i];
        free(v->name);
        free(v->text);
        for (size_t j = 0; j < v->map_n; j++) {
            free(v->map_keys[j]);
            free(v->map_vals[j]);
        }
        free(v->map_keys);
        free(v->map_vals);
        for (size_t j = 0; j < v->list_n; j++)
            free(v->list[j]);
        free(v->list);
    }
    free(o->v);
    o->v = NULL;
    o->n = 0;
}
