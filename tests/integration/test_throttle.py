#!/usr/bin/env python3
"""Throttle, digest and quiet hours end to end, with a controllable clock: each step is one
real `herald fetch --once` run with HERALD_FAKE_NOW set to the moment the test wants (the
cron way of running herald, and the same code paths as the daemon), so a 30-minute window
takes no real time. A webhook receiver on 127.0.0.1 (generic JSON) records every message
with its Idempotency-Key; the store is read back for the held/folded states. One last case
runs the daemon with a 2-second digest window to show its timer releases a batch on its own."""
import json
import os
import sqlite3

from harness import (Daemon, FeedServer, TempDir, WebhookReceiver, case, check, check_eq,
                     check_in, main, rss, run, wait_until)

T0 = 1768046400  # 2026-01-10 12:00:00 UTC
MIN = 60


def item(i, text="US troops are to leave Iraq, the parliament said."):
    return {"guid": "urn:t:%d" % i, "title": "Iraq story %d" % i, "link": "http://news.test/%d" % i,
            "description": text, "date": "Sat, 10 Jan 2026 1%d:00:00 GMT" % (i % 10)}


class World:
    """A feed server, a webhook receiver and a temp dir for one test."""

    def __enter__(self):
        self.feeds = FeedServer()
        self.hook = WebhookReceiver()
        self.tmp = TempDir()
        self.d = self.tmp.__enter__()
        self.state = os.path.join(self.d.path, "state")
        return self

    def __exit__(self, *a):
        self.feeds.stop()
        self.hook.stop()
        self.tmp.__exit__(*a)

    def items(self, items):
        self.feeds.route("/feed.xml", rss(items))

    def config(self, body):
        self.cfg = self.d.file("herald.lua", ('herald.source "news" { url = "%s" }\n'
                                              % self.feeds.url("/feed.xml")) + body)
        return self.cfg

    def at(self, t, tz="UTC"):
        """One `fetch --once` run at fake time t."""
        r = run(["fetch", "--once", "-c", self.cfg, "--state", self.state], timeout=60,
                env={"HERALD_FAKE_NOW": str(t), "TZ": tz})
        check_eq(r.returncode, 0, "fetch --once at %d; stderr:\n%s" % (t, r.stderr))
        return r

    def messages(self, path="/alerts"):
        return [(json.loads(r["body"]), r["headers"].get("Idempotency-Key"))
                for r in self.hook.accepted() if r["path"] == path]

    def held_states(self):
        con = sqlite3.connect(os.path.join(self.state, "herald.db"))
        try:
            return [tuple(r) for r in con.execute(
                "SELECT a.article_title, h.sent_as IS NULL FROM held AS h JOIN"
                " (SELECT id, title AS article_title FROM alerts) AS a ON a.id = h.alert_id"
                " ORDER BY h.id")]
        finally:
            con.close()


def titles(doc):
    return [a["article"]["title"] for a in doc["digest"]["alerts"]]


