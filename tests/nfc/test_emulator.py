"""nfcpy's own tag code against the emulators: activation, identification, NDEF, protect().

These tests use nfcpy's public tag API directly (not the cityid-card session), so they
show that the emulated tags behave as nfcpy expects real NTAG21x tags and ISO-DEP
cards to, and that what the cityid-card writer leaves on a tag is NDEF to nfcpy too.
"""

from __future__ import annotations

from typing import Any

import ndef as ndeflib
import nfc.tag.tt2
import nfc.tag.tt2_nxp
import nfc.tag.tt4
import pytest

from cityid_card import IssuerKey, TrustStore, type2
from cityid_card.iso7816 import CardApplication, CardSession, personalize, verify_card
from cityid_card.iso7816.isodep import EmulatedIsoDep
from cityid_card.media import Authenticity
from cityid_card.type2 import ndef
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card.type2.errors import NotOurTag
from cityid_card.type2.session import TagSession
from cityid_card_nfc.driver import IsoDepConnection
from cityid_card_nfc.emulator import EmulatedReader
from tests.conftest import NOW, sample_credential

from .conftest import UID, Field


@pytest.mark.parametrize(
    ("product", "nfcpy_class", "capacity"),
    [
        (type2.NTAG213, nfc.tag.tt2_nxp.NTAG213, 137),
        (type2.NTAG215, nfc.tag.tt2_nxp.NTAG215, 492),
        (type2.NTAG216, nfc.tag.tt2_nxp.NTAG216, 868),
    ],
)
def test_nfcpy_identifies_and_formats_each_emulated_ntag(
    field: Field, product: type2.Product, nfcpy_class: Any, capacity: int
) -> None:
    connection = field.tag(EmulatedNtag(product, uid=UID))
    tag = connection._tag
    assert type(tag) is nfcpy_class
    assert tag.identifier == UID and connection.product is product
    assert tag.ndef is not None and tag.ndef.length == 0
    assert (tag.ndef.capacity, tag.ndef.is_writeable) == (capacity, True)
    assert tag.is_present
    assert any("PACK0-PACK1" in line for line in tag.dump())


def test_nfcpy_reads_what_the_cityid_writer_wrote(field: Field, ntag213: EmulatedNtag) -> None:
    blob = bytes(range(120))
    TagSession(field.tag(ntag213)).write_message(ndef.encode_message(blob))
    tag = field.tag(ntag213)._tag
    (record,) = tag.ndef.records
    assert record.type == "urn:nfc:ext:" + ndef.RECORD_TYPE.decode()
    assert record.data == blob
    # nfcpy agrees the NDEF TLV sits at byte 16 with no Lock Control TLV in front of it.
    assert tag.ndef.capacity == 142


def test_a_tag_nfcpy_wrote_is_not_ours(field: Field, ntag213: EmulatedNtag) -> None:
    tag = field.tag(ntag213)._tag
    tag.ndef.records = [ndeflib.UriRecord("https://example.org")]
    link = field.tag(ntag213)
    with pytest.raises(NotOurTag, match="no cityid-card record"):
        TagSession(link).read_credential()


def test_nfcpy_protect_locks_the_emulated_tag_for_good(field: Field) -> None:
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    nfcpy_tag = field.tag(tag)._tag
    assert nfcpy_tag.protect() is True
    again = field.tag(tag)
    assert again._tag.ndef.is_writeable is False
    session = TagSession(again)
    session.read_lock_bytes()
    assert session.locked() is True
    with pytest.raises(nfc.tag.tt2.Type2TagCommandError):
        again._tag.write(4, b"\x03\x00\xfe\x00")  # a NAK: nfcpy reports an invalid page
    config = tag.memory[type2.NTAG215.config_page * 4 + 4]
    assert config & 0x40  # CFGLCK


