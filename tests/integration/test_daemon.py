#!/usr/bin/env python3
"""`herald run` as a daemon: the bundled default config alerts on the seed article within
seconds and writes it to the JSON Lines file; new items appearing while it runs alert;
SIGHUP reloads (and a broken config on reload leaves the running one in place); a rule
that loops forever is stopped and named while the other rules keep firing; SIGINT and
SIGTERM stop it cleanly with status 0."""
import json
import os
import signal
import time

from harness import (ROOT, Daemon, FeedServer, TempDir, WebhookReceiver, case, check, check_eq,
                     check_in, main, rss, wait_until)

DEFAULT = os.path.join(ROOT, "scripts", "herald.lua")


@case
def default_config_alerts_on_the_seed_and_stops_on_ctrl_c():
    with TempDir() as d:
        state = os.path.join(d.path, "state")
        h = Daemon(["run", "-c", DEFAULT, "--state", state])
        try:
            check(h.wait_for("ALERT iraq-withdrawal", timeout=10),
                  "no alert printed:\n" + h.output())
            check(h.wait_for("ALERT soleimani", timeout=5), "soleimani alert")
            path = os.path.join(state, "alerts.jsonl")
            check(wait_until(lambda: os.path.exists(path) and
                             len(open(path).read().splitlines()) == 2, timeout=5),
                  "alerts.jsonl should hold two alerts")
            alerts = [json.loads(line) for line in open(path)]
            check_eq(sorted(a["rule"] for a in alerts), ["iraq-withdrawal", "soleimani"])
            check_in("removal of all US troops", alerts[0]["article"]["text"])
        finally:
            rc = h.stop(signal.SIGINT)
        check_eq(rc, 0, "exit status after Ctrl-C; output:\n" + h.output())
        check_in("stopping", h.output())


def feed_items(n):
    return [{"guid": "urn:item:%d" % i, "title": "Iraq troops item %d" % i,
             "link": "http://news.test/%d" % i,
             "description": "US troops will leave Iraq, report %d says." % i} for i in range(n)]


@case
def new_items_alert_while_running_and_sighup_reloads():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(feed_items(1)))
        with TempDir() as d:
            base = """
herald.source "news" { url = "%s", every = "1s" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "iraq" { query = 'troops AND Iraq' }
""" % (feeds.url("/feed.xml"), hook.url())
            cfg = d.file("herald.lua", base)
            h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")])
            try:
                check(wait_until(lambda: len(hook.accepted()) == 1, timeout=10),
                      "first alert:\n" + h.output())
                feeds.route("/feed.xml", rss(feed_items(2)))
                check(wait_until(lambda: len(hook.accepted()) == 2, timeout=10),
                      "alert for the item added while running:\n" + h.output())
                # Reload with a second rule: the next new item fires both.
                d.file("herald.lua", base + "herald.rule \"leave\" { query = 'leave' }\n")
                h.send(signal.SIGHUP)
                check(h.wait_for("reloaded", timeout=10), "reload logged:\n" + h.output())
                feeds.route("/feed.xml", rss(feed_items(3)))
                check(wait_until(lambda: len(hook.accepted()) == 4, timeout=10),
                      "two rules fire on the third item:\n" + h.output())
                rules = sorted(json.loads(r["body"])["rule"] for r in hook.accepted()[2:])
                check_eq(rules, ["iraq", "leave"], "rules after reload")
                # A broken config on reload: logged, the running rules stay.
                d.file("herald.lua", base + "herald.rule \"bad\" { query = '(troops' }\n")
                h.send(signal.SIGHUP)
                check(h.wait_for("reload failed, the running config stays", timeout=10),
                      "failed reload logged:\n" + h.output())
                check_in("herald.lua:5: rule 'bad': query:", h.output())
                feeds.route("/feed.xml", rss(feed_items(4)))
                check(wait_until(lambda: len(hook.accepted()) == 6, timeout=10),
                      "the old rule set still runs:\n" + h.output())
            finally:
                rc = h.stop(signal.SIGTERM)
            check_eq(rc, 0, "exit status after SIGTERM")
            ids = [json.loads(r["body"])["id"] for r in hook.accepted()]
            check_eq(len(ids), len(set(ids)), "no alert delivered twice")
    finally:
        feeds.stop()
        hook.stop()


