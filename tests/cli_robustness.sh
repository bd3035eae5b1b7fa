# cli_robustness.sh - nothing lost, nothing crashes: kill -9 during checkpoint writes never
# leaves an unreadable checkpoint (20 trials), Ctrl-C writes a checkpoint that resumes to
# bit-identical weights, a diverging run stops with epoch/batch/layer and leaves the saved
# model untouched, and no OpenCL platform gives a clear message while the CPU path still runs.
# Usage: bash tests/cli_robustness.sh /path/to/clmlp /path/to/tests/cases
set -euo pipefail

CLMLP=${1:?usage: cli_robustness.sh CLMLP CASES_DIR}
CASES=${2:?usage: cli_robustness.sh CLMLP CASES_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# 2000 samples, 20 features, 5 classes (deterministic awk): epochs of a few milliseconds, so
# checkpoints are written all the time.
awk 'BEGIN { srand(3); for (i = 0; i < 2000; i++) { c = i % 5; printf "%d", c;
       for (j = 0; j < 20; j++) printf ",%.4f", rand() + (j % 5 == c); printf "\n" } }' >"$TMP/d.csv"
DATA=(--train-csv "$TMP/d.csv" --layers 20,32,16,5 --act tanh --batch 50 --seed 4)

# ---- kill -9 at random moments while checkpoints are being written ----
# Each trial waits for the first checkpoint (so a cold kernel cache cannot push every kill
# before it), then kills at a random moment of the next half second: epochs take
# milliseconds, so the kill lands while checkpoints are being rewritten, often mid-write.
trials=20 readable=0
for t in $(seq 1 $trials); do
    rm -f "$TMP/ck.clmlp"
    "$CLMLP" train "${DATA[@]}" --epochs 100000 --checkpoint "$TMP/ck.clmlp" --quiet \
        >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 6000); do [[ -e "$TMP/ck.clmlp" ]] && break; sleep 0.01; done
    sleep "0.$((RANDOM % 50))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if "$CLMLP" eval "$TMP/ck.clmlp" --csv "$TMP/d.csv" >/dev/null 2>"$TMP/err"; then
        readable=$((readable + 1))
    else
        fail "kill -9 trial $t left an unreadable checkpoint: $(cat "$TMP/err")"
    fi
done
((readable == trials)) && pass "kill -9 during checkpointing x $trials: every checkpoint readable"

# ---- SIGINT writes a checkpoint; resuming gives the straight run's weights bit for bit ----
# 20000 samples make epochs long enough that a SIGINT sent right after the first checkpoint
# (end of epoch 1) lands in the middle of the run, on any machine.
awk 'BEGIN { srand(5); for (i = 0; i < 20000; i++) { c = i % 5; printf "%d", c;
       for (j = 0; j < 20; j++) printf ",%.4f", rand() + (j % 5 == c); printf "\n" } }' >"$TMP/big.csv"
BIGDATA=(--train-csv "$TMP/big.csv")
BIG=("${BIGDATA[@]}" --layers 20,32,16,5 --act tanh --batch 50 --seed 4 --epochs 8)
for dev in cpu 0; do
    "$CLMLP" train "${BIG[@]}" --device $dev --save "$TMP/straight.clmlp" --quiet \
        --log "$TMP/straight.log" >/dev/null
    rm -f "$TMP/int.clmlp"
    rc=0
    "$CLMLP" train "${BIG[@]}" --device $dev --checkpoint "$TMP/int.clmlp" --quiet \
        --log "$TMP/int.log" >/dev/null 2>"$TMP/err" &
    pid=$!
    for _ in $(seq 1 3000); do [[ -e "$TMP/int.clmlp" ]] && break; sleep 0.01; done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    if [[ $rc -eq 130 ]] && grep -q "checkpoint written" "$TMP/err"; then
        "$CLMLP" train "${BIGDATA[@]}" --device $dev --resume "$TMP/int.clmlp" \
            --save "$TMP/resumed.clmlp" --quiet --log "$TMP/int.log" >/dev/null
        if cmp -s "$TMP/straight.clmlp" "$TMP/resumed.clmlp"; then
            pass "device $dev: $(head -c 100 "$TMP/err"); resumed model identical to a straight run"
        else
            fail "device $dev: resumed model differs from the straight run"
        fi
        # The resumed run's --log keeps the earlier epochs' rows (it once started afresh), and
        # the interrupted epoch's loss and accuracy are the whole epoch's (they were once the
        # resumed part's): epoch, loss, accuracy as in the straight run's log.
        epochs=$(tail -n +2 "$TMP/int.log" | cut -d, -f1 | tr '\n' ' ')
        [[ $epochs == "1 2 3 4 5 6 7 8 " ]] && pass "device $dev: --log continued across --resume" ||
            fail "device $dev: --log after --resume has epochs '$epochs'"
        if diff <(cut -d, -f1-3 "$TMP/straight.log") <(cut -d, -f1-3 "$TMP/int.log") >"$TMP/logdiff"; then
            pass "device $dev: resumed log's losses and accuracies equal the straight run's"
        else
            fail "device $dev: resumed log differs from the straight run's: $(cat "$TMP/logdiff")"
        fi
        # A resume whose log would have other columns (--trace-grads added) is refused, the
        # log kept (rewriting it once dropped every earlier row without a word).
        cp "$TMP/int.log" "$TMP/int.log.bak"
        rc=0
        "$CLMLP" train "${BIGDATA[@]}" --device $dev --resume "$TMP/int.clmlp" --trace-grads \
            --log "$TMP/int.log" --quiet >/dev/null 2>"$TMP/err" || rc=$?
        [[ $rc -eq 2 ]] && grep -q "columns differ" "$TMP/err" && cmp -s "$TMP/int.log" "$TMP/int.log.bak" &&
            pass "device $dev: --log with other columns refused on --resume, log kept" ||
            fail "device $dev: --log with other columns: exit $rc, $(cat "$TMP/err")"
    else
        fail "device $dev: SIGINT gave exit $rc: $(cat "$TMP/err")"
    fi
