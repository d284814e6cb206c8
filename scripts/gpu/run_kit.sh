#!/usr/bin/env bash
# The GPU kit's run script (run.sh inside the bundle that scripts/gpu/build_kit.sh writes):
#   ./run.sh OUTDIR
# On a machine with a GPU and no package manager or network, runs vkattn's checks and benchmarks with
# the kit's own Vulkan loader and libraries, each step under its own time limit, continuing past a
# failing step, and writes logs, JSON and a summary into OUTDIR (scripts/gpu/README.md lists the files).
#
# Steps (default limits; the whole run stops starting steps after VKATTN_KIT_TOTAL_SECONDS, 450 s):
#   devices   vkattn devices --verbose (with the loader's error/warning/driver messages in its log)  20 s
#   verify    vkattn verify                                                                        60 s
#   tests     vkattn_tests --gtest_filter=$VKATTN_KIT_TEST_FILTER --gtest_output=json:tests.json   150 s
#   bench     vkattn bench --shapes gpu --json bench.json --csv bench.csv                          150 s
#   compare   python3 compare_torch.py --from-bench bench.json (PyTorch's CUDA sdpa, same shapes)   70 s
#
# Environment (all optional):
#   VKATTN_KIT_PRESET=lavapipe   the reduced run for a CPU device (the kit's check on the build machine):
#                                device cpu, verify --quick, two test families, four bench rows with a
#                                per-case time limit, compare_torch on whatever torch there is
#   VKATTN_KIT_DEVICE            vkattn's device (VKATTN_DEVICE: index, name part or discrete|integrated|cpu)
#   VKATTN_KIT_TEST_FILTER       the gtest filter of the tests step (default: the GPU-kernel subset below)
#   VKATTN_KIT_BENCH_FILTERS     ';'-separated --filter texts for the bench step (default: the whole set)
#   VKATTN_KIT_BENCH_MAX_SECONDS the bench's --max-seconds-per-case (default 30: no one case eats the step;
#                                with the cases cheapest first and bench.json rewritten after each, a step
#                                stopped at its limit still leaves the rows it finished)
#   VKATTN_KIT_VERIFY_ARGS       extra arguments of vkattn verify, split at spaces (e.g. --quick --case=mha)
#   VKATTN_KIT_COMPARE           auto (run when torch sees CUDA), always (any torch), off
#   VKATTN_KIT_PYTHON            the Python with PyTorch (default: python3 on PATH)
#   VKATTN_KIT_LIBS              auto (the kit's libraries only where the system lacks them; the loader and
#                                the validation layer always the kit's) or all (every bundled library)
#   VKATTN_KIT_TOTAL_SECONDS     the whole run's budget (default 450)
#   VKATTN_KIT_STEPS             which steps, e.g. "devices verify" (default: all five, in order)
#   VKATTN_KIT_<STEP>_SECONDS    one step's limit, e.g. VKATTN_KIT_TESTS_SECONDS=240
#   VK_DRIVER_FILES / VK_ICD_FILENAMES   given: used as they are (no search for NVIDIA's driver)
#   VKATTN_KIT_NVIDIA_ROOT       where the NVIDIA driver's folder is mounted (default /usr/local/nvidia)
set -uo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $# -ne 1 || "$1" == -* ]]; then
    echo "usage: $0 OUTDIR   (writes logs, JSON and summary.txt there; see README.md)" >&2
    exit 2
fi
OUT="$1"
mkdir -p "$OUT" || { echo "run.sh: cannot create OUTDIR '$OUT'" >&2; exit 2; }
OUT="$(cd "$OUT" && pwd)"
ENVFILE="$OUT/environment.txt"
: >"$ENVFILE"
say() { echo "kit: $*" | tee -a "$ENVFILE"; }

# The GPU-kernel subset: on a GPU the tiled kernel is the default, so every attention sweep runs it; the
# tiled family, split-KV (forced and automatic), decode pairs, determinism, non-finite inputs, subgroup
# sizes and limits profiles exercise what GPUs run. About 330 tests of small shapes; the host reference
# (double accumulation) is most of their time. Not timed on a GPU yet: the step's limit keeps the run
# inside its budget, and tests.log keeps every finished test if the limit stops it.
GPU_TEST_FILTER='Tiled/*:*/Sweep.*:Forced/SplitKv.*:SplitKv*:Pairs/Decode.*:DecodeVariant.*:Determinism.*:Paths/NonFinite.*:SubgroupSize.*:Profiles.*:TiledKernelLimits.*:DefaultTiles.*'

