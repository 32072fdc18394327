"""Type 2 tag memory, sans I/O: capability container, TLV walk, images, write order, locks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given
from hypothesis import strategies as st

from cityid_card import type2
from cityid_card.type2 import NTAG213, NTAG215, NTAG216, CapabilityContainer, _secp128r1, ndef
from cityid_card.type2.errors import (
    BlankTag,
    CapabilityContainerError,
    NdefLengthError,
    TagCapacityError,
    TagError,
    TlvError,
)


def walk(area: bytes) -> type2.NdefArea:
    memory = bytes(16) + area
    return type2.find_ndef(lambda start, stop: memory[start:stop], len(area))


def test_the_chips_memory_maps() -> None:
    assert [(p.last_data_page, p.dynamic_lock_page, p.config_page) for p in type2.PRODUCTS] == [
        (39, 40, 41),
        (129, 130, 131),
        (225, 226, 227),
    ]
    assert type2.product_for_version(bytes.fromhex("0004040201001103")) is NTAG215
    assert type2.product_for_version(bytes.fromhex("0004030101000b03")) is None
    assert NTAG216.capability_container.encode() == bytes.fromhex("e1106d00")


def test_factory_memory_matches_the_data_sheet() -> None:
    uid = bytes.fromhex("04e10cda993c80")
    memory = type2.factory_memory(NTAG213, uid)
    assert len(memory) == 180
    assert memory[:16].hex() == "04e10c61da993c80ff480000e1101200"
    assert memory[16:24].hex() == "0103a00c340300fe"
    assert memory[160:180].hex() == "000000bd040000ff00050000ffffffff00000000"
    assert type2.factory_memory(NTAG215, uid)[16:20].hex() == "0300fe00"


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("00000000", "magic number"),
        ("e1200100", "version 2.0"),
        ("e1100000", "no data area"),
        ("e1101280", "forbids reading"),
        ("e110", "not one page"),
    ],
)
def test_a_wrong_capability_container_is_refused(page: str, reason: str) -> None:
    with pytest.raises(CapabilityContainerError, match=reason):
        CapabilityContainer.parse(bytes.fromhex(page))


def test_capability_container_access() -> None:
    container = CapabilityContainer.parse(bytes.fromhex("e111120f"))
    assert (container.size, container.read_only, container.writable) == (144, True, False)


def test_the_walk_finds_the_message_behind_control_and_null_tlvs() -> None:
    area = bytes.fromhex("00 0103a00c34 fd0199 0303aabbcc fe") + bytes(130)
    found = walk(area)
    assert (found.tlv_offset, found.positions) == (25, (27, 28, 29))


def test_reserved_bytes_are_skipped_inside_the_message() -> None:
    # A Memory Control TLV reserves bytes 24 and 25 (page 6, offset 0, 2 bytes, 4-byte pages).
    area = bytes.fromhex("0203600202 0304 aa ffff bbccdd fe") + bytes(128)
    assert walk(area).positions == (23, 26, 27, 28)


@pytest.mark.parametrize(
    ("area", "error", "reason"),
    [
        (bytes(144), BlankTag, "no NDEF message"),
        (bytes.fromhex("fe0305") + bytes(141), BlankTag, "Terminator"),
        (bytes.fromhex("0300fe") + bytes(141), BlankTag, "empty"),
        (bytes.fromhex("03c8") + bytes(142), NdefLengthError, "byte 16 runs past"),
        (bytes.fromhex("03ffffff") + bytes(140), NdefLengthError, "runs past"),
        (bytes.fromhex("03ff0010") + bytes(140), TlvError, "long length for less"),
        (bytes(140) + bytes.fromhex("02030000"), TlvError, "type 02 TLV at byte 156"),
        (bytes.fromhex("010200") + bytes(141), TlvError, "not 3 bytes"),
        (bytes(143) + b"\x03", NdefLengthError, "runs past"),
        (bytes.fromhex("0203180004 0305") + bytes(137), NdefLengthError, "runs past"),
    ],
    ids=[
        "all-null",
        "terminator-first",
        "empty-ndef",
        "length-beyond",
        "long-length-beyond",
        "long-form-for-less",
        "control-past-the-end",
        "control-wrong-size",
        "type-at-the-last-byte",
        "memory-control-reserves-the-rest",
    ],
)
def test_lying_tlvs_raise_typed_errors(area: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        walk(area)


@given(st.binary(min_size=8, max_size=160).map(lambda b: b[: len(b) // 8 * 8]))
def test_any_data_area_ends_in_a_message_or_a_tag_error(area: bytes) -> None:
    try:
        found = walk(area)
    except (TagError, BlankTag):
        return
    assert all(16 <= position < 16 + len(area) for position in found.positions)


def test_the_data_area_image_and_its_capacity() -> None:
    message = ndef.encode_message(bytes(127))
    image = type2.data_area_image(message, 144)
    assert image[:2] == b"\x03\x8e" and image[2:144] == message  # exactly full: no Terminator
    shorter = type2.data_area_image(ndef.encode_message(bytes(120)), 144)
    assert shorter[137] == 0xFE and shorter[138:] == bytes(6)
    with pytest.raises(TagCapacityError, match="needs 145 bytes of the data area; the tag has 144"):
        type2.data_area_image(ndef.encode_message(bytes(128)), 144)
    long_image = type2.data_area_image(ndef.encode_message(bytes(300)), 496)
    assert long_image[:4] == b"\x03\xff\x01\x3e"


def test_the_write_order_zeroes_the_length_first_and_writes_it_last() -> None:
    factory = type2.factory_memory(NTAG213, bytes(7))[16:160]
    target = type2.data_area_image(ndef.encode_message(bytes(range(120))), 144)
    plan = type2.write_plan(factory, target)
    assert plan[0] == (4, b"\x03\x00" + target[2:4])
    assert plan[-1] == (4, target[:4])
    middle = [page for page, _ in plan[1:-1]]
    assert middle == sorted(middle) and 4 not in middle
    rewrite = type2.write_plan(target, target)
    assert rewrite == []


def test_a_new_credential_wipes_every_byte_of_the_old_one() -> None:
    old = type2.data_area_image(ndef.encode_message(b"\x55" * 126), 144)
    new = type2.data_area_image(ndef.encode_message(b"\x66" * 40), 144)
    memory = bytearray(old)
    for page, data in type2.write_plan(old, new):
        memory[(page - 4) * 4 : (page - 3) * 4] = data
    assert bytes(memory) == new and b"\x55" not in memory


def test_a_rewrite_of_the_same_length_zeroes_the_length_first() -> None:
    # A renewal, or another name of as many bytes: page 4 (03 LL D4 0C) is the same in
    # both images, yet the pages after it differ, so the length must still go first.
    old = type2.data_area_image(ndef.encode_message(b"\x55" * 120), 144)
    new = type2.data_area_image(ndef.encode_message(b"\x66" * 120), 144)
    assert old[:4] == new[:4]
    plan = type2.write_plan(old, new)
    assert plan[0] == (4, b"\x03\x00" + new[2:4])
    assert plan[-1] == (4, new[:4])
    assert [page for page, _ in plan].count(4) == 2


def test_a_blank_ndef_tlv_needs_no_zeroing_write() -> None:
    blank = type2.data_area_image(b"", 144)[:2] + bytes(142)
    target = type2.data_area_image(ndef.encode_message(bytes(10)), 144)
    plan = type2.write_plan(blank, target)
    assert plan[-1][0] == 4 and [page for page, _ in plan].count(4) == 1


def test_lock_bits() -> None:
    nothing = type2.lock_state(NTAG213, bytes(4), bytes.fromhex("e1101200"), bytes(4))
    assert nothing.locked(NTAG213) is False and not nothing.locked_pages
    everything = type2.lock_state(
        NTAG213, bytes.fromhex("0000ffff"), bytes.fromhex("e110120f"), bytes.fromhex("ffffff00")
    )
    assert everything.locked(NTAG213) is True
    assert everything.locked_pages == frozenset(range(3, 40))
    unread = type2.lock_state(NTAG215, bytes.fromhex("0000ffff"), bytes.fromhex("e1103e0f"), None)
    assert unread.locked(NTAG215) is None
    partial = type2.locked_pages(NTAG216, bytes.fromhex("1000"), bytes.fromhex("0120"))
    assert partial == frozenset({4, *range(16, 32), *range(224, 226)})
    no_cc_flag = type2.lock_state(
        NTAG213, bytes.fromhex("0000ffff"), bytes.fromhex("e1101200"), bytes.fromhex("ffffff00")
    )
    assert no_cc_flag.locked(NTAG213) is False


# Originality signatures: two real NTAG21x chips (UID and READ_SIG answer as published in
# open-source originality checkers), NXP's key, and the emulators' own test key.
REAL_NTAG = [
    ("04e10cda993c80", "8b76052ee42f5567beb53238b3e3f9950707c0dcc956b5c5efcfdb709b2d82b3"),
    ("04db0bda993c80", "6048efd9417cd10f6b7f1818d471a7fe5b46868d2eabdc6307a1e0aae139d8d0"),
]


@pytest.mark.parametrize(("uid", "signature"), REAL_NTAG)
def test_real_nxp_originality_signatures_verify(uid: str, signature: str) -> None:
    uid_bytes, sig = bytes.fromhex(uid), bytes.fromhex(signature)
    assert type2.originality_valid(uid_bytes, sig)
    assert not type2.originality_valid(uid_bytes[:-1] + b"\x81", sig)
    assert not type2.originality_valid(uid_bytes, sig[:-1] + bytes((sig[-1] ^ 1,)))
    assert not type2.originality_valid(uid_bytes, sig, keys=[])


def test_signing_for_emulators_round_trips_and_rejects_bad_input() -> None:
    public = _secp128r1.public_key(12345)
    signature = _secp128r1.sign(12345, b"\x04\x01\x02\x03\x04\x05\x06")
    assert _secp128r1.verify(public, b"\x04\x01\x02\x03\x04\x05\x06", signature)
    assert not _secp128r1.verify(public, b"\x04\x01\x02\x03\x04\x05\x07", signature)
    assert not _secp128r1.verify(public[:-1] + b"\x00", b"\x04", signature)  # not on the curve
    assert not _secp128r1.verify(public, b"\x04", bytes(32))  # r = s = 0
    assert not _secp128r1.verify(b"\x02" + public[1:17], b"\x04", signature)  # compressed


def _openssl(*args: str, data: bytes = b"") -> bytes:
    done = subprocess.run(["openssl", *args], input=data, capture_output=True, check=True)
    return done.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
@pytest.mark.parametrize("uid", ["04a1b2c3d4e5f6", "04ffffffffffff", "0400000000000001"])
def test_secp128r1_agrees_with_openssl(tmp_path: Path, uid: str) -> None:
    """OpenSSL signs and verifies raw secp128r1 ECDSA; ours must agree both ways."""
    message = bytes.fromhex(uid)
    key, data, signature_file = tmp_path / "key.pem", tmp_path / "uid", tmp_path / "sig"
    key.write_bytes(_openssl("ecparam", "-name", "secp128r1", "-genkey", "-noout"))
    data.write_bytes(message)
    public = _openssl("ec", "-in", str(key), "-pubout", "-outform", "DER")[-33:]
    der = _openssl("pkeyutl", "-sign", "-inkey", str(key), "-in", str(data))
    r, s = decode_dss_signature(der)
    theirs = r.to_bytes(16, "big") + s.to_bytes(16, "big")
    assert _secp128r1.verify(public, message, theirs)
    assert not _secp128r1.verify(public, message[:-1] + b"\x00", theirs)

    text = _openssl("ec", "-in", str(key), "-text", "-noout").decode()
    private = int("".join(text.split("priv:")[1].split("pub:")[0].split()).replace(":", ""), 16)
    assert _secp128r1.public_key(private) == public
    ours = _secp128r1.sign(private, message)
    signature_file.write_bytes(
        encode_dss_signature(int.from_bytes(ours[:16], "big"), int.from_bytes(ours[16:], "big"))
    )
    verified = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-inkey",
            str(key),
            "-in",
            str(data),
            "-sigfile",
            str(signature_file),
        ],
        capture_output=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_uid_check_bytes() -> None:
    assert type2.uid_pages(bytes.fromhex("04a1b2c3d4e5f6")).hex() == "04a1b29fc3d4e5f60448"
    with pytest.raises(ValueError, match="7 bytes"):
        type2.uid_pages(bytes(4))
