"""Tearing: a tag pulled away after any page of a write, at every page and every stage.

For each scenario the write is run once to count its WRITE commands; then, for every
one of them, a fresh copy of the old tag is pulled out of the field before the page
reaches the EEPROM, during the EEPROM write (the page keeps two new and two old bytes)
and after it (the ACK is lost). Put back and read by a new reader, the tag must read
as exactly one of three things: the old NDEF message (the old credential, verifying),
blank, or the new one (verifying). Anything else, a spliced credential that fails its
signature check included, is a failure: a verifier would report it as a forgery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import ndef as ndeflib
import pytest

from cityid_card import IssuerKey, TrustStore, type2
from cityid_card.media.errors import MediumError
from cityid_card.type2 import ndef
from cityid_card.type2.emulator import EmulatedNtag, Stage
from cityid_card.type2.errors import BlankTag, TagError, TagRemoved
from cityid_card.type2.session import TagSession, verify_tag, write_tag
from tests.conftest import sample_credential

from .conftest import TODAY, UID, Field

STAGES: tuple[Stage, ...] = ("before", "during", "after")
KEY = IssuerKey.generate("ES256", kid="CHI-TEAR")
TRUST = TrustStore([KEY.public()])
A = KEY.issue(sample_credential(status_index=2**32 - 1))
B = KEY.issue(sample_credential(status_index=2**32 - 1, expires=TODAY.replace(year=2032)))
#: Another holder whose name has as many bytes: a rewrite that leaves page 4 as it was.
OTHER = KEY.issue(sample_credential(name="Bea Quinta Plimsoll Ruiz", status_index=2**32 - 1))
SHORT = KEY.issue(sample_credential(name="Ana Rivera", status_index=3))
LONG = KEY.issue(
    sample_credential(
        name="A" * 100,
        gender="G" * 32,
        card_key=bytes([2]) + bytes(range(32)),
        tag_uid=UID,
        pseudonym_key=bytes([3]) + bytes(range(32)),
    )
)


def _tag(product: type2.Product, field: Field, before: bytes | None) -> EmulatedNtag:
    tag = EmulatedNtag(product, uid=UID)
    if before is not None:
        write_tag(field.tag(tag), before, open_record=True)
    return tag


def _foreign(field: Field) -> EmulatedNtag:
    tag = EmulatedNtag(type2.NTAG213, uid=UID)
    field.tag(tag)._tag.ndef.records = [ndeflib.UriRecord("https://example.org/" + "x" * 90)]
    return tag


#: How the tag is made, the credential written over it, and whether that needs force
#: (another holder's credential, or another application's data, is kept otherwise).
SCENARIOS: dict[str, tuple[Callable[[Field], EmulatedNtag], bytes, bool]] = {
    "blank-to-credential": (lambda f: _tag(type2.NTAG213, f, None), A, False),
    "renewal": (lambda f: _tag(type2.NTAG213, f, A), B, False),
    "same-length-name": (lambda f: _tag(type2.NTAG213, f, A), OTHER, True),
    "shorter": (lambda f: _tag(type2.NTAG213, f, A), SHORT, True),
    "longer": (lambda f: _tag(type2.NTAG213, f, SHORT), A, True),
    "foreign-forced": (_foreign, A, True),
    "long-form-length": (lambda f: _tag(type2.NTAG215, f, A), LONG, True),
}


#: What a tag reads as when it holds no NDEF message.
BLANK = b""


def _read_back(field: Field, tag: EmulatedNtag, seal_key: bytes | None = None) -> bytes:
    """What a new reader finds: the NDEF message's bytes, or BLANK.

    Any other outcome (a broken TLV, a malformed message) fails the test at once; a
    message that is a credential must also verify, so a splice of two credentials of
    the same length, which is well-formed NDEF and well-formed CBOR, fails here too.
    """
    tag.insert()
    session = TagSession(field.tag(tag))
    try:
        message = session.ndef_message()
    except BlankTag:
        return BLANK
    try:
        session.read_credential(seal_key)
    except TagError:
        return message  # another application's record: compared with the old message
    verify_tag(field.tag(tag), TRUST, TODAY, seal_key=seal_key)  # BadSignature for a splice
    return message


def _torn_copies(
    product: type2.Product, memory: bytes, writes: int
) -> Iterator[tuple[EmulatedNtag, tuple[int, Stage]]]:
    """For each of ``writes`` WRITEs and each stage: a tag holding ``memory`` that leaves
    the field at that WRITE, at that stage (and the pair, for assertion messages)."""
    for index in range(writes):
        for stage in STAGES:
            tag = EmulatedNtag(product, memory)
            tag.remove_at_write(index, stage)
            yield tag, (index, stage)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_torn_write_reads_as_the_old_credential_the_new_one_or_nothing(
    field: Field, scenario: str
) -> None:
    make, new, force = SCENARIOS[scenario]
    probe = make(field)
    old_memory = bytes(probe.memory)
    old = _read_back(field, probe)
    writes_before = probe.writes
    write_tag(field.tag(probe), new, force=force, open_record=True)
    count = probe.writes - writes_before
    assert count > 3
    written = _read_back(field, probe)
    assert written == ndef.encode_message(new)
    seen: set[bytes] = set()
    for tag, where in _torn_copies(probe.product, old_memory, count):
        with pytest.raises(TagRemoved):
            write_tag(field.tag(tag), new, force=force, open_record=True)
        found = _read_back(field, tag)
        assert found in (old, BLANK, written), where
        seen.add(found)
    # The old message survives until the first write; the new one appears with the last.
    assert seen == {old, BLANK, written}


def test_a_torn_lock_leaves_the_credential_readable(field: Field) -> None:
    probe = _tag(type2.NTAG213, field, A)
    old_memory = bytes(probe.memory)
    before = probe.writes
    write_tag(field.tag(probe), A, lock=True, open_record=True)
    count = probe.writes - before
    assert count == 4  # CC, static lock bytes, dynamic lock bytes, CFGLCK (nfcpy's protect)
    for tag, where in _torn_copies(type2.NTAG213, old_memory, count):
        with pytest.raises(MediumError):  # TagRemoved, or TagWriteError: did not lock
            write_tag(field.tag(tag), A, lock=True, open_record=True)
        assert _read_back(field, tag) == ndef.encode_message(A), where


SEAL_KEY = bytes(range(16))


class _FixedNonces:
    """Stands in for the secrets module in :mod:`cityid_card.type2.seal`: every write of
    the scenario then seals to the same bytes, so the torn copies can be compared."""

    @staticmethod
    def token_bytes(size: int) -> bytes:
        return bytes(range(100, 100 + size))


@pytest.mark.parametrize("sealed_before", [False, True], ids=["open-to-sealed", "sealed-renewal"])
def test_a_torn_sealed_write_reads_as_the_old_message_the_new_one_or_nothing(
    field: Field, monkeypatch: pytest.MonkeyPatch, sealed_before: bool
) -> None:
    from cityid_card.type2 import seal

    monkeypatch.setattr(seal, "secrets", _FixedNonces)
    probe = EmulatedNtag(type2.NTAG215, uid=UID)
    write_tag(
        field.tag(probe),
        A,
        seal_key=SEAL_KEY if sealed_before else None,
        open_record=not sealed_before,
    )
    old_memory = bytes(probe.memory)
    old = _read_back(field, probe, SEAL_KEY)
    before = probe.writes
    write_tag(field.tag(probe), B, seal_key=SEAL_KEY)
    count = probe.writes - before
    assert count > 3
    written = _read_back(field, probe, SEAL_KEY)
    assert written == ndef.encode_sealed_message(seal.seal(B, SEAL_KEY))
    seen: set[bytes] = set()
    for tag, where in _torn_copies(type2.NTAG215, old_memory, count):
        with pytest.raises(TagRemoved):
            write_tag(field.tag(tag), B, seal_key=SEAL_KEY)
        found = _read_back(field, tag, SEAL_KEY)
        assert found in (old, BLANK, written), where
        seen.add(found)
    assert seen == {old, BLANK, written}
