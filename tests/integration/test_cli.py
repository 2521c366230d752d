#!/usr/bin/env python3
"""The command line as a user meets it: help, versions, config errors reported like a
compiler (file:line: message, exit 78), `herald parse` on feeds and non-feeds, and
`herald test` explaining why the example rules fire on the seed article."""
import json
import os
import re

from harness import (FIXTURES, ROOT, TempDir, case, check, check_eq, check_in, main, run)

CFG = os.path.join(FIXTURES, "config")
SEED = os.path.join(ROOT, "scripts", "samples", "iraq-troops-2020-01.txt")
DEFAULT = os.path.join(ROOT, "scripts", "herald.lua")


@case
def version_and_help():
    r = run(["--version"])
    check_eq(r.returncode, 0, "--version status")
    check(re.match(r"herald \d+\.\d+\.\d+", r.stdout), "version line: %r" % r.stdout)
    r = run(["--help"])
    check_eq(r.returncode, 0, "--help status")
    for cmd in ("run", "fetch --once", "test", "parse", "check"):
        check_in(cmd, r.stdout, "top-level help lists " + cmd)
    for cmd, words in (("run", "SIGHUP"), ("fetch", "--once"), ("test", "Exit status"),
                       ("parse", "--json"), ("check", "file:line")):
        r = run([cmd, "--help"])
        check_eq(r.returncode, 0, cmd + " --help status")
        check_in(words, r.stdout, cmd + " --help text")


@case
def usage_errors_exit_64():
    r = run(["frobnicate"])
    check_eq(r.returncode, 64, "unknown command")
    check_in("unknown command 'frobnicate'", r.stderr)
    r = run(["parse", "--bogus", "x"])
    check_eq(r.returncode, 64, "unknown option")
    check_in("unknown option '--bogus'", r.stderr)
    r = run(["test", "-c", DEFAULT])
    check_eq(r.returncode, 64, "test without files")


def check_config_error(name, line, words):
    path = os.path.join(CFG, name)
    r = run(["check", "-c", path])
    check_eq(r.returncode, 78, name + " exit status")
    first = r.stderr.strip().splitlines()[0]
    check(first.startswith("%s:%d: " % (path, line)),
          "%s: expected '%s:%d: …', got %r" % (name, path, line, first))
    for w in words:
        check_in(w, first, name)


@case
def check_reports_lua_syntax_error_with_file_line():
    check_config_error("syntax-error.lua", 6, ["'}' expected"])


@case
def check_reports_unknown_notifier_with_file_line():
    check_config_error("unknown-notifier.lua", 4, ["slack-team", "not a declared notifier"])


@case
def check_suggests_the_key_meant():
    check_config_error("typo-key.lua", 2, ["unknown key 'qurey'", "did you mean 'query'"])


@case
def check_points_at_the_query_column():
    check_config_error("bad-query.lua", 3, ["query: expected ')' at col 28"])


@case
def check_rejects_bad_duration():
    check_config_error("bad-duration.lua", 1, ["not a duration", "5 minutes"])


@case
def check_asks_the_plugins_about_their_values():
    path = os.path.join(CFG, "bad-plugin-values.lua")
    r = run(["check", "-c", path])
    check_eq(r.returncode, 78, "exit status")
    lines = r.stderr.strip().splitlines()
    check_in("%s:2: notifier 'hook': webhook: url must start with http://" % path, lines[0])
    check_in("%s:3: notifier 'out': stdout: format must be" % path, lines[1])


@case
def check_accepts_valid_configs():
    for path in (os.path.join(CFG, "good.lua"), DEFAULT):
        r = run(["check", "-c", path])
        check_eq(r.returncode, 0, path + ": " + r.stderr)
        check_in("OK", r.stdout)
    r = run(["check", "-c", "/nonexistent/herald.lua"])
    check_eq(r.returncode, 78, "missing config")
    check_in("/nonexistent/herald.lua: cannot open config", r.stderr)


