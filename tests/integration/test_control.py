#!/usr/bin/env python3
"""A running herald answers on its control socket: status, history, reload, fetch-now,
pause and resume (of a source and of a rule), metrics, each also as JSON; a second herald on
the same state refuses to start and names the pid; --daemon detaches with a locked pid file;
SIGTERM drains a delivery in flight; SIGUSR1 logs a status line."""
import json
import os
import signal
import subprocess
import threading
import time

from harness import (HERALD, Daemon, FeedServer, TempDir, WebhookReceiver, case, check, check_eq,
                     check_in, main, rss, run, slow_factor, wait_until, wrapper)


def items(n, word="troops"):
    return [{"guid": "urn:c:%d" % i, "title": "Iraq %s item %d" % (word, i),
             "link": "http://news.test/c/%d" % i,
             "description": "US %s will leave Iraq, report %d says." % (word, i)}
            for i in range(n)]


def config(d, feeds, hook):
    return d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.source "other" { url = "%s", every = "1h" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "iraq" { query = 'troops AND Iraq' }
herald.rule "leave" { query = 'leave' }
""" % (feeds.url("/feed.xml"), feeds.url("/other.xml"), hook.url()))


def ctl(d, *args):
    env = {"XDG_RUNTIME_DIR": os.path.join(d.path, "run")}
    return run(list(args), env=env)


def ctl_json(d, *args):
    r = ctl(d, *(list(args) + ["--json"]))
    check_eq(r.returncode, 0, "%s: %s" % (args, r.stderr))
    return json.loads(r.stdout)


def start_daemon(d, feeds, hook):
    """A daemon on config(); returns once its two first alerts are delivered and recorded."""
    os.makedirs(os.path.join(d.path, "run"))
    cfg = config(d, feeds, hook)
    state = os.path.join(d.path, "st")
    h = Daemon(["run", "-c", cfg, "--state", state],
               env={"XDG_RUNTIME_DIR": os.path.join(d.path, "run")})
    try:
        check(wait_until(lambda: len(hook.accepted()) == 2, timeout=10), h.output())
        # The receiver has both; herald records them once the answers come back.
        check(wait_until(lambda: ctl_json(d, "status")["outbox"]["pending"] == 0,
                         timeout=10), "outbox drained")
    except BaseException:
        h.stop()
        raise
    return cfg, state, h


@case
def status_history_pause_resume_fetch_now_reload_metrics():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(items(1)))
        feeds.route("/other.xml", rss([]))
        with TempDir() as d:
            cfg, state, h = start_daemon(d, feeds, hook)
            try:
                sock = os.path.join(d.path, "run", "herald", "control.sock")
                check(os.path.exists(sock), "socket at $XDG_RUNTIME_DIR/herald/control.sock")
                check_eq(oct(os.stat(sock).st_mode & 0o777), "0o600", "socket mode")
                st = ctl_json(d, "status")
                check_eq([s["name"] for s in st["sources"]], ["news", "other"], "sources")
                news = st["sources"][0]
                check_eq(news["last_status"], 200, "last status")
                check_eq(news["items_new"], 1, "new items")
                check(news["next_poll"] and news["last_fetch"], "times: %r" % news)
                check_eq({r["name"]: r["hits"] for r in st["rules"]}, {"iraq": 1, "leave": 1})
                check_eq(st["outbox"]["pending"], 0, "outbox drained")
                check(st["memory_rss_kb"] > 0 and st["uptime_s"] >= 0, "memory and uptime")
                text = ctl(d, "status").stdout
                check_in("SOURCE", text)
                check_in("iraq", text)
                hist = ctl_json(d, "history", "--rule", "iraq", "--since", "1d")
                check_eq([a["rule"] for a in hist["alerts"]], ["iraq"], "history --rule")
                check_eq(hist["alerts"][0]["state"], "delivered", "delivery state")
                check_in("delivered", ctl(d, "history").stdout)
                # Pause a rule: the next item fires only the other one.
                check_eq(ctl_json(d, "pause", "leave")["kind"], "rule", "pause a rule")
                feeds.route("/feed.xml", rss(items(2)))
                check_eq(ctl_json(d, "fetch-now", "news")["started"], ["news"], "fetch-now")
                check(wait_until(lambda: len(hook.accepted()) == 3, timeout=10), h.output())
                time.sleep(0.3)
                check_eq(json.loads(hook.accepted()[-1]["body"])["rule"], "iraq",
                         "only the unpaused rule fired")
                check_eq(len(hook.accepted()), 3, "the paused rule stayed quiet")
                ctl_json(d, "resume", "leave")
                # Pause a source: fetch-now without a name skips it.
                check_eq(ctl_json(d, "pause", "news")["kind"], "source", "pause a source")
                check_eq(ctl_json(d, "fetch-now")["started"], ["other"], "paused source skipped")
                check_in("paused", ctl(d, "status").stdout)
                feeds.route("/feed.xml", rss(items(3)))
                ctl_json(d, "resume", "news")  # a resumed source polls at once
                check(wait_until(lambda: len(hook.accepted()) == 5, timeout=10),
                      "both rules fire after resume:\n" + h.output())
                r = ctl(d, "pause", "nothing-called-that")
                check_eq(r.returncode, 1, "unknown name")
                check_in("no source or rule named 'nothing-called-that'", r.stderr)
                check_eq(ctl_json(d, "reload")["rules"], 2, "reload")
                check(wait_until(lambda: 'herald_deliveries_total{result="delivered"} 5' in
                                 ctl(d, "metrics").stdout, timeout=10), "delivered counter")
                m = ctl(d, "metrics").stdout
                check_in("herald_alerts_total 5", m)
                check_in("herald_rule_eval_seconds_total", m)
                # One herald per state directory.
                r = run(["run", "-c", cfg, "--state", state])
                check_eq(r.returncode, 73, "second instance")
                check_in("another herald (pid %d) is running on %s" % (h.p.pid, state)
                         if not wrapper() else "another herald (pid", r.stderr)
                # SIGUSR1 logs a status line.
                h.send(signal.SIGUSR1)
                check(h.wait_for("status: 2 sources, 2 rules, 1 notifiers"), h.output())
            finally:
                check_eq(h.stop(), 0, "exit status")
            check(not os.path.exists(sock), "socket removed on exit")
            r = ctl(d, "status")
            check_eq(r.returncode, 69, "no herald running")
            check_in("no herald is running on", r.stderr)
    finally:
        feeds.stop()
        hook.stop()


@case
def sigterm_drains_a_delivery_in_flight():
    feeds, hook = FeedServer(), WebhookReceiver()
    release = threading.Event()

    def slow(req):
        release.wait(5)
        return 200
    hook.status = slow
    try:
        feeds.route("/feed.xml", rss(items(1)))
        feeds.route("/other.xml", rss([]))
        with TempDir() as d:
            cfg = d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "iraq" { query = 'troops AND Iraq' }
""" % (feeds.url("/feed.xml"), hook.url()))
            h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")],
                       env={"XDG_RUNTIME_DIR": os.path.join(d.path, "run")})
            check(wait_until(lambda: len(hook.received) == 0 and "alert: rule iraq" in h.output(),
                             timeout=10), h.output())
            time.sleep(0.3)  # the POST is now waiting in the receiver
            h.send(signal.SIGTERM)
            time.sleep(0.5)
            check(h.p.poll() is None, "herald waits for the delivery in flight")
            release.set()
            # No second signal: a second SIGTERM means "stop now" and would cancel it.
            rc = h.p.wait(timeout=10 * slow_factor())
            h.t.join(timeout=5)
            check_eq(rc, 0, "exit status")
            check_eq(len(hook.received), 1, "the delivery finished")
            check_in("stopping", h.output())
            db = os.path.join(d.path, "st", "herald.db")
            import sqlite3
            con = sqlite3.connect(db)
            states = [r[0] for r in con.execute("SELECT state FROM outbox")]
            con.close()
            check_eq(states, ["delivered"], "recorded as delivered before exit")
    finally:
        release.set()
        feeds.stop()
        hook.stop()


