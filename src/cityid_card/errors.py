"""The exception family of cityid-card.

Every failure the library reports is a subclass of :class:`CityIDError`. A credential
that cannot be accepted raises a subclass of :class:`CredentialError`, one per reason,
so callers can branch on the type. Messages describe what was wrong with the *encoding*
or the *policy*; they never contain the holder's name, date of birth or other claim
values, so they are safe to log.
"""

from __future__ import annotations

__all__ = [
    "ApduError",
    "ApplicationNotFound",
    "BadSignature",
    "BlankCard",
    "BlankTag",
    "CapabilityContainerError",
    "CardAuthenticationError",
    "CardError",
    "CardLocked",
    "CardNotBlank",
    "CardProtocolError",
    "CardRemoved",
    "CityIDError",
    "ClaimError",
    "CredentialError",
    "DriverError",
    "Expired",
    "FaceError",
    "InputError",
    "InvalidClaim",
    "InvalidKey",
    "JSONInputError",
    "KeyNotValid",
    "MalformedCredential",
    "NdefFormatError",
    "NdefLengthError",
    "NoReader",
    "NotOurTag",
    "NotYetValid",
    "PersonalizationError",
    "QRCodeError",
    "Revoked",
    "StatusListError",
    "StatusUnknown",
    "Suspended",
    "TagCapacityError",
    "TagError",
    "TagLocked",
    "TagProtocolError",
    "TagRemoved",
    "TagUidMismatch",
    "TagWriteError",
    "TlvError",
    "TokenError",
    "TokenNotFound",
    "TokenPinError",
    "TokenUnsupported",
    "TransportError",
    "TransportTimeout",
    "TrustStoreError",
    "UnknownClaim",
    "UnknownIssuer",
    "UnsupportedAlgorithm",
    "UnsupportedTag",
    "UnsupportedVersion",
]


class CityIDError(Exception):
    """Base class of every error raised by cityid-card."""


class CredentialError(CityIDError):
    """The credential cannot be accepted; the subclass says why."""


class MalformedCredential(CredentialError):
    """The bytes are not the one canonical encoding of a credential."""


class UnsupportedAlgorithm(CredentialError):
    """The protected header names an algorithm other than ES256 or EdDSA."""


class UnsupportedVersion(CredentialError):
    """The claims carry a format version this library does not implement."""


class ClaimError(CredentialError):
    """A claim breaks the closed schema."""


class UnknownClaim(ClaimError):
    """A claim the format does not define (an address, a phone number, ...)."""


class InvalidClaim(ClaimError):
    """A defined claim has a value outside what the format allows."""


class UnknownIssuer(CredentialError):
    """No key in the trust store matches the credential's key id and algorithm."""


class KeyNotValid(CredentialError):
    """The signing key was not valid on the credential's issue date."""


class BadSignature(CredentialError):
    """The signature does not verify under the issuer key."""


class NotYetValid(CredentialError):
    """The credential's issue date is after the verification date."""


class Expired(CredentialError):
    """The credential's expiry date is before the verification date."""


class Revoked(CredentialError):
    """The issuer's current status list marks the credential as revoked."""


class Suspended(Revoked):
    """The issuer's current status list marks the credential as suspended."""


class StatusUnknown(CredentialError):
    """No current status list covers the credential and the policy requires one."""


class InvalidKey(CityIDError):
    """A key file or key description cannot be used (format, curve, password)."""


class InputError(CityIDError):
    """A file or text given to cityid-card cannot be used as it is.

    Missing, unreadable, already there (the command line replaces a file only with
    --force), too large, or not the kind of file expected. The message names the file
    and the problem, never the file's content.
    """


class JSONInputError(InputError, ValueError):
    """A JSON document is not valid JSON, or is past the reader's limits.

    The limits (size, nesting depth, digits of an integer) keep a hostile file from
    exhausting the stack or the CPU; duplicate keys are refused as ambiguous. A
    ValueError too, like json.JSONDecodeError, so code that caught that catches this.
    """


class TrustStoreError(CityIDError):
    """A trust store file cannot be read or holds an unusable entry."""


class StatusListError(CityIDError):
    """A status list or status registry cannot be read, verified or changed as asked."""


# Card errors: what can go wrong between the host and a contact card. Their messages
# name the command and the ISO 7816-4 status word, never the bytes that were exchanged
# (a credential holds the holder's name).


