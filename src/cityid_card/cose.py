"""COSE_Sign1 (RFC 9052 section 4.2) with ES256 and EdDSA, for any payload.

This layer knows nothing of credentials: it builds, parses and verifies single-signer
messages. Parsing is strict deterministic CBOR (see :mod:`cityid_card._cbor`). The
algorithm and key id are read from the protected header only; the unprotected header
is returned for inspection but never consulted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _algorithms, _cbor
from .errors import InvalidKey, MalformedCredential, UnsupportedAlgorithm
from .signer import Signer, as_signer

__all__ = ["HEADER_ALG", "HEADER_KID", "TAG_SIGN1", "Sign1", "sign1"]

TAG_SIGN1 = 18
HEADER_ALG = 1
HEADER_KID = 4
_TAG_SIGN1_HEAD = b"\xd2"  # CBOR tag 18 in its one-byte head
_SIGNATURE1_HEAD = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


@dataclass(frozen=True)
class Sign1:
    """A parsed COSE_Sign1 message."""

    protected_bytes: bytes
    payload: bytes
    signature: bytes
    unprotected: Mapping[Any, Any] = field(default_factory=dict)
    #: The protected header map, decoded from :attr:`protected_bytes`.
    protected: Mapping[Any, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "protected", _decode_protected(self.protected_bytes))

    @property
    def alg(self) -> _algorithms.Algorithm:
        """The algorithm named in the protected header; UnsupportedAlgorithm otherwise."""
        return _algorithms.algorithm_from_header(self.protected.get(HEADER_ALG))

    @property
    def kid(self) -> bytes | None:
        """The key id from the protected header, if any."""
        kid = self.protected.get(HEADER_KID)
        if kid is not None and not isinstance(kid, bytes):
            raise MalformedCredential("COSE kid header is not a byte string")
        return kid

    @classmethod
    def decode(cls, data: bytes, *, tagged: bool | None = None) -> Sign1:
        """Parse a COSE_Sign1; ``tagged`` True requires tag 18, False forbids it, None allows both."""
        data = bytes(data)
        if data.startswith(_TAG_SIGN1_HEAD):
            if tagged is False:
                raise MalformedCredential("COSE_Sign1 must not be tagged here")
            data = data[1:]
        elif tagged:
            raise MalformedCredential("COSE_Sign1 must carry CBOR tag 18")
        item = _cbor.loads(data)
        if not isinstance(item, list) or len(item) != 4:
            raise MalformedCredential("COSE_Sign1 is not an array of four items")
        protected, unprotected, payload, signature = item
        if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
            raise MalformedCredential("COSE_Sign1 headers have the wrong types")
        if not isinstance(payload, bytes) or not isinstance(signature, bytes):
            raise MalformedCredential("COSE_Sign1 payload or signature is not a byte string")
        return cls(protected, payload, signature, unprotected)

    def encode(self, *, tagged: bool = False) -> bytes:
        body = _cbor.dumps(
            [self.protected_bytes, dict(self.unprotected), self.payload, self.signature]
        )
        return _TAG_SIGN1_HEAD + body if tagged else body

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        """The Sig_structure the signature covers."""
        return sig_structure(self.protected_bytes, self.payload, external_aad)

    def verify(self, key: _algorithms.PublicKeyObject, external_aad: bytes = b"") -> None:
        """Check the signature with ``key``; raise BadSignature or UnsupportedAlgorithm."""
        if self.alg != _algorithms.algorithm_of(key):
            raise UnsupportedAlgorithm("the header algorithm does not match the key")
        _algorithms.verify_signature(key, self.to_be_signed(external_aad), self.signature)


def has_labels(header: Mapping[Any, Any], *labels: int) -> bool:
    """True if ``header`` has exactly these integer labels (``true`` is not the label 1)."""
    return len(header) == len(labels) and all(
        type(label) is int and label in labels for label in header
    )


def sig_structure(protected_bytes: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """Encode ``["Signature1", protected, external_aad, payload]`` (RFC 9052 section 4.4)."""
    return (
        _SIGNATURE1_HEAD
        + _cbor.dumps_bytes(protected_bytes)
        + _cbor.dumps_bytes(external_aad)
        + _cbor.dumps_bytes(payload)
    )


def sign1(
    payload: bytes,
    key: _algorithms.PrivateKeyObject | Signer,
    *,
    kid: bytes | None = None,
    external_aad: bytes = b"",
    extra_protected: Mapping[Any, Any] | None = None,
) -> Sign1:
    """Sign ``payload``; the protected header holds the algorithm, ``kid`` if given, and
    any ``extra_protected`` parameters.

    ``key`` is a private key object or a :class:`~cityid_card.signer.Signer` (a key in
    a PKCS#11 token, for example).
    """
    signer = as_signer(key)
    header: dict[Any, Any] = {HEADER_ALG: _algorithms.COSE_ALGORITHM[signer.alg]}
    if kid is not None:
        header[HEADER_KID] = kid
    header.update(extra_protected or {})
    protected = _cbor.dumps(header)
    signature = signer.sign(sig_structure(protected, payload, external_aad))
    if len(signature) != _algorithms.SIGNATURE_SIZE:
        raise InvalidKey("the signer returned a signature that is not 64 bytes long")
    return Sign1(protected, payload, signature)


def _decode_protected(protected: bytes) -> dict[Any, Any]:
    # RFC 9052: an empty protected header is encoded as a zero-length byte string.
    if not protected:
        return {}
    header = _cbor.loads(protected)
    if not isinstance(header, dict) or not header:
        raise MalformedCredential("COSE protected header is not a non-empty map")
    return header
