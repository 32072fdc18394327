"""The exception family of cityid-card.

Every failure the library reports is a subclass of :class:`CityIDError`. A credential
that cannot be accepted raises a subclass of :class:`CredentialError`, one per reason,
so callers can branch on the type. Messages describe what was wrong with the *encoding*
or the *policy*; they never contain the holder's name, date of birth or other claim
values, so they are safe to log.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "CityIDError",
    "ClaimError",
    "CredentialError",
    "Expired",
    "InvalidClaim",
    "InvalidKey",
    "KeyNotValid",
    "MalformedCredential",
    "NotYetValid",
    "Revoked",
    "StatusListError",
    "StatusUnknown",
    "Suspended",
    "TrustStoreError",
    "UnknownClaim",
    "UnknownIssuer",
    "UnsupportedAlgorithm",
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


class TrustStoreError(CityIDError):
    """A trust store file cannot be read or holds an unusable entry."""


class StatusListError(CityIDError):
    """A status list or status registry cannot be read, verified or changed as asked."""
