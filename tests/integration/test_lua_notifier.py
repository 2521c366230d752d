#!/usr/bin/env python3
"""Notifier types written in Lua, end to end with the real binary: a type declared with
herald.notifier_type posts JSON built from the alert to a WebhookReceiver on 127.0.0.1 through
herald.http.request (method, headers and body checked here); a 503 is retried (honouring the
Retry-After the send passes on) and then delivered once; a "failed" return leaves the alert
dead in `herald history`; a send that loops forever is stopped, reported with its notifier's
name, and the other notifiers still deliver; config errors read file:line: message with exit
78; and a reload while a Lua delivery waits for its HTTP response keeps the old Lua state
alive until that delivery is recorded, while the next alert goes through the new config."""
import json
import os
import signal
import sqlite3
import threading
import time

from harness import (FIXTURES, Daemon, FeedServer, TempDir, WebhookReceiver, case, check,
                     check_eq, check_in, main, rss, run, wait_until)

TYPES = os.path.join(FIXTURES, "lua_notifier", "types.lua")

ITEMS = [{"guid": "urn:lua:1", "title": "US troops asked to leave Iraq",
          "link": "http://news.test/iraq-1",
          "description": "Lawmakers voted for the removal of all US troops from Iraq."}]


def more_items():
    return ITEMS + [{"guid": "urn:lua:2", "title": "Iraq troops: second report",
                     "link": "http://news.test/iraq-2", "date": "Mon, 06 Jan 2020 10:30:00 GMT",
                     "description": "A second report on US troops leaving Iraq."}]


def config(d, feed_url, notifiers, rule_notify, extra=""):
    """A config that requires the fixture's type module (from the config's own folder)."""
    with open(TYPES) as f:
        d.file("types.lua", f.read())
    return d.file("herald.lua", """require "types"
herald.source "news" { url = "%s", every = "1h" }
%s
herald.rule "iraq" { query = 'troop* AND Iraq', notify = { %s } }
%s""" % (feed_url, notifiers, ", ".join('"%s"' % n for n in rule_notify), extra))


def outbox(state, notifier):
    con = sqlite3.connect(os.path.join(state, "herald.db"))
    try:
        return [tuple(r) for r in con.execute(
            "SELECT state, attempts, last_error FROM outbox WHERE notifier = ? ORDER BY id",
            (notifier,))]
    finally:
        con.close()


def fetch_once(cfg, state):
    r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60)
    check_eq(r.returncode, 0, "fetch --once status; stderr:\n" + r.stderr)
    return r


@case
def posts_json_built_from_the_alert():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"),
                         'herald.notifier "push" { type = "jsonpush", url = "%s", '
                         'token = "s3cret", tags = { "a", "b" } }' % hook.url("/push"),
                         ["push"])
            r = run(["check", "-c", cfg])
            check_eq(r.returncode, 0, "herald check: " + r.stderr)
            check_in(": OK: 1 sources, 1 notifiers, 1 rules", r.stdout)
            state = os.path.join(d.path, "st")
            fetch_once(cfg, state)
            check_eq(len(hook.received), 1, "one request")
            req = hook.received[0]
            check_eq(req["method"], "POST", "method")
            check_eq(req["path"], "/push", "path")
            check_eq(req["headers"].get("Content-Type"), "application/json", "content type")
            check_eq(req["headers"].get("Authorization"), "Bearer s3cret", "token header")
            body = json.loads(req["body"])
            check_eq(body["title"], ITEMS[0]["title"], "title")
            check_eq(body["message"], ITEMS[0]["description"], "text")
            check_eq(body["url"], ITEMS[0]["link"], "link")
            check_eq(body["rule"], "iraq", "rule")
            check_eq(body["notifier"], "push", "notifier")
            check_eq(body["source"], "news", "source")
            check_eq(body["tags"], ["a", "b"], "list option")
            check_eq(body["priority"], 0, "default of an option")
            check_eq(body["attempt"], 1, "first attempt")
            check(body["evidence"] and all(e["text"] for e in body["evidence"]),
                  "evidence with the matched text: %r" % body["evidence"])
            doc = json.loads(body["json"])
            check_eq(doc["id"], body["id"], "alert.json is the alert JSON")
            check_eq(doc["notifier"], "push", "alert.json names the notifier")
            check_eq(outbox(state, "push"), [("delivered", 1, None)], "outbox")
    finally:
        feeds.stop()
        hook.stop()


