"""The exception family of cityid-card.

Every failure the library reports is a subclass of :class:`CityIDError`. A credential
that cannot be accepted raises a subclass of :class:`CredentialError`, one per reason,
so callers can branch on the type. Messages describe what was wrong with the *encoding*
or the *policy*; they never contain the holder's name, date of birth or other claim
values, so they are safe to log.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ApduError",
    "ApplicationNotFound",
    "BadSignature",
    "Blank",
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
    "Locked",
    "MalformedCredential",
    "MediumError",
    "NdefFormatError",
    "NdefLengthError",
    "NoReader",
    "NotAuthentic",
    "NotBlank",
    "NotOurTag",
    "NotYetValid",
    "PersonalizationError",
    "ProtocolError",
    "QRCodeError",
    "Removed",
    "Revoked",
    "StatusListError",
    "StatusUnknown",
    "Suspended",
    "TagCapacityError",
    "TagError",
    "TagLocked",
    "TagNotBlank",
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
    "UnsupportedMedium",
    "UnsupportedTag",
    "UnsupportedVersion",
    "WriteError",
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


class JSONInputError(InputError):
    """A JSON document is not valid JSON, or is past the reader's limits.

    The limits (size, nesting depth, digits of an integer) keep a hostile file from
    exhausting the stack or the CPU; duplicate keys are refused as ambiguous.
    """


class TrustStoreError(CityIDError):
    """A trust store file cannot be read or holds an unusable entry."""


class StatusListError(CityIDError):
    """A status list or status registry cannot be read, verified or changed as asked."""


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


# Cards, tags and readers: the failure kinds every medium shares live in
# cityid_card.media.errors, each medium's own failures in its package (iso7816.errors,
# type2.errors). They are all CityIDErrors, and ``from cityid_card.errors import
# BlankTag`` keeps working: the names resolve on first use (those packages import this
# module, so they cannot be imported while it loads). CardError is the name the base of
# them all had before it became MediumError.

if TYPE_CHECKING:
    from cityid_card.iso7816.errors import (
        ApduError,
        ApplicationNotFound,
        BlankCard,
        CardAuthenticationError,
        CardLocked,
        CardNotBlank,
        CardProtocolError,
        CardRemoved,
    )
    from cityid_card.media.errors import (
        Blank,
        DriverError,
        Locked,
        MediumError,
        NoReader,
        NotAuthentic,
        NotBlank,
        PersonalizationError,
        ProtocolError,
        Removed,
        TransportError,
        TransportTimeout,
        UnsupportedMedium,
        WriteError,
    )
    from cityid_card.type2.errors import (
        BlankTag,
        CapabilityContainerError,
        NdefFormatError,
        NdefLengthError,
        NotOurTag,
        TagCapacityError,
        TagError,
        TagLocked,
        TagNotBlank,
        TagProtocolError,
        TagRemoved,
        TagUidMismatch,
        TagWriteError,
        TlvError,
        UnsupportedTag,
    )

    CardError = MediumError

_MOVED = {
    "ApduError": "cityid_card.iso7816.errors",
    "ApplicationNotFound": "cityid_card.iso7816.errors",
    "Blank": "cityid_card.media.errors",
    "BlankCard": "cityid_card.iso7816.errors",
    "BlankTag": "cityid_card.type2.errors",
    "CapabilityContainerError": "cityid_card.type2.errors",
    "CardAuthenticationError": "cityid_card.iso7816.errors",
    "CardLocked": "cityid_card.iso7816.errors",
    "CardNotBlank": "cityid_card.iso7816.errors",
    "CardProtocolError": "cityid_card.iso7816.errors",
    "CardRemoved": "cityid_card.iso7816.errors",
    "DriverError": "cityid_card.media.errors",
    "Locked": "cityid_card.media.errors",
    "MediumError": "cityid_card.media.errors",
    "NdefFormatError": "cityid_card.type2.errors",
    "NdefLengthError": "cityid_card.type2.errors",
    "NoReader": "cityid_card.media.errors",
    "NotAuthentic": "cityid_card.media.errors",
    "NotBlank": "cityid_card.media.errors",
    "NotOurTag": "cityid_card.type2.errors",
    "PersonalizationError": "cityid_card.media.errors",
    "ProtocolError": "cityid_card.media.errors",
    "Removed": "cityid_card.media.errors",
    "TagCapacityError": "cityid_card.type2.errors",
    "TagError": "cityid_card.type2.errors",
    "TagLocked": "cityid_card.type2.errors",
    "TagNotBlank": "cityid_card.type2.errors",
    "TagProtocolError": "cityid_card.type2.errors",
    "TagRemoved": "cityid_card.type2.errors",
    "TagUidMismatch": "cityid_card.type2.errors",
    "TagWriteError": "cityid_card.type2.errors",
    "TlvError": "cityid_card.type2.errors",
    "TransportError": "cityid_card.media.errors",
    "TransportTimeout": "cityid_card.media.errors",
    "UnsupportedMedium": "cityid_card.media.errors",
    "UnsupportedTag": "cityid_card.type2.errors",
    "WriteError": "cityid_card.media.errors",
    "CardError": "cityid_card.media.errors",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), "MediumError" if name == "CardError" else name)
    globals()[name] = value
    return value
