"""GISTEmbed loss (Solatorio, "GISTEmbed: Guided In-sample Selection of Training Negatives for Text
Embedding Fine-tuning", 2024), as sentence-transformers' ``GISTEmbedLoss``: in-batch negatives
ranking whose candidates a guide model rates as false negatives are left out of the softmax.

The guide is not called inside the loss: its embeddings of every text column are computed once at
data-preparation time, as a teacher's (``keras_siamese.data.with_teacher_embeddings``), and given
as the labels."""

import math

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked
from keras_siamese.losses.multiple_negatives_ranking import _masked, gathered_across_replicas

MARGIN_STRATEGIES = ("absolute", "relative")


def _guide_columns(y_true, columns: int) -> list:
    """The guide's embeddings ``[B, Dg]`` of each column, float32 and without gradient."""
    guide = ops.stop_gradient(ops.cast(y_true, "float32"))
    if len(guide.shape) != 3 or guide.shape[1] not in (None, columns):
        raise ValueError(
            f"gist_embed_loss with {columns} text columns takes the guide's embeddings "
            f"[B, {columns}, Dg] as labels (keras_siamese.data.with_teacher_embeddings with every "
            f"column); got shape {tuple(guide.shape)}."
        )
    return [guide[:, i] for i in range(columns)]


def gist_embed_loss(
    y_true,
    y_pred,
    temperature: float = 0.01,
    margin_strategy: str = "absolute",
    margin: float = 0.0,
    contrast_anchors: bool = True,
    contrast_positives: bool = True,
    similarity: str = "cosine",
    gather_across_replicas: bool = False,
):
    """Per anchor cross-entropy of finding its positive among the batch's candidates the guide
    does not rate as false negatives, ``[B]`` (its mean is sentence-transformers' value).

    ``y_pred``: the student's stacked embeddings ``[B, 2 + k, D]`` (anchor, positive, k >= 0 hard
    negatives). ``y_true``: the guide's embeddings of the same texts ``[B, 2 + k, Dg]`` (``Dg``
    may differ from ``D``). Anchor i's candidates: every positive (anchor-positive), with
    ``contrast_anchors`` every other anchor, with ``contrast_positives`` every positive but its
    own (positive i against them), and every hard negative. A candidate is left out when the
    guide's ``similarity`` of it with anchor i's text (positive i's, in the positive pool) exceeds
    the guide's anchor-positive similarity ``s_i`` less the margin: ``s_i - margin``
    (``"absolute"``) or ``s_i - |s_i| * margin`` (``"relative"``); anchor i's own positive always
    stays. Scores are the student's ``similarity`` over ``temperature``.
    ``gather_across_replicas``: under a ``tf.distribute`` strategy of N > 1 replicas, the
    positives and negatives (the student's and the guide's) are every replica's
    (``gathered_across_replicas``); the anchor pool stays the replica's own anchors, as
    sentence-transformers' ``gather_across_devices``. Elsewhere it does nothing.
    """
    anchors, *documents = stacked(y_pred, 2, "gist_embed_loss", more=True)
    guide_anchors, *guide_documents = _guide_columns(y_true, 1 + len(documents))
    positives, guide_positives = documents[0], guide_documents[0]
    offset, all_documents, all_guide_documents = 0, documents, guide_documents
    if gather_across_replicas:
        gathered = gathered_across_replicas(y_pred[:, 1:])
        if gathered is not None:  # every replica's documents as candidates: [B_global, 1 + k, D]
            everything, offset = gathered
            everything_guide, _ = gathered_across_replicas(ops.stack(guide_documents, axis=1))
            all_documents = [everything[:, i] for i in range(len(documents))]
            all_guide_documents = [everything_guide[:, i] for i in range(len(documents))]
    score = metrics.similarity(similarity).matrix
    batch, total = ops.shape(anchors)[0], ops.shape(all_documents[0])[0]
    rows = offset + ops.arange(batch)  # each anchor's row among the candidates' rows
    own = ops.equal(ops.expand_dims(rows, 1), ops.expand_dims(ops.arange(total), 0))
    guide_anchor_positive = score(guide_anchors, all_guide_documents[0])
    guided = ops.take_along_axis(guide_anchor_positive, ops.expand_dims(rows, 1), axis=1)
    if margin_strategy == "absolute":
        threshold = guided - margin
    else:
        threshold = guided - ops.abs(guided) * margin

    def pool(student, candidates, guide_scores, always=None, never=None):
        """The student's scores of ``candidates``, ``-inf`` where the guide rates one above the
        threshold (false negatives) or ``never``, except where ``always``."""
        left_out = ops.greater(guide_scores, threshold)
        if always is not None:
            left_out = ops.logical_and(left_out, ops.logical_not(always))
        if never is not None:
            left_out = ops.logical_or(left_out, never)
        return _masked(score(student, candidates), left_out)

    pools = [pool(anchors, all_documents[0], guide_anchor_positive, always=own)]
    if contrast_anchors:  # the replica's own anchors, without anchor i itself
        local = ops.equal(
            ops.expand_dims(ops.arange(batch), 1), ops.expand_dims(ops.arange(batch), 0)
        )
        pools.append(pool(anchors, anchors, score(guide_anchors, guide_anchors), never=local))
    if contrast_positives:  # positive i against the other positives
        guide_scores = score(guide_positives, all_guide_documents[0])
        pools.append(pool(positives, all_documents[0], guide_scores, never=own))
    if len(documents) > 1:  # the hard negatives, all rows of negative_1, then of negative_2, ...
        negatives = ops.concatenate(all_documents[1:], axis=0)
        guide_negatives = ops.concatenate(all_guide_documents[1:], axis=0)
        pools.append(pool(anchors, negatives, score(guide_anchors, guide_negatives)))
    logits = ops.concatenate(pools, axis=1) / temperature
    positive = ops.take_along_axis(logits, ops.expand_dims(rows, 1), axis=1)[:, 0]
    return ops.logsumexp(logits, axis=1) - positive


