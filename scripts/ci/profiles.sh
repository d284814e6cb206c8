#!/usr/bin/env bash
# CI: the correctness suite (build/tests/vkattn_tests) under each limits profile, validation layer on.
# A profile changes the limits the planner sees, so what must run under each is every kernel variant,
# mask kind, score modifier and dtype the planner can choose, not every shape. The filter names what runs:
# Masks/Sweep (every mask kind x dtype x path, keyed and not), Special/Sweep (odd and empty-row cases),
# HeadDims/Sweep (every head-dim class, fused in f32 and explicit in f16) with Shapes/Sweep's f16 fused
# cases (each head-dim class fused in f16 too), ScoreMods/Sweep (window, ALiBi, soft-capping),
# Pairs/Decode (every decode variant, 1..4096 keys), the tiled kernel over the mask and head-dim cases,
# chunking, split-KV, decode variants, non-finite inputs, the error table, the KV cache and the layers;
# the storage formats and sequences where the profile changes their tiles: q8_0 / q4_0 K/V through the
# rowwise kernel (every mask kind is in Formats/QuantKv's other cases, which run in the default profile)
# and the decode kernel, packed sequences (masks, decode) and the paged cache.
# Left out: size variety (Shapes/Sweep's f32 and explicit cases, the 1023 x 1024 problems, the 33,000-key
# decode pairs, LongKeys), Determinism (run-to-run identity, checked by the default profile) and the tests
# that make a context for each profile or subgroup size themselves (Profiles.*, SubgroupSize.*).
# Measured on the 2-core machine, mobile: 272 tests, 67 pipelines, 137 s (the previous filter: 406
# tests, 411 s). VKATTN_PROFILE_FILTER="*" runs everything.
# desktop is the default profile, which ctest already runs; no-fp16 plans exactly the variants desktop
# does (no kernel uses fp16 arithmetic; ctest cli_devices_profile fails the day that changes), so its run
# repeated desktop's at ~140 s of CI time and is left out. Set VKATTN_PROFILES to choose others,
# e.g. VKATTN_PROFILES="desktop mobile no-subgroup no-fp16 small-shared". See docs/profiles.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${VKATTN_BUILD_DIR:-build}"
PROFILES="${VKATTN_PROFILES:-mobile no-subgroup small-shared}"
FILTER="${VKATTN_PROFILE_FILTER:-Masks/Sweep.*:Special/Sweep.*:HeadDims/Sweep.*:Shapes/Sweep.*_f16_fused_*:ScoreMods/Sweep.*:Pairs/Decode.*:Tiled/TiledKernel.*L45x77*:Tiled/TiledKernel.*L37x91*:Forced/*:Chunking.*:DecodeVariant.*:Paths/*:Errors.*:KvCache.*:Layers/*:Shapes/MatmulSweep.*:Shapes/AdditiveSweep.*:Shapes/LinearSweep.*:Formats/QuantKv.*L77x45*:Formats/QuantKv.*L1x77*:Varlen.EveryMaskKindMatchesReference:Varlen.DecodeRowsSplitOverKeys:PagedKvCache.*:-*L1023x1024*:Pairs/Decode.*33000*}"
# no-subgroup plans desktop's variants except the tiled kernel's subgroup-shuffle reduction (",sg"),
# which it replaces by the shared-memory one (ctest cli_devices_profile fails the day anything else
# differs; nothing but attention_fused.comp and the subgroup-size probe uses subgroup operations). So
# under it only the tiled cases test anything the default run does not: the forced-tiled mask and
# head-dim cases, and the explicit path over the tiled kernel. The whole filter repeated desktop's
# rowwise pipelines at ~300 s of CI time.
NO_SUBGROUP_FILTER="${VKATTN_NO_SUBGROUP_FILTER:-Tiled/TiledKernel.*L45x77*:Tiled/TiledKernel.*L37x91*:Tiled/TiledKernel.*L70x300*}"
filter_for() {  # filter_for PROFILE: the gtest filter to run under it
    if [ "$1" = no-subgroup ] && [ -z "${VKATTN_PROFILE_FILTER:-}" ]; then echo "$NO_SUBGROUP_FILTER"; else echo "$FILTER"; fi
}
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# VKATTN_CI_PREBUILT=1: reliability.sh built the tree already and runs this beside another step.
if [ "${VKATTN_CI_PREBUILT:-0}" != 1 ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --parallel "$(nproc)"
fi

# The suite keeps about one core busy (host code, validation layer, small dispatches; measured: 100%
# CPU of one process on the 2-core CI machine), so the profiles run $JOBS at a time, each in its own
# process with its own log; Mesa's shader cache and vkattn's pipeline cache are shared safely.
JOBS="${VKATTN_PROFILE_JOBS:-$(nproc)}"
run_profile() {  # run_profile NAME: the suite under one profile; writes its log and a result line
    local profile=$1 log="$BUILD/profile-$1.log" start result seconds passed skipped
    start=$(date +%s)
    if VKATTN_PROFILE="$profile" VKATTN_VALIDATION=1 "$BUILD/tests/vkattn_tests" --gtest_filter="$(filter_for "$profile")" >"$log" 2>&1; then result=passed; else result=FAILED; fi
    seconds=$(( $(date +%s) - start ))
    # gtest's summary lines: "[  PASSED  ] N tests." and "[  FAILED  ] N tests, listed below:"
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    echo "profile $profile: $result, ${passed:-0} passed, ${skipped:-0} skipped, ${seconds} s" >"$BUILD/profile-$profile.result"
}
step_start=$(date +%s)
running=0
for profile in $PROFILES; do
    rm -f "$BUILD/profile-$profile.result"
    run_profile "$profile" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

status=0
summary=""
for profile in $PROFILES; do
    log="$BUILD/profile-$profile.log"
    line=$(cat "$BUILD/profile-$profile.result" 2>/dev/null || echo "profile $profile: FAILED, no result (the run did not finish)")
    echo "$line"
    summary+="$line"$'\n'
    grep -E "^vkattn tests: " "$log" || true
    case "$line" in
        *": passed,"*) ;;
        *) status=1; grep -E "^\[  FAILED  \]|Failure|validation (error|warning)" "$log" | head -40 ;;
    esac
done
printf '\n%s' "$summary"
echo "profiles: $JOBS at a time, $(( $(date +%s) - step_start )) s in all"
exit $status