case "${VKATTN_KIT_PRESET:-}" in
    "") ;;
    lavapipe)
        # Each choice keeps LLVM's pipeline compiles few (seconds to a minute each on 2 loaded cores).
        : "${VKATTN_KIT_DEVICE:=cpu}"
        : "${VKATTN_KIT_VERIFY_ARGS:=--quick --case=mha}"
        : "${VKATTN_KIT_TEST_FILTER:=SubgroupSize.TheProbeReportsTheDefaultSizeWithoutForcing:Tiled/TiledKernel.MatchesReference/B1_H1x1_L1x147_D16_f32_fused_none_nomask:Tiled/TiledKernel.MatchesReference/B1_H8x2_L1x147_D64_f16_fused_bottom_right_nomask}"
        : "${VKATTN_KIT_BENCH_FILTERS:=prefill f16 causal H32 N1024 D64;decode f16 Lq1 Lk4096 H32/8 D128}"
        : "${VKATTN_KIT_BENCH_MAX_SECONDS:=60}"
        : "${VKATTN_KIT_COMPARE:=always}"
        : "${VKATTN_KIT_VERIFY_SECONDS:=120}" "${VKATTN_KIT_TESTS_SECONDS:=120}" "${VKATTN_KIT_BENCH_SECONDS:=180}"
        : "${VKATTN_KIT_TOTAL_SECONDS:=600}"
        ;;
    *) echo "run.sh: VKATTN_KIT_PRESET '$VKATTN_KIT_PRESET' is not 'lavapipe'" >&2; exit 2 ;;
esac
TEST_FILTER="${VKATTN_KIT_TEST_FILTER:-$GPU_TEST_FILTER}"
TOTAL="${VKATTN_KIT_TOTAL_SECONDS:-450}"
STEPS="${VKATTN_KIT_STEPS:-devices verify tests bench compare}"
COMPARE="${VKATTN_KIT_COMPARE:-auto}"
LIBMODE="${VKATTN_KIT_LIBS:-auto}"
case "$COMPARE" in auto|always|off) ;; *) echo "run.sh: VKATTN_KIT_COMPARE '$COMPARE' is not auto, always or off" >&2; exit 2 ;; esac
case "$LIBMODE" in auto|all) ;; *) echo "run.sh: VKATTN_KIT_LIBS '$LIBMODE' is not auto or all" >&2; exit 2 ;; esac
for s in $STEPS; do
    case "$s" in devices|verify|tests|bench|compare) ;; *) echo "run.sh: VKATTN_KIT_STEPS: unknown step '$s'" >&2; exit 2 ;; esac
done

START=$EPOCHREALTIME
elapsed() { awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }

say "vkattn GPU kit at $KIT, writing to $OUT, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
[[ -f "$KIT/MANIFEST.txt" ]] && sed -n '1,/^$/p' "$KIT/MANIFEST.txt" | sed 's/^/kit:   /' | tee -a "$ENVFILE"
{
    echo "host: $(uname -srm)"
    echo "glibc: $(ldd --version 2>/dev/null | head -1)"
    [[ -r /etc/os-release ]] && echo "os: $(. /etc/os-release; echo "${PRETTY_NAME:-?}")"
    echo "cpus: $(nproc 2>/dev/null || echo ?)"
} | sed 's/^/kit: /' | tee -a "$ENVFILE"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
    say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
else
    say "nvidia-smi: not on PATH"
fi

# ---------------------------------------------------------------------------------------------------
# Where the kit writes what it generates (the ICD manifest it may write, the library links): its own
# folder when writable, else OUTDIR.
WORK="$KIT/.run"
mkdir -p "$WORK" 2>/dev/null && [[ -w "$WORK" ]] || WORK="$OUT/.kit-run"
rm -rf "$WORK/lib-links" && mkdir -p "$WORK/lib-links"
ORIG_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"

