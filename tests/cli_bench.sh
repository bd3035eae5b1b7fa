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
GEMMS = {"forward_layer", "hidden_delta", "hidden_delta_t", "weight_grad", "weight_grad_narrow"}
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
rc=0
"$CLMLP" bench --batch 0 >/dev/null 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: --batch 0 gave exit $rc: $(cat "$TMP/err")" >&2; exit 1; }
echo "bench checks passed"
