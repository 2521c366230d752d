#!/usr/bin/env python3
"""The desktop notifier end to end, on a real desktop stack the test builds for itself: an X
server (Xvfb) on a free display from :90 up, a private D-Bus session bus (dbus-daemon with
tests/fixtures/desktop/session.conf, which auto-starts nothing) and dunst as the notification
server (tests/fixtures/desktop/dunstrc: nothing expires). The real build/herald talks to that bus
through DBUS_SESSION_BUS_ADDRESS. What dunst received is read back with dunstctl (its counts
and its history as JSON), and a screenshot of the root window with the notification on it is
saved to build/test-output/desktop/. Cases: summary and evidence body with body markup escaped,
a second alert about the same story replacing the first notification rather than stacking;
a click (dunstctl action) opening the link through `opener`; the bus going away under a running
herald, which reconnects for the next alert (and a reload); a server that does not answer (dunst
stopped with SIGSTOP) timing out; no notification server on the bus, then no session bus at
all: in each failure the alerts stay queued (pending in the outbox) and are delivered later;
`herald check` rejecting bad option values. Every process the test starts runs in its own
process group and is killed in a finally block; every wait is bounded.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time

from harness import (FIXTURES, HERALD, Daemon, FeedServer, TempDir, TestFailure, case, check,
                     check_eq, check_in, main, rss, run, slow_factor, wait_until, wrapper)

XVFB = shutil.which("Xvfb")
DUNST = shutil.which("dunst")
DUNSTCTL = shutil.which("dunstctl")
DBUS_DAEMON = shutil.which("dbus-daemon")
# ImageMagick's own binaries, side by side (a `convert` earlier in PATH may be something else).
IMPORT = "/usr/bin/import" if os.access("/usr/bin/import", os.X_OK) else shutil.which("import")
CONVERT = os.path.join(os.path.dirname(IMPORT), "convert") if IMPORT else None
SESSION_CONF = os.path.join(FIXTURES, "desktop", "session.conf")
DUNSTRC = os.path.join(FIXTURES, "desktop", "dunstrc")
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(HERALD)), "test-output", "desktop")

TITLE = 'US troops told to leave Iraq & "soon"'
LINK = "http://news.test/iraq-1?a=1&b=2"
# The text reaches herald as HTML (an RSS description); "&lt;" there is a literal "<" in the
# article's text, which the body markup must carry as "&lt;" again.
DESCRIPTION = ("Lawmakers in Baghdad voted &lt;today&gt; &amp; on Sunday for the removal of all "
               "US troops from Iraq, a week after the strike.")
ITEMS = [{"guid": "urn:desktop:1", "title": TITLE, "link": LINK, "description": DESCRIPTION}]
FEEDS = []  # the running case's FeedServer, for a case that changes the feed


def missing_tools(need_x=True):
    tools = {"dbus-daemon": DBUS_DAEMON}
    if need_x:  # dunstctl itself calls dbus-send and busctl
        tools.update({"Xvfb": XVFB, "dunst": DUNST, "dunstctl": DUNSTCTL, "import": IMPORT,
                      "dbus-send": shutil.which("dbus-send"), "busctl": shutil.which("busctl")})
    return [name for name, path in tools.items() if not path]


def spawn(argv, log, env=None):
    """Start a helper in its own process group (so it can be killed with all it started)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=e, start_new_session=True)


def kill_group(p, timeout=5):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(timeout=timeout)


