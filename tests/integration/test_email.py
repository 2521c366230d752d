#!/usr/bin/env python3
"""The email notifier end to end: an SMTP sink on 127.0.0.1 (Debian's python3-aiosmtpd, run by
tests/integration/smtp_sink.py under /usr/bin/python3) receives what the real
`herald fetch --once` sends for an article whose title is not ASCII. Python's `email` parser
reads the message back: From and To, the decoded UTF-8 Subject, the Message-ID made from the
alert id (read from the outbox), a text and an HTML part that both decode and carry the link,
and the SMTP envelope. A second case answers the first DATA with 451: herald keeps the alert
queued, retries on the next run and delivers it exactly once, with the same Message-ID."""
import email
import email.policy
import glob
import json
import os
import sqlite3
import subprocess
import time

from harness import (FeedServer, TempDir, case, check, check_eq, check_in, main, rss, run)

SYS_PY = "/usr/bin/python3"
SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_sink.py")
TITLE = "Ir\u00e1k: \u00e9lections \u2014 \u9078\u6319, US troops to leave Iraq"
LINK = "http://news.test/irak-1?a=1&b=2"
ITEMS = [{"guid": "urn:mail:1", "title": TITLE, "link": LINK,
          "description": "Lawmakers voted for the removal of all US troops from Iraq."}]


