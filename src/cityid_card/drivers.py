"""How the core reaches cards: the Connection protocol, reader URIs and installed drivers.

A connection is one method, ``transmit(apdu) -> (data, sw)``; the card protocols in
:mod:`cityid_card.iso7816` need nothing else. Drivers are separate packages (``drivers/``
in the repository) found through the entry-point group ``cityid_card.drivers``: an
entry point's name is a URI scheme, its object a callable that returns a
:class:`Driver`. The core never imports a reader library.

Reader URIs: ``pcsc`` (the first PC/SC reader with a card), ``pcsc:<index>``,
``pcsc:<name substring>``, and ``sim:card[:STATEFILE]``, the emulated card in this
process (built in, no driver package needed), its state kept in STATEFILE if given.

Other emulated readers come from driver packages too, through the entry-point group
``cityid_card.simulators``: an entry point's name is the emulator's name after ``sim:``
(``ntag213``, ``isodep``, ... from the nfc driver), its object a callable returning a
:class:`Driver` that is handed the whole target (``ntag213:IMAGEFILE``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from .errors import CardError, CardRemoved, DriverError, NoReader
from .iso7816.apdu import split_response
from .iso7816.applet import CardApplication, CardState

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "SIM_ENTRY_POINT_GROUP",
    "Connection",
    "Driver",
    "ReaderConnection",
    "ReaderInfo",
    "SimConnection",
    "SimDriver",
    "connect",
    "driver_names",
    "list_readers",
    "load_driver",
    "parse_uri",
]

ENTRY_POINT_GROUP = "cityid_card.drivers"
SIM_ENTRY_POINT_GROUP = "cityid_card.simulators"
#: Seconds a driver waits for a card, and for each answer, before TransportTimeout.
DEFAULT_TIMEOUT = 5.0
SIM_SCHEME = "sim"


@runtime_checkable
class Connection(Protocol):
    """A link to one card: send a command APDU, get the response data and status word.

    Implementations raise :class:`~cityid_card.errors.TransportError` subclasses when
    the link fails, and never return before the card answered or the timeout passed.
    """

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...


class ReaderConnection(Connection, Protocol):
    """A connection a driver opened to the card in one reader; close it when done."""

    @property
    def reader(self) -> str:
        """The reader's name, as its driver lists it."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ReaderInfo:
    """A reader a driver sees: the URI that opens it, its name, whether a card is in it."""

    uri: str
    name: str
    card_present: bool


class Driver(Protocol):
    """What a driver package registers in the ``cityid_card.drivers`` entry-point group."""

    def readers(self) -> list[ReaderInfo]:
        """The readers this driver sees; raise DriverError if it cannot look."""
        ...

    def open(self, target: str, *, timeout: float) -> ReaderConnection:
        """Connect to the card in the reader ``target`` names (the URI after ``scheme:``).

        Wait up to ``timeout`` seconds for a card; raise NoReader if there is none.
        """
        ...


def parse_uri(uri: str) -> tuple[str, str]:
    """Split a reader URI into its scheme and the driver's target (``pcsc:1`` -> pcsc, 1)."""
    scheme, _, target = uri.partition(":")
    if not scheme:
        raise DriverError("a reader URI starts with a driver name, e.g. pcsc or sim:card")
    return scheme, target


def _group(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=group):
        found.setdefault(entry_point.name, entry_point)
    return found


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return _group(ENTRY_POINT_GROUP)


def driver_names() -> list[str]:
    """The URI schemes of the built-in and the installed drivers."""
    return [SIM_SCHEME, *sorted(set(_entry_points()) - {SIM_SCHEME})]


def load_driver(scheme: str) -> Driver:
    """The driver for ``scheme``; raise DriverError if none is installed or it fails to load."""
    if scheme == SIM_SCHEME:
        return SimDriver()
    entry_point = _entry_points().get(scheme)
    if entry_point is None:
        raise DriverError(
            f"no driver for {scheme!r} is installed (installed: {', '.join(driver_names())})"
        )
    return _load(entry_point, f"the {scheme} driver")


def _load(entry_point: importlib.metadata.EntryPoint, what: str) -> Driver:
    try:
        factory: Callable[[], Driver] = entry_point.load()
        return factory()
    except Exception as error:  # a third-party package: whatever it raises, say which
        raise DriverError(f"{what} cannot be loaded: {type(error).__name__}: {error}") from None


