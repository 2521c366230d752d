/*
 * daemon — the life of a herald process: load plugins and config, open the store, start
 * the schedule and the outbox, handle signals (INT/TERM stop gracefully, HUP reloads),
 * and tear everything down so that uv_loop_close() succeeds, which proves no handle leaked.
 * `herald run` and `herald fetch --once` are the same machinery; --once polls each source
 * a single time, delivers what is due, and exits.
 */
#include "herald.h"

#include "control.h"
#include "pidfile.h"
#include "service.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { DRAIN_MS = 5000 };

#ifndef HERALD_DATA_DIR
#define HERALD_DATA_DIR "/usr/local/share/herald"
#endif

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *herald_library_dir(void)
{
    const char *env = getenv("HERALD_LIBRARY_DIR");
    if (env && *env) return strdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            /* Running from the build tree: build/herald → scripts/lib. */
            snprintf(slash, sizeof exe - (size_t)(slash - exe), "/../scripts/lib");
            if (is_dir(exe)) return strdup(exe);
        }
    }
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/lib", HERALD_DATA_DIR);
    return is_dir(lib) ? strdup(lib) : NULL;
}

static void on_plugin_warn(void *arg, const char *msg)
{
    log_msg(arg, HERALD_LOG_WARN, "%s", msg);
}

struct plugin_registry *herald_load_plugins(const struct logger *lg)
{
    char *path = plugin_default_path();
    struct plugin_registry *r = plugin_registry_load(path, on_plugin_warn, (void *)lg);
    free(path);
    return r;
}

void herald_progress(struct herald *h)
{
    enum { PROGRESS_EVERY_MS = 100 };
    if (!h->once || !isatty(STDERR_FILENO)) return;
    int64_t now = now_ms();
    int last = h->polls_left == 0;
    if (!last && now - h->stats.progress_ms < PROGRESS_EVERY_MS) return;
    h->stats.progress_ms = now;
    unsigned long total = h->stats.polls_done + (unsigned long)h->polls_left;
    /* Drawn then returned to column 0, so the next log line overwrites it. */
    fprintf(stderr,
            "\r\033[K[%lu/%lu sources] %lu fetched, %lu not modified, %lu errors, %lu new items, "
            "%zu transfers running%s",
            h->stats.polls_done, total, h->stats.fetches, h->stats.not_modified,
            h->stats.fetch_errors, h->stats.items_new,
            h->fetcher ? fetcher_running(h->fetcher) : (size_t)0, last ? "\n" : "\r");
    fflush(stderr);
}

/* Local time of `t` (seconds), or "-" when 0. */
static const char *fmt_time(int64_t t, char *buf, size_t n)
{
    if (t <= 0) return "-";
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* What the summary shows for config source s: the kept state of its run (the runs are the
 * enabled sources in config order, *cursor walking them), else the store's row read into
 * *buf. 1 with *out set, 0 when nothing was ever stored. */
static int summary_state(struct herald *h, const struct cfg_source *s, size_t *cursor,
                         struct source_state *buf, const struct source_state **out)
{
    *out = buf;
    if (*cursor < h->n_sources && strcmp(h->sources[*cursor]->name, s->name) == 0) {
        const struct source_run *sr = h->sources[(*cursor)++];
        if (sr->state_known) {
            *out = &sr->state;
            return sr->state_have;
        }
    }
    return store_source_get(h->store, s->name, buf) == 1;
}

/* fetch --once: one line per configured source with what the store now says about it.
 * Runs before the scheduler lets go of its runs, whose kept states mirror the store. */
static void print_summary(struct herald *h)
{
    const struct config *cfg = h->cfg;
    int w = 6;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        int n = (int)strlen(cfg->sources[i].name);
        if (n > w) w = n > 40 ? 40 : n;
    }
    printf("%-*s  %-6s  %5s  %-19s  %s\n", w, "SOURCE", "STATUS", "NEW", "NEXT POLL", "ERROR");
    size_t cursor = 0;
    /* Most next polls fall in a few seconds: format each second once (localtime_r and
     * strftime were a third of a 10,000-line summary). */
    int64_t when_t = -1;
    char when[32] = "-";
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        struct source_state buf = {0};
        const struct source_state *st = &buf;
        int have = s->enabled && summary_state(h, s, &cursor, &buf, &st);
        char status[16];
        if (!s->enabled)
            snprintf(status, sizeof status, "off");
        else if (!have)
            snprintf(status, sizeof status, "-");
        else if (st->last_error && st->last_status == 0)
            snprintf(status, sizeof status, "error");
        else if (st->last_status == 0)
            snprintf(status, sizeof status, "ok");
        else
            snprintf(status, sizeof status, "%ld", st->last_status);
        int64_t t = have ? st->next_poll : 0;
        if (t != when_t) {
            const char *f = fmt_time(t, when, sizeof when);
            if (f != when) snprintf(when, sizeof when, "%s", f);
            when_t = t;
        }
        printf("%-*.*s  %-6s  %5lld  %-19s  %s\n", w, w, s->name, status,
               (long long)(have ? st->items_new : 0), when,
               have && st->last_error ? st->last_error : "");
        source_state_clear(&buf);
    }
    fflush(stdout);
}

