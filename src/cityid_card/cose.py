"""COSE_Sign1 (RFC 9052 section 4.2) with ES256 and EdDSA, for any payload.

This layer knows nothing of credentials: it builds, parses and verifies single-signer
messages. Parsing is strict deterministic CBOR (see :mod:`cityid_card._cbor`). The
algorithm and key id are read from the protected header only; the unprotected header
is returned for inspection but never consulted. An empty protected header may be
encoded as an empty byte string or as an empty map (h'a0'), as RFC 9052 section 3
requires recipients to accept; ``crit`` (label 2) is honoured: a message naming a
critical parameter the caller does not understand is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _algorithms, _cbor
from .errors import InvalidKey, MalformedCredential, UnsupportedAlgorithm
from .signer import Signer, as_signer

__all__ = [
    "HEADER_ALG",
    "HEADER_CONTENT_TYPE",
    "HEADER_CRIT",
    "HEADER_KID",
    "TAG_SIGN1",
    "Sign1",
    "sign1",
]

TAG_SIGN1 = 18
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
#: The parameters this layer understands itself (RFC 9052 section 3.1, for COSE_Sign1).
_UNDERSTOOD = frozenset({HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID})
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
    def decode(
        cls,
        data: bytes,
        *,
        tagged: bool | None = None,
        understood: Collection[int | str] = (),
        check_critical: bool = True,
    ) -> Sign1:
        """Parse a COSE_Sign1; ``tagged`` True requires tag 18, False forbids it, None allows both.

        ``understood`` names the header parameters the caller processes besides alg,
        crit, content type and kid: a ``crit`` naming any other is MalformedCredential
        (see :meth:`check_critical`). A caller whose profile admits no ``crit`` at all
        (credentials) may leave that check to its profile with ``check_critical=False``.
        """
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
        message = cls(protected, payload, signature, unprotected)
        if check_critical:
            message.check_critical(understood)
        return message

    def check_critical(self, understood: Collection[int | str] = ()) -> None:
        """Honour ``crit`` (RFC 9052 section 3.1): raise MalformedCredential unless it is
        absent, or in the protected header, a non-empty array of distinct labels
        (integers or text) that all name parameters understood by this layer or listed
        in ``understood``."""
        if HEADER_CRIT in self.unprotected:
            raise MalformedCredential("COSE crit must be in the protected header")
        if HEADER_CRIT not in self.protected:
            return
        critical = self.protected[HEADER_CRIT]
        if (
            not isinstance(critical, list)
            or not critical
            or not all(
                isinstance(label, (int, str)) and label is not True and label is not False
                for label in critical
            )
            or len(set(critical)) != len(critical)
        ):
            raise MalformedCredential("COSE crit must be a non-empty array of distinct labels")
        for label in critical:
            if label not in _UNDERSTOOD and label not in understood:
                raise MalformedCredential("COSE crit names a parameter not understood here")

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
    # RFC 9052 section 3: an empty protected header is a zero-length byte string, and
    # recipients accept an empty map in the byte string (h'a0') too.
    if not protected:
        return {}
    header = _cbor.loads(protected)
    if not isinstance(header, dict):
        raise MalformedCredential("COSE protected header is not a map")
    return header
