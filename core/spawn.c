/*
 * spawn — one child process per request, run on the daemon's loop for host->spawn. Input is
 * a struct herald_spawn from a plugin (argv, stdin bytes, timeout); output is one
 * struct herald_spawn_result handed to the plugin's callback. The program is exec'd directly
 * (uv_spawn, execvp semantics: no shell ever parses argv). It runs detached in its own
 * session, hence its own process group, so that a timeout kills everything it started with one
 * kill(-pid). The callback runs only once the process handle, the three pipes and the timer
 * are all closed, so a finished job leaves nothing on the loop.
 */
#include "spawn.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ARGC_MAX = 1024,
    DEFAULT_TIMEOUT_MS = 30000,
    N_HANDLES = 5, /* process, stdin, stdout, stderr, timer */
};

/* One running program: the request state libuv callbacks share. */
struct spawn_job {
    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_timer_t timer;
    uv_write_t wreq;
    char *input;
    size_t input_len;
    long timeout_ms;
    int open; /* handles not yet closed */
    int exited, out_done, err_done, timed_out;
    int exit_status, term_signal;
    char error[256];
    char *output;
    size_t output_len;
    char scratch[16384]; /* one read at a time: alloc_cb and read_cb run back to back */
    herald_spawn_cb cb;
    void *arg;
    struct spawn_set *set; /* where the job is listed, or NULL */
    struct spawn_job *next, **prevp;
};

static void finish(struct spawn_job *j)
{
    if (j->set) {
        *j->prevp = j->next;
        if (j->next) j->next->prevp = j->prevp;
    }
    struct herald_spawn_result r = {0};
    r.struct_size = sizeof r;
    r.exit_status = j->exited && j->term_signal == 0 ? j->exit_status : -1;
    r.term_signal = j->term_signal;
    r.error = j->error[0] ? j->error : NULL;
    r.output = j->output ? j->output : "";
    r.output_len = j->output_len;
    j->cb(j->arg, &r);
    free(j->output);
    free(j->input);
    free(j);
}

static void on_closed(uv_handle_t *hd)
{
    struct spawn_job *j = hd->data;
    if (--j->open == 0) finish(j);
}

static void close_one(uv_handle_t *hd)
{
    if (!uv_is_closing(hd)) uv_close(hd, on_closed);
}

/* Everything but the process handle, which must stay open until the child is reaped. */
static void close_io(struct spawn_job *j)
{
    close_one((uv_handle_t *)&j->in);
    close_one((uv_handle_t *)&j->out);
    close_one((uv_handle_t *)&j->err);
    close_one((uv_handle_t *)&j->timer);
}

/* Done when the child has exited and both output pipes reached EOF; a grandchild still
 * holding a pipe open keeps the job alive until the timeout kills the group. */
static void maybe_done(struct spawn_job *j)
{
    if (j->exited && j->out_done && j->err_done) close_io(j);
}

static void on_child_exit(uv_process_t *p, int64_t status, int signum)
{
    struct spawn_job *j = p->data;
    j->exited = 1;
    j->exit_status = (int)status;
    j->term_signal = signum;
    close_one((uv_handle_t *)p);
    maybe_done(j);
}

/* End the job now: the whole group is killed (its own session, so pgid == pid) and the
 * pipes closed, which also ends a job whose grandchild escaped the group and holds a pipe. */
static void kill_job(struct spawn_job *j)
{
    if (j->timed_out) return;
    j->timed_out = 1;
    uv_kill(-j->proc.pid, SIGKILL); /* after an exit too: a grandchild may hold a pipe */
    close_io(j);
}

static void on_timeout(uv_timer_t *t)
{
    struct spawn_job *j = t->data;
    if (!j->error[0]) {
        if (j->timeout_ms % 1000 == 0)
            snprintf(j->error, sizeof j->error, "timed out after %ld s", j->timeout_ms / 1000);
        else
            snprintf(j->error, sizeof j->error, "timed out after %ld ms", j->timeout_ms);
    }
    kill_job(j);
}

void spawn_stop_all(struct spawn_set *set)
{
    for (struct spawn_job *j = set ? set->head : NULL; j; j = j->next) {
        if (!j->error[0]) snprintf(j->error, sizeof j->error, "stopped: herald is shutting down");
        kill_job(j);
    }
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct spawn_job *j = hd->data;
    (void)suggested;
    *buf = uv_buf_init(j->scratch, sizeof j->scratch);
}

