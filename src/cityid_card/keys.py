"""Issuer keys: the private key that signs credentials and the public half verifiers trust.

A key has a ``kid``, the label people use ("CHI-2026-1"), and an issuing window: the
days on which it may sign. On the card, the key is named by its *wire key id*, the
first two bytes of its RFC 7638 thumbprint, which costs 4 bytes instead of the label's
length (see ``specs/credential.md``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from . import _algorithms, _cbor, cose
from ._algorithms import Algorithm, PrivateKeyObject, PublicKeyObject
from .credential import Credential
from .errors import InvalidClaim, InvalidKey, KeyNotValid, TokenError
from .signer import LocalSigner, Signer, as_signer

__all__ = ["KEY_URI_SCHEME", "WIRE_KID_SIZE", "IssuerKey", "PublicKey", "is_key_uri"]

WIRE_KID_SIZE = 2
#: Where a key file path is accepted, a string starting with this names a key in a token.
KEY_URI_SCHEME = "pkcs11:"


def is_key_uri(location: str) -> bool:
    """True if ``location`` is a PKCS#11 URI (RFC 7512) rather than a file path."""
    return location[: len(KEY_URI_SCHEME)].lower() == KEY_URI_SCHEME


@dataclass(frozen=True)
class PublicKey:
    """A trusted issuer public key with its label, algorithm and issuing window."""

    kid: str
    alg: Algorithm
    key: PublicKeyObject = field(repr=False)
    valid_from: date | None = None
    valid_until: date | None = None
    wire_kid: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not self.kid:
            raise InvalidKey("kid must be a non-empty string")
        if _algorithms.algorithm_of(self.key) != self.alg:
            raise InvalidKey("the key type does not match its algorithm")
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise InvalidKey("valid_from is after valid_until")
        object.__setattr__(self, "wire_kid", _algorithms.thumbprint(self.key)[:WIRE_KID_SIZE])

    def valid_on(self, day: date) -> bool:
        """True if the key may issue credentials dated ``day``."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    def verify_signature(self, message: bytes, signature: bytes) -> None:
        """Check a 64-byte COSE signature over ``message``; raise BadSignature."""
        _algorithms.verify_signature(self.key, message, signature)

    def to_jwk(self) -> dict[str, Any]:
        """This key as a JWK (RFC 7517) with ``kid``, ``alg`` and the issuing window."""
        jwk: dict[str, Any] = {
            **_algorithms.jwk_members(self.key),
            "kid": self.kid,
            "alg": self.alg,
            "use": "sig",
        }
        if self.valid_from is not None:
            jwk["valid_from"] = self.valid_from.isoformat()
        if self.valid_until is not None:
            jwk["valid_until"] = self.valid_until.isoformat()
        return jwk

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> PublicKey:
        """Load a JWK written by :meth:`to_jwk`; raise InvalidKey if it is unusable."""
        if not isinstance(jwk, dict):
            raise InvalidKey("a JWK must be a JSON object")
        if "d" in jwk:
            raise InvalidKey("a trust store must not hold private keys")
        alg = jwk.get("alg")
        if alg not in _algorithms.COSE_ALGORITHM:
            raise InvalidKey("JWK alg must be ES256 or EdDSA")
        if jwk.get("use", "sig") != "sig":
            raise InvalidKey("JWK use must be sig")
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            raise InvalidKey("JWK kid must be a string")
        return cls(
            kid=kid,
            alg=alg,
            key=_algorithms.public_key_from_jwk(jwk),
            valid_from=_parse_date(jwk.get("valid_from"), "valid_from"),
            valid_until=_parse_date(jwk.get("valid_until"), "valid_until"),
        )


class IssuerKey:
    """A private issuer key that signs credentials.

    Create one with :meth:`generate` or :meth:`load_pem`, or use a key that stays in a
    hardware token with :meth:`from_uri`; publish :meth:`public` in the verifiers'
    trust store; sign cards with :meth:`issue`. A key from a token holds a session
    open: :meth:`close` it, or use the key as a context manager.
    """

    def __init__(
        self,
        private_key: PrivateKeyObject | Signer,
        *,
        kid: str | None = None,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> None:
        self._signer = as_signer(private_key)
        if isinstance(self._signer, LocalSigner):
            # The key object itself, for a key held in memory (a key in a token has none).
            self._key: PrivateKeyObject = self._signer.private_key
        self._alg = self._signer.alg
        public = self._signer.public_key()
        if kid is None:
            kid = _algorithms._b64url(_algorithms.thumbprint(public))
        self._public = PublicKey(kid, self._alg, public, valid_from, valid_until)

    @classmethod
    def generate(
        cls,
        alg: Algorithm = "ES256",
        kid: str | None = None,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IssuerKey:
        """Make a new key; ``kid`` defaults to the key's RFC 7638 thumbprint."""
        private = _algorithms.generate_private_key(_algorithms.algorithm_name(alg))
        return cls(private, kid=kid, valid_from=valid_from, valid_until=valid_until)

    @classmethod
    def from_pem(
        cls, data: bytes, password: bytes | str | None = None, *, kid: str | None = None
    ) -> IssuerKey:
        """Load a PKCS#8 PEM private key, encrypted if ``password`` is given."""
        if isinstance(password, str):
            password = password.encode("utf-8")
        try:
            private = serialization.load_pem_private_key(data, password=password)
        except TypeError:
            raise InvalidKey("the key is encrypted and needs a password, or is not") from None
        except ValueError:
            raise InvalidKey("not a PEM private key, or the password is wrong") from None
        if not isinstance(private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
            raise InvalidKey("only P-256 and Ed25519 keys are supported")
        return cls(private, kid=kid)

    @classmethod
    def load_pem(
        cls,
        path: str | os.PathLike[str],
        password: bytes | str | None = None,
        *,
        kid: str | None = None,
    ) -> IssuerKey:
        """Load a PKCS#8 PEM private key file, encrypted if ``password`` is given."""
        return cls.from_pem(Path(path).read_bytes(), password, kid=kid)

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        pin: str | None = None,
        kid: str | None = None,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IssuerKey:
        """Use a private key that stays in a PKCS#11 token, named by an RFC 7512 URI.

        ``pkcs11:token=CITY;object=CHI-2026-1?pin-source=file:/run/pin``: see
        :mod:`cityid_card.hsm` for the attributes, where the PIN and the PKCS#11 module
        come from, and the errors (subclasses of :class:`~cityid_card.errors.TokenError`).
        Needs the ``hsm`` extra (python-pkcs11).
        """
        try:
            from .hsm import Pkcs11Signer
        except ImportError:
            raise TokenError(
                "keys in a token need python-pkcs11: pip install 'cityid-card[hsm]'"
            ) from None
        return cls(
            Pkcs11Signer.open(uri, pin=pin),
            kid=kid,
            valid_from=valid_from,
            valid_until=valid_until,
        )

    @classmethod
    def load(
        cls,
        location: str | os.PathLike[str],
        password: bytes | str | None = None,
        *,
        kid: str | None = None,
    ) -> IssuerKey:
        """A PEM key file, or a ``pkcs11:`` URI (then ``password`` is the token PIN)."""
        text = os.fspath(location)
        if is_key_uri(text):
            if isinstance(password, bytes):
                try:
                    password = password.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidKey("the token PIN is not valid UTF-8") from None
            return cls.from_uri(text, pin=password, kid=kid)
        return cls.load_pem(text, password, kid=kid)

    @property
    def in_token(self) -> bool:
        """True if the private key stays in a hardware token (it cannot be exported)."""
        return not isinstance(self._signer, LocalSigner)

    @property
    def uri(self) -> str | None:
        """The pkcs11: URI of a key in a token, without any PIN; None for a key in memory."""
        return self._signer.uri

    def close(self) -> None:
        """Release the token session of a key in a token; nothing for a key in memory."""
        self._signer.close()

    def __enter__(self) -> IssuerKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def to_pem(self, password: bytes | str | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted with ``password`` if given."""
        if not isinstance(self._signer, LocalSigner):
            raise InvalidKey("a key in a hardware token cannot be exported")
        if isinstance(password, str):
            password = password.encode("utf-8")
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def save_pem(self, path: str | os.PathLike[str], password: bytes | str | None = None) -> None:
        """Write :meth:`to_pem` to a new file readable by its owner only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self.to_pem(password))

    @property
    def alg(self) -> Algorithm:
        return self._alg

    @property
    def kid(self) -> str:
        return self._public.kid

    def public(self) -> PublicKey:
        """The public key, with kid and issuing window, for a trust store."""
        return self._public

    def sign(self, payload: bytes, *, extra_protected: Mapping[Any, Any] | None = None) -> bytes:
        """Sign any ``payload`` as an untagged COSE_Sign1 under this key."""
        message = cose.sign1(
            payload, self._signer, kid=self._public.wire_kid, extra_protected=extra_protected
        )
        return message.encode()

    def issue(self, credential: Credential, *, today: date | None = None) -> bytes:
        """Sign ``credential``; return the card's bytes.

        A credential without an issue date is dated ``today`` (by default the issuing
        machine's local date). Raises KeyNotValid outside the key's issuing window.
        """
        issued = credential.issued or today or date.today()
        if not self._public.valid_on(issued):
            raise KeyNotValid("the issuer key may not issue credentials on this date")
        for point in (credential.card_key, credential.pseudonym_key):
            if point is not None:
                try:
                    _algorithms.public_key_from_raw("ES256", point)
                except InvalidKey:
                    raise InvalidClaim("card_key and pseudonym_key must be P-256 points") from None
        return self.sign(_cbor.dumps(replace(credential, issued=issued).to_claims()))


def _parse_date(value: object, label: str) -> date | None:
    if value is None:
        return None
    # date.fromisoformat also takes 20260101 and 2026-W01-1: the format allows one form.
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidKey(f"JWK {label} must be a date as YYYY-MM-DD")
