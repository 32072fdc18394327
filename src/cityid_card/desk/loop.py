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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from cityid_card.drivers import Driver, load_driver, parse_uri
from cityid_card.errors import CityIDError
from cityid_card.media import Verification, medium_for
from cityid_card.media.errors import NoReader, TransportError
from cityid_card.trust import TrustStore
from cityid_card.verifier import Verifier

from .policy import Policy

__all__ = [
    "DEFAULT_INTERVAL",
    "Arrival",
    "ReaderEvent",
    "Removal",
    "event_json",
    "watch",
]

#: Seconds between two looks for a card, and between two presence checks of a card.
DEFAULT_INTERVAL: Final = 0.1


@dataclass(frozen=True)
class Arrival:
    """A card came into the reader: its verification, or the error that stopped it."""

    reader: str
    result: Verification | None
    error: CityIDError | None
    #: Seconds from finding the card to the result (the clock given to :func:`watch`).
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


def watch(
    reader: str,
    verifier: Verifier | TrustStore,
    *,
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
    """
    scheme, target = parse_uri(reader)
    source = (driver if driver is not None else load_driver(scheme)).reader(target)
    stopped = stop.is_set if stop is not None else (lambda: False)
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
                started = clock()
                try:
                    result = medium.verify(verifier, now())
                except CityIDError as error:
                    yield Arrival(reader, None, error, clock() - started)
                    if isinstance(error, TransportError):  # pulled away mid-read: it is gone
                        yield Removal(reader)
                        sleep(interval)
                        continue
                else:
                    yield Arrival(reader, result, None, clock() - started)
                while not stopped():
                    sleep(interval)
                    if not medium.present():
                        yield Removal(reader)
                        break
            finally:
                link.close()
    finally:
        source.close()


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
        shown = {
            **policy.show(event.result, today),
            "authenticity": event.result.authenticity.name.lower(),
        }
    return {
        "event": "arrival",
        "reader": event.reader,
        **shown,
        "status_list_age_days": status_age_days,
    }
