"""The reader loop with sealed NFC tags: the key from the card face's CIDS1 code, either order.

The tags are the NTAG215 emulator written sealed by the real tag code, read through
nfcpy (the driver's Type2Connection, as a real reader's) and through ``sim:ntag215``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cityid_card import qr
from cityid_card.desk import (
    Arrival,
    Can,
    FaceBox,
    NotASealKey,
    SealKey,
    SealKeyRequired,
    event_json,
    get_policy,
)
from cityid_card.desk.faces import parse_face
from cityid_card.media import Authenticity, Verification
from cityid_card.type2 import NTAG215
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card.type2.errors import SealError
from cityid_card.type2.session import personalize_tag
from cityid_card_nfc.driver import Type2Connection
from cityid_card_nfc.sim import open_emulated
from tests.conftest import sample_credential

from .conftest import DESK_NOW, HOLDER, Issuer
from .helpers import Field, kinds, personalized_card, run

TODAY = DESK_NOW.date()
KEY = bytes(range(16))
OTHER_KEY = bytes(range(16, 32))


def sealed_tag(issuer: Issuer, key: bytes = KEY) -> tuple[EmulatedNtag, str]:
    """An NTAG215 holding the sample credential sealed under ``key``, and its face's QR text."""
    tag = EmulatedNtag(NTAG215)
    link = open_emulated(tag)
    assert isinstance(link, Type2Connection)
    blob, _ = personalize_tag(link, issuer.key, sample_credential(), today=TODAY, seal_key=key)
    return tag, qr.encode_sealed(blob, key)


def test_tap_then_scan_the_face_shows_the_library_fields(issuer: Issuer) -> None:
    field, faces = Field(), FaceBox()
    tag, face = sealed_tag(issuer)
    steps: list[Callable[[], None]] = [
        lambda: field.put(tag),
        lambda: None,  # on the reader, no key yet: nothing new
        lambda: faces.give(face + "\r\n"),  # the scanner types the face's QR code
        lambda: None,  # read once: the tag stays, no new read
        lambda: None,
        field.take,
        lambda: None,
    ]
    events = run(issuer.trust, "field", field, steps, faces=faces)
    assert kinds(events) == ["SealKeyRequired", "valid", "removal"]
    waiting, read = events[0], events[1]
    assert isinstance(waiting, Arrival) and isinstance(waiting.error, SealKeyRequired)
    assert event_json(waiting, get_policy("library"), TODAY) == {
        "event": "arrival",
        "reader": "field",
        "valid": False,
        "error": "SealKeyRequired",
        "status_list_age_days": None,
    }
    assert isinstance(read, Arrival) and isinstance(read.result, Verification)
    # Bound to the tag's UID; the emulator's originality key is not NXP's.
    assert read.result.authenticity is Authenticity.TAG_UID_BOUND
    assert event_json(read, get_policy("library"), TODAY) == {
        "event": "arrival",
        "reader": "field",
        "valid": True,
        "name": HOLDER,
        "expires": "2031-11-20",
        "authenticity": "tag_uid_bound",
        "status_list_age_days": None,
    }
    assert not faces.armed


def test_scan_then_tap_and_the_key_opens_one_read_only(issuer: Issuer) -> None:
    field, faces = Field(), FaceBox()
    tag, face = sealed_tag(issuer)
    steps: list[Callable[[], None]] = [
        lambda: faces.give(face),
        lambda: field.put(tag),
        field.take,
        lambda: field.put(tag),  # the same tag again, no new scan: sealed again
        field.take,
    ]
    events = run(issuer.trust, "field", field, steps, faces=faces)
    assert kinds(events) == ["valid", "removal", "SealKeyRequired", "removal"]


