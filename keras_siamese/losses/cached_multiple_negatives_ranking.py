"""Cached multiple negatives ranking loss (GradCache, Gao et al. 2021), as sentence-transformers'
``CachedMultipleNegativesRankingLoss``: MNRL over a batch far larger than fits in memory, with
the exact gradients; the training model (``keras_siamese.siamese.grad_cache``) does the caching."""

import keras

from keras_siamese.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss


@keras.saving.register_keras_serializable(package="keras_siamese")
class CachedMultipleNegativesRankingLoss(MultipleNegativesRankingLoss):
    """``MultipleNegativesRankingLoss`` for large batches in bounded memory (GradCache).

    The loss is MNRL's, on the same stacked embeddings; what differs is the training model
    (``training_model`` gives a ``GradCacheModel`` for it): it embeds the batch
    ``mini_batch_size`` rows at a time without keeping activations, takes the loss and its
    gradient with respect to the embeddings, then embeds each mini-batch again (with the same
    dropout masks) and back-propagates its cached gradient. The gradients equal MNRL's on the
    whole batch; activation memory is that of ``mini_batch_size`` rows, at the cost of a second
    forward pass. Use it with the largest ``batch_size`` the data allow.

    Args:
        mini_batch_size: rows embedded at once: the memory bound, not a setting of the loss
            (any value gives the same gradients; larger is faster).
        **kwargs: the options of ``MultipleNegativesRankingLoss`` (``scale``, ``similarity``,
            ``symmetric``, ``directions``, ``partition_mode``, ``hardness_mode``,
            ``hardness_strength``, ``gather_across_replicas``).

    References:
        Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup",
        2021 (GradCache); sentence-transformers' ``losses.CachedMultipleNegativesRankingLoss``.

    Inputs:
        ``anchor``, ``positive`` (+ ``negative_1`` ... ``negative_k``) -> none.

    Example:
        >>> import numpy as np
        >>> loss = CachedMultipleNegativesRankingLoss(mini_batch_size=2)
        >>> embeddings = np.array([[[1.0, 0.0], [1.0, 0.1]], [[0.0, 1.0], [0.1, 1.0]]])
        >>> round(float(loss(np.zeros(2), embeddings)), 4)  # MNRL's value
        0.0
        >>> config = ks.TrainingConfig(
        ...     loss="cached-mnrl", loss_options={"mini_batch_size": 32}, batch_size=1024)
    """

    registry_name = "cached-mnrl"

    def __init__(
        self,
        mini_batch_size: int = 32,
        name: str = "cached_multiple_negatives_ranking_loss",
        **kwargs,
    ) -> None:
        if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, int):
            raise ValueError(f"mini_batch_size must be an integer, got {mini_batch_size!r}")
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be positive, got {mini_batch_size}")
        super().__init__(name=name, **kwargs)
        self.mini_batch_size = mini_batch_size

    def get_config(self) -> dict:
        return {**super().get_config(), "mini_batch_size": self.mini_batch_size}
