"""A misbehaving HTTP server for herald's fetch tests, on raw sockets so it can do what a
polite server library never would: drip one byte a second, accept and never answer, stream
forever, send a gzip bomb, cut a chunked body short, reset the connection mid-body.

HostileServer binds 127.0.0.1 port 0, serves each connection on its own daemon thread,
and stop() closes every socket it opened, so no thread outlives the test by more than the
one-second poll of its loop. Each request is recorded (path, headers, time) and the number
of requests being answered at once is tracked per route prefix.
"""
import gzip
import os
import socket
import ssl
import subprocess
import threading
import time
import zlib

_BOMB = None
_BOMB_LOCK = threading.Lock()


def gzip_bomb(inflated=256 << 20):
    """A gzip stream of `inflated` zero bytes (a few hundred KiB on the wire), cached."""
    global _BOMB
    with _BOMB_LOCK:
        if _BOMB is None:
            c = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
            block = bytes(1 << 20)
            parts = [c.compress(block) for _ in range(inflated >> 20)]
            parts.append(c.flush())
            _BOMB = b"".join(parts)
        return _BOMB


class Request:
    def __init__(self, method, path, headers, conn):
        self.method = method
        self.path = path
        self.headers = headers  # lowercased names
        self.conn = conn
        self.time = time.monotonic()


class HostileServer:
    """Routes are functions handler(server, req) that write to req.conn themselves, looked
    up by exact path, then by the longest registered prefix ending in '/'."""

    def __init__(self, tls_cert=None, tls_key=None):
        self.routes = {}
        self.requests = []
        self.lock = threading.Lock()
        self.active = {}
        self.max_active = {}
        self.stopping = threading.Event()
        self.conns = set()
        self.accepted = 0  # connections accepted in all
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.tls = None
        if tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls_cert, tls_key)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, path)

    def route(self, path, handler):
        self.routes[path] = handler

    def requests_for(self, prefix):
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def stop(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(timeout=5)

    # ---- internals ----

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conns.add(c)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536:
                return None, b""
            try:
                d = c.recv(65536)
            except (socket.timeout, OSError):
                return None, b""
            if not d:
                return None, b""
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2:
            return None, b""
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return Request(parts[0], parts[1], headers, c), rest

    def _handler(self, path):
        h = self.routes.get(path.split("?")[0])
        if h:
            return h, path
        best = None
        for p in self.routes:
            if p.endswith("/") and path.startswith(p) and (best is None or len(p) > len(best)):
                best = p
        return (self.routes[best], best) if best else (None, path)

    def _serve(self, c):
        try:
            c.settimeout(5.0)  # generous: herald may run under valgrind
            if self.tls:
                try:
                    c = self.tls.wrap_socket(c, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # herald refused our certificate: that is the point
                with self.lock:
                    self.conns.add(c)
            buf = b""
            while not self.stopping.is_set():
                req, buf = self._read_request(c, buf)
                if req is None:
                    return
                with self.lock:
                    self.requests.append(req)
                h, key = self._handler(req.path)
                with self.lock:
                    self.active[key] = self.active.get(key, 0) + 1
                    self.max_active[key] = max(self.max_active.get(key, 0), self.active[key])
                try:
                    keep = h(self, req) if h else not_found(self, req)
                finally:
                    with self.lock:
                        self.active[key] -= 1
                if not keep:
                    return
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            with self.lock:
                self.conns.discard(c)

    def sleep(self, seconds):
        """Sleep unless the server stops first; False when stopping."""
        return not self.stopping.wait(seconds)


# ---- response helpers: each returns True to keep the connection for another request ----

def send(req, status, headers=(), body=b"", reason="X"):
    if isinstance(body, str):
        body = body.encode()
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    names = {k.lower() for k, _ in headers}
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    if "content-length" not in names and "transfer-encoding" not in names:
        head += "Content-Length: %d\r\n" % len(body)
    head += "\r\n"
    req.conn.sendall(head.encode("latin-1") + body)
    return True


def not_found(server, req):
    return send(req, 404)


def feed(items, title="Hostile test feed"):
    """An RSS 2.0 document; items are (guid, title, rfc822 date) tuples."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
             "<title>%s</title><link>http://hostile.test/</link><description>t</description>"
             % title]
    for guid, t, date in items:
        parts.append("<item><guid>%s</guid><title>%s</title><link>http://hostile.test/%s</link>"
                     "<pubDate>%s</pubDate><description>%s</description></item>"
                     % (guid, t, guid, date, t))
    parts.append("</channel></rss>\n")
    return "\n".join(parts)


def ok_feed(prefix, n=2):
    body = feed([("%s-%d" % (prefix, i), "%s item %d" % (prefix, i),
                  "Mon, 06 Jan 2020 09:%02d:00 GMT" % i) for i in range(n)])
    return lambda server, req: send(req, 200, [("Content-Type", "application/rss+xml")], body)


def self_signed_cert(directory):
    """Generate a self-signed certificate for 127.0.0.1 with the openssl CLI; returns
    (cert, key) paths, or None when openssl is missing."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return cert, key


def gzip_bytes(data):
    return gzip.compress(data if isinstance(data, bytes) else data.encode())