static void on_lua_print(void *arg, const char *line)
{
    log_msg(arg, HERALD_LOG_INFO, "lua: %s", line);
}

static void on_closed(uv_handle_t *hd)
{
    (void)hd;
}

/* Close the remaining handles; uv_run returns once they are gone. */
static void finish(struct herald *h)
{
    if (h->stopping > 1) return;
    h->stopping = 2;
    if (h->once) print_summary(h);
    scheduler_close(h);
    if (h->fetcher) fetcher_close(h->fetcher); /* cancels what is still in flight */
    spawn_stop_all(&h->spawns); /* kills programs still running; they report as retries */
    h->fetcher = NULL;
    uv_close((uv_handle_t *)&h->outbox_timer, on_closed);
    uv_close((uv_handle_t *)&h->drain_timer, on_closed);
    uv_close((uv_handle_t *)&h->sig_int, on_closed);
    uv_close((uv_handle_t *)&h->sig_term, on_closed);
    uv_close((uv_handle_t *)&h->sig_hup, on_closed);
    uv_close((uv_handle_t *)&h->sig_usr1, on_closed);
    uv_close((uv_handle_t *)&h->prune_timer, on_closed);
    control_close(h);
    uv_close((uv_handle_t *)&h->reload_timer, on_closed);
    uv_close((uv_handle_t *)&h->service_timer, on_closed);
    for (int i = 0; i < h->watching; i++)
        uv_close((uv_handle_t *)&h->cfg_watch[i], on_closed);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct herald *h = t->data;
    log_msg(&h->log, HERALD_LOG_WARN,
            "stopping: %zu deliveries still in flight; they stay queued and resume at the "
            "next start",
            h->deliveries_in_flight);
    finish(h);
}

void herald_stop(struct herald *h, int exit_code)
{
    if (h->stopping) return;
    h->stopping = 1;
    if (!h->once) service_stopping(h);
    h->exit_code = exit_code;
    for (size_t i = 0; i < h->n_sources; i++)
        uv_timer_stop(&h->sources[i]->timer);
    uv_timer_stop(&h->outbox_timer);
    if (h->deliveries_in_flight == 0) {
        finish(h);
        return;
    }
    uv_timer_start(&h->drain_timer, on_drain_timeout, DRAIN_MS, 0);
}

void herald_check_done(struct herald *h)
{
    if (h->stopping == 1 && h->deliveries_in_flight == 0) {
        finish(h);
        return;
    }
    if (!h->once || h->stopping) return;
    if (h->polls_left == 0 && h->deliveries_in_flight == 0 && !h->outbox_busy &&
        !uv_is_active((uv_handle_t *)&h->outbox_timer))
        herald_stop(h, h->exit_code);
}

static void apply_paused(struct herald *h);
static void watch_config(struct herald *h);