@case
def saving_the_config_reloads_it():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(feed_items(1)))
        with TempDir() as d:
            base = """
herald.source "news" { url = "%s", every = "1s" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "iraq" { query = 'troops AND Iraq' }
""" % (feeds.url("/feed.xml"), hook.url())
            cfg = d.file("herald.lua", base)
            h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")])
            try:
                check(wait_until(lambda: len(hook.accepted()) == 1, timeout=10), h.output())
                # Saved the way editors do: a new file renamed over the old one.
                tmp = d.file("herald.lua.tmp", base + "herald.rule \"leave\" { query = 'leave' }\n")
                os.rename(tmp, cfg)
                check(h.wait_for("config changed on disk: reloading", timeout=10), h.output())
                check(h.wait_for("reloaded", timeout=10), h.output())
                feeds.route("/feed.xml", rss(feed_items(2)))
                check(wait_until(lambda: len(hook.accepted()) == 3, timeout=10),
                      "both rules fire on the new item:\n" + h.output())
            finally:
                check_eq(h.stop(), 0, "exit status")
    finally:
        feeds.stop()
        hook.stop()


@case
def saving_a_required_rule_pack_reloads_too():
    with TempDir() as d:
        d.file("packs/extra.lua", "herald.rule \"one\" { query = 'troops' }\n")
        cfg = d.file("herald.lua", "require 'packs.extra'\n"
                     "herald.notifier \"out\" { type = \"stdout\" }\n")
        h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")])
        try:
            check(h.wait_for("0 sources, 1 rules"), h.output())
            tmp = d.file("packs/extra.lua.tmp", "herald.rule \"one\" { query = 'troops' }\n"
                         "herald.rule \"two\" { query = 'Iraq' }\n")
            os.rename(tmp, os.path.join(d.path, "packs", "extra.lua"))
            check(h.wait_for("reloaded %s: 0 sources, 2 rules" % cfg, timeout=10), h.output())
        finally:
            check_eq(h.stop(), 0, "exit status")


class NotifySocket:
    """A local datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path):
        import socket
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []

    def drain(self):
        import socket
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return

    def wait_for(self, text, timeout=10):
        return wait_until(lambda: self.drain() or any(text in m for m in self.messages),
                          timeout=timeout)

    def close(self):
        self.sock.close()


@case
def systemd_notify_protocol():
    with TempDir() as d:
        ns = NotifySocket(os.path.join(d.path, "notify.sock"))
        cfg = d.file("herald.lua", """
herald.source "seed" { path = "%s" }
herald.notifier "out" { type = "file", path = "%s" }
herald.rule "iraq" { query = 'troops AND Iraq' }
""" % (os.path.join(ROOT, "scripts", "samples", "world.xml"), os.path.join(d.path, "a.jsonl")))
        h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")],
                   env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "400000"})
        try:
            check(ns.wait_for("READY=1"), "READY=1: %r\n%s" % (ns.messages, h.output()))
            ready = [m for m in ns.messages if "READY=1" in m][0]
            check_in("STATUS=1 sources, 1 rules, 1 notifiers", ready)
            check(ns.wait_for("WATCHDOG=1", timeout=5), "WATCHDOG=1: %r" % ns.messages)
            check(ns.wait_for("alerts: 1 this run", timeout=5), "status shows the alert: %r"
                  % ns.messages[-3:])
            n = len(ns.messages)
            h.send(signal.SIGHUP)
            check(ns.wait_for("RELOADING=1"), "RELOADING=1: %r" % ns.messages)
            check(wait_until(lambda: ns.drain() or any("READY=1" in m for m in ns.messages[n:])),
                  "READY=1 after the reload: %r" % ns.messages[n:])
        finally:
            rc = h.stop(signal.SIGTERM)
        check_eq(rc, 0, "exit status")
        check(ns.wait_for("STOPPING=1"), "STOPPING=1: %r" % ns.messages[-3:])
        ns.close()


@case
def runaway_rule_is_stopped_and_named_while_others_fire():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(feed_items(1)))
        with TempDir() as d:
            cfg = d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "loops" {
  match = function(a) while true do end end,
}
herald.rule "greedy" {
  match = function(a) local t = {} ; for i = 1, 1e9 do t[i] = ("x"):rep(1000) .. i end end,
}
herald.rule "good" { query = 'troops' }
""" % (feeds.url("/feed.xml"), hook.url()))
            h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")])
            try:
                check(wait_until(lambda: len(hook.accepted()) == 1, timeout=30),
                      "the good rule fires:\n" + h.output())
                out = h.output()
                check_in("rule loops (%s:4): instruction budget exceeded" % cfg, out)
                check_in("rule greedy (%s:7):" % cfg, out)
                check(("memory limit exceeded" in out) or ("instruction budget" in out),
                      "greedy rule stopped: " + out)
            finally:
                check_eq(h.stop(), 0, "exit status")
            check_eq(json.loads(hook.accepted()[0]["body"])["rule"], "good")
    finally:
        feeds.stop()
        hook.stop()


if __name__ == "__main__":
    main()