def test_another_cards_face_is_a_typed_rejection_then_the_right_one_reads(
    issuer: Issuer,
) -> None:
    field, faces = Field(), FaceBox()
    tag, face = sealed_tag(issuer)
    _, other_face = sealed_tag(issuer, OTHER_KEY)
    steps: list[Callable[[], None]] = [
        lambda: faces.give(other_face),
        lambda: field.put(tag),
        lambda: faces.give(face),  # staff scan again, the tag still on the reader
        lambda: None,
        field.take,
    ]
    events = run(issuer.trust, "field", field, steps, faces=faces)
    assert kinds(events) == ["SealError", "valid", "removal"]
    wrong = events[0]
    assert isinstance(wrong, Arrival) and isinstance(wrong.error, SealError)
    shown = json.dumps(event_json(wrong, get_policy("benefits"), TODAY))
    for secret in ("Ana", "1990", OTHER_KEY.hex(), KEY.hex(), other_face[6:40]):
        assert secret not in shown and secret not in str(wrong.error)
    assert isinstance(events[1], Arrival) and events[1].valid


def test_a_key_is_forgotten_when_the_card_leaves_and_after_its_time(issuer: Issuer) -> None:
    field = Field()
    ticks = [0.0]
    faces = FaceBox(ttl=30.0, clock=lambda: ticks[0])
    tag, face = sealed_tag(issuer)

    def later() -> None:
        ticks[0] += 31.0

    steps: list[Callable[[], None]] = [
        lambda: field.put(personalized_card(issuer)),  # a contact card: it takes no key
        lambda: faces.give(face),
        field.take,  # the key is forgotten with the card
        lambda: field.put(tag),
        field.take,
        lambda: faces.give(face),
        later,  # not taken in 30 s: forgotten
        lambda: field.put(tag),
        field.take,
    ]
    events = run(issuer.trust, "field", field, steps, faces=faces)
    assert kinds(events) == [
        "valid",
        "removal",
        "SealKeyRequired",
        "removal",
        "SealKeyRequired",
        "removal",
    ]
    assert not faces.armed


def test_a_chip_cards_can_is_not_used_up_by_a_tag(issuer: Issuer) -> None:
    field, faces = Field(), FaceBox()
    tag, _ = sealed_tag(issuer)
    seen: list[bool] = []
    steps: list[Callable[[], None]] = [
        lambda: faces.give(qr.encode_can("123456")),
        lambda: field.put(tag),
        lambda: seen.append(faces.armed),  # the CAN still waits for its chip card
        field.take,
    ]
    events = run(issuer.trust, "field", field, steps, faces=faces)
    assert kinds(events) == ["SealKeyRequired", "removal"]
    assert seen == [True] and not faces.armed  # forgotten when the tag left


def test_the_sim_ntag215_reader_reads_a_sealed_image_with_its_face(
    issuer: Issuer, tmp_path: Path
) -> None:
    image = tmp_path / "tag.bin"
    tag, face = sealed_tag(issuer)
    image.write_bytes(bytes(tag.memory))
    faces = FaceBox()
    steps: list[Callable[[], None]] = [lambda: None, lambda: faces.give(face), *[lambda: None] * 5]
    events = run(issuer.trust, f"sim:ntag215:{image}", None, steps, faces=faces)
    assert kinds(events) == ["SealKeyRequired", "valid"]
    read = events[1]
    assert isinstance(read, Arrival) and isinstance(read.result, Verification)
    assert read.result.credential.name == HOLDER


@pytest.mark.parametrize(
    "text", ["CIDS1:", "CIDS1:ABC", "CIDS1:" + "0" * 20, "CIDS1:" + qr.encode_can("123456")]
)
def test_a_broken_sealed_face_code_is_refused_without_repeating_it(text: str) -> None:
    faces = FaceBox()
    with pytest.raises(NotASealKey) as info:
        faces.give(text)
    assert not faces.armed
    body = text.removeprefix("CIDS1:")
    assert not body or body not in str(info.value)


def test_a_face_secret_shows_no_value() -> None:
    faces = FaceBox()
    secret = parse_face(qr.encode_sealed(b"\xa1\x01\x02", KEY))
    faces.put(secret)
    assert secret == SealKey(KEY)
    assert KEY.hex() not in repr(secret) and repr(faces) == "FaceBox(armed=True)"
    assert faces.take(Can) is None and faces.armed  # a chip does not use up a tag's key
    assert faces.take(SealKey) == SealKey(KEY) and not faces.armed