class Desktop:
    """A private session bus, and on request an X display and dunst; stop() ends them all."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.logs = []
        self.display = None
        self.bus = None
        self.bus_proc = None
        self.dunst = None

    def _log(self, name):
        f = open(os.path.join(self.tmp, name + ".log"), "w")
        self.logs.append(f)
        return f

    def start_bus(self):
        sock = os.path.join(self.tmp, "bus")
        if os.path.exists(sock):
            os.unlink(sock)  # left by a bus this test stopped
        p = spawn([DBUS_DAEMON, "--config-file=" + SESSION_CONF, "--address=unix:path=" + sock,
                   "--nofork", "--nopidfile"], self._log("dbus"))
        self.procs.append(p)
        self.bus_proc = p
        if not wait_until(lambda: os.path.exists(sock) or p.poll() is not None, timeout=10) \
                or p.poll() is not None:
            raise TestFailure("dbus-daemon did not start: " + self.log_text("dbus"))
        self.bus = "unix:path=" + sock

    def stop_bus(self):
        """End dunst and the bus (the X server stays), as when a desktop session ends."""
        for p in (self.dunst, self.bus_proc):
            if p:
                kill_group(p)
                self.procs.remove(p)
        self.dunst = self.bus_proc = None

    def start_x(self):
        for n in range(90, 190):
            sock = "/tmp/.X11-unix/X%d" % n
            if os.path.exists("/tmp/.X%d-lock" % n) or os.path.exists(sock):
                continue
            p = spawn([XVFB, ":%d" % n, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                      self._log("xvfb%d" % n))
            wait_until(lambda: os.path.exists(sock) or p.poll() is not None, timeout=10)
            if p.poll() is None and os.path.exists(sock):
                self.procs.append(p)
                self.display = n
                return
            kill_group(p)  # another X server took that number meanwhile: try the next
        raise TestFailure("no free X display between :90 and :189")

    def start_dunst(self):
        p = spawn([DUNST, "-config", DUNSTRC], self._log("dunst"), env=self.env())
        self.procs.append(p)
        self.dunst = p
        if not wait_until(lambda: self.dunstctl("count", "displayed", check_rc=False)
                          .returncode == 0 or p.poll() is not None, timeout=10) \
                or p.poll() is not None:
            raise TestFailure("dunst did not start: " + self.log_text("dunst"))

    def env(self):
        e = {"DBUS_SESSION_BUS_ADDRESS": self.bus}
        if self.display is not None:
            e["DISPLAY"] = ":%d" % self.display
        return e

    def dunstctl(self, *args, check_rc=True):
        e = dict(os.environ)
        e.update(self.env())
        r = subprocess.run([DUNSTCTL] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=e, timeout=15)
        if check_rc and r.returncode != 0:
            raise TestFailure("dunstctl %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def displayed(self):
        return int(self.dunstctl("count", "displayed").stdout.strip())

    def history(self):
        """dunst's closed notifications, newest first, as plain dicts."""
        doc = json.loads(self.dunstctl("history").stdout)
        return [{k: v["data"] for k, v in n.items()} for n in doc["data"][0]]

    def screenshot(self, name):
        os.makedirs(OUT_DIR, exist_ok=True)
        path = os.path.join(OUT_DIR, name)
        r = subprocess.run([IMPORT, "-window", "root", "-display", ":%d" % self.display, path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        check_eq(r.returncode, 0, "import: " + r.stdout)
        print("screenshot: %s" % path)
        return path

    def log_text(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        for p in reversed(self.procs):
            kill_group(p)
        self.procs = []
        for f in self.logs:
            f.close()


def colours(path, crop=None):
    """Distinct colours of a PNG (or of a crop of it, "WxH+X+Y"), counted by ImageMagick."""
    argv = [CONVERT, path]
    if crop:
        argv += ["-crop", crop, "+repage"]
    r = subprocess.run(argv + ["-format", "%k", "info:"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    check_eq(r.returncode, 0, "convert: " + r.stdout)
    return int(r.stdout.strip())


def config(d, feed_url, extra=""):
    return d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "desk" { type = "desktop", retry_min = "1s", urgency = "critical"%s }
herald.rule "iraq" { query = 'troop* AND Iraq', notify = "desk" }
herald.rule "baghdad" { query = 'Baghdad', notify = "desk" }
""" % (feed_url, extra))


def fetch_once(cfg, state, env):
    r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60, env=env)
    check_eq(r.returncode, 0, "fetch --once status; stderr:\n" + r.stderr)
    return r


def outbox(state):
    con = sqlite3.connect(os.path.join(state, "herald.db"))
    try:
        return [tuple(row) for row in con.execute(
            "SELECT state, attempts, last_error FROM outbox WHERE notifier = 'desk' ORDER BY id")]
    finally:
        con.close()


def outbox_states(state):
    """The outbox states, or [] while a starting daemon has not created its store yet."""
    try:
        return [row[0] for row in outbox(state)]
    except sqlite3.Error:
        return []


def with_desktop(need_x=True, dunst=True):
    """Run the case with a feed server and a private desktop; SKIP when a tool is missing."""
    def wrap(fn):
        def wrapped():
            missing = missing_tools(need_x)
            if missing:
                return "SKIP not installed: %s (make deps installs them)" % ", ".join(missing)
            feeds = FeedServer()
            FEEDS[:] = [feeds]
            try:
                feeds.route("/feed.xml", rss(ITEMS))
                with TempDir() as d:
                    desk = Desktop(d.path)
                    try:
                        desk.start_bus()
                        if need_x:
                            desk.start_x()
                        if need_x and dunst:
                            desk.start_dunst()
                        return fn(d, desk, feeds.url("/feed.xml"), os.path.join(d.path, "state"))
                    finally:
                        desk.stop()
            finally:
                feeds.stop()
        wrapped.__name__ = fn.__name__
        return wrapped
    return wrap


@case
@with_desktop()
def desktop_notification_shown_then_replaced(d, desk, feed_url, state):
    r = fetch_once(config(d, feed_url), state, desk.env())
    check_eq([row[0] for row in outbox(state)], ["delivered", "delivered"],
             "both alerts (two rules, one article) delivered; log:\n" + r.stderr)
    check(wait_until(lambda: desk.displayed() == 1, timeout=10),
          "one notification on screen for the one story, not two: %d" % desk.displayed())
    time.sleep(0.5 * slow_factor())  # let dunst finish drawing before the screenshot
    shot = desk.screenshot("notification.png")
    with open(shot, "rb") as f:
        check_eq(f.read(8), b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
    # The notification is drawn at the top right (dunstrc: origin top-right, 560 wide): text
    # there, and nothing but the plain background in the bottom-left corner.
    check(colours(shot, "600x200+424+0") > 20, "the notification's text is on the screenshot")
    check_eq(colours(shot, "300x300+0+468"), 1, "the rest of the screen is plain background")

    desk.dunstctl("close-all")
    hist = [n for n in desk.history() if n.get("appname") == "herald"]
    check_eq(len(hist), 1, "the second alert replaced the first notification (history: %r)"
             % hist)
    n = hist[0]
    # The outbox delivers in queue order: rule iraq, then rule baghdad, whose notification
    # replaced the first one.
    check_eq(n["summary"], "baghdad: " + TITLE, "summary: the rule and the title, as plain text")
    body = n["body"]
    check_in("Lawmakers in <b>Baghdad</b> voted &lt;today&gt; &amp; on Sunday", body,
             "body: the evidence with the matched word in bold and the text escaped")
    check_in("news \u00b7 2020-01-06 09:30 UTC", body, "body: source and date")
    check(LINK not in body, "the link is an action, not body text, when the server has actions")
    check_eq(n["default_action_name"], "default", "dunst's default action")


@case
@with_desktop()
def desktop_click_opens_the_link(d, desk, feed_url, state):
    opened = os.path.join(d.path, "opened.txt")
    pidfile = os.path.join(d.path, "opener.pid")
    # Like xdg-open starting a browser: it records its arguments, then stays running.
    opener = d.file("opener.sh", "#!/bin/sh\nprintf '%%s\\n' \"$@\" >> '%s'\n"
                    "echo $$ > '%s'\nexec sleep 30\n" % (opened, pidfile))
    os.chmod(opener, 0o755)
    opener_pid = None
    cfg = config(d, feed_url, ', opener = "%s", expire = "never"' % opener)
    env = dict(desk.env())
    daemon = Daemon(["run", "-c", cfg, "--state", state, "--socket",
                     os.path.join(d.path, "ctl.sock")], env=env)
    try:
        check(wait_until(lambda: outbox_states(state) == ["delivered"] * 2, timeout=30),
              "both alerts delivered; log:\n" + daemon.output())
        check(wait_until(lambda: desk.displayed() == 1, timeout=10), "one notification shown")
        desk.dunstctl("action", "0")  # what a click does: invoke the "default" action
        check(wait_until(lambda: os.path.exists(opened), timeout=10),
              "the opener ran; log:\n" + daemon.output())
        check(wait_until(lambda: os.path.exists(pidfile) and os.path.getsize(pidfile) > 0,
                         timeout=10), "the opener wrote its pid")
        with open(pidfile) as f:
            opener_pid = int(f.read())
        with open(opened) as f:
            check_eq(f.read(), LINK + "\n", "the opener got the link as its one argument")
        check_in("desktop: opening " + LINK, daemon.output(), "the click is logged")
        rc = daemon.stop()
        check_eq(rc, 0, "herald run exit status; log:\n" + daemon.output())
        try:
            os.kill(opener_pid, 0)
        except ProcessLookupError:
            raise TestFailure("stopping herald killed the opener (a browser must outlive it)")
    finally:
        daemon.stop()
        if opener_pid:
            try:
                os.killpg(opener_pid, signal.SIGKILL)  # setsid made it a group leader
            except ProcessLookupError:
                pass


@case
@with_desktop()
def desktop_reconnects_after_the_bus_restarts(d, desk, feed_url, state):
    cfg = config(d, feed_url)
    sock = os.path.join(d.path, "ctl.sock")
    daemon = Daemon(["run", "-c", cfg, "--state", state, "--socket", sock], env=desk.env())
    try:
        check(wait_until(lambda: outbox_states(state) == ["delivered"] * 2, timeout=30),
              "first story delivered; log:\n" + daemon.output())
        desk.stop_bus()
        check(daemon.wait_for("lost the D-Bus session bus", timeout=10),
              "the lost connection is noticed and logged; log:\n" + daemon.output())
        desk.start_bus()
        desk.start_dunst()
        second = dict(ITEMS[0], guid="urn:desktop:2", link="http://news.test/iraq-2",
                      title="Second story: Iraq asks US troops to go")
        FEEDS[0].route("/feed.xml", rss(ITEMS + [second]))
        r = run(["fetch-now", "--socket", sock], env=desk.env())
        check_eq(r.returncode, 0, "fetch-now: " + r.stderr)
        check(wait_until(lambda: outbox_states(state) == ["delivered"] * 4, timeout=30),
              "the next alerts (both rules again) reconnect and are delivered; log:\n"
              + daemon.output())
        check(wait_until(lambda: desk.displayed() == 1, timeout=10), "shown by the new dunst")
        daemon.send(signal.SIGHUP)  # a reload replaces the instance and its connection
        check(daemon.wait_for("reloaded", timeout=15), "reloaded; log:\n" + daemon.output())
    finally:
        rc = daemon.stop()
    check_eq(rc, 0, "herald run exit status; log:\n" + daemon.output())
    desk.dunstctl("close-all")
    hist = [n for n in desk.history() if n.get("appname") == "herald"]
    check_eq([n["summary"] for n in hist], ["baghdad: " + second["title"]],
             "the new dunst's history: one notification for the second story")


@case
@with_desktop()
def desktop_server_not_answering_times_out(d, desk, feed_url, state):
    cfg = config(d, feed_url, ', timeout = "1s"')
    os.killpg(desk.dunst.pid, signal.SIGSTOP)  # dunst keeps its name on the bus but never answers
    try:
        t0 = time.monotonic()
        r = fetch_once(cfg, state, desk.env())
        took = time.monotonic() - t0
    finally:
        os.killpg(desk.dunst.pid, signal.SIGCONT)
    check(took < 20 * slow_factor(), "the 1 s timeout ended the attempt (took %.1fs)" % took)
    rows = outbox(state)
    check_eq([row[0] for row in rows], ["pending", "pending"], "nothing lost: both pending")
    check_in("did not answer within 1000 ms", rows[0][2], "last_error: " + rows[0][2])
    check_in("NoReply", rows[0][2], "last_error names the D-Bus error")
    check_in("did not answer", r.stderr, "the log says why")
    time.sleep(1.2)  # retry_min = 1s
    fetch_once(cfg, state, desk.env())
    check_eq([row[0] for row in outbox(state)], ["delivered", "delivered"],
             "delivered once the server answers again")


@case
@with_desktop(dunst=False)
def desktop_no_server_keeps_alerts_queued(d, desk, feed_url, state):
    cfg = config(d, feed_url)
    r = fetch_once(cfg, state, desk.env())
    rows = outbox(state)
    check_eq([row[0] for row in rows], ["pending", "pending"], "nothing lost: both pending")
    check_in("no notification server on the session bus", rows[0][2], "last_error")
    check_in("ServiceUnknown", rows[0][2], "last_error names the D-Bus error")
    check_in("no notification server", r.stderr, "the log says why")
    desk.start_dunst()
    time.sleep(1.2)  # retry_min = 1s
    fetch_once(cfg, state, desk.env())
    check_eq([row[0] for row in outbox(state)], ["delivered", "delivered"],
             "delivered once a notification server is there")
    check(wait_until(lambda: desk.displayed() == 1, timeout=10),
          "one notification for the story: %d" % desk.displayed())


@case
@with_desktop(need_x=False)
def desktop_no_session_bus_keeps_alerts_queued(d, desk, feed_url, state):
    cfg = config(d, feed_url)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
    env.setdefault("HOME", d.path)
    r = subprocess.run(wrapper() + [HERALD, "fetch", "--once", "-c", cfg, "--state", state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                       timeout=60 * slow_factor())
    check_eq(r.returncode, 0, "fetch --once status; stderr:\n" + r.stderr)
    rows = outbox(state)
    check_eq([row[0] for row in rows], ["pending", "pending"], "nothing lost: both pending")
    check_in("no D-Bus session bus", rows[0][2], "last_error")
    check_in("no D-Bus session bus", r.stderr, "the log says why at start")
    # The same state, now with a bus (and no server on it yet): still queued, the reason moves on.
    time.sleep(1.2)
    fetch_once(cfg, state, desk.env())
    rows = outbox(state)
    check_eq(rows[0][0], "pending", "still pending")
    check_in("no notification server", rows[0][2], "the new reason")


@case
def desktop_check_validates_options():
    with TempDir() as d:
        bad = [('urgency = "urgent"', 'urgency must be "low", "normal" or "critical"'),
               ('expire = "soon"', 'expire must be "default", "never" or a duration'),
               ('expire = "2d"', 'expire must be'),
               ('summary = "{{titel}}"', "summary: unknown placeholder {{titel}}"),
               ('body = "{{evidence"', "body: unclosed placeholder"),
               ('opener = "bin/open"', "opener must be an absolute path or a program name"),
               ('timeout = "5m"', "timeout must be between 1ms and 1m"),
               ('actions = "yes"', "'actions' must be true or false")]
        for opt, msg in bad:
            cfg = d.file("herald.lua", 'herald.notifier "desk" { type = "desktop", %s }\n' % opt)
            r = run(["check", "-c", cfg])
            check(r.returncode != 0, "check fails for %s" % opt)
            check_in(msg, r.stderr, "check error for %s" % opt)
        cfg = d.file("herald.lua", 'herald.notifier "desk" { type = "desktop", urgency = "low", '
                     'expire = "10s", icon = "mail-unread", body = "<i>{{source}}</i> '
                     '{{evidence}}", summary = "{{title}}" }\n')
        r = run(["check", "-c", cfg], env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})
        check_eq(r.returncode, 0, "a good config passes (no bus needed to check it): " + r.stderr)
        check_in("OK", r.stdout, "check says OK")


if __name__ == "__main__":
    main()
