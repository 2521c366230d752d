#!/usr/bin/env python3
"""The exec notifier end to end: the real `herald fetch --once` runs a small Python script
written by the test, with argv built from the config's `command` list. The script records its
argv and stdin in a file, so the test sees exactly what arrived: one argument per list element,
a title full of shell metacharacters untouched, and the alert JSON on stdin. Then the result
mapping with real processes: a script that sleeps past a 1 s timeout is killed and retried (and
delivered once fixed), exit 75 is retried, exit 3 leaves the alert 'dead' in the outbox."""
import json
import os
import sqlite3
import time

from harness import FeedServer, TempDir, case, check, check_eq, check_in, main, rss, run

SYS_PY = "/usr/bin/python3"
TITLE = "Troops \"leave\" Iraq; it's $(rm -rf /) `id` && echo * > /tmp/x | $HOME"
LINK = "http://news.test/iraq-1?a=1&b=2"
ITEMS = [{"guid": "urn:exec:1", "title": TITLE, "link": LINK,
          "description": "Lawmakers voted for the removal of all US troops from Iraq."}]

# The script appends one JSON line per run: its argv and its stdin. Its behaviour after that
# comes from a file next to it ("ok", "sleep", "tempfail", "fail"), so a test can change it
# between runs without touching the config.
SCRIPT = r"""
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
data = sys.stdin.read()
with open(os.path.join(here, "runs.jsonl"), "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "stdin": data}) + "\n")
mode = open(os.path.join(here, "mode")).read().strip()
if mode == "sleep":
    time.sleep(30)
elif mode == "tempfail":
    print("queue full, later")
    sys.exit(75)
elif mode == "fail":
    print("bad recipient: nobody")
    sys.exit(3)
"""


def setup(d, feed_url, mode, timeout="10s"):
    script = d.file("hook/script.py", SCRIPT)
    d.file("hook/mode", mode)
    return d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "hook" { type = "exec", retry_min = "1s", timeout = "%s",
    command = { "%s", "%s", "{{rule}}", "{{title}}", "link={{link}}", "", "{{source}} x" } }
herald.rule "iraq" { query = 'troop* AND Iraq', notify = "hook" }
""" % (feed_url, timeout, SYS_PY, script))


def set_mode(d, mode):
    d.file("hook/mode", mode)


def runs(d):
    try:
        with open(os.path.join(d.path, "hook", "runs.jsonl")) as f:
            return [json.loads(l) for l in f]
    except FileNotFoundError:
        return []


def fetch_once(cfg, state):
    r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60)
    check_eq(r.returncode, 0, "fetch --once status; stderr:\n" + r.stderr)
    return r


def outbox(state):
    con = sqlite3.connect(os.path.join(state, "herald.db"))
    try:
        return [tuple(row) for row in con.execute(
            "SELECT state, attempts, last_error FROM outbox WHERE notifier = 'hook' ORDER BY id")]
    finally:
        con.close()


def with_feed(fn):
    def wrapped():
        if not os.access(SYS_PY, os.X_OK):
            return "SKIP no /usr/bin/python3"
        feeds = FeedServer()
        try:
            feeds.route("/feed.xml", rss(ITEMS))
            with TempDir() as d:
                return fn(d, feeds.url("/feed.xml"), os.path.join(d.path, "state"))
        finally:
            feeds.stop()
    wrapped.__name__ = fn.__name__
    return wrapped


@case
@with_feed
def exec_argv_verbatim_and_json_on_stdin(d, feed_url, state):
    cfg = setup(d, feed_url, "ok")
    fetch_once(cfg, state)
    got = runs(d)
    check_eq(len(got), 1, "the script ran once")
    check_eq(got[0]["argv"], ["iraq", TITLE, "link=" + LINK, "", "news x"],
             "argv: one argument per list element, nothing expanded by a shell")
    alert = json.loads(got[0]["stdin"])
    check_eq(alert["rule"], "iraq", "stdin JSON rule")
    check_eq(alert["notifier"], "hook", "stdin JSON notifier")
    check_eq(alert["article"]["title"], TITLE, "stdin JSON title")
    check_eq(alert["article"]["link"], LINK, "stdin JSON link")
    check(alert["evidence"], "stdin JSON has evidence")
    check_eq(outbox(state)[0][0], "delivered", "outbox state")
    fetch_once(cfg, state)
    check_eq(len(runs(d)), 1, "a second run does not run the script again")


@case
@with_feed
def exec_timeout_kills_and_retries(d, feed_url, state):
    cfg = setup(d, feed_url, "sleep", timeout="1s")
    t0 = time.time()
    r = fetch_once(cfg, state)
    check(time.time() - t0 < 20, "the sleeping script was killed, not waited for")
    check_in("timed out after 1 s", r.stderr, "the log says it timed out")
    rows = outbox(state)
    check_eq(rows[0][0], "pending", "kept for a retry")
    check_in("timed out", rows[0][2], "last_error")
    # Fixed, and given a timeout that a loaded machine (or valgrind) cannot miss: the
    # retry is due 1 s ± 20% after the failure, stored rounded up to the second.
    cfg = setup(d, feed_url, "ok")
    time.sleep(2.3)
    fetch_once(cfg, state)
    check_eq(outbox(state)[0][0], "delivered", "delivered once the script is fixed")
    check_eq(len(runs(d)), 2, "two runs: the killed one and the good one")
    time.sleep(1.2)
    fetch_once(cfg, state)
    check_eq(len(runs(d)), 2, "delivered exactly once")


@case
@with_feed
def exec_exit_75_retries(d, feed_url, state):
    cfg = setup(d, feed_url, "tempfail")
    r = fetch_once(cfg, state)
    check_in("exited with 75", r.stderr, "the exit status is in the log")
    check_in("queue full, later", r.stderr, "the program's output is in the log")
    check_eq(outbox(state)[0][0], "pending", "kept for a retry")
    time.sleep(1.2)
    fetch_once(cfg, state)
    check_eq(len(runs(d)), 2, "retried on the next run")
    check_eq(outbox(state)[0][0], "pending", "still pending while it says 75")


@case
@with_feed
def exec_exit_3_is_dead(d, feed_url, state):
    cfg = setup(d, feed_url, "fail")
    fetch_once(cfg, state)
    rows = outbox(state)
    check_eq(rows[0][0], "dead", "a permanent failure is kept as dead")
    check_in("exited with 3", rows[0][2], "last_error has the exit status")
    check_in("bad recipient: nobody", rows[0][2], "last_error has the program's output")
    time.sleep(1.2)
    fetch_once(cfg, state)
    check_eq(len(runs(d)), 1, "a dead alert is not run again")


@case
def exec_check_reports_missing_program():
    with TempDir() as d:
        cfg = d.file("herald.lua", """
herald.notifier "hook" { type = "exec", command = { "no-such-program-herald", "{{title}}" } }
""")
        r = run(["check", "-c", cfg])
        check(r.returncode != 0, "check fails")
        check_in("exec: command 'no-such-program-herald' not found", r.stderr, "check error")
        cfg = d.file("herald.lua", """
herald.notifier "hook" { type = "exec", command = "/bin/echo {{title}}" }
""")
        r = run(["check", "-c", cfg])
        check(r.returncode != 0, "a string command fails")
        check_in("must be a list of strings", r.stderr, "check error for a string command")
        check_in("herald.lua:2", r.stderr, "the error names the config line")


if __name__ == "__main__":
    main()
