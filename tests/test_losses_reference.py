"""Each loss, with its defaults, against sentence-transformers' own loss on the same embeddings."""

import numpy as np
import pytest
from keras import ops

from keras_siamese import losses as L

torch = pytest.importorskip("torch")
st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")
contrastive_metrics = pytest.importorskip(
    "sentence_transformers.sentence_transformer.losses.contrastive"
).SiameseDistanceMetric
triplet_metrics = pytest.importorskip(
    "sentence_transformers.sentence_transformer.losses.triplet"
).TripletDistanceMetric
batch_metrics = st_losses.BatchHardTripletLossDistanceFunction

pytestmark = pytest.mark.reference

RNG = np.random.default_rng(7)
B, D = 8, 6
PAIRS = RNG.normal(size=(B, 2, D)).astype("float32")
PAIRS[:, 1] = PAIRS[:, 0] + RNG.uniform(0.2, 2.0, size=(B, 1)) * PAIRS[:, 1]
TRIPLETS = np.concatenate([PAIRS, RNG.normal(size=(B, 1, D))], 1).astype("float32")
IN_BATCH = np.concatenate([PAIRS, RNG.normal(size=(B, 2, D))], 1).astype("float32")
BINARY = np.array([1, 0, 1, 1, 0, 0, 1, 0], "float32")
SCORES = RNG.uniform(size=B).astype("float32")
CLASSES = np.array([0, 0, 1, 1, 2, 2, 0, 1])
POINTS = (RNG.normal(size=(B, D)) + np.eye(3, D)[CLASSES]).astype("float32")
TEACHER = RNG.normal(size=(B, D)).astype("float32")  # a teacher's embeddings
TEACHER_PER_COLUMN = RNG.normal(size=(B, 2, D)).astype("float32")
MARGINS = RNG.normal(scale=2.0, size=B).astype("float32")  # a teacher's margins, one negative
TEACHER_SCORES = RNG.normal(scale=3.0, size=(B, 3)).astype("float32")  # positive, 2 negatives
# A guide's embeddings (Dg=5) of IN_BATCH's texts: a noisy projection of the student's, where the
# texts of rows 2 and 3 are paraphrases, and row 5's negatives are near its anchor (false ones).
GUIDE = IN_BATCH @ RNG.normal(size=(D, 5)) + RNG.normal(scale=0.5, size=(B, 4, 5))
GUIDE[3] = GUIDE[2] + RNG.normal(scale=0.05, size=(4, 5))
GUIDE[5, 2:] = GUIDE[5, 0] + RNG.normal(scale=0.05, size=(2, 5))
GUIDE = GUIDE.astype("float32")


class MegaBatchMargin:
    """sentence-transformers' ``MegaBatchMarginLoss`` on embeddings: its ``calculate_loss`` over
    the whole batch (it has no ``compute_loss_from_embeddings``; its mini-batching only saves
    memory, so one chunk is the same loss). ``use_mini_batched_version=False``: no model to
    inspect."""

    def __init__(self, **kwargs):
        self.loss = st_losses.MegaBatchMarginLoss(None, use_mini_batched_version=False, **kwargs)

    def compute_loss_from_embeddings(self, columns, labels):
        return self.loss.calculate_loss([[column] for column in columns])


