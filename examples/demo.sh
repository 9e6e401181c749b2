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
echo "== Export: a TF Serving SavedModel (raw strings in) and a dynamic-range int8 TFLite model"
"$cli" export saved-model "$model" "$out/serving"
"$cli" export tflite "$model" "$out/minilm-int8.tflite" --quantize dynamic
"$bin/python" - "$out/serving" <<'PY'
import sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokeniser ops the SavedModel uses)
base = sys.argv[1]
version = max(int(p) for p in tf.io.gfile.listdir(base) if p.strip("/").isdigit())
serve = tf.saved_model.load(f"{base}/{version}").signatures["serving_default"]
embeddings = serve(sentences=tf.constant(["A man plays guitar.", "Someone is playing music."]))
e = embeddings["embeddings"].numpy()
print(f"SavedModel {base}/{version}: embeddings {e.shape}, cosine {float(e[0] @ e[1]):.4f}")
PY