@keras.saving.register_keras_serializable(package="keras_siamese")
class GISTEmbedLoss(SiameseLoss):
    """Ranks each anchor's positive above the batch's other candidates, leaving out those a guide
    model rates as false negatives (closer to the anchor than its positive is).

    Data: (anchor, positive) pairs, optionally with hard negatives; labels: the guide's
    embeddings of every column, ``[B, 2 + k, Dg]``, computed once before training, e.g.
    ``with_teacher_embeddings(examples, guide, examples.roles)`` (``keras_siamese.data``). The
    guide is any encoder, often a stronger model than the student; its width ``Dg`` need not be
    the student's. Guided in-batch negatives tolerate duplicates and near-paraphrases in a batch,
    which plain ``MultipleNegativesRankingLoss`` punishes.

    Args:
        temperature: divides the similarities (sentence-transformers' 0.01: a scale of 100).
        margin_strategy: how a candidate becomes a false negative, from the guide's similarity
            ``s`` of the anchor and its positive: ``"absolute"``, above ``s - margin``;
            ``"relative"``, above ``s - |s| * margin``.
        margin: the margin of ``margin_strategy`` (0: only candidates the guide rates above the
            positive are left out; larger leaves out more).
        contrast_anchors: also rank anchor i's positive above the other anchors.
        contrast_positives: also rank it above positive i's similarity to the other positives.
        similarity: a name of ``keras_siamese.similarity.SIMILARITIES``, for the student and the
            guide (``"cosine"``, as sentence-transformers).
        gather_across_replicas: under a ``tf.distribute`` strategy, the positives and negatives
            of every replica are candidates (sentence-transformers' ``gather_across_devices``;
            the anchor pool stays each replica's own); without a strategy, no effect.

    References:
        Solatorio, "GISTEmbed: Guided In-sample Selection of Training Negatives for Text
        Embedding Fine-tuning", 2024 (https://arxiv.org/abs/2402.16829); sentence-transformers'
        ``losses.GISTEmbedLoss``.

    Inputs:

        =====================================================  =================================
        Text columns                                           Labels (``y``)
        =====================================================  =================================
        ``anchor``, ``positive``                               the guide's embeddings
                                                               ``[B, 2, Dg]``
        ``anchor``, ``positive``, ``negative_1`` ... ``_k``    ``[B, 2 + k, Dg]``
        =====================================================  =================================

    Example:
        >>> import numpy as np
        >>> loss = GISTEmbedLoss(margin=0.1)
        >>> student = np.array([[[1.0, 0.0], [1.0, 0.2]], [[1.0, 0.1], [1.0, -0.2]]])  # B=2
        >>> unrelated = np.array([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
        >>> round(float(loss(unrelated, student)), 2)  # the guide: the two pairs differ
        3.21
        >>> synonyms = np.ones((2, 2, 3))  # the guide (Dg=3): all four texts mean the same
        >>> float(loss(synonyms, student))  # every other candidate is a false negative
        0.0
    """

    registry_name = "gist"
    roles = ("anchor", "positive")
    label_kind = "embedding"
    takes_negatives = True

    def __init__(
        self,
        temperature: float = 0.01,
        margin_strategy: str = "absolute",
        margin: float = 0.0,
        contrast_anchors: bool = True,
        contrast_positives: bool = True,
        similarity: str = "cosine",
        gather_across_replicas: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str = "gist_embed_loss",
        dtype=None,
    ) -> None:
        if not 0 < temperature < math.inf:
            raise ValueError(f"temperature must be a positive finite number, got {temperature}")
        if margin_strategy not in MARGIN_STRATEGIES:
            raise ValueError(
                f"margin_strategy must be one of {MARGIN_STRATEGIES}, got {margin_strategy!r}"
            )
        if not math.isfinite(margin):
            raise ValueError(f"margin must be a finite number, got {margin}")
        super().__init__(
            gist_embed_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            temperature=float(temperature),
            margin_strategy=margin_strategy,
            margin=float(margin),
            contrast_anchors=bool(contrast_anchors),
            contrast_positives=bool(contrast_positives),
            similarity=similarity,
            gather_across_replicas=bool(gather_across_replicas),
        )
