#!/usr/bin/env python3
"""Durability under kill -9. A local HTTP server serves three feeds that gain an item every
few hundred milliseconds (keeping the latest ~50, as real feeds do); a webhook receiver
records every delivery with its Idempotency-Key and answers 200, or now and then 500 so
retries happen too. `herald run` is killed with SIGKILL at random moments 100 times (20
under valgrind or the sanitizers), restarted each time on the same state directory, then
left to drain and stopped with SIGTERM. Every item the rule matches must have produced
exactly one alert, delivered under one key: 0 lost, 0 duplicated, in the receiver and in
the store.

An item only scrolls out of its feed once the store has it as seen (the feed server reads
herald.db); until then the feed holds it back and grows past 50, and the test counts how
often that happened. Without this, a run of unlucky early kills could make an item vanish
before any herald instance had the chance to see it, which no daemon can alert on.

HERALD_CRASH_KILLS overrides the number of kills, HERALD_CRASH_SEED the random seed (printed
with the counts; timing still varies from run to run)."""
import json
import os
import random
import signal
import sqlite3
import threading
import time

from harness import (Daemon, FeedServer, TempDir, TestFailure, WebhookReceiver, case, check,
                     check_eq, main, rss, slow_factor, wait_until)

SOURCES = ("alpha", "bravo", "charlie")
KEEP = 50          # items a feed shows, newest first
MATCH_WORD = "zebraquake"
FILLER = ("market", "council", "weather", "harbour", "festival", "railway", "budget", "school",
          "museum", "election", "bridge", "orchestra")


class GrowingFeeds:
    """Three feeds that gain items over time. Thread-safe: the generator thread adds, the
    feed server's threads render."""

    def __init__(self, server, db_path, rng):
        self.server = server
        self.db_path = db_path
        self.rng = rng
        self.lock = threading.Lock()
        self.items = {s: [] for s in SOURCES}  # per source, oldest first
        self.generated = []                    # (source, guid, matches)
        self.held_back = 0                     # times an unseen item was kept past KEEP
        self.db = None
        self.stop_flag = threading.Event()
        for s in SOURCES:
            server.routes["/%s.xml" % s] = self._handler(s)

    def _handler(self, source):
        def render(req):
            with self.lock:
                items = list(reversed(self.items[source]))
            return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, \
                rss(items, title="Feed " + source)
        return render

    def url(self, source):
        return self.server.url("/%s.xml" % source)

    def _seen(self, source, guid):
        """Whether the store has the item as seen; any doubt (no database yet, locked) is a no."""
        try:
            if self.db is None:
                if not os.path.exists(self.db_path):
                    return False
                self.db = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True,
                                          timeout=0.2)
            cur = self.db.execute("SELECT 1 FROM items WHERE source = ? AND item_id = ?",
                                  (source, guid))
            row = cur.fetchone()
            cur.close()
            return row is not None
        except sqlite3.Error:
            if self.db is not None:
                self.db.close()
            self.db = None
            return False

    def add_one(self, n):
        source = self.rng.choice(SOURCES)
        matches = self.rng.random() < 0.3
        words = self.rng.sample(FILLER, 3)
        title = ("%s %s near the %s, report %d" % (MATCH_WORD.capitalize(), words[0], words[1], n)
                 if matches else "%s %s and the %s, report %d" % (words[0].capitalize(),
                                                                   words[1], words[2], n))
        guid = "urn:crash:%s:%d" % (source, n)
        item = {"guid": guid, "title": title, "link": "http://crash.test/%s/%d" % (source, n),
                "date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                "description": "Item %d of source %s: %s." % (n, source, title)}
        with self.lock:
            self.items[source].append(item)
            self.generated.append((source, guid, matches))
            lst = self.items[source]
        # Scroll out the oldest items, but never one no herald has stored as seen yet.
        while len(lst) > KEEP:
            head = lst[0]
            if not self._seen(source, head["guid"]):
                self.held_back += 1
                break
            with self.lock:
                lst.pop(0)

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            self.add_one(n)
            n += 1
            self.stop_flag.wait(self.rng.uniform(0.08, 0.2))
        if self.db is not None:
            self.db.close()

    def matching(self):
        with self.lock:
            return {(s, g) for s, g, m in self.generated if m}

    def all_items(self):
        with self.lock:
            return {(s, g) for s, g, m in self.generated}


def delivered(hook):
    """Accepted deliveries whose body arrived whole (herald may die mid-request)."""
    out = []
    for r in list(hook.received):
        if not 200 <= r["status"] < 300:
            continue
        if len(r["body"]) != int(r["headers"].get("Content-Length") or -1):
            continue
        try:
            body = json.loads(r["body"])
        except ValueError:
            continue
        out.append((r["headers"].get("Idempotency-Key"), body))
    return out


def store_counts(db_path):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=5)
    try:
        alerts = db.execute("SELECT source, item_id, id FROM alerts").fetchall()
        outbox = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        seen = {(s, i) for s, i in db.execute("SELECT source, item_id FROM items")}
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    return alerts, outbox, seen, integrity