MNRL_OPTIONS = {  # sentence-transformers 6's options, with 2 hard negatives per anchor
    "gte": {"directions": ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")},
    "query-to-query": {"directions": ("query_to_doc", "query_to_query"), "scale": 10.0},
    "doc-to-doc": {"directions": ("query_to_doc", "doc_to_doc")},
    "symmetric-joint": {"directions": ("query_to_doc", "doc_to_query")},
    "hard-negatives": {"hardness_mode": "hard_negatives", "hardness_strength": 5.0},
    "in-batch-negatives": {"hardness_mode": "in_batch_negatives", "hardness_strength": 5.0},
    "all-negatives": {
        "hardness_mode": "all_negatives",
        "hardness_strength": 9.0,
        "directions": ("query_to_doc", "doc_to_query"),
        "partition_mode": "per_direction",
    },
}


class EmbedDistill:
    """sentence-transformers' ``MSELoss`` on embeddings: its ``compute_loss_from_embeddings``
    takes one teacher tensor per column, which its ``forward`` derives from the labels
    (``[B, D]`` broadcast to every column, ``[B, n, D]`` one per column)."""

    def __init__(self, **kwargs):
        self.loss = st_losses.MSELoss(None, **kwargs)

    def compute_loss_from_embeddings(self, columns, labels):
        teachers = [labels] * len(columns) if labels.dim() == 2 else list(labels.unbind(1))
        return self.loss.compute_loss_from_embeddings(columns, teachers)


class _Lookup(torch.nn.Module):
    """A stand-in SentenceTransformer: its embeddings of a column are the tensor under ``key`` of
    the column's features; the same tokenizer for the model and the guide (no re-tokenising)."""

    def __init__(self, key: str, tokenizer):
        super().__init__()
        self.key, self.tokenizer, self.max_seq_length = key, tokenizer, 32

    def forward(self, features):
        return {"sentence_embedding": features[self.key]}


class GuidedGIST:
    """sentence-transformers' ``GISTEmbedLoss`` on given embeddings: its ``forward`` embeds each
    column with the model and the guide, here stand-ins returning the student's columns and the
    guide's (``labels`` ``[B, n, Dg]``). It takes one negative column: k negative columns go in
    as one of k * B rows, which its anchor-negative similarity matrix takes as they come."""

    def __init__(self, **kwargs):
        from tokenizers import Tokenizer
        from tokenizers.models import WordLevel
        from transformers import PreTrainedTokenizerFast

        vocab = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=vocab)
        student, guide = _Lookup("student", tokenizer), _Lookup("guide", tokenizer)
        self.loss = st_losses.GISTEmbedLoss(student, guide, **kwargs)

    def compute_loss_from_embeddings(self, columns, labels):
        guides = list(labels.unbind(1))
        if len(columns) > 3:
            columns = [*columns[:2], torch.cat(columns[2:])]
            guides = [*guides[:2], torch.cat(guides[2:])]
        features = [
            {"student": column, "guide": guide}
            for column, guide in zip(columns, guides, strict=True)
        ]
        return self.loss(features, None)


GIST_OPTIONS = {  # (options, columns: 2 pairs, 3 one negative, 4 two negatives)
    "gist": ({}, 2),
    "gist-negative": ({}, 3),
    "gist-two-negatives": ({}, 4),
    # margins that leave out more candidates than 0 does, and (0.15) differently by strategy
    "gist-relative": ({"margin_strategy": "relative", "margin": 0.2}, 4),
    "gist-relative-negative": ({"margin_strategy": "relative", "margin": 0.15}, 3),
    "gist-absolute-margin": ({"margin": 0.15}, 3),
    "gist-absolute-margin-pairs": ({"margin": 0.8}, 2),
    "gist-no-contrast": ({"contrast_anchors": False, "contrast_positives": False}, 3),
    "gist-anchors-only": ({"contrast_positives": False, "temperature": 0.05}, 2),
    "gist-positives-only": ({"contrast_anchors": False}, 4),
}


