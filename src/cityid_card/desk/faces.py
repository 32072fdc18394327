"""What the card face opens, for the reader loop: from the face scan to one read, then forgotten.

Two kinds of card on the reader open only with something printed on their face:

- a generation-2 chip card, with its 6-digit Card Access Number (:class:`Can`): the
  face's QR code is ``CIDC1:`` and the CAN (``specs/qr.md``), or staff type the digits;
- an NFC tag written sealed, with its 16-byte key (:class:`SealKey`): the face's QR code
  is ``CIDS1:``, the key and the credential.

Staff scan the face; the reader loop takes the secret for the card on the reader. A
:class:`FaceBox` holds at most one secret, for one read: :meth:`FaceBox.take` hands
it out, to a card of its kind, and forgets it; one not taken is forgotten after
:data:`FACE_TTL` seconds or when the loop says the card left (:meth:`FaceBox.forget`).
A secret of the other kind stays where it is (a tag does not use up a chip's CAN).
Nothing here logs, prints or keeps a secret anywhere else; reprs and errors never show
one, nor repeat what was given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeVar

from cityid_card import qr
from cityid_card.errors import CityIDError, CredentialError

__all__ = [
    "FACE_TTL",
    "Can",
    "FaceBox",
    "FaceSecret",
    "FaceSource",
    "NotACan",
    "NotAFaceCode",
    "NotASealKey",
    "SealKey",
    "parse_can",
    "parse_face",
]

#: Seconds a secret scanned from a card face waits for its card before it is forgotten.
FACE_TTL: Final = 30.0


class NotAFaceCode(CityIDError):
    """What was given is no card face's code that opens a card: ``CIDC1:`` (or a 6-digit
    CAN) for a chip card, ``CIDS1:`` for a sealed tag."""


class NotACan(NotAFaceCode):
    """What was given as a chip card's is neither its face's ``CIDC1:`` code nor a 6-digit CAN."""


class NotASealKey(NotAFaceCode):
    """A ``CIDS1:`` text that does not hold a sealed tag's key and credential."""


@dataclass(frozen=True)
class Can:
    """A generation-2 chip card's Card Access Number (6 digits), from its face."""

    number: str = field(repr=False)


@dataclass(frozen=True)
class SealKey:
    """A sealed NFC tag's key (16 bytes), from its card face's ``CIDS1:`` code."""

    key: bytes = field(repr=False)


#: A secret from a card face: what opens the card on the reader.
FaceSecret = Can | SealKey
_Secret = TypeVar("_Secret", Can, SealKey)


class FaceSource(Protocol):
    """Where the reader loop gets what the face of the card on the reader opens it with."""

    def take(self, kind: type[_Secret]) -> _Secret | None:
        """The secret of ``kind`` given for the card now, once (it is forgotten); else None."""
        ...

    def forget(self) -> None:
        """Forget any secret given: the card left the reader."""
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
    if qr.is_can(text):
        return text
    raise NotACan(
        f"expected the card face's QR code ({qr.CAN_PREFIX}...) or its 6-digit Card Access Number"
    )


def parse_face(text: str) -> FaceSecret:
    """The secret in ``text``: a sealed tag's key (``CIDS1:``) or a chip card's CAN
    (``CIDC1:`` or 6 digits).

    Surrounding white space is ignored. Raises NotASealKey for a broken ``CIDS1:``
    text, NotACan for a broken ``CIDC1:`` one, NotAFaceCode for anything else; never
    repeating the text (a ``CIDS1:`` code holds the holder's name).
    """
    if not isinstance(text, str):
        raise NotAFaceCode("a card face's code is given as text")
    text = text.strip()
    if text.startswith(qr.SEALED_TAG_PREFIX):
        try:
            return SealKey(qr.seal_key(text))
        except CredentialError:
            raise NotASealKey(
                f"the {qr.SEALED_TAG_PREFIX} QR code text does not hold a tag key and a credential"
            ) from None
    if text.startswith(qr.CAN_PREFIX) or (text.isascii() and text.isdigit()):
        return Can(parse_can(text))
    raise NotAFaceCode(
        f"expected a card face's QR code ({qr.SEALED_TAG_PREFIX}... for a card with a tag, "
        f"{qr.CAN_PREFIX}... for a chip card) or a chip card's 6-digit Card Access Number"
    )


class FaceBox:
    """A :class:`FaceSource` that staff fill from any thread: one secret, one read, soon gone.

    ``clock`` (seconds, monotonic) times :data:`FACE_TTL`; ``ttl`` replaces it.
    """

    def __init__(self, *, ttl: float = FACE_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._secret: FaceSecret | None = None
        self._given = 0.0

    def __repr__(self) -> str:
        return f"FaceBox(armed={self.armed})"

    def give(self, text: str) -> None:
        """Arm the box with the secret in ``text`` (see :func:`parse_face`), replacing any other."""
        self.put(parse_face(text))

    def put(self, secret: FaceSecret) -> None:
        """Arm the box with ``secret``, replacing any other."""
        with self._lock:
            self._secret, self._given = secret, self._clock()

    @property
    def armed(self) -> bool:
        """Whether a secret waits for its card."""
        with self._lock:
            return self._current() is not None

    def take(self, kind: type[_Secret]) -> _Secret | None:
        with self._lock:
            secret = self._current()
            if not isinstance(secret, kind):
                return None
            self._secret = None
        return secret

    def forget(self) -> None:
        with self._lock:
            self._secret = None

    def _current(self) -> FaceSecret | None:
        if self._secret is not None and self._clock() - self._given > self._ttl:
            self._secret = None
        return self._secret
