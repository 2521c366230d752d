#!/usr/bin/python3
"""A tiny SMTP sink for the email tests, run with Debian's /usr/bin/python3 (which has
python3-aiosmtpd): `smtp_sink.py OUTDIR [FAIL_FIRST]` listens on 127.0.0.1, prints
"PORT <n>" once ready, and stores each accepted message as OUTDIR/<n>.eml with its envelope in
OUTDIR/<n>.json. The first FAIL_FIRST messages are answered "451 4.3.0" at the end of DATA
(a temporary failure) and counted in OUTDIR/rejected. Runs until killed or stdin closes.
"""
import json
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, fail_first):
        self.out = out
        self.fail_left = fail_first
        self.n = 0
        self.rejected = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            self.rejected += 1
            with open(os.path.join(self.out, "rejected"), "w") as f:
                f.write(str(self.rejected))
            return "451 4.3.0 Temporary failure, try again later"
        self.n += 1
        base = os.path.join(self.out, "%03d" % self.n)
        with open(base + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 OK queued"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    out = sys.argv[1]
    fail_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    port = free_port()
    c = Controller(Sink(out, fail_first), hostname="127.0.0.1", port=port)
    c.start()
    print("PORT %d" % port, flush=True)
    try:
        while sys.stdin.read(1):
            time.sleep(0.1)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
