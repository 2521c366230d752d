#!/usr/bin/env python3
"""Templates written as Lua functions: `template = function(alert) … end` on a notifier. The
real `herald fetch --once` renders each alert with the user's function and the plugin puts
the result where a template string's text would go, escaped for its format (Slack mrkdwn
here, checked on the JSON a receiver on 127.0.0.1 gets). A function that raises or loops is
reported with file:line and the alert is retried, not lost; a function where a plain string
is required is a config error."""
import json
import os

from harness import (FeedServer, TempDir, WebhookReceiver, case, check, check_eq, check_in, main,
                     rss, run)

ITEMS = [{"guid": "urn:tf:1", "title": "Troops leave Iraq & more > less", "link": "http://news.test/1",
          "description": "US troops are to leave Iraq, lawmakers said."}]


def fetch_once(cfg, state):
    r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60)
    check_eq(r.returncode, 0, "fetch --once; stderr:\n" + r.stderr)
    return r


def world(fn):
    def wrapped():
        feeds, hook = FeedServer(), WebhookReceiver()
        try:
            feeds.route("/feed.xml", rss(ITEMS))
            with TempDir() as d:
                return fn(d, feeds.url("/feed.xml"), hook, os.path.join(d.path, "state"))
        finally:
            feeds.stop()
            hook.stop()
    wrapped.__name__ = fn.__name__
    return wrapped


@case
@world
def lua_template_fills_the_message_escaped_for_the_format(d, feed, hook, state):
    cfg = d.file("herald.lua", """
herald.source "news" { url = "%s" }
herald.notifier "team" { type = "webhook", format = "slack", url = "%s",
  template = function(a)
    local words = select(2, a.text:gsub("%%S+", ""))
    return ("%%s [%%s] (%%d words, %%d evidence)"):format(a.title, a.rule, words, #a.evidence)
  end }
herald.notifier "print" { type = "stdout", template = function(a) return a.title:upper() end }
herald.rule "iraq" { query = "troop* AND Iraq" }
""" % (feed, hook.url()))
    r = fetch_once(cfg, state)
    check_in("TROOPS LEAVE IRAQ & MORE > LESS", r.stdout, "stdout prints the function's text as is")
    got = hook.accepted_json()
    check_eq(len(got), 1, "one Slack message")
    text = json.dumps(got[0])
    check_in("Troops leave Iraq &amp; more &gt; less [iraq] (8 words, ", text,
             "the function's result, escaped for Slack mrkdwn")
    check("more > less" not in text, "no raw angle bracket reaches Slack")


@case
@world
def failing_template_function_is_retried_then_delivered(d, feed, hook, state):
    body = """
herald.source "news" { url = "%s" }
herald.notifier "hook" { type = "webhook", format = "text", url = "%s", retry_min = "1s",
  template = function(a) %s end }
herald.rule "iraq" { query = "troop* AND Iraq" }
"""
    cfg = d.file("herald.lua", body % (feed, hook.url(), 'error("no title today")'))
    r = fetch_once(cfg, state)
    check_in("'template' function: %s:4: no title today" % cfg, r.stderr, "error with file:line")
    check_in("retry 1", r.stderr, "retried, not dropped")
    check_eq(len(hook.received), 0, "nothing sent")
    cfg = d.file("herald.lua", body % (feed, hook.url(), "while true do end"))
    r = fetch_once(cfg, state)
    check_in("instruction budget exceeded", r.stderr, "a runaway function is stopped")
    cfg = d.file("herald.lua", body % (feed, hook.url(), "return {}"))
    r = fetch_once(cfg, state)
    check_in("'template' function returned a table, not a string", r.stderr, "wrong type named")
    cfg = d.file("herald.lua", body % (feed, hook.url(), 'return "fixed: " .. a.title'))
    fetch_once(cfg, state)
    got = [x["body"].decode() for x in hook.accepted()]
    check_eq(got, ["fixed: Troops leave Iraq & more > less"], "delivered once the config is fixed")


@case
def function_where_a_string_is_needed_is_a_config_error():
    with TempDir() as d:
        cfg = d.file("herald.lua", 'herald.notifier "a" { type = "stdout" }\n'
                     'herald.notifier "b" { type = "webhook", url = function() return "x" end }\n')
        r = run(["check", "-c", cfg])
        check_eq(r.returncode, 78, "exit status")
        check_in("herald.lua:2: notifier 'b': 'url' must be a string, got a function", r.stderr,
                 "message")
        cfg = d.file("herald.lua", 'herald.notifier "a" { type = "stdout", template = 42 }\n')
        r = run(["check", "-c", cfg])
        check_in("'template' must be a template string or a function(alert), got a number",
                 r.stderr, "template of the wrong type")


if __name__ == "__main__":
    main()
