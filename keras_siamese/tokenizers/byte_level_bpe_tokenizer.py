"""`ByteLevelBPETokenizer`: RoBERTa's (GPT-2's) byte-level BPE in TensorFlow ops, with the
checkpoint's exact ids.

It runs Hugging Face's pipeline for a byte-level BPE `tokenizer.json` (what RoBERTa checkpoints
carry: no normaliser, `ByteLevel` pre-tokeniser, BPE, `RobertaProcessing` or an equivalent
`<s> $A </s>` template) step by step, in ops that run in `tf.data`, `tf.function` and a SavedModel
served with only TensorFlow and tensorflow-text (the approach of KerasHub's
`BytePairTokenizer`, rewritten to be exact and stateless):

1. Invalid UTF-8 bytes become U+FFFD (as Python's ``decode(errors="replace")``).
2. The added tokens (`<s>`, `<pad>`, `</s>`, `<unk>`, `<mask>` and any others) are split out of the
   raw text and keep their ids, as Hugging Face does: their text is found leftmost-longest, then
   the text beside an `lstrip` token (RoBERTa's `<mask>`) loses the whitespace before it, beside
   an `rstrip` one the whitespace after it; `normalized` tokens are split out afterwards, of the
   text between the others (with no normaliser that text is unchanged).
3. `ByteLevel` on each text between them: with `add_prefix_space` a space is prepended to a
   non-empty text that does not start with one; then GPT-2's split,
   ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``. RE2
   has no lookahead, so it runs in two RE2 passes that give the same pieces: runs of whitespace
   (each with the non-whitespace that follows), then in each run all whitespace but its last
   character is one piece, that last character a piece of its own unless it is a space, which
   goes to the next word (so "a  b" -> "a", " ", " b"; "a \\nb" -> "a", " ", "\\n", "b"; trailing
   whitespace is one piece), and the words are split with the pattern's first four
   alternatives. The classes are Oniguruma's, as Hugging Face compiles them (Unicode 16): `\\s`
   is Unicode White_Space, `\\p{L}` / `\\p{N}` are RE2's (an older Unicode) plus the letters
   and digits it lacks (`NEWER_LETTERS`, `NEWER_NUMBERS`, measured; a test repeats it).
   `tf_text.regex_split` stops at NUL, so NUL is split as \\x01 (same class, same length) and the
   pieces are cut from the original bytes.
4. Each piece's UTF-8 bytes are its initial symbols, as the ids of GPT-2's byte-to-unicode
   characters ("Ġ" for the space); BPE merges them in a `tf.while_loop` over a
   `tf.lookup.StaticHashTable` of merge ranks keyed by the pair of ids: each step merges, in every
   word, the pair of lowest rank, leftmost first, which is what Hugging Face's priority queue does.
   When no merge involves a token before the merge that makes it (true of trained merges,
   checked at load) all non-overlapping occurrences merge in one step, else one per step.
   Instead of KerasHub's mutable cache (state in a served model), each batch runs BPE once per
   distinct word (`tf.unique`).
5. Truncation to `max_seq_length - 2` ids, then `<s>` and `</s>`, right padding with `<pad>`.

Measured against `tokenizers` 0.23 with the byte-level BPE of `keras_siamese.testing` (trained on
the shared data) and variants (`add_prefix_space`, `lstrip` / `rstrip` and normalised added
tokens, no regex, `ignore_merges`, hand-made merges that must run one at a time): the same ids on
all 18,260 distinct STSb (train, dev) and SICK sentences and on generated unicode text (spaces,
tabs, newlines, NUL, emoji, CJK, accents, digits, contractions, literal special tokens), the same
classes as Oniguruma's on every code point and the same pieces on 44,000 of them in context
(tests/test_byte_level_bpe.py). No difference is known for valid UTF-8 text. Invalid UTF-8 (only
reachable with raw bytes: Python's `str` cannot hold it) becomes U+FFFD by ICU's rule, which
matches Python's ``decode(errors="replace")`` on the cases tested. Other pipelines (a
normaliser, BPE dropout, subword prefixes or suffixes, a vocabulary without the 256 byte
symbols, single-word added tokens, added tokens holding NUL or \\x01) are refused with a
ValueError (`in_graph_tokenizer` turns it into `RawStringsUnavailable`).

Example:
    >>> symbols = sorted(bytes_to_unicode().values())  # the 256 byte symbols
    >>> specials = ["<s>", "<pad>", "</s>", "<unk>"]
    >>> vocab = {token: i for i, token in enumerate([*specials, *symbols, "hi", "Ġhi"])}
    >>> added = [{"content": token, "id": vocab[token]} for token in specials]
    >>> tokenizer = ByteLevelBPETokenizer(vocab, [["h", "i"], ["Ġ", "hi"]], added_tokens=added)
    >>> tokenizer(tf.constant(["hi hi!</s>", ""]))["input_ids"].numpy().tolist()  # "!": 4
    [[0, 260, 261, 4, 2, 2], [0, 2, 1, 1, 1, 1]]
"""

