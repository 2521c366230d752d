/*
 * herald — the daemon's one context. Everything mutable the daemon has lives here and is
 * passed explicitly: the loop, the config, the store, the fetcher, the notifier
 * instances, the per-source schedule. The stages each own a file:
 *   scheduler.c  when to poll each source, and what to do with the response
 *   pipeline.c   parsed items → seen set → rules → alerts (a savepoint per fetch inside
 *                the scheduler's batch transaction, so each feed commits or fails whole)
 *   outbox.c     queued alerts → notifier plugins, with retries
 *   notifiers.c  plugin instances and the host table plugins call back into
 *   daemon.c     start-up, signals, reload, `run` and `fetch --once`
 */
#ifndef HERALD_HERALD_H
#define HERALD_HERALD_H

#include "config.h"
#include "feed.h"
#include "fetch.h"
#include "log.h"
#include "plugin.h"
#include "prematch.h"
#include "spawn.h"
#include "store.h"

#include <herald/plugin.h>
#include <stdint.h>
#include <uv.h>

struct herald;

/* One live instance of a notifier plugin. */
struct notifier_inst {
    struct herald *h;
    char *name;
    const struct herald_plugin *plugin;
    const struct cfg_notifier *cfg; /* NULL once retired by a reload */
    struct herald_opts *opts;       /* borrowed from cfg, or owned copy when retired */
    void *state;
    int ready;     /* init succeeded */
    int in_flight; /* deliveries started and not completed */
    int blocked;   /* fetch --once: its queue head failed this run; try no more */
    int retired;   /* replaced by a reload: finalised when in_flight drops to 0 */
    struct notifier_inst *next_retired;
};

/* The poll schedule and in-flight state of one source. */
struct source_run {
    struct herald *h;
    char *name;
    uv_timer_t timer;
    int in_flight;
    int removed;       /* gone from the config after a reload: freed once idle */
    int pending_pages; /* kind = "page": article fetches of this poll still running */
    int64_t next_poll_ms;
    size_t cfg_index;               /* position in h->cfg->sources, checked by name before use */
    struct prematch_hint seen_last; /* item ids of the last feed processed: the pool skips them */
    /* The source's row in the store, kept here so a poll reads nothing: this process is its
     * only writer. Valid while state_known; state_have says whether the row exists. */
    struct source_state state;
    int state_known, state_have;
    struct source_run *next_removed;
};

struct herald_stats {
    unsigned long fetches, fetch_errors, not_modified, items_new, alerts, delivered,
        delivery_retries, dead;
    uint64_t rule_eval_us;    /* time spent in rules_evaluate */
    unsigned long polls_done; /* fetch --once: sources finished, for the progress line */
    int64_t progress_ms;      /* when the progress line was last drawn (0: never) */
    unsigned long parse_jobs; /* feeds handed to the thread pool and not yet processed */
    size_t parse_bytes;       /* the bytes of their bodies */
};

struct herald {
    uv_loop_t loop;
    struct logger log;
    struct plugin_registry *plugins;
    char *config_path;
    char *state_dir_arg; /* --state, overriding the config */
    char *library_dir;
    struct config *cfg;
    struct store *store;
    struct fetcher *fetcher;
    struct herald_host host;

    struct notifier_inst **notifiers;
    size_t n_notifiers;
    struct notifier_inst *retired;

    struct poll_batch *poll_batch; /* finished polls waiting for one commit (scheduler.c) */
    struct source_run **sources;
    size_t n_sources;
    struct source_run *removed_sources;

    uv_timer_t outbox_timer;
    uv_timer_t drain_timer;
    uv_signal_t sig_int, sig_term, sig_hup, sig_usr1;
    uv_fs_event_t cfg_watch[8]; /* folders of the config and its modules: a save reloads */
    uv_timer_t reload_timer;    /* debounces bursts of file events into one reload */
    uv_timer_t service_timer;   /* sd_notify STATUS= refresh and WATCHDOG=1 */
    uint64_t watchdog_usec;     /* WatchdogSec= of the unit, 0 when none */
    int watching;               /* handles of cfg_watch initialised */
    int handles_ready;

    int once;          /* fetch --once: poll each source once, deliver, exit */
    size_t polls_left; /* fetch --once: sources not yet done */
    int stopping;
    int exit_code;
    int outbox_busy; /* re-entrancy guard for outbox_run */
    int64_t started_ms;
    char *state_dir; /* the state directory in use */
    int pid_fd;      /* the locked herald.pid, -1 when none */
    char *control_path;
    uv_pipe_t control;
    int control_open;
    char **paused; /* names of paused sources and rules (kept across reloads) */
    size_t n_paused;
    uv_timer_t prune_timer;
    char *prune_cursor;   /* the next slice of a pass in progress, NULL between passes */
    int64_t prune_before; /* the pass's cut-off */
    long pruned;          /* items and alerts removed so far in the pass */
    size_t deliveries_in_flight;
    struct herald_delivery *deliveries; /* in flight (outbox.c) */
    struct spawn_set spawns;            /* programs the exec notifier is running */
    struct herald_stats stats;
};

