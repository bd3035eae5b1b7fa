# cli_train.sh - end-to-end checks of the clmlp command line: train/save/eval/predict/compare
# on small CSV data sets, reproducibility, the C14 shuffle case and error handling.
# Usage: bash tests/cli_train.sh /path/to/clmlp /path/to/tests/cases
set -euo pipefail

CLMLP=${1:?usage: cli_train.sh CLMLP CASES_DIR}
CASES=${2:?usage: cli_train.sh CLMLP CASES_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# Runs clmlp expecting failure: exit status 1 or 2 (not 0, not a signal) and a "clmlp ..."
# message on stderr containing $2.
expect_error() {
    local what=$1 needle=$2
    shift 2
    local rc=0
    "$CLMLP" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [[ $rc -ne 1 && $rc -ne 2 ]]; then
        fail "$what: exit status $rc (want 1 or 2)"
    elif ! grep -q "^clmlp" "$TMP/err" || ! grep -qF -- "$needle" "$TMP/err"; then
        fail "$what: message does not mention '$needle': $(cat "$TMP/err")"
    else
        pass "$what"
    fi
}

# The number after "train accuracy" in a train summary.
train_acc() { sed -n 's/.*train accuracy \([0-9.]*\).*/\1/p' "$1" | tail -1; }

# ---- data: 3 well-separated blobs in 2-D, train and test (deterministic awk) ----
awk 'BEGIN { srand(7); for (i = 0; i < 300; i++) { c = i % 3;
       printf "%d,%.4f,%.4f\n", c, (c == 1 ? 3 : 0) + rand() - 0.5, (c == 2 ? 3 : 0) + rand() - 0.5 } }' \
    >"$TMP/blobs_train.csv"
awk 'BEGIN { srand(8); print "label,x,y"; for (i = 0; i < 90; i++) { c = i % 3;
       printf "%d,%.4f,%.4f\n", c, (c == 1 ? 3 : 0) + rand() - 0.5, (c == 2 ? 3 : 0) + rand() - 0.5 } }' \
    >"$TMP/blobs_test.csv"
NET=(--train-csv "$TMP/blobs_train.csv" --layers 2,16,3 --act tanh --batch 16 --lr 0.05)
BLOBS=("${NET[@]}" --test-csv "$TMP/blobs_test.csv" --epochs 15)

# ---- help and version ----
"$CLMLP" --help | grep -q "Usage: clmlp" && pass "clmlp --help" || fail "clmlp --help"
"$CLMLP" --version | grep -q "^clmlp " && pass "--version" || fail "--version"
for cmd in train eval predict compare devices; do
    "$CLMLP" $cmd --help | grep -q "Usage: clmlp $cmd" && pass "$cmd --help" || fail "$cmd --help"
done

