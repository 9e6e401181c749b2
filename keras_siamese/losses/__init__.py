"""Siamese losses (after sentence-transformers' ``losses``), one file per loss.

Each comes as a plain function ``xxx_loss(y_true, y_pred, ...)`` and a serialisable
``keras.losses.Loss`` that declares what it consumes (``roles``, ``label_kind``; see
``keras_siamese.losses.base``). ``y_pred`` is always embeddings, stacked by the training model.
``LOSSES`` maps each registry name to its class; ``get_loss`` builds one by name.
"""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.losses.angle import AnglELoss, angle_loss
from keras_siamese.losses.base import LABEL_KINDS, SiameseLoss, negative_roles
from keras_siamese.losses.batch_all_triplet import BatchAllTripletLoss, batch_all_triplet_loss
from keras_siamese.losses.batch_hard_soft_margin_triplet import (
    BatchHardSoftMarginTripletLoss,
    batch_hard_soft_margin_triplet_loss,
)
from keras_siamese.losses.batch_hard_triplet import BatchHardTripletLoss, batch_hard_triplet_loss
from keras_siamese.losses.batch_semi_hard_triplet import (
    BatchSemiHardTripletLoss,
    batch_semi_hard_triplet_loss,
)
from keras_siamese.losses.cached_multiple_negatives_ranking import (
    CachedMultipleNegativesRankingLoss,
)
from keras_siamese.losses.contrastive import ContrastiveLoss, contrastive_loss
from keras_siamese.losses.cosent import CoSENTLoss, cosent_loss
from keras_siamese.losses.cosine_similarity import CosineSimilarityLoss, cosine_similarity_loss
from keras_siamese.losses.distill_kl_div import DistillKLDivLoss, distill_kl_div_loss
from keras_siamese.losses.gist_embed import GISTEmbedLoss, gist_embed_loss
from keras_siamese.losses.margin_mse import MarginMSELoss, margin_mse_loss
from keras_siamese.losses.matryoshka import MatryoshkaLoss, matryoshka_loss
from keras_siamese.losses.mega_batch_margin import MegaBatchMarginLoss, mega_batch_margin_loss
from keras_siamese.losses.mse import MSELoss, mse_loss
from keras_siamese.losses.multiple_negatives_ranking import (
    MultipleNegativesRankingLoss,
    multiple_negatives_ranking_loss,
)
from keras_siamese.losses.online_contrastive import OnlineContrastiveLoss, online_contrastive_loss
from keras_siamese.losses.registry import LOSS_CLASSES, LOSSES, get_loss, loss_table
from keras_siamese.losses.softmax import PairFeatures, SoftmaxLoss, softmax_loss
from keras_siamese.losses.triplet import TripletLoss, triplet_loss

__all__ = [
    "LABEL_KINDS",
    "LOSSES",
    "LOSS_CLASSES",
    "AnglELoss",
    "BatchAllTripletLoss",
    "BatchHardSoftMarginTripletLoss",
    "BatchHardTripletLoss",
    "BatchSemiHardTripletLoss",
    "CachedMultipleNegativesRankingLoss",
    "CoSENTLoss",
    "ContrastiveLoss",
    "CosineSimilarityLoss",
    "DistillKLDivLoss",
    "GISTEmbedLoss",
    "MSELoss",
    "MarginMSELoss",
    "MatryoshkaLoss",
    "MegaBatchMarginLoss",
    "MultipleNegativesRankingLoss",
    "OnlineContrastiveLoss",
    "PairFeatures",
    "SiameseLoss",
    "SoftmaxLoss",
    "TripletLoss",
    "angle_loss",
    "batch_all_triplet_loss",
    "batch_hard_soft_margin_triplet_loss",
    "batch_hard_triplet_loss",
    "batch_semi_hard_triplet_loss",
    "contrastive_loss",
    "cosent_loss",
    "cosine_similarity_loss",
    "distill_kl_div_loss",
    "get_loss",
    "gist_embed_loss",
    "loss_table",
    "margin_mse_loss",
    "matryoshka_loss",
    "mega_batch_margin_loss",
    "mse_loss",
    "multiple_negatives_ranking_loss",
    "negative_roles",
    "online_contrastive_loss",
    "softmax_loss",
    "triplet_loss",
]
