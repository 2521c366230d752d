/*
 * exec notifier — runs a program for each alert through the host's asynchronous spawn (the
 * daemon's loop; this plugin never forks or blocks). Input is the alert from deliver(); the
 * `command` list from the config is the program's argv, each element a template whose
 * placeholders ({{title}}, {{link}}, {{rule}}, …) are filled with the alert's plain text. No
 * shell ever sees it, so nothing is escaped: one list element is always exactly one argument.
 * The alert's JSON goes to the program's stdin. The exit status maps to the result: 0
 * DELIVERED, 75 (EX_TEMPFAIL), a signal or the timeout RETRY, anything else FAILED with the
 * first bytes of the program's output in the detail.
 */
#include "../common/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    ARGS_MAX = 256,
    DETAIL_OUTPUT = 200, /* bytes of the program's output quoted in a failure detail */
    TIMEOUT_MAX_MS = 24 * 60 * 60 * 1000,
    EXIT_TEMPFAIL = 75, /* sysexits.h EX_TEMPFAIL: "try again later" */
};

struct exec {
    struct herald_host host;
    char *program;             /* argv[0] resolved to an absolute path at init */
    struct tpl args[ARGS_MAX]; /* argv[1..]: templates */
    size_t n_args;
    long timeout_ms;
    int use_stdin;
};

/* One program in flight. */
struct exec_call {
    struct exec *ex;
    struct herald_delivery *d;
};

static const struct herald_opt_spec exec_options[] = {
    {"command", HERALD_OPT_LIST, 1, NULL,
     "argv as a list, no shell: { \"/usr/local/bin/x\", \"{{rule}}\", \"{{title}}\" }; "
     "placeholders {{title}} {{link}} {{rule}} {{source}} {{id}} {{published}} {{notifier}}"},
    {"timeout", HERALD_OPT_DURATION, 0, "30s",
     "kill the program (and its process group) after this long; the alert is retried"},
    {"stdin", HERALD_OPT_BOOL, 0, "true", "write the alert as JSON to the program's stdin"},
    {0},
};

static void exec_fini(void *state)
{
    struct exec *ex = state;
    if (!ex) return;
    free(ex->program);
    for (size_t i = 0; i < ex->n_args; i++)
        tpl_free(&ex->args[i]);
    free(ex);
}

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* argv[0] as an absolute path: kept when absolute, else looked up in $PATH now, so that a
 * typo is reported when the config is loaded rather than on the first alert. */
static int resolve_program(struct exec *ex, const char *name, char *err, size_t errlen)
{
    if (name[0] == '/') {
        if (!is_executable(name)) {
            snprintf(err, errlen, "exec: command '%.300s' not found (or not an executable file)",
                     name);
            return -1;
        }
        return (ex->program = strdup(name)) ? 0 : -1;
    }
    if (strchr(name, '/') || !name[0]) {
        snprintf(err, errlen,
                 "exec: command '%.300s' must be an absolute path or a program name found in PATH",
                 name);
        return -1;
    }
    const char *path = getenv("PATH");
    if (!path || !path[0]) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char cand[4096];
        int w = snprintf(cand, sizeof cand, "%.*s/%s", (int)n, path, name);
        if (n > 0 && path[0] == '/' && w > 0 && (size_t)w < sizeof cand && is_executable(cand))
            return (ex->program = strdup(cand)) ? 0 : -1;
        path += n + (path[n] == ':');
    }
    snprintf(err, errlen, "exec: command '%.300s' not found in PATH", name);
    return -1;
}

static int read_options(struct exec *ex, const struct herald_opts *opts, char *err, size_t errlen)
{
    const struct herald_host *h = &ex->host;
    size_t n = h->opt_list_count(opts, "command");
    if (n == 0) {
        snprintf(
            err, errlen,
            "exec: command is required: a list such as { \"/usr/bin/logger\", \"{{title}}\" }");
        return -1;
    }
    if (n > ARGS_MAX) {
        snprintf(err, errlen, "exec: command has %zu items; at most %d", n, ARGS_MAX);
        return -1;
    }
    const char *prog = h->opt_list_at(opts, "command", 0);
    if (!prog) return -1;
    if (strstr(prog, "{{")) {
        snprintf(err, errlen,
                 "exec: the program (the first item of command) cannot hold "
                 "placeholders");
        return -1;
    }
    if (resolve_program(ex, prog, err, errlen) != 0) return -1;
    for (size_t i = 1; i < n; i++) {
        const char *a = h->opt_list_at(opts, "command", i);
        char why[300];
        if (!a) return -1;
        if (tpl_parse(&ex->args[ex->n_args], a, why, sizeof why) != 0) {
            snprintf(err, errlen, "exec: command item %zu: %s", i + 1, why);
            return -1;
        }
        ex->n_args++;
    }
    long long t = h->opt_int(opts, "timeout", 30000);
    if (t <= 0 || t > TIMEOUT_MAX_MS) {
        snprintf(err, errlen, "exec: timeout must be between 1ms and 1d");
        return -1;
    }
    ex->timeout_ms = (long)t;
    ex->use_stdin = h->opt_int(opts, "stdin", 1) != 0;
    return 0;
}

