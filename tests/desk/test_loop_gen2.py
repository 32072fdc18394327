"""The reader loop with generation-2 cards: the CAN from the card face, in either order.

The cards are the real card application (cityid_card.iso7816.gen2), personalised by the
real terminal-side code, read through the loop's terminal session; the PC/SC run of
the same is tests/card/test_watch_pcsc.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from cityid_card import qr
from cityid_card.desk import (
    Arrival,
    Can,
    CanRequired,
    FaceBox,
    NotAFaceCode,
    SealKey,
    TerminalRequired,
    event_json,
    get_policy,
)
from cityid_card.desk.loop import ReaderEvent
from cityid_card.drivers import SimConnection
from cityid_card.iso7816.applet import CardApplication
from cityid_card.iso7816.gen2 import (
    Disclosure,
    EmulatedCard,
    Holder,
    TerminalAccess,
    WrongCan,
    personalize_gen2,
)
from cityid_card.iso7816.session import personalize
from cityid_card.media import Authenticity, Verification
from tests.conftest import sample_credential
from tests.gen2.helpers import CAN, HOLDER, TODAY, City, make_city

from .helpers import Field, kinds, run

NOW = datetime.combine(TODAY, datetime.min.time()).astimezone()
WRONG = "000000"


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()


def _run(
    city: City,
    field: Field,
    steps: list[Callable[[], None]],
    *,
    terminal: TerminalAccess | None,
    cans: FaceBox | None = None,
) -> list[ReaderEvent]:
    return run(city.trust, "field", field, steps, faces=cans, terminal=terminal, now=NOW)


def _gen2_card(city: City, can: str = CAN) -> CardApplication:
    return city.card(can=can).application


def test_tap_then_scan_the_face_reads_the_museum_pseudonym(city: City) -> None:
    field, cans = Field(), FaceBox()
    steps: list[Callable[[], None]] = [
        lambda: field.put(_gen2_card(city)),
        lambda: None,  # on the reader, no CAN yet: nothing new
        lambda: cans.give(qr.encode_can(CAN) + "\r\n"),  # the scanner types the face QR
        lambda: None,  # read once: the card stays, no new read
        lambda: None,
        field.take,
        lambda: None,
    ]
    events = _run(city, field, steps, terminal=city.terminal("museum"), cans=cans)
    assert kinds(events) == ["CanRequired", "valid", "removal"]
    waiting, read = events[0], events[1]
    assert isinstance(waiting, Arrival) and isinstance(waiting.error, CanRequired)
    assert isinstance(read, Arrival) and isinstance(read.result, Disclosure)
    assert read.result.authenticity is Authenticity.CHIP_AUTHENTICATED
    assert read.result.issuer == "CHI-2026-1"
    pseudonym = read.result.pseudonym
    assert pseudonym is not None and len(pseudonym) == 32
    shown = event_json(read, get_policy("museum"), TODAY)
    assert shown == {
        "event": "arrival",
        "reader": "field",
        "valid": True,
        "pseudonym": pseudonym.hex(),
        "authenticity": "chip_authenticated",
        "status_list_age_days": None,
    }
    assert event_json(waiting, get_policy("museum"), TODAY)["error"] == "CanRequired"
    assert not cans.armed


def test_scan_then_tap_and_the_pseudonym_is_the_same_each_visit(city: City) -> None:
    field, cans = Field(), FaceBox()
    card = _gen2_card(city)
    steps: list[Callable[[], None]] = [
        lambda: cans.give(CAN),  # six digits typed by hand
        lambda: field.put(card),
        lambda: None,
        field.take,
        lambda: cans.give(qr.encode_can(CAN)),
        lambda: field.put(card),
        field.take,
    ]
    events = _run(city, field, steps, terminal=city.terminal("museum"), cans=cans)
    assert kinds(events) == ["valid", "removal", "valid", "removal"]
    first, second = events[0], events[2]
    assert isinstance(first, Arrival) and isinstance(first.result, Disclosure)
    assert isinstance(second, Arrival) and isinstance(second.result, Disclosure)
    assert first.result.pseudonym == second.result.pseudonym


def test_a_wrong_can_is_a_typed_rejection_and_the_right_one_then_reads(city: City) -> None:
    field, cans = Field(), FaceBox()
    steps: list[Callable[[], None]] = [
        lambda: cans.give(WRONG),
        lambda: field.put(_gen2_card(city)),
        lambda: cans.give(CAN),  # staff scan again, the card still on the reader
        lambda: None,
        field.take,
    ]
    events = _run(city, field, steps, terminal=city.terminal("library"), cans=cans)
    assert kinds(events) == ["WrongCan", "valid", "removal"]
    wrong = events[0]
    assert isinstance(wrong, Arrival) and isinstance(wrong.error, WrongCan)
    shown = json.dumps(event_json(wrong, get_policy("library"), TODAY))
    assert "Ana" not in shown and WRONG not in shown and CAN not in shown
    assert "Ana" not in str(wrong.error) and WRONG not in str(wrong.error)
    read = events[1]
    assert isinstance(read, Arrival)
    library = event_json(read, get_policy("library"), TODAY)
    assert library["name"] == HOLDER.name and library["expires"] == "2031-11-20"
    assert len(library["pseudonym"]) == 64
    assert set(library) == {
        "event",
        "reader",
        "valid",
        "name",
        "expires",
        "pseudonym",
        "authenticity",
        "status_list_age_days",
    }


def test_age_check_shows_the_chips_one_bit(city: City) -> None:
    field, cans = Field(), FaceBox()
    terminal = city.terminal("age-check", age=18)
    steps: list[Callable[[], None]] = [lambda: cans.give(CAN), lambda: field.put(_gen2_card(city))]
    (event,) = _run(city, field, steps, terminal=terminal, cans=cans)
    shown = event_json(event, get_policy("age-check:18"), TODAY)
    assert shown["valid"] is True and shown["age_over_18"] is True
    assert set(shown) == {
        "event",
        "reader",
        "valid",
        "age_over_18",
        "authenticity",
        "status_list_age_days",
    }


def test_an_expired_card_says_so_itself(city: City) -> None:
    field, cans = Field(), FaceBox()
    old = Holder(HOLDER.name, HOLDER.date_of_birth, TODAY - timedelta(days=1))
    connection = SimConnection(EmulatedCard())
    personalize_gen2(connection, old, city.batch, can=CAN, today=TODAY - timedelta(days=60))
    connection.application.reset()
    steps: list[Callable[[], None]] = [
        lambda: cans.give(CAN),
        lambda: field.put(connection.application),
    ]
    (event,) = _run(city, field, steps, terminal=city.terminal("museum"), cans=cans)
    assert isinstance(event, Arrival) and type(event.error).__name__ == "Expired"
    assert event_json(event, get_policy("museum"), TODAY)["valid"] is False


def test_a_can_is_forgotten_when_the_card_leaves_and_after_its_time(city: City) -> None:
    field = Field()
    ticks = [0.0]
    cans = FaceBox(ttl=30.0, clock=lambda: ticks[0])
    version_1 = CardApplication()
    personalize(SimConnection(version_1), city.issuer, sample_credential(), today=TODAY)
    version_1.reset()

    def later() -> None:
        ticks[0] += 31.0

    steps: list[Callable[[], None]] = [
        lambda: field.put(version_1),  # a version 1 card: it takes no CAN
        lambda: cans.give(CAN),
        field.take,  # the CAN is forgotten with the card
        lambda: field.put(_gen2_card(city)),
        field.take,
        lambda: cans.give(CAN),
        later,  # not taken in 30 s: forgotten
        lambda: field.put(_gen2_card(city)),
        field.take,
    ]
    events = _run(city, field, steps, terminal=city.terminal("museum"), cans=cans)
    assert kinds(events) == [
        "valid",
        "removal",
        "CanRequired",
        "removal",
        "CanRequired",
        "removal",
    ]
    assert isinstance(events[0], Arrival) and isinstance(events[0].result, Verification)
    assert not cans.armed


def test_without_a_terminal_a_generation_2_card_asks_for_one(city: City) -> None:
    field = Field()
    steps: list[Callable[[], None]] = [lambda: field.put(_gen2_card(city)), field.take]
    events = _run(city, field, steps, terminal=None)
    assert kinds(events) == ["TerminalRequired", "removal"]
    assert isinstance(events[0], Arrival) and isinstance(events[0].error, TerminalRequired)


@pytest.mark.parametrize(
    "text",
    ["", "12345", "1234567", "CIDC1:12345", "CIDC1:1234567", "CID1:ABC", "١٢٣٤٥٦", "12 345"],
)
def test_only_a_face_code_or_six_digits_arm_the_box(text: str) -> None:
    cans = FaceBox()
    with pytest.raises(NotAFaceCode) as info:
        cans.give(text)
    assert not cans.armed
    assert (text.strip() not in str(info.value)) or text.strip() in ("", "CIDC1:")
    assert repr(cans) == "FaceBox(armed=False)"


def test_a_can_is_taken_once() -> None:
    cans = FaceBox()
    cans.give(" 123456\n")
    assert "123456" not in repr(cans)
    assert cans.take(SealKey) is None  # a tag does not use up a chip's CAN
    taken = cans.take(Can)
    assert taken == Can("123456") and "123456" not in repr(taken)
    assert cans.take(Can) is None
