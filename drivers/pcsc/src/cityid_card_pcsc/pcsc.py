"""The PC/SC driver on pyscard: reader listing and connections with timeouts.

The only module of cityid-card that imports pyscard. It uses pyscard's thin
``smartcard.scard`` layer (the PC/SC calls themselves), so that every result code is
mapped to one typed error of :mod:`cityid_card.errors`.

pcsc-lite gives a card that stops answering as long as it likes (vsmartcard's vpcd
too), so every PC/SC call runs on a worker thread and the caller stops waiting after
the timeout. The stuck call keeps the context's lock, so nothing else may touch that
context: the connection is marked unusable, and the worker releases the context when
the call returns at last.

:class:`PcscReader` is the reader kept open between taps (``cityid-card watch``, a gate):
one context for its life, waiting for each card in SCardGetStatusChange on it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from smartcard import scard

from cityid_card.drivers import DEFAULT_TIMEOUT, ReaderInfo, describe_kind
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

__all__ = ["PcscConnection", "PcscDriver", "PcscReader"]

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
#: The codes that say the card left the reader (a card reset by another program is still there).
_CARD_PULLED = _CARD_GONE - {scard.SCARD_W_RESET_CARD}
#: A context's calls fail with these once pcscd stopped or restarted: establish a new one.
_CONTEXT_GONE = _SERVICE_GONE | {scard.SCARD_E_INVALID_HANDLE}
#: Seconds a reader ignores a card it found pulled out that pcscd still reports: pcscd
#: looks at a polled reader every 0.4 s, so by then it has seen the card go. Longer, it is
#: a card still there whose transaction broke (another program reset it): read it again.
_PULLED_HOLD = 2.0
#: Seconds between two checks, while a wait blocks, whether the reader was closed meanwhile.
_CANCEL_CHECK = 0.05


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

    def call(
        self,
        function: Callable[[], T],
        timeout: float,
        doing: str,
        while_waiting: Callable[[], object] | None = None,
    ) -> T:
        """``function``'s value, made on the worker; ``while_waiting`` runs every 50 ms meanwhile."""
        if self.stuck:
            raise TransportError("the connection is unusable since the reader stopped answering")
        call = _Call(function)
        self._calls.put(call)
        deadline = time.monotonic() + timeout
        while not call.done.wait(
            max(0.0, min(_CANCEL_CHECK, deadline - time.monotonic()))
            if while_waiting is not None
            else timeout
        ):
            if while_waiting is None or time.monotonic() >= deadline:
                self.stuck = True
                raise TransportTimeout(f"the card or reader did not answer within {timeout:g} s")
            while_waiting()
        if call.error is not None:
            raise call.error
        return call.value  # type: ignore[no-any-return]

    def submit(self, function: Callable[[], object]) -> None:
        """Run ``function`` on the worker after the queued calls; do not wait for it."""
        self._calls.put(_Call(function))

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

    def cancel(self) -> None:
        """End a SCardGetStatusChange blocking on the worker (PC/SC allows it from any thread)."""
        scard.SCardCancel(self.handle)

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


#: A watched reader's state after the reader was unplugged or its driver failed.
_READER_LEFT = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE


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

    def reader(self, target: str) -> PcscReader:
        """The reader ``target`` names, kept open for tap after tap (one PC/SC context).

        Raises DriverError if there is no PC/SC service.
        """
        return PcscReader(target)

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


