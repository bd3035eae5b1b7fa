# cli_bench.sh - `clmlp bench` runs on the OpenCL device and the CPU reference, prints a row
# for every kernel of the step with a positive time, times each matrix product alone, and
# writes parseable CSV and JSON.
# (It checks that the benchmark works, not how fast anything is: speed lives in BENCHMARKS.md.)
# Usage: bash tests/cli_bench.sh /path/to/clmlp /path/to/tests/cases
set -euo pipefail
CLMLP=${1:?usage: cli_bench.sh CLMLP CASES_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
small=(--layers 37,17,3 --batch 1,13 --warmup 1 --reps 3 --step-reps 2 --min-time 0.01 --samples 64)
"$CLMLP" bench "${small[@]}" --csv "$TMP/b.csv" --json "$TMP/b.json" >"$TMP/out"
for k in gather_batch forward_layer output_delta_ce weight_grad; do
    grep -q "$k" "$TMP/b.csv" || { echo "FAIL: no $k row in the CSV" >&2; exit 1; }
done
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$TMP/b.json" ||
    { echo "FAIL: the JSON does not parse" >&2; exit 1; }
# Every matrix product has a positive time in the step and alone (--alone-reps, default 50);
# with --alone-reps 0 the alone columns stay empty. (The 17- and 3-unit layers take
# weight_grad_narrow, the 17-input one the partial-block edge of that kernel.)
cat >"$TMP/check.py" <<'PY'
import csv, sys
GEMMS = {"forward_layer", "forward_layer_t", "hidden_delta", "hidden_delta_t", "weight_grad",
         "weight_grad_narrow"}
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == "kernel"]
want_alone = sys.argv[2] == "alone"
gemms = [r for r in rows if r["kernel"] in GEMMS]
assert len(gemms) >= 4, "too few GEMM rows: %d" % len(gemms)
assert any(r["kernel"] == "weight_grad_narrow" for r in gemms), "no weight_grad_narrow row"
for r in rows:
    assert float(r["median_us"]) > 0, "no time for %s" % r["kernel"]
    has = r["alone_median_us"] != ""
    if r["kernel"] in GEMMS and want_alone:
        assert has and float(r["alone_median_us"]) > 0 and int(r["alone_reps"]) == 4, r
    else:
        assert not has, "alone time where none was asked for: %s" % r
PY
"$CLMLP" bench "${small[@]}" --alone-reps 4 --no-step --csv "$TMP/a.csv" >"$TMP/out.a"
python3 "$TMP/check.py" "$TMP/a.csv" alone || { echo "FAIL: alone times in the CSV" >&2; exit 1; }
grep -q "alone us" "$TMP/out.a" || { echo "FAIL: no alone column in the table" >&2; exit 1; }
"$CLMLP" bench "${small[@]}" --alone-reps 0 --no-step --csv "$TMP/z.csv" >/dev/null
python3 "$TMP/check.py" "$TMP/z.csv" none || { echo "FAIL: --alone-reps 0" >&2; exit 1; }
"$CLMLP" bench "${small[@]}" --device cpu --no-kernels >"$TMP/cpu" ||
    { echo "FAIL: bench on the CPU reference" >&2; exit 1; }
grep -qi "samples/s" "$TMP/cpu" || { echo "FAIL: no samples/s on the CPU reference" >&2; exit 1; }
# A per-layer --act list holds commas: the CSV still has one field per header column, and
# the JSON records the settings.
"$CLMLP" bench "${small[@]}" --layers 37,17,9,3 --act tanh,relu --no-step --alone-reps 2 \
    --csv "$TMP/l.csv" --json "$TMP/l.json" >/dev/null
python3 - "$TMP/l.csv" "$TMP/l.json" <<'PY' || { echo "FAIL: CSV/JSON with --act tanh,relu" >&2; exit 1; }
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
assert len({len(r) for r in rows}) == 1, "rows of different lengths"
d = list(csv.DictReader(open(sys.argv[1])))
assert all(r["act"] == "tanh,relu" and r["loss"] == "ce" and r["out_act"] == "softmax" for r in d)
j = json.load(open(sys.argv[2]))
assert j["act"] == "tanh,relu" and j["settings"]["seed"] == 1 and j["settings"]["alone_reps"] == 2
PY
# Usage errors (exit 2) and outputs that cannot be written (exit 1, before any measuring, with
# the reason): each must fail fast and say why.
expect() { # expected-exit message-fragment args...
    local want=$1 frag=$2 rc=0
    shift 2
    timeout 20 "$CLMLP" bench "$@" >/dev/null 2>"$TMP/err" || rc=$?
    [[ $rc -eq $want ]] || { echo "FAIL: bench $* gave exit $rc, not $want: $(cat "$TMP/err")" >&2; exit 1; }
    grep -q -- "$frag" "$TMP/err" || { echo "FAIL: bench $*: no '$frag' in: $(cat "$TMP/err")" >&2; exit 1; }
}
expect 2 "batch" --batch 0
expect 2 "empty entry" --batch 32,,64
expect 2 "nothing to measure" --no-kernels --no-step
expect 2 "smaller than the batch" --samples 10 --batch 13
expect 2 "same file" --csv "$TMP/same" --json "$TMP/same"
expect 1 "cannot create files" --csv "$TMP/missing/dir/x.csv"
expect 1 "not a regular file" --json /dev/full
expect 1 "at least 2 output units" --layers 33,17,1 --batch 3
echo keep >"$TMP/keep.csv"
expect 1 "cannot create files" --csv "$TMP/keep.csv" --json "$TMP/missing/x.json"
[[ $(cat "$TMP/keep.csv") == keep ]] || { echo "FAIL: a failed run touched an existing --csv" >&2; exit 1; }
echo "bench checks passed"
