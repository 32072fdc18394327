"""The PC/SC reader kept open between taps, on the real stack: pcscd and vsmartcard-vpcd.

One PC/SC context for the reader's life (counted by wrapping pyscard's
SCardEstablishContext), a card found while the reader waits in SCardGetStatusChange,
pcscd killed and restarted under the reader loop, close() releasing the context and
ending a wait (Ctrl-C too), and the two causes of a reader loop's spurious taps: a
pulled card that pcscd still reports, and the loop's short wait taken as the card's
answer time.
"""

from __future__ import annotations

import _thread
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from smartcard import scard

from cityid_card import IssuerKey, TrustStore
from cityid_card.desk import Arrival, Removal, watch
from cityid_card.desk.loop import ReaderEvent
from cityid_card.drivers import SimConnection, load_driver, open_reader
from cityid_card.iso7816 import CardApplication, CardSession, personalize
from cityid_card.iso7816.errors import CardRemoved
from cityid_card.media.errors import DriverError, NoReader
from cityid_card.sim_io import serve
from cityid_card_pcsc.pcsc import PcscReader
from tests.card.loop_events import event_names
from tests.conftest import NOW, sample_credential

from .pcsc_stack import STARTUP, VPCD_READER, FaultyCard, PcscStack

pytestmark = pytest.mark.usefixtures("pcsc")


class _Pcscd:
    """What pcscd reports of the vpcd reader, through a context of the test's own.

    Made before a test wraps SCardEstablishContext, so it is not counted.
    """

    def __init__(self) -> None:
        result, self.context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert result == scard.SCARD_S_SUCCESS

    def card_present(self) -> bool:
        watched = [(VPCD_READER, scard.SCARD_STATE_UNAWARE)]
        result, states = scard.SCardGetStatusChange(self.context, 0, watched)
        assert result == scard.SCARD_S_SUCCESS
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)

    def shows(self, present: bool) -> float:
        """Wait until pcscd reports the card in (or out); the time it did."""
        deadline = time.monotonic() + STARTUP
        while self.card_present() != present:
            assert time.monotonic() < deadline, "pcscd never reported the card"
            time.sleep(0.002)
        return time.monotonic()

    def release(self) -> None:
        scard.SCardReleaseContext(self.context)


@pytest.fixture
def pcscd() -> Iterator[_Pcscd]:
    watcher = _Pcscd()
    yield watcher
    watcher.release()


@contextlib.contextmanager
def _inserted(
    pcscd: _Pcscd, card: CardApplication | FaultyCard, *, until_gone: bool = True
) -> Iterator[None]:
    """The card in the vpcd reader for the block; then pulled, until pcscd reports it gone.

    (Put back before pcscd noticed, vpcd's card would be the same to pcscd, unpowered.)
    """
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(card,), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
        if until_gone:
            pcscd.shows(present=False)


