"""Where COSE signatures come from: a private key in memory, or a key in a token.

:func:`cityid_card.cose.sign1` and :class:`~cityid_card.keys.IssuerKey` sign through a
:class:`Signer`: anything that knows its algorithm and public key and returns the
64-byte COSE signature of a message. :class:`LocalSigner` wraps a pyca/cryptography
private key; :class:`cityid_card.hsm.Pkcs11Signer` signs inside a PKCS#11 token, so
the private key never leaves it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from . import _algorithms
from ._algorithms import Algorithm, PrivateKeyObject, PublicKeyObject
from .errors import InvalidKey

__all__ = ["LocalSigner", "Signer", "as_signer"]


@runtime_checkable
class Signer(Protocol):
    """Makes COSE signatures (RFC 9053: r || s for ES256, R || S for EdDSA) with one key."""

    @property
    def uri(self) -> str | None:
        """Where the key lives, as a URI without secrets (pkcs11:), or None in memory."""
        ...

    @property
    def alg(self) -> Algorithm:
        """The algorithm the key signs with: "ES256" or "EdDSA"."""
        ...

    def public_key(self) -> PublicKeyObject:
        """The public half of the signing key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte COSE signature of ``message`` (the whole Sig_structure)."""
        ...

    def close(self) -> None:
        """Release what the signer holds (a token session); a no-op for a local key."""
        ...


class LocalSigner:
    """A :class:`Signer` over a P-256 or Ed25519 private key held in this process."""

    def __init__(self, private_key: PrivateKeyObject) -> None:
        self._alg = _algorithms.algorithm_of(private_key)
        self.private_key = private_key

    @property
    def uri(self) -> None:
        """None: the key is in memory."""
        return None

    @property
    def alg(self) -> Algorithm:
        return self._alg

    def public_key(self) -> PublicKeyObject:
        return self.private_key.public_key()

    def sign(self, message: bytes) -> bytes:
        """ES256 deterministically (RFC 6979), or Ed25519."""
        return _algorithms.sign(self.private_key, message)

    def close(self) -> None:
        """Nothing to release."""


def as_signer(key: PrivateKeyObject | Signer) -> Signer:
    """``key`` itself if it is a Signer; a :class:`LocalSigner` over a private key object."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        return LocalSigner(key)
    if isinstance(key, Signer):
        return key
    raise InvalidKey("only P-256 and Ed25519 keys are supported")
