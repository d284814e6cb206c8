#!/usr/bin/env bash
# ThreadSanitizer run: builds the reliability tests with -DVKATTN_TSAN=ON in build-tsan and runs the
# multi-threaded ones: one Context shared by 8 threads with 100 checked operations each (mapped and
# staged transfers) while a ninth polls its counters, and a device loss while 8 threads run.
# Fails on any TSan report. Suppressions (driver/loader only, each commented): tests/reliability/tsan.supp.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${VKATTN_TSAN_BUILD_DIR:-build-tsan}

# -O1 -g1 instead of RelWithDebInfo's -O2 -g: reports keep function names and file:line, and the tree
# compiles in less time (this build is for finding races, not for speed).
flags="-O1 -g1 -DNDEBUG"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKATTN_TSAN=ON -DVKATTN_BUILD_TOOLS=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags"
cmake --build "$build" --parallel "${VKATTN_JOBS:-2}" --target vkattn_reliability_tests

# The validation layer is not instrumented and makes every call several times slower under TSan; the
# default build runs these tests with it on. halt_on_error: the first report fails the run.
export VKATTN_RELIABILITY_NO_VALIDATION=1
export TSAN_OPTIONS="suppressions=$root/tests/reliability/tsan.supp halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
start=$(date +%s)
# Default: the multi-threaded tests (about a minute). Pass gtest arguments to choose others, e.g.
# `scripts/ci/tsan.sh --gtest_filter='*'` adds the fault-injection suite (about 4 minutes more).
if [ $# -eq 0 ]; then set -- --gtest_filter='*Concurrency*:*ConcurrentLoss*'; fi
"$build/tests/reliability/vkattn_reliability_tests" "$@"
echo "tsan.sh: no ThreadSanitizer reports; $(( $(date +%s) - start )) s"
