"""``LiteRTBackend``: ``SentenceEncoder.encode`` run by LiteRT (TFLite) instead of Keras
(``SentenceEncoder.use_backend("litert")``).

The encoder is converted once to a token-id TFLite file (``keras_siamese.export.tflite``,
``quantize``: ``"none"`` float32, ``"float16"`` weights, ``"dynamic"`` int8 weights with
dynamic-range activations) and cached in ``cache_dir()/litert/``, keyed on the weights, the
quantisation, the pooling's prompt handling and the library versions: a second process, or a
second ``from_pretrained(..., backend="litert")``, loads the file without converting. Tokenising,
sorting, batching, prompts, truncation and progress stay ``encode``'s own.

Accuracy against the Keras float32 model (all-MiniLM-L6-v2, STSb dev): ``none`` equal
(cosine >= 0.99999), ``float16`` cosine >= 0.9999, ``dynamic`` mean cosine >= 0.995 and Spearman
within 0.1 (``tests/test_litert_backend.py``, ``bench/encode.py``).
"""

import hashlib
import os
from pathlib import Path

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import numpy as np
import tensorflow as tf

from keras_siamese import __version__
from keras_siamese.checkpoints.presets import cache_dir
from keras_siamese.export.embedding_module import export_options
from keras_siamese.export.litert import QUANTIZATIONS, tflite_interpreter, write_tflite

BACKENDS = ("keras", "litert")


class LiteRTBackend:
    """Embeds padded token ids with the LiteRT conversion of ``encoder`` (see the module).

    ``num_threads`` (default: every core) is the interpreter's. With a pooling that leaves the
    prompt out (``include_prompt=False``) each prompt has its own file.
    """

    def __init__(
        self,
        encoder,
        quantize: str = "dynamic",
        cache: str | Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        if quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}.")
        self.encoder = encoder
        self.quantize = quantize
        self.cache = Path(cache) if cache is not None else cache_dir() / "litert"
        self.num_threads = num_threads or os.cpu_count() or 1
        self._runners: dict[str, object] = {}

    def model_path(self, prompt: str = "") -> Path:
        """The cached file for texts that start with ``prompt`` (whose tokens a pooling with
        ``include_prompt=False`` leaves out), converted and checked when missing."""
        # every dimension: encode truncates
        options = export_options(self.encoder, prompt=prompt)
        options.update(truncate_dim=None, embedding_dim=self.encoder.embedding_dim)
        prompt_length = options["prompt_length"] if not options["include_prompt"] else 0
        settings = (self.quantize, prompt_length, __version__, tf.__version__)
        key = hashlib.sha256(f"{self.encoder.fingerprint()}{settings}".encode()).hexdigest()[:32]
        path = self.cache / f"{key}-{self.quantize}.tflite"
        if not path.is_file():
            self.cache.mkdir(parents=True, exist_ok=True)
            write_tflite(self.encoder, path, options, self.quantize)
        return path

    def __call__(self, inputs: dict[str, np.ndarray], prompt: str = "") -> np.ndarray:
        """``[batch, embedding_dim]`` float32 embeddings of padded ``input_ids`` /
        ``attention_mask``, the ids of ``prompt`` + text."""
        if self.encoder.pooling.include_prompt:
            prompt = ""  # the file does not depend on it
        if prompt not in self._runners:
            interpreter = tflite_interpreter(self.model_path(prompt), self.num_threads)
            self._runners[prompt] = interpreter.get_signature_runner()
        outputs = self._runners[prompt](
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        )
        return outputs["embeddings"]
