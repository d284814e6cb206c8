#!/usr/bin/env bash
# Runs the libFuzzer targets for a bounded time from their seed corpora: see scripts/ci/fuzz.sh.
# Usage: scripts/fuzz.sh [seconds per target, default 60]
exec "$(dirname "$0")/ci/fuzz.sh" "$@"