done

# ---- SIGINT on the OpenCL device stops inside the epoch, not after every queued step ----
# The training loop only queues steps on a device; it once queued a whole epoch in a few
# milliseconds, so a SIGINT waited for the device to run all of it ("interrupted after epoch
# 2"). It now waits for the device every ~0.1 s of work. Epochs of ~3 s here (a 2048-1024
# network); the SIGINT comes 0.5 s into epoch 2, after its steps were queued.
rm -f "$TMP/mid.clmlp"
rc=0
"$CLMLP" train "${BIGDATA[@]}" --layers 20,2048,1024,5 --batch 50 --epochs 3 --device 0 \
    --checkpoint "$TMP/mid.clmlp" --quiet >/dev/null 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 6000); do [[ -e "$TMP/mid.clmlp" ]] && break; sleep 0.01; done
sleep 0.5
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || rc=$?
if [[ $rc -eq 130 ]] && grep -q "interrupted in epoch 2 after" "$TMP/err"; then
    pass "device 0: SIGINT mid-epoch: $(head -c 100 "$TMP/err")"
else
    fail "device 0: SIGINT 0.5 s into epoch 2 gave exit $rc: $(cat "$TMP/err")"
fi

# ---- resuming a run that early stopping ended trains nothing more ----
# Its last checkpoint holds "no better validation loss for --patience epochs"; the resume once
# trained on and kept a later epoch, unlike the straight run (a re-tester's find).
ES=("${BIGDATA[@]}" --layers 20,32,16,5 --act tanh --batch 50 --epochs 8 --val-fraction 0.2
    --patience 1 --lr 0.5 --lr-schedule constant --seed 4 --quiet)
for dev in cpu 0; do
    rm -f "$TMP/es.ckpt"
    "$CLMLP" train "${ES[@]}" --device $dev --checkpoint "$TMP/es.ckpt" --save "$TMP/es1.clmlp" \
        >"$TMP/es1.out"
    "$CLMLP" train "${BIGDATA[@]}" --quiet --device $dev --resume "$TMP/es.ckpt" \
        --save "$TMP/es2.clmlp" >"$TMP/es2.out"
    if grep -q "stopped early" "$TMP/es1.out" && grep -q "nothing to train.*stopped early" "$TMP/es2.out" &&
        cmp -s "$TMP/es1.clmlp" "$TMP/es2.clmlp"; then
        pass "device $dev: resuming an early-stopped run trains nothing, same model"
    else
        fail "device $dev: early-stopped resume: $(tail -1 "$TMP/es1.out") / $(tail -1 "$TMP/es2.out")"
    fi
done

# ---- --resume refuses options the checkpoint decides, instead of ignoring them ----
rc=0
"$CLMLP" train "${BIGDATA[@]}" --resume "$TMP/int.clmlp" --lr 0.5 >/dev/null 2>"$TMP/err" || rc=$?
if [[ $rc -eq 2 ]] && grep -q -- "--lr cannot be combined with --resume" "$TMP/err"; then
    pass "resume: conflicting --lr refused"
else
    fail "resume with --lr: exit $rc, $(cat "$TMP/err")"
fi

# ---- divergence: stops with where it happened; an existing model is not touched ----
"$CLMLP" train "${DATA[@]}" --epochs 1 --save "$TMP/good.clmlp" --quiet >/dev/null
cp "$TMP/good.clmlp" "$TMP/good.copy"
rc=0
"$CLMLP" train --train-csv "$CASES/c01_huge_features.csv" --layers 3,4,2 --optimizer sgd \
    --lr 1e6 --lr-schedule constant --epochs 3 --save "$TMP/good.clmlp" >/dev/null 2>"$TMP/err" || rc=$?
