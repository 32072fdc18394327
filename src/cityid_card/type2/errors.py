"""The failures of NFC Type 2 tags: each one kind, medium ``nfc_tag``.

:class:`TagError` is the tag's own kind: its memory or its NDEF message breaks the
mapping (``specs/ndef-mapping.md``). The rest are the general kinds of
:mod:`cityid_card.media.errors` as a tag has them. Messages name the structure and the
offset that is wrong, never the tag's bytes.
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
    UnsupportedMedium,
    WriteError,
)

__all__ = [
    "NFC_TAG",
    "BlankTag",
    "CapabilityContainerError",
    "NdefFormatError",
    "NdefLengthError",
    "NotOurTag",
    "RecordChoiceError",
    "SealError",
    "SealedTag",
    "TagCapacityError",
    "TagError",
    "TagLocked",
    "TagNotBlank",
    "TagProtocolError",
    "TagRemoved",
    "TagUidMismatch",
    "TagWriteError",
    "TlvError",
    "UnsupportedTag",
]

#: The medium these failures carry.
NFC_TAG = "nfc_tag"


class TagError(MediumError):
    """The tag's memory or NDEF message breaks the NDEF mapping; the subclass says where."""

    default_medium: ClassVar[str | None] = NFC_TAG


class CapabilityContainerError(TagError):
    """The capability container (page 3) is missing, of another version, or lies about the size."""


class TlvError(TagError):
    """The TLV blocks of the data area are broken: one runs past the memory, or lies."""


class NdefLengthError(TlvError):
    """The NDEF message TLV claims more bytes than the tag's data area holds."""


class NdefFormatError(TagError):
    """The NDEF message breaks the NDEF rules: lengths that disagree, chunks, trailing bytes."""


class NotOurTag(TagError):
    """The tag holds data that is not a cityid-card credential record (another record type)."""


class SealedTag(TagError):
    """The tag holds a sealed record: reading it needs the key from the card face's QR code."""


class SealError(TagError):
    """A sealed record does not open: another card's key, a damaged tag, or a malformed seal."""


class TagCapacityError(TagError):
    """The credential does not fit in the tag's data area."""


class RecordChoiceError(MediumError):
    """A tag write says neither how its record is sealed nor that it is open, or says both.

    Writing a tag takes ``seal_key=`` (the record sealed under it: a tap alone reads no
    personal byte) or ``open_record=True`` (the open record, which any tap reads): the
    open record is an explicit choice, never a default. Raised before the tag is touched.
    """

    default_medium: ClassVar[str | None] = NFC_TAG


class UnsupportedTag(UnsupportedMedium):
    """The tag is of a kind the NDEF mapping does not cover (not Type 2, not ISO-DEP)."""

    default_medium: ClassVar[str | None] = NFC_TAG


class BlankTag(Blank):
    """The tag holds no NDEF message: it is blank, or a write was torn before it finished."""

    default_medium: ClassVar[str | None] = NFC_TAG


class TagRemoved(Removed):
    """The tag stopped answering: it left the reader's field, or it is broken."""

    default_medium: ClassVar[str | None] = NFC_TAG


class TagProtocolError(ProtocolError):
    """The tag refused a read command (NAK) or answered with the wrong number of bytes."""

    default_medium: ClassVar[str | None] = NFC_TAG


class TagWriteError(WriteError):
    """Writing did not complete: the tag refused a page, or reads back other bytes."""

    default_medium: ClassVar[str | None] = NFC_TAG


class TagLocked(Locked):
    """The tag is read-only (lock bits, or its capability container says so)."""

    default_medium: ClassVar[str | None] = NFC_TAG


class TagNotBlank(NotBlank):
    """The tag already holds data (a credential, or another application's): refused."""

    default_medium: ClassVar[str | None] = NFC_TAG


class TagUidMismatch(NotAuthentic):
    """The credential binds another tag's UID: it was copied to this tag.

    A CredentialError too, like a failed chip authentication: the tag must be rejected.
    """

    default_medium: ClassVar[str | None] = NFC_TAG
