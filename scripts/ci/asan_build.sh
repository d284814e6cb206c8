#!/usr/bin/env bash
# The one AddressSanitizer + UndefinedBehaviorSanitizer build (clang, RelWithDebInfo, build-asan) shared
# by the sanitizer step (scripts/ci/sanitize.sh: library, tests, program) and the fuzz step
# (scripts/ci/fuzz.sh: the libFuzzer targets). One tree instead of two saves a whole library build on
# the CI machine; the price is libFuzzer's coverage counters (-fsanitize=fuzzer-no-link) in the code the
# sanitizer step runs, which only count. Both steps configure it with exactly these options, so
# whichever runs second builds only what it adds.
# The C compiler is clang too (the C API test, tests/capi/capi_test.c): the sanitizer flags apply to C.
# Usage: scripts/ci/asan_build.sh [cmake --build arguments, e.g. --target fuzz_npy]
set -euo pipefail
cd "$(dirname "$0")/../.."
# -O1 -gline-tables-only instead of RelWithDebInfo's -O2 -g: reports keep file:line stacks, and the
# tree compiles in less time (the host code's speed is not what this build is for).
flags="-O1 -gline-tables-only -DNDEBUG"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" \
  -DVKATTN_SANITIZE=ON -DVKATTN_FUZZ=ON >/dev/null
cmake --build build-asan --parallel "${VKATTN_JOBS:-$(nproc)}" "$@"
