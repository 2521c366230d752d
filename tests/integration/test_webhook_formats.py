#!/usr/bin/env python3
"""Every native webhook format, end to end: the real `herald fetch --once` reads a feed from
127.0.0.1 and delivers two alerts to one webhook notifier per format, all pointed at one
WebhookReceiver. For each format the test checks the JSON shape the service documents
(required fields, their types, its length limits with a deliberately huge article, the title
escaped for its markup), the Idempotency-Key header, and the X-Herald-Signature header
recomputed here with hmac + hashlib over the raw body. Matrix must arrive as a PUT whose
transaction id is the alert id; the Telegram and Matrix tokens must never reach the log."""
import email.header
import hashlib
import hmac
import json
import os
import re

from harness import (FeedServer, TempDir, WebhookReceiver, case, check, check_eq, check_in,
                     main, rss, run)

SECRET = "s3cret-k\u00e9y"
TG_TOKEN = "123456:ABC-def_ghi"
MX_TOKEN = "syt_matrix_SeCrEt"
ROOM = "!RoomA:example.org"
TITLE = 'Troops 2<3 & 5>4 "home" *now* _x_ [y](z) @channel \U0001F4F0 in Iraq <<'
BIG_TITLE = "Iraq troops leave \U0001F4F0 <&> " * 300
BIG_TEXT = "The motion calls for the removal of all US troops from Iraq & <more>. " * 3000

ITEMS = [
    {"guid": "urn:fmt:1", "title": TITLE, "link": "http://news.test/iraq-1",
     "description": BIG_TEXT},
    {"guid": "urn:fmt:2", "title": BIG_TITLE, "link": "http://news.test/iraq-2",
     "description": "Officials said troops would leave Iraq within weeks."},
]

FORMATS = ["json", "slack", "discord", "mattermost", "teams", "ntfy", "gotify", "matrix",
           "telegram", "text"]


def units(s):
    """UTF-16 code units: what Discord, Telegram and Slack count."""
    return len(s.encode("utf-16-le")) // 2


def mrkdwn(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown(s, chars="\\*_~`|[]<>#"):
    return "".join("\\" + c if c in chars else c for c in s)


def html(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def config(d, feed_url, hook):
    lines = [
        'herald.concept "leaving" { "leave", "withdraw*", "pull out", "removal", "remove" }',
        'herald.source "news" { url = "%s", every = "1h" }' % feed_url,
    ]
    extra = {
        "gotify": 'token = "AbCdEf", priority = 8,',
        "matrix": 'token = "%s", room = "%s",' % (MX_TOKEN, ROOM),
        "telegram": 'token = "%s", chat_id = "-1001234567890",' % TG_TOKEN,
        "ntfy": "priority = 4,",
    }
    for f in FORMATS:
        url = {"matrix": hook.url(""), "telegram": hook.url(""),
               "gotify": hook.url("/gotify")}.get(f, hook.url("/" + f))
        lines.append('herald.notifier "%s" { type = "webhook", format = "%s", url = "%s", '
                     'secret = "%s", %s }' % (f, f, url, SECRET, extra.get(f, "")))
    # A template five summaries long: more than Telegram's 4096, so herald must cut it.
    lines.append('herald.notifier "tgtpl" { type = "webhook", format = "telegram", url = "%s", '
                 'token = "%s", chat_id = "@herald_news", secret = "%s", template = %s }'
                 % (hook.url("/tpl"), TG_TOKEN, SECRET, json.dumps("<b>{{title}}</b>\n" +
                                                           "<i>{{summary}}</i>\n" * 5)))
    lines.append('herald.rule "iraq-troops" { query = \'(troop* NEAR/8 @leaving) AND Iraq\', '
                 'notify = { %s, "tgtpl" } }' % ", ".join('"%s"' % f for f in FORMATS))
    return d.file("herald.lua", "\n".join(lines) + "\n")


def by_format(received):
    """The requests of each format, told apart by their path."""
    out = {f: [] for f in FORMATS + ["tgtpl"]}
    for r in received:
        p = r["path"]
        if p.startswith("/tpl/"):
            out["tgtpl"].append(r)
        elif p.startswith("/_matrix/"):
            out["matrix"].append(r)
        elif p.startswith("/bot"):
            out["telegram"].append(r)
        elif p.startswith("/gotify"):
            out["gotify"].append(r)
        else:
            out[p.strip("/")].append(r)
    return out


def check_common(f, r):
    """Idempotency key and signature on every request."""
    key = r["headers"].get("Idempotency-Key", "")
    check(re.fullmatch(r"[0-9a-f]{16,64}", key) is not None, "%s: Idempotency-Key %r" % (f, key))
    want = "sha256=" + hmac.new(SECRET.encode(), r["body"], hashlib.sha256).hexdigest()
    check_eq(r["headers"].get("X-Herald-Signature"), want, "%s: signature over the raw body" % f)
    return key


def check_json_format(reqs, titles):
    for r in reqs:
        a = json.loads(r["body"])
        check_eq(a["id"], check_common("json", r), "json: the key is the alert id")
        check_in(a["article"]["title"], titles, "json: title as herald read it")
        check_eq(r["headers"].get("Content-Type"), "application/json", "json: content type")


def check_slack(reqs, title):
    for r in reqs:
        check_common("slack", r)
        b = json.loads(r["body"])
        check_eq(sorted(b), ["blocks", "text"], "slack: top-level fields")
        check(isinstance(b["text"], str) and b["blocks"], "slack: text and blocks")
        for blk in b["blocks"]:
            check_eq(blk["type"], "section", "slack: block type")
            check_eq(blk["text"]["type"], "mrkdwn", "slack: text object type")
            check(units(blk["text"]["text"]) <= 3000, "slack: section text over 3000")
    check(any(json.loads(r["body"])["text"].endswith(mrkdwn(title)) for r in reqs),
          "slack: no message with the escaped title %r" % mrkdwn(title))


def check_discord(reqs, title):
    seen = False
    for r in reqs:
        check_common("discord", r)
        b = json.loads(r["body"])
        check(isinstance(b["content"], str) and units(b["content"]) <= 2000, "discord: content")
        check_eq(len(b["embeds"]), 1, "discord: one embed")
        e = b["embeds"][0]
        check(units(e["title"]) <= 256, "discord: embed title over 256")
        check(units(e.get("description", "")) <= 4096, "discord: description over 4096")
        check(units(e["footer"]["text"]) <= 2048, "discord: footer over 2048")
        total = units(e["title"]) + units(e.get("description", "")) + units(e["footer"]["text"])
        check(total <= 6000, "discord: embed text over 6000")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["timestamp"]) is not None,
              "discord: ISO 8601 timestamp")
        check(e["url"].startswith("http://news.test/"), "discord: url")
        check_eq(b["allowed_mentions"], {"parse": []}, "discord: mentions disabled")
        seen = seen or e["title"] == markdown(title)
    check(seen, "discord: the escaped title %r" % markdown(title))


