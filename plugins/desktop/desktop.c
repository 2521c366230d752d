/*
 * desktop notifier — shows each alert as a desktop notification through the freedesktop
 * Notifications service (org.freedesktop.Notifications on the session bus), with sd-bus.
 * Input is the alert from deliver(); output is a Notify call whose reply completes the
 * delivery, and, when the user clicks a notification, the article link opened with `opener`
 * (xdg-open) through host->spawn.
 *
 * Nothing blocks: the bus connection's socket and timeout run on the daemon's loop through the
 * host's watch_fd/timer (host version 4), and every call is asynchronous (sd_bus_call_async).
 * A delivery asks the server's capabilities first (the server may have been replaced since the
 * last alert), then sends Notify: body markup only when the server has "body-markup", the
 * "default"/"open" actions only when it has "actions", and replaces_id set to the notification
 * that already shows the same story. No session bus, no notification server or no answer is a
 * RETRY: the alert stays queued until a desktop session is there to show it.
 */
#include "desktop_text.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define NOTIFY_DEST "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"

enum {
    DISPATCH_MAX = 256, /* sd_bus_process steps per loop wake-up, so one bus cannot hog it */
    TIMEOUT_MAX_MS = 60 * 1000,
    OPENER_TIMEOUT_MS = 30 * 1000,
    DETAIL_MAX = 300,
};

struct desk_call;

struct desk {
    struct herald_host host;
    struct tpl summary;
    struct tpl body; /* used when has_body */
    int has_body;
    char *icon;
    char *opener;
    char *setsid; /* util-linux setsid, to run the opener detached; NULL when not found */
    int urgency;
    int32_t expire_ms;
    long timeout_ms;
    int actions; /* offer the open-link actions (when the server has "actions") */

    sd_bus *bus; /* NULL until connected, and again after the connection was lost */
    sd_bus_slot *match_action, *match_closed;
    struct herald_watch *watch;
    struct herald_timer *timer;
    struct desk_call *calls; /* deliveries waiting for a reply */
    struct desk_stories stories;

    int dispatching; /* inside sd_bus_process: nothing may close the bus under it */
    int busy;        /* functions of this plugin on the stack that use the struct after a
                        complete(), which may call fini */
    int finished;    /* fini was called: freed once busy and openers are 0 */
    int openers;     /* opener programs still running (their callbacks hold this struct) */
};

/* One delivery in flight: GetCapabilities, then Notify. Everything it sends is rendered at
 * deliver() time, because the alert is only borrowed for that call. */
struct desk_call {
    struct desk *dt;
    struct herald_delivery *d;
    sd_bus_slot *slot;
    char *summary, *body_plain, *body_markup;
    char *link;    /* an http(s) link, or NULL */
    char *key;     /* the story key, or NULL */
    int link_line; /* default body: show the link when there are no actions */
    uint64_t deadline_us;
    struct desk_call *next, **prevp;
};

static const struct herald_opt_spec desk_options[] = {
    {"summary", HERALD_OPT_TEMPLATE, 0, "{{rule}}: {{title}}",
     "the notification's title line, a template (plain text)"},
    {"body", HERALD_OPT_TEMPLATE, 0, NULL,
     "a template for the body (default: the evidence with matched words in bold, then source "
     "and date); in body markup (<b>, <i>, <u>) when the server supports it"},
    {"urgency", HERALD_OPT_STRING, 0, "normal", "low, normal or critical"},
    {"icon", HERALD_OPT_STRING, 0, "dialog-information",
     "app_icon: an icon name from the theme or an absolute file path"},
    {"expire", HERALD_OPT_STRING, 0, "default",
     "how long the notification stays: \"default\" (the server decides), \"never\", or a "
     "duration such as \"10s\""},
    {"actions", HERALD_OPT_BOOL, 0, "true",
     "clicking the notification opens the article (when the server supports actions)"},
    {"opener", HERALD_OPT_STRING, 0, "xdg-open",
     "the program that opens a link, run with the link as its one argument (no shell)"},
    {"timeout", HERALD_OPT_DURATION, 0, "4s",
     "how long to wait for the notification server to answer; then the alert is retried"},
    {0},
};

/* ---- time ---- */

static uint64_t mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- calls ---- */

