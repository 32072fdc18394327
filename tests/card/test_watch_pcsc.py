"""The desk's reader loop (cityid_card.desk.watch) on the real PC/SC stack: pcscd and vpcd,
with a version 1 card and with a generation-2 card read with the CAN from its face.

Here, not in tests/desk/, because one pcscd serves the whole session (tests/card's
``pcsc`` fixture). A card put into the vpcd reader is verified once however long it
stays; pulling it out is a removal; putting it back is a new tap. Every event is
counted: pcscd reporting a card just pulled out for a moment is no tap (the pcsc
driver's reader waits for pcscd's next card event; tests/card/test_pcsc_reader.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cityid_card import IssuerKey, TrustStore, qr
from cityid_card.desk import Arrival, CanRequired, FaceBox, Removal, event_json, get_policy, watch
from cityid_card.desk.loop import ReaderEvent
from cityid_card.drivers import SimConnection
from cityid_card.iso7816 import CardApplication, personalize
from cityid_card.iso7816.gen2 import Disclosure, WrongCan
from cityid_card.media import Authenticity, Verification
from tests.card.loop_events import event_names
from tests.conftest import NOW, sample_credential
from tests.gen2.helpers import CAN as GEN2_CAN
from tests.gen2.helpers import TODAY as GEN2_TODAY
from tests.gen2.helpers import make_city

from .pcsc_stack import FaultyCard, PcscStack


def _until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the reader loop did not report it in time"
        time.sleep(0.02)


def test_the_reader_loop_on_pcsc(
    pcsc: PcscStack, es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    application = CardApplication()
    personalize(SimConnection(application), es256_key, sample_credential(), today=NOW.date())
    application.reset()
    card = FaultyCard(application)
    events: list[ReaderEvent] = []
    stop = threading.Event()

    def collect() -> None:
        for event in watch("pcsc", card_trust, interval=0.05, now=lambda: NOW, stop=stop):
            events.append(event)

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    try:
        with pcsc.card(card):
            _until(lambda: len(events) >= 1)
            time.sleep(1.0)  # the card stays: about 20 presence checks, no new verification
            assert len(events) == 1
        _until(lambda: len(events) >= 2)
        with pcsc.card(card):
            _until(lambda: len(events) >= 3)
        _until(lambda: len(events) >= 4)
    finally:
        stop.set()
        thread.join(10)
    assert len(events) == 4, event_names(events)
    first, removal, second, last = events
    assert isinstance(first, Arrival) and isinstance(first.result, Verification)
    assert first.result.authenticity is Authenticity.CHIP_AUTHENTICATED
    assert first.result.credential == sample_credential(card_key=first.result.credential.card_key)
    assert isinstance(removal, Removal) and isinstance(last, Removal)
    assert isinstance(second, Arrival) and second.valid


def test_the_reader_loop_reads_a_generation_2_card_on_pcsc(pcsc: PcscStack) -> None:
    """Tap, then scan the face: the museum pseudonym, over pyscard, pcscd and vpcd."""
    city = make_city()
    card = city.card(can=GEN2_CAN).application
    cans = FaceBox()
    events: list[ReaderEvent] = []
    stop = threading.Event()
    terminal = city.terminal("museum")

    def collect() -> None:
        for event in watch(
            "pcsc", city.trust, terminal=terminal, faces=cans, interval=0.05, stop=stop,
            now=lambda: GEN2_TODAY,
        ):  # fmt: skip
            events.append(event)

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    try:
        with pcsc.card(card):
            _until(lambda: len(events) >= 1)  # on the reader, no CAN yet
            cans.give("000000")  # another card's face: PACE fails
            _until(lambda: len(events) >= 2)
            cans.give(qr.encode_can(GEN2_CAN))
            _until(lambda: len(events) >= 3)
            time.sleep(0.5)  # the card stays: no new read
            assert len(events) == 3
        _until(lambda: len(events) >= 4)
        cans.give(GEN2_CAN)  # scan first, then tap
        with pcsc.card(card):
            _until(lambda: len(events) >= 5)
        _until(lambda: len(events) >= 6)
    finally:
        stop.set()
        thread.join(10)
    assert len(events) == 6, event_names(events)
    waiting, wrong, read, removal, again, last = events
    assert isinstance(waiting, Arrival) and isinstance(waiting.error, CanRequired)
    assert isinstance(wrong, Arrival) and isinstance(wrong.error, WrongCan)
    assert isinstance(read, Arrival) and isinstance(read.result, Disclosure)
    assert isinstance(again, Arrival) and isinstance(again.result, Disclosure)
    assert isinstance(removal, Removal) and isinstance(last, Removal)
    shown = event_json(read, get_policy("museum"), GEN2_TODAY)
    assert read.result.pseudonym is not None and len(read.result.pseudonym) == 32
    assert again.result.pseudonym == read.result.pseudonym  # the same card, the same museum
    assert shown["pseudonym"] == read.result.pseudonym.hex()
    assert set(shown) == {
        "event", "reader", "valid", "pseudonym", "authenticity", "status_list_age_days",
    }  # fmt: skip
    assert not cans.armed
