"""The loss registry: every loss class by its ``registry_name``, and a table of what each consumes.

``LOSSES`` is derived from the classes' own declarations (``registry_name``, ``roles``,
``label_kind``, ``takes_negatives``); ``fit``, ``TrainingConfig``, the training models, the CLI's
``--loss`` and the table in ``docs/losses.md`` all read it.

>>> type(get_loss("cosent")).__name__
'CoSENTLoss'
>>> get_loss("triplet", {"margin": 1.0}).get_config()["margin"]
1.0
"""

from typing import Any

import keras

from keras_siamese.losses.angle import AnglELoss
from keras_siamese.losses.base import LABEL_KINDS
from keras_siamese.losses.batch_all_triplet import BatchAllTripletLoss
from keras_siamese.losses.batch_hard_soft_margin_triplet import BatchHardSoftMarginTripletLoss
from keras_siamese.losses.batch_hard_triplet import BatchHardTripletLoss
from keras_siamese.losses.batch_semi_hard_triplet import BatchSemiHardTripletLoss
from keras_siamese.losses.cached_multiple_negatives_ranking import (
    CachedMultipleNegativesRankingLoss,
)
from keras_siamese.losses.contrastive import ContrastiveLoss
from keras_siamese.losses.cosent import CoSENTLoss
from keras_siamese.losses.cosine_similarity import CosineSimilarityLoss
from keras_siamese.losses.distill_kl_div import DistillKLDivLoss
from keras_siamese.losses.gist_embed import GISTEmbedLoss
from keras_siamese.losses.margin_mse import MarginMSELoss
from keras_siamese.losses.matryoshka import MatryoshkaLoss
from keras_siamese.losses.mega_batch_margin import MegaBatchMarginLoss
from keras_siamese.losses.mse import MSELoss
from keras_siamese.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from keras_siamese.losses.online_contrastive import OnlineContrastiveLoss
from keras_siamese.losses.softmax import SoftmaxLoss
from keras_siamese.losses.triplet import TripletLoss

LOSS_CLASSES: tuple[type[keras.losses.Loss], ...] = (
    CoSENTLoss,
    AnglELoss,
    CosineSimilarityLoss,
    OnlineContrastiveLoss,
    ContrastiveLoss,
    TripletLoss,
    MultipleNegativesRankingLoss,
    CachedMultipleNegativesRankingLoss,
    MegaBatchMarginLoss,
    BatchHardTripletLoss,
    BatchHardSoftMarginTripletLoss,
    BatchSemiHardTripletLoss,
    BatchAllTripletLoss,
    MatryoshkaLoss,
    MSELoss,
    MarginMSELoss,
    DistillKLDivLoss,
    GISTEmbedLoss,
    SoftmaxLoss,
)
LOSSES: dict[str, type[keras.losses.Loss]] = {cls.registry_name: cls for cls in LOSS_CLASSES}


def get_loss(
    loss: str | keras.losses.Loss, options: dict[str, Any] | None = None
) -> keras.losses.Loss:
    """A loss instance: ``loss`` itself, or the registered class called ``loss`` built with
    ``options`` (its constructor's keyword arguments)."""
    if isinstance(loss, keras.losses.Loss):
        if options:
            raise ValueError("loss_options apply to a loss given by name, not to a loss instance.")
        return loss
    if not isinstance(loss, str) or loss.lower() not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose from {', '.join(LOSSES)}.")
    cls = LOSSES[loss.lower()]
    try:
        return cls(**(options or {}))
    except (TypeError, ValueError) as error:  # an unknown, missing or invalid option
        reason = str(error).rstrip(".")
        raise ValueError(f"Loss {loss!r}: bad loss options {options}: {reason}.") from None


def _consumes(cls: type[keras.losses.Loss]) -> tuple[str, str]:
    if isinstance(cls.__dict__.get("roles"), property):  # a wrapper: the inner loss decides
        return "as the inner loss", "as the inner loss"
    roles = ", ".join(f"`{role}`" for role in cls.roles)
    if getattr(cls, "configurable_roles", False):
        roles += " (or the `columns` option)"
    if getattr(cls, "takes_negatives", False):
        if getattr(cls, "min_negatives", 0):
            roles += ", `negative_1` (+ ... `negative_k`)"
        else:
            roles += " (+ `negative_1` ... `negative_k`)"
    return roles, LABEL_KINDS[cls.label_kind]


def loss_table() -> str:
    """The registry as a Markdown table: name, class, text columns consumed, labels."""
    rows = [("Name (`--loss`)", "Class", "Text columns", "Labels (`y`)")]
    rows += [(f"`{name}`", f"`{cls.__name__}`", *_consumes(cls)) for name, cls in LOSSES.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