/* ---- daemon.c ---- */
struct herald_args {
    const char *config_path;
    const char *state_dir;
    const char *socket_path; /* --socket; NULL: control_socket_path()'s default */
    const char *log_file;    /* --log FILE (with --daemon); NULL: stderr */
    int daemonize;           /* --daemon: detach (double fork) */
    int verbosity;           /* -1 quiet, 0 normal, 1+ verbose */
    int once;
};
/* Run the daemon (or one `fetch --once` pass) until stopped. Returns the exit status. */
int herald_main(const struct herald_args *args);
/* Stop gracefully: no new polls, give in-flight deliveries a moment, then close. */
void herald_stop(struct herald *h, int exit_code);
/* In fetch --once mode: stop when nothing is left to fetch or deliver. */
void herald_check_done(struct herald *h);
/* The directory of herald's Lua library (scripts/lib), malloc'd, or NULL. */
char *herald_library_dir(void);
/* Load the plugin registry, logging plugins that fail to load. */
struct plugin_registry *herald_load_plugins(const struct logger *lg);
/* fetch --once: one source finished; redraws the progress line when stderr is a TTY. */
void herald_progress(struct herald *h);

/* Reload the config from disk; the running one stays when the new one fails (err says
 * why). 0 or -1. */
int herald_reload(struct herald *h, char *err, size_t errlen);
/* 1 when `name` (a source or a rule) is paused. */
int herald_paused(const struct herald *h, const char *name);
/* Pause or resume the source or rule `name`: 1 a source, 2 a rule, -1 no such name. */
int herald_set_paused(struct herald *h, const char *name, int pause);

/* ---- scheduler.c ---- */
/* Poll `name` now (NULL: every enabled, unpaused source); `each` is told every source
 * started. Returns how many started, or -1 when no source has that name. */
long scheduler_poll_now(struct herald *h, const char *name, void (*each)(void *, const char *),
                        void *arg);
/* Create the poll schedule for the current config (keeping runs of sources that remain). */
int scheduler_sync(struct herald *h);
/* Stop every source timer and close the handles. */
void scheduler_close(struct herald *h);
/* A source's deterministic offset in [0, window_ms): where in a window it polls, so that
 * sources sharing an interval do not all fire at once. */
int64_t scheduler_offset(const char *name, int64_t window_ms);
/* The adaptive interval after a successful poll: from the typical gap between the
 * items' published dates when the feed has enough of them (about a third of it), else
 * shorter after new items and longer after none; within the source's min/max_every.
 * `f` is NULL for a 304. */
int64_t scheduler_adapt(const struct cfg_source *src, int64_t current_ms, const struct feed *f,
                        long fresh);

/* ---- pipeline.c ---- */
/* Process the items of a freshly fetched feed of `source`: mark seen, evaluate rules,
 * queue alerts, all in one transaction. `pre` (may be NULL) is the rules' C half computed
 * on the pool for this feed; it is used when it was made with the current rules. Returns
 * the number of new items, or -1. */
struct prematch;
long pipeline_process(struct herald *h, const struct cfg_source *source, const struct feed *f,
                      const struct prematch *pre);

/* ---- batch.c ---- */
/* Where the alert of rule `r` for `notifier` goes at `now`: sets *out (queued now, or held
 * in a batch until a release time); *key is the batch name *out points to (free it after
 * the alert is stored). 0, or -1 on a store error. */
int batch_route(struct herald *h, const struct cfg_rule *r, const char *notifier, int64_t now,
                struct alert_route *out, char **key);
/* Send every batch whose release time has come (at `now`) as one message each, queued in
 * the outbox. Returns the number of batches released, or -1 on a store error. */
int batch_release_due(struct herald *h, int64_t now);

/* ---- outbox.c ---- */
/* Start due deliveries now (from the loop, not re-entrantly). */
void outbox_kick(struct herald *h);
/* Arm the outbox timer for the next pending attempt. */
void outbox_schedule(struct herald *h);
/* Number of deliveries in flight. */
size_t outbox_in_flight(const struct herald *h);
/* host->complete: record a delivery's result in the store and release it. */
void outbox_complete(struct herald_delivery *d, enum herald_result r, const char *detail);
/* At exit, after the notifiers are finalised: release the deliveries a plugin never
 * completed (their alerts stay pending in the store). */
void outbox_abandon(struct herald *h);
/* host->retry_after: the earliest next attempt the receiver asked for. */
void outbox_retry_after(struct herald_delivery *d, long seconds);

/* ---- notifiers.c ---- */
/* Create instances for the current config's notifiers (retiring the previous ones). */
int notifiers_sync(struct herald *h, char *err, size_t errlen);
/* Finalise every instance (none may be in flight). */
void notifiers_close(struct herald *h);
/* The live instance named `name`, or NULL. */
struct notifier_inst *notifier_find(struct herald *h, const char *name);
/* Called when an instance's in-flight count drops; finalises retired ones. */
void notifier_release(struct notifier_inst *n);
/* Fill h->host. */
void notifiers_host_init(struct herald *h);

#endif
