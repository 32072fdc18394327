"""Issuer keys: the private key that signs credentials and the public half verifiers trust.

A key has a ``kid``, the label people use ("CHI-2026-1"), and an issuing window: the
days on which it may sign. On the card, the key is named by its *wire key id*, the
first two bytes of its RFC 7638 thumbprint, which costs 4 bytes instead of the label's
length (see ``specs/credential.md``).

The private key knows its own window, so it refuses to sign outside it (spec section 9)
wherever it is used, not only where a trust store is at hand: :meth:`IssuerKey.to_pem`
writes the kid and the window as RFC 7468 explanatory text before the PEM block
(``cityid-card valid-until: 2027-12-31``; OpenSSL and pyca/cryptography skip it), and
:meth:`IssuerKey.from_pem` reads them back; a key in a PKCS#11 token carries them as
CKA_START_DATE and CKA_END_DATE (:mod:`cityid_card.hsm`). The text is not protected:
whoever can edit the key file can change it. It stops mistakes (a retired key left on a
station), not an attacker, who is stopped by the verifiers' trust store windows. Only
credentials are refused outside the window: status lists (:meth:`IssuerKey.sign`) are
still signed, so the cards a retired key issued stay revocable.

Core and sans-I/O: keys come from and go to bytes; files, passphrase prompts and the
environment are the edge's (:mod:`cityid_card.keyfiles`, the CLI).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from . import _algorithms, _cbor, cose
from ._algorithms import Algorithm, PrivateKeyObject, PublicKeyObject
from .credential import Credential
from .errors import (
    InvalidClaim,
    InvalidKey,
    KeyOutsideValidity,
    MissingExtra,
    PassphraseRequired,
    WrongPassphrase,
)
from .signer import LocalSigner, Signer, as_signer

if TYPE_CHECKING:
    from .hsm import Pkcs11Signer

__all__ = ["WIRE_KID_SIZE", "IssuerKey", "PublicKey"]

WIRE_KID_SIZE = 2
# The explanatory text (RFC 7468 section 5.2) before a key file's PEM block.
_PEM_NOTE = re.compile(rb"cityid-card ([a-z-]+): ([^\r\n]*)")
_PEM_FIELDS = ("kid", "valid-from", "valid-until")
_PEM_BEGIN = b"-----BEGIN "


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

    def window(self) -> str:
        """The issuing window for messages: ``from 2026-01-01 to 2027-12-31``."""
        start = f"from {self.valid_from}" if self.valid_from is not None else ""
        end = f"until {self.valid_until}" if self.valid_until is not None else ""
        return " ".join(part for part in (start, end) if part) or "on any day"

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

    Create one with :meth:`generate` or :meth:`from_pem` (a key file's bytes; files are
    read by :func:`cityid_card.keyfiles.load_key`), or use a key that stays in a hardware
    token with :meth:`from_uri`; publish :meth:`public` in the verifiers' trust store;
    sign cards with :meth:`issue`, which refuses dates outside the key's issuing window.
    A key from a token holds a session open: :meth:`close` it, or use the key as a
    context manager.
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
        """Load a PKCS#8 PEM private key, encrypted if ``password`` is given.

        The kid and issuing window written by :meth:`to_pem` come with it (``kid``
        overrides the stored label). Raises PassphraseRequired for an encrypted key
        without ``password``, WrongPassphrase when it does not open the key, InvalidKey
        for anything else.
        """
        notes = _read_notes(data)
        if isinstance(password, str):
            password = password.encode("utf-8")
        try:
            private = serialization.load_pem_private_key(data, password=password or None)
        except TypeError:
            # pyca raises TypeError both for a missing and for an unexpected password.
            if password:
                raise InvalidKey(
                    "the key file is not encrypted, but a passphrase was given"
                ) from None
            raise PassphraseRequired("the key file is encrypted: it needs its passphrase") from None
        except ValueError:
            if password and b"ENCRYPTED" in data:  # PKCS#8, or OpenSSL's legacy Proc-Type
                raise WrongPassphrase("wrong passphrase for the key file") from None
            raise InvalidKey("not a PEM private key (PKCS#8)") from None
        if not isinstance(private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
            raise InvalidKey("only P-256 and Ed25519 keys are supported")
        return cls(
            private,
            kid=kid if kid is not None else notes.get("kid"),
            valid_from=_parse_date(notes.get("valid-from"), "valid-from", "the key file's"),
            valid_until=_parse_date(notes.get("valid-until"), "valid-until", "the key file's"),
        )

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        pin: str | None = None,
        module: str | None = None,
        kid: str | None = None,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IssuerKey:
        """Use a private key that stays in a PKCS#11 token, named by an RFC 7512 URI.

        ``pkcs11:token=CITY;object=CHI-2026-1``: see :mod:`cityid_card.pkcs11_uri` for
        the attributes and :mod:`cityid_card.hsm` for the errors (subclasses of
        :class:`~cityid_card.pkcs11_uri.TokenError`). The PIN is ``pin``, else the URI's
        pin-value; the module ``module``, else its module-path, else SoftHSM2's. The kid
        is the key's label (CKA_LABEL) and the issuing window its CKA_START_DATE and
        CKA_END_DATE, unless given here; like a key file, the key knows both.
        To read a ``pin-source`` file or the environment, use
        :func:`cityid_card.keyfiles.load_key`. Needs the ``hsm`` extra (python-pkcs11).
        """
        signer = _token_signer(uri, pin, module)
        try:
            return cls(
                signer,
                kid=kid if kid is not None else signer.label,
                valid_from=signer.valid_from if valid_from is None else valid_from,
                valid_until=signer.valid_until if valid_until is None else valid_until,
            )
        except BaseException:
            signer.close()
            raise

    @classmethod
    def generate_in_token(
        cls,
        uri: str,
        alg: Algorithm = "ES256",
        *,
        pin: str | None = None,
        module: str | None = None,
        kid: str | None = None,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IssuerKey:
        """Make a key pair inside the token the URI names (its ``object`` is the label).

        The private key never leaves the token; the issuing window is stored on it as
        CKA_START_DATE and CKA_END_DATE (see :func:`cityid_card.hsm.generate_key`, which
        also says what is refused). ``kid`` defaults to the key's label. Returns the
        key, open: close it, or use it as a context manager.
        """
        signer: Pkcs11Signer = _hsm().generate_key(
            uri, alg, pin=pin, module=module, valid_from=valid_from, valid_until=valid_until
        )
        try:
            return cls(
                signer,
                kid=kid if kid is not None else signer.label,
                valid_from=signer.valid_from,
                valid_until=signer.valid_until,
            )
        except BaseException:
            signer.close()
            raise

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
        """The private key as PKCS#8 PEM, encrypted with ``password`` if given.

        The kid and the issuing window go before the PEM block as explanatory text
        (``cityid-card kid: CHI-2026-1``), which :meth:`from_pem` reads back.
        """
        if not isinstance(self._signer, LocalSigner):
            raise InvalidKey("a key in a hardware token cannot be exported")
        if isinstance(password, str):
            password = password.encode("utf-8")
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        return _write_notes(self._public) + pem

    @property
    def alg(self) -> Algorithm:
        return self._alg

    @property
    def kid(self) -> str:
        return self._public.kid

    def public(self) -> PublicKey:
        """The public key, with kid and issuing window, for a trust store."""
        return self._public

    def check_issuing_date(self, day: date) -> None:
        """Raise KeyOutsideValidity unless this key may sign credentials issued on ``day``."""
        if not self._public.valid_on(day):
            raise KeyOutsideValidity(
                f"the issuer key {self.kid!r} may only sign credentials issued "
                f"{self._public.window()}: the issue date is outside that window"
            )

    def sign(self, payload: bytes, *, extra_protected: Mapping[Any, Any] | None = None) -> bytes:
        """Sign any ``payload`` as an untagged COSE_Sign1 under this key."""
        message = cose.sign1(
            payload, self._signer, kid=self._public.wire_kid, extra_protected=extra_protected
        )
        return message.encode()

    def issue(self, credential: Credential, *, today: date | None = None) -> bytes:
        """Sign ``credential``; return the card's bytes.

        A credential without an issue date is dated ``today``, which the caller gives
        (the issuing city's local calendar date; this core never reads a clock): one of
        the two is required. Raises KeyOutsideValidity when the issue date is outside
        the key's issuing window (spec section 9: the issuer MUST NOT sign).
        """
        issued = credential.issued or today
        if issued is None:
            raise InvalidClaim("the credential has no issue date: give issued= or today=")
        self.check_issuing_date(issued)
        for point in (credential.card_key, credential.pseudonym_key):
            if point is not None:
                try:
                    _algorithms.public_key_from_raw("ES256", point)
                except InvalidKey:
                    raise InvalidClaim("card_key and pseudonym_key must be P-256 points") from None
        return self.sign(_cbor.dumps(replace(credential, issued=issued).to_claims()))


def _hsm() -> ModuleType:
    """:mod:`cityid_card.hsm`, loaded here, only when a token is used (python-pkcs11)."""
    try:
        return importlib.import_module(f"{__package__}.hsm")
    except ImportError:
        raise MissingExtra("hsm", "keys in a token need python-pkcs11") from None


def _token_signer(uri: str, pin: str | None, module: str | None) -> Pkcs11Signer:
    signer: Pkcs11Signer = _hsm().Pkcs11Signer.open(uri, pin=pin, module=module)
    return signer


def _read_notes(data: bytes) -> dict[str, str]:
    """The ``cityid-card NAME: VALUE`` lines before the PEM block."""
    if not isinstance(data, bytes):
        raise InvalidKey("a PEM key must be given as bytes")
    head = data.split(_PEM_BEGIN, 1)[0]
    notes: dict[str, str] = {}
    for line in head.splitlines():
        found = _PEM_NOTE.fullmatch(line.strip())
        if found is None:
            continue  # other explanatory text is allowed (RFC 7468 section 5.2)
        name = found.group(1).decode("ascii")
        if name not in _PEM_FIELDS:
            raise InvalidKey(f"the key file names an unknown cityid-card field {name!r}")
        if name in notes:
            raise InvalidKey(f"the key file gives its {name} twice")
        try:
            notes[name] = found.group(2).decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidKey(f"the key file's {name} is not UTF-8") from None
    return notes


def _write_notes(public: PublicKey) -> bytes:
    if not public.kid.isprintable() or public.kid != public.kid.strip():
        raise InvalidKey("a kid saved with the key must be one line of printable text")
    lines = [f"cityid-card kid: {public.kid}"]
    if public.valid_from is not None:
        lines.append(f"cityid-card valid-from: {public.valid_from.isoformat()}")
    if public.valid_until is not None:
        lines.append(f"cityid-card valid-until: {public.valid_until.isoformat()}")
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _parse_date(value: object, label: str, where: str = "JWK") -> date | None:
    if value is None:
        return None
    # date.fromisoformat also takes 20260101 and 2026-W01-1: the format allows one form.
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidKey(f"{where} {label} must be a date as YYYY-MM-DD")
