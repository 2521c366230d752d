#!/usr/bin/env python3
"""The man pages (docs/man/herald.1, docs/man/herald.lua.5) against the code they describe:
each renders without a warning; every command `herald --help` lists and every option of
each `herald CMD --help` is documented in herald.1; every config key core/config.c accepts,
every option `herald plugins` lists and every concept of scripts/lib/herald/concepts.lua is
documented in herald.lua.5; and the configuration examples of herald.lua.5 load and fire
as they say. A page goes stale, this test fails."""
import os
import re
import shutil
import subprocess

from harness import ROOT, TempDir, case, check, check_eq, check_in, main, run

MAN1 = os.path.join(ROOT, "docs", "man", "herald.1")
MAN5 = os.path.join(ROOT, "docs", "man", "herald.lua.5")
CONFIG_C = os.path.join(ROOT, "core", "config.c")
CONCEPTS = os.path.join(ROOT, "scripts", "lib", "herald", "concepts.lua")
SAMPLES = os.path.join(ROOT, "scripts", "samples")
SEED = os.path.join(SAMPLES, "iraq-troops-2020-01.txt")

# An option on the command line: -c, --no-color; not the "-C" of "Ctrl-C" nor "-in" of "sit-in".
OPTION_RE = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def unroff(text):
    """Roff source to plain text, enough to look words up: escapes resolved, requests kept
    as their arguments without quotes."""
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", text)
    repl = {r"\-": "-", r"\(aq": "'", r"\(dq": '"', r"\(lq": '"', r"\(rq": '"',
            r"\(em": "-", r"\(mu": "x", r"\(+-": "+-", r"\('a": "a", r"\e": "\\", r"\&": "",
            r"\ ": " ", r"\%": ""}
    for k, v in repl.items():
        text = text.replace(k, v)
    out = []
    for line in text.split("\n"):
        if line.startswith('.\\"'):
            continue
        m = re.match(r"\.(B|I|BR|RB|BI|IB|IR|RI)\s+(.*)", line)
        if m:
            args = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', m.group(2))]
            # .B and .I join their words with spaces; the alternating macros without.
            line = (" " if m.group(1) in ("B", "I") else "").join(args)
        out.append(line)
    return "\n".join(out)


def sections(src, macro):
    """{heading: body} for each `.SH` (macro "SH") or `.SS` heading of a roff source."""
    parts = {}
    cur = None
    for line in src.split("\n"):
        m = re.match(r"\.(SH|SS)\s+\"?([^\"]*)\"?$", line)
        if m and (m.group(1) == macro or (macro == "SS" and m.group(1) == "SH")):
            cur = m.group(2).strip() if m.group(1) == macro else None
            if cur is not None:
                parts[cur] = []
            continue
        if cur is not None:
            parts[cur].append(line)
    return {k: "\n".join(v) for k, v in parts.items()}


def tags(src):
    """The first word of every .TP tag (the line after .TP, or .TQ for a further tag of the
    same paragraph), un-roffed."""
    lines = src.split("\n")
    found = []
    for i, line in enumerate(lines):
        if line.startswith((".TP", ".TQ")) and i + 1 < len(lines):
            words = unroff(lines[i + 1]).split()
            if words:
                found.append(words[0].rstrip(","))
    return found


def tag_lines(src):
    """The un-roffed tag lines (the line after each .TP) of a roff source, one per line:
    where a man page names the options it describes."""
    lines = src.split("\n")
    return "\n".join(unroff(lines[i + 1]) for i, line in enumerate(lines)
                     if line.startswith(".TP") and i + 1 < len(lines))


def renderer():
    if shutil.which("man"):
        return "man"
    if shutil.which("groff"):
        return "groff"
    return None


