#!/usr/bin/env bash
# The reliability CI steps that follow the README's test command in .ci/run, each in its own build
# directory, each timed: the suite under every limits profile, synchronization and GPU-assisted
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
for step in "${steps[@]}"; do
  script="scripts/ci/${step}.sh"
  if [ ! -x "$script" ]; then echo "reliability: no step '$step' ($script)" >&2; exit 2; fi
  echo "==== reliability: $step"
  t0=$(date +%s)
  bash "$script"
  summary+=("$(printf '%-12s %5d s' "$step" $(( $(date +%s) - t0 )))")
done
# .ci/run prints these with its own step times.
if [ -n "${VKATTN_CI_STEP_TIMES:-}" ]; then printf '%s\n' "${summary[@]}" >"$VKATTN_CI_STEP_TIMES"; fi
echo "==== reliability: all steps passed"
printf '  %s\n' "${summary[@]}"
