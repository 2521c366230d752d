#!/bin/sh
# run.sh — runs one libFuzzer target of herald for a bounded time (called by `make fuzz`).
# Usage: tests/fuzz/run.sh TARGET SECONDS MAX_LEN   (TARGET: feed | jsonfeed | html)
# Seeds are copied at run time from the shared test data (../shared/data, or $HERALD_DATA)
# when present, from tests/fixtures and from tests/fixtures/fuzz-regressions into
# build-fuzz/corpus-TARGET/ (never committed). Crashes are written to
# build-fuzz/crash-TARGET-*; the log is build-fuzz/fuzz_TARGET.log. Exit status: the fuzzer's.
set -u
t=$1
secs=${2:-60}
maxlen=${3:-1048576}
out=build-fuzz
data=${HERALD_DATA:-../shared/data}
corpus=$out/corpus-$t
mkdir -p "$corpus"

# seed SRC [NAME]: copy one file into the corpus under a name that cannot clash with the
# SHA-1 names libFuzzer gives the inputs it finds.
seed() {
    [ -f "$1" ] && cp "$1" "$corpus/seed-${2:-$(basename "$1")}"
}

case $t in
feed)
    dict=xml.dict
    for f in "$data"/feeds/*.xml "$data"/feeds/*.rdf tests/fixtures/feeds/*.xml \
        tests/fixtures/feeds/*.rdf tests/fixtures/fuzz-regressions/feed-*; do
        seed "$f"
    done
    ;;
jsonfeed)
    dict=json.dict
    for f in "$data"/feeds/*.json tests/fixtures/feeds/*.json \
        tests/fixtures/fuzz-regressions/jsonfeed-*; do
        seed "$f"
    done
    ;;
html)
    dict=html.dict
    for d in "$data"/pages/*/; do
        seed "$d/source.html" "$(basename "$d").html"
    done
    for f in tests/fixtures/pages/*.html tests/fixtures/fuzz-regressions/html-*; do
        seed "$f"
    done
    ;;
*)
    echo "run.sh: unknown target '$t' (feed, jsonfeed or html)" >&2
    exit 2
    ;;
esac
[ -d "$data" ] || echo "fuzz_$t: $data absent, seeding from tests/fixtures only"

echo "fuzz_$t: ${secs}s, $(ls "$corpus" | wc -l) corpus files, log $out/fuzz_$t.log"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "./$out/fuzz_$t" -max_total_time="$secs" -max_len="$maxlen" -timeout=30 \
    -rss_limit_mb=2048 -dict="tests/fuzz/$dict" -artifact_prefix="$out/crash-$t-" \
    -print_final_stats=1 "$corpus" >"$out/fuzz_$t.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz_$t.log")
echo "fuzz_$t: exit $rc, ${runs:-?} executions in ${secs}s"
if [ $rc -ne 0 ]; then
    grep -m1 -E 'ERROR|runtime error|SUMMARY' "$out/fuzz_$t.log"
    ls "$out"/crash-"$t"-* 2>/dev/null
fi
exit $rc
