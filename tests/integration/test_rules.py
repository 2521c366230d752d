#!/usr/bin/env python3
"""Rules as users write and test them: the example Iraq rules on the seed article and on
real news that is not about the topic, `herald test --check` expectations, and the sandbox:
every forbidden or runaway thing a rule may try is stopped or refused with a message naming
the rule and its file:line, while another rule in the same file still fires."""
import json
import os
import random

from harness import (ROOT, SHARED, TempDir, case, check, check_eq, check_in, main, run)

IRAQ_RULES = os.path.join(ROOT, "scripts", "rules", "iraq.lua")
SEED = os.path.join(ROOT, "scripts", "samples", "iraq-troops-2020-01.txt")


@case
def rule_tests_pass_and_a_miss_fails():
    r = run(["test", "--check", "-c", IRAQ_RULES])
    check_eq(r.returncode, 0, r.stdout + r.stderr)
    check_in("5 expectations: 5 ok, 0 failed", r.stdout)
    with TempDir() as d:
        d.file("seed.txt", open(SEED).read())
        d.file("sport.txt", "Cup final\n\nThe home side won the cup final 2-1 in extra time.\n")
        cfg = d.file("rules.lua", """
herald.rule "sport" { query = 'cup AND final' }
herald.expect { rule = "sport", fires = "sport.txt", not_fires = "seed.txt" }
herald.expect { rule = "sport", fires = "seed.txt" }
""")
        r = run(["test", "--check", "-c", cfg])
        check_eq(r.returncode, 1, "a missed expectation fails")
        check_in("FAIL  sport should fire on %s/seed.txt (%s:4)" % (d.path, cfg), r.stdout)
        check_in("3 expectations: 2 ok, 1 failed", r.stdout)
        bad = d.file("bad.lua", 'herald.expect { rule = "nope", fires = "seed.txt" }\n')
        r = run(["check", "-c", bad])
        check_eq(r.returncode, 78, "expectation on an unknown rule")
        check_in("%s:1: expect: no rule named 'nope'" % bad, r.stderr)


SANDBOX_RULES = r"""
herald.rule "loop"      { match = function(a) while true do end end }
herald.rule "doubling"  { match = function(a) local s = a.text while true do s = s .. s end end }
herald.rule "execute"   { match = function(a) os.execute("touch /tmp/herald-pwned") return true end }
herald.rule "io"        { match = function(a) return io.open("/etc/passwd") ~= nil end }
herald.rule "bytecode"  { match = function(a) return load("\27Lua\84\0\25\147", "x", "b")() end }
herald.rule "dump"      { match = function(a) return string.dump(print) ~= nil end }
herald.rule "sethook"   { match = function(a) debug.sethook() return true end }
herald.rule "throws"    { match = function(a) error("rule blew up on purpose") end }
herald.rule "swallow"   { match = function(a)
    for i = 1, 50 do pcall(function() while true do end end) end
    return true
  end }
herald.rule "good"      { query = 'troop* AND Iraq' }
"""


@case
def sandbox_stops_each_bad_rule_and_the_good_one_still_fires():
    if os.path.exists("/tmp/herald-pwned"):
        os.unlink("/tmp/herald-pwned")
    with TempDir() as d:
        cfg = d.file("rules.lua", SANDBOX_RULES)
        r = run(["test", "--no-color", "-c", cfg, SEED], timeout=120)
        check_eq(r.returncode, 0, "the good rule fired: " + r.stdout + r.stderr)
        check_in("FIRES good", r.stdout)
        check_eq(r.stdout.count("FIRES"), 1, "only the good rule fires:\n" + r.stdout)
        err = r.stderr
        expect = {
            "loop": (2, "instruction budget exceeded"),
            "doubling": (3, "memory limit exceeded"),
            "execute": (4, "attempt to call a nil value (field 'execute')"),
            "io": (5, "attempt to index a nil value (global 'io')"),
            "bytecode": (6, "binary chunks are not allowed"),
            "dump": (7, "attempt to call a nil value (field 'dump')"),
            "sethook": (8, "attempt to index a nil value (global 'debug')"),
            "throws": (9, "rule blew up on purpose"),
            "swallow": (10, "instruction budget exceeded"),
        }
        for rule, (line, words) in expect.items():
            prefix = "rule %s (%s:%d): " % (rule, cfg, line)
            lines = [l for l in err.splitlines() if prefix in l]
            check(lines, "no message naming rule %s at line %d in:\n%s" % (rule, line, err))
            check_in(words, lines[0], "rule " + rule)
        check(not os.path.exists("/tmp/herald-pwned"), "os.execute must not run")


