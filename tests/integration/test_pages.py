#!/usr/bin/env python3
"""Sources of kind "page": a section page's story links are each fetched once and read as
articles (their main text, not the menus), an article page is read as one article, and a
real news page from the shared corpus is matched on its extracted text."""
import json
import os

from harness import (FIXTURES, SHARED, FeedServer, TempDir, WebhookReceiver, case, check,
                     check_eq, check_in, main, run)

SITE = os.path.join(FIXTURES, "site")


def article(title, body):
    return ("<!DOCTYPE html><html lang=\"en\"><head><title>%s</title>"
            "<meta property=\"og:type\" content=\"article\"></head><body>"
            "<nav><a href=\"/\">Home</a> <a href=\"/press/\">Press releases</a> Flood menu</nav>"
            "<article><h1>%s</h1><p>%s</p></article>"
            "<footer>Flood of cookies notice</footer></body></html>" % (title, title, body))


def serve_site(feeds):
    html = {"Content-Type": "text/html; charset=utf-8"}
    feeds.route("/press/", open(os.path.join(SITE, "index.html")).read(), headers=html)
    feeds.route("/press/story-2.html", open(os.path.join(SITE, "story-2.html")).read(),
                headers=html)
    feeds.route("/press/2020/01/06/minister-statement-on-troop-presence",
                article("Minister's statement on the presence of foreign troops",
                        "The minister said foreign troops would leave the country by March."),
                headers=html)
    feeds.route("/press/2020/01/04/budget-consultation-opens-today",
                article("Budget consultation opens for public comment today",
                        "Citizens may comment on the draft budget until the end of the month."),
                headers=html)


def fetched_paths(feeds):
    return [p for p, _ in feeds.requests]


@case
def section_page_links_become_articles_fetched_once():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        serve_site(feeds)
        with TempDir() as d:
            cfg = d.file("herald.lua", """
herald.source "ministry" { url = "%s", kind = "page" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "floods" { query = 'flood*' }
herald.rule "troops" { query = 'troops NEAR/5 leave' }
""" % (feeds.url("/press/"), hook.url()))
            state = os.path.join(d.path, "state")
            r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60)
            check_eq(r.returncode, 0, r.stderr)
            check_in("section page with 3 story links, 3 new to fetch", r.stderr)
            got = {a["rule"]: a for a in hook.accepted_json()}
            check_eq(sorted(got), ["floods", "troops"], "alerts: " + r.stderr)
            flood = got["floods"]["article"]
            check_eq(flood["title"], "Ministry announces new flood relief fund",
                     "title from the article page's <title>")
            check_eq(flood["link"], feeds.url("/press/story-2.html"), "link")
            check_eq(flood["published"], "2020-01-05T10:00:00Z", "date from the page's meta")
            for a in hook.accepted_json():
                check("menu" not in a["article"]["text"] and "cookies" not in
                      a["article"]["text"], "menus stay out of the text: %r" % a["article"]["text"])
            n_requests = len(feeds.requests)
            # Second poll: the section is read again, the stories are not.
            r = run(["fetch", "--once", "-c", cfg, "--state", state], timeout=60)
            check_eq(r.returncode, 0, r.stderr)
            new = fetched_paths(feeds)[n_requests:]
            check_eq(new, ["/press/"], "only the section page is fetched again")
            check_eq(len(hook.accepted_json()), 2, "no repeated alerts")
    finally:
        feeds.stop()
        hook.stop()


@case
def article_page_is_one_article():
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        serve_site(feeds)
        with TempDir() as d:
            cfg = d.file("herald.lua", """
herald.source "story" { url = "%s", kind = "page" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "floods" { query = 'flood*' }
""" % (feeds.url("/press/story-2.html"), hook.url()))
            r = run(["fetch", "--once", "-c", cfg, "--state", os.path.join(d.path, "s")])
            check_eq(r.returncode, 0, r.stderr)
            got = hook.accepted_json()
            check_eq(len(got), 1, "one alert: " + r.stderr)
            check_in("relief fund for households", got[0]["article"]["text"])
            check_eq(fetched_paths(feeds), ["/press/story-2.html"], "no link is followed")
    finally:
        feeds.stop()
        hook.stop()


@case
def real_news_page_is_matched_on_its_text():
    src = os.path.join(SHARED, "pages", "readability-bbc-1", "source.html")
    if not os.path.exists(src):
        return "SKIP ../shared/data/pages is absent"
    feeds, hook = FeedServer(), WebhookReceiver()
    try:
        feeds.route("/news/world-us-canada-33646704", open(src, "rb").read(),
                    headers={"Content-Type": "text/html; charset=utf-8"})
        with TempDir() as d:
            cfg = d.file("herald.lua", """
herald.source "bbc" { url = "%s", kind = "page" }
herald.notifier "hook" { type = "webhook", url = "%s" }
herald.rule "guns" { query = '"gun control" AND Obama' }
""" % (feeds.url("/news/world-us-canada-33646704"), hook.url()))
            r = run(["fetch", "--once", "-c", cfg, "--state", os.path.join(d.path, "s")])
            check_eq(r.returncode, 0, r.stderr)
            got = hook.accepted_json()
            check_eq(len(got), 1, r.stderr)
            check_in("gun laws", got[0]["article"]["title"])
            check(any(e["match"].lower() == "gun control" for e in got[0]["evidence"]),
                  "evidence: %r" % got[0]["evidence"])
    finally:
        feeds.stop()
        hook.stop()


if __name__ == "__main__":
    main()