# ---- training learns, on both backends; model, log, eval, predict ----
for dev in cpu default; do
    devopt=()
    [[ $dev == cpu ]] && devopt=(--device cpu)
    m="$TMP/blobs_$dev.clmlp"
    "$CLMLP" train "${BLOBS[@]}" "${devopt[@]}" --save "$m" --log "$TMP/log_$dev.csv" \
        >"$TMP/train_$dev.out"
    best=$(sed -n 's/.*, test accuracy \([0-9.]*\).*/\1/p' "$TMP/train_$dev.out")
    awk -v a="$best" 'BEGIN { exit !(a >= 0.95) }' && pass "train ($dev) test accuracy $best" ||
        fail "train ($dev) test accuracy '$best' < 0.95"
    [[ $(grep -c '^epoch ' "$TMP/train_$dev.out") -eq 15 ]] && pass "one line per epoch ($dev)" ||
        fail "epoch lines ($dev)"
    [[ -s $m ]] && pass "--save wrote a model ($dev)" || fail "--save ($dev)"
    [[ $(head -1 "$TMP/log_$dev.csv") == epoch,train_loss,* && $(wc -l <"$TMP/log_$dev.csv") -eq 16 ]] &&
        pass "--log CSV ($dev)" || fail "--log CSV ($dev)"

    "$CLMLP" eval "$m" --csv "$TMP/blobs_test.csv" "${devopt[@]}" >"$TMP/eval.out"
    grep -q "^accuracy: " "$TMP/eval.out" && grep -q "confusion matrix" "$TMP/eval.out" &&
        [[ $(grep -cE '^ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$' "$TMP/eval.out") -eq 3 ]] &&
        pass "eval ($dev)" || fail "eval ($dev): $(cat "$TMP/eval.out")"

    # features-only CSV: one line per row, class then probabilities summing to 1
    tail -n +2 "$TMP/blobs_test.csv" | cut -d, -f2- >"$TMP/features.csv"
    "$CLMLP" predict "$m" "$TMP/features.csv" --output "$TMP/pred.csv" "${devopt[@]}"
    [[ $(wc -l <"$TMP/pred.csv") -eq 90 ]] && pass "predict lines ($dev)" || fail "predict lines ($dev)"
    awk -F, '{ s = 0; for (i = 2; i <= NF; i++) s += $i; if (NF != 4 || s < 0.999 || s > 1.001) bad++ }
             END { exit bad > 0 }' "$TMP/pred.csv" && pass "predict probabilities ($dev)" ||
        fail "predict probabilities ($dev)"
    "$CLMLP" predict "$m" "$TMP/blobs_test.csv" --label-column 0 "${devopt[@]}" >"$TMP/pred2.csv" \
        2>"$TMP/pred2.err"
    cmp -s "$TMP/pred.csv" "$TMP/pred2.csv" && grep -q "accuracy" "$TMP/pred2.err" &&
        pass "predict with a label column ($dev)" || fail "predict with a label column ($dev)"
done

# ---- reproducibility: same seed, same bytes; another seed, another model ----
for dev in cpu default; do
    devopt=()
    [[ $dev == cpu ]] && devopt=(--device cpu)
    "$CLMLP" train "${BLOBS[@]}" "${devopt[@]}" --epochs 3 --seed 5 --save "$TMP/a.clmlp" --quiet >/dev/null
    "$CLMLP" train "${BLOBS[@]}" "${devopt[@]}" --epochs 3 --seed 5 --save "$TMP/b.clmlp" --quiet >/dev/null
    "$CLMLP" train "${BLOBS[@]}" "${devopt[@]}" --epochs 3 --seed 6 --save "$TMP/c.clmlp" --quiet >/dev/null
    cmp -s "$TMP/a.clmlp" "$TMP/b.clmlp" && pass "same seed, identical model ($dev)" ||
        fail "same seed gave different models ($dev)"
    cmp -s "$TMP/a.clmlp" "$TMP/c.clmlp" && fail "different seeds gave identical models ($dev)" ||
        pass "different seed, different model ($dev)"
done

# ---- compare: OpenCL against the CPU reference ----
if "$CLMLP" compare "${NET[@]}" --steps 3 >"$TMP/compare.out" 2>&1; then
    grep -q "^PASS" "$TMP/compare.out" && pass "compare" || fail "compare output"
else
    fail "compare exited non-zero: $(tail -5 "$TMP/compare.out")"
fi

# ---- compare --resync: every step from the device's state ----
# Sigmoid layers at lr 5 for 80 steps: the two backends' rounding differences feed back through
# the weights and grow until 40 of 1200 rows fail a plain compare (measured; not asserted, it
# depends on the platform's rounding). With --resync each step starts the reference from the
# device's weights and optimizer state, so only one step's differences show: all rows pass, and
# would not if the state were not carried over.
RESYNC=(--train-csv "$TMP/blobs_train.csv" --layers 2,64,64,3 --act sigmoid --batch 16 --lr 5
        --steps 80 --resync)
if "$CLMLP" compare "${RESYNC[@]}" >"$TMP/resync.out" 2>&1; then
    grep -q "each from the device's state" "$TMP/resync.out" && grep -q "^PASS" "$TMP/resync.out" &&
        pass "compare --resync" || fail "compare --resync output"
else
    fail "compare --resync exited non-zero: $(tail -5 "$TMP/resync.out")"
fi

