#!/usr/bin/env bash
# The library's whole story on the embedded default model (all-MiniLM-L6-v2), in a few minutes:
# encode, evaluate, search, a short fine-tune, a TF Serving SavedModel and a TFLite model.
# Usage: bash examples/demo.sh VENV_BIN MODEL DATA_DIR   (make demo passes them)
set -euo pipefail
bin=${1:-.venv/bin}; model=${2:-all-MiniLM-L6-v2}; data=${3:-../shared/data}
out=${DEMO_OUT:-runs/demo}
rm -rf "$out"  # a fresh run each time (the fine-tune would otherwise resume)
mkdir -p "$out"
cli="$bin/keras-siamese"
step() { printf '\n== %s\n' "$*"; }

step "Encode examples/corpus.txt (one sentence per line) into a .npy matrix"
"$cli" encode "$model" examples/corpus.txt -o "$out/corpus.npy"

step "Evaluate: STS Benchmark dev, Spearman/Pearson x100 of cosine similarity"
"$cli" evaluate sts "$model" "$data/stsb/sts-dev.csv" --format stsb

step "Semantic search over examples/corpus.txt"
"$cli" search "$model" examples/corpus.txt "someone is making food" "pets resting" --top-k 3

step "Fine-tune briefly on STSb train with CoSENT (examples/train.yaml), evaluated before and after"
"$cli" train --config examples/train.yaml --model "$model" \
    --data "$data/stsb/sts-train.csv" --eval "$data/stsb/sts-dev.csv" --output "$out/finetuned"

step "Export the fine-tuned model: a TF Serving SavedModel (raw strings in) and an int8 TFLite model"
"$cli" export saved-model "$out/finetuned/model" "$out/serving"
"$cli" export tflite "$out/finetuned/model" "$out/finetuned-int8.tflite" --quantize dynamic

step "Load both exports back and embed two sentences, as TF Serving and an app would"
"$bin/python" - "$out/serving" "$out/finetuned-int8.tflite" <<'PY'
import sys

import keras_siamese as ks

export = ks.export  # loads TensorFlow quietly, before the import below

import tensorflow as tf

sentences = ["A man plays guitar.", "Someone is playing music."]
base = sys.argv[1]
version = max(export.model_versions(base))
serve = export.load_saved_model(f"{base}/{version}").signatures["serving_default"]
e = serve(sentences=tf.constant(sentences))["embeddings"].numpy()
print(f"SavedModel {base}/{version}: embeddings {e.shape}, cosine {float(e[0] @ e[1]):.4f}")
t = export.TfliteEncoder(sys.argv[2]).encode(sentences)
print(f"TFLite {sys.argv[2]}: embeddings {t.shape}, cosine {float(t[0] @ t[1]):.4f}")
PY
