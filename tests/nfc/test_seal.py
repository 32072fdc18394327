"""Sealed tag records: a tap alone reads ciphertext; the face's QR code key opens it.

On the pure emulator (no nfcpy) and through nfcpy's own activation and transceive code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityid_card import IssuerKey, TrustStore, qr, type2
from cityid_card.media import Authenticity
from cityid_card.type2 import ndef, seal
from cityid_card.type2.emulator import TEST_ORIGINALITY_KEY, EmulatedNtag, EmulatedTagLink
from cityid_card.type2.errors import (
    NotOurTag,
    RecordChoiceError,
    SealedTag,
    SealError,
    TagCapacityError,
    TagNotBlank,
)
from cityid_card.type2.medium import NfcTag
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

KEY = bytes(range(16))
OTHER_KEY = bytes(range(1, 17))


def _data_area(tag: EmulatedNtag) -> bytes:
    size = tag.product.capability_container.size if tag.product is not None else 0
    return bytes(tag.memory[16 : 16 + size])


# The seal itself.


def test_a_seal_opens_with_its_key_only() -> None:
    credential = b"\xa5" * 120
    payload = seal.seal(credential, KEY)
    assert len(payload) == seal.sealed_size(120) == 253
    assert seal.unseal(payload, KEY) == credential
    with pytest.raises(SealError, match="does not open with this key"):
        seal.unseal(payload, OTHER_KEY)


def test_every_credential_up_to_222_bytes_seals_to_the_same_size() -> None:
    sizes = {len(seal.seal(b"\x01" * n, KEY)) for n in (1, 96, 120, 158, 222)}
    assert sizes == {253}
    assert len(seal.seal(b"\x01" * 223, KEY)) == len(seal.seal(b"\x01" * 315, KEY)) == 509
    with pytest.raises(ValueError, match="at most 478"):
        seal.seal(b"\x01" * 479, KEY)


def test_sealing_twice_gives_unrelated_bytes() -> None:
    one, two = seal.seal(b"same" * 30, KEY), seal.seal(b"same" * 30, KEY)
    assert one[0] == two[0] == seal.SEAL_VERSION
    assert one[1:13] != two[1:13]  # a fresh nonce
    assert sum(a == b for a, b in zip(one[13:], two[13:], strict=True)) < 20


@pytest.mark.parametrize("position", [0, 1, 12, 13, 100, 252])
def test_any_changed_byte_breaks_the_seal(position: int) -> None:
    payload = bytearray(seal.seal(b"\x02" * 120, KEY))
    payload[position] ^= 0x01
    with pytest.raises(SealError):
        seal.unseal(bytes(payload), KEY)


@pytest.mark.parametrize("size", [0, 1, 252, 254, 508, 510])
def test_a_payload_of_another_size_is_refused(size: int) -> None:
    with pytest.raises(SealError, match="version and size"):
        seal.unseal(bytes(size), KEY)


def test_a_short_credential_padded_to_the_large_class_is_refused() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce, aad = bytes(12), seal.SEALED_RECORD_TYPE + b"\x01"
    padded = (5).to_bytes(2, "big") + b"hello" + bytes(473)  # 480 bytes for 5
    payload = b"\x01" + nonce + AESGCM(KEY).encrypt(nonce, padded, aad)
    with pytest.raises(SealError, match="larger size"):
        seal.unseal(payload, KEY)


def test_padding_that_is_not_zeros_is_refused() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = bytes(12)
    aad = seal.SEALED_RECORD_TYPE + b"\x01"
    for padded in (
        (5).to_bytes(2, "big") + b"hello" + b"\x01" + bytes(216),  # a non-zero pad byte
        bytes(224),  # length 0
        (223).to_bytes(2, "big") + bytes(222),  # a length past the end
    ):
        payload = b"\x01" + nonce + AESGCM(KEY).encrypt(nonce, padded, aad)
        with pytest.raises(SealError, match="padding"):
            seal.unseal(payload, KEY)


@pytest.mark.parametrize("key", [b"", bytes(15), bytes(17), bytes(32)])
def test_a_key_of_another_length_is_refused(key: bytes) -> None:
    with pytest.raises(SealError, match="16 bytes"):
        seal.seal(b"x", key)
    with pytest.raises(SealError, match="16 bytes"):
        seal.unseal(bytes(253), key)


def test_new_keys_are_random() -> None:
    keys = {seal.new_key() for _ in range(64)}
    assert len(keys) == 64 and all(len(key) == 16 for key in keys)


def test_the_sealed_record_is_its_own_external_type() -> None:
    payload = seal.seal(b"\x03" * 120, KEY)
    message = ndef.encode_sealed_message(payload)
    assert message[:3] == bytes((0xD4, 12, 253)) and message[3:15] == b"cityid.org:s"
    assert ndef.decode_record(message) == ndef.TagRecord(True, payload)
    upper = message[:3] + b"CITYID.ORG:S" + message[15:]
    assert ndef.decode_record(upper).sealed
    with pytest.raises(SealedTag, match="sealed"):
        ndef.decode_message(message)
    assert ndef.decode_record(ndef.encode_message(b"\x04" * 9)) == ndef.TagRecord(
        False, b"\x04" * 9
    )


# A sealed tag on the pure emulator.


def test_a_tap_alone_reads_no_credential_byte_from_a_sealed_tag(es256: IssuerKey) -> None:
    trust = TrustStore([es256.public()])
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    blob, written = personalize_tag(
        EmulatedTagLink(tag), es256, sample_credential(), today=TODAY, seal_key=KEY
    )
    assert written.verification is not None
    assert written.verification.authenticity is Authenticity.TAG_UID_BOUND
    image = bytes(tag.memory)
    for part in (blob, blob[-64:], b"Garc", sample_credential().name.encode()):
        assert part not in image
    with pytest.raises(SealedTag, match="key in the card face's QR code"):
        read_tag(EmulatedTagLink(tag))
    with pytest.raises(SealedTag):
        verify_tag(EmulatedTagLink(tag), trust, TODAY)
    with pytest.raises(SealError):
        verify_tag(EmulatedTagLink(tag), trust, TODAY, seal_key=OTHER_KEY)
    result = verify_tag(
        EmulatedTagLink(tag),
        trust,
        TODAY,
        seal_key=KEY,
        originality_keys=[TEST_ORIGINALITY_KEY],
    )
    assert result.authenticity is Authenticity.ORIGINALITY_CHECKED
    assert result.credential.name == sample_credential().name
    assert read_tag(EmulatedTagLink(tag), KEY)[0] == blob
    assert TagSession(EmulatedTagLink(tag)).sealed()


def test_two_sealed_tags_of_the_same_holder_differ_only_in_uid_and_ciphertext(
    es256: IssuerKey,
) -> None:
    first, second = EmulatedNtag(type2.NTAG215, uid=UID), EmulatedNtag(type2.NTAG215)
    for tag in (first, second):
        personalize_tag(
            EmulatedTagLink(tag), es256, sample_credential(), today=TODAY, seal_key=seal.new_key()
        )
    one, two = _data_area(first), _data_area(second)
    header = 4 + 3 + 12 + 1  # TLV (long form: 268 bytes), record header, type, version
    assert one[:header] == two[:header]
    end = header + 12 + 240  # nonce, ciphertext and GCM tag
    assert one[end] == two[end] == 0xFE and one[end + 1 :] == two[end + 1 :] == bytes(496 - end - 1)
    assert one[header:end] != two[header:end]
    # a short name and a long one look alike too
    third = EmulatedNtag(type2.NTAG215)
    personalize_tag(
        EmulatedTagLink(third),
        es256,
        sample_credential(name="Li"),
        today=TODAY,
        seal_key=seal.new_key(),
    )
    assert len(one.rstrip(b"\0")) == len(_data_area(third).rstrip(b"\0"))


def test_a_sealed_credential_does_not_fit_an_ntag213(es256: IssuerKey, reference: bytes) -> None:
    tag = EmulatedNtag(type2.NTAG213, uid=UID)
    factory = bytes(tag.memory)
    with pytest.raises(TagCapacityError, match="NTAG215 or NTAG216"):
        write_tag(EmulatedTagLink(tag), reference, seal_key=KEY)
    assert bytes(tag.memory) == factory  # refused before any write
    write_tag(EmulatedTagLink(tag), reference, open_record=True)  # the open record fits, as before


def test_rewriting_a_sealed_tag_needs_its_key_or_force(es256: IssuerKey) -> None:
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    blob = es256.issue(sample_credential())
    write_tag(EmulatedTagLink(tag), blob, seal_key=KEY)
    assert TagSession(EmulatedTagLink(tag)).contents() is Contents.CREDENTIAL
    with pytest.raises(TagNotBlank):
        write_tag(EmulatedTagLink(tag), blob, seal_key=OTHER_KEY)  # whose is it? unknown
    renewed = write_tag(EmulatedTagLink(tag), blob, seal_key=KEY)  # the same face's key
    assert renewed.replaced is Contents.CREDENTIAL
    write_tag(EmulatedTagLink(tag), blob, seal_key=OTHER_KEY, force=True)
    assert read_tag(EmulatedTagLink(tag), OTHER_KEY)[0] == blob
    write_tag(EmulatedTagLink(tag), blob, force=True, open_record=True)  # back to the open record
    assert read_tag(EmulatedTagLink(tag))[0] == blob


def test_the_medium_seals_and_opens(es256: IssuerKey) -> None:
    trust = TrustStore([es256.public()])
    tag = EmulatedNtag(type2.NTAG216, uid=UID)
    medium = NfcTag(EmulatedTagLink(tag), originality_keys=[TEST_ORIGINALITY_KEY])
    done = medium.personalise(es256, sample_credential(), lock=False, today=TODAY, seal_key=KEY)
    again = NfcTag(EmulatedTagLink(tag), originality_keys=[TEST_ORIGINALITY_KEY])
    assert again.read(seal_key=KEY).blob == done.blob
    with pytest.raises(SealedTag):
        again.read()
    result = again.verify(trust, TODAY, seal_key=KEY)
    assert result.authenticity is Authenticity.ORIGINALITY_CHECKED
    # the face's QR code carries the key: the verifier takes it from there
    text = qr.encode_sealed(done.blob, KEY)
    assert again.verify(trust, TODAY, seal_key=qr.seal_key(text)).credential.name


def test_a_tag_write_must_choose_sealed_or_open_before_anything_is_signed_or_written(
    es256: IssuerKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open record is an explicit opt-in in the core API, as on the command line."""
    from cityid_card.drivers import SimConnection
    from cityid_card.iso7816.applet import CardApplication
    from cityid_card.iso7816.medium import ChipCard
    from cityid_card.media import medium_for
    from cityid_card.media.errors import MediumError, UnsupportedMedium

    credential = sample_credential()
    blob = es256.issue(credential)
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    factory = bytes(tag.memory)
    signed: list[object] = []

    def spy(self: IssuerKey, claims: object) -> bytes:
        signed.append(claims)
        return b""

    monkeypatch.setattr(IssuerKey, "issue", spy)
    medium = medium_for(EmulatedTagLink(tag))
    writes: list[Callable[[], object]] = [
        lambda: write_tag(EmulatedTagLink(tag), blob),
        lambda: personalize_tag(EmulatedTagLink(tag), es256, credential, today=TODAY),
        lambda: medium.write(blob),
        lambda: medium.personalise(es256, credential, lock=True, today=TODAY),
    ]
    for write in writes:
        with pytest.raises(RecordChoiceError) as raised:
            write()
        assert str(raised.value) == (
            "a tag write must choose its record: seal_key=KEY seals it (a tap alone reads no "
            "personal byte; the key goes on the card face), open_record=True writes the open "
            "record, which any tap reads"
        )
        assert isinstance(raised.value, MediumError) and raised.value.medium == "nfc_tag"
    with pytest.raises(RecordChoiceError, match=r"^a tag write takes seal_key= or open_record"):
        write_tag(EmulatedTagLink(tag), blob, seal_key=KEY, open_record=True)
    with pytest.raises(RecordChoiceError, match="not both"):
        medium.personalise(
            es256, credential, lock=True, today=TODAY, seal_key=KEY, open_record=True
        )
    assert bytes(tag.memory) == factory and signed == []  # refused before anything
    # A chip card has no record a tap reads: a seal key is refused, the choice is moot.
    card = medium_for(SimConnection(CardApplication()))
    assert isinstance(card, ChipCard)
    with pytest.raises(UnsupportedMedium, match="seal_key seals an NFC tag's record"):
        card.personalise(es256, credential, lock=True, today=TODAY, seal_key=KEY)
    assert signed == []


