#!/usr/bin/env bash
# gpu-check.sh - the whole check on a machine with a GPU, as one script (the workplace's notes:
# shared/design/gpu-check.md): build info, `clmlp devices`, the test suite against the GPU,
# `clmlp compare` (device against the CPU reference) and `clmlp bench`; every step's output is
# saved under $OUT (default ./gpu-check-out) and a summary printed at the end. It goes on past a
# failed step, so one run says everything, and exits non-zero if any step failed.
#
# Usage: tools/gpu-check.sh [BUILD_DIR]   (default build-perf: a Release build made beforehand,
#        carried to the GPU machine with the working tree; CLMLP_DEVICE picks the device,
#        default "nvidia", any `clmlp devices` index or name substring)
# A GPU machine may lack the OpenCL ICD loader and the Check tests' libsubunit. Then put the
# .deb files of ocl-icd-libopencl1, clinfo and libsubunit0 in $DEBS (made on Debian 12 with
# `apt-get download ocl-icd-libopencl1 clinfo libsubunit0`): the script unpacks them under
# /tmp/ocl and, where the loader has no vendor file, points it at the driver's
# libnvidia-opencl.so.1. The test binaries run directly (not through ctest, whose files name
# the build machine's paths and which may not be installed there).
# Tried on PoCL only (CLMLP_DEVICE=pocl): no GPU machine has been lent to this project yet.
set -uo pipefail
cd "$(dirname "$0")/.."

build=${1:-build-perf}
device=${CLMLP_DEVICE:-nvidia}
out=${OUT:-$PWD/gpu-check-out}
mkdir -p "$out"
clmlp="$build/clmlp"
summary=()

# Runs one named step with a time limit in seconds, its output to $out/NAME.txt and the tail
# of it to the screen.
step() {
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*"
    if declare -F "$1" > /dev/null; then
        "$@" > "$out/$name.txt" 2>&1 # a function of this script times its own commands
    else
        timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    fi
    local rc=$?
    tail -n 25 "$out/$name.txt"
    summary+=("$(printf '%-10s rc=%-3s %s' "$name" "$rc" "$*")")
    return 0
}

# Libraries from .deb files when the machine lacks them (shared/design/gpu-check.md).
use_debs() {
    [ -n "${DEBS:-}" ] || return 0
    mkdir -p /tmp/ocl/vendors
    for f in "$DEBS"/*.deb; do dpkg -x "$f" /tmp/ocl; done
    export LD_LIBRARY_PATH=/tmp/ocl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export PATH=/tmp/ocl/usr/bin:$PATH
    ls /etc/OpenCL/vendors/*.icd > /dev/null 2>&1 && return 0
    local lib
    lib=$(ldconfig -p | grep -o '/[^ ]*libnvidia-opencl\.so\.1' | head -n 1)
    [ -z "$lib" ] && lib=$(find / -name 'libnvidia-opencl.so.1' 2> /dev/null | head -n 1)
    if [ -z "$lib" ]; then
        echo "no libnvidia-opencl.so.1 on this machine: no OpenCL for the GPU here" >&2
        return 0
    fi
    echo "$lib" > /tmp/ocl/vendors/nvidia.icd
    export OCL_ICD_VENDORS=/tmp/ocl/vendors
}

# The C test suites (Check) against the chosen device, one after another.
run_tests() {
    local t rc=0
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        echo "-- $t"
        timeout 300 "$t" || rc=1
    done
    return $rc
}

if [ ! -x "$clmlp" ]; then
    echo "gpu-check: $clmlp not found: build first (cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release" \
        "&& cmake --build $build -j) and carry $build to this machine" >&2
    exit 2
fi
use_debs

{
    echo "commit: $(git rev-parse --short HEAD 2> /dev/null || echo unknown)"
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(uname -srm), $(nproc) CPUs"
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
        --format=csv,noheader
    command -v clinfo > /dev/null && clinfo -l
} > "$out/info.txt" 2>&1
cat "$out/info.txt"

step devices 60 "$clmlp" devices
export CLMLP_DEVICE=$device
step tests 0 run_tests
step compare 120 "$clmlp" compare --device "$device"
step bench 300 "$clmlp" bench --device "$device" --batch 32,128,256 --csv "$out/bench.csv"
step bench_mse 300 "$clmlp" bench --device "$device" --act sigmoid --loss mse --batch 32,128,256 \
    --no-kernels

echo
echo "== gpu-check summary (device '$device'; outputs in $out)"
printf '%s\n' "${summary[@]}"
grep -h 'full step' "$out/bench.txt" "$out/bench_mse.txt" 2> /dev/null
grep -h 'PASS\|FAIL' "$out/compare.txt" 2> /dev/null | tail -n 1
failed=0
for line in "${summary[@]}"; do
    case "$line" in *"rc=0 "*) ;; *) failed=1 ;; esac
done
exit $failed
