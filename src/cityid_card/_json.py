"""A JSON reader with limits, for every JSON document cityid-card reads.

Python's :func:`json.loads` has no limits: a few kilobytes of ``[[[[...`` exhaust the
stack (``RecursionError``), and an integer of 5,000 digits raises a bare ``ValueError``
(``sys.set_int_max_str_digits``) after the work is done. :func:`loads` checks the size
first, the nesting depth with one linear scan that skips strings, and every integer's
digits in the parser's ``parse_int`` hook before :class:`int` sees it; it also refuses
duplicate keys and the non-JSON constants ``NaN`` and ``Infinity``. Every failure is a
:class:`~cityid_card.errors.JSONInputError` whose message says what and where (line and
column), never the document's content. Sans-I/O: it parses bytes it is handed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from .errors import JSONInputError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_DIGITS", "loads"]

#: The default size limit: far above any trust store, registry or state file cityid-card
#: writes (a registry of a million 8-bit entries is about 1.4 MB).
MAX_BYTES = 16 * 1024 * 1024
#: The default nesting limit; cityid-card's own documents nest at most 4 deep.
MAX_DEPTH = 32
#: The default limit on the digits of one integer (a 64-bit number has at most 20).
MAX_DIGITS = 40

# A string (with its escapes) or a bracket: the depth scan skips whatever strings hold.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def loads(
    data: bytes | str,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_digits: int = MAX_DIGITS,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """Parse one JSON document (UTF-8 when bytes) within the limits, or raise JSONInputError.

    ``object_pairs_hook`` replaces the default one, which refuses a key given twice.
    """
    if len(data) > max_bytes:
        raise JSONInputError(f"larger than {max_bytes} bytes")
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise JSONInputError(f"not UTF-8 text (byte {error.start})") from None
    else:
        text = data
    text = text.removeprefix("\ufeff")
    _check_depth(text, max_depth)

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > max_digits:
            raise JSONInputError(f"an integer has more than {max_digits} digits")
        return int(digits)

    def parse_float(digits: str) -> float:
        value = float(digits)
        if not math.isfinite(value):
            raise JSONInputError("a number is too large")
        return value

    def parse_constant(name: str) -> Any:
        raise JSONInputError(f"{name} is not a JSON value")

    try:
        return json.loads(
            text,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
            object_pairs_hook=object_pairs_hook or _unique_keys,
        )
    except json.JSONDecodeError as error:
        raise JSONInputError(
            f"not valid JSON: {error.msg.lower()} (line {error.lineno}, column {error.colno})"
        ) from None


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, match.start()) + 1
                raise JSONInputError(f"nested deeper than {max_depth} levels (line {line})")
        elif token in ("]", "}"):
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JSONInputError("an object has the same key twice")
        result[key] = value
    return result
