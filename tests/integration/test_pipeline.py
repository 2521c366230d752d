#!/usr/bin/env python3
"""The whole pipeline against real local peers: a feed served over HTTP on 127.0.0.1,
rules, the store, and a webhook receiver. `herald fetch --once` twice must deliver each
alert exactly once; a receiver that is down at first still gets the alert later; a
receiver answering 500 is retried; the idempotency key is stable."""
import json
import os
import socket

from harness import (FeedServer, TempDir, WebhookReceiver, case, check, check_eq, check_in,
                     free_port, main, rss, run)

ITEMS = [
    {"guid": "urn:test:1", "title": "Parliament votes to remove US troops from Iraq",
     "link": "http://news.test/iraq-1",
     "description": "The motion calls for the removal of all US troops from Iraq."},
    {"guid": "urn:test:2", "title": "Local bakery wins national prize",
     "link": "http://news.test/bakery",
     "description": "A family bakery took the top award for its sourdough."},
    {"guid": "urn:test:3", "title": "Coalition to pull out of bases in Iraq",
     "link": "http://news.test/iraq-2",
     "description": "Officials said troops would leave within weeks, ending a long presence."},
]


def config(d, feed_url, hook_url, extra=""):
    return d.file("herald.lua", """
herald.concept "leaving" { "leave", "withdraw*", "pull out", "removal", "remove" }
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "hook" { type = "webhook", url = "%s", retry_min = "1s" }
herald.rule "iraq-troops" { query = '(troop* NEAR/8 @leaving) AND Iraq', notify = "hook" }
%s
""" % (feed_url, hook_url, extra))


def fetch_once(cfg, state, extra_args=()):
    r = run(["fetch", "--once", "-c", cfg, "--state", state] + list(extra_args), timeout=60)
    check_eq(r.returncode, 0, "fetch --once status; stderr:\n" + r.stderr)
    return r


@case
def fetch_once_twice_delivers_each_alert_exactly_once():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"), hook.url())
            state = os.path.join(d.path, "state")
            fetch_once(cfg, state)
            fetch_once(cfg, state)
            got = hook.accepted_json()
            check_eq(len(got), 2, "alerts received over two runs")
            by_link = {a["article"]["link"]: a for a in got}
            check_eq(sorted(by_link), ["http://news.test/iraq-1", "http://news.test/iraq-2"],
                     "alerted articles")
            a = by_link["http://news.test/iraq-1"]
            check_eq(a["article"]["title"], ITEMS[0]["title"], "title in the JSON body")
            check_eq(a["rule"], "iraq-troops", "rule")
            check_eq(a["notifier"], "hook", "notifier")
            check(len(a["evidence"]) >= 2, "evidence carried: %r" % a["evidence"])
            keys = [r["headers"].get("Idempotency-Key") for r in hook.accepted()]
            check(all(keys) and len(set(keys)) == 2, "idempotency keys: %r" % keys)
            check_eq({a["id"] for a in got}, set(keys), "the key is the alert id")
            check_in("application/json", hook.accepted()[0]["headers"].get("Content-Type", ""))
            # A new item appears: only it alerts on the next run.
            feeds.route("/feed.xml", rss(ITEMS + [{
                "guid": "urn:test:4", "title": "Troops begin withdrawal from Iraq",
                "link": "http://news.test/iraq-3",
                "description": "The first units will withdraw from Iraq on Monday."}]))
            fetch_once(cfg, state)
            got = hook.accepted_json()
            check_eq(len(got), 3, "one more alert for the new item")
            check_eq(got[-1]["article"]["link"], "http://news.test/iraq-3", "the new item")
    finally:
        feeds.stop()
        hook.stop()


@case
def alert_survives_a_receiver_that_is_down():
    feeds = FeedServer()
    port = free_port()
    hook = None
    try:
        feeds.route("/feed.xml", rss(ITEMS[:1]))
        with TempDir() as d:
            url = "http://127.0.0.1:%d/alerts" % port
            cfg = config(d, feeds.url("/feed.xml"), url)
            state = os.path.join(d.path, "state")
            r = fetch_once(cfg, state)
            check_in("retry", r.stderr, "the failed delivery is logged for a retry")
            check_in("1 to retry", r.stderr, "summary counts it")
            hook = WebhookReceiver(port=port)
            r = fetch_once(cfg, state)
            got = hook.accepted_json()
            check_eq(len(got), 1, "the queued alert arrives once the receiver is up")
            check_eq(got[0]["article"]["link"], "http://news.test/iraq-1")
            fetch_once(cfg, state)
            check_eq(len(hook.accepted_json()), 1, "and never again")
    finally:
        feeds.stop()
        if hook:
            hook.stop()


@case
def server_errors_are_retried_with_the_same_key():
    feeds, hook = FeedServer(), WebhookReceiver()
    answers = [500, 503, 200]
    hook.status = lambda req: answers.pop(0) if answers else 200
    try:
        feeds.route("/feed.xml", rss(ITEMS[:1]))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"), hook.url())
            state = os.path.join(d.path, "state")
            for _ in range(3):
                fetch_once(cfg, state)
            check_eq([r["status"] for r in hook.received], [500, 503, 200], "attempts")
            keys = {r["headers"]["Idempotency-Key"] for r in hook.received}
            check_eq(len(keys), 1, "one alert, one key across attempts")
            fetch_once(cfg, state)
            check_eq(len(hook.received), 3, "nothing after the success")
    finally:
        feeds.stop()
        hook.stop()


@case
def a_broken_source_does_not_stop_the_others():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        feeds.route("/broken.xml", "<html><body>Service unavailable</body>", status=500)
        feeds.route("/garbage.xml", "\x89PNG\r\n\x1a\n not xml at all",
                    headers={"Content-Type": "image/png"})
        with TempDir() as d:
            extra = """
herald.source "broken" { url = "%s" }
herald.source "garbage" { url = "%s" }
herald.source "refused" { url = "http://127.0.0.1:%d/feed.xml" }
""" % (feeds.url("/broken.xml"), feeds.url("/garbage.xml"), free_port())
            cfg = config(d, feeds.url("/feed.xml"), hook.url(), extra)
            r = fetch_once(cfg, os.path.join(d.path, "state"))
            check_in("source broken: %s: HTTP 500" % feeds.url("/broken.xml"), r.stderr)
            check_in("source garbage: %s: not a feed" % feeds.url("/garbage.xml"), r.stderr)
            check_in("source refused: http://127.0.0.1:", r.stderr)
            check_eq(len(hook.accepted_json()), 2, "the good source's alerts still arrive")
    finally:
        feeds.stop()
        hook.stop()


@case
def conditional_get_uses_the_stored_etag():
    feeds, hook = FeedServer(), WebhookReceiver()
    body = rss(ITEMS)
    seen = []

    def handler(req):
        seen.append(req.headers.get("If-None-Match"))
        if req.headers.get("If-None-Match") == '"v1"':
            req.send_response(304)
            req.send_header("ETag", '"v1"')
            req.send_header("Content-Length", "0")
            req.end_headers()
            return None
        return 200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, body

    feeds.routes["/feed.xml"] = handler
    try:
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"), hook.url())
            state = os.path.join(d.path, "state")
            fetch_once(cfg, state)
            r = fetch_once(cfg, state, ["-v"])
            check_eq(seen, [None, '"v1"'], "If-None-Match on the second poll")
            check_in("1 not modified", r.stderr)
            check_eq(len(hook.accepted_json()), 2, "no new alerts from a 304")
    finally:
        feeds.stop()
        hook.stop()


if __name__ == "__main__":
    main()
