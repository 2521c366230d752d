#!/usr/bin/env python3
"""herald's fetcher against a hostile HTTP server on 127.0.0.1 (tests/integration/hostile.py):
slow drip, silence, endless bodies, gzip bombs, redirect loops, moved feeds, validators,
Retry-After, flapping servers, wrong types, truncated and reset bodies, bad certificates,
and the concurrency caps. Each case runs a well-behaved source next to the hostile one and
checks: a log line naming the URL and the reason, the state the store keeps (read straight
from the sources table), the back-off chosen, bounded memory, and that the good source was
fetched normally in the same run. Independent cases run in parallel threads to stay fast.
"""
import concurrent.futures
import email.utils
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import traceback

import harness
from harness import (Daemon, TempDir, TestFailure, check, check_eq, check_in, slow_factor,
                     wait_until)
from hostile import (HostileServer, feed, gzip_bomb, ok_feed, self_signed_cert, send)

MB = 1 << 20


# ---- helpers ----

PROXY_VARS = ("http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
              "no_proxy", "NO_PROXY")


def run_measured(args, timeout=30, env=None):
    """Run herald to completion; returns (status, stdout, stderr, peak RSS in bytes) using
    wait4 so the peak is this process's own, even with other cases running. env: variables
    to set (a None value removes one)."""
    out_r, err_r = os.pipe(), os.pipe()
    penv = dict(os.environ, HOME=os.environ.get("HOME", "/tmp"))
    for k, v in (env or {}).items():
        if v is None:
            penv.pop(k, None)
        else:
            penv[k] = v
    p = subprocess.Popen(harness.wrapper() + [harness.HERALD] + args, stdout=out_r[1],
                         stderr=err_r[1], env=penv)
    os.close(out_r[1])
    os.close(err_r[1])
    chunks = {out_r[0]: [], err_r[0]: []}

    def drain(fd):
        while True:
            d = os.read(fd, 65536)
            if not d:
                break
            chunks[fd].append(d)
        os.close(fd)

    readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in chunks]
    for t in readers:
        t.start()
    killer = threading.Timer(timeout * slow_factor(), lambda: p.kill())
    killer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join(timeout=5)
    text = {fd: b"".join(v).decode("utf-8", "replace") for fd, v in chunks.items()}
    if p.returncode == -signal.SIGKILL:
        raise TestFailure("herald did not finish within %ds:\n%s" % (timeout, text[err_r[0]]))
    return p.returncode, text[out_r[0]], text[err_r[0]], ru.ru_maxrss * 1024


def write_config(d, sources, options=""):
    """sources: (name, url, extra Lua fields) tuples."""
    lines = [options]
    for name, url, extra in sources:
        lines.append('herald.source "%s" { url = "%s", %s }' % (name, url, extra))
    lines.append('herald.rule "any" { query = "item" }')
    return d.file("herald.lua", "\n".join(lines) + "\n")


def fetch_once(cfg, state, timeout=30, env=None):
    rc, out, err, rss = run_measured(["fetch", "--once", "-c", cfg, "--state", state], timeout,
                                     env)
    check(rc == 0, "fetch --once exited %d (no crash expected):\n%s" % (rc, err))
    return out, err, rss


def sources_table(state):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "herald.db"), uri=True)
    db.row_factory = sqlite3.Row
    try:
        return {r["name"]: dict(r) for r in db.execute("SELECT * FROM sources")}
    finally:
        db.close()


def check_good(rows, name="good"):
    r = rows.get(name)
    check(r is not None, "the good source has a row: %r" % rows)
    check_eq(r["last_status"], 200, "good source status")
    check_eq(r["last_error"], None, "good source error")
    check_eq(r["items_new"], 2, "good source new items")


def check_backoff(row, failures, every_s):
    """First failures back off from half the shortest interval (every/4 by default)."""
    check_eq(row["failures"], failures, "consecutive failures")
    base = max(every_s / 8.0, 1.0) * (2 ** (failures - 1))
    wait = row["next_poll"] - row["last_fetch"]
    check(0.8 * base - 1 <= wait <= 1.2 * base + 1,
          "back-off after %d failure(s): waits %ds, expected about %ds" % (failures, wait, base))


