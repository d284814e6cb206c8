#!/usr/bin/env bash
# Builds the GPU kit: one .tar.gz holding what a machine with a GPU and no package manager or network
# needs to run vkattn's checks and benchmarks there (scripts/gpu/README.md):
#   scripts/gpu/build_kit.sh [OUT.tar.gz]        (default: build/gpu-kit/vkattn-gpu-kit.tar.gz)
# Inside, under vkattn-gpu-kit/: run.sh (scripts/gpu/run_kit.sh), bin/vkattn and bin/vkattn_tests (Release),
# lib/ with the Vulkan loader and the Khronos validation layer unpacked from Debian's packages (libvulkan1,
# vulkan-validationlayers; the tests turn the layer on), deps/ with the other shared libraries the programs
# and the layer link (what ldd resolves outside glibc: cairo and its dependencies) and libGLdispatch
# (libglvnd0, which NVIDIA's Vulkan driver links), deps-std/ with libstdc++ and libgcc_s (used only where
# the machine's are missing or too old), debs/ with the downloaded packages, bench/compare_torch.py, the
# README and MANIFEST.txt (commit, packages, files with sizes and SHA-256). Refuses above 64 MiB.
#
# Environment: VKATTN_KIT_BUILD_DIR (default: build; must be a Release build), VKATTN_KIT_NO_BUILD=1 (use the
# binaries already built), VKATTN_KIT_DEB_DIR (where the .deb files are kept or looked for; default:
# $XDG_CACHE_HOME/vkattn-kit/debs; `apt-get download` fills it once; put them there by hand when offline),
# VKATTN_KIT_JOBS (build jobs, default 2).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${VKATTN_KIT_BUILD_DIR:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
OUT="${1:-$BUILD/gpu-kit/vkattn-gpu-kit.tar.gz}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
case "$OUT" in *.tar.gz) ;; *) echo "build_kit: '$OUT': the bundle's name must end in .tar.gz" >&2; exit 2 ;; esac
LIMIT=$((64 * 1024 * 1024))
DEBS="${VKATTN_KIT_DEB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vkattn-kit/debs}"
PACKAGES=(libvulkan1 vulkan-validationlayers libglvnd0)
die() { echo "build_kit: $*" >&2; exit 1; }

# ---- The binaries (Release).
if [[ "${VKATTN_KIT_NO_BUILD:-0}" != 1 ]]; then
    if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
        cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
    fi
    cmake --build "$BUILD" --target vkattn_cli vkattn_tests --parallel "${VKATTN_KIT_JOBS:-2}"
fi
type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)"
[[ "$type" == Release ]] || die "$BUILD is a '${type:-unconfigured}' build, not Release: timings from it would mislead (set VKATTN_KIT_BUILD_DIR to a Release build)"
for b in tools/vkattn tests/vkattn_tests; do
    [[ -x "$BUILD/$b" ]] || die "$BUILD/$b is missing (build it, or leave VKATTN_KIT_NO_BUILD unset)"
done

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
KIT="$STAGE/vkattn-gpu-kit"
mkdir -p "$KIT/bin" "$KIT/lib/layers" "$KIT/deps" "$KIT/deps-std" "$KIT/debs" "$KIT/bench"
cp "$BUILD/tools/vkattn" "$BUILD/tests/vkattn_tests" "$KIT/bin/"
install -m 755 "$ROOT/scripts/gpu/run_kit.sh" "$KIT/run.sh"
cp "$ROOT/bench/compare_torch.py" "$KIT/bench/"
cp "$ROOT/scripts/gpu/README.md" "$KIT/README.md"

# ---- Debian's packages: the loader, the validation layer, libglvnd's dispatch library.
mkdir -p "$DEBS"
for p in "${PACKAGES[@]}"; do
    if ! compgen -G "$DEBS/${p}_*_amd64.deb" >/dev/null; then
        echo "build_kit: apt-get download $p (into $DEBS)"
        (cd "$DEBS" && apt-get download "$p") ||
            die "apt-get download $p failed: without a network, put ${p}_<version>_amd64.deb into $DEBS (VKATTN_KIT_DEB_DIR)"
    fi
    deb="$(ls -t "$DEBS/${p}"_*_amd64.deb | head -1)"
    cp "$deb" "$KIT/debs/"
    dpkg-deb -x "$deb" "$STAGE/unpacked"