static void call_free(struct desk_call *c)
{
    if (!c) return;
    if (c->prevp) {
        *c->prevp = c->next;
        if (c->next) c->next->prevp = c->prevp;
    }
    sd_bus_slot_unref(c->slot); /* a pending call is cancelled: its callback never runs */
    free(c->summary);
    free(c->body_plain);
    free(c->body_markup);
    free(c->link);
    free(c->key);
    free(c);
}

static void call_link(struct desk *dt, struct desk_call *c)
{
    c->next = dt->calls;
    if (c->next) c->next->prevp = &c->next;
    c->prevp = &dt->calls;
    dt->calls = c;
}

/* Render everything the call may send. NULL when memory runs out. */
static struct desk_call *call_new(struct desk *dt, const struct herald_alert *al,
                                  struct herald_delivery *d)
{
    struct desk_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->dt = dt;
    c->d = d;
    struct atext s = {0}, plain = {0}, markup = {0};
    desk_summary(&s, &dt->summary, al);
    desk_body(&plain, dt->has_body ? &dt->body : NULL, al, 0);
    desk_body(&markup, dt->has_body ? &dt->body : NULL, al, 1);
    c->summary = s.p ? s.p : strdup("");
    c->body_plain = plain.p ? plain.p : strdup("");
    c->body_markup = markup.p ? markup.p : strdup("");
    const char *link = al->article ? al->article->link : NULL;
    int link_ok = amark_url_ok(link) && strlen(link) <= DESK_KEY_MAX;
    c->link = link_ok ? strdup(link) : NULL;
    c->key = desk_story_key(al);
    c->link_line = !dt->has_body;
    if (s.failed || plain.failed || markup.failed || !c->summary || !c->body_plain ||
        !c->body_markup || (link_ok && !c->link)) {
        call_free(c);
        return NULL;
    }
    return c;
}