def check_mattermost(reqs, title):
    want = "[" + markdown(title).replace("@", "@\u200b") + "](http://news.test/iraq-1)"
    for r in reqs:
        check_common("mattermost", r)
        b = json.loads(r["body"])
        check_eq(list(b), ["text"], "mattermost: fields")
        check(units(b["text"]) <= 16383, "mattermost: text over 16383")
    check(any(want in json.loads(r["body"])["text"] for r in reqs),
          "mattermost: escaped, mention-proof title %r" % want)


def check_teams(reqs, title):
    seen = False
    for r in reqs:
        check_common("teams", r)
        check(len(r["body"]) <= 28000, "teams: message over 28 KB")
        b = json.loads(r["body"])
        check_eq(b["type"], "message", "teams: type")
        check_eq(len(b["attachments"]), 1, "teams: one attachment")
        a = b["attachments"][0]
        check_eq(a["contentType"], "application/vnd.microsoft.card.adaptive", "teams: type")
        check("contentUrl" in a and a["contentUrl"] is None, "teams: contentUrl null")
        c = a["content"]
        check_eq((c["type"], c["version"]), ("AdaptiveCard", "1.2"), "teams: card")
        check_eq(c["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json", "schema")
        for blk in c["body"]:
            check_eq(blk["type"], "TextBlock", "teams: block type")
            check(isinstance(blk["text"], str) and blk["wrap"] is True, "teams: text blocks")
        check_eq(c["actions"][0]["type"], "Action.OpenUrl", "teams: open action")
        seen = seen or c["body"][1]["text"] == markdown(title, "\\*_[]")
    check(seen, "teams: the escaped title")


def check_ntfy(reqs, titles):
    for r in reqs:
        check_common("ntfy", r)
        check(len(r["body"]) <= 4096, "ntfy: body over 4096 bytes")
        r["body"].decode("utf-8")
        check_eq(r["headers"].get("Content-Type"), "text/plain; charset=utf-8", "ntfy: type")
        check_eq(r["headers"].get("Priority"), "4", "ntfy: priority")
        raw = r["headers"]["Title"]
        decoded = str(email.header.make_header(email.header.decode_header(raw)))
        check(decoded in titles or decoded.endswith("\u2026"), "ntfy: title %r" % decoded)
        check(r["headers"].get("Click", "").startswith("http://news.test/"), "ntfy: click")


def check_gotify(reqs, title):
    for r in reqs:
        check_common("gotify", r)
        check_eq(r["path"], "/gotify/message", "gotify: POST /message")
        check_eq(r["headers"].get("X-Gotify-Key"), "AbCdEf", "gotify: token header")
        b = json.loads(r["body"])
        check(isinstance(b["title"], str) and isinstance(b["message"], str), "gotify: strings")
        check(units(b["message"]) <= 4096, "gotify: message length")
        check(type(b["priority"]) is int and b["priority"] == 8, "gotify: integer priority")
        check_eq(b["extras"]["client::display"], {"contentType": "text/markdown"}, "display")
        check(b["extras"]["client::notification"]["click"]["url"].startswith("http://news.test/"),
              "gotify: click url")
    check(any(json.loads(r["body"])["title"] == "[herald] iraq-troops: " + title for r in reqs),
          "gotify: plain title")


def check_matrix(reqs, title):
    prefix = "/_matrix/client/v3/rooms/%21RoomA%3Aexample.org/send/m.room.message/"
    for r in reqs:
        key = check_common("matrix", r)
        check_eq(r["method"], "PUT", "matrix: method")
        check_eq(r["path"], prefix + key, "matrix: the txnId is the alert id")
        check_eq(r["headers"].get("Authorization"), "Bearer " + MX_TOKEN, "matrix: auth")
        check(len(r["body"]) <= 65536, "matrix: event over 64 KiB")
        b = json.loads(r["body"])
        check_eq(b["msgtype"], "m.notice", "matrix: msgtype")
        check_eq(b["format"], "org.matrix.custom.html", "matrix: format")
        check(isinstance(b["body"], str) and isinstance(b["formatted_body"], str), "strings")
    check(any(">" + html(title) + "</a>" in json.loads(r["body"])["formatted_body"]
              for r in reqs), "matrix: HTML-escaped title")


TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                 "tg-spoiler", "a", "tg-emoji", "code", "pre", "blockquote"}


