"""The sentence-transformers / Hugging Face folder format, read and written here and only here.

``modules.json`` lists the module stack (Transformer, Pooling, Dense..., Normalize), each in its
folder. The Transformer folder holds the backbone (``config.json``, ``model.safetensors``), the
tokenizer files and ``sentence_bert_config.json``; a plain Hugging Face folder is a Transformer
with mean pooling. Module types are matched by name only: nothing from a checkpoint is imported
or executed. ``max_seq_length`` is resolved once, at load (``resolve_max_seq_length``), and kept
by the ``TextTokenizer``, which everything else reads.

>>> import tempfile
>>> from keras_siamese.backbones import TransformerBackbone
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "vocab.txt").write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\nhi\\n")
>>> backbone = TransformerBackbone(
...     vocab_size=6, hidden_size=4, num_hidden_layers=1, num_attention_heads=1,
...     intermediate_size=8, max_position_embeddings=16)
>>> parts = SentenceTransformerParts(backbone, Pooling(4), load_tokenizer(folder, 8))
>>> save_sentence_transformer(parts, folder / "model")
>>> copy = load_sentence_transformer(folder / "model")
>>> copy.tokenizer.max_seq_length, copy.pooling.modes, copy.normalize
(8, ('mean',), False)
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer

from keras_siamese import __version__
from keras_siamese.atomic import atomic_directory
from keras_siamese.backbones.architectures import ArchitectureSpec, get_architecture
from keras_siamese.backbones.transformer_backbone import TransformerBackbone
from keras_siamese.backbones.transformer_config import TransformerConfig
from keras_siamese.checkpoints.model_card import render_model_card
from keras_siamese.checkpoints.safetensors_io import (
    checked_weight,
    path_inside,
    read_safetensors,
)
from keras_siamese.pooling import POOLING_MODES, DenseProjection, Pooling
from keras_siamese.tokenizers.text_tokenizer import (
    FAMILY_SPECIAL_TOKENS,
    ROBERTA_SPECIAL_TOKENS,
    SPECIAL_TOKENS,
    TextTokenizer,
    tokenizer_family,
)

MODULES_FILE = "modules.json"
SENTENCE_BERT_CONFIG_FILE = "sentence_bert_config.json"
SENTENCE_TRANSFORMERS_CONFIG_FILE = "config_sentence_transformers.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"
BPE_VOCAB_FILE = "vocab.json"
BPE_MERGES_FILE = "merges.txt"
SENTENCEPIECE_FILE = "sentencepiece.bpe.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
MODEL_CARD_FILE = "README.md"
POOLING_FOLDER = "1_Pooling"
MODULE_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")
MODULE_TYPE_PREFIX = "sentence_transformers.models."
MAX_POSITIONS = 512  # cap on tokenizer_config.json's model_max_length (often a huge sentinel)
REQUIRED_TOKEN_ROLES = ("cls_token", "sep_token", "pad_token", "unk_token")
# sentence-transformers' older Pooling config (before 6.x): one flag per mode, concatenated in
# POOLING_MODES order; 6.x writes "pooling_mode": [modes...] instead.
LEGACY_POOLING_KEYS = dict(
    zip(
        POOLING_MODES,
        (
            "pooling_mode_cls_token",
            "pooling_mode_max_tokens",
            "pooling_mode_mean_tokens",
            "pooling_mode_mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens",
            "pooling_mode_lasttoken",
        ),
        strict=True,
    )
)
# sentence-transformers stores a Dense activation as a torch class path.
TORCH_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": "tanh",
    "torch.nn.modules.linear.Identity": "linear",
    "torch.nn.modules.activation.ReLU": "relu",
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
    "torch.nn.modules.activation.GELU": "gelu",
}
# config_sentence_transformers.json's settings: prompts, default_prompt_name and truncate_dim are
# applied by SentenceEncoder.encode; similarity_fn_name is kept as read. truncate_dim is written
# only when set, as sentence-transformers does.
DEFAULT_SETTINGS: dict[str, Any] = {
    "prompts": {},
    "default_prompt_name": None,
    "similarity_fn_name": "cosine",
    "truncate_dim": None,
}


@dataclass
class ModuleLayout:
    """Where each module of a sentence-transformers model lives inside its folder."""

    transformer: Path
    pooling: Path | None = None
    dense: list[Path] = field(default_factory=list)
    normalize: bool = False


@dataclass
class SentenceTransformerParts:
    """A sentence-transformers model as Keras pieces: what ``load_sentence_transformer`` returns
    and ``save_sentence_transformer`` writes. ``settings``: config_sentence_transformers.json's
    ``prompts``, ``default_prompt_name``, ``similarity_fn_name`` and ``truncate_dim``."""

    backbone: TransformerBackbone
    pooling: Pooling
    tokenizer: TextTokenizer
    projections: list[keras.layers.Dense] = field(default_factory=list)
    normalize: bool = False
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    card_data: dict[str, Any] = field(default_factory=dict)


# -- the whole folder ---------------------------------------------------------------------------


def load_sentence_transformer(
    folder: str | Path, max_seq_length: int | None = None
) -> SentenceTransformerParts:
    """Reads a sentence-transformers folder (or a plain Hugging Face one) into Keras pieces.

    ``max_seq_length`` is resolved here once (see ``resolve_max_seq_length``).
    """
    folder = Path(folder)
    layout = read_module_layout(folder)
    backbone = load_backbone(layout.transformer)
    hidden = backbone.config.hidden_size
    if layout.pooling is None:
        pooling = Pooling(embedding_dim=hidden, modes=("mean",))
    else:
        pooling = load_pooling(layout.pooling)
    if pooling.embedding_dim != hidden:
        raise ValueError(
            f"{layout.pooling}: word_embedding_dimension {pooling.embedding_dim} does not "
            f"match the transformer's hidden_size {hidden}."
        )
    projections, dim = [], pooling.output_dim
    for path in layout.dense:
        projection = load_dense(path)
        if projection.kernel.shape[0] != dim:
            raise ValueError(
                f"{path}: Dense in_features {projection.kernel.shape[0]} does not match the "
                f"previous module's embedding size {dim}."
            )
        projections.append(projection)
        dim = projection.units
    tokenizer = load_tokenizer(
        layout.transformer, max_seq_length, backbone.config.max_sequence_length
    )
    settings = read_settings(folder / SENTENCE_TRANSFORMERS_CONFIG_FILE, dim)
    return SentenceTransformerParts(
        backbone, pooling, tokenizer, projections, layout.normalize, settings
    )


def save_sentence_transformer(parts: SentenceTransformerParts, folder: str | Path) -> None:
    """Writes a folder that sentence-transformers and ``load_sentence_transformer`` both load,
    atomically: it appears complete or not at all."""
    with atomic_directory(Path(folder)) as out:
        save_backbone(parts.backbone, out)
        save_tokenizer(parts.tokenizer, out)
        _write_json(
            out / SENTENCE_BERT_CONFIG_FILE,
            {"max_seq_length": parts.tokenizer.max_seq_length, "do_lower_case": False},
        )
        modules = [("", "Transformer")]
        save_pooling(parts.pooling, out / POOLING_FOLDER)
        modules.append((POOLING_FOLDER, "Pooling"))
        for projection in parts.projections:
            name = f"{len(modules)}_Dense"
            save_dense(projection, out / name)
            modules.append((name, "Dense"))
        if parts.normalize:
            name = f"{len(modules)}_Normalize"
            (out / name).mkdir()
            modules.append((name, "Normalize"))
        _write_json(
            out / MODULES_FILE,
            [
                {"idx": i, "name": str(i), "path": path, "type": MODULE_TYPE_PREFIX + kind}
                for i, (path, kind) in enumerate(modules)
            ],
        )
        settings = {**DEFAULT_SETTINGS, **parts.settings}
        if settings["truncate_dim"] is None:
            del settings["truncate_dim"]
        _write_json(
            out / SENTENCE_TRANSFORMERS_CONFIG_FILE,
            {"__version__": {"keras_siamese": __version__}, **settings},
        )
        card = render_model_card(_describe(parts), parts.card_data, path=str(folder))
        (out / MODEL_CARD_FILE).write_text(card, encoding="utf-8")


def _describe(parts: SentenceTransformerParts) -> dict[str, Any]:
    """What the model card says of the network."""
    config = parts.backbone.config
    dim = parts.projections[-1].units if parts.projections else parts.pooling.output_dim
    return {
        "model_type": config.model_type,
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "max_seq_length": parts.tokenizer.max_seq_length,
        "pooling": list(parts.pooling.modes),
        "embedding_dim": parts.settings.get("truncate_dim") or dim,
        "normalize": parts.normalize,
    }


def read_settings(path: Path, embedding_dim: int) -> dict[str, Any]:
    """``config_sentence_transformers.json``'s settings (``DEFAULT_SETTINGS`` for those it
    lacks), checked: ``prompts`` maps names to strings (``null`` reads as ``""``), the
    ``default_prompt_name`` is one of them, ``truncate_dim`` is in ``[1, embedding_dim]``."""
    saved = _read_json(path)
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(saved).__name__}.")
    settings = {key: saved.get(key, default) for key, default in DEFAULT_SETTINGS.items()}
    prompts = settings["prompts"] if settings["prompts"] is not None else {}
    if not isinstance(prompts, dict) or not all(
        isinstance(text, str | None) for text in prompts.values()
    ):
        raise ValueError(f"{path}: prompts must map prompt names to strings, got {prompts!r}.")
    settings["prompts"] = {name: text or "" for name, text in prompts.items()}
    name = settings["default_prompt_name"]
    if name is not None and name not in settings["prompts"]:
        raise ValueError(
            f"{path}: default_prompt_name {name!r} is not one of the prompts "
            f"{sorted(settings['prompts'])}."
        )
    dim = settings["truncate_dim"]
    if dim is not None and (
        isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= embedding_dim
    ):
        raise ValueError(f"{path}: truncate_dim must be in [1, {embedding_dim}], got {dim!r}.")
    return settings


def read_module_layout(folder: Path) -> ModuleLayout:
    """Reads ``modules.json``; a plain Hugging Face folder is a Transformer with mean pooling."""
    folder = Path(folder)
    modules_file = folder / MODULES_FILE
    if not modules_file.is_file():
        return ModuleLayout(transformer=folder)
    layout: ModuleLayout | None = None
    for module in _module_entries(modules_file):
        kind = module["type"].rsplit(".", 1)[-1]
        path = path_inside(folder, module.get("path", ""), modules_file)
        if kind not in MODULE_KINDS:
            raise ValueError(
                f"{modules_file}: module type {module['type']!r} is not supported; "
                f"supported module types: {list(MODULE_KINDS)}."
            )
        if kind == "Transformer":
            layout = ModuleLayout(transformer=path)
        elif layout is None:
            raise ValueError(f"{modules_file}: the first module must be a Transformer.")
        elif kind == "Pooling":
            layout.pooling = path
        elif kind == "Dense":
            layout.dense.append(path)
        else:
            layout.normalize = True
    if layout is None:
        raise ValueError(f"{modules_file} lists no Transformer module.")
    return layout


def _module_entries(modules_file: Path) -> list[dict]:
    """The entries of ``modules.json`` in ``idx`` order, each checked: an object with a string
    ``type``, an optional integer ``idx`` and an optional string ``path``."""
    entries = _read_json(modules_file)
    if not isinstance(entries, list):
        kind = type(entries).__name__
        raise ValueError(f"{modules_file}: expected a list of modules, got {kind}.")
    for number, entry in enumerate(entries):
        problem = None
        if not isinstance(entry, dict):
            problem = f"is {type(entry).__name__}, not an object"
        elif not isinstance(entry.get("type"), str):
            problem = 'has no "type" string'
        elif not isinstance(entry.get("idx", 0), int) or not isinstance(entry.get("path", ""), str):
            problem = 'has a non-integer "idx" or a non-string "path"'
        if problem:
            raise ValueError(f"{modules_file}: module {number} {problem}.")
    return sorted(entries, key=lambda entry: entry.get("idx", 0))


# -- max_seq_length ------------------------------------------------------------------------------


def resolve_max_seq_length(
    explicit: int | None,
    sentence_bert_config: dict,
    tokenizer_config: dict,
    max_positions: int | None = None,
) -> int:
    """The one ``max_seq_length`` of a loaded model: ``explicit`` (an error outside
    ``[2, max_positions]``), else ``sentence_bert_config.json``'s, else ``tokenizer_config.json``'s
    ``model_max_length`` capped at 512; defaults are capped at ``max_positions``.

    >>> resolve_max_seq_length(None, {}, {"model_max_length": 10**30}, max_positions=128)
    128
    >>> resolve_max_seq_length(None, {"max_seq_length": 256}, {}, max_positions=512)
    256
    >>> resolve_max_seq_length(64, {"max_seq_length": 256}, {})
    64
    """
    limit = max_positions if max_positions is not None else float("inf")
    if explicit is not None:
        if not 2 <= explicit <= limit:
            raise ValueError(f"max_seq_length must be in [2, {limit}], got {explicit}.")
        return int(explicit)
    length = sentence_bert_config.get("max_seq_length") or min(
        tokenizer_config.get("model_max_length", MAX_POSITIONS), MAX_POSITIONS
    )
    return int(min(length, limit))


# -- tokenizer -----------------------------------------------------------------------------------


def load_tokenizer(
    folder: str | Path, max_seq_length: int | None = None, max_positions: int | None = None
) -> TextTokenizer:
    """A ``TextTokenizer`` from ``tokenizer.json``; without one, converted by transformers
    (imported only then) as ``AutoTokenizer`` does: from ``vocab.txt`` (BERT WordPiece, with
    ``tokenizer_config.json``'s casing), ``vocab.json`` + ``merges.txt`` (RoBERTa's byte-level
    BPE) or ``sentencepiece.bpe.model`` (XLM-RoBERTa's SentencePiece Unigram; needs the
    ``sentencepiece`` package). Special tokens from ``tokenizer_config.json`` and
    ``special_tokens_map.json``, else the family's (``FAMILY_SPECIAL_TOKENS``).

    ``max_seq_length``: see ``resolve_max_seq_length``. Any truncation or padding stored in
    ``tokenizer.json`` (all-MiniLM-L6-v2 carries both at 128) is replaced.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "vocab.txt").write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhello\\n!\\n")
    >>> tokenizer = load_tokenizer(folder, max_seq_length=8)
    >>> tokenizer(["Hello!", ""])["input_ids"].tolist()
    [[2, 4, 5, 3], [2, 3, 0, 0]]
    >>> save_tokenizer(tokenizer, folder / "copy")
    >>> load_tokenizer(folder / "copy").max_seq_length
    8
    """
    folder = Path(folder)
    config = _read_json(folder / TOKENIZER_CONFIG_FILE)
    special_map = _read_json(folder / SPECIAL_TOKENS_MAP_FILE)
    named: dict[str, str | None] = {**_roles(config), **_roles(special_map)}
    if (folder / TOKENIZER_FILE).is_file():
        try:
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as err:  # the tokenizers library raises a bare Exception
            reason = " ".join(str(err).split())
            raise ValueError(f"{folder / TOKENIZER_FILE}: not a tokenizer ({reason})") from err
        family = tokenizer_family(tokenizer)
        roles = {**FAMILY_SPECIAL_TOKENS[family], **named}
    elif (folder / VOCAB_FILE).is_file():
        roles = {**SPECIAL_TOKENS, **named}
        vocabulary = set((folder / VOCAB_FILE).read_text(encoding="utf-8").splitlines())
        missing = [roles[role] for role in REQUIRED_TOKEN_ROLES if roles[role] not in vocabulary]
        if missing:
            raise ValueError(f"{folder / VOCAB_FILE} lacks the special tokens {missing}.")
        if roles["mask_token"] not in vocabulary:  # transformers would append it as a new id
            roles["mask_token"] = None
        tokenizer = _convert_vocab(folder, roles)
    elif (folder / BPE_VOCAB_FILE).is_file() and (folder / BPE_MERGES_FILE).is_file():
        roles = {**ROBERTA_SPECIAL_TOKENS, **named}
        tokenizer = _convert_with(folder, "RobertaTokenizerFast", roles)
    elif (folder / SENTENCEPIECE_FILE).is_file():
        roles = {**ROBERTA_SPECIAL_TOKENS, **named}
        try:
            import sentencepiece  # noqa: F401  (transformers' conversion needs it)
        except ImportError as err:
            raise ImportError(
                f"{folder / SENTENCEPIECE_FILE} is converted with the sentencepiece package, "
                f"which is not installed: pip install 'sentencepiece>=0.2,<0.3' (or give the "
                f"folder a {TOKENIZER_FILE})."
            ) from err
        tokenizer = _convert_with(folder, "XLMRobertaTokenizerFast", roles)
    else:
        raise FileNotFoundError(
            f"{folder} has no tokenizer: none of {TOKENIZER_FILE}, {VOCAB_FILE}, "
            f"{BPE_VOCAB_FILE} + {BPE_MERGES_FILE}, {SENTENCEPIECE_FILE}."
        )
    sentence_bert_config = _read_json(folder / SENTENCE_BERT_CONFIG_FILE)
    length = resolve_max_seq_length(max_seq_length, sentence_bert_config, config, max_positions)
    return TextTokenizer(
        tokenizer, length, roles["pad_token"], roles["mask_token"], roles.get("unk_token")
    )


# tokenizer_config.json's tokenizer_class for each family (what AutoTokenizer instantiates).
TOKENIZER_CLASSES = {
    "wordpiece": "BertTokenizer",
    "bpe": "RobertaTokenizer",
    "unigram": "XLMRobertaTokenizer",
}


def save_tokenizer(tokenizer: TextTokenizer, folder: str | Path) -> None:
    """Writes ``tokenizer.json`` (this truncation, no padding), ``tokenizer_config.json`` and
    ``special_tokens_map.json``, plus ``vocab.txt`` for WordPiece and ``vocab.json`` +
    ``merges.txt`` for byte-level BPE: the files that transformers' ``AutoTokenizer``,
    sentence-transformers and ``load_tokenizer`` read."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = json.loads(tokenizer.to_str())
    _write_json(folder / TOKENIZER_FILE, state)
    config: dict[str, Any] = {"tokenizer_class": TOKENIZER_CLASSES[tokenizer.family]}
    if tokenizer.family == "wordpiece":
        (folder / VOCAB_FILE).write_text("\n".join(tokenizer.vocabulary) + "\n", encoding="utf-8")
        settings = tokenizer.normalizer_settings
        config.update(
            do_lower_case=settings["lowercase"],
            strip_accents=settings["strip_accents"],
            tokenize_chinese_chars=settings["handle_chinese_chars"],
        )
    else:
        config.update(
            bos_token=tokenizer.cls_token,
            eos_token=tokenizer.sep_token,
            add_prefix_space=_add_prefix_space(state),
        )
    if tokenizer.family == "bpe":
        model = state["model"]
        merges = [" ".join(pair) if isinstance(pair, list) else pair for pair in model["merges"]]
        _write_json(folder / BPE_VOCAB_FILE, model["vocab"])
        (folder / BPE_MERGES_FILE).write_text(
            "#version: 0.2\n" + "".join(merge + "\n" for merge in merges), encoding="utf-8"
        )
    config.update(model_max_length=tokenizer.max_seq_length, **tokenizer.special_tokens)
    _write_json(folder / TOKENIZER_CONFIG_FILE, config)
    _write_json(folder / SPECIAL_TOKENS_MAP_FILE, tokenizer.special_tokens)