@case
def parse_non_feed_exits_65():
    for name, why in (("pixel.png", "PNG"), ("prose.txt", "plain text")):
        r = run(["parse", os.path.join(FIXTURES, "feeds-basic", name)])
        check_eq(r.returncode, 65, name)
        check_eq(len(r.stderr.strip().splitlines()), 1, "one-line message")
        check_in(why, r.stderr, name)
    r = run(["parse", "/nonexistent.xml"])
    check_eq(r.returncode, 66, "missing file")


@case
def parse_json_schema():
    r = run(["parse", "--json", os.path.join(ROOT, "scripts", "samples", "world.xml")])
    check_eq(r.returncode, 0, r.stderr)
    doc = json.loads(r.stdout)
    check_eq(sorted(doc), ["bozo", "feed", "format", "items"], "top-level keys")
    check_eq(doc["format"], "rss2.0", "format")
    check_eq(doc["bozo"], False, "bozo")
    check_eq(sorted(doc["feed"]), sorted(["title", "link", "description", "language", "updated",
                                          "author", "generator", "image"]), "feed keys")
    check_eq(doc["feed"]["title"], "Example World News (sample)", "feed title")
    check_eq(len(doc["items"]), 4, "items")
    it = doc["items"][0]
    check_eq(sorted(it), sorted(["id", "title", "link", "published", "updated", "author",
                                 "summary", "content", "categories", "enclosures"]), "item keys")
    check_eq(it["published"], "2020-01-06T09:30:00Z", "date in UTC")
    check_eq(it["link"], "https://news.example.org/world/2020/01/06/iraq-parliament-us-troops",
             "link")
    check_eq(it["categories"], ["Middle East"], "categories")
    check("<p>" not in (it["summary"] or ""), "summary is plain text")
    check_in("removal of all US troops", it["summary"], "summary text")
    # The readable form names the same things.
    r = run(["parse", os.path.join(ROOT, "scripts", "samples", "world.xml")])
    check_eq(r.returncode, 0)
    check_in("rss2.0", r.stdout)
    check_in("2020-01-04T22:45:00Z", r.stdout)


@case
def test_fires_on_the_seed_with_evidence():
    r = run(["test", "--no-color", "-c", DEFAULT, SEED])
    check_eq(r.returncode, 0, r.stderr)
    out = r.stdout
    check_in("FIRES iraq-withdrawal", out)
    check_in("FIRES soleimani", out)
    check_in("[removal] of all US [troops]", out, "evidence highlighted")
    check_in("US [troops] to [leave]", out, "second piece of evidence")
    check_in("[Solemani]", out, "the misspelt name is found by ~1")


@case
def test_json_output_and_quiet_article():
    r = run(["test", "--json", "-c", DEFAULT, SEED])
    check_eq(r.returncode, 0, r.stderr)
    doc = json.loads(r.stdout)
    rules = {x["rule"]: x for x in doc[0]["rules"]}
    check_eq(sorted(rules), ["iraq-withdrawal", "soleimani"], "firing rules")
    ev = rules["iraq-withdrawal"]["evidence"]
    matches = {e["match"] for e in ev}
    check("removal" in matches and "troops" in matches, "evidence words: %r" % matches)
    text = open(SEED).read()
    for e in ev:
        if e["field"] == "text":
            check_eq(text.encode()[e["start"]:e["end"]].decode(), e["match"], "byte span")
    with TempDir() as d:
        quiet = d.file("floods.txt", "Floods in the north\n\nRiver levels peaked overnight "
                       "and flood barriers held across the region.\n")
        r = run(["test", "-c", DEFAULT, quiet])
        check_eq(r.returncode, 1, "no rule fires: exit 1")
        check_in("no rule fires", r.stdout)
        check_in("Floods in the north", r.stdout, "title from the first line")


@case
def test_on_a_feed_runs_every_item():
    r = run(["test", "--no-color", "-c", DEFAULT,
             os.path.join(ROOT, "scripts", "samples", "world.xml")])
    check_eq(r.returncode, 0, r.stderr)
    check_eq(r.stdout.count("FIRES iraq-withdrawal"), 1, "fires once, on the seed item")
    check_eq(r.stdout.count("(no rule fires)"), 3, "the other three items stay quiet")


if __name__ == "__main__":
    main()