done
U="$STAGE/unpacked/usr/lib/x86_64-linux-gnu"
cp -P "$U"/libvulkan.so.1* "$KIT/lib/"
cp "$U/libVkLayer_khronos_validation.so" "$KIT/lib/"
cp -P "$U"/libGLdispatch.so.0* "$KIT/deps/"
# The layer's manifest names its library by a path relative to the manifest (lib/layers/ -> lib/).
sed 's#"library_path": *"[^"]*"#"library_path": "../libVkLayer_khronos_validation.so"#' \
    "$STAGE/unpacked/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json" \
    >"$KIT/lib/layers/VkLayer_khronos_validation.json"
grep -q '"library_path": "../libVkLayer_khronos_validation.so"' "$KIT/lib/layers/VkLayer_khronos_validation.json" ||
    die "the validation layer's manifest has no library_path to rewrite"

# ---- What the programs and the layer link beyond glibc, as this machine resolves it (its installed
# Debian packages; each file's package and version go into the manifest).
GLIBC='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libmvec\.so\.1)$'
declare -A ORIGIN
for elf in "$KIT/bin/vkattn" "$KIT/bin/vkattn_tests" "$KIT/lib/libVkLayer_khronos_validation.so" "$KIT/deps"/libGLdispatch.so.0; do
    while read -r name path; do
        [[ "$name" =~ $GLIBC || "$name" == libvulkan.so.1 || "$name" == libGLdispatch.so.0 ]] && continue
        [[ "$path" == /* ]] || die "ldd $elf: $name is not found on this machine"
        dest="$KIT/deps"
        [[ "$name" == libstdc++.so.6 || "$name" == libgcc_s.so.1 ]] && dest="$KIT/deps-std"
        [[ -e "$dest/$name" ]] && continue
        cp -L "$path" "$dest/$name"
        real="$(readlink -f "$path")"
        pkg="$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1 || true)"
        [[ -z "$pkg" ]] && pkg="$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)"
        ORIGIN[$name]="${pkg:-unknown package} $( [[ -n "$pkg" ]] && dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)"
    done < <(ldd "$elf" | awk '$2 == "=>" { print $1, $3 }')  # (the lines without '=>': vdso, the interpreter)
done

# ---- The manifest.
{
    echo "vkattn GPU kit"
    echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$( [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]] && echo ' (with uncommitted changes)')"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"), $(ldd --version | head -1)"
    echo "build type: $type ($BUILD)"
    echo
    echo "Debian packages, unpacked into lib/ and deps/ (the .deb files are in debs/):"
    for d in "$KIT"/debs/*.deb; do echo "  $(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version)"; done
    echo "Libraries copied from this machine's installed packages (deps/: used where the GPU machine lacks them;"
    echo "deps-std/: where its libstdc++/libgcc_s are missing or too old):"
    for n in $(printf '%s\n' "${!ORIGIN[@]}" | sort); do echo "  $n: ${ORIGIN[$n]}"; done
    echo
    echo "files (bytes, sha256):"
    (cd "$STAGE" && find vkattn-gpu-kit -type f | sort | while read -r f; do
        printf '  %10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"
    done)
} >"$KIT/MANIFEST.txt"

mkdir -p "$(dirname "$OUT")"
tar -C "$STAGE" -czf "$OUT.tmp" vkattn-gpu-kit
size=$(stat -c %s "$OUT.tmp")
if ((size > LIMIT)); then
    rm -f "$OUT.tmp"
    die "the bundle would be $((size / 1048576)) MiB ($size bytes), over the limit of 64 MiB: nothing written"
fi
mv "$OUT.tmp" "$OUT"
unpacked=$(du -sb "$KIT" | cut -f1)
echo "build_kit: wrote $OUT: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB; $(awk -v s="$unpacked" 'BEGIN { printf "%.1f", s / 1048576 }') MiB unpacked; limit 64 MiB)"
echo "build_kit: run it with: tar -xzf $(basename "$OUT") && vkattn-gpu-kit/run.sh OUTDIR"