# ---- compare checks the optimizer state each step leaves, with or without --resync ----
# Kernels that store a wrong velocity (momentum) or second moment (Adam) while stepping the
# weights right: the weight rows pass, so only the state rows can catch them (a reviewer's
# find: --resync hands the device's state to the reference before each step and hid them).
mkdir "$TMP/kmut"
cp "$(dirname "$0")/../kernels/"*.cl "$TMP/kmut/"
sed -i 's/VSTORE(N, v_, m1);/VSTORE(N, 0.5f * v_, m1);/; s/VSTORE(N, s_, m2);/VSTORE(N, 0.5f * s_, m2);/' \
    "$TMP/kmut/update_rules.cl"
grep -q "0.5f \* v_" "$TMP/kmut/update_rules.cl" && grep -q "0.5f \* s_" "$TMP/kmut/update_rules.cl" ||
    fail "the mutation did not apply to update_rules.cl"
STATE=(--train-csv "$TMP/blobs_train.csv" --layers 2,33,17,3 --batch 16 --lr 0.1 --steps 3
       --resync)
for rule in "momentum velocity" "adam sqrt(v)"; do
    read -r opt moment <<<"$rule"
    if CLMLP_KERNEL_DIR="$TMP/kmut" "$CLMLP" compare "${STATE[@]}" --optimizer "$opt" \
        >"$TMP/state.out" 2>&1; then
        fail "compare --resync --optimizer $opt passed kernels that store a wrong $moment"
    elif grep -q "${moment}_W .*FAIL" "$TMP/state.out" &&
        ! grep -q "  weight .*FAIL" "$TMP/state.out"; then
        pass "compare --resync catches a wrong $moment ($opt)"
    else
        fail "compare --resync --optimizer $opt, wrong $moment: $(tail -12 "$TMP/state.out")"
    fi
    "$CLMLP" compare "${STATE[@]}" --optimizer "$opt" >"$TMP/state.out" 2>&1 &&
        grep -q "${moment}_W .*pass" "$TMP/state.out" && pass "compare --resync, $opt state rows" ||
        fail "compare --resync --optimizer $opt: $(tail -5 "$TMP/state.out")"
done

# ---- early stopping keeps the best validation epoch ----
"$CLMLP" train "${BLOBS[@]}" --device cpu --val-fraction 0.2 --patience 2 --epochs 40 >"$TMP/es.out"
grep -q "kept epoch" "$TMP/es.out" && grep -q "val loss" "$TMP/es.out" && pass "--val-fraction/--patience" ||
    fail "--val-fraction/--patience: $(tail -2 "$TMP/es.out")"

# ---- IDX: an MNIST-format folder for training, IDX images (plain and gzip) for predict ----
mkdir "$TMP/idx"
for split in train t10k; do
    cp "$CASES/c10_images.idx3-ubyte" "$TMP/idx/$split-images-idx3-ubyte"
    cp "$CASES/c10_labels.idx1-ubyte" "$TMP/idx/$split-labels-idx1-ubyte"
done
"$CLMLP" train --data "$TMP/idx" --layers 16,8,10 --epochs 2 --device cpu --save "$TMP/idx.clmlp" \
    --quiet >/dev/null
"$CLMLP" predict "$TMP/idx.clmlp" "$CASES/c10_images.idx3-ubyte" --device cpu >"$TMP/p1"
"$CLMLP" predict "$TMP/idx.clmlp" "$CASES/c10_images.idx3-ubyte.gz" --device cpu >"$TMP/p2"
[[ $(wc -l <"$TMP/p1") -eq 3 ]] && cmp -s "$TMP/p1" "$TMP/p2" && pass "predict on IDX images" ||
    fail "predict on IDX images"
"$CLMLP" eval "$TMP/idx.clmlp" --data "$TMP/idx" --device cpu | grep -q "samples: 3" &&
    pass "eval on an IDX folder" || fail "eval on an IDX folder"

# ---- devices ----
"$CLMLP" devices >"$TMP/dev.out" && grep -q "compute units" "$TMP/dev.out" && pass "devices" ||
    fail "devices"

