"""The host session over the in-process emulator and over hostile scripted cards."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityid_card import CredentialError, IssuerKey, KeyOutsideValidity, TrustStore
from cityid_card.drivers import SimConnection
from cityid_card.iso7816 import (
    CardApplication,
    CardSession,
    personalize,
    read_card,
    verify_card,
)
from cityid_card.iso7816.errors import (
    ApduError,
    ApplicationNotFound,
    BlankCard,
    CardAuthenticationError,
    CardLocked,
    CardProtocolError,
    CardRemoved,
)
from cityid_card.media import Authenticity
from cityid_card.media.errors import MediumError, PersonalizationError
from tests.conftest import NOW, sample_credential

from .conftest import ScriptedConnection

FCI_INIT = (bytes.fromhex("6F038A0103"), 0x9000)
OK = (b"", 0x9000)


def fresh_card() -> SimConnection:
    return SimConnection(CardApplication())


def test_personalise_then_verify_with_active_authentication(
    es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    card = fresh_card()
    blob, personalised = personalize(
        card, es256_key, sample_credential(), lock=True, today=NOW.date()
    )
    assert personalised.authenticity == Authenticity.CHIP_AUTHENTICATED
    assert card.transmitted == 6
    session = CardSession(card)
    result = verify_card(card, card_trust, NOW, session=session)
    assert result.authenticity == Authenticity.CHIP_AUTHENTICATED
    assert result.locked is True
    assert result.credential.name == "Ana Sofia Rivera Delgado"
    assert result.credential.card_key is not None
    assert (result.kid, result.alg) == ("CHI-2026-CARD", "ES256")
    assert session.apdus == 3
    assert read_card(card) == blob


def test_a_credential_without_card_key_is_signature_only(
    es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    card = fresh_card()
    session = CardSession(card)
    session.select()
    session.generate_key()
    session.write_credential(es256_key.issue(sample_credential()))
    result = verify_card(card, card_trust, NOW, session=session)
    assert result.authenticity == Authenticity.SIGNATURE_ONLY
    assert result.locked is False
    assert session.apdus == 5  # no INTERNAL AUTHENTICATE was sent


def test_authenticity_levels_are_ordered() -> None:
    assert Authenticity.SIGNATURE_ONLY < Authenticity.CHIP_AUTHENTICATED


def test_a_copied_credential_fails_active_authentication(
    es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    blob, _ = personalize(fresh_card(), es256_key, sample_credential(), today=NOW.date())
    clone = fresh_card()
    session = CardSession(clone)
    session.select()
    session.generate_key()
    session.write_credential(blob)
    with pytest.raises(CardAuthenticationError, match="may be a copy") as caught:
        verify_card(clone, card_trust, NOW)
    assert isinstance(caught.value, CredentialError)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((b"", 0x6A88), "6A88 \\(referenced data"),
        ((b"", 0x6D00), "6D00"),
        ((bytes(63), 0x9000), "not a signature"),
        ((bytes(64), 0x9000), "may be a copy"),
        ((b"\xff" * 64, 0x9000), "may be a copy"),
    ],
)
def test_a_chip_that_cannot_prove_its_key_is_rejected(
    es256_key: IssuerKey, answer: tuple[bytes, int], message: str
) -> None:
    blob, _ = personalize(fresh_card(), es256_key, sample_credential(), today=NOW.date())
    script = ScriptedConnection([FCI_INIT, (blob, 0x6282), answer])
    with pytest.raises(CardAuthenticationError, match=message):
        verify_card(script, TrustStore([es256_key.public()]), NOW)


def test_transport_errors_during_authentication_stay_transport_errors(
    es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    card = fresh_card()
    personalize(card, es256_key, sample_credential(), today=NOW.date())
    card.remove_at(2, "before")
    with pytest.raises(CardRemoved):
        verify_card(card, card_trust, NOW)


def test_a_card_without_the_application(card_trust: TrustStore) -> None:
    with pytest.raises(ApplicationNotFound, match="no cityid-card application") as caught:
        verify_card(ScriptedConnection([(b"", 0x6A82)]), card_trust, NOW)
    assert (caught.value.sw, caught.value.command) == (0x6A82, "SELECT")


def test_a_blank_card(card_trust: TrustStore) -> None:
    with pytest.raises(BlankCard, match="no credential"):
        verify_card(fresh_card(), card_trust, NOW)


def test_a_credential_of_another_issuer_is_a_credential_error(
    es256_key: IssuerKey,
) -> None:
    card = fresh_card()
    personalize(card, es256_key, sample_credential(), today=NOW.date())
    other = TrustStore([IssuerKey.generate("ES256", kid="OTHER").public()])
    with pytest.raises(CredentialError, match="no trusted key"):
        verify_card(card, other, NOW)


def test_reading_a_long_credential_takes_more_apdus() -> None:
    script = ScriptedConnection(
        [FCI_INIT, (bytes(256), 0x9000), (bytes(256), 0x9000), (b"\x01", 0x6282)]
    )
    session = CardSession(script)
    session.select()
    assert session.read_credential() == bytes(512) + b"\x01"
    assert [c.hex().upper() for c in script.sent[1:]] == ["00B0810000", "00B0010000", "00B0020000"]
    exact = ScriptedConnection([(bytes(256), 0x9000), (b"", 0x6B00)])
    assert CardSession(exact).read_credential() == bytes(256)


def test_t0_cards_61xx_and_6cxx_are_followed() -> None:
    script = ScriptedConnection(
        [(b"", 0x6C05), (b"", 0x6105), (bytes.fromhex("6F038A0105"), 0x9000)]
    )
    assert CardSession(script).select().locked is True
    assert [c.hex().upper()[:10] for c in script.sent] == ["00A4040008", "00A4040008", "00C0000005"]


@pytest.mark.parametrize(
    ("answers", "error", "message"),
    [
        ([(b"", 0x6101)] * 10, CardProtocolError, "never ends"),
        ([(b"\x01\x02", 0x9000)], CardProtocolError, "not the application's FCI"),
        ([(bytes.fromhex("6F038A0107"), 0x9000)], CardProtocolError, "life cycle"),
        ([(b"", 0x6F00)], ApduError, "6F00 \\(no precise diagnosis\\)"),
        ([FCI_INIT, (bytes(300), 0x9000)], CardProtocolError, "more bytes than asked"),
        ([FCI_INIT, (b"", 0x9000)], CardProtocolError, "no data"),
        ([FCI_INIT, (b"", 0x6A82)], ApduError, "READ BINARY with 6A82"),
        ([FCI_INIT, *[(bytes(256), 0x9000)] * 5], CardProtocolError, "larger than any"),
        ([FCI_INIT, ("garbage", 0x9000)], CardProtocolError, "other than data and SW"),
        ([FCI_INIT, (b"", 0x10000)], CardProtocolError, "other than data and SW"),
    ],
)
def test_hostile_answers_raise_typed_errors(
    answers: list[tuple[bytes, int]], error: type[MediumError], message: str, card_trust: TrustStore
) -> None:
    with pytest.raises(error, match=message):
        verify_card(ScriptedConnection(answers), card_trust, NOW)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answers=st.lists(
        st.tuples(st.binary(max_size=300), st.integers(0, 0xFFFF)), min_size=12, max_size=12
    )
)
def test_any_answers_give_a_result_or_a_cityid_error(
    answers: list[tuple[bytes, int]], card_trust: TrustStore
) -> None:
    with contextlib.suppress(MediumError, CredentialError):
        verify_card(ScriptedConnection(answers), card_trust, NOW)


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ((b"", 0x6985), CardLocked, "cannot make a new key"),
        ((b"", 0x6A86), ApduError, "6A86"),
        ((bytes(70), 0x9000), CardProtocolError, "7F49 template"),
        ((b"\x7f\x49\x43\x86\x41\x04" + bytes(64), 0x9000), CardProtocolError, "P-256 point"),
    ],
)
def test_key_generation_answers(
    answer: tuple[bytes, int], error: type[MediumError], message: str, es256_key: IssuerKey
) -> None:
    script = ScriptedConnection([FCI_INIT, answer])
    with pytest.raises(error, match=message):
        personalize(script, es256_key, sample_credential(), today=NOW.date())


def test_personalising_a_locked_card(es256_key: IssuerKey) -> None:
    card = fresh_card()
    personalize(card, es256_key, sample_credential(), lock=True, today=NOW.date())
    before = card.application.state
    with pytest.raises(CardLocked, match="personalised for good"):
        personalize(card, es256_key, sample_credential(name="Someone Else"), today=NOW.date())
    assert card.application.state == before
    session = CardSession(card)
    session.select()
    with pytest.raises(CardLocked, match="cannot be changed"):
        session.write_credential(b"\x00")
    # A card that does not report its life cycle is stopped by GENERATE's status word.
    script = ScriptedConnection([(b"", 0x9000), (b"", 0x6985)])
    with pytest.raises(CardLocked):
        personalize(script, es256_key, sample_credential(), today=NOW.date())


def test_a_read_back_that_differs_is_a_personalisation_error(es256_key: IssuerKey) -> None:
    card = fresh_card()
    original = card.application.process

    def corrupt(apdu: bytes) -> bytes:
        response = original(apdu)
        if apdu[1] == 0xB0:
            return bytes([response[0] ^ 1]) + response[1:]
        return response

    card.application.process = corrupt  # type: ignore[method-assign]
    with pytest.raises(PersonalizationError, match="other bytes than were written"):
        personalize(card, es256_key, sample_credential(), lock=True, today=NOW.date())
    assert card.application.state.lifecycle == 0x03  # not locked


def test_a_chip_failing_authentication_is_a_personalisation_error(es256_key: IssuerKey) -> None:
    card = fresh_card()
    original = card.application.process

    def forged_signature(apdu: bytes) -> bytes:
        return bytes(64) + b"\x90\x00" if apdu[1] == 0x88 else original(apdu)

    card.application.process = forged_signature  # type: ignore[method-assign]
    with pytest.raises(PersonalizationError, match="CardAuthenticationError"):
        personalize(card, es256_key, sample_credential(), lock=True, today=NOW.date())
    assert card.application.state.lifecycle == 0x03


def test_an_issuer_key_outside_its_window_leaves_the_card_blank() -> None:
    card = fresh_card()
    retired = IssuerKey.generate("ES256", kid="OLD", valid_until=date(2020, 1, 1))
    with pytest.raises(KeyOutsideValidity, match="outside that window"):
        personalize(card, retired, sample_credential(), lock=True, today=NOW.date())
    assert card.application.state.ef == b""
    assert card.application.state.lifecycle == 0x03


STAGES = ("before", "during", "after")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("index", range(6))
def test_tearing_at_any_apdu_of_personalisation(
    index: int, stage: str, es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    """Pull the card at every command: it never verifies with other data than issued."""
    card = fresh_card()
    earlier, _ = personalize(
        card, es256_key, sample_credential(name="Wrong Name Typo"), today=NOW.date()
    )
    card.remove_at(index, stage)  # type: ignore[arg-type]
    intended = sample_credential()
    with pytest.raises(CardRemoved):
        personalize(card, es256_key, intended, lock=True, today=NOW.date())
    card.insert()
    try:
        result = verify_card(card, card_trust, NOW)
    except (MediumError, CredentialError):
        locked = card.application.state.lifecycle == 0x05
        assert not locked, "a locked card must verify"
    else:
        # Only two credentials can verify: the untouched earlier one (the tear came
        # before any change, and the card is still unlocked), or the intended one.
        if read_card(card) == earlier:
            assert index == 0 or (index, stage) in {(1, "before"), (1, "during")}
            assert result.locked is False
        else:
            assert replace(result.credential, card_key=None) == intended
            assert result.authenticity == Authenticity.CHIP_AUTHENTICATED
    card.insert()
    if card.application.state.lifecycle == 0x03:  # else the lock itself went through
        personalize(card, es256_key, intended, lock=True, today=NOW.date())
    assert verify_card(card, card_trust, NOW).credential.name == intended.name


def test_errors_never_carry_personal_data(es256_key: IssuerKey, card_trust: TrustStore) -> None:
    name, dob = "Ana Sofia Rivera Delgado", "1990"
    card = fresh_card()
    blob, _ = personalize(card, es256_key, sample_credential(), today=NOW.date())
    messages = []
    for damage in range(0, len(blob), 7):
        torn = bytearray(blob)
        torn[damage] ^= 0x55
        script = ScriptedConnection([FCI_INIT, (bytes(torn), 0x6282), (bytes(64), 0x9000)])
        try:
            verify_card(script, card_trust, NOW)
        except (MediumError, CredentialError) as error:
            messages.append(f"{error!s} {error!r}")
    clone = ScriptedConnection([FCI_INIT, (blob, 0x6282), (bytes(64), 0x9000)])
    with pytest.raises(CardAuthenticationError) as caught:
        verify_card(clone, card_trust, NOW)
    messages.append(f"{caught.value!s} {caught.value!r}")
    assert len(messages) > 10
    for message in messages:
        assert name not in message and "Rivera" not in message and dob not in message
        assert blob.hex() not in message and blob[10:30].hex() not in message