def one_bad_source(server, path, handler, reason, extra="", every_s=600, max_rss=None):
    """The common shape: serve `handler` at `path` next to a good feed, run fetch --once,
    check the log line (URL and reason), the good source, the back-off, the memory."""
    server.route(path, handler)
    server.route("/good" + path, ok_feed("good"))
    with TempDir() as d:
        bad_url = server.url(path)
        cfg = write_config(d, [("good", server.url("/good" + path), ""),
                               ("bad", bad_url, 'every = "%ds", %s' % (every_s, extra))])
        state = os.path.join(d.path, "state")
        out, err, rss = fetch_once(cfg, state)
        bad_lines = [l for l in err.splitlines() if "source bad:" in l]
        check(any(bad_url in l and reason in l for l in bad_lines),
              "a log line names %s and %r:\n%s" % (bad_url, reason, err))
        rows = sources_table(state)
        check_good(rows)
        check_in(reason, rows["bad"]["last_error"] or "", "stored error")
        check_backoff(rows["bad"], 1, every_s)
        if max_rss and not harness.wrapper():  # under valgrind the RSS is valgrind's
            check(rss < max_rss, "peak RSS %.1f MB, limit %.0f MB" % (rss / MB, max_rss / MB))
        return out, err, rows


def with_server(fn):
    s = HostileServer()
    try:
        return fn(s)
    finally:
        s.stop()


# ---- handlers ----

def drip(server, req):
    req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     b"Content-Length: 100000\r\n\r\n")
    for b in feed([("d", "drip", "Mon, 06 Jan 2020 09:00:00 GMT")]).encode():
        if not server.sleep(1.0):
            return False
        req.conn.sendall(bytes([b]))
    return False


def silent(server, req):
    while server.sleep(0.2):
        pass
    return False


def endless(server, req):
    req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"<!--" + b"x" * 65000 + b"-->"
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    req.conn.settimeout(5)
    while not server.stopping.is_set():
        req.conn.sendall(frame)
    return False


def bomb(server, req):
    body = gzip_bomb()
    send(req, 200, [("Content-Type", "application/rss+xml"), ("Content-Encoding", "gzip")],
         body)
    return False


def truncated_chunked(server, req):
    part = feed([("t%d" % i, "truncated %d" % i, "Mon, 06 Jan 2020 09:00:00 GMT")
                 for i in range(50)]).encode()[:3000]
    req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 8000 + part)
    return False  # closed mid-chunk, no terminating 0-chunk


def reset_mid_body(server, req):
    body = feed([("r%d" % i, "reset %d" % i, "Mon, 06 Jan 2020 09:00:00 GMT")
                 for i in range(50)]).encode()
    req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:1500])
    time.sleep(0.1)
    # SO_LINGER 0: close sends a RST instead of a FIN.
    req.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


# ---- cases ----

def case_slow_drip():
    # 1 byte/s: the low-speed limit (10 B/s over half the 4 s timeout) cuts it at ~2 s.
    def go(s):
        t0 = time.monotonic()
        one_bad_source(s, "/drip", drip, "too slow", extra='timeout = "4s"')
        check(time.monotonic() - t0 < 10 * slow_factor(), "aborted early by the speed limit")
    with_server(go)


def case_accepts_and_never_answers():
    # The low-speed cut comes at half the timeout, checked by curl once a second: under
    # valgrind, with other cases running, those checks need more room before the timeout.
    timeout = int(3 * slow_factor())
    with_server(lambda s: one_bad_source(s, "/silent", silent, "no answer within",
                                         extra='timeout = "%ds"' % timeout))


def case_endless_body():
    with_server(lambda s: one_bad_source(s, "/endless", endless,
                                         "response larger than 16777216 bytes",
                                         max_rss=120 * MB))


