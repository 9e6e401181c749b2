"""`MSEEvaluator`: how close a student's embeddings are to a teacher's (distillation)."""

from collections.abc import Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator


class MSEEvaluator(Evaluator):
    """The mean squared error (x100) between the teacher's embeddings of `source_sentences` and
    the evaluated (student) encoder's embeddings of `target_sentences` (default: the same
    sentences; for multilingual distillation, their translations), negated so that higher is
    better, as sentence-transformers' MSEEvaluator computes it: `{name}_negative_mse`.

    The teacher's embeddings are given (`teacher_embeddings`, float [N, D]) or computed once,
    here, by `teacher` (an encoder, e.g. a bigger `SentenceEncoder`).

    Example:
        >>> texts = ["a dog runs", "a cat eats"]
        >>> mse = MSEEvaluator(texts, teacher=tiny_encoder, name="distill")
        >>> mse(tiny_encoder)  # the teacher against itself
        {'distill_negative_mse': -0.0}
    """

    primary = "negative_mse"

    def __init__(
        self,
        source_sentences: Sequence[str],
        target_sentences: Sequence[str] | None = None,
        teacher: Encoder | None = None,
        teacher_embeddings: np.ndarray | None = None,
        name: str = "mse",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        sources = Examples({"source": list(source_sentences)}).columns["source"]
        targets = sources if target_sentences is None else list(target_sentences)
        self.target_sentences = Examples({"target": targets}).columns["target"]
        if len(self.target_sentences) != len(sources):
            raise ValueError(
                f"{len(sources)} source sentences but {len(self.target_sentences)} targets"
            )
        if (teacher is None) == (teacher_embeddings is None):
            raise ValueError("give either a teacher encoder or teacher_embeddings")
        if teacher is not None:
            (teacher_embeddings,) = self.embed(teacher, sources)
        self.teacher_embeddings = np.asarray(teacher_embeddings, np.float32)
        if self.teacher_embeddings.ndim != 2 or len(self.teacher_embeddings) != len(sources):
            raise ValueError(
                f"teacher_embeddings have shape {self.teacher_embeddings.shape}, expected "
                f"({len(sources)}, dimension)"
            )

    def compute(self, encoder: Encoder) -> dict[str, float]:
        (student,) = self.embed(encoder, self.target_sentences)
        if student.shape != self.teacher_embeddings.shape:
            raise ValueError(
                f"the student's embeddings have shape {student.shape}, the teacher's "
                f"{self.teacher_embeddings.shape}: their dimensions must match"
            )
        difference = self.teacher_embeddings.astype(np.float64) - student
        return {"negative_mse": -100.0 * float(np.mean(difference**2))}