if [[ $rc -eq 1 ]] && grep -q "diverged" "$TMP/err" && grep -q "batch" "$TMP/err" &&
    grep -q -- "--lr" "$TMP/err" && cmp -s "$TMP/good.clmlp" "$TMP/good.copy"; then
    pass "divergence: exit 1, '$(head -c 160 "$TMP/err")', model untouched"
else
    fail "divergence: exit $rc, $(cat "$TMP/err"); model $(cmp -s "$TMP/good.clmlp" "$TMP/good.copy" && echo untouched || echo CHANGED)"
fi

# ---- divergence with a finite loss but non-finite outputs: the whole message (its loss part
#      was once cut off at 32 characters, "...but the outputs are"). Features of +-1e30 and 0,
#      one row per word below: the label, then P = 1e30, N = -1e30, Z = 0 for each feature. ----
rows="0PZPN 1PNNN 0ZNPP 1NPNN 0ZPZN 1NZPZ 0PNPP 1PZZP 0NZPN 1ZPZP 0NNZP 1NPZP 0NNPN 1ZZPP 0ZZNP
1ZNZZ 0ZNZZ 1PNNZ 0NZNZ 1PNPZ 0NNZP 1NZZZ 0ZNPN 1ZZPP 0ZNNN 1ZPNP 0NZZZ 1ZNZP 0PZPP 1PZZP 0NZNZ
1NNNZ 0ZZZP 1NZZP 0ZZPN 1PNNZ 0ZPZN 1NNNN 0PZZZ 1ZNNZ 0PPZP 1ZZPP 0ZNPZ 1PPPN 0PNPN 1PZPN 0NPPP
1NZPZ 0NZZN 1NZNN 0NPPN 1NNNP 0NPNZ 1ZPZN 0PPPN 1PPZP 0NZZZ 1NZPZ 0ZZNP 1ZZPN 0ZZNZ 1ZNPZ 0NPPP
1NPPN"
for r in $rows; do
    echo "$r" | sed -e 's/./&,/g' -e 's/,$//' -e 's/P/1e30/g' -e 's/N/-1e30/g' -e 's/Z/0/g'
done > "$TMP/e30.csv"
rc=0
"$CLMLP" train --train-csv "$TMP/e30.csv" --test-csv "$TMP/e30.csv" --header no --layers 4,8,2 \
    --act relu --optimizer sgd --epochs 2 >/dev/null 2>"$TMP/err" || rc=$?
if [[ $rc -eq 1 ]] && grep -q "training diverged (train loss .*, but the outputs are NaN/Inf);" \
    "$TMP/err"; then
    pass "divergence with a finite loss: the whole message"
else
    fail "divergence with a finite loss: exit $rc, $(cat "$TMP/err")"
fi

# ---- an enqueue that fails in the middle of an epoch: clear message, clean exit, the model
#      saved before stays as it was ----
rc=0
CLMLP_TEST_FAIL_AT_STEP=57 "$CLMLP" train "${DATA[@]}" --epochs 3 --save "$TMP/good.clmlp" \
    >/dev/null 2>"$TMP/err" || rc=$?
if [[ $rc -eq 1 ]] && grep -q "CL_OUT_OF_RESOURCES (-5)" "$TMP/err" && grep -q "step 57" "$TMP/err" &&
    cmp -s "$TMP/good.clmlp" "$TMP/good.copy"; then
    pass "device fault mid-epoch: $(head -c 150 "$TMP/err"); model untouched"
else
    fail "device fault: exit $rc, $(cat "$TMP/err")"
fi

# ---- no OpenCL platform at all: a clear message; the CPU reference still trains ----
mkdir -p "$TMP/no-vendors"
rc=0
OCL_ICD_VENDORS="$TMP/no-vendors" "$CLMLP" devices >/dev/null 2>"$TMP/err" || rc=$?
if [[ $rc -eq 1 ]] && grep -q "CL_PLATFORM_NOT_FOUND_KHR (-1001)" "$TMP/err" &&
    grep -q "pocl-opencl-icd" "$TMP/err"; then
    pass "no platform: $(head -c 120 "$TMP/err")"
else
    fail "no platform: exit $rc, $(cat "$TMP/err")"
fi
if OCL_ICD_VENDORS="$TMP/no-vendors" "$CLMLP" train "${DATA[@]}" --device cpu --epochs 1 --quiet >/dev/null; then
    pass "no platform: --device cpu still trains"
else
    fail "no platform: --device cpu failed"
fi

if ((FAILS)); then
    echo "$FAILS check(s) failed" >&2
    exit 1
fi
echo "all robustness checks passed"
