"""The EAC error family: every failure of a protocol step is an :class:`EacError`.

Messages name the step and what was wrong with the encoding or the check; they never
contain keys, nonces, passwords, tokens or the bytes that were rejected.
"""

from __future__ import annotations

from cityid_card.errors import CityIDError

__all__ = [
    "AuthenticationFailed",
    "CertificateChainError",
    "CertificateDateError",
    "CertificateError",
    "CertificateSignatureError",
    "EacEncodingError",
    "EacError",
    "InvalidPoint",
    "SecureMessagingError",
]


class EacError(CityIDError):
    """A step of PACE, secure messaging, TA, CA or RI failed; the subclass says why."""


class EacEncodingError(EacError):
    """Bytes are not the one encoding this profile allows (TLV, lengths, fields)."""


class InvalidPoint(EacEncodingError):
    """A key is unusable: a public key is not an uncompressed point of the curve, a
    private key lies outside [1, n-1], or a product of the protocol is the identity."""


class AuthenticationFailed(EacError):
    """An authentication token or a nonce check did not match: a wrong password or key."""


class SecureMessagingError(EacError):
    """A secure messaging APDU is malformed, or its MAC does not verify.

    ``status_word`` is what a card answers for it (ISO/IEC 7816-4): ``6987`` when an
    expected secure messaging data object is missing, ``6988`` when one is incorrect.
    """

    def __init__(self, message: str, status_word: int) -> None:
        super().__init__(message)
        self.status_word = status_word


class CertificateError(EacError):
    """A card-verifiable certificate cannot be accepted; the subclass says why."""


class CertificateSignatureError(CertificateError):
    """The certificate's signature does not verify under its issuer's key."""


class CertificateDateError(CertificateError):
    """The certificate is not yet effective, or has expired, on the given date."""


class CertificateChainError(CertificateError):
    """The certificates do not form a chain: authority reference, role or key missing."""