/* The detail for a D-Bus error reply, "desktop: …", into out. */
static void error_detail(const sd_bus_error *e, long timeout_ms, char *out, size_t n)
{
    const char *name = e && e->name ? e->name : "unknown error";
    struct atext msg = {0};
    if (e && e->message) atext_put_clean(&msg, e->message, strlen(e->message), DETAIL_MAX);
    const char *m = msg.p && !msg.failed ? msg.p : "";
    if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
        sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
        snprintf(out, n, "desktop: no notification server on the session bus (%s: %s)", name, m);
    else if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) ||
             sd_bus_error_has_name(e, SD_BUS_ERROR_TIMEOUT))
        snprintf(out, n, "desktop: the notification server did not answer within %ld ms (%s: %s)",
                 timeout_ms, name, m);
    else if (name && strncmp(name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
        snprintf(out, n, "desktop: the notification server could not be started (%s: %s)", name, m);
    else
        snprintf(out, n, "desktop: the notification server refused the notification (%s: %s)", name,
                 m);
    atext_free(&msg);
}

/* End a call: release it, then complete its delivery (last: complete may finalise dt). */
static void call_finish(struct desk_call *c, enum herald_result r, const char *detail)
{
    struct herald_delivery *d = c->d;
    void (*complete)(struct herald_delivery *, enum herald_result, const char *) =
        c->dt->host.complete;
    call_free(c);
    complete(d, r, detail);
}

/* ---- the connection on the daemon's loop ---- */

static void dispatch(struct desk *dt);

static void bus_lost(struct desk *dt, int r);
static void maybe_free(struct desk *dt);

static void on_io(void *arg, int events)
{
    struct desk *dt = arg;
    if (!(events & HERALD_IO_ERROR)) {
        dispatch(dt);
        return;
    }
    /* Polling the socket failed (and libuv stopped the watch): let sd-bus read what it still
     * can, then drop the connection rather than poll a broken socket in a loop. The next
     * delivery connects again. */
    dt->busy++;
    dispatch(dt);
    if (dt->bus && !dt->finished) bus_lost(dt, -EIO);
    dt->busy--;
    maybe_free(dt);
}

static void on_bus_timer(void *arg)
{
    dispatch(arg);
}

/* Point the watch and the timer at what sd-bus waits for now. -1 when the bus is broken. */
static int rearm(struct desk *dt)
{
    if (!dt->bus || dt->dispatching) return 0;
    int ev = sd_bus_get_events(dt->bus);
    if (ev < 0) return -1;
    int want = ((ev & POLLIN) ? HERALD_IO_READ : 0) | ((ev & POLLOUT) ? HERALD_IO_WRITE : 0);
    if (dt->host.watch_update(dt->watch, want) != 0) return -1;
    uint64_t until = UINT64_MAX;
    if (sd_bus_get_timeout(dt->bus, &until) < 0) return -1;
    if (until == UINT64_MAX) {
        dt->host.timer_stop(dt->timer);
        return 0;
    }
    uint64_t now = mono_usec();
    uint64_t ms = until > now ? (until - now + 999) / 1000 : 0;
    return dt->host.timer_start(dt->timer, ms);
}

/* Close the connection (outside sd_bus_process). Calls still waiting are not completed here:
 * the caller does that. */
static void bus_close(struct desk *dt)
{
    dt->match_action = sd_bus_slot_unref(dt->match_action);
    dt->match_closed = sd_bus_slot_unref(dt->match_closed);
    if (dt->host.watch_close) dt->host.watch_close(dt->watch);
    if (dt->host.timer_close) dt->host.timer_close(dt->timer);
    dt->watch = NULL;
    dt->timer = NULL;
    dt->bus = sd_bus_close_unref(dt->bus); /* the socket closes after its watch is gone */
}

/* The connection is gone: close it and retry what was still waiting on it. The next
 * delivery connects again. */
static void bus_lost(struct desk *dt, int r)
{
    char detail[256];
    snprintf(detail, sizeof detail, "desktop: lost the D-Bus session bus (%s)",
             r < 0 ? strerror(-r) : "disconnected");
    if (!dt->finished) dt->host.log(dt->host.ctx, HERALD_LOG_WARN, "%s", detail);
    bus_close(dt);
    while (dt->calls && !dt->finished)
        call_finish(dt->calls, HERALD_RETRY, detail);
}

static void desk_free(struct desk *dt);

/* Free a finalised instance once nothing uses it any more. */
static void maybe_free(struct desk *dt)
{
    if (dt->finished && dt->busy == 0 && dt->openers == 0) desk_free(dt);
}

/* Run sd-bus until it has nothing more to do now, then re-arm (or notice the bus is gone). */
static void dispatch(struct desk *dt)
{
    if (!dt->bus || dt->dispatching) return;
    dt->dispatching = 1;
    dt->busy++;
    int r = 0;
    for (int i = 0; i < DISPATCH_MAX && !dt->finished; i++) {
        r = sd_bus_process(dt->bus, NULL);
        if (r <= 0) break;
    }
    dt->dispatching = 0;
    if (dt->finished)
        bus_close(dt); /* fini ran inside a callback and left the bus to us */
    else if (r < 0 || (r == 0 && !sd_bus_is_open(dt->bus)))
        bus_lost(dt, r);
    else if (rearm(dt) != 0)
        bus_lost(dt, -EIO);
    else if (r > 0)
        dt->host.timer_start(dt->timer, 0); /* more work left: continue next turn */
    dt->busy--;
    maybe_free(dt);
}

/* ---- opening a link ---- */

static void on_opener_done(void *arg, const struct herald_spawn_result *r)
{
    struct desk *dt = arg;
    dt->openers--;
    if (dt->finished) {
        maybe_free(dt);
        return;
    }
    if (!r->error && !r->term_signal && r->exit_status == 0) return;
    struct atext b = {0};
    atext_printf(&b, "desktop: %s could not open the link: ", dt->opener);
    if (r->error)
        atext_puts(&b, r->error);
    else if (r->term_signal)
        atext_printf(&b, "killed by signal %d", r->term_signal);
    else
        atext_printf(&b, "exited with %d", r->exit_status);
    if (r->output && r->output_len) {
        atext_puts(&b, ": ");
        atext_put_clean(&b, r->output, atext_cut(r->output, r->output_len, 200), 200);
    }
    dt->host.log(dt->host.ctx, HERALD_LOG_WARN, "%s", b.p && !b.failed ? b.p : "desktop: opener");
    atext_free(&b);
}

/* Run `opener LINK`. Through `setsid --fork` when there is one: the opener (xdg-open may run
 * the browser itself, in the foreground) then lives in a session of its own, which neither the
 * spawn's timeout nor a stopping herald kills, and the spawn ends as soon as it has started. */
static void open_link(struct desk *dt, const char *link)
{
    const char *detached[4] = {dt->setsid, "--fork", dt->opener, link};
    const char *direct[2] = {dt->opener, link};
    struct herald_spawn s = {
        .struct_size = sizeof s,
        .argv = dt->setsid ? detached : direct,
        .argc = dt->setsid ? 4 : 2,
        .timeout_ms = OPENER_TIMEOUT_MS,
    };
    dt->openers++; /* the struct stays until on_opener_done, even past fini */
    if (dt->host.spawn(dt->host.ctx, &s, on_opener_done, dt) != 0) {
        dt->openers--;
        dt->host.log(dt->host.ctx, HERALD_LOG_WARN, "desktop: cannot run %s now", dt->opener);
    }
}

/* ActionInvoked(u id, s action_key): the user clicked one of our notifications. */
static int on_action(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    (void)ret_error;
    struct desk *dt = userdata;
    uint32_t id = 0;
    const char *key = NULL;
    if (dt->finished || sd_bus_message_read(m, "us", &id, &key) < 0) return 0;
    struct desk_story *s = desk_stories_by_id(&dt->stories, id);
    if (!s || !s->link || !key || (strcmp(key, "default") != 0 && strcmp(key, "open") != 0))
        return 0;
    dt->host.log(dt->host.ctx, HERALD_LOG_INFO, "desktop: opening %s", s->link);
    open_link(dt, s->link);
    return 0;
}

/* NotificationClosed(u id, u reason): the next alert of that story shows a new notification. */
static int on_closed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    (void)ret_error;
    struct desk *dt = userdata;
    uint32_t id = 0, reason = 0;
    if (dt->finished || sd_bus_message_read(m, "uu", &id, &reason) < 0) return 0;
    desk_stories_forget(&dt->stories, id);
    return 0;
}

