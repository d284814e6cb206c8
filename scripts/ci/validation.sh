#!/usr/bin/env bash
# CI: the whole correctness suite with each extra check of the Khronos validation layer
# (VKATTN_VALIDATION=sync: synchronization validation, including hazards between queue submissions;
# =gpu: GPU-assisted validation, shaders instrumented for out-of-bounds accesses). The suite fails on
# any validation message (tests/test_main.cpp). Set VKATTN_VALIDATION_MODES to choose, e.g. adding
# best-practices. See docs/validation.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${VKATTN_BUILD_DIR:-build}"
MODES="${VKATTN_VALIDATION_MODES:-sync gpu}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)"

status=0
summary=""
for mode in $MODES; do
    log="$BUILD/validation-$mode.log"
    extra=()
    # Submit-time hazards (one submission's writes against the next one's accesses) are a layer
    # setting with no VkValidationFeatureEnableEXT value in this layer version: the environment.
    if [ "$mode" = sync ]; then extra=(VK_LAYER_ENABLES=VALIDATION_CHECK_ENABLE_SYNCHRONIZATION_VALIDATION_QUEUE_SUBMIT); fi
    start=$(date +%s)
    if env "${extra[@]}" VKATTN_VALIDATION="$mode" "$BUILD/tests/vkattn_tests" >"$log" 2>&1; then result=passed; else result=FAILED; status=1; fi
    seconds=$(( $(date +%s) - start ))
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    messages=$(grep -c "vkattn: validation \(error\|warning\)" "$log" || true)
    line="validation $mode: $result, ${passed:-0} tests passed, $messages validation message(s), ${seconds} s"
    echo "$line"
    summary+="$line"$'\n'
    grep -E "^vkattn tests: " "$log" || true
    if [ "$result" = FAILED ]; then grep -E "^\[  FAILED  \]|vkattn: validation" "$log" | head -40; fi
done
printf '\n%s' "$summary"
exit $status
