"""Card Access Numbers for the reader loop: from the card face to one read, then forgotten.

A generation-2 chip card opens only to a terminal that knows its 6-digit CAN, printed
on the card face and in the face's QR code (``CIDC1:`` and the CAN, ``specs/qr.md``).
Staff scan that code (or type the number); the reader loop takes it for the card on
the reader. A :class:`CanBox` holds at most one CAN, for one read: :meth:`CanBox.take`
hands it out and forgets it, and one not taken is forgotten after :data:`CAN_TTL`
seconds or when the loop says the card left (:meth:`CanBox.forget`). Nothing here
logs, prints or keeps a CAN anywhere else; errors never repeat what was given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

from cityid_card import qr
from cityid_card.errors import CityIDError, CredentialError

__all__ = ["CAN_TTL", "CanBox", "CanSource", "NotACan", "parse_can"]

#: Seconds an armed CAN waits for its card before it is forgotten.
CAN_TTL: Final = 30.0
_DIGITS = 6


class NotACan(CityIDError):
    """What was given is neither a card face's ``CIDC1:`` QR code text nor a 6-digit CAN."""


class CanSource(Protocol):
    """Where the reader loop gets the CAN of the generation-2 card on the reader."""

    def take(self) -> str | None:
        """The CAN given for the card now, once (it is forgotten); None if there is none."""
        ...

    def forget(self) -> None:
        """Forget any CAN given: the card left the reader."""
        ...


def parse_can(text: str) -> str:
    """The CAN in ``text``: a face QR code's ``CIDC1:`` text or the 6 digits themselves.

    Surrounding white space (a scanner's Enter) is ignored. Raises NotACan otherwise,
    without repeating the text.
    """
    if not isinstance(text, str):
        raise NotACan("a CAN is given as text")
    text = text.strip()
    if text.startswith(qr.CAN_PREFIX):
        try:
            return qr.can(text)
        except CredentialError:
            raise NotACan(
                f"the {qr.CAN_PREFIX} QR code text does not hold a 6-digit Card Access Number"
            ) from None
    if len(text) == _DIGITS and text.isascii() and text.isdigit():
        return text
    raise NotACan(
        f"expected the card face's QR code ({qr.CAN_PREFIX}...) or its 6-digit Card Access Number"
    )


class CanBox:
    """A :class:`CanSource` that staff fill from any thread: one CAN, one read, soon gone.

    ``clock`` (seconds, monotonic) times :data:`CAN_TTL`; ``ttl`` replaces it.
    """

    def __init__(self, *, ttl: float = CAN_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._can: str | None = None
        self._given = 0.0

    def __repr__(self) -> str:
        return f"CanBox(armed={self.armed})"

    def give(self, text: str) -> None:
        """Arm the box with the CAN in ``text`` (see :func:`parse_can`), replacing any other."""
        can = parse_can(text)
        with self._lock:
            self._can, self._given = can, self._clock()

    @property
    def armed(self) -> bool:
        """Whether a CAN waits for its card."""
        with self._lock:
            return self._current() is not None

    def take(self) -> str | None:
        with self._lock:
            can, self._can = self._current(), None
        return can

    def forget(self) -> None:
        with self._lock:
            self._can = None

    def _current(self) -> str | None:
        if self._can is not None and self._clock() - self._given > self._ttl:
            self._can = None
        return self._can