@case
def rule_throttle_sends_one_then_folds_the_rest():
    with World() as w:
        w.items([item(1), item(2), item(3)])
        w.config('herald.notifier "hook" { type = "webhook", url = "%s", retry_min = "1s" }\n'
                 'herald.rule "iraq" { query = "troop* AND Iraq", notify = "hook",'
                 ' throttle = "30m" }\n' % w.hook.url())
        r = w.at(T0)
        got = w.messages()
        check_eq(len(got), 1, "the first alert goes at once, the others wait")
        check_eq(got[0][0]["article"]["title"], "Iraq story 1", "the oldest goes first")
        check_eq(got[0][1], got[0][0]["id"], "Idempotency-Key is the alert id")
        check_in("held for 30m (throttled)", r.stderr, "the log says why")
        check_in("2 held", r.stderr, "the summary counts what waits")
        check_eq(w.held_states(), [("Iraq story 2", 1), ("Iraq story 3", 1)], "two held")
        # No daemon runs: `herald history` reads the store itself.
        h = run(["history", "--state", w.state, "--socket", os.path.join(w.d.path, "no.sock"),
                 "--json"], env={"TZ": "UTC"})
        check_eq(h.returncode, 0, "history without a daemon; stderr:\n" + h.stderr)
        states = [(a["title"], a["state"], a["last_error"]) for a in json.loads(h.stdout)["alerts"]]
        check_eq(states, [("Iraq story 3", "held", "held until 2026-01-10 12:30:00"),
                          ("Iraq story 2", "held", "held until 2026-01-10 12:30:00"),
                          ("Iraq story 1", "delivered", None)], "history states")

        w.items([item(1), item(2), item(3), item(4)])
        w.at(T0 + 10 * MIN)  # inside the window: a new alert joins, nothing is sent
        check_eq(len(w.messages()), 1, "nothing more within the window")

        w.at(T0 + 30 * MIN)
        got = w.messages()
        check_eq(len(got), 2, "the window's end sends one message")
        doc, key = got[1]
        check_eq(doc["digest"]["count"], 3, "folded: 3 alerts")
        check_eq(titles(doc), ["Iraq story 2", "Iraq story 3", "Iraq story 4"], "in order")
        check_eq(doc["rule"], "iraq", "the digest names the rule")
        check_eq(doc["article"]["title"], "3 new articles for iraq", "digest title")
        check_in("Iraq story 3 (news)", doc["article"]["text"], "digest text lists members")
        check_eq(key, doc["id"], "the digest has its own idempotency key")
        check(doc["id"] not in [a["id"] for a in doc["digest"]["alerts"]], "a new id")
        check_eq([s for _, s in w.held_states()], [0, 0, 0], "all three released")

        w.items([item(i) for i in range(1, 6)])
        w.at(T0 + 40 * MIN)  # 10 min after the digest went out: held again
        check_eq(len(w.messages()), 2, "throttled after the digest too")
        w.at(T0 + 60 * MIN)
        got = w.messages()
        check_eq(len(got), 3, "released at the next window's end")
        check_eq(got[2][0]["article"]["title"], "Iraq story 5",
                 "one held alert goes out as itself, not as a digest of one")
        check("digest" not in got[2][0], "no digest key on a single alert")
        w.at(T0 + 61 * MIN)
        check_eq(len(w.messages()), 3, "nothing is ever sent twice")


@case
def notifier_digest_collects_every_rule_and_others_are_not_held():
    with World() as w:
        w.items([item(1), item(2, "General Solemani was killed in a strike.")])
        w.config('herald.notifier "hook" { type = "webhook", url = "%s", digest = "1h" }\n'
                 'herald.notifier "now" { type = "webhook", url = "%s" }\n'
                 'herald.rule "iraq" { query = "troop* AND Iraq" }\n'
                 'herald.rule "general" { query = "Soleimani~1" }\n'
                 % (w.hook.url(), w.hook.url("/now")))
        w.at(T0)
        check_eq(len(w.messages("/now")), 2, "the notifier without a digest gets both now")
        check_eq(len(w.messages()), 0, "the digest notifier waits")
        w.at(T0 + 59 * MIN)
        check_eq(len(w.messages()), 0, "still inside the hour")
        w.at(T0 + 60 * MIN)
        got = w.messages()
        check_eq(len(got), 1, "one digest for the hour")
        doc = got[0][0]
        check_eq(doc["article"]["title"], "2 new articles from 2 rules", "title")
        check_eq(doc["rule"], "digest", "a digest of several rules")
        check_eq(sorted(a["rule"] for a in doc["digest"]["alerts"]), ["general", "iraq"], "rules")
        check_eq(doc["notifier"], "hook", "notifier filled in")


