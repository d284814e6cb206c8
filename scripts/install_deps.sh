#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages vkattn needs to build, test and run on lavapipe. Idempotent:
# packages already present are not reinstalled and apt is not touched when nothing is missing.
set -euo pipefail
packages=(
  cmake ninja-build g++                 # build
  libvulkan-dev glslang-tools           # Vulkan headers + loader, GLSL -> SPIR-V compiler
  mesa-vulkan-drivers                   # lavapipe: the CPU Vulkan device used when there is no GPU
  vulkan-validationlayers               # the tests run with VK_LAYER_KHRONOS_validation
  libgtest-dev libcli11-dev             # tests, command line
  pkg-config                            # finds cairo and fontconfig for tools/CMakeLists.txt
  libcairo2-dev libfontconfig-dev       # pictures (heatmap, bench plot): cairo draws and writes PNG/SVG,
  fonts-dejavu-core                     #   fontconfig finds "DejaVu Sans", the font of every label
  nlohmann-json3-dev                    # JSON: .safetensors weight headers, bench --json files
  spirv-headers                         # SPIR-V opcode/enumerant numbers for the shader reflection
  python3-numpy                         # .npy round-trip check in the test suite, the Python module's tests
  python3-dev pybind11-dev              # the Python module (tools/python/, docs/python.md)
  python3-torch                         # the module's tests against PyTorch (python_torch), bench/compare_torch.py
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