static int reload_config(struct herald *h, char *err, size_t errlen)
{
    struct config_env env = {.plugins = h->plugins,
                             .library_dir = h->library_dir,
                             .state_dir = h->state_dir_arg,
                             .print = on_lua_print,
                             .print_arg = &h->log};
    struct config *next = NULL;
    service_reloading(h, 0);
    if (config_load(h->config_path, &env, &next, err, errlen) != 0) {
        log_msg(&h->log, HERALD_LOG_ERROR, "reload failed, the running config stays:\n%s", err);
        service_reloading(h, 1);
        return -1;
    }
    struct config *old = h->cfg;
    h->cfg = next;
    apply_paused(h);
    char nerr[256];
    if (notifiers_sync(h, nerr, sizeof nerr) != 0)
        log_msg(&h->log, HERALD_LOG_ERROR, "reload: notifiers: %s", nerr);
    if (scheduler_sync(h) != 0) log_msg(&h->log, HERALD_LOG_ERROR, "reload: out of memory");
    config_free(old);
    log_msg(&h->log, HERALD_LOG_INFO, "reloaded %s: %zu sources, %zu rules, %zu notifiers",
            h->config_path, h->cfg->n_sources, h->cfg->n_rules, h->cfg->n_notifiers);
    service_reloading(h, 1);
    if (h->watching) watch_config(h);
    outbox_kick(h);
    return 0;
}

int herald_reload(struct herald *h, char *err, size_t errlen)
{
    return reload_config(h, err, errlen);
}

static void reload(struct herald *h)
{
    char err[4096];
    reload_config(h, err, sizeof err);
}

/* ---- pause and resume ------------------------------------------------------------- */

int herald_paused(const struct herald *h, const char *name)
{
    for (size_t i = 0; i < h->n_paused; i++)
        if (strcmp(h->paused[i], name) == 0) return 1;
    return 0;
}

/* Rules carry their paused flag; a new config (reload) gets it from the set. */
static void apply_paused(struct herald *h)
{
    for (size_t i = 0; h->cfg && i < h->cfg->n_rules; i++)
        h->cfg->rules[i].paused = herald_paused(h, h->cfg->rules[i].name);
}

int herald_set_paused(struct herald *h, const char *name, int pause)
{
    int kind = config_source(h->cfg, name) ? 1 : 0;
    for (size_t i = 0; !kind && i < h->cfg->n_rules; i++)
        if (strcmp(h->cfg->rules[i].name, name) == 0) kind = 2;
    if (!kind) return -1;
    int was = herald_paused(h, name);
    if (pause && !was) {
        char **v = realloc(h->paused, (h->n_paused + 1) * sizeof *v);
        char *copy = strdup(name);
        if (!v || !copy) {
            free(copy);
            if (v) h->paused = v;
            return -1;
        }
        h->paused = v;
        h->paused[h->n_paused++] = copy;
    } else if (!pause && was) {
        for (size_t i = 0; i < h->n_paused; i++)
            if (strcmp(h->paused[i], name) == 0) {
                free(h->paused[i]);
                h->paused[i] = h->paused[--h->n_paused];
                break;
            }
        /* A resumed source polls at once rather than at its next slot. */
        if (kind == 1) scheduler_poll_now(h, name, NULL, NULL);
    }
    apply_paused(h);
    return kind;
}

/* ---- retention -------------------------------------------------------------------- */

enum { PRUNE_EVERY_MS = 3600 * 1000, PRUNE_GAP_MS = 1 };

/* Hourly, a pass over the store: alerts at once (indexed), then items a slice per timer
 * round, other events running in between, so pruning millions of items never holds up
 * fetching for more than a few milliseconds. */
static void on_prune_timer(uv_timer_t *t)
{
    struct herald *h = t->data;
    int starting = !h->prune_cursor;
    if (starting) {
        h->prune_before = now_seconds() - h->cfg->retention_ms / 1000;
        h->pruned = store_prune_alerts(h->store, h->prune_before);
    }
    long n =
        h->pruned < 0 ? -1 : store_prune_items_slice(h->store, h->prune_before, &h->prune_cursor);
    if (n < 0) {
        log_msg(&h->log, HERALD_LOG_ERROR, "store: pruning: %s", store_errmsg(h->store));
        free(h->prune_cursor);
        h->prune_cursor = NULL;
        return; /* the next pass comes with the hourly repeat */
    }
    h->pruned += n;
    if (h->prune_cursor) {
        uv_timer_start(t, on_prune_timer, PRUNE_GAP_MS, PRUNE_EVERY_MS);
        return;
    }
    if (!starting) uv_timer_start(t, on_prune_timer, PRUNE_EVERY_MS, PRUNE_EVERY_MS);
    if (h->pruned > 0)
        log_msg(&h->log, HERALD_LOG_INFO, "pruned %ld items and alerts older than %s", h->pruned,
                duration_format(h->cfg->retention_ms, (char[32]){0}, 32));
}