import functools
import re

import tensorflow as tf
import tensorflow_text as tf_text
from tokenizers import Tokenizer

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)
from keras_siamese.tokenizers.template import FramedTokenizer
from keras_siamese.tokenizers.text_tokenizer import ROBERTA_SPECIAL_TOKENS, TextTokenizer

# isort: split
import keras

MODEL_ASSET = "byte_level_bpe.json"
# Oniguruma's \s in Unicode mode (White_Space), inside a character class.
WHITESPACE = (
    r"\t\n\x{0B}\x{0C}\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}"
    r"\x{205F}\x{3000}"
)
# Letters and digits of Unicode 15 and 16 that Oniguruma (tokenizers 0.23) has and RE2 lacks.
NEWER_LETTERS = (
    r"\x{1C89}-\x{1C8A}\x{A7CB}-\x{A7CD}\x{A7DA}-\x{A7DC}\x{105C0}-\x{105F3}\x{10D4A}-\x{10D65}"
    r"\x{10D6F}-\x{10D85}\x{10EC2}-\x{10EC4}\x{11380}-\x{11389}\x{1138B}\x{1138E}"
    r"\x{11390}-\x{113B5}\x{113B7}\x{113D1}\x{113D3}\x{11BC0}-\x{11BE0}\x{13460}-\x{143FA}"
    r"\x{16100}-\x{1611D}\x{16D40}-\x{16D6C}\x{18CFF}\x{1E5D0}-\x{1E5ED}\x{1E5F0}"
    r"\x{2EBF0}-\x{2EE5D}"
)
NEWER_NUMBERS = (
    r"\x{10D40}-\x{10D49}\x{116D0}-\x{116E3}\x{11BF0}-\x{11BF9}\x{16130}-\x{16139}"
    r"\x{16D70}-\x{16D79}\x{1CCF0}-\x{1CCF9}\x{1E5F1}-\x{1E5FA}"
)
LETTERS = r"\p{L}" + NEWER_LETTERS
NUMBERS = r"\p{N}" + NEWER_NUMBERS
# A run of whitespace with the word after it, or whitespace at the end.
RUN_PATTERN = f"[{WHITESPACE}]*[^{WHITESPACE}]+|[{WHITESPACE}]+"
# GPT-2's pattern without its whitespace alternatives, for words with at most a leading space.
WORD_PATTERN = (
    f"'s|'t|'re|'ve|'m|'ll|'d| ?[{LETTERS}]+| ?[{NUMBERS}]+| ?[^{WHITESPACE}{LETTERS}{NUMBERS}]+"
)
# regex_split stops at NUL: it is split as \x01 (same byte length, same class), then cut back.
NUL_STANDIN = "\x01"
NO_MERGE = 2**31 - 1


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> character table: printable Latin-1 bytes stand for themselves, the others
    for U+0100 onwards (the space is "Ġ").

    >>> bytes_to_unicode()[ord(" ")], bytes_to_unicode()[ord("a")]
    ('Ġ', 'a')
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    others = [byte for byte in range(256) if byte not in printable]
    table = {byte: chr(byte) for byte in printable}
    table.update({byte: chr(256 + n) for n, byte in enumerate(others)})
    return table