# ---- The Vulkan driver (ICD). A manifest in the loader's standard folders is found by the loader
# itself; NVIDIA's in the driver's mount (/usr/local/nvidia) is not, so it is named; without any, one is
# written for the driver library (libGLX_nvidia.so.0 is NVIDIA's Vulkan driver).
ICD_STANDARD_DIRS="/etc/vulkan/icd.d /usr/local/etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/share/vulkan/icd.d"
NV="${VKATTN_KIT_NVIDIA_ROOT:-/usr/local/nvidia}"  # the driver's mount on the lent machines (another root: the kit's own test)
ICD_OTHER_DIRS="$NV/share/vulkan/icd.d $NV/etc/vulkan/icd.d"
NV_LIB_DIRS="$NV/lib64 $NV/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /lib64"
manifest_library() { grep -o '"library_path"[[:space:]]*:[[:space:]]*"[^"]*"' "$1" 2>/dev/null | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
find_lib() {  # find_lib NAME: the first path of NAME in LD_LIBRARY_PATH, the ld.so cache, or NV_LIB_DIRS
    local name="$1" d
    local IFS=:
    for d in ${ORIG_LD_LIBRARY_PATH}; do [[ -n "$d" && -e "$d/$name" ]] && { echo "$d/$name"; return 0; }; done
    unset IFS
    local hit
    hit=$( (/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null) | awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }')
    [[ -n "$hit" ]] && { echo "$hit"; return 0; }
    for d in $NV_LIB_DIRS; do [[ -e "$d/$name" ]] && { echo "$d/$name"; return 0; }; done
    return 1
}
ICD_NOTE=""
EXTRA_LIB_DIRS=""
if [[ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]]; then
    ICD_NOTE="given: VK_DRIVER_FILES='${VK_DRIVER_FILES:-}' VK_ICD_FILENAMES='${VK_ICD_FILENAMES:-}'"
else
    std_nv="" other_nv="" others=""
    for d in $ICD_STANDARD_DIRS; do
        for f in "$d"/*.json; do
            [[ -f "$f" ]] || continue
            if [[ "$(manifest_library "$f")" == *nvidia* ]]; then std_nv="${std_nv:-$f}"; else others="$others $f"; fi
        done
    done
    for d in $ICD_OTHER_DIRS; do
        for f in "$d"/*.json; do
            [[ -f "$f" && "$(manifest_library "$f")" == *nvidia* ]] && other_nv="${other_nv:-$f}"
        done
    done
    [[ -n "$others" ]] && say "other Vulkan driver manifests in the standard folders:$others"
    if [[ -n "$std_nv" ]]; then
        ICD_NOTE="NVIDIA manifest in a standard folder: $std_nv (library $(manifest_library "$std_nv")); the loader finds it"
        nvlib="$(manifest_library "$std_nv")"
    elif [[ -n "$other_nv" ]]; then
        ICD_NOTE="NVIDIA manifest outside the loader's folders: $other_nv (library $(manifest_library "$other_nv")); named in VK_DRIVER_FILES"
        export VK_DRIVER_FILES="$other_nv" VK_ICD_FILENAMES="$other_nv"
        nvlib="$(manifest_library "$other_nv")"
    elif nvlib="$(find_lib libGLX_nvidia.so.0)"; then
        mkdir -p "$WORK/icd"
        cat >"$WORK/icd/nvidia_icd.json" <<EOF
{
    "file_format_version": "1.0.1",
    "ICD": { "library_path": "$nvlib", "api_version": "1.3.0" }
}
EOF
        cp "$WORK/icd/nvidia_icd.json" "$OUT/nvidia_icd.json"
        ICD_NOTE="no NVIDIA manifest found; wrote $WORK/icd/nvidia_icd.json for $nvlib (copied to OUTDIR); named in VK_DRIVER_FILES"
        export VK_DRIVER_FILES="$WORK/icd/nvidia_icd.json" VK_ICD_FILENAMES="$WORK/icd/nvidia_icd.json"
    else
        nvlib=""
        ICD_NOTE="no NVIDIA Vulkan driver found (no manifest in $ICD_STANDARD_DIRS $ICD_OTHER_DIRS; no libGLX_nvidia.so.0 in LD_LIBRARY_PATH, the ld.so cache or $NV_LIB_DIRS): the loader's defaults are used"
    fi
    # A driver named by a bare file name must be on the library path: add the folder where it lies.
    if [[ -n "${nvlib:-}" && "$nvlib" != */* ]]; then
        if p="$(find_lib "$nvlib")"; then
            EXTRA_LIB_DIRS="$(dirname "$p")"
            ICD_NOTE="$ICD_NOTE; $nvlib found at $p"
        else
            ICD_NOTE="$ICD_NOTE; WARNING: $nvlib is on no library path the kit knows"
        fi
    fi