static int exec_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                     char *err, size_t errlen)
{
    struct exec *ex = calloc(1, sizeof *ex);
    if (!ex) {
        snprintf(err, errlen, "exec: out of memory");
        return -1;
    }
    if (atext_host_copy(&ex->host, host) != 0 || host->version < 3 ||
        host->struct_size < offsetof(struct herald_host, spawn) + sizeof host->spawn ||
        !ex->host.spawn || !ex->host.opt_list_count || !ex->host.opt_list_at) {
        snprintf(err, errlen, "exec: this herald cannot run programs (host table version < 3)");
        free(ex);
        return -1;
    }
    err[0] = '\0';
    if (read_options(ex, opts, err, errlen) != 0) {
        if (!err[0]) snprintf(err, errlen, "exec: out of memory");
        exec_fini(ex);
        return -1;
    }
    ex->host.log(ex->host.ctx, HERALD_LOG_DEBUG, "exec: runs %s with %zu argument(s)", ex->program,
                 ex->n_args);
    *state = ex;
    return 0;
}

/* "exec: /path exited with 3: <first bytes of output>" into b. */
static void put_detail(struct atext *b, const struct exec *ex, const struct herald_spawn_result *r)
{
    atext_printf(b, "exec: %s", ex->program);
    if (r->error)
        atext_printf(b, ": %s", r->error);
    else if (r->term_signal)
        atext_printf(b, " killed by signal %d", r->term_signal);
    else
        atext_printf(b, " exited with %d%s", r->exit_status,
                     r->exit_status == EXIT_TEMPFAIL ? " (temporary failure)" : "");
    if (r->output && r->output_len) {
        atext_puts(b, ": ");
        size_t n = atext_cut(r->output, r->output_len, DETAIL_OUTPUT);
        atext_put_clean(b, r->output, n, DETAIL_OUTPUT);
    }
}

static void on_done(void *arg, const struct herald_spawn_result *r)
{
    struct exec_call *c = arg;
    struct exec *ex = c->ex;
    if (!r->error && r->term_signal == 0 && r->exit_status == 0) {
        ex->host.complete(c->d, HERALD_DELIVERED, NULL);
        free(c);
        return;
    }
    /* A signal, a timeout, EX_TEMPFAIL or a program that could not be started (it may be
     * reinstalled) are worth another try; any other exit status is the program's verdict. */
    int retry = r->error || r->term_signal || r->exit_status == EXIT_TEMPFAIL;
    struct atext b = {0};
    put_detail(&b, ex, r);
    ex->host.complete(c->d, retry ? HERALD_RETRY : HERALD_FAILED,
                      b.failed || !b.p ? "exec: the program failed" : b.p);
    atext_free(&b);
    free(c);
}

static void free_argv(char **argv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
}

static int exec_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct exec *ex = state;
    char *argv[ARGS_MAX + 1] = {0};
    argv[0] = ex->program;
    for (size_t i = 0; i < ex->n_args; i++) {
        struct atext b = {0};
        tpl_render(&b, &ex->args[i], alert, AMARK_PLAIN);
        if (b.failed) {
            atext_free(&b);
            free_argv(argv + 1, i);
            return -1;
        }
        argv[i + 1] = b.p ? b.p : strdup("");
        if (!argv[i + 1]) {
            free_argv(argv + 1, i);
            return -1;
        }
    }
    struct exec_call *c = malloc(sizeof *c);
    if (!c) {
        free_argv(argv + 1, ex->n_args);
        return -1;
    }
    c->ex = ex;
    c->d = d;
    const char *json = ex->use_stdin && alert->json ? alert->json : NULL;
    struct herald_spawn s = {
        .struct_size = sizeof s,
        .argv = (const char *const *)argv,
        .argc = ex->n_args + 1,
        .input = json,
        .input_len = json ? strlen(json) : 0,
        .timeout_ms = ex->timeout_ms,
    };
    /* On success `c` belongs to on_done, which may already have run and freed it. */
    int rc = ex->host.spawn(ex->host.ctx, &s, on_done, c);
    free_argv(argv + 1, ex->n_args);
    if (rc != 0) {
        free(c);
        ex->host.complete(d, HERALD_RETRY, "exec: the daemon could not start the program now");
    }
    return 0;
}

__attribute__((visibility("default"))) const struct herald_plugin herald_plugin =
    HERALD_PLUGIN_INIT("exec",
                       "run a program for each alert: argv from templates (no shell), the alert "
                       "JSON on stdin, a timeout",
                       exec_options, exec_init, exec_deliver, exec_fini);
