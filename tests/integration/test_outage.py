#!/usr/bin/env python3
"""A webhook endpoint that is down, then answers 500s, then 429 with Retry-After, then
recovers — with herald restarted in the middle. In the end every alert is delivered, in
queue order, and the receiver, de-duplicating by Idempotency-Key, has each exactly once."""
import json
import os
import signal
import sqlite3
import time

from harness import (Daemon, FeedServer, TempDir, WebhookReceiver, case, check, check_eq,
                     check_in, free_port, main, rss, slow_factor, wait_until)

N = 6


def items():
    return [{"guid": "urn:o:%d" % i, "title": "Troops leave Iraq, part %d" % i,
             "link": "http://news.test/o/%d" % i,
             "date": "Mon, 06 Jan 2020 09:%02d:00 GMT" % i,
             "description": "US troops will leave Iraq, report %d says." % i} for i in range(N)]


@case
def down_then_500_then_429_then_up_with_a_restart():
    feeds = FeedServer()
    port = free_port()
    hook = None
    try:
        feeds.route("/feed.xml", rss(items()))
        with TempDir() as d:
            state = os.path.join(d.path, "st")
            cfg = d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "hook" { type = "webhook", url = "http://127.0.0.1:%d/alerts",
                         retry_min = "1s", retry_max = "2s" }
herald.rule "iraq" { query = 'troops AND Iraq' }
""" % (feeds.url("/feed.xml"), port))
            env = {"XDG_RUNTIME_DIR": os.path.join(d.path, "run")}
            h = Daemon(["run", "-c", cfg, "--state", state], env=env)
            # Down: connection refused, retried with back-off.
            check(h.wait_for("retry 2 in", timeout=15), "retries while down:\n" + h.output())
            # Restart herald while the alerts are queued: the outbox survives.
            check_eq(h.stop(signal.SIGTERM), 0, "first herald's exit status")
            answers = [500, 500, 503, 429]
            hook = WebhookReceiver(port=port)
            hook.extra_headers = {}

            def status(req):
                if answers:
                    code = answers.pop(0)
                    hook.extra_headers = {"Retry-After": "2"} if code == 429 else {}
                    return code
                hook.extra_headers = {}
                return 200
            hook.status = status
            h = Daemon(["run", "-c", cfg, "--state", state], env=env)
            try:
                ok = wait_until(lambda: len({r["headers"].get("Idempotency-Key")
                                             for r in hook.accepted()}) == N, timeout=60)
                check(ok, "every alert delivered:\n" + h.output())
                check_in("HTTP 429", h.output())
            finally:
                check_eq(h.stop(), 0, "second herald's exit status")
            codes = [r["status"] for r in hook.received]
            check_eq(codes[:4], [500, 500, 503, 429], "the receiver's answers")
            # 429 said "Retry-After: 2": the next attempt waited at least that long.
            gap = hook.received[4]["time"] - hook.received[3]["time"]
            check(gap >= 1.9, "retry %.2f s after the 429 with Retry-After: 2" % gap)
            keys = [r["headers"]["Idempotency-Key"] for r in hook.accepted()]
            check_eq(len(keys), N, "each alert accepted exactly once")
            con = sqlite3.connect(os.path.join(state, "herald.db"))
            queued = [row[0] for row in con.execute(
                "SELECT alert_id FROM outbox WHERE notifier = 'hook' ORDER BY id")]
            states = {row[0] for row in con.execute("SELECT state FROM outbox")}
            con.close()
            check_eq(keys, queued, "delivered in queue order")
            check_eq(states, {"delivered"}, "nothing left pending or dead")
            titles = [json.loads(r["body"])["article"]["title"] for r in hook.accepted()]
            check_eq(titles, ["Troops leave Iraq, part %d" % i for i in range(N)],
                     "publication order")
    finally:
        feeds.stop()
        if hook:
            hook.stop()


if __name__ == "__main__":
    main()
