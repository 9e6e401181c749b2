#!/usr/bin/env bash
# The main job on the embedded default model (all-MiniLM-L6-v2): evaluate, search, encode.
# Usage: bash examples/demo.sh VENV_BIN MODEL DATA_DIR   (make demo passes them)
set -euo pipefail
bin=${1:-.venv/bin}; model=${2:-all-MiniLM-L6-v2}; data=${3:-../shared/data}
out=${DEMO_OUT:-runs/demo}
mkdir -p "$out"
cli="$bin/keras-siamese"

echo "== STS Benchmark dev: Spearman/Pearson x100 of cosine similarity"
"$cli" evaluate sts "$model" "$data/stsb/sts-dev.csv" --format stsb
echo "== SICK trial relatedness"
"$cli" evaluate sts "$model" "$data/sick/SICK_train_trial.txt" --format sick --split TRIAL
echo "== Semantic search over examples/corpus.txt"
"$cli" search "$model" examples/corpus.txt "someone is making food" "pets resting" --top-k 3
echo "== Encode the corpus"
"$cli" encode "$model" examples/corpus.txt -o "$out/corpus.npy"
