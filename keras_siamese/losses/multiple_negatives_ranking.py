"""Multiple negatives ranking loss, i.e. InfoNCE with in-batch negatives (Henderson et al.,
"Efficient Natural Language Response Suggestion for Smart Reply", 2017), as sentence-transformers'
``MultipleNegativesRankingLoss``, with its ``directions``, ``partition_mode`` and hardness options
(``symmetric=True``: its symmetric variant) and ``gather_across_replicas`` (its
``gather_across_devices``, under ``tf.distribute``)."""

from collections.abc import Sequence

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked

DIRECTIONS = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
PARTITION_MODES = ("joint", "per_direction")
HARDNESS_MODES = (None, "in_batch_negatives", "hard_negatives", "all_negatives")


def _masked(scores, mask):
    """``scores`` with ``-inf`` where ``mask``: candidates left out of the softmax."""
    return ops.where(mask, ops.full_like(scores, float("-inf")), scores)


def _hardness_penalty(raw, rows, total, documents: int, mode: str, strength: float):
    """``strength`` times the (unscaled, constant) query-to-document similarities of the
    negatives ``mode`` selects, zero elsewhere (Lan et al. 2025, as sentence-transformers).
    ``rows``: each anchor's row among the ``total`` rows of the candidates' blocks."""
    index = ops.arange(documents * total)
    column_row, first_block = index % total, index < total
    own = ops.equal(ops.expand_dims(rows, 1), ops.expand_dims(column_row, 0))
    if mode == "hard_negatives":  # only the query's own hard negatives
        keep = ops.logical_and(own, ops.logical_not(first_block))
    elif mode == "in_batch_negatives":  # only the other queries' documents
        keep = ops.logical_not(own)
    else:  # all_negatives: everything but the query's own positive
        keep = ops.logical_not(ops.logical_and(own, first_block))
    penalty = strength * ops.stop_gradient(raw)
    return ops.where(keep, penalty, ops.zeros_like(penalty))