def case_gzip_bomb():
    gzip_bomb()  # build the bomb before timing anything
    def go(s):
        _, _, rows = one_bad_source(s, "/bomb", bomb, "response larger than 2097152 bytes",
                                    extra="max_bytes = 2097152", max_rss=80 * MB)
        check(len(gzip_bomb()) < 2 * MB, "the bomb is small on the wire")
    with_server(go)


def case_gzip_bomb_default_cap():
    # Without a per-source cap, the default (16 MiB) stops a 256 MiB inflation.
    with_server(lambda s: one_bad_source(s, "/bomb16", bomb, "response larger than 16777216",
                                         max_rss=120 * MB))


def case_redirect_loop():
    def go(s):
        s.route("/loop/b", lambda sv, r: send(r, 302, [("Location", "/loop/a")]))
        one_bad_source(s, "/loop/a", lambda sv, r: send(r, 302, [("Location", "/loop/b")]),
                       "too many redirects")
        check(len(s.requests_for("/loop/")) <= 10, "at most 8 redirects followed")
    with_server(go)


def case_wrong_content_type():
    def go(s):
        body = feed([("w1", "wrong type 1", "Mon, 06 Jan 2020 09:00:00 GMT"),
                     ("w2", "wrong type 2", "Mon, 06 Jan 2020 10:00:00 GMT")])
        s.route("/text", lambda sv, r: send(r, 200, [("Content-Type", "text/plain")], body))
        s.route("/good/text", ok_feed("good"))
        with TempDir() as d:
            cfg = write_config(d, [("good", s.url("/good/text"), ""),
                                   ("plain", s.url("/text"), "")])
            state = os.path.join(d.path, "state")
            fetch_once(cfg, state)
            rows = sources_table(state)
            check_good(rows)
            check_good(rows, "plain")
    with_server(go)


def case_truncated_chunked_body():
    with_server(lambda s: one_bad_source(s, "/trunc", truncated_chunked, "transfer closed"))


def case_connection_reset_mid_body():
    with_server(lambda s: one_bad_source(s, "/reset", reset_mid_body, "reset by peer"))


def case_304_after_etag():
    def go(s):
        body = feed([("e1", "etag 1", "Mon, 06 Jan 2020 09:00:00 GMT"),
                     ("e2", "etag 2", "Mon, 06 Jan 2020 10:00:00 GMT")])

        def h(sv, r):
            if r.headers.get("if-none-match") == '"v1"':
                return send(r, 304, [("ETag", '"v1"')])
            return send(r, 200, [("Content-Type", "application/rss+xml"), ("ETag", '"v1"')],
                        body)
        validator_case(s, "/etag", h, "etag", '"v1"', "if-none-match")
    with_server(go)


def case_304_after_last_modified():
    def go(s):
        body = feed([("l1", "lm 1", "Mon, 06 Jan 2020 09:00:00 GMT"),
                     ("l2", "lm 2", "Mon, 06 Jan 2020 10:00:00 GMT")])
        lm = "Tue, 07 Jan 2020 08:00:00 GMT"

        def h(sv, r):
            if r.headers.get("if-modified-since") == lm:
                return send(r, 304, [])
            return send(r, 200, [("Content-Type", "application/rss+xml"),
                                 ("Last-Modified", lm)], body)
        validator_case(s, "/lm", h, "last_modified", lm, "if-modified-since")
    with_server(go)