@case
def quiet_hours_hold_until_morning():
    with World() as w:
        w.items([item(1)])
        w.config('herald.notifier "hook" { type = "webhook", url = "%s", quiet = "22:00-07:00" }\n'
                 'herald.rule "iraq" { query = "troop* AND Iraq", notify = "hook" }\n'
                 % w.hook.url())
        night = T0 + 11 * 3600  # 23:00 UTC
        r = w.at(night)
        check_in("quiet hours", r.stderr, "the log says why it waits")
        check_eq(len(w.messages()), 0, "held at 23:00")
        w.items([item(1), item(2)])
        w.at(night + 7 * 3600 + 59 * MIN)  # 06:59
        check_eq(len(w.messages()), 0, "held at 06:59")
        w.at(night + 8 * 3600)  # 07:00
        got = w.messages()
        check_eq(len(got), 1, "delivered at 07:00 as one digest")
        check_eq(titles(got[0][0]), ["Iraq story 1", "Iraq story 2"], "both, in order")
        # Local time decides: 23:00 UTC is 08:00 in Tokyo, outside quiet hours.
        w.items([item(1), item(2), item(3)])
        w.at(night + 9 * 3600, tz="Asia/Tokyo")
        check_eq(len(w.messages()), 2, "item 3 at 17:00 Tokyo time goes at once")


@case
def rule_quiet_overrides_and_history_shows_held():
    with World() as w:
        w.items([item(1)])
        w.config('herald.notifier "hook" { type = "webhook", url = "%s" }\n'
                 'herald.rule "iraq" { query = "troop* AND Iraq", notify = "hook",'
                 ' quiet = "00:00-23:59" }\n' % w.hook.url())
        w.at(T0)
        check_eq(len(w.messages()), 0, "held by the rule's own quiet hours")
        con = sqlite3.connect(os.path.join(w.state, "herald.db"))
        try:
            rows = con.execute("SELECT batch, release_at FROM held").fetchall()
        finally:
            con.close()
        check_eq(rows, [("rule:iraq", T0 - 12 * 3600 + 86400 - 60)], "held until 23:59, per rule")


@case
def config_errors_name_file_and_line():
    with TempDir() as d:
        cases = [
            ('quiet = "25:00-07:00"', 'quiet must be local times "HH:MM-HH:MM"'),
            ('quiet = 22', "quiet must be a string"),
            ('throttle = "soon"', "'throttle' is not a duration"),
            ('digest = -5', "'digest' must be a positive duration"),
        ]
        for opt, msg in cases:
            cfg = d.file("herald.lua", 'herald.notifier "out" { type = "stdout" }\n\n'
                         'herald.rule "r" { query = "x", %s }\n' % opt)
            r = run(["check", "-c", cfg])
            check_eq(r.returncode, 78, "exit status for " + opt)
            check_in("herald.lua:3: rule 'r': " + msg, r.stderr, opt)
        cfg = d.file("herald.lua", 'herald.notifier "out" { type = "stdout",\n'
                     ' throttle = "1 hour" }\n')
        r = run(["check", "-c", cfg])
        check_eq(r.returncode, 78, "notifier throttle typo")
        check_in("herald.lua:1: notifier 'out': 'throttle' is not a duration", r.stderr, "msg")


@case
def daemon_releases_a_digest_on_its_own():
    with World() as w:
        w.items([item(1), item(2)])
        w.config('herald.notifier "hook" { type = "webhook", url = "%s", digest = "2s" }\n'
                 'herald.rule "iraq" { query = "troop* AND Iraq" }\n' % w.hook.url())
        dm = Daemon(["run", "-c", w.cfg, "--state", w.state, "--socket",
                     os.path.join(w.d.path, "ctl.sock")])
        try:
            check(dm.wait_for("held for 2s"), "held:\n" + dm.output())
            check(wait_until(lambda: len(w.messages()) == 1, timeout=15),
                  "the daemon sent the digest when its window ended:\n" + dm.output())
            check_eq(w.messages()[0][0]["digest"]["count"], 2, "both in one message")
        finally:
            check_eq(dm.stop(), 0, "clean exit")


if __name__ == "__main__":
    main()
