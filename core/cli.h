/*
 * cli — the one-shot commands behind `herald test`, `herald parse` and `herald check`.
 * main.c parses the arguments; these do the work and return the process exit status
 * (sysexits: 64 usage, 65 bad data, 66 no input, 70 internal, 78 config).
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

struct cli_test_opts {
    const char *config_path;
    char **files;
    int n_files;
    int json;
    int color;
    int check; /* run the config's herald.expect cases instead of files */
};

/* Run the config's rules on each file and print what fires. 0 when some rule fired, 1 when
 * none did, otherwise an error status. With `check`, run the herald.expect cases instead:
 * 0 when all hold, 1 on any miss. */
int cli_test(const struct cli_test_opts *opt);

/* Print what herald reads from a feed or page file, or an http(s):// or file:// URL. */
int cli_parse(const char *target, int json);

/* Load and validate a config; print a summary. 0 or 78. */
int cli_check(const char *config_path);

struct cli_control_opts {
    const char *cmd;  /* "status", "reload", "history", "fetch-now", "pause", "resume", "metrics" */
    const char *name; /* source or rule for pause/resume, source for fetch-now (NULL: all) */
    const char *rule; /* history --rule */
    long long since_s; /* history --since, seconds back; 0: all */
    long limit;        /* history --limit */
    int json;
    const char *socket_path; /* --socket; NULL: the default path */
    const char *state_dir;   /* --state, for the default path when $XDG_RUNTIME_DIR is unset */
};

/* Ask the running daemon through its control socket and print the answer. 0, 1 when the
 * daemon refused the request, 69 when no daemon answers. */
int cli_control(const struct cli_control_opts *o);

/* List the loaded plugins and their options. */
int cli_plugins(const char *config_path);

#endif
