#!/usr/bin/env bash
# The one entry point on a fresh Debian 12 machine: installs what is missing (apt-get, with sudo
# when not root), builds, then runs one job:
#   train [clmlp train options]   train on Fashion-MNIST (package dataset-fashion-mnist)
#   test                          the test suite: ctest on the default OpenCL device (PoCL)
#   test-sanitize                 the same tests in an ASan+UBSan build (build-asan/)
#   fuzz [SECONDS]                libFuzzer on the IDX, CSV and model readers (default 60 s
#                                 each); any crash, leak or sanitizer report fails
# Builds go to build/ (Release, -Werror) and build-asan/ (Debug, sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."

job=${1:-}
[ $# -gt 0 ] && shift
case "$job" in
train | test | test-sanitize | fuzz) ;;
*)
    echo "usage: $0 train [clmlp train options] | test | test-sanitize | fuzz [seconds]" >&2
    exit 2
    ;;
esac

packages=(build-essential cmake pkg-config ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd
    clinfo check libsubunit-dev zlib1g-dev python3 python3-numpy python3-matplotlib locales)
[ "$job" = train ] && packages+=(dataset-fashion-mnist)
# libFuzzer and the sanitizer runtimes come from libclang-rt-14-dev, which clang-14 does not pull.
[ "$job" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)
# FANN, only for the benchmark baseline in tools/bench_fann.c (see BENCHMARKS.md).
[ "${CLMLP_BENCH_FANN:-0}" = 1 ] && packages+=(libfann-dev)

install_missing() {
    local missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    echo "Installing: ${missing[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

# The CSV reader must parse '0.5' the same under a decimal-comma locale; the test uses
# de_DE.UTF-8 when it exists, so make it exist.
ensure_test_locale() {
    locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    if [ -f /etc/locale.gen ]; then
        $sudo sed -i 's/^# *\(de_DE.UTF-8 UTF-8\)/\1/' /etc/locale.gen
        grep -q '^de_DE.UTF-8 UTF-8' /etc/locale.gen || echo 'de_DE.UTF-8 UTF-8' | $sudo tee -a /etc/locale.gen >/dev/null
        $sudo locale-gen >/dev/null || echo "warning: locale-gen failed; the locale test runs in C" >&2
    fi
}

build() { # build DIR BUILD_TYPE [cmake args]
    local dir=$1 type=$2
    shift 2
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DCLMLP_WERROR=ON "$@"
    cmake --build "$dir" -j"$(nproc)"
}

install_missing
case "$job" in
train)
    build build Release
    exec ./build/clmlp train "$@"
    ;;
test)
    ensure_test_locale
    build build Release
    ctest --test-dir build --output-on-failure -j"$(nproc)"
    ;;
test-sanitize)
    ensure_test_locale
    build build-asan Debug -DCLMLP_SANITIZE=ON
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
    ;;
fuzz)
    CC=clang-14 exec tests/fuzz/build-and-run.sh "${1:-60}"
    ;;
esac