CASES = {
    "contrastive": (L.ContrastiveLoss(), st_losses.ContrastiveLoss(None), BINARY, PAIRS),
    "contrastive-euclidean": (
        L.ContrastiveLoss(distance="euclidean", margin=3.0),
        st_losses.ContrastiveLoss(None, contrastive_metrics.EUCLIDEAN, margin=3.0),
        BINARY,
        PAIRS,
    ),
    "online-contrastive": (
        L.OnlineContrastiveLoss(),
        st_losses.OnlineContrastiveLoss(None),
        BINARY,
        PAIRS,
    ),
    "online-contrastive-manhattan": (
        L.OnlineContrastiveLoss(distance="manhattan", margin=8.0),
        st_losses.OnlineContrastiveLoss(None, contrastive_metrics.MANHATTAN, margin=8.0),
        BINARY,
        PAIRS,
    ),
    "cosine": (L.CosineSimilarityLoss(), st_losses.CosineSimilarityLoss(None), SCORES, PAIRS),
    "cosent": (L.CoSENTLoss(), st_losses.CoSENTLoss(None), SCORES, PAIRS),
    "cosent-euclidean": (  # the negated distance, as sentence-transformers' euclidean_sim
        L.CoSENTLoss(similarity="euclidean", scale=1.0),
        st_losses.CoSENTLoss(None, scale=1.0, similarity_fct=st_util.pairwise_euclidean_sim),
        SCORES,
        PAIRS,
    ),
    "triplet": (L.TripletLoss(), st_losses.TripletLoss(None), BINARY, TRIPLETS),
    "triplet-cosine": (
        L.TripletLoss(distance="cosine", margin=0.5),
        st_losses.TripletLoss(None, triplet_metrics.COSINE, triplet_margin=0.5),
        BINARY,
        TRIPLETS,
    ),
    "batch-hard-triplet": (
        L.BatchHardTripletLoss(),
        st_losses.BatchHardTripletLoss(None),
        CLASSES,
        POINTS,
    ),
    "batch-hard-triplet-cosine": (
        L.BatchHardTripletLoss(distance="cosine", margin=0.5),
        st_losses.BatchHardTripletLoss(None, batch_metrics.cosine_distance, margin=0.5),
        CLASSES,
        POINTS,
    ),
    "batch-semi-hard-triplet": (
        L.BatchSemiHardTripletLoss(margin=1.0),
        st_losses.BatchSemiHardTripletLoss(None, margin=1.0),
        CLASSES,
        POINTS,
    ),
    "batch-all-triplet": (
        L.BatchAllTripletLoss(margin=1.0),
        st_losses.BatchAllTripletLoss(None, margin=1.0),
        CLASSES,
        POINTS,
    ),
    "mnrl": (
        L.MultipleNegativesRankingLoss(),
        st_losses.MultipleNegativesRankingLoss(None),
        BINARY,
        IN_BATCH,
    ),
    "mnrl-dot": (
        L.MultipleNegativesRankingLoss(similarity="dot", scale=1.0),
        st_losses.MultipleNegativesRankingLoss(None, scale=1.0, similarity_fct=st_util.dot_score),
        BINARY,
        IN_BATCH,
    ),
    "mnrl-symmetric": (
        L.MultipleNegativesRankingLoss(symmetric=True),
        st_losses.MultipleNegativesRankingLoss(
            None, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
        ),
        BINARY,
        IN_BATCH,
    ),
    **{
        f"mnrl-{name}": (
            L.MultipleNegativesRankingLoss(**options),
            st_losses.MultipleNegativesRankingLoss(None, **options),
            BINARY,
            IN_BATCH,
        )
        for name, options in MNRL_OPTIONS.items()
    },
    "angle": (L.AnglELoss(), st_losses.AnglELoss(None), SCORES, PAIRS),
    "angle-odd-width": (  # sentence-transformers pads odd widths with a zero
        L.AnglELoss(scale=5.0),
        st_losses.AnglELoss(None, scale=5.0),
        SCORES,
        np.ascontiguousarray(PAIRS[..., :5]),
    ),
    "batch-hard-soft-margin-triplet": (
        L.BatchHardSoftMarginTripletLoss(),
        st_losses.BatchHardSoftMarginTripletLoss(None),
        CLASSES,
        POINTS,
    ),
    "batch-hard-soft-margin-triplet-cosine": (
        L.BatchHardSoftMarginTripletLoss(distance="cosine"),
        st_losses.BatchHardSoftMarginTripletLoss(None, batch_metrics.cosine_distance),
        CLASSES,
        POINTS,
    ),
    "mega-batch-margin": (L.MegaBatchMarginLoss(), MegaBatchMargin(), BINARY, PAIRS),
    "mega-batch-margin-margins": (
        L.MegaBatchMarginLoss(positive_margin=0.5, negative_margin=-0.2),
        MegaBatchMargin(positive_margin=0.5, negative_margin=-0.2),
        BINARY,
        PAIRS,
    ),
    "mse": (L.MSELoss(), EmbedDistill(), TEACHER, POINTS),
    "mse-two-columns": (  # a sentence and its translation, both on the teacher's embedding
        L.MSELoss(columns=("english", "french")),
        EmbedDistill(),
        TEACHER,
        PAIRS,
    ),
    "mse-per-column": (
        L.MSELoss(columns=("english", "french")),
        EmbedDistill(),
        TEACHER_PER_COLUMN,
        PAIRS,
    ),
    "margin-mse": (L.MarginMSELoss(), st_losses.MarginMSELoss(None), MARGINS, TRIPLETS),
    "margin-mse-cosine": (
        L.MarginMSELoss(similarity="cosine"),
        st_losses.MarginMSELoss(None, similarity_fct=st_util.pairwise_cos_sim),
        MARGINS[:, None],
        TRIPLETS,
    ),
    "margin-mse-margins": (  # two negatives, the teacher's margins
        L.MarginMSELoss(),
        st_losses.MarginMSELoss(None),
        TEACHER_SCORES[:, :2],
        IN_BATCH,
    ),
    "margin-mse-scores": (  # two negatives, the teacher's scores
        L.MarginMSELoss(),
        st_losses.MarginMSELoss(None),
        TEACHER_SCORES,
        IN_BATCH,
    ),
    "distill-kl-div": (
        L.DistillKLDivLoss(),
        st_losses.DistillKLDivLoss(None),
        TEACHER_SCORES,
        IN_BATCH,
    ),
    "distill-kl-div-one-negative": (
        L.DistillKLDivLoss(temperature=2.0),
        st_losses.DistillKLDivLoss(None, temperature=2.0),
        TEACHER_SCORES[:, :2],
        TRIPLETS,
    ),
    "distill-kl-div-temperatures": (
        L.DistillKLDivLoss(similarity="cosine", student_temperature=0.5, teacher_temperature=3.0),
        st_losses.DistillKLDivLoss(
            None,
            similarity_fct=st_util.pairwise_cos_sim,
            student_temperature=0.5,
            teacher_temperature=3.0,
        ),
        TEACHER_SCORES,
        IN_BATCH,
    ),
    **{
        name: (
            L.GISTEmbedLoss(**options),
            GuidedGIST(**options),
            np.ascontiguousarray(GUIDE[:, :columns]),
            np.ascontiguousarray(IN_BATCH[:, :columns]),
        )
        for name, (options, columns) in GIST_OPTIONS.items()
    },
}
NEW = [  # checked for their gradients too
    "mnrl-symmetric",
    *(f"mnrl-{name}" for name in MNRL_OPTIONS),
    "angle",
    "angle-odd-width",
    "batch-hard-soft-margin-triplet",
    "batch-hard-soft-margin-triplet-cosine",
    "mega-batch-margin",
    "mega-batch-margin-margins",
    "mse",
    "mse-two-columns",
    "mse-per-column",
    "margin-mse",
    "margin-mse-cosine",
    "margin-mse-margins",
    "margin-mse-scores",
    "distill-kl-div",
    "distill-kl-div-one-negative",
    "distill-kl-div-temperatures",
    *GIST_OPTIONS,
]


