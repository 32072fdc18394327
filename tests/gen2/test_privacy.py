"""What a skimmer and an over-curious terminal get from a generation-2 card: nothing more."""

from __future__ import annotations

from datetime import date

import pytest

from cityid_card.eac import P256, SessionKeys, commands, ta
from cityid_card.eac.sm import TerminalChannel
from cityid_card.iso7816.gen2.channel import LinkProcessor, SecureMessagingProcessor
from cityid_card.iso7816.gen2.constants import SW2
from cityid_card.iso7816.gen2.terminal import (
    pace_with_can,
    read_card_access,
    terminal_authentication,
)
from cityid_card.iso7816.vpcd import VpcdCard
from tests.gen2.helpers import CAN, HOLDER, OTHER, TODAY, City

#: What a reader without the CAN can send: SELECTs, reads, PACE, every INS, bad CLAs.
PROBES = [
    "00A4040C08F043495459494402",  # SELECT the generation-2 AID
    "00A4040008F043495459494401",  # SELECT the version 1 AID
    "00A4000C023F00",
    "00B09C0000",  # EF.CardAccess
    "00B09D0000",  # EF.CardSecurity
    "00B0830000",  # DG3
    "00B0840000",  # DG4
    "00B0880000",
    "00B08B0000",
    "00B0000000",
    "0084000008",
    "0088000020" + "00" * 32,
    "0022C1A40F800A04007F00070202040202830102",
    "10860000027C0000",
    "0022C1A40F800A04007F00070202040202830103",  # PACE with a PIN reference
    "0020800000",
    "0CB09C0000",
    "80CA9F7F00",
    "FFCA000000",
    "00",
    "00CA010100",
    "00DA010106313233343536",
    "0047800000",
    "0044000000",
] + [f"00{ins:02X}000000" for ins in range(0, 256, 2)]


def _answers(city: City, holder: object, can: str) -> list[bytes]:
    card = city.card(holder, can)  # type: ignore[arg-type]
    application = card.application
    answers = []
    for probe in PROBES:
        answer = application.process(bytes.fromhex(probe))
        # The PACE nonce is random on every card alike: compare its shape only.
        random_part = probe == "10860000027C0000" and answer[-2:] == b"\x90\x00"
        answers.append(bytes([len(answer)]) + answer[-2:] if random_part else answer)
    # A whole PACE run with a wrong CAN, and a malformed one, answer alike.
    link = LinkProcessor(card)
    read_card_access(link)
    for guess in ("000000", "999999"):
        try:
            pace_with_can(link, guess, lambda n: bytes(n))
        except Exception as error:
            answers.append(type(error).__name__.encode())
    return answers


def test_a_skimmer_without_the_can_cannot_tell_two_cards_apart(city: City) -> None:
    first = _answers(city, HOLDER, CAN)
    second = _answers(city, OTHER, "123456")
    assert first == second
    assert first[0][-2:] == b"\x90\x00" and first[3][-2:] == b"\x90\x00"  # not all errors
    for answer in first:
        assert HOLDER.name.encode() not in answer


def test_the_same_atr_on_every_card(city: City) -> None:
    atrs = {
        VpcdCard(city.card(holder, can).application).receive(b"\x00\x01\x04")
        for holder, can in ((HOLDER, CAN), (OTHER, "123456"))
    }
    assert len(atrs) == 1 and len(atrs.pop()) > 4


def test_a_wrong_can_and_a_malformed_pace_command_get_the_same_status_word(city: City) -> None:
    application = city.card().application
    mse = bytes.fromhex("0022C1A40F800A04007F00070202040202830102")
    malformed = [
        bytes.fromhex("0022C1A40F800A04007F00070202040202830103"),  # PIN instead of CAN
        bytes.fromhex("10860000047C02FF0000"),  # GA with garbage
        bytes.fromhex("00860000027C0000"),  # the last step first
    ]
    seen = set()
    for command in malformed:
        application.process(mse)
        seen.add(application.process(command))
    assert seen == {SW2.FAILED.to_bytes(2, "big")}


def _open_session(city: City, role: str) -> SecureMessagingProcessor:
    """PACE and TA for ``role`` against a fresh card, the channel left open."""
    card = city.card()
    link = LinkProcessor(card)
    read_card_access(link)
    keys, card_public = pace_with_can(link, CAN, lambda n: b"\x01" * n)
    sm = SecureMessagingProcessor(link, keys)
    access = city.terminal(role)
    aux = ta.auxiliary_data(date_of_expiry=TODAY) if role == "transit" else b""
    terminal_authentication(sm, access, card_public, aux, lambda n: b"\x02" * n)
    return sm


def test_the_card_itself_refuses_what_the_role_may_not_read(city: City) -> None:
    # A terminal that skips the rules of disclose(): the card enforces its rights.
    sm = _open_session(city, "transit")
    for sfi in (0x83, 0x84, 0x88, 0x8B):  # before CA: no data group at all
        assert sm.send(bytes([0x00, 0xB0, sfi, 0x00, 0x00]))[1] == SW2.SECURITY_STATUS_NOT_SATISFIED
    age = commands.verify_auxiliary_data(ta.ID_DATE_OF_BIRTH)
    assert sm.send(age)[1] == SW2.SECURITY_STATUS_NOT_SATISFIED


def test_commands_without_secure_messaging_end_the_session(city: City) -> None:
    card = city.card()
    link = LinkProcessor(card)
    read_card_access(link)
    pace_with_can(link, CAN, lambda n: b"\x03" * n)
    assert link.send(bytes.fromhex("00B0840000")) == (b"", SW2.SM_MISSING)
    # The keys are gone: even a correctly protected command is now refused.
    channel = TerminalChannel(SessionKeys(b"\x00" * 16, b"\x00" * 16))
    _, sw = link.send(channel.protect(bytes.fromhex("00B09C0000")))
    assert sw != SW2.OK


def test_age_dates_outside_the_terminal_window_are_refused(city: City) -> None:
    card = city.card()
    link = LinkProcessor(card)
    read_card_access(link)
    keys, card_public = pace_with_can(link, CAN, lambda n: b"\x04" * n)
    sm = SecureMessagingProcessor(link, keys)
    access = city.terminal("age-check")
    # Walking the date of birth down day by day: a date no whole number of years
    # before a day of the certificate's 30-day window.
    aux = ta.auxiliary_data(date_of_birth=date(1990, 7, 20))
    from cityid_card.iso7816.gen2 import TerminalRefused

    with pytest.raises(TerminalRefused):
        terminal_authentication(sm, access, card_public, aux, lambda n: b"\x05" * n)
    assert P256.size == 32
