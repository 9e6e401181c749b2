"""``layer_reduced``: a smaller student made of some of a teacher's transformer blocks, the start
of sentence-transformers' layer-reduction distillation recipe (train it with ``MSELoss`` on the
teacher's embeddings)."""

from collections.abc import Sequence

import keras

from keras_siamese.backbones.transformer_backbone import TransformerBackbone
from keras_siamese.encoders.sentence_encoder import SentenceEncoder


def layer_reduced(encoder: SentenceEncoder, layers: Sequence[int]) -> SentenceEncoder:
    """A new encoder with ``encoder``'s embeddings, the transformer blocks ``layers`` (in that
    order), its pooling, projections, normalisation, tokenizer and prompts; weights copied.

    >>> student = layer_reduced(tiny_encoder, [1])
    >>> student.backbone.config.num_hidden_layers, student.encode(["a man"]).shape
    (1, (1, 16))
    """
    blocks = encoder.backbone.blocks
    if not layers or any(not 0 <= i < len(blocks) for i in layers):
        raise ValueError(f"layers must be indices of the {len(blocks)} blocks, got {list(layers)}.")
    config = {**encoder.backbone.get_config(), "num_hidden_layers": len(layers)}
    backbone = TransformerBackbone(**config)
    pooling = type(encoder.pooling).from_config(encoder.pooling.get_config())
    projections = [keras.layers.Dense.from_config(p.get_config()) for p in encoder.projections]
    student = SentenceEncoder(
        backbone,
        pooling,
        projections,
        normalize=encoder.normalizer is not None,
        tokenizer=encoder.tokenizer,
        prompts=encoder.prompts,
        default_prompt_name=encoder.default_prompt_name,
        truncate_dim=encoder.truncate_dim,
    )
    student.build()
    pairs = [(backbone.embeddings, encoder.backbone.embeddings)]
    pairs += [(backbone.blocks[new], blocks[old]) for new, old in enumerate(layers)]
    if backbone.relative_position_bias is not None:
        pairs.append((backbone.relative_position_bias, encoder.backbone.relative_position_bias))
    pairs += list(zip(projections, encoder.projections, strict=True))
    for target, source in pairs:
        target.set_weights(source.get_weights())
    student.sentence_transformers_settings = dict(
        getattr(encoder, "sentence_transformers_settings", {})
    )
    student.model_card_data = dict(getattr(encoder, "model_card_data", {}))
    return student