def validator_case(s, path, handler, column, value, header):
    s.route(path, handler)
    s.route("/good" + path, ok_feed("good"))
    with TempDir() as d:
        cfg = write_config(d, [("good", s.url("/good" + path), ""),
                               ("cond", s.url(path), "")])
        state = os.path.join(d.path, "state")
        fetch_once(cfg, state)
        rows = sources_table(state)
        check_eq(rows["cond"][column], value, "stored validator")
        check_eq(rows["cond"]["items_new"], 2, "first run: new items")
        # A new process: the validator comes from the store.
        fetch_once(cfg, state)
        reqs = s.requests_for(path)
        check_eq(len(reqs), 2, "requests")
        check_eq(reqs[1].headers.get(header), value, "conditional header on the second run")
        check(column != "etag" or "if-modified-since" not in reqs[1].headers,
              "no If-Modified-Since without a stored Last-Modified")
        rows = sources_table(state)
        check_eq(rows["cond"]["last_status"], 304, "second run status")
        check_eq(rows["cond"]["last_error"], None, "a 304 is no error")
        check_eq(rows["cond"]["items_new"], 0, "no new items on a 304")
        check_eq(rows["cond"][column], value, "validator kept after a 304")
        check_eq(rows["good"]["last_status"], 200, "good source on the second run")


def case_429_retry_after():
    def go(s):
        s.route("/busy-secs", lambda sv, r: send(r, 429, [("Retry-After", "120")]))
        s.route("/busy-date", lambda sv, r: send(r, 503, [("Retry-After", email.utils.formatdate(
            time.time() + 300, usegmt=True))]))
        s.route("/good/busy", ok_feed("good"))
        with TempDir() as d:
            cfg = write_config(d, [("good", s.url("/good/busy"), ""),
                                   ("secs", s.url("/busy-secs"), 'every = "10m"'),
                                   ("date", s.url("/busy-date"), 'every = "10m"')])
            state = os.path.join(d.path, "state")
            out, err, _ = fetch_once(cfg, state)
            check_in("%s: HTTP 429, Retry-After 120 s" % s.url("/busy-secs"), err)
            check_in("%s: HTTP 503, Retry-After" % s.url("/busy-date"), err)
            rows = sources_table(state)
            check_good(rows)
            wait = rows["secs"]["next_poll"] - rows["secs"]["last_fetch"]
            check(119 <= wait <= 122, "Retry-After: 120 honoured (waits %ds)" % wait)
            wait = rows["date"]["next_poll"] - rows["date"]["last_fetch"]
            check(290 <= wait <= 302, "Retry-After as an HTTP-date honoured (waits %ds)" % wait)
            check_eq(rows["secs"]["last_status"], 429, "status kept")
            # The summary table shows every source with its status and error.
            check_in("SOURCE", out)
            line = [l for l in out.splitlines() if l.startswith("secs ")]
            check(line and "429" in line[0] and "Retry-After 120 s" in line[0],
                  "summary row for secs:\n" + out)
    with_server(go)


def case_500_repeatedly_then_recovery():
    def go(s):
        body = feed([("f1", "flaky 1", "Mon, 06 Jan 2020 09:00:00 GMT")])
        count = [0]

        def h(sv, r):
            count[0] += 1
            if count[0] <= 3:
                return send(r, 500, [], "oops")
            return send(r, 200, [("Content-Type", "application/rss+xml")], body)
        s.route("/flaky", h)
        s.route("/good/flaky", ok_feed("good"))
        with TempDir() as d:
            cfg = write_config(d, [("good", s.url("/good/flaky"), 'every = "1h"'),
                                   ("flaky", s.url("/flaky"), 'every = "1s"')])
            state = os.path.join(d.path, "state")
            h_ = Daemon(["run", "-c", cfg, "--state", state])
            try:
                check(wait_until(lambda: len(s.requests_for("/flaky")) >= 5, timeout=20),
                      "five polls of the flaky source:\n" + h_.output())
            finally:
                rc = h_.stop()
            check_eq(rc, 0, "exit status")
            t = [r.time for r in s.requests_for("/flaky")]
            gaps = [b - a for a, b in zip(t, t[1:])]
            # Three failures back off 1 s, 2 s, 4 s (±20%), then success resets the pace.
            # (Timings only mean something at full speed, not under valgrind or ASan.)
            if slow_factor() == 1:
                check(gaps[1] > gaps[0] * 1.3 and gaps[2] > gaps[1] * 1.3,
                      "back-off grows: %r" % gaps)
                check(3.0 <= gaps[2] <= 5.5, "third back-off about 4 s: %r" % gaps)
                check(gaps[3] < gaps[2] / 2, "after recovery the normal interval: %r" % gaps)
            log = h_.output()
            check_in("%s: HTTP 500; failure 3, next try in" % s.url("/flaky"), log)
            rows = sources_table(state)
            check_eq(rows["flaky"]["failures"], 0, "failures reset")
            check_eq(rows["flaky"]["last_error"], None, "error cleared")
            check_eq(rows["flaky"]["last_status"], 200, "status")
            check_good(rows)
    with_server(go)


