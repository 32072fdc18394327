"""Verifying a card's credential offline, against a trust store.

The checks run in the order the spec fixes (``specs/credential.md``, "Verification"),
so every implementation reports the same error for the same bytes:

1. the bytes are the canonical untagged COSE_Sign1 of the profile (MalformedCredential),
2. the protected header names ES256 or EdDSA (UnsupportedAlgorithm),
3. a trusted key has that algorithm and wire key id (UnknownIssuer),
4. the signature verifies under one of those keys (BadSignature),
5. the payload is a canonical claims array of version 1 with no unknown claim
   (MalformedCredential, UnsupportedVersion, UnknownClaim, InvalidClaim),
6. the key's issuing window holds the issue date (KeyNotValid),
7. issued <= today (NotYetValid) and today <= expires (Expired).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from . import _algorithms, _cbor, cose
from ._algorithms import Algorithm
from .credential import Credential
from .errors import (
    BadSignature,
    Expired,
    KeyNotValid,
    MalformedCredential,
    NotYetValid,
    UnknownIssuer,
)
from .keys import WIRE_KID_SIZE, PublicKey
from .trust import TrustStore

__all__ = ["UnverifiedCredential", "VerifiedCredential", "decode_unverified", "verify"]


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential whose signature, issuer and dates all checked out."""

    credential: Credential
    kid: str
    alg: Algorithm


def verify(
    blob: bytes | bytearray | memoryview, trust: TrustStore, now: datetime | date | None = None
) -> VerifiedCredential:
    """Verify a card's bytes; return the result or raise a CredentialError subclass.

    ``now`` is the moment to judge validity at (default: the current UTC time). Its
    calendar date is compared with the card's dates: pass a timezone-aware datetime
    to judge by the local date, a naive one is taken as UTC.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError("the credential must be bytes")
    return _verify_python(bytes(blob), trust, _verification_day(now))


def _verification_day(now: datetime | date | None) -> date:
    if now is None:
        return datetime.now(UTC).date()
    if isinstance(now, datetime):
        return now.date()
    if isinstance(now, date):
        return now
    raise TypeError("now must be a datetime, a date or None")


def _verify_python(blob: bytes, trust: TrustStore, today: date) -> VerifiedCredential:
    message, alg, wire_kid = _parse_envelope(blob)
    key = _signing_key(trust.candidates(alg, wire_kid), message)
    credential = Credential.from_claims(_cbor.loads(message.payload))
    issued = credential.issued
    assert issued is not None  # from_claims always sets it
    if not key.valid_on(issued):
        raise KeyNotValid("the issuer key was not valid on the credential's issue date")
    if today < issued:
        raise NotYetValid("the credential's issue date is after the verification date")
    if today > credential.expires:
        raise Expired("the credential expired before the verification date")
    return VerifiedCredential(credential, key.kid, alg)


@dataclass(frozen=True)
class UnverifiedCredential:
    """What a credential claims, decoded WITHOUT checking signature, issuer or dates."""

    credential: Credential
    alg: Algorithm
    wire_kid: bytes


def decode_unverified(blob: bytes) -> UnverifiedCredential:
    """Decode a credential without trusting it (for inspection and diagnostics only).

    The encoding is checked as strictly as by :func:`verify`; nothing else is.
    """
    message, alg, wire_kid = _parse_envelope(bytes(blob))
    return UnverifiedCredential(Credential.from_claims(_cbor.loads(message.payload)), alg, wire_kid)


def _parse_envelope(blob: bytes) -> tuple[cose.Sign1, Algorithm, bytes]:
    """Steps 1 and 2: the profile's COSE_Sign1, its algorithm and wire key id."""
    message = cose.Sign1.decode(blob, tagged=False)
    if message.unprotected:
        raise MalformedCredential("the unprotected header must be empty")
    if len(message.signature) != _algorithms.SIGNATURE_SIZE:
        raise MalformedCredential("the signature must be 64 bytes")
    header = message.protected
    if set(header) != {cose.HEADER_ALG, cose.HEADER_KID}:
        raise MalformedCredential("the protected header must hold exactly alg and kid")
    wire_kid = header[cose.HEADER_KID]
    if not isinstance(wire_kid, bytes) or len(wire_kid) != WIRE_KID_SIZE:
        raise MalformedCredential("the kid must be a 2-byte string")
    return message, _algorithms.algorithm_name(header[cose.HEADER_ALG]), wire_kid


def _signing_key(candidates: tuple[PublicKey, ...], message: cose.Sign1) -> PublicKey:
    if not candidates:
        raise UnknownIssuer("no trusted key has the credential's key id and algorithm")
    to_be_signed = message.to_be_signed()
    for key in candidates:
        try:
            key.verify_signature(to_be_signed, message.signature)
        except BadSignature:
            continue
        return key
    raise BadSignature("the signature does not verify under the issuer key")