fi
say "Vulkan driver: $ICD_NOTE"

# ---- Libraries. The loader and the validation layer are always the kit's; the rest of what the
# programs link (cairo and its dependencies, libGLdispatch for NVIDIA's driver, libstdc++) only where
# the system lacks it or has too old a version (VKATTN_KIT_LIBS=all: every bundled library).
export VK_LAYER_PATH="$KIT/lib/layers"
ELFS=("$KIT/bin/vkattn" "$KIT/bin/vkattn_tests" "$KIT/lib/libVkLayer_khronos_validation.so")
[[ -n "${nvlib:-}" ]] && { p="$nvlib"; [[ "$p" == */* ]] || p="$(find_lib "$p" || true)"; [[ -n "$p" && -e "$p" ]] && ELFS+=("$p"); }
lib_path() {
    local p="$KIT/lib:$WORK/lib-links"
    [[ "$LIBMODE" == all ]] && p="$p:$KIT/deps:$KIT/deps-std"
    [[ -n "$EXTRA_LIB_DIRS" ]] && p="$p:$EXTRA_LIB_DIRS"
    [[ -n "$ORIG_LD_LIBRARY_PATH" ]] && p="$p:$ORIG_LD_LIBRARY_PATH"
    echo "$p"
}
missing_libs() {  # sonames ldd cannot resolve, or resolves to a file of too old a version
    local e
    for e in "${ELFS[@]}"; do
        LD_LIBRARY_PATH="$(lib_path)" ldd "$e" 2>&1 | awk '
            /=> not found/ { print $1 }
            /version `.*not found/ { if (match($0, /: [^:]*: version/)) { s = substr($0, RSTART + 2); sub(/: version.*/, "", s); n = split(s, parts, "/"); print parts[n] } }'
    done | sort -u
}
if ! command -v ldd >/dev/null 2>&1; then
    say "libraries: no ldd here: using every bundled library"
    LIBMODE=all
fi
if [[ "$LIBMODE" == auto ]]; then
    for round in 1 2 3; do
        added=0
        for name in $(missing_libs); do
            for d in deps deps-std; do
                if [[ -e "$KIT/$d/$name" && ! -e "$WORK/lib-links/$name" ]]; then
                    ln -s "$KIT/$d/$name" "$WORK/lib-links/$name" && added=1
                fi
            done
        done
        [[ $added == 1 ]] || break
    done
fi
export LD_LIBRARY_PATH="$(lib_path)"
from_kit="$(ls "$WORK/lib-links" 2>/dev/null | tr '\n' ' ')"
say "libraries: mode $LIBMODE; always the kit's: $(cd "$KIT/lib" && ls *.so* | tr '\n' ' ')"
[[ "$LIBMODE" == auto ]] && say "libraries: from the kit because the system lacks them: ${from_kit:-none}"
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
{
    for e in "${ELFS[@]}"; do echo "== ldd $e"; ldd "$e" 2>&1; echo; done
} >"$OUT/ldd.txt" 2>&1
still="$(missing_libs | tr '\n' ' ')"
[[ -n "$still" ]] && say "WARNING: still unresolved (see ldd.txt): $still"
say "loader: $(awk '$1 == "libvulkan.so.1" { print $3 }' "$OUT/ldd.txt" | head -1)"

