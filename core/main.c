/*
 * main — the command line: `herald COMMAND [options]`. Parses arguments only; each command
 * lives in its own file (daemon.c for run/fetch, cli_*.c for the one-shot commands).
 * Exit statuses follow sysexits.h: 64 usage, 65 bad input data, 66 missing input,
 * 73 cannot create the state, 78 config error.
 */
#include "cli.h"
#include "herald.h"
#include "util.h"

#include <getopt.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: herald COMMAND [options]\n"
    "\n"
    "herald watches news sources and tells you when your rules fire.\n"
    "\n"
    "commands:\n"
    "  run             run the monitor in the foreground (Ctrl-C stops, SIGHUP reloads)\n"
    "  fetch --once    poll every source once, alert, deliver, exit (cron style)\n"
    "  test FILE...    run the rules on article files (feed, web page or text) and explain\n"
    "  parse FILE|URL  show what herald reads from a feed or a page\n"
    "  check           validate the config file\n"
    "  plugins         list the notifier types this installation has\n"
    "\n"
    "talking to a running herald (its control socket):\n"
    "  status          sources, rules, outbox, uptime and memory\n"
    "  reload          reload the config\n"
    "  history         recent alerts and their delivery state\n"
    "  fetch-now [S]   poll a source (or all) now\n"
    "  pause NAME      stop polling a source or evaluating a rule; resume NAME undoes it\n"
    "  metrics         counters in the Prometheus text format\n"
    "\n"
    "common options:\n"
    "  -c, --config FILE  config file (default ~/.config/herald/herald.lua)\n"
    "  -h, --help         help for a command: herald COMMAND --help\n"
    "  -V, --version      print the version\n";

static const char RUN_HELP[] =
    "usage: herald run [-c FILE] [--state DIR] [--socket PATH] [--daemon [--log FILE]] [-v|-q]\n"
    "\n"
    "Run the monitor in the foreground until SIGINT/SIGTERM (graceful: deliveries in flight\n"
    "are given a few seconds, the rest stay queued). SIGHUP reloads the config; a config that\n"
    "fails to load leaves the running one in place.\n"
    "\n"
    "  -c, --config FILE  config file (default ~/.config/herald/herald.lua)\n"
    "      --state DIR    state directory (default ~/.local/state/herald); one herald per\n"
    "                     state directory: a second one refuses to start and names the pid\n"
    "      --socket PATH  control socket (default $XDG_RUNTIME_DIR/herald/control.sock)\n"
    "      --daemon       detach (double fork) for systems without systemd\n"
    "      --log FILE     with --daemon, log there (default STATE/herald.log)\n"
    "  -v, --verbose      log debug lines\n"
    "  -q, --quiet        log warnings and errors only\n"
    "\n"
    "Signals: INT/TERM stop (deliveries in flight get 5 s, the rest stay queued), HUP reloads,\n"
    "USR1 logs a status line. Saving the config file also reloads it.\n";

static const char FETCH_HELP[] =
    "usage: herald fetch --once [-c FILE] [--state DIR] [-v|-q]\n"
    "\n"
    "Poll every enabled source once, run the rules on new items, deliver the queued alerts\n"
    "(including ones left from earlier runs) and exit. Items seen by an earlier run or by\n"
    "the daemon never alert twice. Suits cron and systemd timers.\n"
    "\n"
    "  -c, --config FILE  config file\n"
    "      --state DIR    state directory\n"
    "  -v, --verbose / -q, --quiet\n";