# ---- C14: features and labels shuffled together (4-4-4, sigmoid, ce, lr 0.5, batch 8) ----
C14=(--layers 4,4,4 --act sigmoid --loss ce --optimizer sgd --lr 0.5 --batch 8 --epochs 60 --quiet)
for file in c14_onehot_40.csv c14_sorted_by_label_40.csv; do
    for seed in 0 1 2 3 4 5 6 7 8 9; do
        "$CLMLP" train --train-csv "$CASES/$file" "${C14[@]}" --seed $seed --device cpu >"$TMP/c14.out"
        acc=$(train_acc "$TMP/c14.out")
        [[ $acc == 1.0000 ]] || fail "C14 $file seed $seed (cpu): train accuracy $acc"
    done
    for seed in 0 1; do
        "$CLMLP" train --train-csv "$CASES/$file" "${C14[@]}" --seed $seed >"$TMP/c14.out"
        acc=$(train_acc "$TMP/c14.out")
        [[ $acc == 1.0000 ]] || fail "C14 $file seed $seed (OpenCL): train accuracy $acc"
    done
    pass "C14 $file"
done

# ---- errors: one line on stderr, exit 1 (2 for usage), never a signal ----
expect_error "missing CSV" "nonexistent.csv" train --train-csv "$TMP/nonexistent.csv"
expect_error "missing data folder" "$TMP/nodir" train --data "$TMP/nodir"
expect_error "--layers not matching the data" "--layers starts with 5 inputs but the data has 2" \
    train --train-csv "$TMP/blobs_train.csv" --layers 5,4,3
expect_error "too few outputs for the labels" "outside [0, 1]" \
    train --train-csv "$TMP/blobs_train.csv" --layers 2,4,2 --device cpu
expect_error "--epochs abc" "--epochs" train --epochs abc
expect_error "unknown option" "--frobnicate" train --frobnicate
expect_error "--patience without --val-fraction" "--val-fraction" train --patience 3
expect_error "compare on the CPU reference" "OpenCL" compare --device cpu
expect_error "train-only option in compare" "--save" compare --save x.clmlp
expect_error "unknown command" "frobnicate" frobnicate
expect_error "bad --act" "swish" train --train-csv "$TMP/blobs_train.csv" --act swish
expect_error "--layers with an empty layer" "layer 2 has 0 units" train --layers 784,0,10
expect_error "--momentum without the momentum optimizer" "--momentum applies to --optimizer momentum" \
    train --train-csv "$TMP/blobs_train.csv" --optimizer adam --momentum 0.5
expect_error "eval: missing model" "nomodel" eval "$TMP/nomodel.clmlp" --csv "$TMP/blobs_test.csv"
expect_error "eval: not a model" "" eval "$TMP/blobs_test.csv" --csv "$TMP/blobs_test.csv"
expect_error "eval: width mismatch" "4 features" eval "$TMP/blobs_cpu.clmlp" --csv "$CASES/c14_onehot_40.csv"
expect_error "predict: width mismatch" "model's input layer has 2" \
    predict "$TMP/blobs_cpu.clmlp" "$TMP/blobs_test.csv"
expect_error "predict: missing input" "missing.csv" predict "$TMP/blobs_cpu.clmlp" "$TMP/missing.csv"
# Output names that cannot be written are refused before any training: an empty name (once
# read as the folder "."), or one too long for the folder once the atomic write's temporary
# suffix is added (once found only when saving, after every epoch).
long_name=$(printf 'a%.0s' $(seq 1 250)).clmlp
for out in "--save=" "--checkpoint=" "--log=" "--save=$TMP/$long_name"; do
    expect_error "train ${out:0:13}...: refused up front" "${out%%=*}" train "${NET[@]}" \
        --device cpu --epochs 1 "${out%%=*}" "${out#*=}"
    grep -q "^epoch" "$TMP/out" && fail "train ${out:0:13}...: trained before refusing"
done
expect_error "bench --csv ''" "--csv needs a file name" bench --device cpu --batch 4 --csv ""
expect_error "vanish --csv ''" "--csv needs a file name" vanish --csv ""
# Finite inputs that overflow the float32 sums (relu passes an Inf on; softmax of Inf is NaN):
# predict printed the NaNs as probabilities with exit 0, and eval named neither file nor
# sample. Both backends; the output file keeps what it had.
"$CLMLP" train "${BLOBS[@]}" --act relu --device cpu --epochs 1 --save "$TMP/relu.clmlp" --quiet \
    >/dev/null