if [[ -n "${VKATTN_KIT_DEVICE:-}" ]]; then export VKATTN_DEVICE="$VKATTN_KIT_DEVICE"; fi
say "device selection: ${VKATTN_DEVICE:-the default rule (discrete > integrated > virtual > cpu)}"
# The pipeline and roofline caches: outside OUTDIR (they are not results) and outside HOME.
export XDG_CACHE_HOME="${VKATTN_KIT_CACHE:-$WORK/cache}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
mkdir -p "$XDG_CACHE_HOME"

# ---------------------------------------------------------------------------------------------------
SUMMARY=()
JSON_STEPS=()
DEVICE_OK=1
record() {  # record NAME STATUS SECONDS NOTE
    SUMMARY+=("$(printf '%-8s %-8s %7s s  %s' "$1" "$2" "$3" "$4")")
    local note="${4//\\/\\\\}"
    note="${note//\"/\\\"}"
    JSON_STEPS+=("{\"step\": \"$1\", \"status\": \"$2\", \"seconds\": $3, \"note\": \"$note\"}")
    echo "kit: step $1: $2 in $3 s${4:+ ($4)}"
}
wants() { [[ " $STEPS " == *" $1 "* ]]; }
# run_step NAME DEFAULT_SECONDS LOGFILE COMMAND...: runs under a limit (the step's, cut to what is left of
# the total), output to LOGFILE and to this terminal, and records the status.
STEP_RC=0
run_step() {
    local name="$1" limit="$2" log="$3"
    shift 3
    local var="VKATTN_KIT_${name^^}_SECONDS"
    limit="${!var:-$limit}"
    local left=$((TOTAL - $(elapsed)))
    if ((left < 5)); then
        record "$name" skipped 0 "the total budget of ${TOTAL} s is spent"
        STEP_RC=125
        return
    fi
    ((limit > left)) && limit=$left
    echo "kit: step $name (limit ${limit} s): $*" | tee "$log"
    local t0=$EPOCHREALTIME
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
    STEP_RC=${PIPESTATUS[0]}
    local secs
    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    local status=ok note=""
    if ((STEP_RC == 124 || STEP_RC == 137)); then
        status=TIMEOUT note="stopped at its limit of ${limit} s"
    elif ((STEP_RC != 0)); then
        status=FAIL note="exit code $STEP_RC"
    fi
    [[ -n "${STEP_EXTRA_NOTE:-}" ]] && note="${note:+$note; }$STEP_EXTRA_NOTE"
    STEP_EXTRA_NOTE=""
    record "$name" "$status" "$secs" "$note"
}

if wants devices; then
    VK_LOADER_DEBUG=error,warn,driver run_step devices 20 "$OUT/devices.log" "$KIT/bin/vkattn" devices --verbose
    if ((STEP_RC != 0)); then
        DEVICE_OK=0
        echo "kit: FAILED: no Vulkan device could be created with this kit's loader ($ICD_NOTE)." >&2
        echo "kit: the loader's messages are in $OUT/devices.log; the libraries in $OUT/ldd.txt." >&2
    fi
fi
no_device() { record "$1" skipped 0 "no Vulkan device (see devices.log)"; }

if wants verify; then
    if ((DEVICE_OK)); then
        # shellcheck disable=SC2086  # the extra arguments are words
        run_step verify 60 "$OUT/verify.log" "$KIT/bin/vkattn" verify ${VKATTN_KIT_VERIFY_ARGS:-}
    else no_device verify; fi
fi

if wants tests; then
    if ((DEVICE_OK)); then
        rm -f "$OUT/tests.json"
        run_step tests 150 "$OUT/tests.log" "$KIT/bin/vkattn_tests" "--gtest_filter=$TEST_FILTER" \
            "--gtest_output=json:$OUT/tests.json"
        passed=$(grep -c '^\[       OK \]' "$OUT/tests.log")
        failed=$(grep -c '^\[  FAILED  \] .*(' "$OUT/tests.log")
        last="${SUMMARY[-1]}"
        unset 'SUMMARY[-1]' 'JSON_STEPS[-1]'
        status=$(awk '{ print $2 }' <<<"$last")
        secs=$(awk '{ print $3 }' <<<"$last")
        note="$passed passed, $failed failed"
        [[ "$status" == TIMEOUT ]] && note="$note before the limit of its step (tests.json is not written then; tests.log has each result)"
        [[ "$status" == FAIL ]] && note="$note, exit code $STEP_RC"
        SUMMARY+=("$(printf '%-8s %-8s %7s s  %s' tests "$status" "$secs" "$note")")
        JSON_STEPS+=("{\"step\": \"tests\", \"status\": \"$status\", \"seconds\": $secs, \"note\": \"$note\", \"passed\": $passed, \"failed\": $failed}")
        echo "kit: tests: $note"
    else no_device tests; fi