static const char TEST_HELP[] =
    "usage: herald test [-c RULES.lua] [--json] [--color|--no-color] FILE...\n"
    "       herald test --check [-c RULES.lua]\n"
    "\n"
    "Run the rules of a config on article files — a feed (every item), an HTML page, or\n"
    "plain text (a short first line followed by a blank line is the title) — and print\n"
    "which rules fire, with the evidence in context. Nothing is stored or sent.\n"
    "Exit status: 0 when some rule fired, 1 when none did, 65/66 for unreadable files,\n"
    "78 for a config error.\n"
    "\n"
    "--check runs the rule tests the config declares instead,\n"
    "  herald.expect { rule = \"iraq\", fires = \"seed.txt\", not_fires = { \"sport.txt\" } }\n"
    "(paths relative to the config file), and exits 1 on any miss.\n";

static const char PARSE_HELP[] =
    "usage: herald parse [--json] FILE|URL\n"
    "\n"
    "Show what herald reads from a feed or a web page: format, feed title and one line per\n"
    "item, or with --json one JSON document (format, bozo, feed, items).\n"
    "Exit status 65 when nothing could be read, 66 when the file or URL is unreachable.\n";

static const char CHECK_HELP[] =
    "usage: herald check [-c FILE]\n"
    "\n"
    "Load and validate the config without running it. Errors are printed as\n"
    "file:line: message; the exit status is 78 on any error, 0 when the config is valid.\n";

static const char CONTROL_HELP[] =
    "usage: herald status [--json]\n"
    "       herald reload [--json]\n"
    "       herald history [--rule RULE] [--since DURATION] [--limit N] [--json]\n"
    "       herald fetch-now [SOURCE] [--json]\n"
    "       herald pause SOURCE|RULE [--json]\n"
    "       herald resume SOURCE|RULE [--json]\n"
    "       herald metrics\n"
    "\n"
    "Ask the running herald through its control socket ($XDG_RUNTIME_DIR/herald/control.sock,\n"
    "or --socket PATH; without $XDG_RUNTIME_DIR, STATE/control.sock with --state DIR).\n"
    "history --since takes a duration (\"1d\", \"2h\"). Paused names stay paused across\n"
    "reloads, until resumed or until herald restarts. Exit status 69 when no herald answers.\n";

static const char PLUGINS_HELP[] =
    "usage: herald plugins [-c FILE]\n"
    "\n"
    "List the notifier plugins found (HERALD_PLUGIN_PATH, the build tree, the install dir)\n"
    "and the options each takes; with -c, also the notifier types FILE declares in Lua.\n";

enum {
    OPT_STATE = 1000,
    OPT_ONCE,
    OPT_JSON,
    OPT_COLOR,
    OPT_NO_COLOR,
    OPT_CHECK,
    OPT_SOCKET,
    OPT_DAEMON,
    OPT_LOG,
    OPT_RULE,
    OPT_SINCE,
    OPT_LIMIT
};

static const struct option LONG_OPTS[] = {{"config", required_argument, NULL, 'c'},
                                          {"state", required_argument, NULL, OPT_STATE},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          {"version", no_argument, NULL, 'V'},
                                          {"once", no_argument, NULL, OPT_ONCE},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {"color", no_argument, NULL, OPT_COLOR},
                                          {"no-color", no_argument, NULL, OPT_NO_COLOR},
                                          {"check", no_argument, NULL, OPT_CHECK},
                                          {"socket", required_argument, NULL, OPT_SOCKET},
                                          {"daemon", no_argument, NULL, OPT_DAEMON},
                                          {"log", required_argument, NULL, OPT_LOG},
                                          {"rule", required_argument, NULL, OPT_RULE},
                                          {"since", required_argument, NULL, OPT_SINCE},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {NULL, 0, NULL, 0}};

struct parsed {
    const char *config;
    const char *state;
    int verbosity;
    int once;
    int json;
    int color; /* -1 auto */
    int help;
    int check;
    const char *socket;
    int daemon;
    const char *log;
    const char *rule;
    const char *since;
    const char *limit;
};

static int usage_error(const char *cmd, const char *help)
{
    fprintf(stderr, "%s\nRun 'herald %s --help' for more.\n", help, cmd);
    return 64;
}

