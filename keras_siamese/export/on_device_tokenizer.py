"""BERT WordPiece tokenisation built only from ops that LiteRT runs, for raw-string TFLite files."""

import tensorflow as tf

SUFFIX_INDICATOR = "##"


class OnDeviceTokenizer(tf.Module):
    """Strings ``[batch]`` -> ``input_ids`` / ``attention_mask`` (int32 ``[batch, longest]``).

    tensorflow-text's ``FastBertTokenizer`` (LiteRT custom ops ``FastBertNormalize`` and
    ``FastWordpieceTokenizeWithOffsets``, registered by ``tensorflow_text.tflite_registrar``)
    splits the text; truncation, ``[CLS]``/``[SEP]`` and padding use builtin ops on a dense tensor,
    because LiteRT has no kernels for the ``RaggedGather``/``RaggedRange`` that slicing and
    concatenating ragged tensors produce. Only ``RaggedTensorToTensor`` (a custom op of the same
    registrar) remains.

    Not the exact twin of the checkpoint's tokenizer (``InGraphTokenizer`` is, but its regex and
    Unicode ops have no LiteRT kernels): ``FastBertNormalize`` folds case with NFKC (ß -> ss,
    ligatures, full-width forms, "…" -> "...", final sigma), keeps U+FFFD (its word becomes
    [UNK]), counts the 100-per-word limit in bytes, and does not split out special tokens typed
    in the text: 1 of the 2,910 distinct STSb dev sentences gets other ids.

    >>> from tokenizers import Tokenizer
    >>> from tokenizers.implementations import BertWordPieceTokenizer
    >>> from keras_siamese.tokenizers import TextTokenizer
    >>> vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "!"])}
    >>> wordpiece = Tokenizer.from_str(BertWordPieceTokenizer(vocab).to_str())
    >>> tokenize = OnDeviceTokenizer(TextTokenizer(wordpiece, max_seq_length=8))
    >>> tokenize(tf.constant(["Hello!", ""]))["input_ids"].numpy().tolist()
    [[2, 4, 5, 3], [2, 3, 0, 0]]
    """

    def __init__(self, text_tokenizer) -> None:
        import tensorflow_text as tf_text

        super().__init__(name="on_device_tokenizer")
        if text_tokenizer.family != "wordpiece":
            raise ValueError(
                "Raw-string TFLite files are available for WordPiece tokenizers only, not "
                f"{text_tokenizer.family}; the token-id TFLite file (with_tokenizer=False) still "
                "is."
            )
        settings = text_tokenizer.normalizer_settings
        lowercase = bool(settings["lowercase"])
        strip_accents = settings["strip_accents"]
        strip_accents = lowercase if strip_accents is None else strip_accents
        if strip_accents != lowercase:
            raise ValueError(
                "On-device tokenisation lower-cases and strips accents together or not at all; "
                f"this tokenizer has lowercase={lowercase}, strip_accents={strip_accents}."
            )
        special = text_tokenizer.special_tokens
        self._text_tokenizer = text_tokenizer
        self.cls_id = text_tokenizer.token_id(special["cls_token"])
        self.sep_id = text_tokenizer.token_id(special["sep_token"])
        self.pad_id = text_tokenizer.token_id(special["pad_token"])
        self.wordpiece = tf_text.FastBertTokenizer(
            text_tokenizer.vocabulary,
            suffix_indicator=SUFFIX_INDICATOR,
            max_bytes_per_word=text_tokenizer.max_chars_per_word,
            token_out_type=tf.int32,
            unknown_token=special["unk_token"],
            lower_case_nfd_strip_accents=lowercase,
        )

    @property
    def max_seq_length(self) -> int:
        """The text tokenizer's, read at each call (or trace): not a copy."""
        return self._text_tokenizer.max_seq_length

    def __call__(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        pieces = self.wordpiece.tokenize(sentences)
        lengths = tf.minimum(tf.cast(pieces.row_lengths(), tf.int32), self.max_seq_length - 2)
        batch = tf.shape(lengths)[0]
        width = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
        body = pieces.to_tensor(default_value=self.pad_id, shape=tf.stack([batch, width]))
        ids = tf.concat(
            [tf.fill([batch, 1], self.cls_id), body, tf.fill([batch, 1], self.pad_id)], axis=1
        )
        positions = tf.expand_dims(tf.range(width + 2), 0)
        sep_positions = tf.expand_dims(lengths + 1, 1)
        ids = tf.where(positions == sep_positions, self.sep_id, ids)
        return {"input_ids": ids, "attention_mask": tf.cast(positions <= sep_positions, tf.int32)}