def test_the_emulated_ntag_follows_the_data_sheet(field: Field, ntag213: EmulatedNtag) -> None:
    tag = field.tag(ntag213)
    assert tag.command(type2.read(44))[:4] == bytes(4)  # PACK reads as zeros
    assert tag.command(type2.read(43))[:8] == bytes(8)  # PWD too, rolling over to page 0
    assert tag.command(type2.read(43))[8:] == bytes(ntag213.memory[:8])
    assert tag.command(bytes((0x30, 45))) == b"\x00"  # beyond the memory: NAK, woken again
    assert tag.command(type2.fast_read(3, 3)) == bytes(ntag213.memory[12:16])
    assert tag.command(bytes((0x3A, 4, 3))) == b"\x00"  # first page after the last
    assert tag.command(type2.write(0, bytes(4))) == b"\x00"  # the UID is read-only
    assert tag.command(type2.write(2, b"\xff\xff\x08\x00")) == b"\x0a"
    assert bytes(ntag213.memory[8:12]) == bytes.fromhex("04480800")  # OTP, UID bytes kept
    assert tag.command(type2.write(3, b"\x00\x00\x00\x00")) == b"\x00"  # page 3 now locked
    assert tag.command(type2.read_sig()) == ntag213.signature
    assert tag.command(b"\x1b\xff\xff\xff\xff") == b"\x00"  # PWD_AUTH is not modelled


def test_static_block_lock_bits_freeze_the_lock_bits(field: Field, ntag213: EmulatedNtag) -> None:
    tag = field.tag(ntag213)
    assert tag.command(type2.write(2, b"\x00\x00\x06\x00")) == b"\x0a"  # BL 9-4 and BL 15-10
    assert tag.command(type2.write(2, b"\x00\x00\xf0\xff")) == b"\x0a"
    assert bytes(ntag213.memory[10:12]) == b"\x06\x00"  # frozen: no page got locked
    assert tag.command(type2.write(4, b"\x03\x00\xfe\x00")) == b"\x0a"


def test_dynamic_lock_bits_lock_pairs_of_pages_on_an_ntag213(
    field: Field, ntag213: EmulatedNtag
) -> None:
    tag = field.tag(ntag213)
    assert tag.command(type2.write(40, b"\x01\x00\x00\x00")) == b"\x0a"
    assert tag.command(type2.write(17, bytes(4))) == b"\x00"
    assert tag.command(type2.write(18, bytes(4))) == b"\x0a"


def test_a_silent_tag_times_out_in_nfcpy_without_waiting(field: Field) -> None:
    tag = EmulatedNtag(type2.NTAG213, uid=UID)
    nfcpy_tag = field.tag(tag)._tag
    tag.in_field = False
    assert nfcpy_tag.is_present is False
    with pytest.raises(nfc.tag.tt2.Type2TagCommandError) as caught:
        nfcpy_tag.read(4)
    assert caught.value.errno == nfc.tag.TIMEOUT_ERROR


def iso_dep(field: Field, application: CardApplication, **options: Any) -> IsoDepConnection:
    return field.card(EmulatedIsoDep(application), **options)


def test_nfcpy_activates_the_iso_dep_card_and_the_core_session_runs_over_it(
    field: Field,
) -> None:
    key = IssuerKey.generate("ES256", kid="CHI-ISO")
    application = CardApplication()
    card = iso_dep(field, application)
    assert isinstance(card._tag, nfc.tag.tt4.Type4ATag) and len(card.uid) == 4
    _, result = personalize(card, key, sample_credential(), lock=True, today=NOW.date())
    assert result.authenticity is Authenticity.CHIP_AUTHENTICATED
    assert card._tag.is_present
    again = iso_dep(field, application)
    start = again.frames
    verified = verify_card(again, TrustStore([key.public()]), NOW)
    assert verified.authenticity is Authenticity.CHIP_AUTHENTICATED and verified.locked
    assert again.frames - start == 3  # SELECT, READ BINARY, INTERNAL AUTHENTICATE
    assert card._tag.ndef is None  # no NDEF application: it is a cityid-card card


def test_iso_dep_chains_answers_longer_than_the_readers_frames(field: Field) -> None:
    key = IssuerKey.generate("ES256", kid="CHI-ISO")
    application = CardApplication()
    personalize(
        iso_dep(field, application), key, sample_credential(gender="X" * 32), today=NOW.date()
    )
    # A reader that takes 128-byte frames: nfcpy asks for FSD 128, the answer is chained.
    card = iso_dep(field, application, max_recv=200)
    session = CardSession(card)
    session.select()
    start = card.frames
    assert len(session.read_credential()) == 189
    assert card.frames - start == 2  # the I-block with the chaining bit, R(ACK), the rest


def test_the_emulated_reader_refuses_card_emulation() -> None:
    reader = EmulatedReader()
    with pytest.raises(nfc.clf.UnsupportedTargetError):
        reader.listen_tta(nfc.clf.LocalTarget(), 1.0)
    assert reader.sense_tta(nfc.clf.RemoteTarget("106A")) is None
    assert reader.sense_ttf(nfc.clf.RemoteTarget("212F")) is None
