"""SavedModels for TF Serving: ``BASE_DIR/<version>/``, written atomically, raw strings in."""

import warnings
from pathlib import Path

import tensorflow as tf

from keras_siamese.atomic import atomic_directory
from keras_siamese.export.embedding_module import (
    SENTENCES_INPUTS,
    SENTENCES_SIGNATURE,
    TOKEN_IDS_INPUTS,
    TOKEN_IDS_SIGNATURE,
    EmbeddingModule,
    check_exportable,
    export_options,
    staging_folder,
    write_tokenizer_files,
)
from keras_siamese.progress import step
from keras_siamese.tokenizers import RawStringsUnavailable

TF_TEXT_MISSING = (
    "This SavedModel tokenises with tensorflow-text ops (RegexSplitWithOffsets, NormalizeUTF8, "
    "FastWordpieceTokenizeWithOffsets), which TensorFlow only knows once `import "
    "tensorflow_text` has run: pip install 'tensorflow-text~={release}.0' (the release of "
    "TensorFlow {release}) and import it before tf.saved_model.load."
)


def model_versions(base_dir: str | Path) -> list[int]:
    """The versions under ``base_dir``: sub-folders named by an integer, as TF Serving counts them.

    Hidden temporary folders of exports in progress (``.3.tmp-*``) are not versions.

    >>> model_versions("/no/such/folder")
    []
    """
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        return []
    return sorted(
        int(p.name)
        for p in base_dir.iterdir()
        if p.is_dir() and p.name.isascii() and p.name.isdigit()
    )


def saved_model(
    encoder,
    base_dir: str | Path,
    version: int | None = None,
    *,
    prompt_name: str | None = None,
    prompt: str | None = None,
    truncate_dim: int | None = None,
) -> Path:
    """Writes ``encoder`` as ``base_dir/<version>/``, the layout TF Serving watches; returns it.

    ``version`` defaults to one past the newest; an existing version is never overwritten
    (``FileExistsError``). The folder is written beside its target under a hidden name and renamed
    when complete, so a server polling ``base_dir`` never loads half a model. Signatures:

    - ``serving_default``: ``sentences`` (string ``[batch]``) -> ``embeddings`` (float32
      ``[batch, dim]``), with tokenisation, truncation, padding, pooling and normalisation in the
      graph;
    - ``embed_token_ids``: ``input_ids`` and ``attention_mask`` (int32 ``[batch, length]``) ->
      ``embeddings``, for clients that tokenise themselves.

    Byte-level BPE (RoBERTa) tokenises in the graph too (``ByteLevelBPETokenizer``); a BPE
    pipeline it cannot reproduce exactly (a normaliser, BPE dropout, ...) has no raw-string
    signature: its export warns with ``RawStringsUnavailable``'s message and has
    ``embed_token_ids`` only.

    ``prompt_name`` / ``prompt`` and ``truncate_dim`` are baked in as ``encode`` applies them
    (default: the model's ``default_prompt_name`` and ``truncate_dim``): ``serving_default``
    prepends the prompt in the graph and both signatures give ``[batch, truncate_dim]``; both
    are recorded in ``keras_siamese_export.json``.

    The tokenizer files and ``keras_siamese_export.json`` are assets inside the folder.
    Loading it needs ``import tensorflow_text`` first (see ``load_saved_model``). The export
    (tens of seconds for MiniLM) writes ``Exporting ...`` and ``... done in X s`` to stderr.

    >>> saved_model(tiny_encoder, "models/tiny")  # e.g. SentenceEncoder.from_pretrained(...)
    PosixPath('models/tiny/1')
    """
    check_exportable(encoder)
    options = export_options(encoder, prompt_name, prompt, truncate_dim)
    base_dir = Path(base_dir)
    if version is None:
        version = max(model_versions(base_dir), default=0) + 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer, got {version!r}.")
    target = base_dir / str(version)
    if target.exists():
        raise FileExistsError(f"{target} already exists; versions are never overwritten.")
    with step(f"Exporting the SavedModel {target}"), staging_folder(target) as staging:
        signatures = {
            SENTENCES_SIGNATURE: SENTENCES_INPUTS,
            TOKEN_IDS_SIGNATURE: TOKEN_IDS_INPUTS,
        }
        try:
            tokenize = encoder.in_graph_tokenizer()
        except RawStringsUnavailable as err:  # an exotic BPE: the token-id signature only
            warnings.warn(str(err), stacklevel=2)
            tokenize = None
            del signatures[SENTENCES_SIGNATURE]
        assets = write_tokenizer_files(encoder, Path(staging), signatures, options=options)
        module = EmbeddingModule(encoder, tokenize, assets, options)
        with atomic_directory(target, overwrite=False) as folder:
            tf.saved_model.save(module, str(folder), signatures=module.signatures())
    return target


def load_saved_model(path: str | Path):
    """``tf.saved_model.load`` after registering the tensorflow-text ops, with a clear error when
    tensorflow-text is missing.

    >>> model = load_saved_model(saved_model(tiny_encoder, "models/tiny"))
    >>> model.signatures["serving_default"](sentences=tf.constant(["Hi"]))["embeddings"].shape
    TensorShape([1, 16])
    """
    try:
        import tensorflow_text  # noqa: F401
    except ImportError as err:
        release = ".".join(tf.__version__.split(".")[:2])
        raise ImportError(TF_TEXT_MISSING.format(release=release)) from err
    return tf.saved_model.load(str(path))
