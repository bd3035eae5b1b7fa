# cli_install.sh - `cmake --install` puts the library, its header, the pkg-config file and the
# binary where users expect them, and a program built only from those (examples/xor.c) trains.
# Usage: bash tests/cli_install.sh /path/to/build/clmlp /path/to/tests/cases
set -euo pipefail
CLMLP=${1:?usage: cli_install.sh CLMLP CASES_DIR}
BUILD=$(cd "$(dirname "$CLMLP")" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
for f in bin/clmlp include/clmlp.h lib/libclmlp.a lib/pkgconfig/clmlp.pc; do
    found=$(find "$TMP/prefix" -path "*/${f#*/}" -print -quit)
    [[ -n "$found" ]] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
pc=$(dirname "$(find "$TMP/prefix" -name clmlp.pc -print -quit)")
# A sanitizer build's library needs the sanitizer runtimes in the program that links it.
san=()
grep -q '^CLMLP_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" && san=(-fsanitize=address,undefined)
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$SRC/examples/xor.c" \
    $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --static --libs clmlp) -o "$TMP/xor"
"$TMP/xor" cpu
"$TMP/xor" 0
"$(find "$TMP/prefix" -name clmlp -type f -print -quit)" --version
echo "install checks passed"
