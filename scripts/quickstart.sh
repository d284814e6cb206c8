#!/usr/bin/env bash
# The main job on a fresh Debian/Ubuntu machine: install packages, build, then check vkattn against the
# CPU reference on the default device (lavapipe when there is no GPU) and benchmark it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"   # quiets the Vulkan loader on headless machines
./build/tools/vkattn devices
./build/tools/vkattn verify
./build/tools/vkattn bench --shapes quick