def gathered_across_replicas(y_pred):
    """``(y_pred of every replica, concatenated in replica order; the row of this replica's first
    example in it)`` when called in a replica context of more than one replica (inside
    ``strategy.run``, as Keras' ``fit`` under a ``tf.distribute`` strategy calls a loss), else
    ``None``. ``ReplicaContext.all_gather``: the gradient of the gathered rows flows back, summed
    over the replicas, to the replica that holds them."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    sizes = context.all_gather(tf.reshape(tf.shape(y_pred)[0], [1]), axis=0)
    offset = tf.reduce_sum(sizes[: context.replica_id_in_sync_group])
    gathered = context.all_gather(y_pred, axis=0)  # of unknown static shape
    return tf.ensure_shape(gathered, [None, *y_pred.shape[1:]]), offset


def multiple_negatives_ranking_loss(
    y_true,
    y_pred,
    scale: float = 20.0,
    similarity: str = "cosine",
    symmetric: bool = False,
    directions: Sequence[str] = ("query_to_doc",),
    partition_mode: str = "joint",
    hardness_mode: str | None = None,
    hardness_strength: float = 0.0,
    gather_across_replicas: bool = False,
):
    """Per anchor cross-entropy of finding its positive among the batch's candidates, ``[B]``.

    ``y_pred``: stacked embeddings ``[B, 2 + k, D]`` (anchor, positive, k hard negatives); every
    other example's positive and negatives are negatives too. Scores are ``scale`` times
    ``similarity``. ``directions`` (sentence-transformers'): the candidate pools of each row i,
    ``query_to_doc`` (anchor i against every document, always), ``query_to_query`` (against the
    other anchors), ``doc_to_query`` (positive i against every anchor), ``doc_to_doc`` (positive i
    against the documents of the other rows). ``partition_mode``: ``"joint"``, one softmax over all
    the pools, or ``"per_direction"``, the mean of one per pool (only for pools that hold the
    positive pair). ``hardness_mode`` with ``hardness_strength`` > 0 adds ``hardness_strength``
    times the unscaled similarity (no gradient) to the logits of those negatives. ``symmetric``:
    ``directions=("query_to_doc", "doc_to_query")``, ``"per_direction"`` (its older spelling).
    ``gather_across_replicas``: under a ``tf.distribute`` strategy of N > 1 replicas, the
    candidates (every pool's) are all replicas' rows (``gathered_across_replicas``), so each
    replica's anchors are ranked among the global batch's candidates, as on one device; the
    gradients of the gathered rows flow back to their replica, summed over the replicas, and
    Keras' ``sum_over_batch_size`` (divided by N) then summed over the replicas gives one
    device's loss and gradients for the global batch (equal local batches). Elsewhere it does
    nothing. ``y_true`` is ignored.
    """
    if symmetric:
        directions, partition_mode = ("query_to_doc", "doc_to_query"), "per_direction"
    anchors, *documents = stacked(y_pred, 2, "multiple_negatives_ranking_loss", more=True)
    positives, batch = documents[0], ops.shape(anchors)[0]
    gathered = gathered_across_replicas(y_pred) if gather_across_replicas else None
    offset, all_anchors, all_documents = 0, anchors, documents
    if gathered is not None:  # every replica's rows as candidates: [B_global, 2 + k, D]
        everything, offset = gathered
        all_anchors, *all_documents = stacked(everything, 2, "gathered", more=True)
    total = ops.shape(all_anchors)[0]
    rows = offset + ops.arange(batch)  # each anchor's row among the candidates' rows
    candidates = ops.concatenate(all_documents, axis=0)
    score = metrics.similarity(similarity).matrix
    raw = score(anchors, candidates)
    eye = ops.equal(ops.expand_dims(rows, 1), ops.expand_dims(ops.arange(total), 0))
    pools = {"query_to_doc": scale * raw}
    if "query_to_query" in directions:
        pools["query_to_query"] = _masked(scale * score(anchors, all_anchors), eye)
    if "doc_to_query" in directions:
        pools["doc_to_query"] = scale * score(positives, all_anchors)
    if "doc_to_doc" in directions:
        own = ops.tile(eye, (1, len(documents)))  # row i's own positive and hard negatives
        pools["doc_to_doc"] = _masked(scale * score(positives, candidates), own)
    if hardness_mode is not None and hardness_strength > 0.0:
        penalty = _hardness_penalty(
            raw, rows, total, len(documents), hardness_mode, hardness_strength
        )
        pools["query_to_doc"] = pools["query_to_doc"] + penalty
    own_positive = ops.expand_dims(rows, 1)  # row i's positive: column rows[i]
    positive_scores = ops.take_along_axis(pools["query_to_doc"], own_positive, axis=1)[:, 0]
    if partition_mode == "joint":
        log_z = ops.logsumexp(ops.concatenate(list(pools.values()), axis=1), axis=1)
    else:
        log_z = sum(ops.logsumexp(pool, axis=1) for pool in pools.values()) / len(pools)
    return log_z - positive_scores


def _checked_options(
    scale, directions, partition_mode, hardness_mode, hardness_strength
) -> list[str]:
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    directions = list(directions)
    unknown = [direction for direction in directions if direction not in DIRECTIONS]
    if unknown or "query_to_doc" not in directions or len(set(directions)) != len(directions):
        raise ValueError(
            f"directions must be distinct names of {DIRECTIONS} and include 'query_to_doc' "
            f"(it holds the positive pair), got {directions}"
        )
    if partition_mode not in PARTITION_MODES:
        raise ValueError(f"partition_mode must be one of {PARTITION_MODES}, got {partition_mode!r}")
    if partition_mode == "per_direction" and {"query_to_query", "doc_to_doc"} & set(directions):
        raise ValueError(
            "partition_mode='per_direction' needs every direction's pool to hold the positive "
            "pair; 'query_to_query' and 'doc_to_doc' do not: use partition_mode='joint'"
        )
    if hardness_mode not in HARDNESS_MODES:
        raise ValueError(f"hardness_mode must be one of {HARDNESS_MODES}, got {hardness_mode!r}")
    if not hardness_strength >= 0.0:
        raise ValueError(f"hardness_strength must be non-negative, got {hardness_strength}")
    return directions


@keras.saving.register_keras_serializable(package="keras_siamese")
class MultipleNegativesRankingLoss(SiameseLoss):
    """Ranks each anchor's positive above every other candidate in the batch.

    Data: (anchor, positive) pairs, optionally with hard negatives, no labels. Larger batches
    give more negatives.

    Args:
        scale: the inverse temperature of the softmax.
        similarity: a name of ``keras_siamese.similarity.SIMILARITIES``.
        symmetric: also rank each positive's anchor among all anchors (the same as
            ``directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"``).
        directions, partition_mode, hardness_mode, hardness_strength: as sentence-transformers'
            (see ``multiple_negatives_ranking_loss``); ``directions=DIRECTIONS`` with
            ``"joint"`` is GTE's improved contrastive loss.
        gather_across_replicas: under a ``tf.distribute`` strategy (``fit(...,
            strategy=...)``), rank each replica's anchors among every replica's candidates: the
            loss and gradients of one device with the global batch (sentence-transformers'
            ``gather_across_devices``); without a strategy, or on one replica, no effect.

    References:
        Henderson et al., "Efficient Natural Language Response Suggestion for Smart Reply", 2017;
        Li et al., "Towards General Text Embeddings with Multi-stage Contrastive Learning" (GTE),
        2023; Lan et al., "LLaVE", 2025 (hardness weighting); sentence-transformers'
        ``losses.MultipleNegativesRankingLoss``.

    Inputs:
        ``anchor``, ``positive`` (+ ``negative_1`` ... ``negative_k``) -> none.

    Example:
        >>> import numpy as np
        >>> loss = MultipleNegativesRankingLoss()  # cosine, scale 20
        >>> embeddings = np.array([[[1.0, 0.0], [1.0, 0.1]], [[0.0, 1.0], [0.1, 1.0]]])
        >>> round(float(loss(np.zeros(2), embeddings)), 4)  # [B=2, anchor+positive, D=2]
        0.0
    """

    registry_name = "mnrl"
    roles = ("anchor", "positive")
    label_kind = "none"
    takes_negatives = True

    def __init__(
        self,
        scale: float = 20.0,
        similarity: str = "cosine",
        symmetric: bool = False,
        directions: Sequence[str] = ("query_to_doc",),
        partition_mode: str = "joint",
        hardness_mode: str | None = None,
        hardness_strength: float = 0.0,
        gather_across_replicas: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str = "multiple_negatives_ranking_loss",
        dtype=None,
    ) -> None:
        directions = _checked_options(
            scale, directions, partition_mode, hardness_mode, hardness_strength
        )
        if symmetric and (directions != ["query_to_doc"] or partition_mode != "joint"):
            raise ValueError(
                "symmetric=True sets directions and partition_mode: give one or the other"
            )
        super().__init__(
            multiple_negatives_ranking_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            scale=scale,
            similarity=similarity,
            symmetric=symmetric,
            directions=directions,
            partition_mode=partition_mode,
            hardness_mode=hardness_mode,
            hardness_strength=hardness_strength,
            gather_across_replicas=bool(gather_across_replicas),
        )
