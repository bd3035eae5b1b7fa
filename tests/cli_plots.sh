# cli_plots.sh - the vanishing-gradient tooling end to end on tiny runs: `clmlp vanish
# --synthetic` and its CSV, `clmlp train --trace-grads --trace-every --log` and its per-layer
# columns, then the three plots of tools/plot_clmlp.py, each checked to be a valid PNG.
# Usage: bash tests/cli_plots.sh /path/to/clmlp /path/to/tests/cases
set -euo pipefail

CLMLP=${1:?usage: cli_plots.sh CLMLP CASES_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLOT="$HERE/../tools/plot_clmlp.py"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# A Python that has matplotlib: $PYTHON, else python3 on the PATH, else Debian's own (a pyenv
# or venv python3 earlier on the PATH does not see Debian's python3-matplotlib).
PY=""
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [[ -n $cand ]] && "$cand" -c 'import matplotlib, numpy' 2>/dev/null; then
        PY=$cand
        break
    fi
done
if [[ -z $PY ]]; then
    echo "FAIL: no python3 with matplotlib and numpy (Debian: apt-get install python3-matplotlib" \
        "python3-numpy)" >&2
    exit 1
fi

# Exit 0, a PNG signature, then an IHDR chunk with a nonzero width and height.
check_png() {
    local what=$1 file=$2
    if [[ ! -s $file ]]; then
        fail "$what: $file missing or empty"
        return
    fi
    if "$PY" - "$file" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
length, kind = struct.unpack(">I4s", data[8:16])
assert kind == b"IHDR" and length == 13, "first chunk is not IHDR"
width, height = struct.unpack(">II", data[16:24])
assert width > 0 and height > 0, "empty image"
assert data[-8:-4] == b"IEND", "no IEND chunk"
EOF
    then
        pass "$what is a valid PNG"
    else
        fail "$what: $file is not a valid PNG"
    fi
}

# ---- clmlp vanish on the synthetic task: table, CSV, and errors ----
"$CLMLP" vanish --help | grep -q "Usage: clmlp vanish" && pass "vanish --help" || fail "vanish --help"
"$CLMLP" vanish --synthetic --limit 512 --depth 3 --width 16 --batch 64 --csv "$TMP/vanish.csv" \
    >"$TMP/vanish.out" 2>"$TMP/vanish.err" || fail "vanish: $(cat "$TMP/vanish.err")"
grep -q "layer 1 / output at init" "$TMP/vanish.out" && pass "vanish prints its table" ||
    fail "vanish table: $(cat "$TMP/vanish.out")"
# 3 activations x 2 phases x 4 layers, plus the header
[[ $(wc -l <"$TMP/vanish.csv") -eq 25 && $(head -1 "$TMP/vanish.csv") == act,init,phase,layer,* ]] &&
    pass "vanish CSV rows" || fail "vanish CSV: $(head -3 "$TMP/vanish.csv")"
# the output layer's ratio is 1 by definition
awk -F, 'NR > 1 && $4 == 4 && ($7 < 0.999999 || $7 > 1.000001) { bad++ } END { exit bad > 0 }' \
    "$TMP/vanish.csv" && pass "output layer ratio is 1" || fail "output layer ratio"
# at initialisation the bound is a theorem (docs/vanishing-gradient.md): no ratio above it
awk -F, 'NR > 1 && $3 == "init" && $7 > $10 { bad++ } END { exit bad > 0 }' "$TMP/vanish.csv" &&
    pass "ratios at init within the bound" || fail "a ratio at init exceeds its bound"
# sigmoid's first layer gets less of the output's error term than tanh's
awk -F, '$3 == "init" && $4 == 1 { r[$1] = $7 } END { exit !(r["sigmoid"] < r["tanh"]) }' \
    "$TMP/vanish.csv" && pass "sigmoid vanishes faster than tanh" || fail "sigmoid vs tanh ratio"
"$CLMLP" vanish --synthetic --limit 128 --depth 2 --width 8 --epochs 0 --acts tanh --init xavier,he \
    --device cpu --csv "$TMP/v0.csv" >/dev/null && [[ $(wc -l <"$TMP/v0.csv") -eq 7 ]] &&
    pass "vanish --epochs 0 on cpu: init rows only" || fail "vanish --epochs 0"
# an unwritable --csv fails at once (before any training), and leaves nothing behind
rc=0
"$CLMLP" vanish --synthetic --csv "$TMP/no/such/dir/v.csv" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "cannot create files" "$TMP/err" && ! grep -q "running" "$TMP/out" &&
    pass "vanish checks --csv before running" || fail "vanish unwritable --csv: rc $rc, $(cat "$TMP/err")"
rc=0
"$CLMLP" vanish --synthetic --acts softmax >/dev/null 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q "not sigmoid, tanh, relu" "$TMP/err" && pass "vanish rejects --acts softmax" ||
    fail "vanish --acts softmax: rc $rc, $(cat "$TMP/err")"

# ---- clmlp train --trace-grads --trace-every: printed lines and log columns ----
awk 'BEGIN { srand(5); for (i = 0; i < 200; i++) { c = i % 3;
       printf "%d,%.4f,%.4f\n", c, (c == 1 ? 3 : 0) + rand() - 0.5, (c == 2 ? 3 : 0) + rand() - 0.5 } }' \
    >"$TMP/blobs.csv"
