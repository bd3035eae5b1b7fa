# cli_bench.sh - `clmlp bench` runs on the OpenCL device and the CPU reference, prints a row
# for every kernel of the step with a positive time, and writes parseable CSV and JSON.
# (It checks that the benchmark works, not how fast anything is: speed lives in BENCHMARKS.md.)
# Usage: bash tests/cli_bench.sh /path/to/clmlp /path/to/tests/cases
set -euo pipefail
CLMLP=${1:?usage: cli_bench.sh CLMLP CASES_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
small=(--layers 37,17,3 --batch 1,13 --warmup 1 --reps 3 --step-reps 2 --min-time 0.01 --samples 64)
"$CLMLP" bench "${small[@]}" --csv "$TMP/b.csv" --json "$TMP/b.json" >"$TMP/out"
for k in gather_batch forward_layer output_delta_ce weight_grad bias_grad; do
    grep -q "$k" "$TMP/b.csv" || { echo "FAIL: no $k row in the CSV" >&2; exit 1; }
done
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$TMP/b.json" ||
    { echo "FAIL: the JSON does not parse" >&2; exit 1; }
"$CLMLP" bench "${small[@]}" --device cpu --no-kernels >"$TMP/cpu" ||
    { echo "FAIL: bench on the CPU reference" >&2; exit 1; }
grep -qi "samples/s" "$TMP/cpu" || { echo "FAIL: no samples/s on the CPU reference" >&2; exit 1; }
rc=0
"$CLMLP" bench --batch 0 >/dev/null 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: --batch 0 gave exit $rc: $(cat "$TMP/err")" >&2; exit 1; }
echo "bench checks passed"