def case_301_moves_the_source():
    def go(s):
        s.route("/old", lambda sv, r: send(r, 301, [("Location", s.url("/new"))]))
        s.route("/new", ok_feed("moved"))
        s.route("/other", ok_feed("other"))
        s.route("/good/moved", ok_feed("good"))
        with TempDir() as d:
            cfg = write_config(d, [("good", s.url("/good/moved"), 'every = "1h"'),
                                   ("moving", s.url("/old"), 'every = "1s"')])
            state = os.path.join(d.path, "state")
            h = Daemon(["run", "-c", cfg, "--state", state])
            try:
                check(wait_until(lambda: len(s.requests_for("/new")) >= 3, timeout=15),
                      "polls of the new URL:\n" + h.output())
            finally:
                check_eq(h.stop(), 0, "exit status")
            check_eq(len(s.requests_for("/old")), 1, "the old URL is asked once")
            check_in("source moving: %s moved permanently to %s" % (s.url("/old"),
                                                                     s.url("/new")), h.output())
            rows = sources_table(state)
            check_eq(rows["moving"]["url"], s.url("/new"), "stored URL")
            check_eq(rows["moving"]["origin_url"], s.url("/old"), "the configured URL")
            check_good(rows)
            # After a restart the new URL is polled directly.
            fetch_once(cfg, state)
            check_eq(len(s.requests_for("/old")), 1, "still not asked after a restart")
            # A config naming another URL wins over the remembered move.
            cfg = write_config(d, [("good", s.url("/good/moved"), ""),
                                   ("moving", s.url("/other"), "")])
            fetch_once(cfg, state)
            check_eq(len(s.requests_for("/other")), 1, "the new configured URL is polled")
            rows = sources_table(state)
            check_eq(rows["moving"]["url"], s.url("/other"), "stored URL follows the config")
    with_server(go)


def case_invalid_tls_certificate():
    with TempDir() as d:
        pair = self_signed_cert(d.path)
        if not pair:
            return "SKIP openssl CLI not available"
        plain = HostileServer()
        tls = HostileServer(tls_cert=pair[0], tls_key=pair[1])
        try:
            tls.route("/feed", ok_feed("tls"))
            plain.route("/good", ok_feed("good"))
            cfg = write_config(d, [("good", plain.url("/good"), ""),
                                   ("bad", tls.url("/feed"), 'every = "10m"')])
            state = os.path.join(d.path, "state")
            _, err, _ = fetch_once(cfg, state)
            check(any(tls.url("/feed") in l and "certificate" in l
                      for l in err.splitlines()), "refused, with the reason:\n" + err)
            rows = sources_table(state)
            check_good(rows)
            check_in("certificate", rows["bad"]["last_error"] or "")
            check_backoff(rows["bad"], 1, 600)
            check_eq(len(tls.requests_for("/feed")), 0, "no request sent over the bad TLS")
            cfg = write_config(d, [("good", plain.url("/good"), ""),
                                   ("bad", tls.url("/feed"), "insecure = true")])
            _, err, _ = fetch_once(cfg, state)
            check_in("source bad: TLS certificate verification is OFF (insecure = true)", err)
            rows = sources_table(state)
            check_eq(rows["bad"]["last_status"], 200, "accepted with insecure = true")
            check_eq(rows["bad"]["items_new"], 2, "items read over TLS")
        finally:
            plain.stop()
            tls.stop()