class PcscReader:
    """A PC/SC reader kept open between taps: one PC/SC context, a connection per card.

    :meth:`open_connection` waits for a card with SCardGetStatusChange on the reader's
    context, then connects to it (SCardConnect; closing the link disconnects). ``timeout``
    here bounds every PC/SC call's answer, the wait of each :meth:`open_connection` its own.

    A card this reader's link found pulled out is not connected to again while pcscd
    still reports it (pcscd looks at a reader every few hundred ms, so it reports a
    pulled card for a moment): the reader waits for pcscd's next card event instead (or
    2 s: a card pcscd still reports then is there, and the next call reads it again).
    If pcscd stops or restarts, the context is dropped: that call raises TransportError
    and the next one establishes a new context. So does a card that stopped answering,
    whose call still holds the context (released when the call returns at last).
    :meth:`close` releases the context; from another thread it also ends a wait.
    """

    def __init__(self, target: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._target = target
        self._name = f"pcsc:{target}" if target else "pcsc"
        self._timeout = timeout
        self._lock = threading.Lock()
        self._closed = False
        #: Reader name -> pcscd's event counter of the card found pulled out there, and when.
        self._pulled: dict[str, tuple[int, float]] = {}
        self._context: _Context | None = _Context(timeout)  # DriverError without pcscd

    @property
    def name(self) -> str:
        return self._name

    def open_connection(
        self, *, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> PcscConnection:
        """Wait up to ``timeout`` seconds for a card in the reader; NoReader if none came."""
        if kind is not None and kind != ISO7816:
            raise UnsupportedMedium(f"a PC/SC reader gives {describe_kind(ISO7816)} only")
        deadline = time.monotonic() + timeout
        context = self._usable_context()
        try:
            return self._next_card(context, deadline)
        except DriverError as error:
            if self._closed:
                raise
            self._drop(context)  # pcscd stopped: a new context at the next call
            raise TransportError(str(error)) from None

    def close(self) -> None:
        """Release the context; a wait blocking in another thread ends with DriverError."""
        with self._lock:
            self._closed = True
            context, self._context = self._context, None
        if context is not None:
            context.cancel()
            context.release()

    def _usable_context(self) -> _Context:
        with self._lock:
            if self._closed:
                raise DriverError("the PC/SC reader was closed")
            if self._context is not None and self._context.worker.stuck:
                self._context.release()  # when the stuck call returns
                self._context = None
            if self._context is None:
                try:
                    self._context = _Context(self._timeout)
                except DriverError as error:  # pcscd is not back (yet): keep polling
                    raise TransportError(str(error)) from None
            return self._context

    def _drop(self, context: _Context) -> None:
        with self._lock:
            if self._context is context:
                self._context = None
                context.release()

    def _call_status(
        self, context: _Context, watched: list[tuple[str, int]], seconds: float, doing: str
    ) -> list[tuple[str, int]] | None:
        """SCardGetStatusChange: the readers' states, or None if none changed in ``seconds``."""
        wait_ms = max(1, int(seconds * 1000)) if seconds > 0 else 0

        def cancel_if_closed() -> None:
            if self._closed:
                context.cancel()

        try:
            result, states = context.worker.call(
                lambda: scard.SCardGetStatusChange(context.handle, wait_ms, watched),
                context.timeout + seconds,
                doing,
                while_waiting=cancel_if_closed if seconds > 0 else None,
            )
        except BaseException:
            context.cancel()  # a KeyboardInterrupt must not leave the wait blocking
            raise
        if result == scard.SCARD_E_TIMEOUT:
            return None
        if result == scard.SCARD_E_CANCELLED:
            if self._closed:
                raise DriverError("the PC/SC reader was closed")
            return None
        if result in _CONTEXT_GONE:
            raise DriverError(f"no PC/SC service while {doing}: is pcscd running?")
        _check(result, doing)
        return [(name, state) for name, state, _ in states]

    def _readers(self, context: _Context) -> list[str]:
        result, names = context.call(
            lambda: scard.SCardListReaders(context.handle, []), "listing the readers"
        )
        if result == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if result in _CONTEXT_GONE:
            raise DriverError("no PC/SC service while listing the readers: is pcscd running?")
        _check(result, "listing the readers")
        return list(names)

    def _next_card(self, context: _Context, deadline: float) -> PcscConnection:
        while True:
            candidates = _choose(self._readers(context), self._target)
            watched = [(name, scard.SCARD_STATE_UNAWARE) for name in candidates]
            states = self._call_status(context, watched, 0, "reading the reader states") or []
            while True:
                for name, state in states:
                    link = self._connect(context, name, state)
                    if link is not None:
                        return link
                left = deadline - time.monotonic()
                if left <= 0:
                    where = "any PC/SC reader" if len(candidates) > 1 else repr(candidates[0])
                    raise NoReader(f"no card in {where}")
                if not states:
                    break  # the look was cancelled (not by close): look again
                known = [(name, state & ~scard.SCARD_STATE_CHANGED) for name, state in states]
                changed = self._call_status(context, known, left, "waiting for a card")
                if changed is None:
                    continue  # the wait ended without a change: the deadline decides
                if any(state & _READER_LEFT for _, state in changed):
                    break  # a reader went away: list them again
                states = changed

    def _connect(self, context: _Context, name: str, state: int) -> PcscConnection | None:
        """A connection to the card in reader ``name`` if it holds one not found pulled out."""
        if not _present(state):
            self._pulled.pop(name, None)
            return None
        events = state >> 16  # pcscd counts the card events of a reader in the high bits
        pulled_at = self._pulled.get(name)
        if pulled_at is not None and pulled_at[0] == events:
            if time.monotonic() - pulled_at[1] < _PULLED_HOLD:
                return None  # pcscd still reports the card this reader found pulled out
            del self._pulled[name]

        def pulled() -> None:
            self._pulled[name] = (events, time.monotonic())

        try:
            return PcscConnection(context, name, shared=True, gone=pulled)
        except CardRemoved:  # pulled before we got to it: wait for pcscd to see it go
            return None


class PcscConnection:
    """A connection to the card in one PC/SC reader, inside a PC/SC transaction.

    An ISO 7816 link (``kind``) without a UID: a contact card answers no anticollision.
    It owns its context (closing it releases the context) unless a :class:`PcscReader`
    opened it on the reader's (``shared``); ``gone`` is called once the card is found
    pulled out.
    """

    kind = ISO7816
    uid = None

    def __init__(
        self,
        context: _Context,
        reader: str,
        *,
        shared: bool = False,
        gone: Callable[[], object] | None = None,
    ) -> None:
        self._context = context
        self._reader = reader
        self._shared = shared
        self._gone = gone
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
        self._check(result, "connecting to the card")
        self._pci = (
            scard.SCARD_PCI_T1 if protocol == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        )
        try:
            result = context.call(lambda: scard.SCardBeginTransaction(self._card), "locking")
            self._check(result, "taking the card for this connection")
        except BaseException:
            self._disconnect_later()
            raise

    @property
    def reader(self) -> str:
        return self._reader

    def _pulled(self) -> None:
        if self._gone is not None:
            self._gone()

    def _check(self, result: int, doing: str) -> None:
        if result in _CARD_PULLED:
            self._pulled()
        _check(result, doing)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._closed:
            raise TransportError("the connection is closed")
        command = list(apdu)
        result, response = self._context.call(
            lambda: scard.SCardTransmit(self._card, self._pci, command), "exchanging an APDU"
        )
        if result in _SERVICE_GONE:
            raise TransportError("the reader went away: the PC/SC service stopped")
        self._check(result, "exchanging an APDU")
        if not response:
            # What vpcd (and some readers) report for a card that stopped answering.
            self._pulled()
            raise CardRemoved("the card answered nothing: it was removed or lost power")
        return split_response(bytes(response))

    def _after(self, last: Callable[[], object]) -> None:
        """Run ``last`` on the worker; then release the context if this connection owns it."""
        if self._shared:
            self._context.worker.submit(last)
        else:
            self._context.release(last)

    def _disconnect_later(self) -> None:
        card = self._card
        self._after(lambda: scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD))

    def close(self) -> None:
        """End the transaction and disconnect; never blocks (a stuck worker does it later)."""
        if self._closed:
            return
        self._closed = True
        card = self._card

        def end() -> None:
            scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)

        self._after(end)
