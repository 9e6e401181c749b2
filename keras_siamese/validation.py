"""Input checks shared by encoding, data readers and the command line."""

from collections.abc import Sequence

import numpy as np


def check_texts(texts: Sequence[str], what: str = "texts", allow_empty: bool = False) -> list[str]:
    """``texts`` as a list, or a clear error naming the first bad item.

    >>> check_texts(("a", "b"))
    ['a', 'b']
    >>> check_texts(["a", None])
    Traceback (most recent call last):
    ...
    TypeError: texts[1] is NoneType, expected str.
    >>> check_texts(["caf" + chr(0xDCE9)])
    Traceback (most recent call last):
    ...
    ValueError: texts[0] is not valid Unicode: a lone surrogate ... at position 3 (...).
    """
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence | np.ndarray):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}.")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] is {type(text).__name__}, expected str.")
        if not allow_empty and not text.strip():
            raise ValueError(f"{what}[{i}] is empty (or only whitespace).")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"{what}[{i}] is not valid Unicode: a lone surrogate {text[err.start]!r} at "
                f"position {err.start} (bytes that were not UTF-8, as in a command-line argument)."
            ) from None
    return texts