/* Why there is no session bus, for the delivery's detail. */
static void no_bus_detail(int r, char *out, size_t n)
{
    const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
    const char *run = getenv("XDG_RUNTIME_DIR");
    if (addr && addr[0])
        snprintf(out, n, "desktop: no D-Bus session bus: cannot connect to %.200s: %s", addr,
                 strerror(-r));
    else if (run && run[0])
        snprintf(out, n, "desktop: no D-Bus session bus: cannot connect to %.200s/bus: %s", run,
                 strerror(-r));
    else
        snprintf(out, n,
                 "desktop: no D-Bus session bus: neither DBUS_SESSION_BUS_ADDRESS nor "
                 "XDG_RUNTIME_DIR is set (is herald running inside the desktop session?)");
}

/* Connect to the session bus and put it on the loop. 0, or a negative errno with the reason
 * in detail. The connection's handshake itself runs asynchronously on the loop. */
static int bus_open(struct desk *dt, char *detail, size_t n)
{
    sd_bus *bus = NULL;
    int r = sd_bus_open_user(&bus);
    if (r < 0) {
        no_bus_detail(r, detail, n);
        return r;
    }
    dt->bus = bus;
    sd_bus_set_exit_on_disconnect(bus, 0);
    r = sd_bus_match_signal_async(bus, &dt->match_action, NULL, NOTIFY_PATH, NOTIFY_IFACE,
                                  "ActionInvoked", on_action, NULL, dt);
    if (r >= 0)
        r = sd_bus_match_signal_async(bus, &dt->match_closed, NULL, NOTIFY_PATH, NOTIFY_IFACE,
                                      "NotificationClosed", on_closed, NULL, dt);
    int fd = r >= 0 ? sd_bus_get_fd(bus) : r;
    if (fd >= 0) {
        dt->watch = dt->host.watch_fd(dt->host.ctx, fd, 0, on_io, dt);
        dt->timer = dt->host.timer_new(dt->host.ctx, on_bus_timer, dt);
        r = dt->watch && dt->timer ? rearm(dt) : -ENOMEM;
    } else {
        r = fd;
    }
    if (r < 0) {
        snprintf(detail, n, "desktop: cannot use the D-Bus session bus: %s", strerror(-r));
        bus_close(dt);
        return r;
    }
    return 0;
}

