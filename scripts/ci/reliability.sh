#!/usr/bin/env bash
# The reliability CI steps that follow the README's test command in .ci/run, each in its own build
# directory, each timed: the suite under the limits profiles that plan unlike desktop (profiles.sh), synchronization and GPU-assisted
# validation, ThreadSanitizer, AddressSanitizer + UndefinedBehaviorSanitizer, and the fuzz targets
# for a bounded time. Installs the clang toolchain they need (Debian packages). Any failing step fails CI.
# Usage: scripts/ci/reliability.sh [step ...]   (default: all, in the order below)
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(clang libclang-rt-14-dev)  # TSan/ASan/UBSan and libFuzzer runtimes
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "reliability: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then steps=(profiles validation tsan sanitize fuzz); fi
summary=()
run_step() {  # run_step NAME: runs scripts/ci/NAME.sh and adds its time to the summary
  local t0
  echo "==== reliability: $1"
  t0=$(date +%s)
  bash "scripts/ci/$1.sh"
  summary+=("$(printf '%-12s %5d s' "$1" $(( $(date +%s) - t0 )))")
}
has_step() { [[ " ${steps[*]} " == *" $1 "* ]]; }
for step in "${steps[@]}"; do
  if [ ! -x "scripts/ci/${step}.sh" ]; then echo "reliability: no step '$step' (scripts/ci/${step}.sh)" >&2; exit 2; fi
done
for step in "${steps[@]}"; do
  if [ "$step" = validation ] && has_step profiles; then continue; fi  # ran beside profiles
  if [ "$step" = profiles ] && has_step validation; then
    # GPU-assisted validation (one process, a few tests) runs beside the profiles (four processes, two at
    # a time): each of these processes keeps about one core busy, so the three share the two cores with
    # less idle time than two steps in a row. Both use the Release tree, built once here first.
    build="${VKATTN_BUILD_DIR:-build}"
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" --parallel "$(nproc)"
    export VKATTN_CI_PREBUILT=1
    vlog="$build/validation-step.log"
    t0=$(date +%s)
    ( rc=0; bash scripts/ci/validation.sh >"$vlog" 2>&1 || rc=$?
      echo "$rc $(( $(date +%s) - t0 ))" >"$build/validation-step.result" ) &
    vpid=$!
    run_step profiles
    wait "$vpid" || true
    unset VKATTN_CI_PREBUILT
    echo "==== reliability: validation (ran beside profiles)"
    cat "$vlog"
    read -r vrc vseconds <"$build/validation-step.result"
    if [ "$vrc" -ne 0 ]; then echo "reliability: validation failed" >&2; exit "$vrc"; fi
    summary+=("$(printf '%-12s %5d s (beside profiles)' validation "$vseconds")")
    continue
  fi
  run_step "$step"
done
# .ci/run prints these with its own step times.
if [ -n "${VKATTN_CI_STEP_TIMES:-}" ]; then printf '%s\n' "${summary[@]}" >"$VKATTN_CI_STEP_TIMES"; fi
echo "==== reliability: all steps passed"
printf '  %s\n' "${summary[@]}"