@case
def a_503_is_retried_then_delivered_once():
    feeds, hook = FeedServer(), WebhookReceiver()
    answers = [503, 200]

    def status(req):
        return answers.pop(0) if answers else 200
    hook.status = status
    hook.extra_headers = {"Retry-After": "1"}
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"),
                         'herald.notifier "push" { type = "jsonpush", url = "%s", '
                         'token = "t", retry_min = "1s", retry_max = "2s" }' % hook.url("/push"),
                         ["push"])
            state = os.path.join(d.path, "st")
            h = Daemon(["run", "-c", cfg, "--state", state],
                       env={"XDG_RUNTIME_DIR": os.path.join(d.path, "run")})
            try:
                check(wait_until(lambda: len(hook.accepted()) == 1, timeout=20), h.output())
                check(wait_until(lambda: outbox(state, "push")[0][0] == "delivered", timeout=10),
                      "recorded as delivered: %r" % outbox(state, "push"))
                time.sleep(0.5)
                check_eq([r["status"] for r in hook.received], [503, 200], "statuses")
                bodies = [json.loads(r["body"]) for r in hook.received]
                check_eq([b.pop("attempt") for b in bodies], [1, 2], "alert.attempt")
                check_eq(bodies[0], bodies[1], "the same alert both times")
                check_eq(outbox(state, "push"), [("delivered", 2, "jsonpush: HTTP 503")],
                         "outbox")
                check_in("notifier push: alert ", h.output())
                check_in("jsonpush: HTTP 503; retry 1 in", h.output())
            finally:
                check_eq(h.stop(), 0, "exit status")
    finally:
        feeds.stop()
        hook.stop()


@case
def a_failed_return_is_dead_in_history():
    feeds, hook = FeedServer(), WebhookReceiver()
    hook.status = 404
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"),
                         'herald.notifier "push" { type = "jsonpush", url = "%s", token = "t" }'
                         % hook.url("/push"), ["push"])
            state = os.path.join(d.path, "st")
            r = fetch_once(cfg, state)
            check_in("jsonpush: HTTP 404; kept as dead", r.stderr)
            h = run(["history", "--json", "--state", state],
                    env={"XDG_RUNTIME_DIR": os.path.join(d.path, "run")})
            check_eq(h.returncode, 0, "history: " + h.stderr)
            alerts = json.loads(h.stdout)["alerts"]
            check_eq([(a["notifier"], a["state"]) for a in alerts], [("push", "dead")], "history")
            check_in("HTTP 404", alerts[0]["last_error"])
            check_eq(len(hook.received), 1, "not retried")
    finally:
        feeds.stop()
        hook.stop()


@case
def a_runaway_send_is_stopped_and_the_others_deliver():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"),
                         'herald.notifier "spin" { type = "spinner" }\n'
                         'herald.notifier "push" { type = "jsonpush", url = "%s", token = "t" }\n'
                         'herald.notifier "hook" { type = "webhook", url = "%s" }'
                         % (hook.url("/push"), hook.url("/hook")),
                         ["spin", "push", "hook"])
            state = os.path.join(d.path, "st")
            t0 = time.monotonic()
            r = fetch_once(cfg, state)
            check(time.monotonic() - t0 < 30, "the loop did not hold herald up")
            check_in("notifier spin: spinner: send stopped: instruction budget exceeded at ",
                     r.stderr)
            check_in("types.lua:", r.stderr)
            check_eq(sorted(x["path"] for x in hook.accepted()), ["/hook", "/push"],
                     "the other notifiers delivered")
            spin = outbox(state, "spin")
            check_eq(len(spin), 1, "one alert for spin")
            check_eq(spin[0][0], "pending", "kept for a retry")
            check_in("instruction budget exceeded", spin[0][2])
    finally:
        feeds.stop()
        hook.stop()


