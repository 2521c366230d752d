#!/usr/bin/env python3
"""Run every herald test and print one closing line: "N passed, N failed, N skipped".

Unit tests are the binaries build/tests/test_*; integration tests are the scripts
tests/integration/test_*.py. Both print one line per test case: "PASS name",
"FAIL name: why" or "SKIP name: why". A program that exits non-zero without printing a
FAIL line (a crash, a sanitizer report, a timeout) counts as one failure of its own.
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(cmd, env, timeout, name):
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        rc = p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        out += "\nFAIL %s: timed out after %ds\n" % (name, timeout)
        rc = -1
    return name, rc, out, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sanitize", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("only", nargs="*", help="substrings of test file names to run")
    args = ap.parse_args()

    build = os.path.join(ROOT, args.build)
    env = dict(os.environ)
    env["HERALD_BIN"] = os.path.join(build, "herald")
    env["HERALD_PLUGIN_PATH"] = os.path.join(build, "plugins")
    env["HERALD_ROOT"] = ROOT
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if args.sanitize:
        env["HERALD_SANITIZE"] = "1"
    out_dir = os.path.join(ROOT, "tests", "out")
    os.makedirs(out_dir, exist_ok=True)
    env["HERALD_TEST_OUT"] = out_dir

    jobs = []
    unit_dir = os.path.join(build, "tests")
    if os.path.isdir(unit_dir):
        for f in sorted(os.listdir(unit_dir)):
            path = os.path.join(unit_dir, f)
            if f.startswith("test_") and os.access(path, os.X_OK) and not f.endswith(".d"):
                jobs.append(("unit/" + f, [path], 300))
    integ = os.path.join(ROOT, "tests", "integration")
    for f in sorted(os.listdir(integ)):
        if f.startswith("test_") and f.endswith(".py"):
            jobs.append(("integration/" + f[:-3], [sys.executable, os.path.join(integ, f)], 600))
    if args.only:
        jobs = [j for j in jobs if any(o in j[0] for o in args.only)]

    passed = failed = skipped = 0
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futs = [ex.submit(run_one, cmd, env, t, name) for name, cmd, t in jobs]
        for fut in concurrent.futures.as_completed(futs):
            name, rc, out, secs = fut.result()
            p = f_ = s = 0
            for line in out.splitlines():
                if line.startswith("PASS "):
                    p += 1
                elif line.startswith("FAIL "):
                    f_ += 1
                    failures.append("%s: %s" % (name, line[5:]))
                elif line.startswith("SKIP "):
                    s += 1
            if rc != 0 and f_ == 0:
                f_ += 1
                failures.append("%s: exited with status %d" % (name, rc))
            if rc != 0 or f_ or args.verbose:
                tail = "\n".join(out.splitlines()[-60:])
                print("---- %s (exit %d) ----\n%s" % (name, rc, tail))
            print("%-44s %3d passed %3d failed %3d skipped  %5.1fs" % (name, p, f_, s, secs))
            sys.stdout.flush()
            passed += p
            failed += f_
            skipped += s
    if failures:
        print("\nfailures:")
        for f in failures:
            print("  " + f)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