def _merge_pairs(merges: list) -> list[tuple[str, str]]:
    """Merges as pairs, from either `tokenizer.json` form ("a b" or ["a", "b"])."""
    pairs = []
    for merge in merges:
        parts = merge.split(" ") if isinstance(merge, str) else list(merge)
        if len(parts) != 2:
            raise ValueError(f"A BPE merge is two tokens: {merge!r}.")
        pairs.append((parts[0], parts[1]))
    return pairs


def bpe_pipeline(state: dict) -> dict:
    """The settings of `ByteLevelBPETokenizer` for a byte-level BPE `tokenizer.json` (parsed); a
    ValueError names the first step it cannot reproduce exactly."""
    model = state.get("model") or {}
    if model.get("type") != "BPE":
        raise ValueError("Only BPE models run in the byte-level BPE graph.")
    if state.get("normalizer"):
        raise ValueError(f"The normalizer {state['normalizer'].get('type')} has no in-graph twin.")
    for option in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(option):
            raise ValueError(f"BPE with {option}={model[option]!r} has no exact in-graph twin.")
    pre_tokenizer = state.get("pre_tokenizer") or {}
    if pre_tokenizer.get("type") != "ByteLevel":
        raise ValueError(f"The pre-tokenizer {pre_tokenizer.get('type')} is not ByteLevel.")
    added = state.get("added_tokens") or []
    single_word = [token["content"] for token in added if token.get("single_word")]
    if single_word:
        raise ValueError(f"Single-word added tokens {single_word} are not split out in graph.")
    return {
        "vocabulary": dict(model["vocab"]),
        "merges": [list(pair) for pair in _merge_pairs(model.get("merges") or [])],
        "add_prefix_space": bool(pre_tokenizer.get("add_prefix_space", True)),
        "use_regex": bool(pre_tokenizer.get("use_regex", True)),
        "ignore_merges": bool(model.get("ignore_merges", False)),
        "added_tokens": [
            {
                key: token.get(key, False)
                for key in ("content", "id", "lstrip", "rstrip", "normalized")
            }
            for token in added
        ],
    }


def _standin(text: tf.Tensor) -> tf.Tensor:
    """``text`` with NUL read as \\x01, for `tf_text.regex_split` (which stops at NUL): the same
    byte length, and the same class as NUL in every pattern here."""
    return tf.strings.regex_replace(text, r"\x00", NUL_STANDIN)


def _restore_nul(text: tf.Tensor, pieces: tf.RaggedTensor) -> tf.RaggedTensor:
    """``pieces`` `[n, (k)]` that split each of ``_standin(text)`` `[n]` (joined, a row's pieces
    are its text) -> the same byte ranges of ``text``: cut again from the original bytes in
    batches that hold a NUL (linear: all pieces, in order, partition all bytes, in order)."""

    def original_bytes() -> tf.Tensor:
        everything = tf.strings.bytes_split(text).flat_values
        lengths = tf.strings.length(pieces.flat_values)
        return tf.strings.reduce_join(tf.RaggedTensor.from_row_lengths(everything, lengths), axis=1)

    has_nul = tf.reduce_any(tf.strings.regex_full_match(text, r"(?s).*\x00.*"))
    return pieces.with_flat_values(
        tf.cond(has_nul, original_bytes, lambda: tf.identity(pieces.flat_values))
    )


