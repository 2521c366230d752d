/*
 * test_spawn — core/spawn.c with real programs on a private libuv loop: stdin delivered and
 * closed, stdout and stderr collected and capped, exit codes, a spawn failure reported through
 * the callback, the timeout killing the whole process group (a grandchild too), and after each
 * job a loop with no handle left (uv_loop_close succeeds).
 */
#include "check.h"
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct outcome {
    int calls;
    int exit_status, term_signal;
    char error[256];
    char *output;
    size_t output_len;
};

static void on_result(void *arg, const struct herald_spawn_result *r)
{
    struct outcome *o = arg;
    o->calls++;
    o->exit_status = r->exit_status;
    o->term_signal = r->term_signal;
    snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
    o->output = malloc(r->output_len + 1);
    memcpy(o->output, r->output, r->output_len);
    o->output[r->output_len] = '\0';
    o->output_len = r->output_len;
}

/* Run argv to completion on a fresh loop; returns uv_loop_close's status (0: nothing left). */
static int run(const char *const *argv, const char *input, size_t input_len, long timeout_ms,
               struct outcome *o)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    struct herald_spawn s = {.struct_size = sizeof s,
                             .argv = argv,
                             .argc = argc,
                             .input = input,
                             .input_len = input_len,
                             .timeout_ms = timeout_ms};
    memset(o, 0, sizeof *o);
    int rc = spawn_start(&loop, NULL, &s, on_result, o);
    if (rc != 0) o->calls = -100;
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(stdin_output_and_exit_code)
{
    const char *const argv[] = {"/bin/sh", "-c", "cat; echo oops >&2; exit 4", NULL};
    struct outcome o;
    CHECK_INT(run(argv, "hello $(id) 'x'\n", 16, 5000, &o), 0);
    CHECK_INT(o.calls, 1);
    CHECK_INT(o.exit_status, 4);
    CHECK_INT(o.term_signal, 0);
    CHECK_STR(o.error, "");
    CHECK_CONTAINS(o.output, "hello $(id) 'x'\n");
    CHECK_CONTAINS(o.output, "oops\n");
    free(o.output);
}

/* Each argv element reaches the program as one argument, byte for byte. */
TEST(argv_is_not_parsed_by_a_shell)
{
    const char *const argv[] = {"/usr/bin/printf", "[%s]", "a b", "$(echo hi)", "*", "", NULL};
    struct outcome o;
    CHECK_INT(run(argv, NULL, 0, 5000, &o), 0);
    CHECK_INT(o.exit_status, 0);
    CHECK_STR(o.output, "[a b][$(echo hi)][*][]");
    free(o.output);
}

TEST(output_is_capped)
{
    const char *const argv[] = {"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a", NULL};
    struct outcome o;
    CHECK_INT(run(argv, NULL, 0, 10000, &o), 0);
    CHECK_INT(o.exit_status, 0);
    CHECK(o.output_len == SPAWN_OUTPUT_MAX);
    CHECK(o.output[0] == 'a' && o.output[SPAWN_OUTPUT_MAX - 1] == 'a');
    free(o.output);
}

/* A program that never reads its stdin: the write fails with EPIPE, the daemon lives on. */
TEST(unread_stdin_is_harmless)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'x', n);
    const char *const argv[] = {"/bin/true", NULL};
    struct outcome o;
    CHECK_INT(run(argv, big, n, 5000, &o), 0);
    CHECK_INT(o.calls, 1);
    CHECK_INT(o.exit_status, 0);
    free(big);
    free(o.output);
}

TEST(spawn_failure_goes_to_the_callback)
{
    const char *const argv[] = {"/nonexistent/herald-test-program", "x", NULL};
    struct outcome o;
    CHECK_INT(run(argv, "in", 2, 5000, &o), 0);
    CHECK_INT(o.calls, 1);
    CHECK_INT(o.exit_status, -1);
    CHECK_CONTAINS(o.error, "cannot run /nonexistent/herald-test-program");
    free(o.output);
}

TEST(malformed_requests_are_refused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct outcome o = {0};
    const char *const argv[] = {"/bin/true", NULL};
    struct herald_spawn s = {.struct_size = sizeof s, .argv = argv, .argc = 0};
    CHECK(spawn_start(&loop, NULL, &s, on_result, &o) != 0);
    s.argc = 2; /* argv[1] is NULL */
    CHECK(spawn_start(&loop, NULL, &s, on_result, &o) != 0);
    s.argc = 1;
    s.struct_size = 8;
    CHECK(spawn_start(&loop, NULL, &s, on_result, &o) != 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(o.calls, 0);
    CHECK_INT(uv_loop_close(&loop), 0);
}

/* Whether pid is gone (or a zombie about to be reaped), waiting up to 3 s. */
static int process_gone(long pid)
{
    for (int i = 0; i < 300; i++) {
        char path[64], buf[512] = "";
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f) return 1;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'Z') return 1;
        usleep(10000);
    }
    return 0;
}

/* The timeout kills the program and what it started: the grandchild holds the output pipe,
 * so the job could not end otherwise. */
TEST(timeout_kills_the_process_group)
{
    const char *const argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
    struct outcome o;
    double t0 = now_s();
    CHECK_INT(run(argv, NULL, 0, 300, &o), 0);
    double took = now_s() - t0;
    CHECK(took < 10.0);
    CHECK_INT(o.calls, 1);
    CHECK_INT(o.exit_status, -1);
    CHECK_INT(o.term_signal, SIGKILL);
    CHECK_STR(o.error, "timed out after 300 ms");
    long grandchild = strtol(o.output, NULL, 10);
    CHECK(grandchild > 1);
    CHECK(process_gone(grandchild));
    free(o.output);

    const char *const argv2[] = {"/bin/sleep", "30", NULL};
    CHECK_INT(run(argv2, NULL, 0, 1000, &o), 0);
    CHECK_STR(o.error, "timed out after 1 s");
    free(o.output);
}

static void on_stop_timer(uv_timer_t *t)
{
    spawn_stop_all(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

/* A stopping daemon ends its running programs at once, each reported to its callback. */
TEST(stop_all_kills_running_jobs)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct spawn_set set = {0};
    const char *const argv[] = {"/bin/sleep", "30", NULL};
    struct herald_spawn s = {.struct_size = sizeof s, .argv = argv, .argc = 2, .timeout_ms = 60000};
    struct outcome a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    CHECK_INT(spawn_start(&loop, &set, &s, on_result, &a), 0);
    CHECK_INT(spawn_start(&loop, &set, &s, on_result, &b), 0);
    CHECK(set.head != NULL);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &set;
    uv_timer_start(&t, on_stop_timer, 100, 0);
    double t0 = now_s();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(now_s() - t0 < 10.0);
    CHECK_INT(a.calls, 1);
    CHECK_INT(b.calls, 1);
    CHECK_STR(a.error, "stopped: herald is shutting down");
    CHECK_INT(b.term_signal, SIGKILL);
    CHECK(set.head == NULL);
    CHECK_INT(uv_loop_close(&loop), 0);
    free(a.output);
    free(b.output);
}

int main(void)
{
    RUN(stdin_output_and_exit_code);
    RUN(argv_is_not_parsed_by_a_shell);
    RUN(output_is_capped);
    RUN(unread_stdin_is_harmless);
    RUN(spawn_failure_goes_to_the_callback);
    RUN(malformed_requests_are_refused);
    RUN(timeout_kills_the_process_group);
    RUN(stop_all_kills_running_jobs);
    return check_summary();
}
