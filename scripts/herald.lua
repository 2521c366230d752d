-- herald's default config: it runs without internet, on the sample feeds bundled in
-- scripts/samples/. `make run` starts herald on it; copy it to ~/.config/herald/herald.lua
-- and add real outlets' feeds to watch the news (see the README).

-- The starter library of concepts (withdrawal, attack, sanctions, …) for @name in queries.
require "herald.concepts"

-- Sources: local sample feeds (paths are relative to this file).
herald.source "world-sample"   { path = "samples/world.xml",     every = "1m" }
herald.source "science-sample" { path = "samples/science.atom",  every = "1m" }

-- Real outlets, when you have internet (uncomment):
-- herald.source "bbc-world"  { url = "https://feeds.bbci.co.uk/news/world/rss.xml", every = "5m" }
-- herald.source "aljazeera"  { url = "https://www.aljazeera.com/xml/rss/all.xml", every = "10m" }

-- Notifiers: print alerts, and keep them as JSON Lines in the state directory.
herald.notifier "console" { type = "stdout" }
herald.notifier "log"     { type = "file", path = herald.state_dir .. "/alerts.jsonl" }
-- herald.notifier "hook" { type = "webhook", url = "http://127.0.0.1:9000/alerts" }

-- Rules: the example pack that flags the seed article (US troops asked to leave Iraq).
require "rules.iraq"