/* ---- Notify ---- */

static int on_notify_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int on_caps_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* Microseconds left until the call's deadline (at least 1 ms, so sd-bus never waits forever). */
static uint64_t left_usec(const struct desk_call *c)
{
    uint64_t now = mono_usec();
    return c->deadline_us > now + 1000 ? c->deadline_us - now : 1000;
}

static int send_caps(struct desk_call *c)
{
    sd_bus_message *m = NULL;
    int r = sd_bus_message_new_method_call(c->dt->bus, &m, NOTIFY_DEST, NOTIFY_PATH, NOTIFY_IFACE,
                                           "GetCapabilities");
    if (r >= 0) r = sd_bus_call_async(c->dt->bus, &c->slot, m, on_caps_reply, c, left_usec(c));
    sd_bus_message_unref(m);
    return r;
}

/* The body to send: markup or plain, with the link as a last line when the user cannot click
 * through to it. Malloc'd, NULL when memory runs out. */
static char *final_body(const struct desk_call *c, int markup, int with_actions)
{
    struct atext b = {0};
    atext_puts(&b, markup ? c->body_markup : c->body_plain);
    if (c->link_line && c->link && !with_actions) desk_link_line(&b, c->link, markup);
    if (b.failed || !b.p) {
        atext_free(&b);
        return NULL;
    }
    return b.p;
}

static int send_notify(struct desk_call *c, int markup, int server_actions)
{
    struct desk *dt = c->dt;
    int with_actions = server_actions && dt->actions && c->link;
    struct desk_story *s = desk_stories_find(&dt->stories, c->key);
    uint32_t replaces = s ? s->id : 0;
    char *body = final_body(c, markup, with_actions);
    if (!body) return -ENOMEM;
    sd_bus_message *m = NULL;
    int r = sd_bus_message_new_method_call(dt->bus, &m, NOTIFY_DEST, NOTIFY_PATH, NOTIFY_IFACE,
                                           "Notify");
    if (r >= 0)
        r = sd_bus_message_append(m, "susss", "herald", replaces, dt->icon, c->summary, body);
    if (r >= 0 && with_actions)
        r = sd_bus_message_append(m, "as", 4, "default", "Open", "open", "Open article");
    else if (r >= 0)
        r = sd_bus_message_append(m, "as", 0);
    if (r >= 0) r = sd_bus_message_append(m, "a{sv}", 1, "urgency", "y", (uint8_t)dt->urgency);
    if (r >= 0) r = sd_bus_message_append(m, "i", dt->expire_ms);
    if (r >= 0) r = sd_bus_call_async(dt->bus, &c->slot, m, on_notify_reply, c, left_usec(c));
    sd_bus_message_unref(m);
    free(body);
    return r;
}

static int on_caps_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    (void)ret_error;
    struct desk_call *c = userdata;
    c->slot = sd_bus_slot_unref(c->slot);
    char detail[512];
    if (sd_bus_message_is_method_error(m, NULL)) {
        error_detail(sd_bus_message_get_error(m), c->dt->timeout_ms, detail, sizeof detail);
        call_finish(c, HERALD_RETRY, detail);
        return 0;
    }
    /* A server whose answer is not an array of strings gets plain text and no actions. */
    int markup = 0, actions = 0;
    if (sd_bus_message_enter_container(m, 'a', "s") > 0) {
        const char *cap;
        while (sd_bus_message_read(m, "s", &cap) > 0) {
            markup |= strcmp(cap, "body-markup") == 0;
            actions |= strcmp(cap, "actions") == 0;
        }
    }
    int r = send_notify(c, markup, actions);
    if (r < 0) {
        snprintf(detail, sizeof detail, "desktop: cannot send the notification: %s", strerror(-r));
        call_finish(c, HERALD_RETRY, detail);
    }
    return 0;
}

