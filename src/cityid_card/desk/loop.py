"""The reader loop: wait for a card, verify it once, wait for it to leave, again.

:func:`watch` yields an :class:`Arrival` when a card or tag comes into a reader (with
its verification, or the typed error that stopped it) and a :class:`Removal` when it
leaves. The connection to a card stays open while the card is there and is only asked
whether the card is still present (a SELECT for a card, a READ of page 0 for a tag), so
a card left on the reader is verified once, not again at every poll.

It runs on the drivers of :mod:`cityid_card.drivers` (contact cards over PC/SC, NFC tags
and ISO-DEP cards over nfcpy, and their ``sim:`` emulators) through the medium seam
(:func:`cityid_card.media.medium_for`): the reader is opened once and kept open, and
every medium is verified and asked whether it is still there in the same way. It polls
for a card with an injectable clock and sleep. :func:`event_json` turns events into what
a display policy allows, for JSON Lines (``cityid-card watch --json``) and the service's
event stream.

Some cards open only with what their face's QR code holds, which the loop takes from
an injected :class:`~cityid_card.desk.faces.FaceSource` (staff scan the face, in a
thread of the edge), either before the tap or while the card stays on the reader: a
generation-2 chip card is read through its terminal session
(:func:`cityid_card.iso7816.gen2.disclose`) with a terminal's certificates and the
card's CAN; a sealed NFC tag's record is opened with the key from its face. The loop
itself does no I/O of its own beyond the reader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from cityid_card.drivers import Driver, load_driver, parse_uri
from cityid_card.errors import CityIDError
from cityid_card.iso7816.gen2 import Disclosure, TerminalAccess, disclose
from cityid_card.iso7816.gen2.terminal import is_generation_2
from cityid_card.media import ISO7816, Link, Medium, Verification, medium_for
from cityid_card.media.errors import MediumError, NoReader, TransportError
from cityid_card.trust import TrustStore
from cityid_card.type2.errors import SealedTag
from cityid_card.verifier import Verifier

from .faces import Can, FaceSource, SealKey
from .policy import Policy
from .result import known, rejection

if TYPE_CHECKING:
    from cityid_card.drivers import Connection

__all__ = [
    "DEFAULT_INTERVAL",
    "Arrival",
    "CanRequired",
    "FaceScanRequired",
    "ReaderEvent",
    "Removal",
    "SealKeyRequired",
    "TerminalRequired",
    "event_json",
    "watch",
]

#: Seconds between two looks for a card, and between two presence checks of a card.
DEFAULT_INTERVAL: Final = 0.1


class FaceScanRequired(CityIDError):
    """The card on the reader opens only with what its face's QR code holds: scan the face."""


class CanRequired(FaceScanRequired):
    """A generation-2 card is on the reader and no CAN was given: scan the card face."""


class SealKeyRequired(FaceScanRequired):
    """A sealed NFC tag is on the reader and no key was given: scan the card face."""


class TerminalRequired(CityIDError):
    """A generation-2 card is on the reader and the desk has no terminal certificate."""