@contextlib.contextmanager
def connect(uri: str, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[ReaderConnection]:
    """Open the card that reader URI ``uri`` names, for the duration of a ``with`` block."""
    scheme, target = parse_uri(uri)
    connection = load_driver(scheme).open(target, timeout=timeout)
    try:
        yield connection
    finally:
        connection.close()


def list_readers() -> dict[str, list[ReaderInfo] | CardError]:
    """What every driver sees: its readers, or the error that kept it from looking."""
    seen: dict[str, list[ReaderInfo] | CardError] = {}
    for scheme in driver_names():
        try:
            seen[scheme] = load_driver(scheme).readers()
        except CardError as error:
            seen[scheme] = error
    return seen


#: When a simulated removal strikes the command it is scheduled at: before the card
#: sees it, while the card processes it (see CardApplication.tear), or after the card
#: processed it but before the answer reached the reader.
RemovalStage = Literal["before", "during", "after"]


class SimConnection:
    """A connection to an emulated card in this process, able to pull the card out.

    :meth:`remove_at` schedules the card's removal at the ``index``-th command (0 is
    the first sent after scheduling); from then on :meth:`transmit` raises
    CardRemoved until :meth:`insert` puts the card back (powered up afresh).
    """

    def __init__(self, application: CardApplication, *, reader: str = "sim:card") -> None:
        self.application = application
        self._reader = reader
        self._removed = False
        self._removal: tuple[int, RemovalStage] | None = None
        self.transmitted = 0

    @property
    def reader(self) -> str:
        return self._reader

    def remove_at(self, index: int, stage: RemovalStage) -> None:
        self._removal = (self.transmitted + index, stage)

    def insert(self) -> None:
        self.application.reset()
        self._removed = False
        self._removal = None

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._removed:
            raise CardRemoved("the card was removed from the reader")
        index = self.transmitted
        self.transmitted += 1
        if self._removal is not None and self._removal[0] == index:
            stage = self._removal[1]
            if stage == "during":
                self.application.tear(apdu)
            elif stage == "after":
                self.application.process(apdu)
            self.application.reset()
            self._removed = True
            raise CardRemoved("the card was removed from the reader")
        return split_response(self.application.process(apdu))

    def close(self) -> None:
        self.application.reset()


class SimDriver:
    """The built-in ``sim`` driver: emulated readers in this process.

    ``sim:card`` is a blank emulated contact card; ``sim:card:STATEFILE`` loads it from
    STATEFILE (blank if it does not exist) and saves every change to it, so the card
    outlives the process. The other ``sim:`` readers (NFC tags, an ISO-DEP card) are
    dispatched to the driver packages registered in ``cityid_card.simulators``.
    """

    def _simulators(self) -> dict[str, importlib.metadata.EntryPoint]:
        return _group(SIM_ENTRY_POINT_GROUP)

    def readers(self) -> list[ReaderInfo]:
        found = [ReaderInfo("sim:card", "emulated cityid-card (in this process)", True)]
        seen: set[str] = set()
        for name, entry_point in sorted(self._simulators().items()):
            if entry_point.value in seen:
                continue
            seen.add(entry_point.value)
            try:
                found += _load(entry_point, f"the sim:{name} emulator").readers()
            except CardError:
                continue  # an emulator that cannot load is no reader; open() says why
        return found

    def open(self, target: str, *, timeout: float = DEFAULT_TIMEOUT) -> ReaderConnection:
        name, _, state_file = target.partition(":")
        if name == "card":
            return self.card(state_file)
        simulators = self._simulators()
        entry_point = simulators.get(name)
        if entry_point is None:
            known = ", ".join(f"sim:{n}" for n in ["card", *sorted(simulators)])
            raise NoReader(f"the sim driver has no reader {name!r} (it has {known})")
        return _load(entry_point, f"the sim:{name} emulator").open(target, timeout=timeout)

    def card(self, state_file: str = "") -> SimConnection:
        """The emulated contact card (``sim:card[:STATEFILE]``)."""
        if not state_file:
            return SimConnection(CardApplication())
        path = Path(state_file)
        application = CardApplication(CardState.load(path), on_commit=lambda s: s.save(path))
        return SimConnection(application, reader=f"sim:card:{os.fspath(path)}")