/* Parse the options of a command; returns 0 or 64 (after printing why). */
static int parse_opts(int argc, char **argv, const char *cmd, const char *help, struct parsed *p)
{
    memset(p, 0, sizeof *p);
    p->color = -1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:vqhV", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case 'c':
            p->config = optarg;
            break;
        case OPT_STATE:
            p->state = optarg;
            break;
        case 'v':
            p->verbosity = 1;
            break;
        case 'q':
            p->verbosity = -1;
            break;
        case 'h':
            p->help = 1;
            break;
        case 'V':
            printf("herald %s\n", HERALD_VERSION);
            exit(0);
        case OPT_ONCE:
            p->once = 1;
            break;
        case OPT_JSON:
            p->json = 1;
            break;
        case OPT_COLOR:
            p->color = 1;
            break;
        case OPT_NO_COLOR:
            p->color = 0;
            break;
        case OPT_CHECK:
            p->check = 1;
            break;
        case OPT_SOCKET:
            p->socket = optarg;
            break;
        case OPT_DAEMON:
            p->daemon = 1;
            break;
        case OPT_LOG:
            p->log = optarg;
            break;
        case OPT_RULE:
            p->rule = optarg;
            break;
        case OPT_SINCE:
            p->since = optarg;
            break;
        case OPT_LIMIT:
            p->limit = optarg;
            break;
        default:
            if (optopt)
                fprintf(stderr, "herald %s: unknown option '-%c'\n", cmd, optopt);
            else
                fprintf(stderr, "herald %s: unknown option '%s'\n", cmd, argv[optind - 1]);
            return usage_error(cmd, help);
        }
    }
    return 0;
}

static int cmd_run(int argc, char **argv, int once)
{
    struct parsed p;
    const char *help = once ? FETCH_HELP : RUN_HELP;
    const char *name = once ? "fetch" : "run";
    if (parse_opts(argc, argv, name, help, &p)) return 64;
    if (p.help) return printf("%s", help), 0;
    if (optind < argc) {
        fprintf(stderr, "herald %s: unexpected argument '%s'\n", name, argv[optind]);
        return usage_error(name, help);
    }
    if (!once && p.once) {
        fprintf(stderr, "herald run: --once belongs to 'herald fetch --once'\n");
        return 64;
    }
    if (once && (p.daemon || p.socket)) {
        fprintf(stderr, "herald fetch: --daemon and --socket belong to 'herald run'\n");
        return 64;
    }
    if (p.log && !p.daemon) {
        fprintf(stderr, "herald run: --log goes with --daemon (otherwise herald logs to stderr)\n");
        return 64;
    }
    struct herald_args a = {.config_path = p.config,
                            .state_dir = p.state,
                            .socket_path = p.socket,
                            .log_file = p.log,
                            .daemonize = p.daemon,
                            .verbosity = p.verbosity,
                            .once = once};
    return herald_main(&a);
}