@case
def config_errors_name_file_and_line():
    with TempDir() as d:
        with open(TYPES) as f:
            d.file("types.lua", f.read())
        cases = [
            ('require "types"\nherald.notifier "p" { type = "jsonpus", url = "http://x.test/", '
             'token = "t" }\n', 2, "notifier 'p': unknown type 'jsonpus' (available: "),
            ('require "types"\n\nherald.notifier "p" { type = "jsonpush", url = "http://x.test/" '
             '}\n', 3, "notifier 'p': 'token' is required"),
            ('require "types"\nherald.notifier "p" { type = "jsonpush", url = "http://x.test/", '
             'token = "t", priority = "high" }\n', 2,
             "notifier 'p': 'priority' must be an integer, got a string"),
            ('herald.notifier_type "webhook" { send = function() end }\n', 1,
             "notifier type 'webhook' clashes with the built-in plugin"),
            ('\nherald.notifier_type "x" { send = "post it" }\n', 2,
             "notifier type 'x': send must be a function(alert, opts)"),
            ('herald.notifier_type "x" { send = function() end,\n'
             '  options = { n = "int" } }\n', 1,
             "notifier type 'x': option 'n': unknown type"),
        ]
        for body, line, words in cases:
            cfg = d.file("herald.lua", body)
            r = run(["check", "-c", cfg])
            check_eq(r.returncode, 78, "exit status for %r: %s" % (words, r.stderr))
            check_in("%s:%d: %s" % (cfg, line, words), r.stderr, "error for line %d" % line)


@case
def reload_while_a_request_is_in_flight():
    """The first alert's POST hangs in the receiver; a reload replaces the config (and its Lua
    state) meanwhile. The old state must stay until that delivery completes and is recorded;
    the second alert then goes out through the new config (its header says v2)."""
    feeds, hook = FeedServer(), WebhookReceiver()
    arrived, release = threading.Event(), threading.Event()

    def status(req):
        if req.headers.get("X-Version") == "v1":
            arrived.set()
            release.wait(20)
        return 200
    hook.status = status
    try:
        feeds.route("/feed.xml", rss(more_items()))
        with TempDir() as d:
            notif = ('herald.notifier "push" { type = "jsonpush", url = "%s", token = "t", '
                     'version = "%%s", timeout = "30s" }' % hook.url("/push"))
            cfg = config(d, feeds.url("/feed.xml"), notif % "v1", ["push"])
            state = os.path.join(d.path, "st")
            h = Daemon(["run", "-c", cfg, "--state", state],
                       env={"XDG_RUNTIME_DIR": os.path.join(d.path, "run")})
            try:
                check(arrived.wait(15), "the first POST arrived:\n" + h.output())
                config(d, feeds.url("/feed.xml"), notif % "v2", ["push"],
                       extra='herald.rule "other" { query = "nothing-matches-this" }\n')
                h.send(signal.SIGHUP)
                check(h.wait_for("reloaded", timeout=10), h.output())
                check_in("2 rules", h.output())
                time.sleep(0.3)
                check_eq(outbox(state, "push")[0][0], "pending", "the first is still in flight")
                release.set()
                check(wait_until(lambda: [r[0] for r in outbox(state, "push")] ==
                                 ["delivered", "delivered"], timeout=15),
                      "both delivered: %r\n%s" % (outbox(state, "push"), h.output()))
                versions = [r["headers"].get("X-Version") for r in hook.received]
                check_eq(versions, ["v1", "v2"], "old state for the first, new for the second")
                titles = [json.loads(r["body"])["title"] for r in hook.received]
                check_eq(sorted(titles), sorted(i["title"] for i in more_items()), "each once")
                check_eq([r[1] for r in outbox(state, "push")], [1, 1], "one attempt each")
            finally:
                release.set()
                check_eq(h.stop(), 0, "exit status (non-zero under ASan on a memory error)")
            out = h.output()
            check("ERROR: AddressSanitizer" not in out and "runtime error" not in out, out)
    finally:
        release.set()
        feeds.stop()
        hook.stop()


@case
def plugins_lists_the_lua_types_of_a_config():
    r = run(["plugins", "-c", TYPES])
    check_eq(r.returncode, 0, "status; stderr:\n" + r.stderr)
    check_in("jsonpush (Lua) — post the alert as JSON (test fixture)", r.stdout, "the type")
    check_in("    token        string    (required)", r.stdout, "its options")
    check_in("stdout — ", r.stdout, "the C plugins are still listed")
    with TempDir() as d:
        bad = d.file("bad.lua", 'herald.notifier_type "x" { send = 1 }\n')
        r = run(["plugins", "-c", bad])
        check_eq(r.returncode, 78, "a config with errors")
        check_in("bad.lua:1:", r.stderr, "reported with file:line")


if __name__ == "__main__":
    main()