static int on_notify_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    (void)ret_error;
    struct desk_call *c = userdata;
    struct desk *dt = c->dt;
    c->slot = sd_bus_slot_unref(c->slot);
    char detail[512];
    if (sd_bus_message_is_method_error(m, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        error_detail(e, dt->timeout_ms, detail, sizeof detail);
        /* Arguments the server rejects will be rejected again; anything else may pass later
         * (a server starting, restarting, or busy). */
        int bad = sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS);
        call_finish(c, bad ? HERALD_FAILED : HERALD_RETRY, detail);
        return 0;
    }
    uint32_t id = 0;
    if (sd_bus_message_read(m, "u", &id) > 0 && id != 0 && c->key &&
        desk_stories_put(&dt->stories, c->key, id, c->link) != 0)
        dt->host.log(dt->host.ctx, HERALD_LOG_WARN,
                     "desktop: out of memory: notification %u will not be replaced", id);
    call_finish(c, HERALD_DELIVERED, NULL);
    return 0;
}

/* Start the call for one alert. 0 when it is on its way; else -1 with the reason in detail
 * (the caller completes the delivery). */
static int start_call(struct desk *dt, const struct herald_alert *alert, struct herald_delivery *d,
                      char *detail, size_t n)
{
    if (!dt->host.watch_fd) {
        snprintf(detail, n, "desktop: this herald cannot run a D-Bus connection (no watch_fd)");
        return -1;
    }
    struct desk_call *c = call_new(dt, alert, d);
    if (!c) {
        snprintf(detail, n, "desktop: out of memory");
        return -1;
    }
    if (!dt->bus && bus_open(dt, detail, n) != 0) {
        call_free(c);
        return -1;
    }
    c->deadline_us = mono_usec() + (uint64_t)dt->timeout_ms * 1000u;
    int r = send_caps(c);
    if (r < 0) {
        snprintf(detail, n, "desktop: cannot send to the D-Bus session bus: %s", strerror(-r));
        call_free(c);
        if (!dt->dispatching && !sd_bus_is_open(dt->bus)) bus_lost(dt, r); /* reconnect later */
        return -1;
    }
    call_link(dt, c);
    if (rearm(dt) != 0) bus_lost(dt, -EIO); /* completes c too */
    return 0;
}

static int desk_deliver(void *state, const struct herald_alert *alert, struct herald_delivery *d)
{
    struct desk *dt = state;
    char detail[512];
    void (*complete)(struct herald_delivery *, enum herald_result, const char *) =
        dt->host.complete;
    dt->busy++;
    int r = start_call(dt, alert, d, detail, sizeof detail);
    dt->busy--;
    maybe_free(dt);
    if (r != 0) complete(d, HERALD_RETRY, detail); /* last: it may finalise the instance */
    return 0;
}

/* ---- instance ---- */

static void desk_free(struct desk *dt)
{
    while (dt->calls)
        call_free(dt->calls);
    bus_close(dt);
    desk_stories_free(&dt->stories);
    tpl_free(&dt->summary);
    tpl_free(&dt->body);
    free(dt->icon);
    free(dt->opener);
    free(dt->setsid);
    free(dt);
}

/* No delivery is in flight (the host's contract), but sd_bus_process, a delivery's complete()
 * or an opener program may still be running on this instance: then the bus closes now (or
 * when sd_bus_process returns) and the struct is freed when the last of them ends. */
static void desk_fini(void *state)
{
    struct desk *dt = state;
    if (!dt) return;
    dt->finished = 1;
    while (dt->calls)
        call_free(dt->calls);
    if (!dt->dispatching) bus_close(dt);
    maybe_free(dt);
}

/* The absolute path of `name` found in $PATH, malloc'd, or NULL. */
static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !path[0]) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char cand[4096];
        int w = snprintf(cand, sizeof cand, "%.*s/%s", (int)n, path, name);
        if (n > 0 && path[0] == '/' && w > 0 && (size_t)w < sizeof cand && access(cand, X_OK) == 0)
            return strdup(cand);
        path += n + (path[n] == ':');
    }
    return NULL;
}

static int read_template(struct tpl *t, const char *name, const char *src, char *err, size_t errlen)
{
    char why[300];
    if (!desk_utf8_ok(src)) {
        snprintf(err, errlen, "desktop: %s is not valid UTF-8", name);
        return -1;
    }
    if (tpl_parse(t, src, why, sizeof why) != 0) {
        snprintf(err, errlen, "desktop: %s: %s", name, why);
        return -1;
    }
    return 0;
}