big_rows='3e38,3e38\n-3e38,-3e38\n3e38,-3e38\n-3e38,3e38\n'
printf "0.5,0.5\n$big_rows" >"$TMP/overflow.csv"
printf '1,0.5,0.5\n' >"$TMP/overflow_lab.csv"
printf "$big_rows" | sed 's/^/0,/' >>"$TMP/overflow_lab.csv"
echo kept >"$TMP/overflow.out"
for dev in cpu 0; do
    expect_error "predict: inputs that overflow ($dev)" "NaN or Inf outputs" predict \
        "$TMP/relu.clmlp" "$TMP/overflow.csv" --output "$TMP/overflow.out" --device $dev
    grep -q "overflow.csv: sample [2-5] gives" "$TMP/err" && [[ $(cat "$TMP/overflow.out") == kept ]] &&
        pass "predict: file and sample named, output untouched ($dev)" ||
        fail "predict on overflowing inputs ($dev): $(cat "$TMP/err"), output $(cat "$TMP/overflow.out")"
    expect_error "eval: inputs that overflow ($dev)" "overflow_lab.csv: sample" \
        eval "$TMP/relu.clmlp" --csv "$TMP/overflow_lab.csv" --device $dev
done

# A diverging run (features near FLT_MAX, linear output) must fail and leave the model alone.
printf '0,3e38,3e38\n1,-3e38,3e38\n0,3e38,-3e38\n1,3e38,3e38\n' >"$TMP/huge.csv"
for dev in cpu default; do
    devopt=()
    [[ $dev == cpu ]] && devopt=(--device cpu)
    cp "$TMP/blobs_cpu.clmlp" "$TMP/keep.clmlp"
    expect_error "NaN run fails ($dev)" "NaN" train --train-csv "$TMP/huge.csv" --layers 2,8,2 \
        --loss mse --out-act identity --epochs 2 --save "$TMP/keep.clmlp" "${devopt[@]}"
    cmp -s "$TMP/blobs_cpu.clmlp" "$TMP/keep.clmlp" && pass "model kept after failure ($dev)" ||
        fail "a failed run changed the existing model ($dev)"
done

# ---- input handling: predict uses the shared readers; labels are checked with their file ----
# predict's features-only CSV: what its own parser once skipped or misread is an error naming
# the line and field; a tiny value underflows to 0 and is accepted.
printf '0.5,,0.7\n' >"$TMP/gap.csv"
expect_error "predict: empty field" "gap.csv:1:2: empty field" \
    predict "$TMP/blobs_cpu.clmlp" "$TMP/gap.csv" --device cpu
printf '0.5,0.7,\n' >"$TMP/trail.csv"
expect_error "predict: trailing comma" "trail.csv:1:3: empty field" \
    predict "$TMP/blobs_cpu.clmlp" "$TMP/trail.csv" --device cpu
printf '0x10,0.7\n' >"$TMP/hex.csv"
expect_error "predict: hex cell" "hex.csv:1:1: '0x10' is not a number" \
    predict "$TMP/blobs_cpu.clmlp" "$TMP/hex.csv" --device cpu
printf '1e-999,0.7\n' >"$TMP/tiny.csv"
[[ $("$CLMLP" predict "$TMP/blobs_cpu.clmlp" "$TMP/tiny.csv" --device cpu | wc -l) -eq 1 ]] &&
    pass "predict: 1e-999 is a number" || fail "predict: 1e-999 refused"
expect_error "predict: a label column not mentioned" "use --label-column" \
    predict "$TMP/blobs_cpu.clmlp" "$TMP/blobs_train.csv" --device cpu
# predict's IDX input: the shared reader's checks and messages, naming the file
printf '\0\0\10\3\177\377\377\377\0\0\0\4\0\0\0\4' >"$TMP/claims2g.idx"
expect_error "predict: IDX header claiming 2^31 images" "claims2g.idx: header says 2147483647 images" \
    predict "$TMP/idx.clmlp" "$TMP/claims2g.idx" --device cpu