static void keep_output(struct spawn_job *j, const char *p, size_t n)
{
    if (j->output_len >= SPAWN_OUTPUT_MAX) return;
    if (!j->output && !(j->output = malloc(SPAWN_OUTPUT_MAX + 1))) return;
    size_t room = SPAWN_OUTPUT_MAX - j->output_len;
    size_t take = n < room ? n : room;
    memcpy(j->output + j->output_len, p, take);
    j->output_len += take;
    j->output[j->output_len] = '\0';
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct spawn_job *j = st->data;
    if (nread > 0) {
        keep_output(j, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0) return;
    /* EOF or a read error: this stream is finished either way. */
    if (st == (uv_stream_t *)&j->out)
        j->out_done = 1;
    else
        j->err_done = 1;
    uv_read_stop(st);
    close_one((uv_handle_t *)st);
    maybe_done(j);
}

static void on_written(uv_write_t *w, int status)
{
    struct spawn_job *j = w->data;
    (void)status; /* EPIPE: the program did not read its stdin, which is its business */
    close_one((uv_handle_t *)&j->in);
}

/* A write to a pipe whose reader has exited raises SIGPIPE, which would kill the daemon; the
 * write's EPIPE is all we want, so the signal is ignored (unless someone installed a handler). */
static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
}

static int request_ok(const struct herald_spawn *s)
{
    if (!s || s->struct_size < sizeof *s || !s->argv || s->argc == 0 || s->argc > ARGC_MAX)
        return 0;
    for (size_t i = 0; i < s->argc; i++)
        if (!s->argv[i]) return 0;
    return s->argv[0][0] != '\0' && (s->input || s->input_len == 0);
}

static struct spawn_job *job_new(uv_loop_t *loop, const struct herald_spawn *s, herald_spawn_cb cb,
                                 void *arg)
{
    struct spawn_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    if (s->input_len && !(j->input = malloc(s->input_len))) {
        free(j);
        return NULL;
    }
    if (s->input_len) memcpy(j->input, s->input, s->input_len);
    j->input_len = s->input_len;
    j->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : DEFAULT_TIMEOUT_MS;
    j->cb = cb;
    j->arg = arg;
    /* Initialising these cannot fail on a live loop; each is closed exactly once later. */
    uv_pipe_init(loop, &j->in, 0);
    uv_pipe_init(loop, &j->out, 0);
    uv_pipe_init(loop, &j->err, 0);
    uv_timer_init(loop, &j->timer);
    j->proc.data = j->in.data = j->out.data = j->err.data = j->timer.data = j->wreq.data = j;
    j->open = N_HANDLES;
    return j;
}

/* After a successful uv_spawn: feed stdin, read both outputs, arm the timeout. */
static void job_run(struct spawn_job *j)
{
    if (uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read) != 0) j->out_done = 1;
    if (uv_read_start((uv_stream_t *)&j->err, on_alloc, on_read) != 0) j->err_done = 1;
    if (j->out_done) close_one((uv_handle_t *)&j->out);
    if (j->err_done) close_one((uv_handle_t *)&j->err);
    uv_buf_t b = uv_buf_init(j->input ? j->input : "", (unsigned)j->input_len);
    if (j->input_len == 0 || uv_write(&j->wreq, (uv_stream_t *)&j->in, &b, 1, on_written) != 0)
        close_one((uv_handle_t *)&j->in);
    uv_timer_start(&j->timer, on_timeout, (uint64_t)j->timeout_ms, 0);
}

int spawn_start(uv_loop_t *loop, struct spawn_set *set, const struct herald_spawn *s,
                herald_spawn_cb cb, void *arg)
{
    if (!loop || !cb || !request_ok(s) || s->input_len > UINT32_MAX) return -1;
    char **args = calloc(s->argc + 1, sizeof *args);
    if (!args) return -1;
    for (size_t i = 0; i < s->argc; i++)
        args[i] = (char *)s->argv[i]; /* uv_spawn execs before returning: borrowing is fine */
    struct spawn_job *j = job_new(loop, s, cb, arg);
    if (!j) {
        free(args);
        return -1;
    }
    if (set) {
        j->set = set;
        j->next = set->head;
        j->prevp = &set->head;
        if (set->head) set->head->prevp = &j->next;
        set->head = j;
    }
    ignore_sigpipe();
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
    };
    uv_process_options_t opt = {
        .exit_cb = on_child_exit,
        .file = args[0],
        .args = args,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(loop, &j->proc, &opt);
    free(args);
    if (rc != 0) {
        /* Reported through the callback like any other outcome, once the handles are closed
         * (a failed uv_spawn still leaves the process handle to close). */
        snprintf(j->error, sizeof j->error, "cannot run %.200s: %s", s->argv[0], uv_strerror(rc));
        close_one((uv_handle_t *)&j->proc);
        close_io(j);
        return 0;
    }
    job_run(j);
    return 0;
}