fi

if wants bench; then
    if ((DEVICE_OK)); then
        args=(bench --shapes gpu --json "$OUT/bench.json" --csv "$OUT/bench.csv")
        if [[ -n "${VKATTN_KIT_BENCH_FILTERS:-}" ]]; then
            IFS=';' read -r -a filters <<<"$VKATTN_KIT_BENCH_FILTERS"
            for f in "${filters[@]}"; do [[ -n "$f" ]] && args+=(--filter "$f"); done
        fi
        args+=(--max-seconds-per-case "${VKATTN_KIT_BENCH_MAX_SECONDS:-30}")
        rm -f "$OUT/bench.json" "$OUT/bench.csv"
        run_step bench 150 "$OUT/bench.log" "$KIT/bin/vkattn" "${args[@]}"
    else no_device bench; fi
fi

if wants compare; then
    PY="${VKATTN_KIT_PYTHON:-python3}"
    # Python runs with the system's libraries, not the kit's (a bundled libstdc++ or zlib is none of its business).
    pyrun() { LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" "$@"; }
    why=""
    if [[ "$COMPARE" == off ]]; then
        why="VKATTN_KIT_COMPARE=off"
    elif [[ ! -s "$OUT/bench.json" ]]; then
        why="no bench.json (the bench step did not write one)"
    elif ! command -v "$PY" >/dev/null 2>&1; then
        why="no $PY on PATH"
    elif ! torch_info="$(pyrun timeout 60 "$PY" -c 'import torch; print(torch.__version__, torch.cuda.is_available())' 2>&1 | tail -1)"; then
        why="$PY cannot import torch: $torch_info"
    elif [[ "$torch_info" != *True && "$COMPARE" != always ]]; then
        why="torch $torch_info: torch.cuda.is_available() is False (VKATTN_KIT_COMPARE=always compares on its CPU)"
    fi
    if [[ -n "$why" ]]; then
        record compare skipped 0 "$why"
        echo "compare_torch skipped: $why" >"$OUT/compare_torch.log"
    else
        say "compare: $PY ($(command -v "$PY")), torch $torch_info"
        run_step compare 70 "$OUT/compare_torch.log" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" PYTHONUNBUFFERED=1 \
            PYTHONDONTWRITEBYTECODE=1 "$PY" "$KIT/bench/compare_torch.py" --from-bench "$OUT/bench.json" \
            --json "$OUT/compare_torch.json"
    fi
fi

# ---------------------------------------------------------------------------------------------------
total_secs=$(elapsed)
{
    echo "vkattn GPU kit: $(date -u +%Y-%m-%dT%H:%M:%SZ), $total_secs s in all (budget $TOTAL s)"
    echo "Vulkan driver: $ICD_NOTE"
    printf '%-8s %-8s %9s  %s\n' step status seconds note
    printf '%s\n' "${SUMMARY[@]}"
    ((DEVICE_OK)) || echo "FAILED: no Vulkan device could be created with the kit's loader: see devices.log (the loader's messages) and ldd.txt"
} >"$OUT/summary.txt"
{
    echo "{\"format\": \"vkattn-gpu-kit\", \"seconds\": $total_secs, \"steps\": ["
    for i in "${!JSON_STEPS[@]}"; do echo "  ${JSON_STEPS[$i]}$( ((i + 1 < ${#JSON_STEPS[@]})) && echo ,)"; done
    echo "]}"
} >"$OUT/summary.json"
echo
cat "$OUT/summary.txt"
bad=0
for line in "${SUMMARY[@]}"; do [[ "$(awk '{ print $2 }' <<<"$line")" =~ ^(FAIL|TIMEOUT)$ ]] && bad=1; done
((DEVICE_OK)) || bad=1
exit $bad