static int read_options(struct desk *dt, const struct herald_opts *opts, char *err, size_t errlen)
{
    const struct herald_host *h = &dt->host;
    const char *v = h->opt_string(opts, "summary");
    if (read_template(&dt->summary, "summary", v ? v : "{{rule}}: {{title}}", err, errlen) != 0)
        return -1;
    v = h->opt_string(opts, "body");
    if (v) {
        if (read_template(&dt->body, "body", v, err, errlen) != 0) return -1;
        dt->has_body = 1;
    }
    v = h->opt_string(opts, "urgency");
    dt->urgency = desk_urgency(v ? v : "normal");
    if (dt->urgency < 0) {
        snprintf(err, errlen,
                 "desktop: urgency must be \"low\", \"normal\" or \"critical\", not "
                 "\"%.40s\"",
                 v);
        return -1;
    }
    v = h->opt_string(opts, "expire");
    if (desk_expire(v ? v : "default", &dt->expire_ms) != 0) {
        snprintf(err, errlen,
                 "desktop: expire must be \"default\", \"never\" or a duration from 1ms to 1d "
                 "such as \"10s\", not \"%.40s\"",
                 v);
        return -1;
    }
    const char *icon = h->opt_string(opts, "icon");
    if (!icon) icon = "dialog-information";
    if (strlen(icon) > 4096 || !desk_utf8_ok(icon)) {
        snprintf(err, errlen, "desktop: icon must be an icon name or a file path in UTF-8");
        return -1;
    }
    v = h->opt_string(opts, "opener");
    if (!v) v = "xdg-open";
    if (!v[0] || strlen(v) > 4096 || (v[0] != '/' && strchr(v, '/'))) {
        snprintf(err, errlen,
                 "desktop: opener must be an absolute path or a program name found in PATH, "
                 "not \"%.100s\"",
                 v);
        return -1;
    }
    dt->actions = h->opt_int(opts, "actions", 1) != 0;
    long long t = h->opt_int(opts, "timeout", 4000);
    if (t <= 0 || t > TIMEOUT_MAX_MS) {
        snprintf(err, errlen, "desktop: timeout must be between 1ms and 1m");
        return -1;
    }
    dt->timeout_ms = (long)t;
    dt->icon = strdup(icon);
    dt->opener = strdup(v);
    dt->setsid = find_in_path("setsid");
    return dt->icon && dt->opener ? 0 : -1;
}

static int desk_init(const struct herald_host *host, const struct herald_opts *opts, void **state,
                     char *err, size_t errlen)
{
    struct desk *dt = calloc(1, sizeof *dt);
    if (!dt) {
        snprintf(err, errlen, "desktop: out of memory");
        return -1;
    }
    if (atext_host_copy(&dt->host, host) != 0 || host->version < 4 ||
        host->struct_size < offsetof(struct herald_host, timer_close) + sizeof host->timer_close ||
        !dt->host.spawn ||
        (dt->host.watch_fd &&
         (!dt->host.watch_update || !dt->host.watch_close || !dt->host.timer_new ||
          !dt->host.timer_start || !dt->host.timer_stop || !dt->host.timer_close))) {
        snprintf(err, errlen,
                 "desktop: this herald cannot run a D-Bus connection (host table version < 4)");
        free(dt);
        return -1;
    }
    err[0] = '\0';
    if (read_options(dt, opts, err, errlen) != 0) {
        if (!err[0]) snprintf(err, errlen, "desktop: out of memory");
        desk_free(dt);
        return -1;
    }
    /* `herald check` offers no loop (watch_fd is NULL): the options are checked, no bus is
     * opened. A daemon connects now, and when that fails the alerts wait: deliveries retry
     * (and connect again) until a session bus is there. */
    char why[512];
    if (dt->host.watch_fd && bus_open(dt, why, sizeof why) != 0)
        dt->host.log(dt->host.ctx, HERALD_LOG_WARN, "%s; alerts stay queued and are retried", why);
    *state = dt;
    return 0;
}

__attribute__((visibility("default"))) const struct herald_plugin herald_plugin =
    HERALD_PLUGIN_INIT("desktop",
                       "desktop notifications over D-Bus (freedesktop Notifications): evidence "
                       "in the body, click to open, one notification per story",
                       desk_options, desk_init, desk_deliver, desk_fini);
