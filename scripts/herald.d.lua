---@meta herald
-- Annotations of herald's Lua API for lua-language-server (LuaLS): completion, hover docs
-- and type checks while you write a config or a rule pack. Point your editor at this file:
-- a `.luarc.json` next to your config with
--   { "workspace.library": ["/usr/local/share/herald"], "runtime.version": "Lua 5.4" }
-- (or the scripts/ folder of a source checkout). This file is never run.

---A duration: "90s", "5m", "2h", "1d", "1h30m", or a number of seconds.
---@alias herald.duration string|number

---@class herald.SourceSpec
---@field url? string http://, https:// or file:// URL of a feed or page
---@field path? string a local file instead of url (relative to the config's folder)
---@field kind? "feed"|"page" "feed" (default; an HTML page is read as one article) or "page"
---@field every? herald.duration poll interval (default herald.options.every, 15m); adapts within min_every..max_every
---@field min_every? herald.duration lower bound of the adaptive interval
---@field max_every? herald.duration upper bound of the adaptive interval
---@field lang? string language of the articles for stemming ("en", "de", …)
---@field timeout? herald.duration total time one fetch may take (60s)
---@field connect_timeout? herald.duration time to connect (15s)
---@field max_bytes? integer largest body accepted (16 MiB)
---@field insecure? boolean skip TLS verification (logged as a warning)
---@field proxy? string proxy URL for this source
---@field user_agent? string User-Agent for this source
---@field enabled? boolean false: declared but not polled
---@field name? string the name, in the single-table form herald.source { name = … }

---@class herald.NotifierSpec
---@field type "stdout"|"file"|"webhook"|string a notifier plugin (`herald plugins` lists them)
---@field retry_min? herald.duration first retry delay (10s)
---@field retry_max? herald.duration back-off cap (1h)
---@field give_up_after? herald.duration after this an undeliverable alert is kept as dead (7d)
---@field throttle? herald.duration at most one message per window; the rest folded into the next
---@field digest? herald.duration collect alerts over this window into one message
---@field quiet? string quiet hours, local time "HH:MM-HH:MM" (e.g. "22:00-07:00"): held, then one digest
---@field format? string stdout: "text"|"json"; webhook: "json"|"slack"|"discord"|"ntfy"|"text"
---@field template? string|fun(alert: herald.Alert): string webhook, stdout: the message text, "{{title}} {{link}}…" or a function
---@field subject? string|fun(alert: herald.Alert): string email: the subject template
---@field summary? string|fun(alert: herald.Alert): string desktop: the notification's title line
---@field body? string|fun(alert: herald.Alert): string desktop: the body instead of the evidence
---@field path? string file: the JSON Lines file
---@field fsync? boolean file: fsync after each line (true)
---@field url? string webhook: the endpoint
---@field headers? table<string, string> webhook: extra headers
---@field timeout? herald.duration webhook: request timeout (15s)
---@field secret? string webhook: HMAC-SHA256 signature secret
---@field name? string the name, in the single-table form

---@class herald.RuleSpec
---@field query? string a query: terms, "phrases", AND/OR/NOT, NEAR/n, word*, word~1, title:, @concept, /regex/ (docs/rules.md)
---@field match? fun(a: herald.Article): boolean? Lua test, run after the query (if any) passed
---@field notify? string|string[] notifier names (default: every declared notifier)
---@field lang? string language the query is stemmed in ("en")
---@field stem? boolean false: compare whole words only
---@field budget? integer VM instructions one match call may run (5,000,000)
---@field throttle? herald.duration at most one message per window for this rule (overrides the notifier's)
---@field digest? herald.duration collect this rule's alerts over a window into one message
---@field quiet? string this rule's quiet hours, local time "HH:MM-HH:MM"
---@field name? string the name, in the single-table form

---@class herald.ExpectSpec
---@field rule string the rule under test
---@field fires? string|string[] article files the rule must fire on (relative to this file)
---@field not_fires? string|string[] article files it must stay quiet on

---@class herald.Options
---@field state_dir? string where herald.db lives (--state overrides)
---@field log_level? "error"|"warn"|"info"|"debug"
---@field user_agent? string User-Agent of every request
---@field every? herald.duration default poll interval (15m)
---@field max_concurrent? integer simultaneous transfers (64)
---@field max_per_host? integer simultaneous transfers per host (6)
---@field proxy? string proxy URL for every source
---@field max_document_bytes? integer largest document the parser reads
---@field max_items? integer most items read from one feed
---@field max_depth? integer deepest nesting the parser accepts

---One piece of evidence: where a query term matched.
---@class herald.Evidence
---@field field "title"|"text"|"author"|"link"|"source"
---@field start integer 1-based byte position of the first byte
---@field end integer byte position of the last byte (inclusive, like string.find)
---@field term string the query term as written
---@field text string the matched text

---The article a rule's match function receives. Valid only during that call.
---@class herald.Article
---@field title string?
---@field text string the plain text (content, else summary)
---@field link string?
---@field source string the source's name
---@field author string?
---@field published integer? seconds since the epoch, UTC
---@field categories string[]
---@field lang string?
---@field id string the item's stable id
local Article = {}

---True when the query matches this article; the matched words become evidence.
---@param query string
---@return boolean
function Article:has(query) end

---True when `x` and `y` (query operands: words, "phrases", word*, word~1, @concepts,
---OR groups) occur within `n` words of each other, in any order.
---@param x string
---@param y string
---@param n integer
---@return boolean
function Article:near(x, y, n) end

---How many times the query's terms match.
---@param query string
---@return integer
function Article:count(query) end

---The first match of a PCRE2 regex in the title, then the text: the matched string and its
---1-based start and end, or nil.
---@param regex string
---@return string? match
---@return integer? start
---@return integer? end_
function Article:find(regex) end

---The evidence gathered so far in this evaluation.
---@return herald.Evidence[]
function Article:evidence() end

---@class herald
---@field version string herald's version
---@field state_dir string the state directory in effect
herald = {}

---Declare a source: `herald.source "name" { url = … }`.
---@param name string
---@return fun(spec: herald.SourceSpec)
---@overload fun(spec: herald.SourceSpec)
function herald.source(name) end

---Declare a notifier: `herald.notifier "name" { type = … }`.
---@param name string
---@return fun(spec: herald.NotifierSpec)
---@overload fun(spec: herald.NotifierSpec)
function herald.notifier(name) end

---Declare a rule: `herald.rule "name" { query = …, match = function(a) … end }`.
---@param name string
---@return fun(spec: herald.RuleSpec)
---@overload fun(spec: herald.RuleSpec)
function herald.rule(name) end

---Declare a concept (a named synonym set) for @name in queries.
---@param name string
---@return fun(forms: string[])
function herald.concept(name) end

---State a rule test for `herald test --check`.
---@param spec herald.ExpectSpec
function herald.expect(spec) end

---Set global options.
---@param opts herald.Options
function herald.options(opts) end

-- ---- Notifier types in Lua (docs/plugins.md, "Notifier types in Lua") ----

---An option a notifier type takes: a type name ("string" required, "string?" optional) or a
---table with a default (required unless it has one).
---@alias herald.OptionType "string"|"integer"|"boolean"|"duration"|"map"|"list"|"string?"|"integer?"|"boolean?"|"duration?"|"map?"|"list?"

---@class herald.OptionSpec
---@field type "string"|"integer"|"boolean"|"duration"|"map"|"list"
---@field default? string|integer|boolean|herald.duration the value when the notifier leaves it out (not for map and list)
---@field required? boolean default: true unless there is a default
---@field help? string one line for `herald plugins` and error messages

---@class herald.NotifierTypeSpec
---@field send fun(alert: herald.Alert, opts: table<string, any>): (boolean|"failed"|nil), string?, number? true (or nothing): delivered; false, reason[, seconds]: retry; "failed", reason: dead
---@field options? table<string, herald.OptionType|herald.OptionSpec> the keys a notifier of this type takes (durations reach send as seconds)
---@field description? string one line for `herald plugins`
---@field budget? integer VM instructions per stretch of send between requests (5,000,000)
---@field name? string the name, in the single-table form

---Where a rule's term matched, as a:evidence() gives it.
---@class herald.AlertEvidence
---@field field "title"|"text"|"author"|"link"|"source"
---@field start integer 1-based byte position of the first byte
---@field end integer byte position of the last byte (inclusive); also as `finish`
---@field finish integer the same as `end`, without the keyword
---@field term string the query term as written in the rule
---@field text string? the matched text

---The alert a notifier type's send function delivers (a fresh table each call).
---@class herald.Alert
---@field id string the alert id, the same on every retry: an idempotency key
---@field rule string the rule's name
---@field notifier string the notifier's name
---@field created integer when the alert was raised, seconds since the epoch
---@field attempt integer 1 on the first delivery attempt
---@field title string?
---@field link string?
---@field text string the plain text ("" when the article has none)
---@field summary string?
---@field author string?
---@field source string the source's name
---@field published integer? seconds since the epoch, UTC
---@field categories string[]
---@field lang string?
---@field article_id string the item's id within its source
---@field evidence herald.AlertEvidence[]
---@field json string the alert JSON document (docs/alert-json.md)

---@class herald.HttpRequest
---@field url string http:// or https://
---@field method? "GET"|"POST"|"PUT"|"PATCH"|"DELETE" default: POST with a body, else GET
---@field headers? table<string, string> request headers
---@field body? string the request body (herald.json.encode makes one from a table)
---@field timeout? herald.duration 1ms to 10m (15s)

---@class herald.HttpResponse
---@field status integer HTTP status, 0 when no response arrived
---@field body string the response body (at most 1 MiB)
---@field error string? the transport error, or nil
---@field retry_after integer? seconds from a Retry-After header
---@field headers table<string, string> the response headers herald's HTTP client reports, lower-case names

---Declare a notifier type written in Lua: `herald.notifier_type "name" { options = …, send = … }`;
---notifiers then use it as their `type`.
---@param name string
---@return fun(spec: herald.NotifierTypeSpec)
---@overload fun(spec: herald.NotifierTypeSpec)
function herald.notifier_type(name) end

herald.http = {}

---Send an HTTP request and wait for the response without blocking herald. Only inside a
---notifier type's send function; at most 16 per delivery.
---@param req herald.HttpRequest
---@return herald.HttpResponse
function herald.http.request(req) end

herald.json = {}

---A value that encodes as JSON null; JSON null decodes to it.
---@type lightuserdata
herald.json.null = nil

---Compact JSON, object keys sorted. Raises on functions, NaN, invalid UTF-8, cycles.
---@param value any
---@return string
function herald.json.encode(value) end

---The value of a JSON text, or nil and "line L column C: why".
---@param text string
---@return any value
---@return string? error
function herald.json.decode(text) end

---Mark `t` (a new table when nil) to encode as a JSON array even when empty.
---@param t? table
---@return table
function herald.json.array(t) end
