"""The failures of chip cards (ISO 7816, contact and ISO-DEP): each one kind, medium ``chip_card``.

Messages name the command and the ISO 7816-4 status word, never the bytes exchanged.
"""

from __future__ import annotations

from typing import ClassVar

from cityid_card.media.errors import (
    Blank,
    Locked,
    MediumError,
    NotAuthentic,
    NotBlank,
    ProtocolError,
    Removed,
)

__all__ = [
    "CHIP_CARD",
    "ApduError",
    "ApplicationNotFound",
    "BlankCard",
    "CardAuthenticationError",
    "CardLocked",
    "CardNotBlank",
    "CardProtocolError",
    "CardRemoved",
]

#: The medium these failures carry.
CHIP_CARD = "chip_card"


class CardRemoved(Removed):
    """The card was removed, or lost power, during the exchange."""

    default_medium: ClassVar[str | None] = CHIP_CARD


class CardProtocolError(ProtocolError):
    """Bytes that break ISO 7816-4 or the card application: truncated, garbage, wrong size."""

    default_medium: ClassVar[str | None] = CHIP_CARD


class ApduError(MediumError):
    """The card refused a command with an error status word.

    ``sw`` is the status word (e.g. ``0x6A82``) and ``command`` the command's name; the
    message names both with the ISO 7816-4 meaning of the status word.
    """

    default_medium: ClassVar[str | None] = CHIP_CARD

    def __init__(self, message: str, *, sw: int, command: str) -> None:
        super().__init__(message)
        self.sw = sw
        self.command = command


class ApplicationNotFound(ApduError):
    """The card has no cityid-card application (SELECT answered 6A82)."""


class BlankCard(Blank):
    """The card application holds no credential: never personalised, or torn before writing."""

    default_medium: ClassVar[str | None] = CHIP_CARD


class CardAuthenticationError(NotAuthentic):
    """Active authentication failed: the chip did not prove it holds the credential's card key.

    A CredentialError too (see :class:`~cityid_card.media.errors.NotAuthentic`): the card
    must be rejected, it may be a clone.
    """

    default_medium: ClassVar[str | None] = CHIP_CARD


class CardLocked(Locked):
    """The card is locked (personalised for good): no new key and no write are possible."""

    default_medium: ClassVar[str | None] = CHIP_CARD


class CardNotBlank(NotBlank):
    """The card already holds a credential: it is refused, not overwritten."""

    default_medium: ClassVar[str | None] = CHIP_CARD
