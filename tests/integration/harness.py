"""Shared pieces of herald's integration tests: the real build/herald binary, real local
peers on 127.0.0.1 (a feed server, a webhook receiver), and the PASS/FAIL line protocol
tests/run.py counts. Every server binds port 0 (the kernel picks a free port), every wait
is bounded in time, and every server is stopped by the test that started it.
"""
import http.server
import json
import os
import shlex
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.environ.get("HERALD_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HERALD = os.environ.get("HERALD_BIN") or os.path.join(ROOT, "build", "herald")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def wrapper():
    """Optional command prefix, e.g. HERALD_WRAPPER='valgrind -q --error-exitcode=99'."""
    w = os.environ.get("HERALD_WRAPPER", "")
    return shlex.split(w) if w else []


def slow_factor():
    return 4.0 if (os.environ.get("HERALD_WRAPPER") or os.environ.get("HERALD_SANITIZE")) else 1.0


class TestFailure(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


def check_eq(a, b, what=""):
    if a != b:
        raise TestFailure("%s: expected %r, got %r" % (what or "values differ", b, a))


def check_in(needle, hay, what=""):
    if needle not in hay:
        raise TestFailure("%s: %r not found in %r" % (what or "missing", needle, hay[-2000:]))


_cases = []


def case(fn):
    _cases.append(fn)
    return fn


def main():
    """Run every @case of the calling module; print one PASS/FAIL/SKIP line each."""
    failed = 0
    only = os.environ.get("HERALD_TEST_ONLY")
    for fn in _cases:
        if only and only not in fn.__name__:
            continue
        name = fn.__name__
        try:
            r = fn()
            if isinstance(r, str) and r.startswith("SKIP"):
                print("SKIP %s: %s" % (name, r[5:].strip()))
            else:
                print("PASS %s" % name)
        except TestFailure as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
        except Exception as e:  # a bug in the test or an unexpected crash: still a failure
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


class TempDir:
    def __init__(self, prefix="herald-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)

    def file(self, name, content, mode="w"):
        p = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, mode) as f:
            f.write(content)
        return p


def run(args, timeout=30, env=None, input=None):
    """Run herald to completion; returns CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    e.setdefault("HOME", tempfile.gettempdir())
    if env:
        e.update(env)
    return subprocess.run(wrapper() + [HERALD] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout * slow_factor(), env=e,
                          input=input, text=True)


class Daemon:
    """herald run in the background, with its output collected."""

    def __init__(self, args, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.p = subprocess.Popen(wrapper() + [HERALD] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=e, text=True)
        self.lines = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            with self.lock:
                self.lines.append(line)

    def output(self):
        with self.lock:
            return "".join(self.lines)

    def wait_for(self, text, timeout=10):
        deadline = time.monotonic() + timeout * slow_factor()
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if self.p.poll() is not None:
                time.sleep(0.1)
                return text in self.output()
            time.sleep(0.05)
        return False

    def send(self, sig):
        self.p.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=timeout * slow_factor())
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise TestFailure("herald did not stop within %ds after %s" % (timeout, sig))
        self.t.join(timeout=5)
        return rc


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FeedServer:
    """Serves registered paths: route(path, body, status=200, headers={})."""

    def __init__(self, port=0):
        self.routes = {}
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append((self.path, dict(self.headers)))
                r = outer.routes.get(self.path)
                if r is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if callable(r):
                    r = r(self)
                    if r is None:
                        return
                status, headers, body = r
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _Server(("127.0.0.1", port), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def route(self, path, body, status=200, headers=None):
        h = {"Content-Type": "application/rss+xml; charset=utf-8"}
        h.update(headers or {})
        self.routes[path] = (status, h, body)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class WebhookReceiver:
    """Records POSTed (and PUT) bodies, headers and methods; `status` (or a callable) decides
    the answer."""

    def __init__(self, port=0):
        self.received = []
        self.status = 200
        self.extra_headers = {}
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status = outer.status(self) if callable(outer.status) else outer.status
                outer.received.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body, "status": status,
                                       "time": time.monotonic(),
                                       "method": self.command})
                self.send_response(status)
                for k, v in outer.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            # Matrix sends with PUT (the transaction id is in the path): recorded the same way.
            do_PUT = do_POST

        self.httpd = _Server(("127.0.0.1", port), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/alerts"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def accepted(self):
        return [r for r in self.received if 200 <= r["status"] < 300]

    def accepted_json(self):
        return [json.loads(r["body"]) for r in self.accepted()]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port():
    """A port nothing listens on (bound then released), for 'receiver is down' cases."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout=10, step=0.05):
    deadline = time.monotonic() + timeout * slow_factor()
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def rss(items, title="Test feed", link="http://example.test/"):
    """A small RSS 2.0 document; items are dicts with guid, title, link, description."""
    from xml.sax.saxutils import escape
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<rss version="2.0"><channel>',
             "<title>%s</title><link>%s</link><description>test</description>"
             % (escape(title), escape(link))]
    for it in items:
        parts.append("<item><guid>%s</guid><title>%s</title><link>%s</link>"
                     "<pubDate>%s</pubDate><description>%s</description></item>"
                     % (escape(it["guid"]), escape(it["title"]), escape(it["link"]),
                        it.get("date", "Mon, 06 Jan 2020 09:30:00 GMT"),
                        escape(it.get("description", ""))))
    parts.append("</channel></rss>")
    return "\n".join(parts)
