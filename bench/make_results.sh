#!/usr/bin/env bash
# Writes bench/RESULTS.md: the device, date and commit, the measured roofline, the bench table (through
# `vkattn bench compare`, side by side with any other devices' files) and the prefill plot.
#
#   bash bench/make_results.sh                                  # the standard set on the default device
#   bash bench/make_results.sh --filter "H8 N" --max-seconds-per-case 10   # a subset (any bench options)
#   COMPARE_WITH="nvidia.json amd.json" bash bench/make_results.sh          # add other devices' columns
#
# VKATTN (default build/tools/vkattn) is the program; SHAPES (default standard) the shape set; NOTE a
# sentence put at the top of the file. Outputs: bench/RESULTS.md and bench/results/{bench.json,bench.txt,prefill.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
vkattn=${VKATTN:-build/tools/vkattn}
shapes=${SHAPES:-standard}
results=bench/results
[ -x "$vkattn" ] || { echo "make_results: no vkattn program at $vkattn (build first, or set VKATTN)" >&2; exit 2; }
mkdir -p "$results"

json=$results/bench.json
shown=""  # the bench options as typed: arguments with spaces in double quotes
for arg in "$@"; do
  case $arg in *" "*) shown="$shown \"$arg\"" ;; *) shown="$shown $arg" ;; esac
done
echo "make_results: vkattn bench --shapes $shapes$shown (progress below)" >&2
status=0
"$vkattn" bench --shapes "$shapes" --json "$json" "$@" > "$results/bench.txt" || status=$?
[ -s "$json" ] || { echo "make_results: vkattn bench wrote no JSON (exit status $status)" >&2; exit 1; }

# shellcheck disable=SC2206
others=(${COMPARE_WITH:-})
plot_note="(no plot: no measured prefill rows)"
if "$vkattn" bench plot "$json" "${others[@]}" --out "$results/prefill.png" > /dev/null 2> "$results/plot.err"; then
  plot_note="![prefill GFLOP/s against N](results/prefill.png)"
fi
rm -f "$results/plot.err"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- engine shaders include tools 2>/dev/null)" ]; then commit="$commit + uncommitted changes"; fi
{
  echo "# vkattn benchmark results"
  echo
  if [ -n "${NOTE:-}" ]; then echo "$NOTE"; echo; fi
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $commit"
  echo "- command: \`vkattn bench --shapes $shapes$shown\`$([ "$status" -ne 0 ] && echo " (exit status $status: see the check column)")"
  echo "- produced by \`bench/make_results.sh\`; raw rows in \`results/bench.json\`, console output in \`results/bench.txt\`"
  echo
  echo "## Device and measured roofline"
  echo
  echo '```'
  sed -n '1,/ridge (fp32)/p' "$results/bench.txt"
  echo '```'
  echo
  echo "## Throughput per case"
  echo
  "$vkattn" bench compare "$json" "${others[@]}" --format markdown
  echo
  echo "Skipped rows were estimated to take longer than the per-case budget (\`--max-seconds-per-case\`);"
  echo "checks marked \"sampled\" compared 32 query rows of the last head with the host reference."
  echo
  echo "## Roofline placement"
  echo
  echo '```'
  sed -n '/^case /,/^bench: /p' "$results/bench.txt"
  echo '```'
  echo
  echo "## Prefill throughput"
  echo
  echo "$plot_note"
} > bench/RESULTS.md
echo "make_results: wrote bench/RESULTS.md" >&2