@case
def a_rule_that_keeps_failing_is_disabled():
    with TempDir() as d:
        cfg = d.file("rules.lua", """
herald.rule "flaky" { match = function(a) error("always") end }
herald.rule "good"  { query = 'troops' }
""")
        items = "".join("<item><guid>%d</guid><title>Troops %d</title>"
                        "<description>troops</description></item>" % (i, i) for i in range(8))
        feed = d.file("feed.xml", '<rss version="2.0"><channel><title>t</title>%s'
                      "</channel></rss>" % items)
        r = run(["test", "-c", cfg, feed])
        check_eq(r.stdout.count("FIRES good"), 8, "the good rule fires on every item")
        check_eq(r.stderr.count("rule flaky"), 5, "five failures are logged, then it stops")
        check_in("disabled after repeated failures", r.stderr)


def corpus_articles():
    path = os.path.join(SHARED, "corpus")
    if not os.path.isdir(path):
        return None
    arts = []
    for name in sorted(os.listdir(path)):
        if name.endswith(".jsonl"):
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for line in f:
                    a = json.loads(line)
                    arts.append(a)
    return arts


@case
def iraq_rule_stays_quiet_on_news_about_other_things():
    arts = corpus_articles()
    if arts is None:
        return "SKIP ../shared/data/corpus is absent"
    rng = random.Random(20200106)
    off = [a for a in arts if "iraq" not in (a.get("title", "") + a.get("text", "")).lower()]
    sample = rng.sample(off, 600)
    from xml.sax.saxutils import escape
    items = "".join("<item><guid>%s</guid><title>%s</title><description>%s</description></item>"
                    % (escape(a["id"]), escape(a.get("title") or ""), escape(a.get("text") or ""))
                    for a in sample)
    with TempDir() as d:
        feed = d.file("sample.xml", '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0">'
                      "<channel><title>corpus sample</title>%s</channel></rss>" % items)
        r = run(["test", "--json", "-c", IRAQ_RULES, feed], timeout=120)
        check(r.returncode in (0, 1), r.stderr)
        doc = json.loads(r.stdout)
        check_eq(len(doc), 600, "every sampled article was read")
        fired = [(x["title"], y["rule"]) for x in doc for y in x["rules"]
                 if y["rule"] == "iraq-withdrawal"]
        check_eq(fired, [], "iraq-withdrawal fired on off-topic articles")
        # And the same rule does find the topic in the real corpus.
        on = [a for a in arts if "iraq" in (a.get("text") or "").lower()
              and "troop" in (a.get("text") or "").lower()
              and any(w in (a.get("text") or "").lower() for w in ("withdraw", "pull out"))]
        if on:
            items = "".join("<item><guid>%s</guid><title>%s</title><description>%s</description>"
                            "</item>" % (escape(a["id"]), escape(a.get("title") or ""),
                                         escape(a.get("text") or "")) for a in on[:50])
            feed = d.file("on.xml", '<rss version="2.0"><channel><title>on</title>%s'
                          "</channel></rss>" % items)
            r = run(["test", "--json", "-c", IRAQ_RULES, feed], timeout=120)
            doc = json.loads(r.stdout)
            hits = sum(1 for x in doc if any(y["rule"] == "iraq-withdrawal" for y in x["rules"]))
            check(hits >= len(doc) * 0.5, "fires on %d of %d on-topic articles" % (hits, len(doc)))


if __name__ == "__main__":
    main()
