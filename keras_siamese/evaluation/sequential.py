"""`SequentialEvaluator`: several evaluators run as one, with one primary metric."""

from collections.abc import Callable, Iterable

from keras_siamese.evaluation.evaluator import Encoder, Evaluator


def last(scores: list[float]) -> float:
    """The last score: `SequentialEvaluator`'s default `main_score_function`."""
    return scores[-1]


class SequentialEvaluator(Evaluator):
    """Runs `evaluators` one after the other on the same encoder and reports all their metrics,
    plus `{name}_score` (the primary metric): `main_score_function` of their primary metrics
    in order (default: the last one's), as sentence-transformers' SequentialEvaluator does.

    Pass it alone in `callbacks` (not its members as well); `every_n_steps` is its own. Each
    member evaluates the encoder given to the call, else its own encoder, else this
    evaluator's (or the model's).

    Example:
        >>> sts = ks.evaluation.STSEvaluator.from_examples(tiny_examples, name="sts")
        >>> ir = ks.evaluation.InformationRetrievalEvaluator(
        ...     {"q": "a dog runs"}, {"d1": "a dog is running", "d2": "a car"}, {"q": {"d1"}})
        >>> both = SequentialEvaluator([sts, ir], main_score_function=lambda s: sum(s) / 100)
        >>> metrics = both(tiny_encoder)
        >>> both.primary_metric, metrics["sequential_score"] == (
        ...     metrics["sts_spearman_cosine"] + metrics["ir_cosine_ndcg@10"]) / 100
        ('sequential_score', True)
    """

    primary = "score"

    def __init__(
        self,
        evaluators: Iterable[Evaluator],
        main_score_function: Callable[[list[float]], float] = last,
        name: str = "sequential",
        encoder: Encoder | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, 32, every_n_steps)
        self.evaluators = list(evaluators)
        if not self.evaluators:
            raise ValueError("give at least one evaluator")
        self.main_score_function = main_score_function

    def evaluate(self, encoder: Encoder | None = None) -> dict[str, float]:
        """Every member's metrics, and `{name}_score`."""
        metrics: dict[str, float] = {}
        scores = []
        for evaluator in self.evaluators:
            chosen = encoder if encoder is not None else evaluator.encoder
            if chosen is None:
                chosen = self.encoder if self.encoder is not None else self._model_encoder()
            results = evaluator.evaluate(chosen)
            metrics.update(results)
            scores.append(results[evaluator.primary_metric])
        metrics[self.primary_metric] = float(self.main_score_function(scores))
        return metrics