def store_progress(db_path):
    """(items seen, outbox rows pending), or (-1, -1) when the store cannot be read now."""
    try:
        db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=1)
        try:
            return (db.execute("SELECT COUNT(*) FROM items").fetchone()[0],
                    db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                    .fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return -1, -1


@case
def sigkill_100_times_loses_and_duplicates_no_alert():
    seed = int(os.environ.get("HERALD_CRASH_SEED") or time.time())
    rng = random.Random(seed)
    kills = 20 if slow_factor() > 1 else int(os.environ.get("HERALD_CRASH_KILLS") or 100)
    server, hook = FeedServer(), WebhookReceiver()
    hook_rng = random.Random(seed + 1)
    hook_lock = threading.Lock()

    def answer(req):
        with hook_lock:
            return 500 if hook_rng.random() < 0.07 else 200

    hook.status = answer
    for srv in (server, hook):  # herald killed mid-request resets connections: not news
        srv.httpd.handle_error = lambda *a: None
    gen_thread = feeds = h = None
    errors = []  # error lines logged by any instance (a store error would be a finding)
    try:
        with TempDir() as d:
            state = os.path.join(d.path, "state")
            db_path = os.path.join(state, "herald.db")
            feeds = GrowingFeeds(server, db_path, rng)
            cfg = d.file("herald.lua", "".join(
                'herald.source "%s" { url = "%s", every = "500ms", min_every = "250ms",'
                ' max_every = "1s" }\n' % (s, feeds.url(s)) for s in SOURCES) + """
herald.notifier "hook" { type = "webhook", url = "%s", retry_min = "1s", retry_max = "4s" }
herald.rule "zebra" { query = '%s', notify = "hook" }
""" % (hook.url(), MATCH_WORD))
            args = ["run", "-c", cfg, "--state", state]
            gen_thread = threading.Thread(target=feeds.run, daemon=True)
            gen_thread.start()
            time.sleep(0.5)  # a few items before the first start

            for k in range(kills):
                h = Daemon(args)
                time.sleep(rng.uniform(0.05, 1.0) * slow_factor())
                if h.p.poll() is not None:
                    h.t.join(timeout=5)
                    raise TestFailure("herald exited by itself (status %s) after restart %d:\n%s"
                                      % (h.p.returncode, k, h.output()[-3000:]))
                h.p.send_signal(signal.SIGKILL)
                h.p.wait()
                h.t.join(timeout=5)
                errors += [line for line in h.lines if "herald error:" in line]
                h = None
            seen_during_kills = len(store_counts(db_path)[2]) if os.path.exists(db_path) else 0
            delivered_during_kills = len(delivered(hook))

            feeds.stop_flag.set()
            gen_thread.join(timeout=10)
            gen_thread = None
            matching, everything = feeds.matching(), feeds.all_items()

            h = Daemon(args)
            # Its signal handlers are up once it says it runs; a SIGTERM before that (the
            # state may already be drained by the killed runs) would end it by the signal.
            check(h.wait_for("herald info: herald", timeout=30),
                  "herald did not start:\n" + h.output()[-3000:])

            def drained():
                keys = {k for k, _ in delivered(hook)}
                return (len(keys) >= len(matching) and
                        store_progress(db_path) == (len(everything), 0))

            ok = wait_until(drained, timeout=90, step=0.25)
            out = h.output()
            rc = h.stop(signal.SIGTERM)
            h_last, h = h, None
            check(ok, "not drained within 90 s: %d of %d keys, (seen, pending) %r of %d items"
                  "\n%s" % (len({k for k, _ in delivered(hook)}), len(matching),
                            store_progress(db_path), len(everything), out[-3000:]))
            check_eq(rc, 0, "exit status after SIGTERM")
            errors += [line for line in h_last.lines if "herald error:" in line]

            got = delivered(hook)
            keys = {k for k, _ in got}
            by_item = {}
            for key, body in got:
                check_eq(key, body.get("id"), "Idempotency-Key is the alert id")
                a = body.get("article") or {}
                by_item.setdefault((a.get("source"), a.get("id")), set()).add(key)
            lost = matching - set(by_item)
            extra = set(by_item) - matching
            dup = {i: ks for i, ks in by_item.items() if len(ks) != 1}
            alerts, outbox, seen, integrity = store_counts(db_path)
            print("# seed %d: kills %d, items %d (seen before the drain %d), matching %d, "
                  "alerts %d, deliveries %d (incl. repeats; %d before the drain), distinct "
                  "keys %d, 500s answered %d, items held back from scrolling out %d"
                  % (seed, kills, len(everything), seen_during_kills, len(matching), len(alerts),
                     len(got), delivered_during_kills, len(keys),
                     sum(1 for r in hook.received if r["status"] >= 500), feeds.held_back))
            check(not errors, "errors logged: %s" % "".join(errors[:10]))
            check(not lost, "lost alerts (matching items never delivered): %s"
                  % sorted(lost)[:10])
            check(not extra, "alerts for items that do not match: %s" % sorted(extra)[:10])
            check(not dup, "items delivered under several keys: %s" % list(dup.items())[:5])
            check_eq(len(keys), len(matching), "distinct Idempotency-Keys")
            check_eq(integrity, "ok", "PRAGMA integrity_check")
            check_eq(seen, everything, "every generated item is stored as seen")
            store_items = [(s, i) for s, i, _ in alerts]
            check_eq(len(store_items), len(set(store_items)), "one alerts row per item")
            check_eq(set(store_items), matching, "alerts rows are the matching items")
            check_eq({a_id for _, _, a_id in alerts}, keys, "alert ids in the store = keys")
            check_eq(outbox, {"delivered": len(matching)}, "outbox rows by state at the end")
    finally:
        if gen_thread is not None and feeds is not None:
            feeds.stop_flag.set()
            gen_thread.join(timeout=10)
        if h is not None:
            h.p.kill()
            h.p.wait()
        server.stop()
        hook.stop()


if __name__ == "__main__":
    main()
