"""What the station needs of a card: the one place it meets chip cards and NFC tags.

The batch sees a card through two small interfaces: a :class:`CardSource` hands out the
card in the reader now (or says why there is none), and that card is a :class:`Medium`
(check it is blank, personalise it). This module implements them for the two media the
library has, on a reader connection:

- :class:`ChipCard`, an ISO 7816 card, contact or ISO-DEP: the chip makes its key pair,
  the credential binds it, is written, read back, verified, the chip authenticated, and
  with ``lock`` the card is locked (:func:`cityid_card.iso7816.personalize`);
- :class:`NfcTag`, an NTAG213/215/216: the credential binds the tag's UID, is written,
  read back, verified, and with ``lock`` the tag is made read-only
  (:func:`cityid_card.type2.session.personalize_tag`).

Everything else in the station depends only on :class:`CardSource`, :class:`Medium`,
:class:`Personalised` and :class:`Authenticity` (what a personalised card proves), all
taken from here, so moving the station to another medium abstraction changes this
module alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from cityid_card.credential import Credential
from cityid_card.drivers import DEFAULT_TIMEOUT, Connection, connect, load_driver, parse_uri
from cityid_card.errors import (
    BlankCard,
    CardLocked,
    CardNotBlank,
    DriverError,
    TagLocked,
    UnsupportedTag,
)
from cityid_card.iso7816.session import Authenticity, CardSession, personalize
from cityid_card.keys import IssuerKey
from cityid_card.type2.session import Contents, TagLink, TagSession, personalize_tag

__all__ = [
    "Authenticity",
    "CardSource",
    "ChipCard",
    "Medium",
    "NfcTag",
    "Personalised",
    "ReaderCards",
    "medium_for",
]


@dataclass(frozen=True)
class Personalised:
    """What a medium reports for a card it personalised."""

    blob: bytes = field(repr=False)
    authenticity: Authenticity
    locked: bool
    #: The chip's product name, if the medium knows it (NTAG215, ...).
    product: str | None = None


class Medium(Protocol):
    """One card (or tag) on an open connection: check it is blank, personalise it."""

    @property
    def kind(self) -> str:
        """``chip_card`` or ``nfc_tag``, as events report it."""
        ...

    def check_blank(self) -> None:
        """Raise a CardError (CardNotBlank, CardLocked, ...) unless the card may be used."""
        ...

    def personalise(
        self, issuer: IssuerKey, credential: Credential, *, lock: bool, today: date
    ) -> Personalised:
        """Issue ``credential`` for this card, write it, read it back and verify it; lock."""
        ...


class CardSource(Protocol):
    """Where a batch gets its cards: a reader fed by a hopper, a desk reader, a test."""

    @property
    def reader(self) -> str:
        """The reader's name, as the events report it (a reader URI)."""
        ...

    def card(self) -> AbstractContextManager[Medium]:
        """The card in the reader now, for the duration of a ``with`` block.

        Entering raises a CardError when there is no card to use (none in the reader,
        NoReader; one that does not answer, TransportTimeout; ...), and DriverError
        when the reader itself cannot work: then no card will ever come.
        """
        ...


class ChipCard:
    """An ISO 7816 card with the cityid-card application, contact or contactless (ISO-DEP)."""

    kind = "chip_card"

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def check_blank(self) -> None:
        session = CardSession(self._connection)
        if session.select().locked:
            raise CardLocked("the card is locked: it was personalised for good already")
        try:
            session.read_credential()
        except BlankCard:
            return
        raise CardNotBlank("the card already holds a credential: it is refused, not overwritten")

    def personalise(
        self, issuer: IssuerKey, credential: Credential, *, lock: bool, today: date
    ) -> Personalised:
        blob, result = personalize(self._connection, issuer, credential, lock=lock, today=today)
        return Personalised(blob, result.authenticity, lock)


class NfcTag:
    """An NFC Type 2 tag (NTAG213/215/216); its credential binds the tag's UID."""

    kind = "nfc_tag"

    def __init__(self, link: TagLink) -> None:
        self._link = link

    def check_blank(self) -> None:
        if self._link.product is None:
            raise UnsupportedTag("the tag is not an NTAG213, NTAG215 or NTAG216")
        session = TagSession(self._link)
        contents = session.contents()
        if contents is Contents.CREDENTIAL:
            raise CardNotBlank("the tag already holds a credential: it is refused, not overwritten")
        if contents is Contents.FOREIGN:
            raise CardNotBlank("the tag holds other data: it is refused, not overwritten")
        session.read_lock_bytes()
        state = session.lock_state()
        if state is not None and (state.capability_container_read_only or state.locked_pages):
            raise TagLocked("the tag is read-only: its lock bits or capability container say so")

    def personalise(
        self, issuer: IssuerKey, credential: Credential, *, lock: bool, today: date
    ) -> Personalised:
        blob, write = personalize_tag(self._link, issuer, credential, lock=lock, today=today)
        assert write.verification is not None  # personalize_tag always verifies
        return Personalised(blob, write.verification.authenticity, write.locked, write.product)


def medium_for(connection: Connection | TagLink) -> Medium:
    """The medium for what a reader connection holds: an NFC tag, else a chip card."""
    if isinstance(connection, TagLink):
        return NfcTag(connection)
    return ChipCard(connection)


#: The driver packages of the readers a station uses, kept in the source tree (drivers/)
#: and installed from it: what a DriverError for their scheme tells the operator.
_DRIVER_PACKAGES = {
    "pcsc": "pip install ./drivers/pcsc (cityid-card-pcsc: PC/SC contact and "
    "contactless encoders; needs pcscd, libpcsclite-dev and a C compiler)",
    "nfc": "pip install ./drivers/nfc (cityid-card-nfc: NFC readers on nfcpy; needs libusb-1.0)",
}


class ReaderCards:
    """The cards of a reader URI (``pcsc``, ``nfc``, ``sim:card``, ...): a :class:`CardSource`.

    Each :meth:`card` opens the reader's card afresh (the ``sim:`` emulators hand out a
    fresh blank card each time, like a hopper). The reader's driver is loaded when the
    source is made, so a URI that names no installed driver raises DriverError then,
    before any card is looked for; for ``pcsc`` and ``nfc`` it says what to install.
    """

    def __init__(self, uri: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        scheme = parse_uri(uri)[0]
        try:
            load_driver(scheme)
        except DriverError as error:
            package = _DRIVER_PACKAGES.get(scheme)
            if package is None:
                raise
            raise DriverError(f"{error}: {package}") from None
        self._uri = uri
        self._timeout = timeout

    @property
    def reader(self) -> str:
        return self._uri

    @contextlib.contextmanager
    def card(self) -> Iterator[Medium]:
        with connect(self._uri, timeout=self._timeout) as connection:
            yield medium_for(connection)
