#!/usr/bin/env bash
# tests/fuzz/build-and-run.sh - builds the libFuzzer targets with clang (ASan+UBSan), makes the
# seed corpora and runs each fuzzer for a bounded time.
#
#   tests/fuzz/build-and-run.sh [SECONDS [TARGET...]]    (default: 60 s each; idx csv model)
#
# Needs clang with libFuzzer (Debian 12: clang-14 libclang-rt-14-dev) and zlib1g-dev; $CC picks
# another clang (default: clang, else clang-14). Everything goes under build-fuzz/: binaries,
# seeds/ (regenerated every run), corpus/ (kept, so later runs start where earlier ones stopped),
# artifacts/ (reproducers) and logs/. Exits non-zero when any fuzzer reports a crash, leak,
# timeout, OOM or sanitizer error, after printing the reproducer's path and how to replay it.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx csv model)
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS [idx|csv|model...]]" >&2
    exit 2
    ;;
esac

# Debian's clang-14 package installs only clang-14; /usr/bin/clang comes from the "clang" one.
cc=${CC:-}
if [ -z "$cc" ]; then
    cc=clang
    command -v clang >/dev/null 2>&1 || cc=clang-14
fi
out=build-fuzz
mkdir -p "$out"/{seeds,corpus,artifacts,logs,tmp}

# The readers and what they link against; nothing from OpenCL is needed.
lib_sources=(host/status.c host/net.c host/rng.c host/model_io.c host/data/*.c)
common=(-g -O1 -fno-omit-frame-pointer -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow
    -Wstrict-prototypes -Wno-unused-parameter -Ihost -Itests/fuzz)
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

# A clang without the libFuzzer runtime fails here with a clear message rather than mid-run.
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
    "$cc" -x c -fsanitize=fuzzer - -o "$out/tmp/probe" 2>"$out/logs/probe.log"; then
    echo "error: $cc cannot link -fsanitize=fuzzer (install clang-14 libclang-rt-14-dev):" >&2
    cat "$out/logs/probe.log" >&2
    exit 2
fi

echo "== building with $cc"
for t in "${targets[@]}"; do
    "$cc" "${common[@]}" -fsanitize=fuzzer "${san[@]}" "${lib_sources[@]}" "tests/fuzz/fuzz_$t.c" \
        -o "$out/fuzz_$t" -lz -lm
done
"$cc" "${common[@]}" "${san[@]}" "${lib_sources[@]}" tests/fuzz/make_seeds.c \
    -o "$out/make_seeds" -lz -lm

echo "== seeds"
rm -rf "$out/seeds"
mkdir -p "$out"/seeds/{idx,csv,model}
"$out/make_seeds" tests/cases "$out/seeds"

# Findings would otherwise hide among libFuzzer's progress lines: every fuzzer logs to a file
# and only its summary (or, on failure, the report) is printed.
failed=()
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
    # Regressions are named after their target (idx-*, csv-*, model-*) and seed it too, so a
    # fixed bug's neighbourhood is explored first.
    regress="$out/seeds/regress-$t"
    rm -rf "$regress"
    mkdir -p "$regress"
    find tests/fuzz/regressions -maxdepth 1 -type f -name "$t-*" -exec cp {} "$regress/" \;
    log="$out/logs/$t.log"
    echo "== fuzz_$t for ${seconds}s (log: $log)"
    rc=0
    TMPDIR="$PWD/$out/tmp" UBSAN_OPTIONS=print_stacktrace=1 \
        "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -dict="tests/fuzz/$t.dict" -artifact_prefix="$out/artifacts/$t/" -print_final_stats=1 \
        "$out/corpus/$t" "$out/seeds/$t" "$regress" >"$log" 2>&1 || rc=$?
    summary='^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)'
    grep -E "$summary|^stat::peak_rss_mb" "$log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! fuzz_$t failed (exit $rc); report:"
        grep -n -m1 -E 'ERROR: |runtime error|contract violated|out-of-memory|timeout' "$log" ||
            true
        tail -n 60 "$log"
        for f in $(grep -oE "Test unit written to [^ ]+" "$log" | awk '{print $5}'); do
            echo "!! reproducer: $f"
            echo "!!   replay:   $out/fuzz_$t $f"
            echo "!!   minimise: $out/fuzz_$t -minimize_crash=1 -max_total_time=60 $f"
        done
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: no findings (${targets[*]}, ${seconds}s each)"
