"""Deterministically encoded CBOR (RFC 8949 section 4.2.1), strictly.

Encoding goes through cbor2, with maps sorted here by the bytewise order of their
encoded keys (cbor2's ``canonical`` mode uses the older length-first order).

Decoding is our own: it accepts exactly one byte representation of each value and
raises :class:`~cityid_card.errors.MalformedCredential` for anything else, which is
what a signed format needs. Only the data model the formats use is accepted: integers,
byte and text strings, arrays, maps, false, true and null. Tags, floats, other simple
values and indefinite lengths are rejected, as are non-shortest heads, unsorted or
duplicate map keys, invalid UTF-8, nesting deeper than ``MAX_DEPTH`` and trailing bytes.
"""

from __future__ import annotations

from typing import Any

import cbor2

from .errors import MalformedCredential

__all__ = ["MAX_DEPTH", "dumps", "dumps_bytes", "loads"]

MAX_DEPTH = 16

_SIMPLE = {0xF4: False, 0xF5: True, 0xF6: None}


def dumps(value: Any) -> bytes:
    """Encode ``value`` deterministically (shortest heads, definite lengths, sorted maps)."""
    return cbor2.dumps(_sorted_maps(value))


def dumps_bytes(value: bytes) -> bytes:
    """Encode a byte string: the same as ``dumps(value)``, without cbor2's per-call set-up."""
    size = len(value)
    if size < 24:
        head = bytes((0x40 | size,))
    elif size < 0x100:
        head = bytes((0x58, size))
    elif size < 0x10000:
        head = b"\x59" + size.to_bytes(2, "big")
    else:
        return dumps(value)
    return head + value


def _sorted_maps(value: Any) -> Any:
    if isinstance(value, dict):
        items = [(cbor2.dumps(_sorted_maps(k)), k, _sorted_maps(v)) for k, v in value.items()]
        items.sort(key=lambda item: item[0])
        return {k: v for _, k, v in items}
    if isinstance(value, (list, tuple)):
        return [_sorted_maps(v) for v in value]
    if isinstance(value, float):
        raise TypeError("floating-point values are not part of this CBOR profile")
    return value


def loads(data: bytes) -> Any:
    """Decode one deterministically encoded CBOR item that fills ``data`` exactly."""
    value, end = _item(data, 0, 0)
    if end != len(data):
        raise MalformedCredential("trailing bytes after the CBOR item")
    return value


def _head(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read an item head; return (major type, argument, position after the head)."""
    try:
        initial = data[pos]
    except IndexError:
        raise MalformedCredential("CBOR data ends before an item") from None
    major = initial >> 5
    info = initial & 0x1F
    if major == 7:
        # false, true and null were taken by the caller; nothing else of type 7 is allowed.
        raise MalformedCredential("CBOR floating-point or simple value not allowed")
    if info < 24:
        return major, info, pos + 1
    if info > 27:
        # 28-30 are reserved, 31 is an indefinite length or a break.
        raise MalformedCredential("indefinite length or reserved CBOR head")
    size = 1 << (info - 24)
    end = pos + 1 + size
    if end > len(data):
        raise MalformedCredential("CBOR data ends inside an item head")
    argument = int.from_bytes(data[pos + 1 : end], "big")
    if argument < (24 if size == 1 else 1 << (4 * size)):
        raise MalformedCredential("CBOR integer or length not in its shortest form")
    return major, argument, end


def _item(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if pos < len(data) and data[pos] in _SIMPLE:
        return _SIMPLE[data[pos]], pos + 1
    major, argument, pos = _head(data, pos)
    if major == 0:
        return argument, pos
    if major == 1:
        return -1 - argument, pos
    if major in (2, 3):
        end = pos + argument
        if end > len(data):
            raise MalformedCredential("CBOR string runs past the end of the data")
        raw = data[pos:end]
        if major == 2:
            return bytes(raw), end
        try:
            return raw.decode("utf-8"), end
        except UnicodeDecodeError:
            raise MalformedCredential("CBOR text string is not valid UTF-8") from None
    if major in (4, 5):
        if depth >= MAX_DEPTH:
            raise MalformedCredential("CBOR nesting is too deep")
        # Every element takes at least one byte: a length beyond that is a lie.
        if argument > len(data) - pos:
            raise MalformedCredential("CBOR container claims more items than there are bytes")
        if major == 4:
            items = []
            for _ in range(argument):
                value, pos = _item(data, pos, depth + 1)
                items.append(value)
            return items, pos
        return _map(data, pos, argument, depth + 1)
    raise MalformedCredential("CBOR tags are not allowed here")


def _map(data: bytes, pos: int, count: int, depth: int) -> tuple[dict[Any, Any], int]:
    result: dict[Any, Any] = {}
    previous_key = b""
    for _ in range(count):
        key_start = pos
        key, pos = _item(data, pos, depth)
        encoded_key = data[key_start:pos]
        if encoded_key <= previous_key:
            raise MalformedCredential("CBOR map keys are duplicated or not in canonical order")
        previous_key = encoded_key
        try:
            hash(key)
        except TypeError:
            raise MalformedCredential("CBOR map key is an array or a map") from None
        if key in result:
            # Distinct in CBOR but one Python key: 1 and true, 0 and false.
            raise MalformedCredential("CBOR map keys are duplicated as Python values")
        result[key], pos = _item(data, pos, depth)
    return result, pos