def check_telegram(reqs, title, prefix="", chat=-1001234567890):
    for r in reqs:
        check_common("telegram", r)
        check_eq(r["path"], prefix + "/bot%s/sendMessage" % TG_TOKEN, "telegram: method URL")
        b = json.loads(r["body"])
        check(type(b["chat_id"]) is type(chat) and b["chat_id"] == chat, "chat_id type")
        check_eq(b["parse_mode"], "HTML", "telegram: parse_mode")
        t = b["text"]
        check(1 <= units(t) <= 4096, "telegram: text of %d units" % units(t))
        tags = re.findall(r"</?([a-z-]+)", t)
        check(set(tags) <= TELEGRAM_TAGS, "telegram: only allowed tags: %r" % set(tags))
        for tag in set(tags):
            opened = len(re.findall(r"<%s[ >]" % re.escape(tag), t))
            check_eq(opened, t.count("</%s>" % tag), "telegram: <%s> balanced" % tag)
        bare = re.sub(r"<[^>]*>", "", t)
        check(re.search(r"&(?!(amp|lt|gt|quot|#\d+);)", bare) is None, "telegram: bare &")
        check("<" not in bare and ">" not in bare, "telegram: bare < or >")
        check(b["link_preview_options"]["url"].startswith("http://news.test/"), "preview")
    if prefix:  # the template: cut within the limit, the open <i> closed after the ellipsis
        check(any(units(json.loads(r["body"])["text"]) > 4000 and
                  json.loads(r["body"])["text"].endswith("\u2026</i>") for r in reqs),
              "telegram template cut at the limit")
        return
    check(any(">" + html(title) + "</a>" in json.loads(r["body"])["text"] for r in reqs),
          "telegram: HTML-escaped title")


@case
def every_native_format_has_the_documented_shape():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/feed.xml", rss(ITEMS))
        with TempDir() as d:
            cfg = config(d, feeds.url("/feed.xml"), hook)
            r = run(["fetch", "--once", "-c", cfg, "--state", os.path.join(d.path, "state")],
                    timeout=90)
            check_eq(r.returncode, 0, "fetch --once; stderr:\n" + r.stderr[-3000:])
            check(TG_TOKEN.split(":")[1] not in r.stderr, "telegram token in the log")
            check(MX_TOKEN not in r.stderr, "matrix token in the log")
            got = by_format(hook.received)
            for f in FORMATS:
                check_eq(len(got[f]), 2, "%s: one request per alert" % f)
            # The title as herald read it from the feed: what every format must escape.
            titles = [json.loads(x["body"])["article"]["title"] for x in got["json"]]
            title = next((t for t in titles if "Troops" in t), None)
            check(title is not None, "the hostile item alerted: %r" % titles)
            for c in "<>&\"*_[@":
                check_in(c, title, "the title keeps its markup characters")
            check_json_format(got["json"], titles)
            check_slack(got["slack"], title)
            check_discord(got["discord"], title)
            check_mattermost(got["mattermost"], title)
            check_teams(got["teams"], title)
            check_ntfy(got["ntfy"], titles)
            check_gotify(got["gotify"], title)
            check_matrix(got["matrix"], title)
            check_telegram(got["telegram"], title)
            check_eq(len(got["tgtpl"]), 2, "tgtpl: one request per alert")
            check_telegram(got["tgtpl"], title, "/tpl", "@herald_news")
            for x in got["text"]:
                check_common("text", x)
                check_in("[herald] ALERT iraq-troops: ", x["body"].decode(), "text block")
            # The key is the alert's: both alerts reach every format, each with its own key.
            want = {x["headers"]["Idempotency-Key"] for x in got["json"]}
            check_eq(len(want), 2, "two alerts, two keys")
            for f in FORMATS + ["tgtpl"]:
                check_eq({x["headers"]["Idempotency-Key"] for x in got[f]}, want, f + ": keys")
    finally:
        feeds.stop()
        hook.stop()


if __name__ == "__main__":
    main()
