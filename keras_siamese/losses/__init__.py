"""Siamese losses (after sentence-transformers' ``losses``), one file per loss.

Each comes as a plain function ``xxx_loss(y_true, y_pred, ...)`` and a serialisable
``keras.losses.Loss``. ``y_pred`` is either scores from a distance layer or stacked embeddings
``[B, n, D]``, which the loss scores with its ``distance``. ``LOSSES`` maps the CLI names to the
loss class, the model kind (``keras_siamese.siamese.build_model``) and the label kind.
"""

from typing import Literal, NamedTuple

import keras

from keras_siamese.losses.base import SiameseLoss
from keras_siamese.losses.batch_all_triplet import BatchAllTripletLoss, batch_all_triplet_loss
from keras_siamese.losses.batch_hard_triplet import BatchHardTripletLoss, batch_hard_triplet_loss
from keras_siamese.losses.batch_semi_hard_triplet import (
    BatchSemiHardTripletLoss,
    batch_semi_hard_triplet_loss,
)
from keras_siamese.losses.contrastive import ContrastiveLoss, contrastive_loss
from keras_siamese.losses.cosent import CoSENTLoss, cosent_loss
from keras_siamese.losses.cosine_similarity import CosineSimilarityLoss, cosine_similarity_loss
from keras_siamese.losses.matryoshka import MatryoshkaLoss, matryoshka_loss
from keras_siamese.losses.multiple_negatives_ranking import (
    MultipleNegativesRankingLoss,
    multiple_negatives_ranking_loss,
)
from keras_siamese.losses.online_contrastive import OnlineContrastiveLoss, online_contrastive_loss
from keras_siamese.losses.triplet import TripletLoss, triplet_loss


class LossSpec(NamedTuple):
    """What a loss needs: its class, the model kind that feeds it, the labels it reads.

    ``labels``: ``"score"`` float similarity (usually in [0, 1]), ``"binary"`` 0/1, ``"class"``
    int class ids, ``"none"`` (the dataset still yields a dummy ``y``, e.g. zeros: Keras needs one).
    """

    loss: type[keras.losses.Loss]
    model: Literal["pair", "triplet", "in_batch", "single_text"]
    labels: Literal["score", "binary", "class", "none"]


LOSSES: dict[str, LossSpec] = {
    "cosent": LossSpec(CoSENTLoss, "pair", "score"),
    "cosine": LossSpec(CosineSimilarityLoss, "pair", "score"),
    "contrastive": LossSpec(ContrastiveLoss, "pair", "binary"),
    "online-contrastive": LossSpec(OnlineContrastiveLoss, "pair", "binary"),
    "triplet": LossSpec(TripletLoss, "triplet", "none"),
    "batch-hard-triplet": LossSpec(BatchHardTripletLoss, "single_text", "class"),
    "batch-semi-hard-triplet": LossSpec(BatchSemiHardTripletLoss, "single_text", "class"),
    "batch-all-triplet": LossSpec(BatchAllTripletLoss, "single_text", "class"),
    "mnrl": LossSpec(MultipleNegativesRankingLoss, "in_batch", "none"),
}

__all__ = [
    "LOSSES",
    "BatchAllTripletLoss",
    "BatchHardTripletLoss",
    "BatchSemiHardTripletLoss",
    "CoSENTLoss",
    "ContrastiveLoss",
    "CosineSimilarityLoss",
    "LossSpec",
    "MatryoshkaLoss",
    "MultipleNegativesRankingLoss",
    "OnlineContrastiveLoss",
    "SiameseLoss",
    "TripletLoss",
    "batch_all_triplet_loss",
    "batch_hard_triplet_loss",
    "batch_semi_hard_triplet_loss",
    "contrastive_loss",
    "cosent_loss",
    "cosine_similarity_loss",
    "matryoshka_loss",
    "multiple_negatives_ranking_loss",
    "online_contrastive_loss",
    "triplet_loss",
]
