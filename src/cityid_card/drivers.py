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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, overload, runtime_checkable

from cityid_card.iso7816.errors import CardRemoved
from cityid_card.media.errors import DriverError, MediumError, NoReader, UnsupportedMedium

from .iso7816.apdu import split_response
from .iso7816.applet import CardApplication
from .iso7816.gen2.chip import EmulatedCard
from .media import ISO7816, TYPE2, Link

if TYPE_CHECKING:
    from .type2.medium import TagInReader

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "SIM_ENTRY_POINT_GROUP",
    "Connection",
    "Driver",
    "Reader",
    "ReaderConnection",
    "ReaderInfo",
    "ReopeningReader",
    "SimConnection",
    "SimDriver",
    "connect",
    "describe_kind",
    "driver_names",
    "list_readers",
    "load_driver",
    "open_connection",
    "open_reader",
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
    """An ISO 7816 link a driver opened to the card in one reader; close it when done.

    It is a :class:`~cityid_card.media.Link` of kind ``iso7816``: a chip card, over
    contacts (``uid`` None) or ISO-DEP (``uid`` the card's anticollision UID).
    """

    @property
    def kind(self) -> str: ...

    @property
    def reader(self) -> str:
        """The reader's name, as its driver lists it."""
        ...

    @property
    def uid(self) -> bytes | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ReaderInfo:
    """A reader a driver sees: the URI that opens it, its name, whether a card is in it."""

    uri: str
    name: str
    card_present: bool


class Reader(Protocol):
    """A reader kept open between taps: one link per card or tag presented to it."""

    @property
    def name(self) -> str: ...

    def open_connection(self, *, kind: str | None = None, timeout: float = ...) -> Link:
        """Wait up to ``timeout`` seconds for the next card or tag; a link of ``kind``."""
        ...

    def close(self) -> None: ...


