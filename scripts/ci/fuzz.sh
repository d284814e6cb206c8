#!/usr/bin/env bash
# CI step: builds the libFuzzer targets (clang, ASan + UBSan, in build-asan, the tree the sanitizer
# step builds: scripts/ci/asan_build.sh) and runs each for
# a bounded time from its committed seed corpus (tests/fuzz/corpus/<target>; a copy is fuzzed, the
# committed corpus is never changed). Any crash, sanitizer report, timeout, memory blow-up or target
# finding fails the step; the input is saved under build-asan/fuzz/artifacts/. Fix the bug, then commit the
# input as tests/fuzz/regressions/<target>/<name>: the normal test suite replays it
# (tests/fuzz_replay_test.cpp). Prints the executions per target.
# Usage: scripts/ci/fuzz.sh [seconds per target, default $FUZZ_SECONDS or 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-${FUZZ_SECONDS:-60}}"
t0=$(date +%s)
bash scripts/ci/asan_build.sh --target fuzz_npy fuzz_safetensors fuzz_attention_args
t1=$(date +%s)
echo "fuzz: build $((t1 - t0)) s"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
supp="$PWD/tests/sanitizers"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
# Pipelines are kept between runs of the attention target (each costs seconds to compile on lavapipe).
export VKATTN_FUZZ_PIPELINE_CACHE="$PWD/build-asan/fuzz/pipeline-cache"
mkdir -p build-asan/fuzz/artifacts "$VKATTN_FUZZ_PIPELINE_CACHE"
# The three targets run at the same time, each in its own process for the same bounded time: the two
# parsers keep a core busy each and the attention target mostly waits on lavapipe, so on the 2-core CI
# machine this takes about one target's time instead of three (each target still gets its full time;
# it runs fewer executions per second while they share the cores).
fuzz_one() {  # fuzz_one NAME CORPUS_DIR: runs one target; writes its log and a result line
  local name=$1 corpus=$2 work="build-asan/fuzz/corpus-$1" log="build-asan/fuzz/$1.log" leaks=1 rss=2048
  rm -rf "$work"; mkdir -p "$work"; cp "$corpus"/* "$work"/
  # The attention target: no leak check. lavapipe's JIT-compiled shader code allocates with realloc and
  # never frees, and its frames have no module name, so no suppression can match them. Each pipeline
  # keeps ~16 MB of JIT code and the fuzzer reaches dozens of variants: 6 GB. The parser targets (npy,
  # safetensors) keep leak checking on (nothing of the driver is loaded).
  # -timeout=300 per input: an input that needs new pipelines compiles each (1-2 s on an idle lavapipe,
  # many times that on a loaded 2-core machine); 60 s was hit by a seed input on a busy machine.
  if [ "$name" = fuzz_attention_args ]; then leaks=0; rss=6144; fi
  echo "fuzz: $name for ${seconds}s from $(ls "$corpus" | wc -l) seeds"
  if ASAN_OPTIONS="detect_leaks=$leaks" "build-asan/tests/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix=build-asan/fuzz/artifacts/ -max_len=4096 -timeout=300 -rss_limit_mb="$rss" "$work" >"$log" 2>&1; then
    local execs rate cov
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 || true)
    echo "fuzz: $name ok: $execs executions ($rate/s), $cov, corpus $(ls "$work" | wc -l) inputs" >"build-asan/fuzz/$name.result"
  else
    echo "fuzz: $name FAILED" >"build-asan/fuzz/$name.result"
  fi
}
pids=()
for target in fuzz_npy:npy fuzz_safetensors:safetensors fuzz_attention_args:attention_args; do
  name="${target%%:*}"
  rm -f "build-asan/fuzz/$name.result"
  fuzz_one "$name" "tests/fuzz/corpus/${target##*:}" &
  pids+=($!)
done
wait "${pids[@]}" || true
status=0
for name in fuzz_npy fuzz_safetensors fuzz_attention_args; do
  line=$(cat "build-asan/fuzz/$name.result" 2>/dev/null || echo "fuzz: $name FAILED (no result: the run did not finish)")
  case "$line" in
    *" ok: "*) echo "$line" ;;
    *)
      tail -n 60 "build-asan/fuzz/$name.log" || true
      echo "$line (input saved under build-asan/fuzz/artifacts/: $(ls build-asan/fuzz/artifacts | tr '\n' ' '))"
      status=1 ;;
  esac
done
echo "fuzz: total $(( $(date +%s) - t0 )) s"
exit $status
