#!/bin/bash
# tool_bench_gemm.sh BENCH_GEMM - the tuning harness (tools/bench_gemm.c) runs each GEMM kernel
# once on awkward shapes and checks it against its twin: it sets every kernel argument itself,
# so a kernel that gains an argument must break this test, not the next tuning session.
# Exit code: the verdict (bench-gemm exits 1 when a result breaks its bound).
set -u
BG=$1
OPTS="-DFWD_TM=8 -DFWD_TN=16 -DHD_TM=4 -DHD_TN=4 -DHD_V=8 -DHT_TM=8 -DHT_TN=16 -DWG_TM=8 -DWG_TN=16"
SHAPES="1,1,1;3,17,10;17,33,255"
fail=0
run() {
    if ! out=$("$BG" "$@" 1 "$OPTS" 2>&1); then
        echo "FAIL: bench-gemm $*"
        echo "$out"
        fail=1
    fi
}
run forward_layer 8 16 16 1 "$SHAPES"
run forward_layer_t 8 16 1 1 "3,17,10;17,33,15"
run hidden_delta 4 4 16 1 "$SHAPES"
run hidden_delta_t 8 16 16 1 "$SHAPES"
run weight_grad 8 16 16 1 "$SHAPES"
run weight_grad_narrow 32 1 1 1 "$SHAPES"
[ $fail = 0 ] && echo "bench-gemm: every kernel ran and matched its twin"
exit $fail
