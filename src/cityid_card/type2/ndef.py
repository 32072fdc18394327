"""The credential as an NDEF message: one record of the external type ``cityid.org:c``.

Pure functions, no I/O; ``specs/ndef-mapping.md`` is the normative description. The
message is exactly one short record (MB, ME, SR set; no ID field) whose payload is the
credential's bytes, so the framing costs 15 bytes (17 with the Type 2 TLV around it)::

    D4 0C LL "cityid.org:c" <credential>

The reader is strict: a message that is not well-formed NDEF raises
:class:`~cityid_card.errors.NdefFormatError`; well-formed NDEF that is not exactly our
record raises :class:`~cityid_card.errors.NotOurTag`. Neither message quotes the bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from cityid_card.type2.errors import NdefFormatError, NotOurTag

__all__ = [
    "MAX_PAYLOAD",
    "RECORD_TYPE",
    "NdefRecord",
    "Tnf",
    "decode_message",
    "encode_message",
    "encode_records",
    "message_size",
    "parse_message",
]

#: The record type: an NFC Forum external type (NFC RTD 1.0, section 3.2.2) in the
#: project's domain; matched case-insensitively, written in lower case.
RECORD_TYPE = b"cityid.org:c"
#: The largest payload a reader accepts as a credential (the format's largest is 315).
MAX_PAYLOAD = 1024

_MB, _ME, _CF, _SR, _IL = 0x80, 0x40, 0x20, 0x10, 0x08
_SHORT_LIMIT = 255


class Tnf(enum.IntEnum):
    """The Type Name Format field of an NDEF record header (NDEF 1.0, section 3.2.6)."""

    EMPTY = 0
    WELL_KNOWN = 1
    MEDIA_TYPE = 2
    ABSOLUTE_URI = 3
    EXTERNAL = 4
    UNKNOWN = 5
    UNCHANGED = 6


@dataclass(frozen=True)
class NdefRecord:
    """One NDEF record: its type name format, type, ID and payload."""

    tnf: Tnf
    type: bytes = b""
    id: bytes = b""
    payload: bytes = b""


def _header(flags: int, record: NdefRecord) -> bytes:
    short = len(record.payload) <= _SHORT_LIMIT
    head = bytes(
        (
            flags | (_SR if short else 0) | (_IL if record.id else 0) | record.tnf,
            len(record.type),
        )
    )
    size = len(record.payload).to_bytes(1 if short else 4, "big")
    return head + size + (bytes((len(record.id),)) if record.id else b"")


def encode_records(records: Sequence[NdefRecord]) -> bytes:
    """Encode records as one NDEF message, each short (SR) whenever its payload allows."""
    if not records:
        raise ValueError("an NDEF message holds at least one record")
    out = bytearray()
    for index, record in enumerate(records):
        if len(record.type) > 255 or len(record.id) > 255:
            raise ValueError("a record's type and ID are at most 255 bytes")
        flags = (_MB if index == 0 else 0) | (_ME if index == len(records) - 1 else 0)
        out += _header(flags, record) + record.type + record.id + record.payload
    return bytes(out)


def encode_message(credential: bytes) -> bytes:
    """The NDEF message that carries ``credential``: one ``cityid.org:c`` record."""
    if not 1 <= len(credential) <= MAX_PAYLOAD:
        raise ValueError(f"a credential is 1 to {MAX_PAYLOAD} bytes")
    return encode_records([NdefRecord(Tnf.EXTERNAL, RECORD_TYPE, payload=credential)])


def message_size(credential_size: int) -> int:
    """Bytes of the NDEF message for a credential of ``credential_size`` bytes."""
    header = 3 if credential_size <= _SHORT_LIMIT else 6
    return header + len(RECORD_TYPE) + credential_size


def parse_message(message: bytes) -> list[NdefRecord]:
    """Parse a whole NDEF message; raise NdefFormatError unless it is well-formed.

    Chunked records are refused: the mapping never writes them, and nothing on a tag
    this small needs them.
    """
    records: list[NdefRecord] = []
    offset = 0
    while offset < len(message):
        flags = message[offset]
        if bool(flags & _MB) != (offset == 0):
            raise NdefFormatError("the NDEF message's Message Begin flags are out of place")
        if flags & _CF:
            raise NdefFormatError("the NDEF message holds a chunked record")
        tnf = flags & 0x07
        if tnf > Tnf.UNKNOWN:
            raise NdefFormatError(f"an NDEF record has the type name format {tnf}")
        size_bytes = 1 if flags & _SR else 4
        fixed = 2 + size_bytes + (1 if flags & _IL else 0)
        if offset + fixed > len(message):
            raise NdefFormatError("an NDEF record header runs past the end of the message")
        type_length = message[offset + 1]
        payload_length = int.from_bytes(message[offset + 2 : offset + 2 + size_bytes], "big")
        id_length = message[offset + 2 + size_bytes] if flags & _IL else 0
        start = offset + fixed
        end = start + type_length + id_length + payload_length
        if end > len(message):
            raise NdefFormatError("an NDEF record runs past the end of the message")
        if tnf == Tnf.EMPTY and end != start:
            raise NdefFormatError("an empty NDEF record carries a type, an ID or a payload")
        if tnf in (Tnf.UNKNOWN, Tnf.UNCHANGED) and type_length:
            raise NdefFormatError("an NDEF record of unknown type carries a type")
        if tnf not in (Tnf.EMPTY, Tnf.UNKNOWN) and not type_length:
            raise NdefFormatError("an NDEF record has no type")
        type_, rest = message[start : start + type_length], start + type_length
        records.append(
            NdefRecord(
                Tnf(tnf),
                bytes(type_),
                bytes(message[rest : rest + id_length]),
                bytes(message[rest + id_length : end]),
            )
        )
        offset = end
        if flags & _ME:
            break
    else:
        raise NdefFormatError("the NDEF message has no record with the Message End flag")
    if offset != len(message):
        raise NdefFormatError("bytes follow the NDEF record with the Message End flag")
    return records


def decode_message(message: bytes) -> bytes:
    """The credential in an NDEF message, which must be exactly our one record.

    Raises NdefFormatError for malformed NDEF, or for our record in a form the
    mapping does not write (an ID field, a long form for a short payload); NotOurTag
    for well-formed NDEF of any other kind.
    """
    records = parse_message(message)
    ours = [r for r in records if r.tnf == Tnf.EXTERNAL and r.type.lower() == RECORD_TYPE.lower()]
    if not ours:
        raise NotOurTag("the tag's NDEF message holds no cityid-card record")
    if len(records) != 1:
        raise NotOurTag("the tag's NDEF message holds other records beside the credential")
    record = records[0]
    if record.id:
        raise NdefFormatError("the cityid-card record carries an ID field")
    if not 1 <= len(record.payload) <= MAX_PAYLOAD:
        raise NdefFormatError("the cityid-card record's payload is not a credential's size")
    if bool(message[0] & _SR) != (len(record.payload) <= _SHORT_LIMIT):
        raise NdefFormatError("the cityid-card record's payload length is not in its short form")
    return record.payload