/* SIGUSR1: one line of statistics in the log. */
static void log_status(struct herald *h)
{
    long pending = store_outbox_pending(h->store), held = store_held_pending(h->store);
    log_msg(&h->log, HERALD_LOG_INFO,
            "status: %zu sources, %zu rules, %zu notifiers; %lu fetches (%lu errors, %lu not "
            "modified), %lu new items, %lu alerts, %lu delivered, %lu retries, %lu dead, %ld "
            "queued, %ld held",
            h->n_sources, h->cfg->n_rules, h->n_notifiers, h->stats.fetches, h->stats.fetch_errors,
            h->stats.not_modified, h->stats.items_new, h->stats.alerts, h->stats.delivered,
            h->stats.delivery_retries, h->stats.dead, pending, held);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct herald *h = s->data;
    if (signum == SIGUSR1) {
        log_status(h);
        return;
    }
    if (signum == SIGHUP) {
        log_msg(&h->log, HERALD_LOG_INFO, "SIGHUP: reloading %s", h->config_path);
        reload(h);
        return;
    }
    if (h->stopping) {
        log_msg(&h->log, HERALD_LOG_WARN, "second %s: stopping now", strsignal(signum));
        finish(h);
        return;
    }
    log_msg(&h->log, HERALD_LOG_INFO, "%s: stopping", strsignal(signum));
    herald_stop(h, 0);
}

static void on_reload_timer(uv_timer_t *t)
{
    struct herald *h = t->data;
    log_msg(&h->log, HERALD_LOG_INFO, "config changed on disk: reloading %s", h->config_path);
    reload(h);
}

/* Editors save by writing a new file and renaming it over the old one, so the folder is
 * watched rather than the file; any .lua in it may be a rule pack the config requires. */
static void on_config_changed(uv_fs_event_t *w, const char *filename, int events, int status)
{
    struct herald *h = w->data;
    (void)events;
    if (status < 0 || h->stopping || !filename) return;
    size_t n = strlen(filename);
    if (n < 4 || strcmp(filename + n - 4, ".lua") != 0) return;
    uv_timer_start(&h->reload_timer, on_reload_timer, 300, 0);
}

/* Watch the folders of the config file and of every module it required (at most 8):
 * saving any .lua file there reloads. Called again after each reload, as the set of
 * modules may have changed. */
static void watch_config(struct herald *h)
{
    enum { MAX_WATCH = (int)(sizeof h->cfg_watch / sizeof h->cfg_watch[0]) };
    for (int i = 0; i < h->watching; i++)
        uv_fs_event_stop(&h->cfg_watch[i]);
    char *dirs[MAX_WATCH];
    int n = 0;
    for (size_t i = 0; h->cfg && i < h->cfg->n_files && n < MAX_WATCH; i++) {
        char *dir = path_dirname(h->cfg->files[i]);
        int seen = !dir;
        for (int j = 0; j < n && !seen; j++)
            seen = strcmp(dirs[j], dir) == 0;
        if (seen) {
            free(dir);
            continue;
        }
        dirs[n++] = dir;
    }
    for (int i = 0; i < n; i++) {
        if (i >= h->watching) {
            if (uv_fs_event_init(&h->loop, &h->cfg_watch[i]) != 0) break;
            h->cfg_watch[i].data = h;
            h->watching = i + 1;
        }
        int rc = uv_fs_event_start(&h->cfg_watch[i], on_config_changed, dirs[i], 0);
        if (rc != 0)
            log_msg(&h->log, HERALD_LOG_WARN,
                    "cannot watch %s for changes (%s); reload with SIGHUP instead", dirs[i],
                    uv_strerror(rc));
    }
    for (int i = 0; i < n; i++)
        free(dirs[i]);
}

static int start_signal(struct herald *h, uv_signal_t *s, int signum)
{
    uv_signal_init(&h->loop, s);
    s->data = h;
    return uv_signal_start(s, on_signal, signum);
}