def _add_prefix_space(state: dict) -> bool:
    """Whether a BPE or Unigram tokenizer's pre-tokeniser puts a space (or ▁) before the text."""
    pre_tokenizer = state.get("pre_tokenizer") or {}
    for step in pre_tokenizer.get("pretokenizers", [pre_tokenizer]):
        if step.get("type") == "ByteLevel":
            return bool(step.get("add_prefix_space"))
        if step.get("type") == "Metaspace":
            return step.get("prepend_scheme", "always") != "never" and step.get(
                "add_prefix_space", True
            )
    return False


def _convert_vocab(folder: Path, roles: dict[str, str | None]) -> Tokenizer:
    """transformers' own BERT WordPiece conversion of a vocab.txt folder (do_lower_case,
    strip_accents, tokenize_chinese_chars from tokenizer_config.json)."""
    return _convert_with(folder, "BertTokenizerFast", roles)


def _convert_with(folder: Path, class_name: str, roles: dict[str, str | None]) -> Tokenizer:
    """transformers' conversion of a folder's tokenizer files by the tokenizer class
    ``class_name``, as ``AutoTokenizer`` does it (transformers is imported only here)."""
    import transformers

    converter = getattr(transformers, class_name)
    converted = converter.from_pretrained(str(folder), local_files_only=True, **roles)
    return converted.backend_tokenizer


