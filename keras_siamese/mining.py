"""Hard-negative mining: (anchor, positive) pairs become triplets, n-tuples or labelled pairs.

``mine_hard_negatives`` is sentence-transformers' ``util.mine_hard_negatives`` for a
``SentenceEncoder`` and ``Examples``: the same candidates, filters and output rows. The corpus is
encoded once, one chunk at a time, and searched exactly (``keras_siamese.search.merge_top_k``), so
only the queries' embeddings and one chunk of the corpus's are in memory at once (the role of
sentence-transformers' ``use_faiss``).
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.search import empty_top_k, merge_top_k
from keras_siamese.similarity import l2_normalize

OUTPUT_FORMATS = ("triplet", "n-tuple", "labeled-pair")
SAMPLING_STRATEGIES = ("top", "random")
OutputFormat = Literal["triplet", "n-tuple", "labeled-pair"]


def mine_hard_negatives(
    encoder: Any,
    pairs: Examples,
    corpus: Sequence[str] | None = None,
    *,
    anchor_role: str | None = None,
    positive_role: str | None = None,
    num_negatives: int = 3,
    range_min: int = 0,
    range_max: int | None = None,
    max_score: float | None = None,
    min_score: float | None = None,
    absolute_margin: float | None = None,
    relative_margin: float | None = None,
    sampling_strategy: Literal["top", "random"] = "top",
    output_format: OutputFormat = "triplet",
    seed: int = 0,
    batch_size: int = 32,
    query_prompt_name: str | None = None,
    query_prompt: str | None = None,
    corpus_prompt_name: str | None = None,
    corpus_prompt: str | None = None,
    query_chunk_size: int = 4096,
    corpus_chunk_size: int = 100_000,
    show_progress_bar: bool | None = None,
) -> Examples:
    """Adds hard negatives, texts close to an anchor that are not its positive, to ``pairs``.

    As sentence-transformers' ``mine_hard_negatives``: the anchors (``anchor_role``, default the
    first role) and their positives (``positive_role``, default the second) are deduplicated, an
    anchor repeated over several rows having all of those positives; the candidates are the
    texts of ``corpus`` plus every positive (the positives alone when ``corpus`` is None),
    deduplicated, ranked by cosine similarity to the anchor. An anchor's own text and positives
    are never its negatives. Among the ``range_max + max_positives + 1`` best, a candidate is
    dropped when its score is above ``max_score`` or below ``min_score``, when ``score +
    absolute_margin`` is above the anchor's lowest positive score ``p``, or when it is above ``p -
    |p| * relative_margin``; of the rest, ranks ``range_min`` to ``range_max`` remain, and
    ``num_negatives`` of them are kept: the best (``sampling_strategy="top"``) or drawn at random
    (``"random"``, reproducible for a ``seed``), best first. ``range_max`` defaults to
    ``range_min + num_negatives + max_positives``, or ``range_min + 10 * num_negatives +
    max_positives`` with a margin or ``max_score`` (``max_positives``: the most rows one anchor
    has).

    ``output_format``:

    - ``"triplet"``: roles ``anchor``, ``positive``, ``negative``, one row per negative found;
    - ``"n-tuple"``: ``anchor``, ``positive``, ``negative_1`` ... ``negative_{num_negatives}``,
      the (anchor, positive) pairs that got all ``num_negatives``;
    - ``"labeled-pair"``: ``text_a``, ``text_b`` and int labels, per anchor its positives
      (label 1) then its negatives (label 0).

    Rows come grouped by anchor in order of first appearance. The encoder's ``encode_query``
    embeds the anchors and ``encode_document`` the corpus (with the prompts given, else the
    model's ``query`` and ``document`` prompts), ``corpus_chunk_size`` texts at a time; scores are
    computed ``query_chunk_size`` anchors at a time. A ``ValueError`` says when no negative
    could be found.

    >>> pairs = ks.data.from_lists(anchor=["a dog runs", "a man eats"],
    ...                            positive=["a dog is running", "someone is eating"])
    >>> corpus = ["a cat runs", "a man cooks", "the sky is blue"]
    >>> mined = mine_hard_negatives(tiny_encoder, pairs, corpus, num_negatives=1)
    >>> mined.roles, len(mined)
    (('anchor', 'positive', 'negative'), 2)
    """
    anchor_role, positive_role = _roles(pairs, anchor_role, positive_role)
    _check_choice("sampling_strategy", sampling_strategy, SAMPLING_STRATEGIES)
    _check_choice("output_format", output_format, OUTPUT_FORMATS)
    for name, value in (
        ("batch_size", batch_size),
        ("query_chunk_size", query_chunk_size),
        ("corpus_chunk_size", corpus_chunk_size),
    ):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    anchors, positives = pairs.columns[anchor_role], pairs.columns[positive_role]
    max_positives = max(Counter(anchors).values())
    range_max = _checked_range(
        num_negatives,
        range_min,
        range_max,
        max_positives,
        filtered=any(x is not None for x in (absolute_margin, relative_margin, max_score)),
    )

    texts = list(dict.fromkeys([*_checked_corpus(corpus, positives), *positives]))
    text_ids = {text: i for i, text in enumerate(texts)}
    queries = list(dict.fromkeys(anchors))
    query_ids = {query: i for i, query in enumerate(queries)}
    positive_ids: list[dict[int, None]] = [{} for _ in queries]  # per query, in first-seen order
    for anchor, positive in zip(anchors, positives, strict=True):
        positive_ids[query_ids[anchor]][text_ids[positive]] = None
    pair_query = np.repeat(np.arange(len(queries)), [len(ids) for ids in positive_ids])
    pair_text = np.array([i for ids in positive_ids for i in ids], dtype=np.int64)

    encode = {"batch_size": batch_size, "show_progress_bar": show_progress_bar}
    query_embeddings = _normalized(
        encoder.encode_query(queries, prompt_name=query_prompt_name, prompt=query_prompt, **encode)
    )
    window = range_max + max_positives + 1  # + 1: the anchor's own text, when in the corpus
    scores, ids = empty_top_k(len(queries))
    positive_scores = np.zeros(len(pair_text), dtype=np.float32)
    for start in range(0, len(texts), corpus_chunk_size):
        chunk = _normalized(
            encoder.encode_document(
                texts[start : start + corpus_chunk_size],
                prompt_name=corpus_prompt_name,
                prompt=corpus_prompt,
                **encode,
            )
        )
        here = (pair_text >= start) & (pair_text < start + len(chunk))
        positive_scores[here] = np.einsum(
            "ij,ij->i", query_embeddings[pair_query[here]], chunk[pair_text[here] - start]
        )
        new_scores, new_ids = [], []
        for q_start in range(0, len(queries), query_chunk_size):
            rows = slice(q_start, q_start + query_chunk_size)
            merged = merge_top_k(
                scores[rows], ids[rows], query_embeddings[rows] @ chunk.T, start, window
            )
            new_scores.append(merged[0])
            new_ids.append(merged[1])
        scores, ids = np.concatenate(new_scores), np.concatenate(new_ids)
    scores, ids = _padded(scores.astype(np.float32), ids, window)

    # Disqualify (score -inf) the padding, each query's own text and positives, and what the
    # filters drop.
    own_text = np.array([text_ids.get(query, -1) for query in queries])[:, None]
    keys = np.arange(len(queries))[:, None] * len(texts) + ids
    positive = np.isin(keys, pair_query * len(texts) + pair_text)
    scores[(ids < 0) | (ids == own_text) | positive] = -np.inf
    if absolute_margin is not None or relative_margin is not None:
        starts = np.searchsorted(pair_query, np.arange(len(queries)))
        lowest_positive = np.minimum.reduceat(positive_scores, starts)[:, None]
        if absolute_margin is not None:
            scores[scores + absolute_margin > lowest_positive] = -np.inf
        if relative_margin is not None:
            threshold = lowest_positive - np.abs(lowest_positive) * relative_margin
            scores[scores > threshold] = -np.inf
    if max_score is not None:
        scores[scores > max_score] = -np.inf
    if min_score is not None:
        scores[scores < min_score] = -np.inf

    order = np.argsort(-scores, axis=1, kind="stable")[:, range_min:range_max]
    scores, ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
    if sampling_strategy == "top":
        scores, ids = scores[:, :num_negatives], ids[:, :num_negatives]
    else:
        scores, ids = _sampled(scores, ids, num_negatives, np.random.default_rng(seed))
    found = np.isfinite(scores)
    if not found.any():
        raise ValueError(
            "no negatives found for any anchor: raise range_max, or loosen range_min, the "
            "margins, max_score or min_score"
        )
    return _formatted(output_format, queries, texts, positive_ids, ids, found, num_negatives)


def _roles(pairs: Examples, anchor: str | None, positive: str | None) -> tuple[str, str]:
    roles = pairs.roles
    if anchor is None or positive is None:
        if len(roles) < 2:
            raise ValueError(f"pairs need an anchor and a positive role, got {list(roles)}")
        anchor = roles[0] if anchor is None else anchor
        positive = roles[1] if positive is None else positive
    for role in (anchor, positive):
        if role not in roles:
            raise ValueError(f"pairs have no role {role!r}; they have {list(roles)}")
    if anchor == positive:
        raise ValueError(f"the anchor and positive roles are both {anchor!r}")
    return anchor, positive


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _checked_range(
    num_negatives: int, range_min: int, range_max: int | None, max_positives: int, filtered: bool
) -> int:
    """``range_max``, defaulted as sentence-transformers does, after its checks."""
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1, got {num_negatives}")
    if range_min < 0:
        raise ValueError(f"range_min must be non-negative, got {range_min}")
    if range_max is None:
        range_max = range_min + num_negatives * (10 if filtered else 1) + max_positives
    if range_min >= range_max:
        raise ValueError(f"range_min ({range_min}) must be smaller than range_max ({range_max})")
    if num_negatives > range_max - range_min:
        raise ValueError(
            f"cannot mine {num_negatives} negatives per anchor from ranks {range_min} to "
            f"{range_max}: lower num_negatives or range_min, or raise range_max"
        )
    return range_max


def _checked_corpus(corpus: Sequence[str] | None, positives: list[str]) -> list[str]:
    if corpus is None:
        return positives
    if isinstance(corpus, str):
        raise ValueError("corpus must be a list of texts, not one string")
    corpus = list(corpus)
    for i, text in enumerate(corpus):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"corpus text {i} is {text!r}: expected a non-empty string")
    return corpus


def _normalized(embeddings: Any) -> np.ndarray:
    array = np.asarray(embeddings, dtype=np.float32)
    if array.ndim != 2 or not np.isfinite(array).all():
        raise ValueError(f"the encoder gave embeddings of shape {array.shape}, or not finite")
    return l2_normalize(array, xp=np)


def _padded(scores: np.ndarray, ids: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pads to ``width`` columns with id -1 (score -inf), for a corpus smaller than the window."""
    missing = width - scores.shape[1]
    if missing <= 0:
        return scores, ids
    rows = len(scores)
    return (
        np.concatenate([scores, np.full((rows, missing), -np.inf, dtype=scores.dtype)], 1),
        np.concatenate([ids, np.full((rows, missing), -1, dtype=ids.dtype)], 1),
    )


def _sampled(
    scores: np.ndarray, ids: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` of each row's finite candidates (all of them when there are fewer) drawn
    uniformly without replacement, best first."""
    options = np.maximum(np.isfinite(scores).sum(1), count)[:, None]
    keys = rng.random(scores.shape)
    keys[np.arange(scores.shape[1])[None, :] >= options] = np.inf
    picked = np.argsort(keys, axis=1, kind="stable")[:, :count]
    scores, ids = np.take_along_axis(scores, picked, 1), np.take_along_axis(ids, picked, 1)
    best_first = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, best_first, 1), np.take_along_axis(ids, best_first, 1)


def _formatted(
    output_format: str,
    queries: list[str],
    texts: list[str],
    positive_ids: list[dict[int, None]],
    ids: np.ndarray,
    found: np.ndarray,
    num_negatives: int,
) -> Examples:
    if output_format == "labeled-pair":
        text_a, text_b, labels = [], [], []
        for query, positives, row, ok in zip(queries, positive_ids, ids, found, strict=True):
            documents = [texts[i] for i in positives] + [texts[i] for i in row[ok]]
            text_a += [query] * len(documents)
            text_b += documents
            labels += [1] * len(positives) + [0] * int(ok.sum())
        return Examples({"text_a": text_a, "text_b": text_b}, np.array(labels, dtype=np.int32))
    columns: dict[str, list[str]]
    if output_format == "triplet":
        columns = {"anchor": [], "positive": [], "negative": []}
        for query, positives, row, ok in zip(queries, positive_ids, ids, found, strict=True):
            negatives = [texts[i] for i in row[ok]]
            for positive in positives:
                columns["anchor"] += [query] * len(negatives)
                columns["positive"] += [texts[positive]] * len(negatives)
                columns["negative"] += negatives
        return Examples(columns)
    negative_roles = [f"negative_{i}" for i in range(1, num_negatives + 1)]
    columns = {role: [] for role in ("anchor", "positive", *negative_roles)}
    for query, positives, row, ok in zip(queries, positive_ids, ids, found, strict=True):
        if not ok.all():
            continue
        for positive in positives:
            columns["anchor"].append(query)
            columns["positive"].append(texts[positive])
            for role, negative in zip(negative_roles, row, strict=True):
                columns[role].append(texts[negative])
    if not columns["anchor"]:
        raise ValueError(
            f"no anchor got all {num_negatives} negatives an n-tuple needs: lower num_negatives, "
            "raise range_max, or loosen the margins, max_score or min_score"
        )
    return Examples(columns)