class Driver(Protocol):
    """What a driver package registers in the ``cityid_card.drivers`` entry-point group."""

    def readers(self) -> list[ReaderInfo]:
        """The readers this driver sees; raise DriverError if it cannot look."""
        ...

    def reader(self, target: str) -> Reader:
        """The reader ``target`` names, kept open between taps (see :class:`Reader`)."""
        ...

    def open(self, target: str, *, timeout: float, kind: str | None = None) -> Link:
        """Connect to the card in the reader ``target`` names (the URI after ``scheme:``).

        Wait up to ``timeout`` seconds for a card; raise NoReader if there is none. With
        ``kind``, open a link of that kind only, or raise UnsupportedMedium.
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


class ReopeningReader:
    """A :class:`Reader` for a driver with nothing to keep open: each tap opens afresh.

    For a driver with nothing to keep between taps (an emulator, a test's fake field); a
    driver with a device or a service session to keep (nfcpy's USB frontend, a PC/SC
    context) returns its own reader that keeps it.
    """

    def __init__(self, driver: Driver, target: str, name: str) -> None:
        self._driver = driver
        self._target = target
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def open_connection(self, *, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Link:
        return self._driver.open(self._target, timeout=timeout, kind=kind)

    def close(self) -> None:
        return None


def open_reader(uri: str) -> Reader:
    """The reader ``uri`` names, kept open between taps until closed.

    ``reader.open_connection(kind=...)`` then waits for each card or tag in turn;
    yubikit's ``open_connection(kind)`` on a device that stays open.
    """
    scheme, target = parse_uri(uri)
    return load_driver(scheme).reader(target)


_DESCRIPTIONS = {ISO7816: "a chip card (ISO 7816)", TYPE2: "an NFC Type 2 tag"}


def describe_kind(kind: str) -> str:
    """How a message names a link kind: "a chip card (ISO 7816)", "an NFC Type 2 tag"."""
    return _DESCRIPTIONS.get(kind, f"a {kind} medium")


def open_connection(uri: str, *, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Link:
    """Open the card or tag reader URI ``uri`` names, as a link of ``kind`` if given.

    The driver is asked for that kind (a driver that can choose, such as nfc's, opens
    only such a target); whatever a driver returns is checked, and a link of another
    kind is closed and refused with UnsupportedMedium. Close the link when done.
    """
    scheme, target = parse_uri(uri)
    link = load_driver(scheme).open(target, timeout=timeout, kind=kind)
    if kind is not None and link.kind != kind:
        found = link.kind
        link.close()
        raise UnsupportedMedium(
            f"the reader holds {describe_kind(found)}, not {describe_kind(kind)}"
        )
    return link


@contextlib.contextmanager
def _connect(uri: str, kind: str | None, timeout: float) -> Iterator[Any]:
    link = open_connection(uri, kind=kind, timeout=timeout)
    try:
        yield link
    finally:
        link.close()


@overload
def connect(
    uri: str, *, kind: Literal["iso7816"], timeout: float = ...
) -> AbstractContextManager[ReaderConnection]: ...
@overload
def connect(
    uri: str, *, kind: Literal["type2"], timeout: float = ...
) -> AbstractContextManager[TagInReader]: ...
@overload
def connect(
    uri: str, *, kind: None = None, timeout: float = ...
) -> AbstractContextManager[Link]: ...
def connect(
    uri: str, *, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> AbstractContextManager[Any]:
    """:func:`open_connection` for the duration of a ``with`` block.

    With ``kind`` (``media.ISO7816``, ``media.TYPE2``) the link is typed for that
    kind's sessions; without, it is a :class:`~cityid_card.media.Link` for
    :func:`~cityid_card.media.medium_for`.
    """
    return _connect(uri, kind, timeout)


def list_readers() -> dict[str, list[ReaderInfo] | MediumError]:
    """What every driver sees: its readers, or the error that kept it from looking."""
    seen: dict[str, list[ReaderInfo] | MediumError] = {}
    for scheme in driver_names():
        try:
            seen[scheme] = load_driver(scheme).readers()
        except MediumError as error:
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

    kind = ISO7816
    uid = None

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
            except MediumError:
                continue  # an emulator that cannot load is no reader; open() says why
        return found

    def open(
        self, target: str, *, timeout: float = DEFAULT_TIMEOUT, kind: str | None = None
    ) -> Link:
        name, _, state_file = target.partition(":")
        if name == "card":
            return self.card(state_file)
        simulators = self._simulators()
        entry_point = simulators.get(name)
        if entry_point is None:
            known = ", ".join(f"sim:{n}" for n in ["card", *sorted(simulators)])
            raise NoReader(f"the sim driver has no reader {name!r} (it has {known})")
        return _load(entry_point, f"the sim:{name} emulator").open(
            target, timeout=timeout, kind=kind
        )

    def reader(self, target: str) -> Reader:
        """``sim:card``: the same emulated card at every tap; other names: their emulator's."""
        name, _, _ = target.partition(":")
        if name == "card":
            return _SimCardReader(self.open(target))
        simulators = self._simulators()
        entry_point = simulators.get(name)
        if entry_point is None:
            raise NoReader(f"the sim driver has no reader {name!r}")
        return _load(entry_point, f"the sim:{name} emulator").reader(target)

    def card(self, state_file: str = "") -> SimConnection:
        """The emulated contact card (``sim:card[:STATEFILE]``)."""
        if not state_file:
            return SimConnection(EmulatedCard())
        from .sim_io import card_in_file  # the one module that touches the state file

        return SimConnection(card_in_file(state_file), reader=f"sim:card:{state_file}")


class _SimCardReader:
    """The emulated card's reader kept open: the card is taken out and put back each tap."""

    def __init__(self, link: Link) -> None:
        self._card = cast(SimConnection, link)

    @property
    def name(self) -> str:
        return self._card.reader

    def open_connection(
        self, *, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> SimConnection:
        if kind is not None and kind != ISO7816:
            raise UnsupportedMedium(
                f"sim:card is {describe_kind(ISO7816)}, not {describe_kind(kind)}"
            )
        self._card.insert()
        return self._card

    def close(self) -> None:
        self._card.close()