def case_concurrency_caps():
    def go(s):
        def slow(sv, r):
            sv.sleep(0.3)
            return ok_feed("slow")(sv, r)
        s.route("/slow/", slow)
        with TempDir() as d:
            srcs = [("s%02d" % i, s.url("/slow/%d" % i), "") for i in range(20)]
            state = os.path.join(d.path, "state")
            cfg = write_config(d, srcs, "herald.options { max_per_host = 2 }")
            fetch_once(cfg, state)
            check_eq(s.max_active.get("/slow/"), 2, "at most 2 at once per host")
            # Polite in connections too: kept alive and reused, never more than the cap,
            # however herald spreads the transfers over its threads.
            check(1 <= s.accepted <= 2, "%d connections for a cap of 2" % s.accepted)
            s.max_active.clear()
            s.accepted = 0
            cfg = write_config(d, srcs, "herald.options { max_per_host = 10, max_concurrent = 3 }")
            fetch_once(cfg, os.path.join(d.path, "state2"))
            check_eq(s.max_active.get("/slow/"), 3, "at most 3 at once in all")
            check(1 <= s.accepted <= 3, "%d connections for 3 transfers at once" % s.accepted)
            rows = sources_table(state)
            check_eq(sum(1 for r in rows.values() if r["last_status"] == 200), 20, "all fetched")
    with_server(go)


def case_adaptive_interval():
    def go(s):
        # One item every 30 minutes: poll about every 10 minutes, within the bounds.
        base = time.time() - 3600
        items = [("a%d" % i, "adaptive %d" % i, email.utils.formatdate(base - i * 1800,
                                                                        usegmt=True))
                 for i in range(8)]
        s.route("/rhythm", lambda sv, r: send(r, 200, [("Content-Type", "application/rss+xml")],
                                              feed(items)))
        s.route("/rare", lambda sv, r: send(r, 200, [("Content-Type", "application/rss+xml")],
                                            feed([(g, t, email.utils.formatdate(
                                                base - i * 86400 * 7, usegmt=True))
                                                for i, (g, t, _) in enumerate(items)])))
        s.route("/good/rhythm", ok_feed("good"))
        with TempDir() as d:
            cfg = write_config(d, [
                ("good", s.url("/good/rhythm"), ""),
                ("rhythm", s.url("/rhythm"), 'every = "1h", min_every = "1m", max_every = "2h"'),
                ("rare", s.url("/rare"), 'every = "1h", min_every = "1m", max_every = "2h"')])
            state = os.path.join(d.path, "state")
            fetch_once(cfg, state)
            rows = sources_table(state)
            check_eq(rows["rhythm"]["interval_ms"], 600000, "a third of the 30 min gap")
            wait = rows["rhythm"]["next_poll"] - rows["rhythm"]["last_fetch"]
            check(599 <= wait <= 601, "next poll in 10 min, got %ds" % wait)
            check_eq(rows["rare"]["interval_ms"], 7200000, "a weekly feed stops at max_every")
            check_good(rows)
    with_server(go)


def case_first_polls_are_spread():
    def go(s):
        s.route("/many/", ok_feed("many", 1))
        with TempDir() as d:
            n = 300  # start-up window: 10 ms per source, 3 s here
            cfg = write_config(d, [("m%03d" % i, s.url("/many/%d" % i), 'every = "1h"')
                                   for i in range(n)])
            h = Daemon(["run", "-c", cfg, "--state", os.path.join(d.path, "st")])
            try:
                check(wait_until(lambda: len(s.requests_for("/many/")) >= n, timeout=20),
                      "all first polls:\n" + h.output()[-2000:])
            finally:
                check_eq(h.stop(), 0, "exit status")
            if slow_factor() != 1:
                return "SKIP timing is meaningless under a wrapper"
            t = sorted(r.time for r in s.requests_for("/many/"))
            span = t[-1] - t[0]
            check(span >= 2.0, "first polls spread over %.2fs" % span)
            per_second = max(sum(1 for x in t if a <= x < a + 1.0) for a in t)
            check(per_second <= 0.6 * n, "at most %d of %d in one second" % (per_second, n))
    with_server(go)