class _AddedTokens(tf.Module):
    """What one pass of added-token splitting needs: an RE2 pattern of the tokens' text, longest
    first (leftmost-longest, as Hugging Face's Aho-Corasick), a table text -> index, and each
    token's id and strip flags. A `tf.Module`, so that SavedModels track its table."""

    def __init__(self, tokens: list[dict]) -> None:
        super().__init__()
        tokens = sorted(tokens, key=lambda token: len(token["content"]), reverse=True)
        contents = [token["content"] for token in tokens]
        self.pattern = "|".join(re.escape(content) for content in contents)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(contents), tf.range(len(contents), dtype=tf.int32)
            ),
            default_value=-1,
        )
        self.ids = tf.constant([token["id"] for token in tokens], tf.int32)
        self.lstrip = tf.constant([bool(token["lstrip"]) for token in tokens])
        self.rstrip = tf.constant([bool(token["rstrip"]) for token in tokens])


@keras.saving.register_keras_serializable(package="keras_siamese")
class ByteLevelBPETokenizer(FramedTokenizer):
    """Strings `[batch]` -> `{"input_ids", "attention_mask"}`, int32 `[batch, longest]`: the
    in-graph twin of a byte-level BPE `TextTokenizer` (RoBERTa), same contract as
    `InGraphTokenizer`. The vocabulary and merges are not in `get_config`: `.keras` files carry
    them as an asset (``byte_level_bpe.json``), SavedModels as tables of the traced functions.
    See the module docstring for the steps.

    ``vocabulary``: the BPE model's token -> id (it must hold the 256 byte symbols); ``merges``:
    pairs of tokens, by rank; ``added_tokens``: dicts with ``content``, ``id`` and optionally
    ``lstrip``, ``rstrip``, ``normalized``."""

    model_asset = MODEL_ASSET

    def __init__(
        self,
        vocabulary: dict[str, int] | None = None,
        merges: list | None = None,
        add_prefix_space: bool = False,
        use_regex: bool = True,
        ignore_merges: bool = False,
        added_tokens: list[dict] | None = None,
        max_seq_length: int = 256,
        cls_token: str = ROBERTA_SPECIAL_TOKENS["cls_token"],
        sep_token: str = ROBERTA_SPECIAL_TOKENS["sep_token"],
        pad_token: str = ROBERTA_SPECIAL_TOKENS["pad_token"],
        **kwargs,
    ) -> None:
        super().__init__(max_seq_length, cls_token, sep_token, pad_token, **kwargs)
        self.add_prefix_space = add_prefix_space
        self.use_regex = use_regex
        self.ignore_merges = ignore_merges
        self.added_tokens = [
            {"lstrip": False, "rstrip": False, "normalized": False, **token}
            for token in added_tokens or ()
        ]
        odd = [
            token["content"]
            for token in self.added_tokens
            if not token["content"] or "\x00" in token["content"] or NUL_STANDIN in token["content"]
        ]
        if odd:
            raise ValueError(f"Added tokens that are empty or hold NUL or \\x01: {odd}.")
        # Hugging Face splits the tokens that are not `normalized` out of the raw text first,
        # then the others out of the (here unchanged) text between them.
        raw = [token for token in self.added_tokens if not token["normalized"]]
        normalized = [token for token in self.added_tokens if token["normalized"]]
        self._raw_added = _AddedTokens(raw) if raw else None
        self._normalized_added = _AddedTokens(normalized) if normalized else None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, merges or [])

    @classmethod
    def from_text_tokenizer(cls, tokenizer: TextTokenizer, **kwargs) -> "ByteLevelBPETokenizer":
        """The in-graph twin of a byte-level BPE `TextTokenizer`; its `max_seq_length` is the
        text tokenizer's, read at each call (or trace). ValueError for another family or a
        pipeline without an exact twin."""
        layer = cls.twin_of(tokenizer, "bpe", "byte-level BPE", bpe_pipeline, **kwargs)
        probe, untruncated = "a b", Tokenizer.from_str(tokenizer.to_str())
        untruncated.no_truncation()
        framed = untruncated.encode(probe).ids
        plain = untruncated.encode(probe, add_special_tokens=False).ids
        expected = [layer._cls_id, *plain, layer._sep_id]
        if framed != expected or tokenizer.pad_token_id != layer._pad_id:
            raise ValueError(
                f"The post-processor gives {framed} for {probe!r}, not <cls> {plain} <sep> with "
                f"the ids of {layer.cls_token!r} and {layer.sep_token!r}."
            )
        return layer

    def set_vocabulary(self, vocabulary: dict[str, int], merges: list) -> None:
        """Sets the BPE model's vocabulary (token -> id) and merges (pairs by rank) and builds
        the tables the ops read."""
        vocabulary = {str(token): int(token_id) for token, token_id in vocabulary.items()}
        pairs = _merge_pairs(merges)
        table = bytes_to_unicode()
        missing = [symbol for symbol in table.values() if symbol not in vocabulary]
        if missing:
            raise ValueError(f"The vocabulary lacks the byte symbols {missing[:8]}...")
        ids = {**vocabulary, **{token["content"]: token["id"] for token in self.added_tokens}}
        specials = [self.cls_token, self.sep_token, self.pad_token]
        absent = [token for token in specials if token not in ids]
        if absent:
            raise ValueError(f"The vocabulary lacks the special tokens {absent}.")
        self._cls_id, self._sep_id, self._pad_id = (ids[token] for token in specials)
        # Hugging Face's MergeMap: (left id, right id) -> (rank, new id); a repeated pair keeps
        # its last rank.
        merge_map: dict[tuple[int, int], tuple[int, int]] = {}
        for rank, (left, right) in enumerate(pairs):
            for token in (left, right, left + right):
                if token not in vocabulary:
                    raise ValueError(
                        f"The merge {left!r} {right!r} needs {token!r}, not in the vocabulary."
                    )
            key = (vocabulary[left], vocabulary[right])
            merge_map[key] = (rank, vocabulary[left + right])
        # Each merge after every merge that makes one of its tokens: then merging all
        # occurrences of the best pair at once is what merging them one by one gives.
        made_by: dict[int, int] = {}
        for rank, new_id in merge_map.values():
            made_by[new_id] = max(made_by.get(new_id, -1), rank)
        self._all_at_once = all(
            made_by.get(left, -1) < rank and made_by.get(right, -1) < rank
            for (left, right), (rank, _) in merge_map.items()
        )
        self._key_base = max(vocabulary.values()) + 1
        self._byte_ids = tf.constant([vocabulary[table[byte]] for byte in range(256)], tf.int32)
        new_ids = [0] * max(len(pairs), 1)
        for rank, new_id in merge_map.values():
            new_ids[rank] = new_id
        self._merge_ids = tf.constant(new_ids, tf.int32)
        self._has_merges = bool(merge_map)
        if merge_map:
            keys = [left * self._key_base + right for left, right in merge_map]
            self._ranks = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(keys, tf.int64),
                    tf.constant([rank for rank, _ in merge_map.values()], tf.int32),
                ),
                default_value=NO_MERGE,
            )
        if self.ignore_merges:  # whole words in the vocabulary skip BPE: keyed by their bytes
            inverse = {symbol: byte for byte, symbol in table.items()}
            words = {
                bytes(inverse[c] for c in token): token_id
                for token, token_id in vocabulary.items()
                if token and all(c in inverse for c in token)
            }
            self._words = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(words), tf.string), tf.constant(list(words.values()), tf.int32)
                ),
                default_value=-1,
            )
        self._model = {"vocabulary": vocabulary, "merges": [list(pair) for pair in pairs]}

    # -- the pipeline ------------------------------------------------------------------------

    def pre_tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """`ByteLevel`'s pieces (as UTF-8 bytes, before the byte-to-unicode mapping) of texts
        without added tokens, `[n]` -> `[n, (pieces)]`."""
        text = tf.convert_to_tensor(text, tf.string)
        if self.add_prefix_space:
            bare = (tf.strings.length(text) > 0) & (tf.strings.substr(text, 0, 1) != " ")
            text = tf.where(bare, " " + text, text)
        if not self.use_regex:
            whole = tf.RaggedTensor.from_tensor(text[:, None])
            return tf.ragged.boolean_mask(whole, whole != "")
        ws = f"[{WHITESPACE}]"
        runs = tf_text.regex_split(_standin(text), RUN_PATTERN, RUN_PATTERN)
        run = runs.flat_values
        word = tf.strings.regex_replace(run, f"^{ws}+", "")
        spaces_length = tf.strings.length(run) - tf.strings.length(word)
        spaces = tf.strings.substr(run, tf.zeros_like(spaces_length), spaces_length)
        has_word = word != ""
        # Before a word, the run's last character leaves it: a space joins the word, any other
        # whitespace is a piece of its own. Whitespace at the end stays whole.
        head = tf.strings.regex_replace(spaces, f"{ws}$", "")
        last = tf.strings.substr(
            spaces, tf.strings.length(head), tf.strings.length(spaces) - tf.strings.length(head)
        )
        joins = has_word & (last == " ")
        head = tf.where(has_word, head, spaces)
        middle = tf.where(has_word & ~joins, last, "")
        word = tf.where(joins, " " + word, word)
        words = tf_text.regex_split(word, WORD_PATTERN, WORD_PATTERN)
        pieces = tf.concat([tf.RaggedTensor.from_tensor(tf.stack([head, middle], 1)), words], 1)
        pieces = tf.ragged.boolean_mask(pieces, pieces != "")
        return _restore_nul(text, runs.with_flat_values(pieces).merge_dims(1, 2))

    def bpe(self, words: tf.Tensor) -> tf.RaggedTensor:
        """BPE on pieces (UTF-8 bytes) `[n]` -> their ids `[n, (ids)]`, once per distinct piece."""
        unique, index = tf.unique(tf.convert_to_tensor(words, tf.string))
        raw = tf.strings.bytes_split(unique)
        values = tf.gather(
            self._byte_ids,
            tf.cast(tf.reshape(tf.io.decode_raw(raw.flat_values, tf.uint8), [-1]), tf.int32),
        )
        splits = raw.row_splits
        if self.ignore_merges:
            whole = self._words.lookup(unique)
            rows = raw.value_rowids()
            in_vocabulary = tf.gather(whole >= 0, rows)
            first = tf.range(tf.size(values, out_type=tf.int64)) == tf.gather(splits, rows)
            values = tf.where(in_vocabulary, tf.gather(whole, rows), values)
            values = tf.boolean_mask(values, ~in_vocabulary | first)
            lengths = raw.row_lengths()
            lengths = tf.where((whole >= 0) & (lengths > 0), tf.ones_like(lengths), lengths)
            splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(lengths)], 0)
        if self._has_merges:
            values, splits, _ = tf.while_loop(
                lambda values, splits, going: going,
                self._merge_step,
                (values, splits, tf.constant(True)),
                shape_invariants=(
                    tf.TensorShape([None]),
                    tf.TensorShape([None]),
                    tf.TensorShape([]),
                ),
            )
        return tf.gather(tf.RaggedTensor.from_row_splits(values, splits), index)

    def _merge_step(self, values: tf.Tensor, splits: tf.Tensor, _):
        """One BPE step on all words (symbol ids `values` by row `splits`): in each word, the
        pair of lowest rank merges (leftmost first; all its non-overlapping occurrences when the
        merges allow it). Returns the new symbols and whether anything merged."""
        rows = tf.ragged.row_splits_to_segment_ids(splits)
        count = tf.size(splits, out_type=tf.int64) - 1
        size = tf.size(values)
        positions = tf.range(size)
        following, following_row = tf.roll(values, -1, 0), tf.roll(rows, -1, 0)
        paired = (positions < size - 1) & (rows == following_row)
        keys = tf.cast(values, tf.int64) * self._key_base + tf.cast(following, tf.int64)
        ranks = tf.where(paired, self._ranks.lookup(keys), NO_MERGE)
        lowest = tf.math.unsorted_segment_min(ranks, rows, count)
        best = paired & (ranks < NO_MERGE) & (ranks == tf.gather(lowest, rows))
        if self._all_at_once:  # runs of a pair (x x x) merge from their first, every other one
            starts = tf.where(best & ~tf.roll(best, 1, 0))[:, 0]
            starts = tf.concat([tf.cast(starts, tf.int32), [0]], 0)
            run = tf.maximum(tf.searchsorted(starts[:-1], positions, side="right") - 1, 0)
            merged = best & ((positions - tf.gather(starts, run)) % 2 == 0)
        else:
            first = tf.math.unsorted_segment_min(tf.where(best, positions, size), rows, count)
            merged = best & (positions == tf.gather(first, rows))
        values = tf.where(merged, tf.gather(self._merge_ids, tf.where(merged, ranks, 0)), values)
        kept = ~tf.roll(merged, 1, 0)
        lengths = tf.math.unsorted_segment_sum(tf.cast(kept, tf.int64), rows, count)
        splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(lengths)], 0)
        return tf.boolean_mask(values, kept), splits, tf.reduce_any(merged)

    def _text_ids(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Texts without added tokens `[n]` -> their ids `[n, (ids)]`."""
        words = self.pre_tokenize(text)
        return words.with_flat_values(self.bpe(words.flat_values)).merge_dims(1, 2)

    def _ids(self, text: tf.Tensor, passes: list) -> tf.RaggedTensor:
        """Raw texts `[n]` -> ids `[n, (ids)]`: the added tokens of ``passes[0]`` split out (and
        kept as their ids), the text between them through the next passes, then BPE.

        As Hugging Face: the tokens' own text is found first (leftmost-longest), then the text
        beside an `rstrip` token loses its leading whitespace, the text beside an `lstrip` one its
        trailing whitespace."""
        if not passes:
            return self._text_ids(text)
        added, passes = passes[0], passes[1:]
        if added is None:
            return self._ids(text, passes)
        parts = tf_text.regex_split(_standin(text), added.pattern, added.pattern)
        which = added.table.lookup(parts.flat_values)  # the token's index, or -1
        is_token = which >= 0
        index = tf.maximum(which, 0)
        token_ids = tf.gather(added.ids, index)
        rstrip = is_token & tf.gather(added.rstrip, index)
        lstrip = is_token & tf.gather(added.lstrip, index)
        rows, size = parts.value_rowids(), tf.size(which)
        positions = tf.range(size)
        after_rstrip = (positions > 0) & (tf.roll(rows, 1, 0) == rows) & tf.roll(rstrip, 1, 0)
        before_lstrip = (
            (positions < size - 1) & (tf.roll(rows, -1, 0) == rows) & tf.roll(lstrip, -1, 0)
        )
        between = _restore_nul(text, parts).flat_values
        ws = f"[{WHITESPACE}]+"
        between = tf.where(after_rstrip, tf.strings.regex_replace(between, f"^{ws}", ""), between)
        between = tf.where(before_lstrip, tf.strings.regex_replace(between, f"{ws}$", ""), between)
        kept = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(token_ids, is_token), tf.cast(is_token, tf.int64)
        )
        between = self._ids(tf.where(is_token, "", between), passes)
        return parts.with_flat_values(tf.concat([kept, between], axis=1)).merge_dims(1, 2)

    def call(self, strings: tf.Tensor) -> dict[str, tf.Tensor]:
        if not self._model:
            raise ValueError("ByteLevelBPETokenizer has no vocabulary: call set_vocabulary.")
        strings = tf.ensure_shape(tf.convert_to_tensor(strings, tf.string), [None])
        strings = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace")
        ids = self._ids(strings, [self._raw_added, self._normalized_added])
        return self.frame(ids)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "add_prefix_space": self.add_prefix_space,
            "use_regex": self.use_regex,
            "ignore_merges": self.ignore_merges,
            "added_tokens": self.added_tokens,
        }