"$CLMLP" train --train-csv "$TMP/blobs.csv" --test-csv "$TMP/blobs.csv" --layers 2,8,8,3 --act sigmoid \
    --batch 32 --epochs 3 --trace-every 4 --log "$TMP/metrics.csv" >"$TMP/train.out" 2>"$TMP/train.err" ||
    fail "train --trace-every: $(cat "$TMP/train.err")"
[[ $(grep -c '|delta|' "$TMP/train.out") -gt 0 && $(grep -c ' L3 ' "$TMP/train.out") -ge 3 ]] &&
    pass "train prints per-layer lines" || fail "trace lines: $(cat "$TMP/train.out")"
head -1 "$TMP/metrics.csv" | grep -q ',step,L1_delta,L1_gnorm,L1_wnorm,L1_sat,L2_delta,.*,L3_sat$' &&
    pass "log has per-layer columns" || fail "log header: $(head -1 "$TMP/metrics.csv")"
# 7 batches per epoch, 21 steps: every 4th (5 rows) plus 3 epoch ends, none of them shared
[[ $(tail -n +2 "$TMP/metrics.csv" | wc -l) -eq 8 ]] && pass "log rows: traced steps and epochs" ||
    fail "log rows: $(cat "$TMP/metrics.csv")"
"$CLMLP" train --train-csv "$TMP/blobs.csv" --layers 2,8,3 --epochs 1 --log "$TMP/plain.csv" >/dev/null
[[ $(head -1 "$TMP/plain.csv") == *samples_per_s ]] && pass "no trace columns without tracing" ||
    fail "plain log header: $(head -1 "$TMP/plain.csv")"

# ---- the three plots ----
"$PY" "$PLOT" curves "$TMP/curves.png" >/dev/null && check_png "curves" "$TMP/curves.png" ||
    fail "plot curves"
"$PY" "$PLOT" vanish "$TMP/vanish.csv" "$TMP/vanish.png" >/dev/null &&
    check_png "vanish plot" "$TMP/vanish.png" || fail "plot vanish"
"$PY" "$PLOT" metrics "$TMP/metrics.csv" "$TMP/metrics.png" >/dev/null &&
    check_png "metrics plot" "$TMP/metrics.png" || fail "plot metrics"
"$PY" "$PLOT" metrics "$TMP/plain.csv" "$TMP/plain.png" >/dev/null &&
    check_png "metrics plot without trace" "$TMP/plain.png" || fail "plot metrics (plain)"
rc=0
"$PY" "$PLOT" vanish "$TMP/metrics.csv" "$TMP/bad.png" 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 && ! -e $TMP/bad.png ]] && grep -q "missing column" "$TMP/err" &&
    pass "plot rejects a CSV of the wrong kind" || fail "plot bad input: rc $rc $(cat "$TMP/err")"

if [[ $FAILS -gt 0 ]]; then
    echo "$FAILS check(s) failed" >&2
    exit 1
fi
echo "all plot checks passed"
