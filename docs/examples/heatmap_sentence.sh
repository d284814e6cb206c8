#!/usr/bin/env bash
# Makes the example images of docs/heatmap.md: synthetic inputs for "the cat sat on the mat because it
# was tired" (heatmap_sentence.py), then `vkattn heatmap` for head 0 and for the grid of all four heads.
# Usage: docs/examples/heatmap_sentence.sh [path to vkattn, default build/tools/vkattn]
set -euo pipefail
VKATTN=$(realpath "${1:-$(dirname "$0")/../../build/tools/vkattn}")
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TOKENS=docs/examples/sentence_tokens.txt

/usr/bin/python3 docs/examples/heatmap_sentence.py "$WORK"
"$VKATTN" heatmap --q "$WORK/q.npy" --k "$WORK/k.npy" --v "$WORK/v.npy" --scale 1 \
  --query-tokens "$TOKENS" --key-tokens "$TOKENS" --head 0 \
  --title 'head 0: "it" attends to "cat"' --out docs/images/heatmap_sentence.png
"$VKATTN" heatmap --q "$WORK/q.npy" --k "$WORK/k.npy" --v "$WORK/v.npy" --scale 1 \
  --query-tokens "$TOKENS" --key-tokens "$TOKENS" --grid \
  --title 'four synthetic heads' --out docs/images/heatmap_sentence_grid.png