def _roles(config: dict) -> dict[str, str]:
    """Special-token roles named in a tokenizer config; values may be {"content": ...} dicts."""
    return {
        role: value["content"] if isinstance(value, dict) else value
        for role, value in config.items()
        if role in SPECIAL_TOKENS and value is not None
    }


# -- backbone ------------------------------------------------------------------------------------


def load_backbone(folder: Path) -> TransformerBackbone:
    """A backbone built from ``config.json`` with the weights of ``model.safetensors``.

    Every weight must be present with its shape, and every weight of the backbone's own parts
    (embeddings, layers) in the checkpoint must be used: a checkpoint with more layers than
    ``config.json`` says is an error naming the weights left over, not a silent truncation. The
    main sizes are compared with the weights before anything is built.
    """
    folder = Path(folder)
    config_file = folder / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(f"No {CONFIG_FILE} in {folder}: not a transformer checkpoint.")
    content = _read_json(config_file)
    try:
        config = TransformerConfig.from_dict(content)
    except ValueError as err:
        raise ValueError(f"{config_file}: {err}") from None
    spec = get_architecture(config.model_type)
    tensors = read_safetensors(folder)
    prefix = _weight_prefix(spec, tensors, folder)
    _check_main_sizes(config, spec, tensors, prefix, folder)
    backbone = TransformerBackbone(**config.to_dict())
    backbone.build()
    used = set()
    for keys, variable, linear in backbone.weight_bindings():
        keys = keys if isinstance(keys, tuple) else (keys,)
        shape = tuple(variable.shape)
        part_shape = shape[::-1] if linear else shape
        parts = [
            checked_weight(
                tensors,
                prefix + key,
                (part_shape[0] // len(keys), *part_shape[1:]),
                folder,
            )
            for key in keys
        ]
        used.update(prefix + key for key in keys)
        value = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
        variable.assign(value.T if linear else value)
    _check_all_used(tensors, used, prefix, folder)
    return backbone


def _weight_prefix(spec: ArchitectureSpec, tensors: dict, folder: Path) -> str:
    probe = spec.embeddings["word_embeddings"]
    for prefix in spec.prefixes:
        if prefix + probe in tensors:
            return prefix
    raise ValueError(
        f"{folder}: the weights do not look like a {spec.model_type} checkpoint "
        f"(no {probe!r}, with any of the prefixes {spec.prefixes})."
    )


def _check_main_sizes(
    config: TransformerConfig, spec: ArchitectureSpec, tensors: dict, prefix: str, folder: Path
) -> None:
    """The embedding tables and the first and last layers' feed-forward kernels against
    ``config.json``, before the backbone is built (a hostile config cannot make it allocate a
    huge model or build 100,000 layers)."""
    hidden = config.hidden_size
    expected = {
        spec.embeddings["word_embeddings"]: (config.vocab_size, hidden),
        spec.embeddings["position_embeddings"]: (config.max_position_embeddings, hidden),
    }
    for i in {0, config.num_hidden_layers - 1} if config.num_hidden_layers else ():
        expected[spec.layer["intermediate_kernel"].format(i=i)] = (config.intermediate_size, hidden)
    for key, shape in expected.items():
        checked_weight(tensors, prefix + key, shape, folder)


def _check_all_used(tensors: dict, used: set[str], prefix: str, folder: Path) -> None:
    """An error naming the weights of the backbone's own parts that nothing loaded (a pooler
    and the ``position_ids`` buffer are not parts of a sentence encoder)."""
    parts = {key[len(prefix) :].split(".")[0] for key in used}
    unused = sorted(
        key
        for key in tensors
        if key.startswith(prefix)
        and key[len(prefix) :].split(".")[0] in parts
        and key not in used
        and not key.endswith("position_ids")
    )
    if unused:
        shown = ", ".join(repr(key) for key in unused[:3])
        more = f" and {len(unused) - 3} more" if len(unused) > 3 else ""
        raise ValueError(
            f"{folder}: {len(unused)} checkpoint weight(s) that {CONFIG_FILE} has no place for: "
            f"{shown}{more}. Does num_hidden_layers match the checkpoint?"
        )


def save_backbone(backbone: TransformerBackbone, folder: Path) -> None:
    """Writes ``config.json`` and ``model.safetensors`` in Hugging Face naming."""
    folder = Path(folder)
    if not backbone.built:
        backbone.build()
    tensors: dict[str, np.ndarray] = {}
    for keys, variable, linear in backbone.weight_bindings():
        value = keras.ops.convert_to_numpy(variable).astype(np.float32)
        value = value.T if linear else value
        keys = keys if isinstance(keys, tuple) else (keys,)
        for key, part in zip(keys, np.split(value, len(keys), axis=0), strict=True):
            tensors[key] = np.ascontiguousarray(part)
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    _write_json(folder / CONFIG_FILE, backbone.config.to_hf_dict())


# -- pooling, dense ------------------------------------------------------------------------------


def load_pooling(folder: Path) -> Pooling:
    """A ``Pooling`` from ``1_Pooling/config.json``, in the 6.x format (``embedding_dimension``,
    ``pooling_mode``) or the older one (``pooling_mode_*`` flags); ``include_prompt`` (default
    true) in both."""
    config_file = Path(folder) / CONFIG_FILE
    config = _read_json(config_file)
    dim = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if dim is None:
        raise ValueError(f"{config_file} gives no embedding dimension.")
    modes = config.get("pooling_mode") or tuple(
        mode for mode, key in LEGACY_POOLING_KEYS.items() if config.get(key)
    )
    include_prompt = config.get("include_prompt", True)
    if not isinstance(include_prompt, bool):
        raise ValueError(
            f"{config_file}: include_prompt must be true or false, got {include_prompt!r}."
        )
    return Pooling(embedding_dim=int(dim), modes=modes, include_prompt=include_prompt)


def save_pooling(pooling: Pooling, folder: Path) -> None:
    """Writes ``config.json``: in the older format, which every sentence-transformers version
    reads, unless the modes' order needs the 6.x one."""
    legacy_order = tuple(mode for mode in LEGACY_POOLING_KEYS if mode in pooling.modes)
    if pooling.modes == legacy_order:
        config: dict[str, Any] = {"word_embedding_dimension": pooling.embedding_dim}
        config.update({key: mode in pooling.modes for mode, key in LEGACY_POOLING_KEYS.items()})
    else:
        config = {"embedding_dimension": pooling.embedding_dim, "pooling_mode": list(pooling.modes)}
    config["include_prompt"] = pooling.include_prompt
    Path(folder).mkdir(parents=True, exist_ok=True)
    _write_json(Path(folder) / CONFIG_FILE, config)


def load_dense(folder: Path) -> DenseProjection:
    """A ``DenseProjection`` from a Dense folder's ``config.json`` and ``model.safetensors``."""
    folder = Path(folder)
    config = _read_json(folder / CONFIG_FILE)
    name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
    if name not in TORCH_ACTIVATIONS:
        raise ValueError(
            f"{folder}: unsupported Dense activation {name!r}; "
            f"supported: {sorted(TORCH_ACTIVATIONS)}."
        )
    layer = DenseProjection(
        config["out_features"],
        activation=TORCH_ACTIVATIONS[name],
        use_bias=config.get("bias", True),
    )
    layer.build((None, config["in_features"]))
    tensors = read_safetensors(folder)
    kernel_shape = tuple(layer.kernel.shape[::-1])
    layer.kernel.assign(checked_weight(tensors, "linear.weight", kernel_shape, folder).T)
    if layer.use_bias:
        layer.bias.assign(checked_weight(tensors, "linear.bias", tuple(layer.bias.shape), folder))
    return layer


def save_dense(layer: keras.layers.Dense, folder: Path) -> None:
    """Writes a Dense folder: ``config.json`` and ``model.safetensors`` (torch layout)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    activation = keras.activations.serialize(layer.activation)
    activation = activation if isinstance(activation, str) else activation["config"]
    torch_names = {keras_name: torch for torch, keras_name in TORCH_ACTIVATIONS.items()}
    if activation not in torch_names:
        raise ValueError(
            f"Dense activation {activation!r} has no sentence-transformers equivalent; "
            f"supported: {sorted(torch_names)}."
        )
    config = {
        "in_features": int(layer.kernel.shape[0]),
        "out_features": layer.units,
        "bias": layer.use_bias,
        "activation_function": torch_names[activation],
    }
    _write_json(folder / CONFIG_FILE, config)
    kernel = keras.ops.convert_to_numpy(layer.kernel).T
    tensors = {"linear.weight": np.ascontiguousarray(kernel)}
    if layer.use_bias:
        tensors["linear.bias"] = keras.ops.convert_to_numpy(layer.bias)
    save_file(tensors, str(folder / WEIGHTS_FILE))


# -- JSON ----------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    """The content of a JSON file; ``{}`` when it does not exist."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text: {err}") from None


def _write_json(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