@dataclass(frozen=True)
class Arrival:
    """A card came into the reader (or was read again): its result, or the error that
    stopped it.

    ``result`` is a :class:`~cityid_card.media.Verification` (a tag, a version 1 card)
    or a :class:`~cityid_card.iso7816.gen2.Disclosure` (a generation-2 card); read it
    through a display policy or :func:`~cityid_card.desk.result.known`.
    """

    reader: str
    result: Verification | Disclosure | None
    error: CityIDError | None
    #: Seconds from finding the card (or taking the secret from its face) to the result
    #: (the clock given to :func:`watch`).
    elapsed: float

    @property
    def valid(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class Removal:
    """The card that arrived last left the reader."""

    reader: str


ReaderEvent = Arrival | Removal


def _local_now() -> datetime:
    return datetime.now().astimezone()


class _NoFaces:
    """The face source of a desk that was given none: never a secret."""

    def take(self, kind: type[Any]) -> None:
        return None

    def forget(self) -> None:
        return None


def _day(moment: datetime | date) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def watch(
    reader: str,
    verifier: Verifier | TrustStore,
    *,
    terminal: TerminalAccess | None = None,
    faces: FaceSource | None = None,
    interval: float = DEFAULT_INTERVAL,
    now: Callable[[], datetime | date] = _local_now,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
    driver: Driver | None = None,
) -> Iterator[ReaderEvent]:
    """Yield an :class:`Arrival` per card that comes into ``reader``, a :class:`Removal` as it goes.

    ``verifier`` verifies (a :class:`~cityid_card.Verifier` with status lists, or a trust
    store); ``now`` is the moment cards are judged at (default: the local time, so the
    local calendar date); ``clock`` and ``sleep`` time the polling; ``stop`` ends the
    loop at the next poll; ``driver`` replaces the driver the URI's scheme names.
    Raises DriverError if no driver serves the URI; a reader that is missing or empty
    is polled until a card comes. After a removal, a card the reader still reports but
    that does not answer (pcscd's state lags a pulled card) is not a new tap.

    ``faces`` hands out what staff scanned from card faces. A sealed NFC tag is opened
    with a :class:`~cityid_card.desk.faces.SealKey` from it; with ``terminal`` (a
    generation-2 terminal's certificates and key), a generation-2 card is read with a
    :class:`~cityid_card.desk.faces.Can` from it, its issuer checked against the
    verifier's trust store. Such a card that arrives before its secret is an arrival
    with SealKeyRequired or CanRequired (both FaceScanRequired); while it stays, each
    secret of its kind given reads it once (an arrival each: the result, or SealError,
    WrongCan...). The source is told to forget when a card leaves. Without
    ``terminal`` a generation-2 card is an arrival with TerminalRequired.
    """
    scheme, target = parse_uri(reader)
    source = (driver if driver is not None else load_driver(scheme)).reader(target)
    stopped = stop.is_set if stop is not None else (lambda: False)
    read = _Read(
        reader,
        verifier,
        terminal,
        faces if faces is not None else _NoFaces(),
        now,
        clock,
    )
    # After a removal, a reader may still report the card for a moment (pcscd does):
    # until the field was seen empty, a card that does not answer is no new tap.
    seen_empty = True
    try:
        while not stopped():
            looked = clock()
            try:
                # A reader that can wait for a card (PC/SC) waits up to one interval for it.
                link = source.open_connection(timeout=interval)
            except (NoReader, TransportError):  # nothing in the field (or the reader is gone)
                seen_empty = True
                rest = interval - (clock() - looked)
                if rest > 0:
                    sleep(rest)
                continue
            try:
                medium = medium_for(link)
                if not seen_empty and not medium.present():
                    sleep(interval)
                    continue
                seen_empty = False
                event, wants = read.arrival(link, medium)
                yield event
                left = _gone(event)
                while not left and not stopped():
                    sleep(interval)
                    event_again = read.again(link, medium, wants)
                    if event_again is not None:  # the card face scanned, the card still here
                        event = event_again
                        yield event
                        left = _gone(event)
                    else:
                        left = not medium.present()
                if left:
                    read.faces.forget()
                    yield Removal(reader)
                if _gone(event):  # pulled away mid-read
                    sleep(interval)
            finally:
                link.close()
    finally:
        source.close()


def _gone(event: Arrival) -> bool:
    """Whether the card was pulled away during the read that ``event`` reports."""
    return isinstance(event.error, TransportError)


#: Which secret from its face the card on the reader opens with; None: it needs none.
_Wants = type[Can] | type[SealKey] | None


class _Read:
    """How the loop reads the card that came: a version 1 card, a tag, or generation 2."""

    def __init__(
        self,
        reader: str,
        verifier: Verifier | TrustStore,
        terminal: TerminalAccess | None,
        faces: FaceSource,
        now: Callable[[], datetime | date],
        clock: Callable[[], float],
    ) -> None:
        self.reader = reader
        self.verifier = verifier
        self.trust = verifier.trust if isinstance(verifier, Verifier) else verifier
        self.terminal = terminal
        self.faces = faces
        self.now = now
        self.clock = clock

    def arrival(self, link: Link, medium: Medium) -> tuple[Arrival, _Wants]:
        """The first read of a card: its arrival, and which face secret reads it again."""
        started = self.clock()
        wants: _Wants = None
        try:
            generation_2 = self.terminal is not None and link.kind == ISO7816
            if generation_2 and is_generation_2(cast("Connection", link)):
                wants = Can
                can = self.faces.take(Can)
                if can is None:
                    raise CanRequired(
                        "a generation-2 card: scan the QR code on its face (or type its "
                        "6-digit CAN) to read it"
                    )
                return self.generation_2(link, can), wants
            if medium.seals:
                key = self.faces.take(SealKey)
                if key is not None:
                    wants = SealKey  # opened with a key: a sealed tag (or one read as one)
                    return self.sealed_tag(medium, key), wants
                try:
                    result = medium.verify(self.verifier, self.now())
                except SealedTag:
                    wants = SealKey
                    raise SealKeyRequired(
                        "a sealed tag: scan the QR code on its card face to read it"
                    ) from None
                return self._done(result, started), wants
            return self._done(medium.verify(self.verifier, self.now()), started), wants
        except CityIDError as error:
            if self.terminal is None and _maybe_generation_2(link, error):
                error = TerminalRequired(
                    "a generation-2 card: this desk reads them with a terminal certificate "
                    "(--terminal)"
                )
            return Arrival(self.reader, None, error, self.clock() - started), wants

    def again(self, link: Link, medium: Medium, wants: _Wants) -> Arrival | None:
        """The card read again with a secret of its kind scanned meanwhile; None: none was."""
        if wants is Can:
            can = self.faces.take(Can)
            return None if can is None else self.generation_2(link, can)
        if wants is SealKey and medium.seals:
            key = self.faces.take(SealKey)
            return None if key is None else self.sealed_tag(medium, key)
        return None

    def generation_2(self, link: Link, can: Can) -> Arrival:
        """Read the generation-2 card on ``link`` with ``can`` (used once, then dropped)."""
        assert self.terminal is not None
        started = self.clock()
        try:
            result = disclose(
                cast("Connection", link),
                self.terminal,
                can.number,
                today=_day(self.now()),
                trust=self.trust,
                reader=link.reader,
            )
        except CityIDError as error:
            return Arrival(self.reader, None, error, self.clock() - started)
        return self._done(result, started)

    def sealed_tag(self, tag: Medium, key: SealKey) -> Arrival:
        """Verify the tag with ``key`` from its face (used once, then dropped)."""
        started = self.clock()
        try:
            result = tag.verify(self.verifier, self.now(), seal_key=key.key)
        except CityIDError as error:
            return Arrival(self.reader, None, error, self.clock() - started)
        return self._done(result, started)

    def _done(self, result: Verification | Disclosure, started: float) -> Arrival:
        failed = rejection(result)
        if failed is not None:
            return Arrival(self.reader, None, failed, self.clock() - started)
        return Arrival(self.reader, result, None, self.clock() - started)


def _maybe_generation_2(link: Link, error: CityIDError) -> bool:
    """Whether a card that failed as a version 1 card answers as a generation-2 card."""
    if link.kind != ISO7816 or not isinstance(error, MediumError):
        return False
    if isinstance(error, TransportError):
        return False
    try:
        return is_generation_2(cast("Connection", link))
    except CityIDError:
        return False


def event_json(
    event: ReaderEvent,
    policy: Policy,
    today: date,
    status_age_days: int | None = None,
) -> dict[str, Any]:
    """The event as JSON-ready values: what ``policy`` allows, never more.

    An arrival: ``event``, ``reader``, ``valid``, the policy's fields or the error's type
    name, the authenticity level reached, and the status lists' age in days.
    """
    if isinstance(event, Removal):
        return {"event": "removal", "reader": event.reader}
    if event.result is None:
        assert event.error is not None
        shown = policy.reject(event.error)
    else:
        authenticity = known(event.result).authenticity
        shown = {
            **policy.show(event.result, today),
            "authenticity": None if authenticity is None else authenticity.name.lower(),
        }
    return {
        "event": "arrival",
        "reader": event.reader,
        **shown,
        "status_list_age_days": status_age_days,
    }
