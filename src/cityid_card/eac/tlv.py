"""A small strict BER-TLV codec for the ICAO 9303 / BSI TR-03110 data objects.

The EAC encodings mix ASN.1 DER (EF.CardAccess) with ISO/IEC 7816-4 application tags
(``7F21`` certificates, ``7C`` dynamic authentication data, ``87``/``8E`` secure
messaging objects). A general ASN.1 library models the first and fights the second, so
the profile uses this codec for both: tags of one or two bytes, definite lengths of one
to three bytes, and exactly one encoding for every value. Anything else (indefinite or
non-minimal lengths, three-byte tags, bytes past the end) raises
:class:`~cityid_card.eac.errors.EacEncodingError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cityid_card.eac.errors import EacEncodingError

__all__ = [
    "decode_all",
    "decode_oid",
    "decode_one",
    "encode",
    "encode_oid",
    "encode_unsigned",
    "expect",
    "fields",
]

_MAX_LENGTH = 0xFFFF


def encode_length(length: int) -> bytes:
    """The minimal definite length octets for ``length`` (at most 65535)."""
    if length < 0 or length > _MAX_LENGTH:
        raise EacEncodingError("data object too long for this profile")
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    return bytes([0x82]) + length.to_bytes(2, "big")


def _tag_bytes(tag: int) -> bytes:
    if 0 < tag <= 0xFF and (tag & 0x1F) != 0x1F:
        return bytes([tag])
    if 0x100 <= tag <= 0xFFFF and (tag >> 8) & 0x1F == 0x1F and 0x1F <= tag & 0xFF < 0x80:
        return tag.to_bytes(2, "big")
    raise EacEncodingError("tag outside the one- and two-byte tags of this profile")


def encode(tag: int, value: bytes | Iterable[bytes]) -> bytes:
    """One data object: the tag, the minimal length and the value (or joined parts)."""
    content = bytes(value) if isinstance(value, bytes | bytearray) else b"".join(value)
    return _tag_bytes(tag) + encode_length(len(content)) + content


def decode_one(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """Decode the data object at ``offset``: (tag, value, offset after it)."""
    end = len(data)
    if offset >= end:
        raise EacEncodingError("data object expected, end of data found")
    tag = data[offset]
    offset += 1
    if tag & 0x1F == 0x1F:
        if offset >= end:
            raise EacEncodingError("truncated tag")
        second = data[offset]
        if second & 0x80 or second < 0x1F:
            raise EacEncodingError("tag outside the one- and two-byte tags of this profile")
        tag = (tag << 8) | second
        offset += 1
    elif tag in (0x00, 0xFF):
        raise EacEncodingError("padding byte where a tag was expected")
    if offset >= end:
        raise EacEncodingError("truncated length")
    first = data[offset]
    offset += 1
    if first < 0x80:
        length = first
    elif first == 0x81:
        if offset + 1 > end or data[offset] < 0x80:
            raise EacEncodingError("non-minimal or truncated length")
        length = data[offset]
        offset += 1
    elif first == 0x82:
        if offset + 2 > end or data[offset] == 0:
            raise EacEncodingError("non-minimal or truncated length")
        length = int.from_bytes(data[offset : offset + 2], "big")
        offset += 2
    else:
        raise EacEncodingError("indefinite or over-long length")
    if offset + length > end:
        raise EacEncodingError("data object longer than the data")
    return tag, bytes(data[offset : offset + length]), offset + length


def decode_all(data: bytes) -> list[tuple[int, bytes]]:
    """Every data object in ``data``, in order; the objects must cover it exactly."""
    objects: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        tag, value, offset = decode_one(data, offset)
        objects.append((tag, value))
    return objects


def expect(data: bytes, tag: int) -> bytes:
    """The value of ``data`` when it is exactly one data object with ``tag``."""
    found, value, end = decode_one(data)
    if found != tag or end != len(data):
        raise EacEncodingError(f"expected exactly one data object with tag {tag:02X}")
    return value


def fields(data: bytes, spec: Sequence[tuple[int, bool]], what: str) -> dict[int, bytes]:
    """Parse a sequence of data objects in a fixed order.

    ``spec`` lists (tag, required) in the order the encoding prescribes. Unknown,
    repeated, out-of-order and missing required objects are rejected; the result maps
    each present tag to its value.
    """
    objects = decode_all(data)
    result: dict[int, bytes] = {}
    position = 0
    for tag, value in objects:
        while position < len(spec) and spec[position][0] != tag:
            if spec[position][1]:
                raise EacEncodingError(f"{what}: a required data object is missing")
            position += 1
        if position == len(spec):
            raise EacEncodingError(f"{what}: unexpected, repeated or misplaced data object")
        result[tag] = value
        position += 1
    for tag, required in spec[position:]:
        if required and tag not in result:
            raise EacEncodingError(f"{what}: a required data object is missing")
    return result


def encode_oid(dotted: str) -> bytes:
    """The DER content octets of an object identifier given in dotted form."""
    try:
        arcs = [int(part) for part in dotted.split(".")]
    except ValueError:
        raise EacEncodingError("object identifier is not in dotted form") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise EacEncodingError("object identifier is not in dotted form")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_oid(content: bytes) -> str:
    """The dotted form of DER object identifier content octets (minimal base 128)."""
    if not content or content[-1] & 0x80:
        raise EacEncodingError("malformed object identifier")
    arcs: list[int] = []
    value = 0
    start = True
    for byte in content:
        if start and byte == 0x80:
            raise EacEncodingError("non-minimal object identifier")
        value = (value << 7) | (byte & 0x7F)
        start = not byte & 0x80
        if start:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def encode_unsigned(value: int, length: int | None = None) -> bytes:
    """Big-endian bytes of a non-negative integer: minimal, or exactly ``length`` long."""
    if value < 0:
        raise EacEncodingError("negative value")
    size = max(1, (value.bit_length() + 7) // 8) if length is None else length
    try:
        return value.to_bytes(size, "big")
    except OverflowError:
        raise EacEncodingError("value too large for its field") from None