@case
def daemon_mode_detaches_with_a_pid_file():
    if wrapper():
        return "SKIP --daemon under a wrapper (the wrapper would see its child exit)"
    with TempDir() as d:
        feeds = FeedServer()
        try:
            feeds.route("/feed.xml", rss(items(1)))
            cfg = d.file("herald.lua", 'herald.source "news" { url = "%s", every = "1h" }\n'
                         'herald.notifier "log" { type = "file", path = "%s" }\n'
                         "herald.rule \"iraq\" { query = 'troops' }\n"
                         % (feeds.url("/feed.xml"), os.path.join(d.path, "alerts.jsonl")))
            state = os.path.join(d.path, "st")
            env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(d.path, "run"))
            r = subprocess.run([HERALD, "run", "--daemon", "-c", cfg, "--state", state], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
            check_eq(r.returncode, 0, "the launching process returns at once: " + r.stderr.decode())
            pidfile = os.path.join(state, "herald.pid")
            check(wait_until(lambda: os.path.exists(os.path.join(d.path, "alerts.jsonl")),
                             timeout=10), "the daemon works")
            pid = int(open(pidfile).read())
            os.kill(pid, 0)
            check(pid != r.returncode, "pid")
            r2 = subprocess.run([HERALD, "run", "--daemon", "-c", cfg, "--state", state], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
            check_eq(r2.returncode, 73, "a second daemon refuses")
            check_in("another herald (pid %d) is running on %s" % (pid, state),
                     r2.stderr.decode())
            st = subprocess.run([HERALD, "status", "--json"], env=env, stdout=subprocess.PIPE,
                                timeout=20)
            check_eq(json.loads(st.stdout)["pid"], pid, "status reaches the daemon")
            os.kill(pid, signal.SIGTERM)
            check(wait_until(lambda: not os.path.exists(pidfile), timeout=10 * slow_factor()),
                  "pid file removed on exit")
            check_in("running: 1 sources", open(os.path.join(state, "herald.log")).read())
        finally:
            feeds.stop()


@case
def unrecorded_poll_keeps_the_stored_validators():
    """herald keeps each source's stored state in memory. When a poll cannot be written
    (someone else holds the database), the next poll sends the validators the store holds,
    not those of the response it failed to record: else that response's items would be
    answered by a 304 and never seen."""
    import sqlite3
    feeds, hook = FeedServer(), WebhookReceiver()
    current = {"etag": '"v1"', "body": rss(items(1))}
    sent = []

    def feed(req):
        inm = req.headers.get("If-None-Match")
        sent.append(inm)
        if inm == current["etag"]:
            return 304, {"ETag": current["etag"]}, b""
        return 200, {"Content-Type": "application/rss+xml", "ETag": current["etag"]}, \
            current["body"]
    try:
        feeds.routes["/feed.xml"] = feed
        feeds.route("/other.xml", rss([]))
        with TempDir() as d:
            cfg, state, h = start_daemon(d, feeds, hook)
            try:
                # Someone else holds the database: this poll's writes all fail.
                db = sqlite3.connect(os.path.join(state, "herald.db"), timeout=1,
                                     isolation_level=None)
                db.execute("BEGIN EXCLUSIVE")
                try:
                    current.update(etag='"v2"', body=rss(items(2)))
                    ctl_json(d, "fetch-now", "news")
                    # the batch, the items and the source row each wait 5 s, then give up
                    check(wait_until(lambda: "save source: database is locked" in h.output(),
                                     timeout=30 * slow_factor()), h.output())
                finally:
                    db.execute("ROLLBACK")
                    db.close()
                check_in("could not store the items", h.output())
                n = len(sent)
                ctl_json(d, "fetch-now", "news")
                check(wait_until(lambda: len(hook.accepted()) == 4, timeout=10), h.output())
                check_eq(sent[n], '"v1"', "the validator the store holds")
                titles = sorted(json.loads(a["body"])["article"]["title"]
                                for a in hook.accepted()[2:])
                check_eq(titles, ["Iraq troops item 1", "Iraq troops item 1"],
                         "the item of the unrecorded poll fired both rules")
            finally:
                check_eq(h.stop(), 0, "exit status")
    finally:
        feeds.stop()
        hook.stop()


if __name__ == "__main__":
    main()
