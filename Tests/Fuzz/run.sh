#!/usr/bin/env bash
# Builds the libFuzzer harness for the spec front end and fuzzes it for SECONDS (default 600).
#
#   bash Tests/Fuzz/run.sh [SECONDS]
#
# The modules Diagnostics, YAML, IR and Spec are compiled straight from Sources/ with swiftc
# (one object + .swiftmodule each, instrumented for libFuzzer and AddressSanitizer), then linked
# with FuzzSpec.swift and the system libyaml into Tests/Fuzz/.build/fuzz-spec. Nothing under
# Sources/ is written. Exits non-zero when libFuzzer reports a crash, leak, timeout or OOM.
#
# Environment: SWIFTC (compiler; default: swiftc on PATH, else /opt/swift/usr/bin/swiftc),
# FUZZ_SANITIZERS (default fuzzer,address; use "fuzzer" to drop ASan), FUZZ_BUILD_ONLY=1 (build,
# don't fuzz), FUZZ_ARGS (extra libFuzzer flags), FUZZ_BUILD_DIR (default Tests/Fuzz/.build).
set -euo pipefail

SECONDS_TO_RUN=${1:-600}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$HERE/.build}
SWIFTC=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
SANITIZERS=${FUZZ_SANITIZERS:-fuzzer,address}
BIN=$BUILD/fuzz-spec

mkdir -p "$BUILD/modules" "$BUILD/obj"

# ---- build -------------------------------------------------------------------------------------
# -O keeps Swift's overflow and bounds traps (only -Ounchecked drops them); -g for symbolized
# stack traces. Swift 6 language mode, as in Package.swift.
FLAGS=(-swift-version 6 -O -g -parse-as-library "-sanitize=$SANITIZERS"
       -I "$BUILD/modules" -I "$ROOT/Sources/CYAML")
echo "== building $BIN (sanitizers: $SANITIZERS)"
for module in Diagnostics YAML IR Spec; do
    echo "   module $module"
    "$SWIFTC" "${FLAGS[@]}" -wmo -module-name "$module" \
        -emit-module -emit-module-path "$BUILD/modules/$module.swiftmodule" \
        -c "$ROOT/Sources/$module"/*.swift -o "$BUILD/obj/$module.o"
done
echo "   harness"
"$SWIFTC" "${FLAGS[@]}" -module-name FuzzSpec "$HERE/FuzzSpec.swift" \
    "$BUILD/obj/Diagnostics.o" "$BUILD/obj/YAML.o" "$BUILD/obj/IR.o" "$BUILD/obj/Spec.o" \
    -use-ld=lld -lyaml -o "$BIN"
echo "== built $BIN"
[[ "${FUZZ_BUILD_ONLY:-0}" == 1 ]] && exit 0

# ---- fuzz --------------------------------------------------------------------------------------
# libFuzzer adds new inputs to the first corpus directory: a working copy, so that the committed
# seeds only change by hand. It persists between runs (Tests/Fuzz/.build is ignored by git).
WORK=$BUILD/corpus
ARTIFACTS=$BUILD/artifacts/$(date +%Y%m%d-%H%M%S)   # one folder per run: nothing is overwritten
mkdir -p "$WORK" "$ARTIFACTS"
cp -n "$HERE"/corpus/* "$WORK"/ 2>/dev/null || true
LOG=$BUILD/fuzz.log

echo "== fuzzing for ${SECONDS_TO_RUN}s (corpus: $WORK, log: $LOG)"
set +e
# Swift's own crash backtracer (on by default on Linux) would catch the trap before libFuzzer
# does, and its memory server trips ASan: let libFuzzer report and save the input.
# shellcheck disable=SC2086
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
"$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -dict="$HERE/spec.dict" -artifact_prefix="$ARTIFACTS/" -print_final_stats=1 \
    ${FUZZ_ARGS:-} "$WORK" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

shopt -s nullglob
findings=("$ARTIFACTS"/crash-* "$ARTIFACTS"/leak-* "$ARTIFACTS"/timeout-* "$ARTIFACTS"/oom-*)
if (( status != 0 || ${#findings[@]} > 0 )); then
    echo "== FAILED: libFuzzer exited with status $status"
    for f in "${findings[@]}"; do
        echo "   finding saved to $f"
    done
    echo "   reproduce:  SWIFT_BACKTRACE=enable=no $BIN <file>"
    echo "   minimize:   SWIFT_BACKTRACE=enable=no $BIN -minimize_crash=1 -runs=10000 <file>"
    exit 1
fi
echo "== no findings in ${SECONDS_TO_RUN}s"
grep -E '#[0-9]+ +DONE' "$LOG" || true
