#!/usr/bin/env bash
# CI: the whole correctness suite (build/tests/vkattn_tests, every case, including the tiled-kernel
# sweep that forces VKATTN_FUSED_KERNEL=tiled) under each limits profile, validation layer on.
# desktop is the default profile, which ctest already runs; set VKATTN_PROFILES to choose others,
# e.g. VKATTN_PROFILES="desktop mobile no-subgroup no-fp16 small-shared". See docs/profiles.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${VKATTN_BUILD_DIR:-build}"
PROFILES="${VKATTN_PROFILES:-mobile no-subgroup no-fp16 small-shared}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)"

status=0
summary=""
for profile in $PROFILES; do
    log="$BUILD/profile-$profile.log"
    start=$(date +%s)
    if VKATTN_PROFILE="$profile" VKATTN_VALIDATION=1 "$BUILD/tests/vkattn_tests" >"$log" 2>&1; then result=passed; else result=FAILED; status=1; fi
    seconds=$(( $(date +%s) - start ))
    # gtest's summary lines: "[  PASSED  ] N tests." and "[  FAILED  ] N tests, listed below:"
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    line="profile $profile: $result, ${passed:-0} passed, ${skipped:-0} skipped, ${seconds} s"
    echo "$line"
    summary+="$line"$'\n'
    grep -E "^vkattn tests: " "$log" || true
    if [ "$result" = FAILED ]; then grep -E "^\[  FAILED  \]|Failure|validation (error|warning)" "$log" | head -40; fi
done
printf '\n%s' "$summary"
exit $status