static int cmd_test(int argc, char **argv)
{
    struct parsed p;
    if (parse_opts(argc, argv, "test", TEST_HELP, &p)) return 64;
    if (p.help) return printf("%s", TEST_HELP), 0;
    if (p.check && optind < argc) {
        fprintf(stderr, "herald test: --check takes no files (the config names them)\n");
        return usage_error("test", TEST_HELP);
    }
    if (!p.check && optind >= argc) {
        fprintf(stderr, "herald test: name at least one article file\n");
        return usage_error("test", TEST_HELP);
    }
    char *def = p.config ? NULL : xdg_config_file();
    struct cli_test_opts o = {.config_path = p.config ? p.config : def,
                              .files = argv + optind,
                              .n_files = argc - optind,
                              .json = p.json,
                              .check = p.check,
                              .color = p.color >= 0 ? p.color
                                                    : isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    int rc = cli_test(&o);
    free(def);
    return rc;
}

static int cmd_parse(int argc, char **argv)
{
    struct parsed p;
    if (parse_opts(argc, argv, "parse", PARSE_HELP, &p)) return 64;
    if (p.help) return printf("%s", PARSE_HELP), 0;
    if (argc - optind != 1) {
        fprintf(stderr, "herald parse: name exactly one file or URL\n");
        return usage_error("parse", PARSE_HELP);
    }
    return cli_parse(argv[optind], p.json);
}

static int cmd_check(int argc, char **argv)
{
    struct parsed p;
    if (parse_opts(argc, argv, "check", CHECK_HELP, &p)) return 64;
    if (p.help) return printf("%s", CHECK_HELP), 0;
    if (optind < argc) {
        fprintf(stderr, "herald check: unexpected argument '%s' (use -c FILE)\n", argv[optind]);
        return usage_error("check", CHECK_HELP);
    }
    return cli_check(p.config);
}

static int cmd_control(const char *cmd, int argc, char **argv)
{
    struct parsed p;
    if (parse_opts(argc, argv, cmd, CONTROL_HELP, &p)) return 64;
    if (p.help) return printf("%s", CONTROL_HELP), 0;
    struct cli_control_opts o = {
        .cmd = cmd, .json = p.json, .socket_path = p.socket, .state_dir = p.state};
    int wants_name = !strcmp(cmd, "pause") || !strcmp(cmd, "resume");
    int may_name = wants_name || !strcmp(cmd, "fetch-now");
    if (optind < argc && may_name) o.name = argv[optind++];
    if (wants_name && !o.name) {
        fprintf(stderr, "herald %s: name a source or a rule\n", cmd);
        return usage_error(cmd, CONTROL_HELP);
    }
    if (optind < argc) {
        fprintf(stderr, "herald %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return usage_error(cmd, CONTROL_HELP);
    }
    int history = !strcmp(cmd, "history");
    if (!history && (p.rule || p.since || p.limit)) {
        fprintf(stderr, "herald %s: --rule, --since and --limit belong to 'herald history'\n", cmd);
        return 64;
    }
    o.rule = p.rule;
    if (p.since) {
        int64_t ms;
        if (duration_parse(p.since, &ms) != 0) {
            fprintf(stderr, "herald history: --since '%s' is not a duration (e.g. 1d, 2h)\n",
                    p.since);
            return 64;
        }
        o.since_s = ms / 1000;
    }
    if (p.limit) {
        char *end;
        o.limit = strtol(p.limit, &end, 10);
        if (*end || o.limit <= 0) {
            fprintf(stderr, "herald history: --limit must be a positive number\n");
            return 64;
        }
    }
    return cli_control(&o);
}

static int cmd_plugins(int argc, char **argv)
{
    struct parsed p;
    if (parse_opts(argc, argv, "plugins", PLUGINS_HELP, &p)) return 64;
    if (p.help) return printf("%s", PLUGINS_HELP), 0;
    return cli_plugins(p.config);
}

/* libxml2 prints some problems (encoding conversion failures) straight to stderr even with
 * its NOERROR options; the parser reports what matters itself (bozo, with a reason), so
 * those lines are noise in herald's log. */
static void xml_quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

int main(int argc, char **argv)
{
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, xml_quiet);
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 64;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("herald %s\n", HERALD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "fetch")) return cmd_run(argc - 1, argv + 1, 1);
    if (!strcmp(cmd, "test")) return cmd_test(argc - 1, argv + 1);
    if (!strcmp(cmd, "parse")) return cmd_parse(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins")) return cmd_plugins(argc - 1, argv + 1);
    static const char *const control[] = {"status", "reload", "history", "fetch-now",
                                          "pause",  "resume", "metrics", NULL};
    for (const char *const *c = control; *c; c++)
        if (!strcmp(cmd, *c)) return cmd_control(cmd, argc - 1, argv + 1);
    fprintf(stderr, "herald: unknown command '%s'\n\n%s", cmd, USAGE);
    return 64;
}
