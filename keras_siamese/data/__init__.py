"""Data: readers into `Examples`, and tf.data pipelines of tokenised batches for training."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.data.batching import BATCH_SAMPLERS, BatchPlan
from keras_siamese.data.examples import Examples, from_lists
from keras_siamese.data.pipeline import make_dataset
from keras_siamese.data.sick import read_sick, sick_binary_pairs, sick_triplets
from keras_siamese.data.sts import read_sts
from keras_siamese.data.table import read_table
from keras_siamese.data.teacher import with_teacher_embeddings, with_teacher_scores
from keras_siamese.data.tfds_reader import read_tfds

__all__ = [
    "BATCH_SAMPLERS",
    "BatchPlan",
    "Examples",
    "from_lists",
    "make_dataset",
    "read_sick",
    "read_sts",
    "read_table",
    "read_tfds",
    "sick_binary_pairs",
    "sick_triplets",
    "with_teacher_embeddings",
    "with_teacher_scores",
]