printf '\0\0\10\3\0\114\113\100\0\0\0\34\0\0\0\34' >"$TMP/claims5m.idx"
expect_error "predict: IDX header claiming 5M images" "claims5m.idx: truncated" \
    predict "$TMP/idx.clmlp" "$TMP/claims5m.idx" --device cpu
gzip -c "$CASES/c10_images.idx3-ubyte" >"$TMP/corrupt.gz"
printf '\377' | dd of="$TMP/corrupt.gz" bs=1 seek=$(($(wc -c <"$TMP/corrupt.gz") - 8)) conv=notrunc 2>/dev/null
expect_error "predict: corrupt gzip" "corrupt.gz: gzip data is corrupt" \
    predict "$TMP/idx.clmlp" "$TMP/corrupt.gz" --device cpu
expect_error "predict: a label file as input" "not an image (idx3) file" \
    predict "$TMP/idx.clmlp" "$CASES/c10_labels.idx1-ubyte" --device cpu
expect_error "predict: a directory as input" "is a directory" \
    predict "$TMP/idx.clmlp" "$TMP/idx" --device cpu

# a stray huge label is refused at its line, not turned into a 10^9-wide output layer
head -6 "$TMP/blobs_train.csv" >"$TMP/huge_label.csv"
echo "1000000000,0.5,0.5" >>"$TMP/huge_label.csv"
expect_error "train: label 10^9" \
    "huge_label.csv:7:1: label 1000000000 is above 65535, the largest class clmlp supports" \
    train --train-csv "$TMP/huge_label.csv" --device cpu

# C12: labels outside the network's or model's outputs name the file (and, for CSV, the line)
expect_error "C12 train CSV" "c12_csv_label_too_big.csv:2:1: label 10 is outside [0, 9]" \
    train --train-csv "$CASES/c12_csv_label_too_big.csv" --layers 4,4,10 --device cpu
mkdir "$TMP/c12idx"
for split in train t10k; do
    cp "$CASES/c10_images.idx3-ubyte" "$TMP/c12idx/$split-images-idx3-ubyte"
    cp "$CASES/c12_labels_out_of_range.idx1-ubyte" "$TMP/c12idx/$split-labels-idx1-ubyte"
done
expect_error "C12 train IDX" "train-labels-idx1-ubyte: label 10 at index 1 is outside [0, 9]" \
    train --data "$TMP/c12idx" --layers 16,8,10 --device cpu
"$CLMLP" train --train-csv "$CASES/c14_onehot_40.csv" --layers 4,4,10 --epochs 1 --device cpu \
    --save "$TMP/c14x10.clmlp" --quiet >/dev/null
expect_error "C12 eval CSV" "c12_csv_label_too_big.csv:2:1: label 10 is outside [0, 9]" \
    eval "$TMP/c14x10.clmlp" --csv "$CASES/c12_csv_label_too_big.csv" --device cpu
expect_error "C12 eval IDX" "t10k-labels-idx1-ubyte: label 10 at index 1 is outside [0, 9]" \
    eval "$TMP/idx.clmlp" --data "$TMP/c12idx" --device cpu
expect_error "C12 predict with labels" "c12_csv_label_too_big.csv:2:1: label 10 is outside [0, 9]" \
    predict "$TMP/c14x10.clmlp" "$CASES/c12_csv_label_too_big.csv" --label-column 0 --device cpu

# locale CSVs and old line ends: the message names the file (and line) and says what to do
printf 'label;x;y\n1;2,5;3,5\n' >"$TMP/semicolon.csv"
expect_error "decimal-comma CSV" "semicolon.csv:2: expected 1 field, found 3 (';' found" \
    train --train-csv "$TMP/semicolon.csv" --device cpu
expect_error "quoted decimal comma" "c19_decimal_comma_quoted.csv:1:2: quoted fields" \
    train --train-csv "$CASES/c19_decimal_comma_quoted.csv" --device cpu
printf '0,0.5,0.7\r1,0.2,0.3\r' >"$TMP/mac.csv"
expect_error "CR-only line ends" "mac.csv: lines end with CR only (classic Mac); convert to LF or CRLF" \
    train --train-csv "$TMP/mac.csv" --device cpu