class CardError(CityIDError):
    """Reading, authenticating or personalising a card failed; the subclass says where."""


class DriverError(CardError):
    """A reader URI names no installed driver, or the driver cannot work (no PC/SC service)."""


class NoReader(CardError):
    """No reader matches the reader URI, or no card is in it."""


class TransportError(CardError):
    """The link to the card broke: the reader went away or the card stopped answering."""


class CardRemoved(TransportError):
    """The card was removed, or lost power, during the exchange."""


class TransportTimeout(TransportError):
    """The card or the reader did not answer in time."""


class CardProtocolError(CardError):
    """Bytes that break ISO 7816-4 or the card application: truncated, garbage, wrong size."""


class ApduError(CardError):
    """The card refused a command with an error status word.

    ``sw`` is the status word (e.g. ``0x6A82``) and ``command`` the command's name; the
    message names both with the ISO 7816-4 meaning of the status word.
    """

    def __init__(self, message: str, *, sw: int, command: str) -> None:
        super().__init__(message)
        self.sw = sw
        self.command = command


class ApplicationNotFound(ApduError):
    """The card has no cityid-card application (SELECT answered 6A82)."""


class BlankCard(CardError):
    """The card application holds no credential: never personalised, or torn before writing."""


class CardAuthenticationError(CardError, CredentialError):
    """Active authentication failed: the chip did not prove it holds the credential's card key.

    It is a CredentialError too: the card must be rejected (it may be a clone), so code
    that rejects on ``except CredentialError`` rejects it as well.
    """


class PersonalizationError(CardError):
    """Personalisation did not complete: the card must not be handed out as it is."""


class CardLocked(PersonalizationError):
    """The card is locked (personalised for good): no new key and no write are possible."""


# Token errors: an issuer key in a hardware token (PKCS#11) that cannot be used. They are
# InvalidKey errors too, so code that handles a bad key file handles these the same way.
# Messages name the token, the object and what was wrong; never the PIN.


class TokenError(InvalidKey):
    """A key in a PKCS#11 token cannot be used: the URI, the module or the token failed."""


class TokenNotFound(TokenError):
    """No token, or no private key object in it, matches the key URI."""


class TokenPinError(TokenError):
    """The token PIN is missing, incorrect or locked."""


class TokenUnsupported(TokenError):
    """The token key is not P-256 or Ed25519, or the token cannot sign with its algorithm."""


# Card faces and QR codes: printing a card and reading one back from a picture.


class FaceError(CityIDError):
    """A card face cannot be rendered as asked: a character the font cannot show, a bad photo.

    Messages name the field (``name``, ``gender``), never its value.
    """


class QRCodeError(CityIDError):
    """An image cannot be read, or holds no cityid-card QR code (or more than one)."""


# NFC tag errors: a Type 2 tag (NTAG21x) whose memory or answers break the NDEF mapping
# (specs/ndef-mapping.md), or that cannot take or give a credential. Like the card errors,
# their messages name the structure and the offset that is wrong, never the tag's bytes.


class TagError(CardError):
    """An NFC tag cannot be read or written as the NDEF mapping says; the subclass says why."""


class UnsupportedTag(TagError):
    """The tag is of a kind the NDEF mapping does not cover (not Type 2, not ISO-DEP)."""


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


class BlankTag(BlankCard, TagError):
    """The tag holds no NDEF message: it is blank, or a write was torn before it finished."""


class TagRemoved(CardRemoved, TagError):
    """The tag stopped answering: it left the reader's field, or it is broken."""


class TagProtocolError(CardProtocolError, TagError):
    """The tag refused a read command (NAK) or answered with the wrong number of bytes."""


class TagCapacityError(TagError):
    """The credential does not fit in the tag's data area."""


class TagWriteError(PersonalizationError, TagError):
    """Writing did not complete: the tag refused a page, or reads back other bytes."""


class TagLocked(CardLocked, TagError):
    """The tag is read-only (lock bits, or its capability container says so)."""


class TagUidMismatch(CardAuthenticationError, TagError):
    """The credential binds another tag's UID: it was copied to this tag.

    A CredentialError too, like a failed chip authentication: the tag must be rejected.
    """


# The issuance station: a card it is handed that already holds data. The station's own
# errors (its applicants file, its records) are in cityid_card.station.errors.


class CardNotBlank(PersonalizationError):
    """The card or tag a batch was handed already holds data: it is refused, not overwritten."""