def case_proxies_from_the_environment_and_the_config():
    # Hosts under .invalid never resolve: a fetch of one only works through a proxy, and
    # herald sends the proxy the absolute URL. no_proxy sends the loopback source direct.
    env_proxy, cfg_proxy, direct = HostileServer(), HostileServer(), HostileServer()
    try:
        env_proxy.route("http://feeds.herald.invalid/news.xml", ok_feed("env"))
        cfg_proxy.route("http://other.herald.invalid/cfg.xml", ok_feed("cfg"))
        direct.route("/direct.xml", ok_feed("good"))
        with TempDir() as d:
            cfg = write_config(d, [
                ("viaenv", "http://feeds.herald.invalid/news.xml", ""),
                ("viaconfig", "http://other.herald.invalid/cfg.xml",
                 'proxy = "http://127.0.0.1:%d"' % cfg_proxy.port),
                ("good", direct.url("/direct.xml"), ""),
                ("deadproxy", "http://dead.herald.invalid/x.xml", 'proxy = "http://127.0.0.1:1"'),
            ])
            state = os.path.join(d.path, "state")
            env = {k: None for k in PROXY_VARS}
            env.update(http_proxy="http://127.0.0.1:%d" % env_proxy.port, no_proxy="127.0.0.1")
            out, err, _ = fetch_once(cfg, state, env=env)
            rows = sources_table(state)
            for name in ("viaenv", "viaconfig", "good"):
                check_eq(rows[name]["last_status"], 200, "%s status (%s)" % (name, err))
                check_eq(rows[name]["items_new"], 2, "%s new items" % name)
            check_eq([r.path for r in env_proxy.requests],
                     ["http://feeds.herald.invalid/news.xml"], "what the environment's proxy saw")
            check_eq([r.path for r in cfg_proxy.requests],
                     ["http://other.herald.invalid/cfg.xml"], "what the config's proxy saw")
            check_eq([r.path for r in direct.requests], ["/direct.xml"], "what went direct")
            dead = [l for l in err.splitlines() if "source deadproxy:" in l]
            check(any("http://dead.herald.invalid/x.xml" in l and "127.0.0.1" in l
                      for l in dead), "a log line names the URL and the proxy:\n%s" % err)
            check(rows["deadproxy"]["last_error"], "the dead proxy's error is stored")
    finally:
        for s in (env_proxy, cfg_proxy, direct):
            s.stop()


CASES = [case_slow_drip, case_accepts_and_never_answers, case_endless_body, case_gzip_bomb,
         case_gzip_bomb_default_cap, case_redirect_loop, case_301_moves_the_source,
         case_304_after_etag, case_304_after_last_modified, case_429_retry_after,
         case_500_repeatedly_then_recovery, case_wrong_content_type,
         case_truncated_chunked_body, case_connection_reset_mid_body,
         case_invalid_tls_certificate, case_concurrency_caps, case_adaptive_interval,
         case_first_polls_are_spread, case_proxies_from_the_environment_and_the_config]


def main():
    """Run the cases in parallel threads; one PASS/FAIL/SKIP line each (as harness.main)."""
    only = os.environ.get("HERALD_TEST_ONLY")
    chosen = [c for c in CASES if not only or only in c.__name__]
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
        futs = {ex.submit(c): c.__name__[5:] for c in chosen}
        for fut in concurrent.futures.as_completed(futs):
            name = futs[fut]
            try:
                r = fut.result()
                if isinstance(r, str) and r.startswith("SKIP"):
                    print("SKIP %s: %s" % (name, r[5:]))
                else:
                    print("PASS %s" % name)
            except TestFailure as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
            except Exception as e:  # a bug in the test or a crash: still a failure
                failed += 1
                print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
                traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