# ---- predict --output: written atomically, never over its own INPUT or MODEL ----
M="$TMP/blobs_cpu.clmlp"
cp "$TMP/features.csv" "$TMP/in.csv"
rc=0
"$CLMLP" predict "$M" "$TMP/in.csv" --output "$TMP/in.csv" --device cpu 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 ]] && grep -qF "would overwrite the INPUT" "$TMP/err" && cmp -s "$TMP/in.csv" "$TMP/features.csv" &&
    pass "predict: --output same as INPUT refused, input unchanged" ||
    fail "predict: --output same as INPUT: exit $rc, $(cat "$TMP/err")"
ln -s in.csv "$TMP/in_link.csv"
rc=0
"$CLMLP" predict "$M" "$TMP/in.csv" --output "$TMP/in_link.csv" --device cpu 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 && -L $TMP/in_link.csv ]] && cmp -s "$TMP/in.csv" "$TMP/features.csv" &&
    pass "predict: --output a symlink to INPUT refused" || fail "predict: --output symlink to INPUT: exit $rc"
cp "$M" "$TMP/m_copy.clmlp"
rc=0
"$CLMLP" predict "$TMP/m_copy.clmlp" "$TMP/in.csv" --output "$TMP/m_copy.clmlp" --device cpu 2>"$TMP/err" || rc=$?
[[ $rc -eq 2 ]] && cmp -s "$M" "$TMP/m_copy.clmlp" && pass "predict: --output same as MODEL refused" ||
    fail "predict: --output same as MODEL: exit $rc"
expect_error "predict: --output a directory" "not a regular file" \
    predict "$M" "$TMP/in.csv" --output "$TMP/idx" --device cpu
expect_error "predict: --output into a missing folder" "cannot create files in $TMP/nodir" \
    predict "$M" "$TMP/in.csv" --output "$TMP/nodir/p.txt" --device cpu
printf 'keep\n' >"$TMP/old_pred.txt"
expect_error "predict: failing input with --output" "gap.csv:1:2: empty field" \
    predict "$M" "$TMP/gap.csv" --output "$TMP/old_pred.txt" --device cpu
[[ $(cat "$TMP/old_pred.txt") == keep ]] && pass "predict: failed run leaves --output unchanged" ||
    fail "predict: failed run changed the existing --output file"
seq 1 500 >"$TMP/old_pred.txt" # longer than the new output: must be replaced, not overwritten
"$CLMLP" predict "$M" "$TMP/in.csv" --output "$TMP/old_pred.txt" --device cpu
[[ $(wc -l <"$TMP/old_pred.txt") -eq $(wc -l <"$TMP/in.csv") ]] &&
    awk -F, 'NF != 4 { bad++ } END { exit bad > 0 }' "$TMP/old_pred.txt" &&
    ! ls "$TMP"/old_pred.txt.tmp.* >/dev/null 2>&1 &&
    pass "predict: --output replaces the file with one line per sample" ||
    fail "predict: --output wrote $(wc -l <"$TMP/old_pred.txt") lines for $(wc -l <"$TMP/in.csv") samples"
# a stdout that cannot be written (a full disk) is exit 1 with a message, for predict and eval
if [[ -w /dev/full ]]; then
    for cmd in predict eval; do
        args=(predict "$M" "$TMP/in.csv")
        [[ $cmd == eval ]] && args=(eval "$M" --csv "$TMP/blobs_test.csv")
        rc=0
        "$CLMLP" "${args[@]}" --device cpu >/dev/full 2>"$TMP/err" || rc=$?
        [[ $rc -eq 1 ]] && grep -qF "clmlp $cmd: writing the standard output failed" "$TMP/err" &&
            [[ $(wc -l <"$TMP/err") -eq 1 ]] &&
            pass "$cmd: stdout on /dev/full is exit 1 with one message" ||
            fail "$cmd: stdout on /dev/full: exit $rc, $(cat "$TMP/err")"
    done
fi

if [[ $FAILS -ne 0 ]]; then
    echo "$FAILS check(s) failed" >&2
    exit 1
fi
echo "all CLI checks passed"