static void apply_verbosity(struct herald *h, const struct herald_args *args)
{
    if (args->verbosity < 0)
        h->log.level = HERALD_LOG_WARN;
    else if (args->verbosity > 0)
        h->log.level = HERALD_LOG_DEBUG;
    else if (h->cfg && h->cfg->log_level >= 0)
        h->log.level = (enum herald_log_level)h->cfg->log_level;
}

/* Make `p` absolute (a daemon changes its directory to /). malloc'd. */
static char *absolute(const char *p)
{
    if (!p || p[0] == '/') return p ? strdup(p) : NULL;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return strdup(p);
    return path_join(cwd, p);
}

/* Decide the state directory and take its pid lock: one herald per state. */
static int lock_state(struct herald *h, const struct herald_args *args)
{
    char *dir = args->state_dir     ? absolute(args->state_dir)
                : h->cfg->state_dir ? absolute(h->cfg->state_dir)
                                    : xdg_state_dir();
    h->state_dir = dir;
    if (!dir || mkdir_p(dir, 0700) != 0) {
        fprintf(stderr, "herald: %s: %s\n", dir ? dir : "state directory", strerror(errno));
        return -1;
    }
    char err[1024];
    h->pid_fd = pidfile_acquire(dir, err, sizeof err);
    if (h->pid_fd < 0) {
        fprintf(stderr, "herald: %s\n", err);
        return -1;
    }
    return 0;
}

static int open_store(struct herald *h)
{
    char err[1024];
    int rc = store_open(h->state_dir, &h->store, err, sizeof err);
    if (rc != 0)
        log_msg(&h->log, HERALD_LOG_ERROR, "%s", err);
    else
        log_msg(&h->log, HERALD_LOG_DEBUG, "state in %s", h->state_dir);
    return rc;
}

/* --daemon: the classic double fork, so herald is no session leader and can never regain a
 * terminal. The pid lock was taken before, and the child keeps it (flock belongs to the
 * open file, which the child inherits). Returns 0 in the daemon; the parents exit. */
static int daemonize(struct herald *h, const char *log_file)
{
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return -1;
    if (p > 0) _exit(0);
    if (setsid() < 0) return -1;
    p = fork();
    if (p < 0) return -1;
    if (p > 0) _exit(0);
    if (chdir("/") != 0) return -1;
    umask(077);
    int null = open("/dev/null", O_RDWR);
    char *log = log_file ? absolute(log_file) : path_join(h->state_dir, "herald.log");
    int logfd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;
    free(log);
    if (null < 0) return -1;
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(logfd >= 0 ? logfd : null, STDERR_FILENO);
    if (logfd > 2) close(logfd);
    if (null > 2) close(null);
    h->log.timestamps = 1;
    return pidfile_update(h->pid_fd);
}

static void teardown(struct herald *h)
{
    if (h->state_dir) pidfile_release(h->pid_fd, h->state_dir);
    for (size_t i = 0; i < h->n_paused; i++)
        free(h->paused[i]);
    free(h->paused);
    free(h->prune_cursor);
    free(h->state_dir);
    free(h->control_path);
    notifiers_close(h);
    outbox_abandon(h);
    config_free(h->cfg);
    store_close(h->store);
    plugin_registry_free(h->plugins);
    free(h->library_dir);
    free(h->config_path);
    free(h->state_dir_arg);
}

