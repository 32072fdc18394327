"""The two signature algorithms of the format, on top of pyca/cryptography (OpenSSL).

ES256 is ECDSA on P-256 with SHA-256 and the signature as the 64-byte r || s that COSE
uses (RFC 9053 section 2.1); signing is deterministic (RFC 6979). EdDSA is Ed25519
(RFC 8032). Nothing else is implemented, on purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from typing import Literal, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import BadSignatureError

from .errors import BadSignature, InvalidKey, UnsupportedAlgorithm

Algorithm: TypeAlias = Literal["ES256", "EdDSA"]
PublicKeyObject: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKeyObject: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

#: COSE algorithm identifiers (IANA "COSE Algorithms" registry).
COSE_ALGORITHM: dict[Algorithm, int] = {"ES256": -7, "EdDSA": -8}
ALGORITHM_BY_COSE: dict[int, Algorithm] = {v: k for k, v in COSE_ALGORITHM.items()}
SIGNATURE_SIZE = 64

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_SHA256_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def algorithm_name(value: object) -> Algorithm:
    """Return the algorithm of a name ("ES256", "EdDSA"), or raise UnsupportedAlgorithm."""
    if isinstance(value, str) and value in COSE_ALGORITHM:
        return value
    raise UnsupportedAlgorithm("only ES256 and EdDSA (Ed25519) are supported")


def algorithm_from_header(value: object) -> Algorithm:
    """The algorithm a COSE ``alg`` header names: only the integers -7 and -8 qualify."""
    if isinstance(value, int) and not isinstance(value, bool) and value in ALGORITHM_BY_COSE:
        return ALGORITHM_BY_COSE[value]
    raise UnsupportedAlgorithm("only ES256 (-7) and EdDSA (-8) are supported")


def algorithm_of(key: object) -> Algorithm:
    """Return the algorithm a key is for, or raise InvalidKey."""
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        raise InvalidKey("EC keys must be on the P-256 curve")
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "EdDSA"
    raise InvalidKey("only P-256 and Ed25519 keys are supported")


def generate_private_key(alg: Algorithm) -> PrivateKeyObject:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def sign(key: PrivateKeyObject, message: bytes) -> bytes:
    """Sign ``message``; return the 64-byte COSE signature."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    r, s = decode_dss_signature(key.sign(message, _ECDSA_SHA256_DETERMINISTIC))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


SignatureCheck: TypeAlias = Callable[[bytes, bytes], None]


def signature_check(key: PublicKeyObject) -> SignatureCheck:
    """A function ``check(message, signature)`` for ``key`` that raises BadSignature.

    Ed25519 goes through libsodium (PyNaCl), about twice as fast as OpenSSL 3 and
    what the C engine uses too; ES256 through OpenSSL (pyca/cryptography).
    """
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)

        def check_ed25519(message: bytes, signature: bytes) -> None:
            if len(signature) != SIGNATURE_SIZE:
                raise BadSignature("the signature is not 64 bytes long")
            try:
                crypto_sign_open(signature + message, raw)
            except BadSignatureError:
                raise BadSignature("the signature does not verify under the issuer key") from None

        return check_ed25519

    def check_es256(message: bytes, signature: bytes) -> None:
        if len(signature) != SIGNATURE_SIZE:
            raise BadSignature("the signature is not 64 bytes long")
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        try:
            key.verify(encode_dss_signature(r, s), message, _ECDSA_SHA256)
        except InvalidSignature:
            raise BadSignature("the signature does not verify under the issuer key") from None

    return check_es256


def verify_signature(key: PublicKeyObject, message: bytes, signature: bytes) -> None:
    """Check a COSE signature (r || s for ES256, R || S for EdDSA); raise BadSignature."""
    signature_check(key)(message, signature)


def public_key_from_raw(alg: Algorithm, raw: bytes) -> PublicKeyObject:
    """Load a raw public key: a SEC1 P-256 point (ES256) or 32 bytes (EdDSA)."""
    try:
        if alg == "ES256":
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidKey(f"not a valid {alg} public key") from None


def raw_public_bytes(key: PublicKeyObject) -> bytes:
    """The raw public key: the uncompressed SEC1 point (ES256) or 32 bytes (EdDSA)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


#: Unpadded base64url (RFC 7515 section 2): its alphabet only, never a lone last character.
_BASE64URL = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?")


def _b64url_decode(text: object) -> bytes:
    """Strict unpadded base64url: no '+', '/', '=', white space or other characters,
    and the one encoding of the bytes (unused trailing bits zero)."""
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text):
        raise InvalidKey("JWK members must be unpadded base64url strings")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):  # pragma: no cover - the pattern admits none
        raise InvalidKey("JWK member is not valid base64url") from None
    if _b64url(data) != text:
        raise InvalidKey("JWK member is not the canonical base64url of its bytes")
    return data


def check_verifiable(key: PublicKeyObject) -> None:
    """Raise InvalidKey for a public key no signature can ever verify under.

    That is an Ed25519 key that is not a canonical encoding of a point of the
    prime-order subgroup (libsodium's crypto_core_ed25519_is_valid_point): small-order
    and non-canonical keys, which the signature check refuses, and points with a
    small-order component, which no Ed25519 key generation produces. A P-256 key is
    checked on the curve when it is loaded.
    """
    if isinstance(key, ed25519.Ed25519PublicKey) and not crypto_core_ed25519_is_valid_point(
        key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    ):
        raise InvalidKey(
            "an Ed25519 public key must be a canonical point of the prime-order subgroup"
        )


def jwk_members(key: PublicKeyObject) -> dict[str, str]:
    """The RFC 7517 key members (kty, crv, x[, y]) of a public key."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def public_key_from_jwk(jwk: dict[str, object]) -> PublicKeyObject:
    """Load the public key described by a JWK's kty, crv, x and y members."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        key = public_key_from_raw("EdDSA", _b64url_decode(jwk.get("x")))
        check_verifiable(key)
        return key
    if kty == "EC" and crv == "P-256":
        x = _b64url_decode(jwk.get("x"))
        y = _b64url_decode(jwk.get("y"))
        if len(x) != 32 or len(y) != 32:
            raise InvalidKey("P-256 JWK coordinates must be 32 bytes")
        return public_key_from_raw("ES256", b"\x04" + x + y)
    raise InvalidKey("JWK must be an EC P-256 or OKP Ed25519 key")


def thumbprint(key: PublicKeyObject) -> bytes:
    """The RFC 7638 JWK thumbprint (SHA-256) of a public key."""
    canonical = json.dumps(jwk_members(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).digest()
