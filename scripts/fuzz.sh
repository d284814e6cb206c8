#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ ASan/UBSan) into build-fuzz and runs each for a bounded time
# from its committed seed corpus. A crash leaves its input in build-fuzz/artifacts and fails the script;
# turn such an input into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DVKATTN_FUZZ=ON -DVKATTN_SANITIZE=ON -DVKATTN_BUILD_TESTS=OFF -DVKATTN_BUILD_TOOLS=OFF >/dev/null
cmake --build build-fuzz --parallel --target fuzz_npy fuzz_attention_args
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Leaks inside the Vulkan driver and loader are not ours; see tests/fuzz/lsan.supp.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
mkdir -p build-fuzz/artifacts
for target in fuzz_npy:npy fuzz_attention_args:attention_args; do
  name="${target%%:*}"; corpus="tests/fuzz/corpus/${target##*:}"
  work="build-fuzz/corpus-${name}"; mkdir -p "$work"
  echo "fuzz: $name for ${seconds}s"
  log="build-fuzz/$name.log"
  leaks=1
  # lavapipe's JIT-compiled shader code allocates with realloc and never frees; its frames have no
  # module name, so no suppression can match them. Leak checking stays on for the host-only target.
  # Each pipeline lavapipe builds keeps ~16 MB of JIT code (measured: RSS is flat over 3000 mixed calls
  # once the pipelines exist), and the fuzzer reaches dozens of variants: allow it 6 GB.
  rss=2048
  if [ "$name" = fuzz_attention_args ]; then leaks=0; rss=6144; fi
  if ! ASAN_OPTIONS="detect_leaks=$leaks" "build-fuzz/tests/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
      -max_len=4096 -timeout=30 -rss_limit_mb="$rss" "$work" "$corpus" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $name FAILED (input saved under build-fuzz/artifacts)"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|Done" "$log" || true
done