def render_warnings(page):
    """(warnings, rendered text) of a page."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    if renderer() == "man":
        p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
    else:
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", page], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
    return p.stderr.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace"), p.returncode


@case
def pages_render_without_warnings():
    if not renderer():
        return "SKIP neither man nor groff is installed"
    for page, title in ((MAN1, "HERALD(1)"), (MAN5, "HERALD.LUA(5)")):
        warnings, text, rc = render_warnings(page)
        check_eq(rc, 0, "%s renders" % page)
        check_eq(warnings.strip(), "", "warnings rendering %s" % page)
        check_in(title, text, "%s title line" % page)
        check_in("SEE ALSO", text, "%s has a SEE ALSO section" % page)
    if shutil.which("groff"):
        for page in (MAN1, MAN5):
            p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            check_eq(p.stderr.decode("utf-8", "replace").strip(), "", "groff -ww on " + page)


def help_commands():
    """{command: its --help text}: the commands `herald --help` lists, and every other
    `herald NAME` a command's usage lines name (`herald resume` in the control help)."""
    r = run(["--help"])
    check_eq(r.returncode, 0, "herald --help")
    listing = r.stdout.split("common options:", 1)[0]
    todo = re.findall(r"^  ([a-z][a-z-]*)\b", listing, re.M)
    check(len(todo) >= 6, "commands parsed from herald --help: %r" % todo)
    helps = {}
    while todo:
        cmd = todo.pop(0)
        if cmd in helps:
            continue
        h = run([cmd, "--help"])
        check_eq(h.returncode, 0, "herald %s --help" % cmd)
        helps[cmd] = h.stdout
        todo += re.findall(r"^(?:usage:)?\s+herald ([a-z][a-z-]*)\b", h.stdout, re.M)
    return helps, r.stdout


def command_chunks(man1):
    """{command: the roff text of its entry under COMMANDS} (both `test` entries joined).
    The text of a subsection before its first entry (the options the control commands
    share) belongs to every entry of that subsection."""
    body = sections(man1, "SH")["COMMANDS"]
    chunks = {}
    cur = None
    preamble = []
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(".SS"):
            cur = None
            preamble = []
            continue
        if line.startswith(".TP") and i + 1 < len(lines):
            words = unroff(lines[i + 1]).split()
            if words and re.fullmatch(r"[a-z][a-z-]*", words[0]):
                cur = words[0]
                chunks.setdefault(cur, list(preamble))
        if cur is None:
            preamble.append(line)
        else:
            chunks[cur].append(line)
    return {k: "\n".join(v) for k, v in chunks.items()}


def has_option(text, opt):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), text) is not None


@case
def every_command_and_option_is_in_herald_1():
    man1 = read(MAN1)
    helps, top = help_commands()
    synopsis = unroff(sections(man1, "SH")["SYNOPSIS"])
    chunks = command_chunks(man1)
    for cmd in helps:
        check(re.search(r"^herald %s\b" % re.escape(cmd), synopsis, re.M),
              "SYNOPSIS of herald.1 lacks 'herald %s'" % cmd)
        check(cmd in chunks, "COMMANDS of herald.1 has no entry for '%s'" % cmd)
    # Commands that share one help text (the control commands) are documented together:
    # an option of that text must be described in the entry of one of them.
    groups = {}
    for cmd, text in helps.items():
        groups.setdefault(text, []).append(cmd)
    for text, cmds in groups.items():
        entries = tag_lines("\n".join(chunks[c] for c in cmds))
        for opt in sorted(set(OPTION_RE.findall(text))):
            if opt in ("-h", "--help"):
                continue  # every command has it: documented once under Common options
            check(has_option(entries, opt),
                  "herald %s --help lists %s, which herald.1 does not describe (as an entry) "
                  "under %s" % (cmds[0], opt, " or ".join(cmds)))
    whole = tag_lines(man1)
    for opt in sorted(set(OPTION_RE.findall(top))):
        check(has_option(whole, opt), "herald --help lists %s, missing from herald.1" % opt)


def config_keys():
    """{declaration function: [keys]} from the `keys[]` arrays of core/config.c (and its
    config_notifier_keys, the keys of declare_notifier)."""
    src = read(CONFIG_C)
    found = {}
    pat = re.compile(r"static\s+(?:void|int)\s+(\w+)\s*\([^)]*\)\s*\{\s*"
                     r"static const char \*const keys\[[^\]]*\] = \{(.*?)\};", re.S)
    for fn, body in pat.findall(src):
        found[fn] = re.findall(r'"([^"]+)"', body)
    # The notifier keys are shared with lua_notifier.c, so they are a named array.
    m = re.search(r"config_notifier_keys\[\] = \{(.*?)\};", src, re.S)
    if m:
        found["declare_notifier"] = re.findall(r'"([^"]+)"', m.group(1))
    return found