def _contexts(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Wrap pyscard's SCardEstablishContext and SCardReleaseContext: the handles of each.

    (A context released late by an earlier test may show up in the second list.)
    """
    established: list[int] = []
    released: list[int] = []
    establish, release = scard.SCardEstablishContext, scard.SCardReleaseContext

    def established_one(scope: int) -> Any:
        result, handle = establish(scope)
        established.append(handle)
        return result, handle

    def released_one(handle: int) -> Any:
        released.append(handle)
        return release(handle)

    monkeypatch.setattr(scard, "SCardEstablishContext", established_one)
    monkeypatch.setattr(scard, "SCardReleaseContext", released_one)
    return established, released


def _personalised(issuer: IssuerKey) -> CardApplication:
    application = CardApplication()
    personalize(SimConnection(application), issuer, sample_credential(), today=NOW.date())
    application.reset()
    return application


def _until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the reader loop did not report it in time"
        time.sleep(0.005)


def _until_count(events: list[ReaderEvent], count: int) -> None:
    _until(lambda: len(events) >= count)


def _loop(
    trust: TrustStore, events: list[ReaderEvent], stop: threading.Event, interval: float = 0.05
) -> threading.Thread:
    def collect() -> None:
        for event in watch("pcsc", trust, interval=interval, now=lambda: NOW, stop=stop):
            events.append(event)

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    return thread


def test_the_reader_loop_keeps_one_context_for_three_taps(
    pcscd: _Pcscd,
    es256_key: IssuerKey,
    card_trust: TrustStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card = _personalised(es256_key)
    established, released = _contexts(monkeypatch)
    events: list[ReaderEvent] = []
    stop = threading.Event()
    thread = _loop(card_trust, events, stop)
    try:
        for tap in range(3):
            with _inserted(pcscd, card):
                _until_count(events, 2 * tap + 1)
            _until_count(events, 2 * tap + 2)
            time.sleep(0.2)  # the reader loop polls the empty reader a few times
    finally:
        stop.set()
        thread.join(10)
    assert event_names(events) == ["Arrival", "Removal"] * 3
    assert all(e.valid for e in events if isinstance(e, Arrival))
    assert len(established) == 1
    _until(lambda: established[0] in released, 5)  # the loop's end closed the reader


def test_a_card_inserted_while_the_reader_waits_is_found_at_once(
    pcscd: _Pcscd, es256_key: IssuerKey
) -> None:
    reader = open_reader("pcsc:0")
    found: list[float] = []

    def wait() -> None:
        link = reader.open_connection(timeout=10)
        found.append(time.monotonic())
        link.close()

    waiting = threading.Thread(target=wait, daemon=True)
    try:
        waiting.start()
        time.sleep(0.3)  # the reader is blocked in SCardGetStatusChange
        with _inserted(pcscd, _personalised(es256_key)):
            reported = pcscd.shows(present=True)
            waiting.join(10)
    finally:
        reader.close()
    assert found, "the reader did not find the card"
    # Within one interval of the reader loop (0.1 s) of pcscd reporting it.
    assert found[0] - reported < 0.1


def test_the_reader_loop_survives_a_pcscd_restart(
    pcsc: PcscStack,
    es256_key: IssuerKey,
    card_trust: TrustStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card = _personalised(es256_key)
    events: list[ReaderEvent] = []
    stop = threading.Event()
    thread = _loop(card_trust, events, stop)
    try:
        with pcsc.card(card):
            _until(lambda: len(events) >= 1)
        _until(lambda: len(events) >= 2)
        established, _ = _contexts(monkeypatch)
        pcsc.stop()  # pcscd goes away while the loop waits for a card on its context
        time.sleep(0.5)
        assert thread.is_alive()
        pcsc.start()
        with pcsc.card(card):
            _until(lambda: len(events) >= 3)
        _until(lambda: len(events) >= 4)
    finally:
        stop.set()
        thread.join(10)
    assert event_names(events) == ["Arrival", "Removal"] * 2
    assert all(e.valid for e in events if isinstance(e, Arrival))
    assert established  # a new context once pcscd was back


def test_close_releases_the_context_and_ends_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    established, released = _contexts(monkeypatch)
    reader = load_driver("pcsc").reader("0")
    assert isinstance(reader, PcscReader)
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            reader.open_connection(timeout=30)
        except BaseException as error:
            outcome.append(error)

    waiting = threading.Thread(target=wait, daemon=True)
    waiting.start()
    time.sleep(0.3)  # blocked in SCardGetStatusChange, for up to 30 s
    started = time.monotonic()
    reader.close()
    waiting.join(5)
    assert time.monotonic() - started < 1.0
    assert len(outcome) == 1 and isinstance(outcome[0], DriverError), outcome
    assert len(established) == 1
    _until(lambda: established[0] in released, 5)
    with pytest.raises(DriverError, match="closed"):
        reader.open_connection(timeout=0)


def test_ctrl_c_during_a_wait_cancels_it() -> None:
    """Ctrl-C in the thread that waits ends the wait: the reader answers again at once."""
    reader = PcscReader("0")
    interrupt = threading.Timer(0.3, _thread.interrupt_main)
    try:
        interrupt.start()
        with pytest.raises(KeyboardInterrupt):
            reader.open_connection(timeout=30)
        started = time.monotonic()
        with pytest.raises(NoReader):  # not queued behind a wait still blocking for 30 s
            reader.open_connection(timeout=0)
        assert time.monotonic() - started < 1.0
    finally:
        interrupt.cancel()
        reader.close()


def test_a_pulled_card_is_no_new_card_while_pcscd_still_reports_it(
    pcscd: _Pcscd, es256_key: IssuerKey
) -> None:
    """pcscd looks at vpcd every ~400 ms: for that long it reports a card already pulled."""
    reader = PcscReader("0")
    try:
        with _inserted(pcscd, _personalised(es256_key), until_gone=False):
            pcscd.shows(present=True)
            link = reader.open_connection(timeout=5)
        with pytest.raises(CardRemoved):  # the loop's presence check finds the card gone
            CardSession(link).select()
        link.close()
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            with pytest.raises(NoReader):
                reader.open_connection(timeout=0.02).close()
        pcscd.shows(present=False)
        with _inserted(pcscd, _personalised(es256_key)):  # a new card: found
            link = reader.open_connection(timeout=5)
            assert CardSession(link).select().locked is False
            link.close()
    finally:
        reader.close()


def test_the_wait_for_a_card_is_not_the_time_the_card_has_to_answer(
    pcscd: _Pcscd, es256_key: IssuerKey
) -> None:
    """The reader loop waits 50 ms for a card; the card may take longer to answer."""
    card = FaultyCard(_personalised(es256_key))

    def slow(apdu: bytes) -> None:
        time.sleep(0.15)

    card.fault = slow
    reader = PcscReader("0")
    try:
        with _inserted(pcscd, card):
            pcscd.shows(present=True)
            link = reader.open_connection(timeout=0.05)
            assert CardSession(link).select().locked is False
            link.close()
    finally:
        reader.close()


def test_a_card_slower_than_the_interval_is_one_tap(
    pcsc: PcscStack, es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    """A card answering in 80 ms under a 50 ms loop: one arrival, one removal, no more."""
    card = FaultyCard(_personalised(es256_key))
    card.fault = lambda apdu: time.sleep(0.08)
    events: list[ReaderEvent] = []
    stop = threading.Event()
    thread = _loop(card_trust, events, stop)
    try:
        with pcsc.card(card):
            _until(lambda: len(events) >= 1)
            time.sleep(1.0)
        _until(lambda: len(events) >= 2)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(10)
    assert event_names(events) == ["Arrival", "Removal"]
    assert isinstance(events[1], Removal)
