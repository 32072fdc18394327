"""Reading, verifying, writing and locking credentials on tags, through nfcpy."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityid_card import IssuerKey, TrustStore, type2
from cityid_card.errors import BadSignature, CredentialError, MalformedCredential
from cityid_card.iso7816 import CardApplication, personalize
from cityid_card.iso7816.errors import CardAuthenticationError
from cityid_card.iso7816.isodep import EmulatedIsoDep
from cityid_card.media import Authenticity, medium_for, verify_bytes
from cityid_card.media.errors import UnsupportedMedium
from cityid_card.status import CredentialStatus
from cityid_card.type2 import ndef
from cityid_card.type2.emulator import TEST_ORIGINALITY_KEY, EmulatedNtag
from cityid_card.type2.errors import (
    BlankTag,
    CapabilityContainerError,
    NdefLengthError,
    NotOurTag,
    TagCapacityError,
    TagError,
    TagLocked,
    TagNotBlank,
    TagProtocolError,
    TagRemoved,
    TagUidMismatch,
    TagWriteError,
    TlvError,
    UnsupportedTag,
)
from cityid_card.type2.session import (
    Contents,
    TagSession,
    personalize_tag,
    read_tag,
    verify_tag,
    write_tag,
)
from tests.conftest import sample_credential

from .conftest import TODAY, UID, Field


def test_a_whole_ntag213_credential_is_read_in_one_frame(
    field: Field, ntag213: EmulatedNtag, reference: bytes, es256_trust: TrustStore
) -> None:
    written = write_tag(
        field.tag(ntag213), reference, trust=es256_trust, now=TODAY, open_record=True
    )
    assert (written.size, written.replaced, written.locked) == (120, Contents.BLANK, False)
    assert written.verification is not None
    assert written.verification.authenticity is Authenticity.SIGNATURE_ONLY
    tag = field.tag(ntag213)
    activation = tag.frames
    result = verify_tag(tag, es256_trust, TODAY)
    assert (result.facts.exchanges, tag.frames - activation, activation) == (1, 1, 2)
    facts = result.facts
    assert (facts.product, facts.locked, facts.originality) == ("NTAG213", False, None)
    assert result.status is CredentialStatus.UNKNOWN  # the result has .status, as any
    assert result.authenticity is Authenticity.SIGNATURE_ONLY
    assert read_tag(field.tag(ntag213)) == (reference, False, 1)


@pytest.mark.parametrize(
    ("product", "max_recv", "frames"),
    [
        (type2.NTAG213, 262, 1),
        (type2.NTAG215, 262, 1),
        (type2.NTAG216, 262, 1),
        (type2.NTAG213, 64, 3),  # a reader with 64-byte frames: 16 pages a frame
        (type2.NTAG215, 16, 10),  # a 16-byte reader: 4 pages a frame, up to page 38 only
    ],
)
def test_fast_read_frames_follow_the_readers_frame_size(
    field: Field,
    product: type2.Product,
    max_recv: int,
    frames: int,
    reference: bytes,
) -> None:
    tag = EmulatedNtag(product, uid=UID)
    write_tag(field.tag(tag), reference, open_record=True)
    assert read_tag(field.tag(tag, max_recv=max_recv)) == (reference, False, frames)


def test_a_long_credential_on_an_ntag216_takes_a_second_frame(
    field: Field, es256: IssuerKey
) -> None:
    long = es256.issue(sample_credential(gender="Y" * 32, card_key=bytes([3]) + bytes(32)))
    assert len(long) > type2.DATA_AREA_START + 160
    tag = EmulatedNtag(type2.NTAG216, uid=UID)
    write_tag(field.tag(tag), long, open_record=True)
    assert read_tag(field.tag(tag)) == (long, False, 2)


def test_tags_other_than_ntag21x_are_read_through_nfcpys_generic_path(
    field: Field, reference: bytes
) -> None:
    tag = EmulatedNtag(type2.NTAG213, uid=UID)
    write_tag(field.tag(tag), reference, open_record=True)
    # No GET_VERSION: nfcpy takes it for an NTAG203, and FAST_READ is not used.
    tag.fault = lambda frame: b"\x00" if frame[:1] in (b"\x60", b"\x3a") else None
    connection = field.tag(tag)
    assert connection.product is None and connection.nfcpy_product == "NXP NTAG203"
    blob, locked, frames = read_tag(connection)
    assert (blob, locked, frames) == (reference, False, 10)  # READ, 16 bytes a frame
    with pytest.raises(UnsupportedTag, match="writing needs an NTAG213"):
        write_tag(field.tag(tag), reference, open_record=True)


def test_uid_binding_and_originality(
    field: Field, es256: IssuerKey, es256_trust: TrustStore
) -> None:
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    blob, written = personalize_tag(
        field.tag(tag), es256, sample_credential(), today=TODAY, open_record=True
    )
    assert written.verification is not None and written.writes > 30
    assert written.verification.authenticity is Authenticity.TAG_UID_BOUND
    assert written.verification.facts.originality is False  # the emulator is no NXP chip
    result = verify_tag(field.tag(tag), es256_trust, TODAY, originality_keys=[TEST_ORIGINALITY_KEY])
    assert (result.authenticity, result.facts.originality, result.facts.exchanges) == (
        Authenticity.ORIGINALITY_CHECKED,
        True,
        2,
    )
    # A clone with the same UID that cannot answer READ_SIG: still UID bound.
    tag.fault = lambda frame: b"\x00" if frame[:1] == b"\x3c" else None
    result = verify_tag(field.tag(tag), es256_trust, TODAY, originality_keys=[TEST_ORIGINALITY_KEY])
    assert (result.authenticity, result.facts.originality) == (Authenticity.TAG_UID_BOUND, None)
    # The same bytes on another tag: rejected, never a lower level.
    other = EmulatedNtag(type2.NTAG215)
    TagSession(field.tag(other)).write_message(ndef.encode_message(blob))
    with pytest.raises(TagUidMismatch, match="copied to this tag"):
        verify_tag(field.tag(other), es256_trust, TODAY)
    with pytest.raises(TagUidMismatch, match="never verify"):
        write_tag(field.tag(other), blob, open_record=True)


def test_a_uid_bound_24_character_name_needs_more_than_an_ntag213(
    field: Field, ntag213: EmulatedNtag, es256: IssuerKey
) -> None:
    with pytest.raises(TagCapacityError, match="needs 148 bytes of the data area; the tag has 144"):
        personalize_tag(
            field.tag(ntag213),
            es256,
            sample_credential(status_index=2**32 - 1),
            today=TODAY,
            open_record=True,
        )
    assert ntag213.writes == 0
    _, written = personalize_tag(
        field.tag(ntag213),
        es256,
        sample_credential(name="Ana Rivera Delgado", status_index=2**32 - 1),
        today=TODAY,
        open_record=True,
    )
    assert written.size == 124


def test_only_a_blank_or_own_tag_is_written_unless_forced(
    field: Field, ntag213: EmulatedNtag, reference: bytes, es256: IssuerKey
) -> None:
    field.tag(ntag213)._tag.ndef.records = [_uri_record()]
    with pytest.raises(NotOurTag, match="needs force"):
        write_tag(field.tag(ntag213), reference, open_record=True)
    forced = write_tag(field.tag(ntag213), reference, force=True, open_record=True)
    assert forced.replaced is Contents.FOREIGN
    assert b"example" not in ntag213.memory  # nothing of the URL is left
    renewed = es256.issue(sample_credential(expires=TODAY.replace(year=2032)))
    again = write_tag(field.tag(ntag213), renewed, open_record=True)
    assert again.replaced is Contents.CREDENTIAL and again.writes < forced.writes
    assert write_tag(field.tag(ntag213), renewed, open_record=True).writes == 0
    assert read_tag(field.tag(ntag213))[0] == renewed


def test_another_holders_credential_is_overwritten_only_when_forced(
    field: Field, ntag213: EmulatedNtag, reference: bytes, es256: IssuerKey
) -> None:
    write_tag(field.tag(ntag213), reference, open_record=True)
    other = es256.issue(sample_credential(name="Bea Quinta Plimsoll Ruiz"))
    with pytest.raises(TagNotBlank, match="another holder's credential: overwriting"):
        write_tag(field.tag(ntag213), other, open_record=True)
    born = es256.issue(sample_credential(date_of_birth=TODAY.replace(year=1991)))
    with pytest.raises(TagNotBlank):
        write_tag(field.tag(ntag213), born, open_record=True)
    assert read_tag(field.tag(ntag213))[0] == reference
    assert (
        write_tag(field.tag(ntag213), other, force=True, open_record=True).replaced
        is Contents.CREDENTIAL
    )
    assert read_tag(field.tag(ntag213))[0] == other


def test_with_a_trust_store_a_credential_that_fails_is_never_written(
    field: Field, ntag213: EmulatedNtag, reference: bytes, es256_trust: TrustStore
) -> None:
    forged = bytearray(reference)
    forged[-1] ^= 0x01  # the last byte of the signature
    writes = ntag213.writes
    with pytest.raises(BadSignature):
        write_tag(field.tag(ntag213), bytes(forged), trust=es256_trust, now=TODAY, open_record=True)
    assert ntag213.writes == writes
    assert TagSession(field.tag(ntag213)).contents() is Contents.BLANK
    stranger = IssuerKey.generate("ES256", kid="CHI-NFC-1").issue(sample_credential())
    with pytest.raises(CredentialError):
        write_tag(field.tag(ntag213), stranger, trust=es256_trust, now=TODAY, open_record=True)
    assert ntag213.writes == writes


def _uri_record() -> object:
    import ndef as ndeflib

    return ndeflib.UriRecord("https://example.org/a-long-enough-path")


def test_an_unformatted_tag_is_formatted_and_a_broken_one_is_foreign(
    field: Field, reference: bytes
) -> None:
    unformatted = EmulatedNtag(type2.NTAG213, uid=UID)
    unformatted.memory[12:24] = bytes(12)
    assert write_tag(field.tag(unformatted), reference, open_record=True).replaced is Contents.BLANK
    assert bytes(unformatted.memory[12:16]) == bytes.fromhex("e1101200")
    odd = EmulatedNtag(type2.NTAG213, uid=UID)
    odd.memory[12:16] = bytes.fromhex("e1200100")
    with pytest.raises(NotOurTag):
        write_tag(field.tag(odd), reference, open_record=True)
    with pytest.raises(TagWriteError, match="one-time"):
        write_tag(field.tag(odd), reference, force=True, open_record=True)


def test_writing_checks_the_credential_and_the_lock(
    field: Field, ntag213: EmulatedNtag, reference: bytes, es256_trust: TrustStore
) -> None:
    with pytest.raises(MalformedCredential):
        write_tag(field.tag(ntag213), b"\x84not a credential", open_record=True)
    written = write_tag(
        field.tag(ntag213), reference, lock=True, trust=es256_trust, now=TODAY, open_record=True
    )
    assert written.locked
    assert verify_tag(field.tag(ntag213), es256_trust, TODAY).locked is True
    with pytest.raises(TagLocked, match="read-only"):
        write_tag(field.tag(ntag213), reference, open_record=True)


def test_a_tag_that_fails_to_lock_is_reported(
    field: Field, ntag213: EmulatedNtag, reference: bytes
) -> None:
    ntag213.fault = lambda frame: b"\x0a" if frame[:2] == b"\xa2\x28" else None  # ACK, no-op
    with pytest.raises(TagWriteError, match="did not lock"):
        write_tag(field.tag(ntag213), reference, lock=True, open_record=True)


def test_a_tag_that_refuses_a_page_or_reads_back_wrong(
    field: Field, ntag213: EmulatedNtag, reference: bytes
) -> None:
    ntag213.fault = lambda frame: b"\x00" if frame[:2] == b"\xa2\x0a" else None
    with pytest.raises(TagWriteError, match="refused to write page 10"):
        write_tag(field.tag(ntag213), reference, open_record=True)
    ntag213.fault = lambda frame: b"\x0a" if frame[:2] == b"\xa2\x0a" else None  # lies: ACK
    with pytest.raises(TagWriteError, match=r"does not read back as written|other bytes"):
        write_tag(field.tag(ntag213), reference, open_record=True)


@pytest.mark.parametrize(
    ("vector_memory", "error"),
    [
        (lambda m: m[:12] + b"\x00\x10\x12\x00" + m[16:], CapabilityContainerError),
        (lambda m: m[:12] + b"\xe1\x10\x13\x00" + m[16:], CapabilityContainerError),
        (lambda m: m[:16] + b"\x03\xc8" + m[18:], NdefLengthError),
        (lambda m: m[:16] + bytes(140) + b"\x02\x03\x00\x00" + m[160:], TlvError),
        (lambda m: m[:16] + b"\x03\x00" + m[18:], BlankTag),
    ],
    ids=["no-magic", "too-large", "length-beyond", "control-past-end", "blank"],
)
def test_hostile_tags_raise_typed_errors_through_the_whole_stack(
    field: Field,
    ntag213: EmulatedNtag,
    reference: bytes,
    es256_trust: TrustStore,
    vector_memory: object,
    error: type[Exception],
) -> None:
    write_tag(field.tag(ntag213), reference, open_record=True)
    assert callable(vector_memory)
    hostile = EmulatedNtag(type2.NTAG213, vector_memory(bytes(ntag213.memory)))
    with pytest.raises(error):
        verify_tag(field.tag(hostile), es256_trust, TODAY)
    assert hostile.frames <= 4  # GET_VERSION, the auth probe and at most two reads


def test_a_tag_that_stops_answering_or_babbles(
    field: Field, ntag213: EmulatedNtag, reference: bytes, es256_trust: TrustStore
) -> None:
    write_tag(field.tag(ntag213), reference, open_record=True)
    link = field.tag(ntag213)
    ntag213.answer_limit = ntag213.frames  # silent from the next frame on
    with pytest.raises(TagRemoved, match="stopped answering"):
        verify_tag(link, es256_trust, TODAY)
    ntag213.insert()
    ntag213.fault = lambda frame: b"\x01\x02\x03" if frame[:1] == b"\x3a" else None
    with pytest.raises(TagProtocolError, match="with 3 bytes"):
        verify_tag(field.tag(ntag213), es256_trust, TODAY)
    ntag213.fault = lambda frame: b"\x00" if frame[:1] == b"\x3a" else None
    with pytest.raises(TagProtocolError, match="with 1 bytes"):
        verify_tag(field.tag(ntag213), es256_trust, TODAY)


def test_no_tag_in_the_field_is_no_reader(field: Field, ntag213: EmulatedNtag) -> None:
    from cityid_card.media.errors import NoReader

    ntag213.in_field = False
    with pytest.raises(NoReader, match="no tag or card answered"):
        field.tag(ntag213)


def test_the_medium_of_a_link_comes_from_its_kind_tags_and_iso_dep_cards_alike(
    field: Field, ntag213: EmulatedNtag, es256: IssuerKey, es256_trust: TrustStore
) -> None:
    blob = es256.issue(sample_credential(name="Ana Rivera", tag_uid=UID))
    write_tag(field.tag(ntag213), blob, open_record=True)
    tag = medium_for(field.tag(ntag213))
    assert tag.kind == "nfc_tag"
    result = tag.verify(es256_trust, TODAY)
    assert result.authenticity is Authenticity.TAG_UID_BOUND
    assert (result.facts.kind, result.facts.reader, result.facts.product) == (
        "nfc_tag",
        "sim",
        "NTAG213",
    )
    application = CardApplication()
    medium_for(field.card(EmulatedIsoDep(application))).personalise(
        es256, sample_credential(), lock=False, today=TODAY
    )
    card = medium_for(field.card(EmulatedIsoDep(application)))
    assert card.kind == "chip_card"
    verified = card.verify(es256_trust, TODAY)
    assert verified.authenticity is Authenticity.CHIP_AUTHENTICATED
    # One result type for every medium, bytes included: the same five attributes.
    from_bytes = verify_bytes(blob, es256_trust, TODAY)
    for each in (result, verified, from_bytes):
        assert each.status is CredentialStatus.UNKNOWN and each.kid == "CHI-NFC-1"
        assert each.alg == "ES256" and each.credential.date_of_birth.year == 1990
    assert from_bytes.authenticity is Authenticity.SIGNATURE_ONLY
    # A credential that binds a UID is checked on a card too: never claimed unchecked.
    bound_card = CardApplication()
    uid = bytes.fromhex("08aabbcc")
    personalize(
        field.card(EmulatedIsoDep(bound_card)),
        es256,
        replace(sample_credential(), tag_uid=uid),
        today=TODAY,
    )
    same = medium_for(field.card(EmulatedIsoDep(bound_card, uid=uid))).verify(es256_trust, TODAY)
    assert same.authenticity is Authenticity.CHIP_AUTHENTICATED
    with pytest.raises(CardAuthenticationError, match="another card's UID"):
        medium_for(field.card(EmulatedIsoDep(bound_card))).verify(es256_trust, TODAY)
    with pytest.raises(UnsupportedMedium, match="personalised"):
        card.write(blob)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cc=st.sampled_from([b"\xe1\x10\x12\x00", b"\xe1\x10\x12\x0f", b"\xe1\x11\x08\x00"]),
    area=st.binary(min_size=144, max_size=144),
    prefix=st.sampled_from([b"", b"\x03", b"\x03\xff", b"\x01\x03", b"\x02\x03", b"\xfd"]),
)
def test_any_memory_gives_a_credential_or_a_typed_error_never_a_hang(
    cc: bytes, area: bytes, prefix: bytes
) -> None:
    memory = type2.factory_memory(type2.NTAG213, UID)
    memory = memory[:12] + cc + (prefix + area)[:144] + memory[160:]
    field = Field()
    try:
        with pytest.raises((TagError, BlankTag, TagProtocolError, CredentialError)):
            verify_tag(field.tag(EmulatedNtag(type2.NTAG213, memory)), TrustStore([]), TODAY)
    finally:
        field.close()


def test_a_data_area_of_null_tlvs_is_walked_in_whole_frames(field: Field) -> None:
    tag = EmulatedNtag(type2.NTAG216, uid=UID)
    tag.memory[16 : 16 + 872] = bytes(872)  # 872 NULL TLVs and no message
    with pytest.raises(BlankTag, match="no NDEF message"):
        TagSession(field.tag(tag)).read_credential()
    assert tag.frames <= 2 + 5  # activation, then 872 bytes in frames of 65 pages
