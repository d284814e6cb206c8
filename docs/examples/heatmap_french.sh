#!/usr/bin/env bash
# Makes docs/images/heatmap_french.png, the example of docs/heatmap.md with accented (UTF-8) labels: a
# hand-written English -> French alignment (heatmap_french.py) drawn by `vkattn heatmap --weights-npy`
# with the French words as rows (queries) and the English words as columns (keys).
# Usage: docs/examples/heatmap_french.sh [path to vkattn, default build/tools/vkattn]
set -euo pipefail
VKATTN=$(realpath "${1:-$(dirname "$0")/../../build/tools/vkattn}")
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

/usr/bin/python3 docs/examples/heatmap_french.py "$WORK"
"$VKATTN" heatmap --weights-npy "$WORK/cross_attention.npy" \
  --query-tokens docs/examples/french_tokens_fr.txt --key-tokens docs/examples/french_tokens_en.txt \
  --title 'English → French: « l’économie européenne »' --out docs/images/heatmap_french.png
