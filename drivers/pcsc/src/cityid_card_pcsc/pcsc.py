"""The PC/SC driver on pyscard: reader listing and connections with timeouts.

The only module of cityid-card that imports pyscard. It uses pyscard's thin
``smartcard.scard`` layer (the PC/SC calls themselves), so that every result code is
mapped to one typed error of :mod:`cityid_card.errors`.

pcsc-lite gives a card that stops answering as long as it likes (vsmartcard's vpcd
too), so every PC/SC call runs on a worker thread and the caller stops waiting after
the timeout. The stuck call keeps the context's lock, so nothing else may touch that
context: the connection is marked unusable, and the worker releases the context when
the call returns at last.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from smartcard import scard

from cityid_card.drivers import DEFAULT_TIMEOUT, ReaderInfo, ReopeningReader, describe_kind
from cityid_card.iso7816.apdu import split_response
from cityid_card.iso7816.errors import CardRemoved
from cityid_card.media import ISO7816
from cityid_card.media.errors import (
    DriverError,
    MediumError,
    NoReader,
    TransportError,
    TransportTimeout,
    UnsupportedMedium,
)

__all__ = ["PcscConnection", "PcscDriver"]

T = TypeVar("T")

_CARD_GONE = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
    # Our transaction broke: the card was removed or reset under it.
    scard.SCARD_E_NOT_TRANSACTED,
}
_SERVICE_GONE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}
_READER_GONE = {
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}
#: Seconds the worker may take beyond a PC/SC call's own timeout before we give up.
_GRACE = 1.0


def _error(result: int, doing: str) -> MediumError:
    """The typed error for a PC/SC result code (pcsc-lite's text says no personal data)."""
    text = scard.SCardGetErrorMessage(result).rstrip(". ")
    if result in _CARD_GONE:
        return CardRemoved(f"the card went away while {doing} ({text})")
    if result in _SERVICE_GONE:
        return DriverError(f"no PC/SC service while {doing} ({text}): is pcscd running?")
    if result in _READER_GONE:
        return TransportError(f"the reader went away while {doing} ({text})")
    if result == scard.SCARD_E_NO_READERS_AVAILABLE:
        return NoReader("no PC/SC reader is connected")
    if result == scard.SCARD_E_TIMEOUT:
        return TransportTimeout(f"the reader did not answer while {doing} ({text})")
    return TransportError(f"PC/SC failed while {doing} ({text})")


@dataclass
class _Call:
    function: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class _Worker:
    """A daemon thread that makes the blocking PC/SC calls for one context."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.stuck = False
        threading.Thread(target=self._run, name="cityid-card-pcsc", daemon=True).start()

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                call.value = call.function()
            except BaseException as error:  # handed to the caller, who re-raises it
                call.error = error
            call.done.set()

    def call(self, function: Callable[[], T], timeout: float, doing: str) -> T:
        if self.stuck:
            raise TransportError("the connection is unusable since the reader stopped answering")
        call = _Call(function)
        self._calls.put(call)
        if not call.done.wait(timeout):
            self.stuck = True
            raise TransportTimeout(f"the card or reader did not answer within {timeout:g} s")
        if call.error is not None:
            raise call.error
        return call.value  # type: ignore[no-any-return]

    def finish(self, cleanup: Callable[[], object]) -> None:
        """Run ``cleanup`` after every queued call (now, or when a stuck one returns), then end."""
        self._calls.put(_Call(cleanup))
        self._calls.put(None)


def _check(result: int, doing: str) -> None:
    if result != scard.SCARD_S_SUCCESS:
        raise _error(result, doing)


class _Context:
    """A PC/SC context with its worker thread."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.worker = _Worker()
        result, self.handle = self.worker.call(
            lambda: scard.SCardEstablishContext(scard.SCARD_SCOPE_USER),
            timeout,
            "connecting to the PC/SC service",
        )
        if result != scard.SCARD_S_SUCCESS:
            self.worker.finish(lambda: None)
            raise _error(result, "connecting to the PC/SC service")

    def call(self, function: Callable[[], T], doing: str, extra: float = 0.0) -> T:
        return self.worker.call(function, self.timeout + extra, doing)

    def readers(self) -> list[str]:
        result, names = self.call(lambda: scard.SCardListReaders(self.handle, []), "listing")
        if result == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        _check(result, "listing the readers")
        return list(names)

    def states(self, names: list[str], wait_ms: int = 0) -> dict[str, int]:
        """Event state of each reader; with ``wait_ms``, wait that long for a change."""
        if not names:
            return {}
        current = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        result, states = self.call(
            lambda: scard.SCardGetStatusChange(self.handle, 0, current), "reading reader states"
        )
        _check(result, "reading the reader states")
        if wait_ms:
            watched = [(name, state) for name, state, _ in states]
            result, changed = self.call(
                lambda: scard.SCardGetStatusChange(self.handle, wait_ms, watched),
                "waiting for a card",
                extra=wait_ms / 1000,
            )
            if result != scard.SCARD_E_TIMEOUT:
                _check(result, "waiting for a card")
                states = changed
        return {name: state for name, state, _ in states}

    def release(self, first: Callable[[], object] | None = None) -> None:
        """Release the context (after ``first``), once the worker is free; never blocks."""
        handle = self.handle

        def cleanup() -> None:
            try:
                if first is not None:
                    first()
            finally:
                scard.SCardReleaseContext(handle)

        self.worker.finish(cleanup)


def _present(state: int) -> bool:
    return bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE


class PcscDriver:
    """The ``pcsc`` driver: readers of the PC/SC service, by index or name."""

    def readers(self) -> list[ReaderInfo]:
        context = _Context(DEFAULT_TIMEOUT)
        try:
            names = context.readers()
            states = context.states(names)
        finally:
            context.release()
        return [
            ReaderInfo(f"pcsc:{index}", name, _present(states.get(name, 0)))
            for index, name in enumerate(names)
        ]

    def reader(self, target: str) -> ReopeningReader:
        """The reader ``target`` names, for tap after tap (a PC/SC context per card)."""
        return ReopeningReader(self, target, f"pcsc:{target}" if target else "pcsc")

    def open(
        self, target: str, *, timeout: float = DEFAULT_TIMEOUT, kind: str | None = None
    ) -> PcscConnection:
        if kind is not None and kind != ISO7816:
            raise UnsupportedMedium(f"a PC/SC reader gives {describe_kind(ISO7816)} only")
        context = _Context(timeout)
        try:
            reader = _wait_for_card(context, target, time.monotonic() + timeout)
            return PcscConnection(context, reader)
        except BaseException:
            context.release()
            raise


def _choose(names: list[str], target: str) -> list[str]:
    """The readers ``target`` may mean, in order: all, one by index, or by name."""
    if not names:
        raise NoReader("no PC/SC reader is connected")
    if not target:
        return names
    if target.isdigit():
        index = int(target)
        if index >= len(names):
            raise NoReader(f"there is no PC/SC reader {index} (found {len(names)})")
        return [names[index]]
    matches = [name for name in names if target.casefold() in name.casefold()]
    if not matches:
        raise NoReader(f"no PC/SC reader's name contains {target!r}")
    return matches[:1]


def _wait_for_card(context: _Context, target: str, deadline: float) -> str:
    candidates = _choose(context.readers(), target)
    states = context.states(candidates)
    while True:
        for name in candidates:
            if _present(states.get(name, 0)):
                return name
        left = deadline - time.monotonic()
        if left <= 0:
            where = "any PC/SC reader" if len(candidates) > 1 else repr(candidates[0])
            raise NoReader(f"no card in {where}")
        states = context.states(candidates, wait_ms=max(1, int(left * 1000)))


class PcscConnection:
    """A connection to the card in one PC/SC reader, inside a PC/SC transaction.

    An ISO 7816 link (``kind``) without a UID: a contact card answers no anticollision.
    """

    kind = ISO7816
    uid = None

    def __init__(self, context: _Context, reader: str) -> None:
        self._context = context
        self._reader = reader
        self._closed = False
        result, self._card, protocol = context.call(
            lambda: scard.SCardConnect(
                context.handle,
                reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            ),
            "connecting to the card",
        )
        _check(result, "connecting to the card")
        self._pci = (
            scard.SCARD_PCI_T1 if protocol == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        )
        try:
            result = context.call(lambda: scard.SCardBeginTransaction(self._card), "locking")
            _check(result, "taking the card for this connection")
        except BaseException:
            self._disconnect_later()
            raise

    @property
    def reader(self) -> str:
        return self._reader

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._closed:
            raise TransportError("the connection is closed")
        command = list(apdu)
        result, response = self._context.call(
            lambda: scard.SCardTransmit(self._card, self._pci, command), "exchanging an APDU"
        )
        if result in _SERVICE_GONE:
            raise TransportError("the reader went away: the PC/SC service stopped")
        _check(result, "exchanging an APDU")
        if not response:
            # What vpcd (and some readers) report for a card that stopped answering.
            raise CardRemoved("the card answered nothing: it was removed or lost power")
        return split_response(bytes(response))

    def _disconnect_later(self) -> None:
        card = self._card
        self._context.release(lambda: scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD))

    def close(self) -> None:
        """End the transaction and disconnect; never blocks (a stuck worker does it later)."""
        if self._closed:
            return
        self._closed = True
        card = self._card

        def end() -> None:
            scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)

        self._context.release(end)