@case
def every_config_key_is_in_herald_lua_5():
    keys = config_keys()
    for fn in ("declare_source", "declare_notifier", "declare_rule", "l_options", "l_expect"):
        check(fn in keys and keys[fn], "no keys[] array found for %s in core/config.c" % fn)
    man5 = read(MAN5)
    sec = sections(man5, "SH")
    where = {"declare_source": "SOURCES", "declare_notifier": "NOTIFIERS",
             "declare_rule": "RULES", "l_options": "OPTIONS", "l_expect": "EXPECTATIONS"}
    for fn, ks in keys.items():
        check(fn in where, "core/config.c declares keys in %s; herald.lua.5 has no section "
              "mapped for it (update this test and the page)" % fn)
        section = where[fn]
        check(section in sec, "herald.lua.5 has no %s section" % section)
        documented = set(tags(sec[section]))
        for k in ks:
            check(k in documented, "config key '%s' (%s in core/config.c) is not described "
                  "under %s in herald.lua.5" % (k, fn, section))


@case
def every_plugin_option_is_in_herald_lua_5():
    r = run(["plugins"])
    check_eq(r.returncode, 0, "herald plugins (found no plugin? %s)" % r.stderr.strip())
    plugins = {}
    cur = None
    for line in r.stdout.split("\n"):
        m = re.match(r"(\S+) \u2014 ", line)
        if m:
            cur = m.group(1)
            plugins[cur] = []
        elif cur and re.match(r"    \S", line):
            plugins[cur].append(line.split()[0])
    for name in ("stdout", "file", "webhook"):
        check(name in plugins, "herald plugins lists %s: %r" % (name, r.stdout))
    subs = sections(read(MAN5), "SS")
    for name, opts in plugins.items():
        check(name in subs, "plugin '%s' has no subsection in herald.lua.5" % name)
        documented = set(tags(subs[name]))
        for o in opts:
            check(o in documented, "option '%s' of plugin '%s' is not described in "
                  "herald.lua.5" % (o, name))


@case
def starter_concepts_match_the_library():
    lib = re.findall(r'^herald\.concept\s+"([^"]+)"', read(CONCEPTS), re.M)
    check(len(lib) >= 5, "concepts parsed from %s: %r" % (CONCEPTS, lib))
    listed = tags(sections(read(MAN5), "SS")["Starter concepts"])
    check_eq(sorted(listed), sorted(lib), "starter concepts in herald.lua.5")


def examples():
    """The Lua examples of herald.lua.5's EXAMPLES section: [(first comment line, code)]."""
    body = sections(read(MAN5), "SH")["EXAMPLES"]
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE$", body, re.M | re.S)
    return [unroff(b) for b in blocks]


@case
def config_examples_load_and_fire():
    blocks = examples()
    check(len(blocks) >= 3, "EXAMPLES of herald.lua.5 has %d blocks" % len(blocks))
    with TempDir() as t:
        rules = os.path.join(t.path, "rules")
        shutil.copytree(SAMPLES, os.path.join(rules, "samples"))
        home = {"HOME": t.path, "XDG_CONFIG_HOME": "", "XDG_STATE_HOME": ""}
        named = {}
        for i, code in enumerate(blocks):
            first = code.split("\n", 1)[0]
            m = re.match(r"-- (?:~/\.config/herald/)?([\w./-]+\.lua)$", first)
            name = m.group(1) if m else "example-%d.lua" % i
            named[name] = t.file(name, code)
        for name, path in named.items():
            r = run(["check", "-c", path], env=home)
            check_eq(r.returncode, 0, "herald check on the example %s: %s" % (name, r.stderr))
            check_in(": OK:", r.stdout, "herald check on the example " + name)
            # Queries in match functions compile when they first run: run every example.
            r = run(["test", "--no-color", "-c", path, SEED], env=home)
            check(r.returncode in (0, 1) and "herald " not in r.stderr,
                  "the example %s on the seed article: status %d, %s"
                  % (name, r.returncode, r.stderr))
        check("herald.lua" in named, "an example is the complete ~/.config/herald/herald.lua")
        r = run(["test", "--no-color", "-c", named["herald.lua"], SEED], env=home)
        check_eq(r.returncode, 0, "the complete example fires on the seed article: " + r.stderr)
        for rule in re.findall(r'^herald\.rule "([^"]+)"', read(named["herald.lua"]), re.M):
            check_in("FIRES " + rule, r.stdout, "example rule %s on the seed article" % rule)
        check("rules/iraq.lua" in named, "an example is the rule pack rules/iraq.lua")
        r = run(["test", "--check", "-c", named["rules/iraq.lua"]], env=home)
        check_eq(r.returncode, 0, "herald test --check on the rule pack: " + r.stdout)
        check(re.search(r"(\d+) expectations: \1 ok, 0 failed", r.stdout),
              "rule pack expectations: " + r.stdout)


if __name__ == "__main__":
    main()
