"""The new evaluators as Keras callbacks, and the encoder methods they call (issue 10)."""

from types import SimpleNamespace

import numpy as np
import pytest

from keras_siamese.evaluation import (
    InformationRetrievalEvaluator,
    MSEEvaluator,
    RerankingEvaluator,
    SequentialEvaluator,
    TranslationEvaluator,
)


class RoleEncoder:
    """Embeds by text, and records which method embedded which texts."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.vectors: dict[str, np.ndarray] = {}
        self.calls: list[tuple[str, list[str]]] = []

    def _encode(self, method, texts):
        self.calls.append((method, list(texts)))
        for text in texts:
            self.vectors.setdefault(text, self.rng.normal(size=4).astype(np.float32))
        return np.stack([self.vectors[text] for text in texts])

    def encode(self, texts, batch_size=32, normalize=None, show_progress_bar=None):
        return self._encode("encode", texts)

    def encode_query(self, texts, **kwargs):
        return self._encode("query", texts)

    def encode_document(self, texts, **kwargs):
        return self._encode("document", texts)


def test_retrieval_encodes_queries_and_documents_with_their_methods():
    encoder = RoleEncoder()
    corpus = {f"d{i}": f"doc {i}" for i in range(5)}
    InformationRetrievalEvaluator({"q": "query"}, corpus, {"q": {"d1"}}, corpus_chunk_size=2)(
        encoder
    )
    assert encoder.calls == [
        ("query", ["query"]),
        ("document", ["doc 0", "doc 1"]),
        ("document", ["doc 2", "doc 3"]),
        ("document", ["doc 4"]),
    ]
    encoder.calls.clear()
    RerankingEvaluator([{"query": "query", "positive": "doc 1", "negative": ["doc 2"]}])(encoder)
    assert encoder.calls == [("query", ["query"]), ("document", ["doc 1", "doc 2"])]
    encoder.calls.clear()
    TranslationEvaluator(["a", "b"], ["c", "d"])(encoder)
    assert encoder.calls == [("encode", ["a", "b", "c", "d"])]


def test_sequential_as_a_callback_every_n_steps():
    encoder = RoleEncoder()
    texts = ["one", "two", "three"]
    mse = MSEEvaluator(texts, teacher=encoder, name="mse")  # the teacher embeds once, here
    assert encoder.calls == [("encode", texts)]
    translation = TranslationEvaluator(texts, texts, name="tr")
    sequential = SequentialEvaluator([mse, translation], every_n_steps=2)
    sequential.set_model(SimpleNamespace(encode=encoder.encode, layers=[]))
    sequential.on_train_begin()
    sequential.on_epoch_begin(0)
    logs = [{} for _ in range(4)]
    for batch, step_logs in enumerate(logs):
        sequential.on_train_batch_end(batch, step_logs)
    assert [bool(step_logs) for step_logs in logs] == [False, True, False, True]
    assert logs[1] == {
        "mse_negative_mse": pytest.approx(0.0),
        "tr_src2trg_accuracy": 1.0,
        "tr_trg2src_accuracy": 1.0,
        "tr_mean_accuracy": 1.0,
        "sequential_score": 1.0,  # the last evaluator's primary metric
    }
    epoch_logs = {"loss": 0.5}
    sequential.on_epoch_end(0, epoch_logs)
    assert epoch_logs["sequential_score"] == 1.0 and epoch_logs["loss"] == 0.5
    with pytest.raises(ValueError, match="at least one evaluator"):
        SequentialEvaluator([])