def _columns(y_pred: np.ndarray, grad: bool = False) -> list:
    pred = torch.tensor(y_pred, requires_grad=grad)
    return pred, [pred[:, i] for i in range(y_pred.shape[1])] if y_pred.ndim == 3 else [pred]


@pytest.mark.parametrize("case", NEW)
def test_loss_gradient_matches_sentence_transformers(case):
    """The gradients with respect to the embeddings are the same (not only their direction)."""
    import tensorflow as tf

    ours, theirs, y_true, y_pred = CASES[case]
    pred, columns = _columns(y_pred, grad=True)
    theirs.compute_loss_from_embeddings(columns, torch.from_numpy(y_true)).backward()
    expected = pred.grad.numpy()
    assert np.abs(expected).max() > 1e-4
    variable = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = ours(y_true, variable)
    got = tape.gradient(value, variable).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_matches_sentence_transformers(case):
    ours, theirs, y_true, y_pred = CASES[case]
    columns = (
        [torch.from_numpy(y_pred[:, i]) for i in range(y_pred.shape[1])]
        if y_pred.ndim == 3
        else [torch.from_numpy(y_pred)]
    )
    expected = float(theirs.compute_loss_from_embeddings(columns, torch.from_numpy(y_true)))
    assert expected > 1e-3
    got = float(ops.convert_to_numpy(ours(y_true, y_pred)))
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)