int herald_main(const struct herald_args *args)
{
    struct herald *h = calloc(1, sizeof *h);
    if (!h) return 70;
    log_init(&h->log);
    h->once = args->once;
    h->pid_fd = -1;
    h->started_ms = now_ms();
    h->log.level = args->verbosity < 0   ? HERALD_LOG_WARN
                   : args->verbosity > 0 ? HERALD_LOG_DEBUG
                                         : HERALD_LOG_INFO;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    h->plugins = herald_load_plugins(&h->log);
    h->library_dir = herald_library_dir();
    h->config_path = args->config_path ? absolute(args->config_path) : xdg_config_file();
    /* The state dir the config sees as herald.state_dir: --state, else the XDG default
     * (a config may still move it with herald.options { state_dir = … }). */
    h->state_dir_arg = args->state_dir ? absolute(args->state_dir) : xdg_state_dir();
    notifiers_host_init(h);
    int rc = 0;
    int loop_ready = 0;
    struct config_env env = {.plugins = h->plugins,
                             .library_dir = h->library_dir,
                             .state_dir = h->state_dir_arg,
                             .print = on_lua_print,
                             .print_arg = &h->log};
    char err[8192];
    if (config_load(h->config_path, &env, &h->cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        rc = 78;
        goto out;
    }
    apply_verbosity(h, args);
    if (lock_state(h, args) != 0) {
        rc = 73;
        goto out;
    }
    if (!h->once) {
        /* Resolved before --daemon moves to /, like every other path. */
        char *sock = args->socket_path ? absolute(args->socket_path) : NULL;
        h->control_path = control_socket_path(sock, h->state_dir);
        free(sock);
    }
    /* Everything that can fail for a reason the user must see on the terminal has been
     * checked by now; the rest goes to the log. */
    if (args->daemonize && daemonize(h, args->log_file) != 0) {
        log_msg(&h->log, HERALD_LOG_ERROR, "cannot detach: %s", strerror(errno));
        rc = 71;
        goto out;
    }
    if (uv_loop_init(&h->loop) != 0) {
        rc = 70;
        goto out;
    }
    loop_ready = 1;
    if (open_store(h) != 0) {
        rc = 73;
        goto out;
    }
    struct fetch_limits lim = {.max_total = h->cfg->max_concurrent,
                               .max_host = h->cfg->max_per_host};
    if (fetcher_new(&h->loop, &lim, &h->fetcher, err, sizeof err) != 0) {
        fprintf(stderr, "herald: %s\n", err);
        rc = 70;
        goto out;
    }
    if (!h->once) {
        if (control_start(h, err, sizeof err) != 0)
            log_msg(&h->log, HERALD_LOG_WARN,
                    "control socket: %s; herald status and friends "
                    "will not reach this herald",
                    err);
    }
    uv_timer_init(&h->loop, &h->outbox_timer);
    h->outbox_timer.data = h;
    uv_timer_init(&h->loop, &h->drain_timer);
    h->drain_timer.data = h;
    start_signal(h, &h->sig_int, SIGINT);
    start_signal(h, &h->sig_term, SIGTERM);
    start_signal(h, &h->sig_hup, SIGHUP);
    start_signal(h, &h->sig_usr1, SIGUSR1);
    uv_timer_init(&h->loop, &h->prune_timer);
    h->prune_timer.data = h;
    if (!h->once) uv_timer_start(&h->prune_timer, on_prune_timer, 60 * 1000, PRUNE_EVERY_MS);
    uv_timer_init(&h->loop, &h->reload_timer);
    h->reload_timer.data = h;
    uv_timer_init(&h->loop, &h->service_timer);
    h->service_timer.data = h;
    if (!h->once) watch_config(h);
    h->handles_ready = 1;
    if (notifiers_sync(h, err, sizeof err) != 0)
        log_msg(&h->log, HERALD_LOG_WARN, "some notifiers did not start; their alerts stay queued");
    if (scheduler_sync(h) != 0) {
        fprintf(stderr, "herald: out of memory\n");
        rc = 70;
        finish(h);
    } else {
        log_msg(&h->log, HERALD_LOG_INFO, "herald %s %s: %zu sources, %zu rules, %zu notifiers",
                HERALD_VERSION, h->once ? "fetching once" : "running", h->cfg->n_sources,
                h->cfg->n_rules, h->cfg->n_notifiers);
        if (!h->once) service_ready(h);
        outbox_kick(h);
    }
    uv_run(&h->loop, UV_RUN_DEFAULT);
    if (rc == 0) rc = h->exit_code;
    if (h->once)
        log_msg(&h->log, HERALD_LOG_INFO,
                "done: %lu fetched, %lu errors, %lu not modified, %lu new items, %lu alerts, "
                "%lu delivered, %lu to retry, %lu dead, %ld held",
                h->stats.fetches, h->stats.fetch_errors, h->stats.not_modified, h->stats.items_new,
                h->stats.alerts, h->stats.delivered, h->stats.delivery_retries, h->stats.dead,
                store_held_pending(h->store));
out:
    teardown(h);
    if (loop_ready && uv_loop_close(&h->loop) != 0) {
        /* Handles still open: run once more to let their close callbacks finish. */
        uv_run(&h->loop, UV_RUN_DEFAULT);
        uv_loop_close(&h->loop);
    }
    free(h);
    return rc;
}
