"""The credential's NDEF message: exact bytes, strict reading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityid_card.type2 import ndef
from cityid_card.type2.errors import NdefFormatError, NotOurTag
from cityid_card.type2.ndef import NdefRecord, Tnf


def test_the_message_is_one_short_external_record() -> None:
    message = ndef.encode_message(b"\x84" * 120)
    assert message[:15] == b"\xd4\x0c\x78cityid.org:c"
    assert len(message) == ndef.message_size(120) == 135
    assert ndef.decode_message(message) == b"\x84" * 120


def test_a_long_credential_uses_the_long_form() -> None:
    message = ndef.encode_message(bytes(300))
    assert message[:6] == b"\xc4\x0c\x00\x00\x01\x2c"
    assert len(message) == ndef.message_size(300) == 318
    assert ndef.decode_message(message) == bytes(300)


def test_the_type_is_matched_case_insensitively() -> None:
    message = ndef.encode_records(
        [NdefRecord(Tnf.EXTERNAL, b"CityID.org:C", payload=b"credential")]
    )
    assert ndef.decode_message(message) == b"credential"


@pytest.mark.parametrize(
    ("records", "error"),
    [
        ([NdefRecord(Tnf.WELL_KNOWN, b"U", payload=b"\x04example.org")], NotOurTag),
        ([NdefRecord(Tnf.EXTERNAL, b"cityid.org:d", payload=b"x")], NotOurTag),
        ([NdefRecord(Tnf.WELL_KNOWN, b"c", payload=b"x")], NotOurTag),
        (
            [
                NdefRecord(Tnf.EXTERNAL, ndef.RECORD_TYPE, payload=b"x"),
                NdefRecord(Tnf.WELL_KNOWN, b"T", payload=b"\x02enhi"),
            ],
            NotOurTag,
        ),
        ([NdefRecord(Tnf.EXTERNAL, ndef.RECORD_TYPE, id=b"1", payload=b"x")], NdefFormatError),
        ([NdefRecord(Tnf.EXTERNAL, ndef.RECORD_TYPE)], NdefFormatError),
        ([NdefRecord(Tnf.EMPTY)], NotOurTag),
    ],
    ids=["uri", "other-name", "local-type", "two-records", "id-field", "empty-payload", "empty"],
)
def test_anything_but_our_one_record_is_refused(
    records: list[NdefRecord], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ndef.decode_message(ndef.encode_records(records))


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"", "no record with the Message End flag"),
        (b"\xd4\x0c\x05cityid.org:c\x01", "runs past the end"),
        (b"\xd4\x0c\x01cityid.org:c\x01\x00", "bytes follow"),
        (b"\xf4\x0c\x01cityid.org:c\x01", "chunked"),
        (b"\x54\x0c\x01cityid.org:c\x01", "Message Begin"),
        (b"\xd7\x00\x00", "type name format 7"),
        (b"\xd0\x00\x01\x00", "empty NDEF record carries"),
        (b"\xd5\x01\x00x", "unknown type carries a type"),
        (b"\xd1\x00\x00", "has no type"),
        (b"\xd4\x0c", "header runs past"),
        (b"\xc4\x0c\x00\x00\x00\x01cityid.org:c\x01", "short form"),
    ],
)
def test_malformed_ndef_is_a_format_error(message: bytes, reason: str) -> None:
    with pytest.raises(NdefFormatError, match=reason):
        ndef.decode_message(message)


def test_errors_never_quote_the_bytes() -> None:
    secret = b"Ana Sofia Rivera Delgado"
    message = ndef.encode_records([NdefRecord(Tnf.MEDIA_TYPE, b"text/plain", payload=secret)])
    for broken in (message, message[:-3], message + b"\x00"):
        with pytest.raises((NotOurTag, NdefFormatError)) as caught:
            ndef.decode_message(broken)
        assert "Ana" not in str(caught.value) and secret.hex() not in str(caught.value)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_format_error(data: bytes) -> None:
    try:
        records = ndef.parse_message(data)
    except NdefFormatError:
        return
    assert ndef.parse_message(ndef.encode_records(records)) == records


@given(st.binary(min_size=1, max_size=400))
def test_every_credential_size_round_trips(payload: bytes) -> None:
    message = ndef.encode_message(payload)
    assert len(message) == ndef.message_size(len(payload))
    assert ndef.decode_message(message) == payload


def test_encoding_limits() -> None:
    with pytest.raises(ValueError, match="1 to 1024"):
        ndef.encode_message(b"")
    with pytest.raises(ValueError, match="at least one record"):
        ndef.encode_records([])