def test_a_foreign_record_is_still_not_ours() -> None:
    message = ndef.encode_records(
        [ndef.NdefRecord(ndef.Tnf.EXTERNAL, b"cityid.org:x", payload=b"1")]
    )
    with pytest.raises(NotOurTag):
        ndef.decode_record(message)


# Through nfcpy's own code.


def test_a_sealed_tag_through_nfcpy(field: Field, es256: IssuerKey) -> None:
    trust = TrustStore([es256.public()])
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    blob, _ = personalize_tag(field.tag(tag), es256, sample_credential(), today=TODAY, seal_key=KEY)
    with pytest.raises(SealedTag):
        verify_tag(field.tag(tag), trust, TODAY)
    link = field.tag(tag)
    activation = link.frames
    result = verify_tag(link, trust, TODAY, seal_key=KEY)
    assert result.authenticity is Authenticity.TAG_UID_BOUND  # NXP's key: the test key differs
    assert result.credential.tag_uid == UID
    assert link.frames - activation == 3  # two FAST_READs (272 bytes) and READ_SIG
    assert read_tag(field.tag(tag), KEY)[0] == blob


@given(credential=st.binary(min_size=1, max_size=478), key=st.binary(min_size=16, max_size=16))
def test_any_credential_seals_and_opens_and_its_size_says_only_its_class(
    credential: bytes, key: bytes
) -> None:
    payload = seal.seal(credential, key)
    assert seal.unseal(payload, key) == credential
    assert len(payload) == (253 if len(credential) <= 222 else 509)
