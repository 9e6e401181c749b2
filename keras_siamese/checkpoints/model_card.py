"""The model card (``README.md``) written into every saved sentence-transformers folder.

``render_model_card`` reads the model from its parts and the story of its training from
``card_data`` (what ``SentenceEncoder.model_card_data`` collects: ``base_model`` at load,
``training`` from ``fit``, ``evaluation`` before/after from the ``train`` command), so the card
says only what is known. Hugging Face reads the YAML front matter.

>>> card = render_model_card(
...     {"model_type": "bert", "layers": 6, "hidden_size": 384, "max_seq_length": 128,
...      "pooling": ["mean"], "embedding_dim": 384, "normalize": True},
...     {"base_model": "all-MiniLM-L6-v2",
...      "training": {"loss": "cosent", "train_examples": 5749, "epochs": 1, "batch_size": 16},
...      "evaluation": {"before": {"dev_sts_spearman_cosine": 82.03},
...                     "after": {"dev_sts_spearman_cosine": 87.1}}})
>>> print(card.split("## Training")[1].split("## Evaluation")[0].strip())
- Base model: `all-MiniLM-L6-v2`
- Loss: `cosent`
- Training examples: 5,749
<BLANKLINE>
| Hyperparameter | Value |
|---|---|
| epochs | 1 |
| batch_size | 16 |
>>> "| dev_sts_spearman_cosine | 82.0300 | 87.1000 |" in card
True
"""

import json
from typing import Any

from keras_siamese import __version__

USAGE = """```python
import keras_siamese as ks

encoder = ks.SentenceEncoder.from_pretrained("{path}")
embeddings = encoder.encode(["The weather is lovely today.", "It's so sunny outside!"])
print(embeddings.shape)  # ({count}, {dim})
```

The folder is a sentence-transformers model too:

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{path}")
embeddings = model.encode(["The weather is lovely today.", "It's so sunny outside!"])
```

Or from the command line, and exported for TF Serving (raw strings in) or TFLite:

```bash
keras-siamese encode {path} sentences.txt -o embeddings.npy
keras-siamese export saved-model {path} models/encoder
```"""


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`"
    return str(value)


def _evaluation_table(evaluation: dict[str, dict[str, float]]) -> list[str]:
    before, after = evaluation.get("before", {}), evaluation.get("after", {})
    names = list(dict.fromkeys([*before, *after]))
    rows = ["| Metric | Before training | After training |", "|---|---|---|"]
    for name in names:
        cells = [f"{v[name]:.4f}" if name in v else "-" for v in (before, after)]
        rows.append(f"| {name} | {' | '.join(cells)} |")
    return rows


def render_model_card(model: dict[str, Any], card_data: dict[str, Any], path: str = "PATH") -> str:
    """The Markdown of the card: ``model`` describes the network (``model_type``, ``layers``,
    ``hidden_size``, ``max_seq_length``, ``pooling``, ``embedding_dim``, ``normalize``);
    ``card_data`` may hold ``base_model``, ``training`` (``loss``, ``train_examples`` and the
    hyperparameters) and ``evaluation`` (``before``/``after`` metrics); ``path`` goes into the
    usage snippet."""
    base = card_data.get("base_model")
    front = ["---", "library_name: keras-siamese", "pipeline_tag: sentence-similarity", "tags:"]
    front += [f"- {tag}" for tag in ("sentence-transformers", "sentence-similarity", "keras")]
    if base:
        front.append(f"base_model: {base}")
    front.append("---")
    normalized = "L2-normalised" if model["normalize"] else "not normalised"
    lines = [
        *front,
        "",
        "# Sentence embedding model",
        "",
        f"A sentence embedding model saved by keras-siamese {__version__}"
        + (f", fine-tuned from `{base}`." if card_data.get("training") and base else "."),
        f"It maps text to {model['embedding_dim']}-dimensional vectors ({normalized}), compared "
        "with the cosine similarity.",
        "",
        "| Part | Value |",
        "|---|---|",
        f"| Transformer | {model['model_type']}, {model['layers']} layers, hidden size "
        f"{model['hidden_size']} |",
        f"| Longest text | {model['max_seq_length']} tokens (longer texts are truncated) |",
        f"| Pooling | {', '.join(model['pooling'])} |",
        f"| Embedding | {model['embedding_dim']} dimensions, {normalized} |",
        "",
        "## Usage",
        "",
        USAGE.format(path=path, count=2, dim=model["embedding_dim"]),
    ]
    training = dict(card_data.get("training") or {})
    if training:
        loss, examples = training.pop("loss", None), training.pop("train_examples", None)
        lines += ["", "## Training", ""]
        if base:
            lines.append(f"- Base model: `{base}`")
        if loss is not None:
            lines.append(f"- Loss: {_value(loss) if isinstance(loss, dict) else f'`{loss}`'}")
        if examples is not None:
            lines.append(f"- Training examples: {examples:,}")
        if training:
            lines += ["", "| Hyperparameter | Value |", "|---|---|"]
            lines += [f"| {name} | {_value(value)} |" for name, value in training.items()]
    if card_data.get("evaluation"):
        lines += ["", "## Evaluation", "", *_evaluation_table(card_data["evaluation"])]
    return "\n".join(lines) + "\n"
