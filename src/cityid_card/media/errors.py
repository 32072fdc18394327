"""The failure kinds of every medium: what went wrong, whichever card or tag it was.

A failure kind says *what* happened (the card or tag is blank, locked, was removed,
broke the protocol, did not prove it is the issued one, ...) and carries *which medium*
it happened on in :attr:`MediumError.medium` (``chip_card``, ``nfc_tag``; None for the
reader or driver itself). Each medium package names its own failures as plain
subclasses of one kind, never of two: :class:`~cityid_card.iso7816.errors.BlankCard` and
:class:`~cityid_card.type2.errors.BlankTag` are both :class:`Blank`, and a caller that
wants either catches the kind. Every kind is a :class:`~cityid_card.errors.CityIDError`.

Messages name the command, the structure or the offset that is wrong, never the bytes
exchanged: a credential holds the holder's name.
"""

from __future__ import annotations

from typing import ClassVar

from cityid_card.errors import CityIDError, CredentialError

__all__ = [
    "Blank",
    "DriverError",
    "Locked",
    "MediumError",
    "NoReader",
    "NotAuthentic",
    "NotBlank",
    "PersonalizationError",
    "ProtocolError",
    "Removed",
    "TransportError",
    "TransportTimeout",
    "UnsupportedMedium",
    "WriteError",
]


class MediumError(CityIDError):
    """Reading, verifying, writing or personalising a card or tag failed; the kind says how.

    ``medium`` is the medium it happened on (``chip_card``, ``nfc_tag``), or None when
    the reader or its driver failed before any card was involved. A subclass that
    belongs to one medium sets it by default (:attr:`default_medium`).
    """

    #: The medium a raiser that names none means (set by each medium's own classes).
    default_medium: ClassVar[str | None] = None

    def __init__(self, message: str, *, medium: str | None = None) -> None:
        super().__init__(message)
        self.medium = medium if medium is not None else self.default_medium


class DriverError(MediumError):
    """A reader URI names no installed driver, or the driver cannot work (no PC/SC service)."""


class NoReader(MediumError):
    """No reader matches the reader URI, or no card or tag is in it."""


class UnsupportedMedium(MediumError):
    """The card or tag cannot do what was asked (write a chip card), or no medium knows it."""


class TransportError(MediumError):
    """The link broke: the reader went away or the card or tag stopped answering."""


class Removed(TransportError):
    """The card or tag was removed, or lost power, during the exchange."""


class TransportTimeout(TransportError):
    """The card, the tag or the reader did not answer in time."""


class ProtocolError(MediumError):
    """Bytes that break the medium's protocol: truncated, garbage, of the wrong size."""


class Blank(MediumError):
    """The card or tag holds no credential: never personalised, or torn before writing."""


class NotAuthentic(MediumError, CredentialError):
    """The card or tag did not prove it is the one the credential was issued for.

    A CredentialError too (the one deliberate second base: a kind of rejection, not a
    medium's variant of another kind), so code that rejects on ``except
    CredentialError`` rejects a clone as well.
    """


class PersonalizationError(MediumError):
    """Personalising or writing did not complete: the card or tag must not be handed out."""


class Locked(PersonalizationError):
    """The card or tag is read-only for good: it cannot take a credential any more."""


class NotBlank(PersonalizationError):
    """The card or tag already holds data: it is refused, not overwritten."""


class WriteError(PersonalizationError):
    """Writing did not complete: a refused write, or other bytes read back."""