def aiosmtpd_missing():
    if not os.access(SYS_PY, os.X_OK):
        return "no /usr/bin/python3"
    r = subprocess.run([SYS_PY, "-c", "import aiosmtpd"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return None if r.returncode == 0 else "python3-aiosmtpd cannot be imported (apt-get " \
        "install python3-aiosmtpd)"


class SmtpSink:
    def __init__(self, out, fail_first=0):
        self.out = out
        self.p = subprocess.Popen([SYS_PY, SINK, out, str(fail_first)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        check(line.startswith("PORT "), "the SMTP sink did not start: %r" % line)
        self.port = int(line.split()[1])

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def messages(self):
        out = []
        for j in sorted(glob.glob(os.path.join(self.out, "*.json"))):
            with open(j) as f:
                env = json.load(f)
            with open(j[:-5] + ".eml", "rb") as f:
                env["raw"] = f.read()
            out.append(env)
        return out

    def rejected(self):
        try:
            with open(os.path.join(self.out, "rejected")) as f:
                return int(f.read())
        except FileNotFoundError:
            return 0

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def config(d, feed_url, smtp_url):
    return d.file("herald.lua", """
herald.source "news" { url = "%s", every = "1h" }
herald.notifier "mail" { type = "email", url = "%s", from = "Herald Bot <herald@example.org>",
                         to = "ops@example.org, desk@example.net", retry_min = "1s",
                         subject = "[herald] {{rule}}: {{title}}" }
herald.rule "iraq" { query = 'troop* AND Iraq', notify = "mail" }
""" % (feed_url, smtp_url))


def fetch_once(cfg, state):
    r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60)
    check_eq(r.returncode, 0, "fetch --once status; stderr:\n" + r.stderr)
    return r


def alert_ids(state):
    con = sqlite3.connect(os.path.join(state, "herald.db"))
    try:
        return [row[0] for row in con.execute("SELECT alert_id FROM outbox WHERE notifier = "
                                              "'mail' ORDER BY id")]
    finally:
        con.close()


def check_message(env, alert_id):
    check_eq(env["mail_from"], "herald@example.org", "envelope sender")
    check_eq(env["rcpt_tos"], ["ops@example.org", "desk@example.net"], "envelope recipients")
    raw = env["raw"]
    check(all(len(l) <= 998 for l in raw.split(b"\r\n")), "a line over 998 octets")
    check(b"\n" not in raw.replace(b"\r\n", b""), "bare LF in the message")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check_eq(msg["From"].addresses[0].addr_spec, "herald@example.org", "From address")
    check_eq(msg["From"].addresses[0].display_name, "Herald Bot", "From display name")
    check_eq([a.addr_spec for a in msg["To"].addresses], ["ops@example.org", "desk@example.net"],
             "To")
    check_in("=?UTF-8?B?", raw.split(b"\r\n\r\n")[0].decode("ascii"), "encoded-word subject")
    check_eq(str(msg["Subject"]), "[herald] iraq: " + TITLE, "decoded Subject")
    check_eq(str(msg["Message-ID"]), "<%s@herald>" % alert_id, "Message-ID from the alert id")
    check(msg["Date"].datetime is not None, "Date parses: %r" % msg["Date"])
    check_eq(str(msg["MIME-Version"]), "1.0", "MIME-Version")
    check_eq(msg.get_content_type(), "multipart/alternative", "top-level type")
    parts = list(msg.iter_parts())
    check_eq([p.get_content_type() for p in parts], ["text/plain", "text/html"], "parts")
    for p in parts:
        check_eq(p.get_content_charset(), "utf-8", "part charset")
        check_eq(p["Content-Transfer-Encoding"], "quoted-printable", "part encoding")
    # get_content keeps the CRLF line breaks of the wire format
    text = parts[0].get_content().replace("\r\n", "\n")
    html = parts[1].get_content().replace("\r\n", "\n")
    check(text.startswith(TITLE + "\n"), "text part begins with the title: %r" % text[:200])
    check_in(LINK, text, "link in the text part")
    check_in("[troops]", text, "matched word marked in the text part")
    check_in('href="%s"' % LINK.replace("&", "&amp;"), html, "link in the HTML part")
    check_in("<b>troops</b>", html, "matched word marked in the HTML part")
    check_in("\u9078\u6319", html, "UTF-8 title in the HTML part")


@case
def email_arrives_and_parses():
    why = aiosmtpd_missing()
    if why:
        return "SKIP " + why
    feeds = FeedServer()
    with TempDir() as d:
        os.makedirs(os.path.join(d.path, "sink"))
        sink = SmtpSink(os.path.join(d.path, "sink"))
        try:
            feeds.route("/feed.xml", rss(ITEMS))
            cfg = config(d, feeds.url("/feed.xml"), sink.url())
            state = os.path.join(d.path, "state")
            fetch_once(cfg, state)
            got = sink.messages()
            check_eq(len(got), 1, "messages received")
            ids = alert_ids(state)
            check_eq(len(ids), 1, "alerts queued for the mail notifier")
            check_message(got[0], ids[0])
            fetch_once(cfg, state)
            check_eq(len(sink.messages()), 1, "a second run sends nothing again")
        finally:
            sink.stop()
            feeds.stop()


@case
def email_temporary_failure_is_retried_once():
    why = aiosmtpd_missing()
    if why:
        return "SKIP " + why
    feeds = FeedServer()
    with TempDir() as d:
        os.makedirs(os.path.join(d.path, "sink"))
        sink = SmtpSink(os.path.join(d.path, "sink"), fail_first=1)
        try:
            feeds.route("/feed.xml", rss(ITEMS))
            cfg = config(d, feeds.url("/feed.xml"), sink.url())
            state = os.path.join(d.path, "state")
            r = fetch_once(cfg, state)
            check_eq(sink.rejected(), 1, "the first attempt reached DATA and got 451")
            check_eq(len(sink.messages()), 0, "nothing accepted yet")
            check_in("451", r.stderr, "the SMTP code is in the log")
            check_in("retry", r.stderr, "the alert is kept for a retry")
            time.sleep(1.2)  # retry_min = 1s
            fetch_once(cfg, state)
            got = sink.messages()
            check_eq(len(got), 1, "delivered on the next run")
            check_message(got[0], alert_ids(state)[0])
            time.sleep(1.2)
            fetch_once(cfg, state)
            check_eq(len(sink.messages()), 1, "delivered exactly once")
            check_eq(sink.rejected(), 1, "no further attempts")
        finally:
            sink.stop()
            feeds.stop()


if __name__ == "__main__":
    main()
