"""What the station needs of a card: the one place it meets chip cards and NFC tags.

The batch sees a card through two small interfaces: a :class:`CardSource` hands out the
card in the reader now (or says why there is none), and that card is a
:class:`~cityid_card.media.Medium` (check it is blank, personalise it), found by the kind
of link the reader opened (:func:`cityid_card.media.medium_for`). The library's two media:

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
from typing import Protocol

from cityid_card.drivers import DEFAULT_TIMEOUT, connect, load_driver, parse_uri
from cityid_card.iso7816.medium import ChipCard
from cityid_card.media import Authenticity, Medium, Personalised, medium_for
from cityid_card.media.errors import DriverError
from cityid_card.type2.medium import NfcTag
from cityid_card.type2.memory import PRODUCTS, Product

__all__ = [
    "Authenticity",
    "CardSource",
    "ChipCard",
    "Medium",
    "NfcTag",
    "Personalised",
    "ReaderCards",
    "medium_for",
    "tag_products",
]


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


#: The driver packages of the readers a station uses, kept in the source tree (drivers/)
#: and installed from it: what a DriverError for their scheme tells the operator.
_DRIVER_PACKAGES = {
    "pcsc": "pip install ./drivers/pcsc (cityid-card-pcsc: PC/SC contact and "
    "contactless encoders; needs pcscd, libpcsclite-dev and a C compiler)",
    "nfc": "pip install ./drivers/nfc (cityid-card-nfc: NFC readers on nfcpy; needs libusb-1.0)",
}


def tag_products(uri: str) -> tuple[Product, ...]:
    """The NFC tags a reader URI may hand out: checked against before any card is touched.

    An ``nfc`` reader any NTAG21x, ``sim:ntag213`` (215, 216) that one product, any
    other reader (``pcsc``, ``sim:card``, ``sim:isodep``) none: they open chip cards.
    """
    scheme, target = parse_uri(uri)
    if scheme == "nfc":
        return PRODUCTS
    if scheme == "sim":
        name = target.partition(":")[0]
        return tuple(product for product in PRODUCTS if product.name.lower() == name)
    return ()


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
