"""The strict TLV codec: exactly one encoding per value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityid_card.eac import EacEncodingError, tlv


@pytest.mark.parametrize(
    ("tag", "length", "header"),
    [
        (0x80, 0, "8000"),
        (0x86, 0x7F, "867f"),
        (0x7F21, 0x80, "7f218180"),
        (0x5F37, 0xFF, "5f3781ff"),
        (0x7C, 0x100, "7c820100"),
    ],
)
def test_minimal_lengths(tag: int, length: int, header: str) -> None:
    encoded = tlv.encode(tag, bytes(length))
    assert encoded.hex().startswith(header)
    assert tlv.decode_all(encoded) == [(tag, bytes(length))]


@pytest.mark.parametrize(
    "bad",
    [
        "8081",  # indefinite length
        "80810100",  # 0x81 for a length below 0x80
        "8082007f" + "00" * 0x7F,  # 0x82 for a length below 0x100
        "8083000001" + "00",  # three length bytes
        "800201",  # value shorter than its length
        "1f",  # truncated tag
        "5f1e0100",  # second tag byte below 0x1F
        "7fa1010000",  # three-byte tag
        "0000",  # padding where a tag belongs
        "80",  # no length
    ],
)
def test_non_canonical_and_truncated_encodings_are_rejected(bad: str) -> None:
    with pytest.raises(EacEncodingError):
        tlv.decode_all(bytes.fromhex(bad))


def test_expect_and_fields_are_strict() -> None:
    assert tlv.expect(bytes.fromhex("5301ff"), 0x53) == b"\xff"
    for bad in ["5301ff00", "5401ff"]:
        with pytest.raises(EacEncodingError):
            tlv.expect(bytes.fromhex(bad), 0x53)
    spec = [(0x80, True), (0x81, False), (0x82, True)]
    assert tlv.fields(bytes.fromhex("80008200"), spec, "x") == {0x80: b"", 0x82: b""}
    for bad in ["82008000", "800080008200", "8000", "800083008200", "8000810081008200"]:
        with pytest.raises(EacEncodingError):
            tlv.fields(bytes.fromhex(bad), spec, "x")


@pytest.mark.parametrize(
    ("dotted", "content"),
    [
        ("0.4.0.127.0.7.2.2.4.2.2", "04007f00070202040202"),
        ("1.2.840.10045.2.1", "2a8648ce3d0201"),
        ("2.999.3", "883703"),
    ],
)
def test_object_identifiers(dotted: str, content: str) -> None:
    assert tlv.encode_oid(dotted).hex() == content
    assert tlv.decode_oid(bytes.fromhex(content)) == dotted


@pytest.mark.parametrize("bad", ["", "80", "0480017f", "2a86"])
def test_malformed_object_identifiers(bad: str) -> None:
    with pytest.raises(EacEncodingError):
        tlv.decode_oid(bytes.fromhex(bad))


@pytest.mark.parametrize("bad", ["1", "3.1", "1.40", "a.b", "1.-2"])
def test_malformed_dotted_identifiers(bad: str) -> None:
    with pytest.raises(EacEncodingError):
        tlv.encode_oid(bad)


def test_values_longer_than_the_profile_allows() -> None:
    with pytest.raises(EacEncodingError):
        tlv.encode(0x80, bytes(0x10000))
    with pytest.raises(EacEncodingError):
        tlv.encode(0x1F, b"")


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(
    st.lists(
        st.tuples(st.sampled_from([0x06, 0x53, 0x86, 0x7F49, 0x5F20]), st.binary(max_size=300))
    )
)
def test_property_decode_inverts_encode(objects: list[tuple[int, bytes]]) -> None:
    encoded = b"".join(tlv.encode(tag, value) for tag, value in objects)
    assert tlv.decode_all(encoded) == objects


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(st.binary(max_size=64))
def test_property_decoding_arbitrary_bytes_never_crashes(data: bytes) -> None:
    try:
        objects = tlv.decode_all(data)
    except EacEncodingError:
        return
    assert b"".join(tlv.encode(tag, value) for tag, value in objects) == data
