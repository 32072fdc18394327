"""Issuer keys in a hardware security module, through PKCS#11 (python-pkcs11).

A city never keeps its issuing key in a file: the key is made inside a token (an HSM,
a smart card, SoftHSM2 for tests) and signs there. A key URI (RFC 7512) names it
wherever a key file path is accepted::

    pkcs11:token=CITY-ISSUING;object=CHI-2026-1?pin-source=file:/run/cityid/pin

Path attributes (``;``-separated) choose the token and the key: ``token`` (label),
``manufacturer``, ``model``, ``serial``, ``slot-id``, then ``object`` (the key's label),
``id`` (its CKA_ID, percent-encoded bytes) and ``type`` (``private`` if given). Query
attributes (``&``-separated): ``module-path``, ``pin-value``, ``pin-source``. Values are
percent-decoded. An attribute this module does not know is refused, so a typing
mistake cannot select another key.

The PIN comes from the first of: the ``pin`` argument, ``pin-value``, ``pin-source``
(``file:`` URI or path of a file whose first line is the PIN), the environment variable
``CITYID_CARD_PKCS11_PIN``. A token with a PIN pad needs none. The PKCS#11 module is
``module-path``, else ``CITYID_CARD_PKCS11_MODULE``, else SoftHSM2's
(``/usr/lib/softhsm/libsofthsm2.so``). Errors are :class:`~cityid_card.errors.TokenError`
subclasses; no message and no ``repr`` ever shows a PIN.

ES256 signs with CKM_ECDSA_SHA256, or with CKM_ECDSA over a SHA-256 digest made here;
EdDSA with CKM_EDDSA (Ed25519). Token ECDSA uses the token's random nonces, not
RFC 6979: the signatures differ from run to run and verify all the same. Every
signature is checked under the key's public half before it is returned, so a token
whose public object does not match its private key cannot produce a card that fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11

from . import _algorithms
from ._algorithms import Algorithm, PublicKeyObject
from .errors import (
    BadSignature,
    TokenError,
    TokenNotFound,
    TokenPinError,
    TokenUnsupported,
)
from .keys import KEY_URI_SCHEME, IssuerKey, is_key_uri

__all__ = [
    "DEFAULT_MODULE",
    "MODULE_ENV",
    "PIN_ENV",
    "KeyUri",
    "Pkcs11Signer",
    "TokenInfo",
    "TokenKeyInfo",
    "generate_key",
    "list_tokens",
    "pkcs11_module",
]

#: SoftHSM2's PKCS#11 module on Debian and Ubuntu (package softhsm2).
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
#: Environment variable naming the PKCS#11 module when the URI has no module-path.
MODULE_ENV = "CITYID_CARD_PKCS11_MODULE"
#: Environment variable holding the token PIN when the URI names none.
PIN_ENV = "CITYID_CARD_PKCS11_PIN"

_PATH_ATTRIBUTES = ("token", "manufacturer", "model", "serial", "slot-id", "object", "id", "type")
_QUERY_ATTRIBUTES = ("module-path", "pin-value", "pin-source")
_TOKEN_ATTRIBUTES = ("token", "manufacturer", "model", "serial")

# DER of the curve parameters (CKA_EC_PARAMS): the P-256 OID; Ed25519 as OID 1.3.101.112
# or, as PKCS#11 3.0 also allows, the PrintableString "edwards25519".
_P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")
_ED25519_PARAMS = (bytes.fromhex("06032b6570"), b"\x13\x0cedwards25519")
_POINT_SIZE: dict[Algorithm, int] = {"ES256": 65, "EdDSA": 32}
_MAX_PIN_FILE = 4096


@dataclass(frozen=True)
class KeyUri:
    """A parsed ``pkcs11:`` key URI (RFC 7512). ``str()`` gives it back without the PIN."""

    token: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    type: str | None = None
    module_path: str | None = None
    pin_value: str | None = field(default=None, repr=False)
    pin_source: str | None = None

    @classmethod
    def parse(cls, uri: str) -> KeyUri:
        """Parse ``uri``; raise TokenError naming what is wrong with it."""
        if not isinstance(uri, str) or not is_key_uri(uri):
            raise TokenError(f"a key URI must start with {KEY_URI_SCHEME}")
        path, _, query = uri[len(KEY_URI_SCHEME) :].partition("?")
        values: dict[str, str | bytes] = {}
        for part, separator, known in (
            (path, ";", _PATH_ATTRIBUTES),
            (query, "&", _QUERY_ATTRIBUTES),
        ):
            for item in part.split(separator) if part else ():
                name, equals, raw = item.partition("=")
                if not equals:
                    raise TokenError(f"key URI attribute {name!r} has no value")
                if name not in known:
                    where = "path" if known is _PATH_ATTRIBUTES else "query"
                    raise TokenError(f"the key URI {where} attribute {name!r} is not supported")
                if name in values:
                    raise TokenError(f"the key URI gives {name!r} twice")
                try:
                    values[name] = (
                        unquote_to_bytes(raw) if name == "id" else unquote(raw, errors="strict")
                    )
                except UnicodeDecodeError:
                    raise TokenError(f"key URI attribute {name!r} is not UTF-8") from None
        if "object" not in values and "id" not in values:
            raise TokenError("the key URI must name the key with object= or id=")
        if values.get("type", "private") != "private":
            raise TokenError("the key URI must name a private key (type=private)")
        slot_id = values.get("slot-id")
        if slot_id is not None and not (isinstance(slot_id, str) and slot_id.isdigit()):
            raise TokenError("key URI slot-id must be a decimal number")

        def text(name: str) -> str | None:
            value = values.get(name)
            assert value is None or isinstance(value, str)
            return value

        identifier = values.get("id")
        assert identifier is None or isinstance(identifier, bytes)
        return cls(
            token=text("token"),
            manufacturer=text("manufacturer"),
            model=text("model"),
            serial=text("serial"),
            slot_id=int(slot_id) if slot_id is not None else None,
            object=text("object"),
            id=identifier,
            type=text("type"),
            module_path=text("module-path"),
            pin_value=text("pin-value"),
            pin_source=text("pin-source"),
        )

    def __str__(self) -> str:
        path = [
            f"{name}={_quote(value)}"
            for name, value in (
                ("token", self.token),
                ("manufacturer", self.manufacturer),
                ("model", self.model),
                ("serial", self.serial),
                ("slot-id", None if self.slot_id is None else str(self.slot_id)),
                ("object", self.object),
                ("id", self.id),
                ("type", self.type),
            )
            if value is not None
        ]
        query = [
            f"{name}={_quote(value)}"
            for name, value in (("module-path", self.module_path), ("pin-source", self.pin_source))
            if value is not None
        ]
        return KEY_URI_SCHEME + ";".join(path) + ("?" + "&".join(query) if query else "")

    def module(self) -> str:
        """The PKCS#11 module to load: module-path, else as :func:`pkcs11_module` says."""
        return pkcs11_module(self.module_path)

    def read_pin(self, pin: str | None = None) -> str | None:
        """The PIN: ``pin``, else pin-value, else pin-source, else $CITYID_CARD_PKCS11_PIN."""
        if pin is not None:
            return pin
        if self.pin_value is not None:
            return self.pin_value
        if self.pin_source is not None:
            return _read_pin_file(self.pin_source)
        return os.environ.get(PIN_ENV)

    def describe(self) -> str:
        """The key the URI names, for messages: ``object 'X' (id 01) in token 'Y'``."""
        parts = []
        if self.object is not None:
            parts.append(f"object {self.object!r}")
        if self.id is not None:
            parts.append(f"id {self.id.hex()}")
        where = f" in token {self.token!r}" if self.token is not None else ""
        return " ".join(parts) + where


def pkcs11_module(path: str | None = None) -> str:
    """The PKCS#11 module to load: ``path``, else $CITYID_CARD_PKCS11_MODULE, else SoftHSM2's."""
    return path or os.environ.get(MODULE_ENV) or DEFAULT_MODULE


def _quote(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return "".join(f"%{byte:02x}" for byte in value)
    # RFC 7512 pchar plus "/" and ":" stay as they are; everything else is escaped.
    safe = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:[]@!$'()*+,=/|")
    return "".join(
        char if char in safe else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        for char in value
    )


def _read_pin_file(source: str) -> str:
    """The first line of the file a pin-source names (a file: URI or a path)."""
    if source.startswith("file://"):
        path = source[len("file://") :]
        if not path.startswith("/"):
            raise TokenError("pin-source file: URIs must name a local absolute path")
    elif source.startswith("file:"):
        path = source[len("file:") :]
    elif ":" in source.split("/", 1)[0]:
        raise TokenError("pin-source must be a file: URI or a file path")
    else:
        path = source
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_PIN_FILE)
    except OSError as error:
        raise TokenPinError(f"cannot read the pin-source file: {error.strerror}") from None
    lines = data.splitlines()
    try:
        return lines[0].decode("utf-8") if lines else ""
    except UnicodeDecodeError:
        raise TokenPinError("the pin-source file does not hold a UTF-8 PIN") from None


class _Login:
    """One logged-in session on a token, shared by every key of this process on it.

    PKCS#11 logs in per application, not per session, and python-pkcs11 logs every
    session out when a logged-in session closes: two keys on one token share this
    session, which closes (and logs out) when the last of them closes.
    """

    def __init__(self, key: tuple[str, int], session: pkcs11.Session) -> None:
        self.key = key
        self.session = session
        self.users = 0
        self.lock = threading.Lock()


_logins: dict[tuple[str, int], _Login] = {}
_logins_lock = threading.Lock()


def _load_module(path: str) -> Any:
    if not os.path.isfile(path):
        raise TokenError(
            f"no PKCS#11 module at {path}: install it (softhsm2 for tests), or give "
            f"module-path= in the key URI or set {MODULE_ENV}"
        )
    try:
        return pkcs11.lib(path)
    except p11.PKCS11Error:
        raise TokenError(f"{path} cannot be loaded as a PKCS#11 module") from None


def _failed(what: str, error: p11.PKCS11Error) -> TokenError:
    return TokenError(f"the token failed to {what} ({type(error).__name__})")


def _find_token(lib: Any, uri: KeyUri) -> pkcs11.Token:
    matches: list[pkcs11.Token] = []
    try:
        for slot in lib.get_slots(token_present=True):
            if uri.slot_id is not None and slot.slot_id != uri.slot_id:
                continue
            token = slot.get_token()
            info = {
                "token": token.label,
                "manufacturer": token.manufacturer_id,
                "model": token.model,
                "serial": _serial(token),
            }
            if all(getattr(uri, name) in (None, info[name]) for name in _TOKEN_ATTRIBUTES):
                matches.append(token)
    except p11.PKCS11Error as error:
        raise _failed("list its slots", error) from None
    if not matches:
        named = f" {uri.token!r}" if uri.token is not None else ""
        raise TokenNotFound(f"no token{named} matching the key URI is present")
    if len(matches) > 1:
        raise TokenError("more than one token matches the key URI: add token= or serial=")
    return matches[0]


def _serial(token: pkcs11.Token) -> str:
    serial: object = token.serial
    text = serial.decode("ascii", "replace") if isinstance(serial, bytes) else str(serial)
    return text.strip()


def _mechanisms(token: pkcs11.Token) -> set[Any]:
    try:
        return set(token.slot.get_mechanisms())
    except p11.PKCS11Error as error:
        raise _failed("list its mechanisms", error) from None


def _objects(session: pkcs11.Session, query: dict[Attribute, Any]) -> list[Any]:
    try:
        return list(session.get_objects(query))
    except p11.PKCS11Error as error:
        raise _failed("search its objects", error) from None


def _attribute(obj: Any, attribute: Attribute) -> Any:
    try:
        return obj[attribute]
    except p11.PKCS11Error as error:
        raise _failed(f"read {attribute.name}", error) from None


def _close(session: pkcs11.Session) -> None:
    # An error here means the token went away: there is nothing left to close.
    with contextlib.suppress(p11.PKCS11Error):
        session.close()


def _open_login(lib: Any, token: pkcs11.Token, module: str, pin: str | None) -> _Login:
    """The shared logged-in session on ``token``, logging in with ``pin`` if it is new."""
    key = (module, token.slot.slot_id)
    with _logins_lock:
        login = _logins.get(key)
        if login is None:
            login = _Login(key, _open_session(token, pin, rw=False))
            _logins[key] = login
        login.users += 1
        return login


def _open_session(token: pkcs11.Token, pin: str | None, *, rw: bool) -> pkcs11.Session:
    user_pin: Any = pin
    if pin is None:
        if not token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH:
            raise TokenPinError(
                f"token {token.label!r} needs a PIN: give pin-source= in the key URI, "
                f"or set {PIN_ENV}"
            )
        user_pin = pkcs11.PROTECTED_AUTH
    try:
        try:
            return token.open(rw=rw, user_pin=user_pin)
        except p11.UserAlreadyLoggedIn:
            # Another part of this process is logged in; a new session shares that login.
            return token.open(rw=rw)
    except p11.PinIncorrect:
        raise TokenPinError(f"the PIN of token {token.label!r} is incorrect") from None
    except p11.PinLocked:
        raise TokenPinError(f"the PIN of token {token.label!r} is locked") from None
    except (p11.PinInvalid, p11.PinLenRange):
        raise TokenPinError(
            f"token {token.label!r} refuses the PIN's length or characters"
        ) from None
    except p11.UserPinNotInitialized:
        raise TokenPinError(f"token {token.label!r} has no user PIN set") from None
    except p11.PKCS11Error as error:
        raise _failed("open a logged-in session", error) from None


def _release(login: _Login) -> None:
    with _logins_lock:
        login.users -= 1
        if login.users > 0:
            return
        del _logins[login.key]
    _close(login.session)


def _algorithm(private: Any) -> Algorithm:
    """The format's algorithm for a token private key, or TokenUnsupported."""
    key_type = _attribute(private, Attribute.KEY_TYPE)
    if key_type == KeyType.EC:
        if bytes(_attribute(private, Attribute.EC_PARAMS)) == _P256_PARAMS:
            return "ES256"
        raise TokenUnsupported("the token key is an EC key on a curve other than P-256")
    if key_type == KeyType.EC_EDWARDS:
        if bytes(_attribute(private, Attribute.EC_PARAMS)) in _ED25519_PARAMS:
            return "EdDSA"
        raise TokenUnsupported("the token key is an Edwards key on a curve other than Ed25519")
    name = getattr(key_type, "name", str(key_type))
    raise TokenUnsupported(
        f"the token key is of type {name}: issuer keys are P-256 (ES256) or Ed25519 (EdDSA)"
    )


def _public_key(session: pkcs11.Session, private: Any, alg: Algorithm) -> PublicKeyObject:
    """The public half: the public key object with the private key's id (else label)."""
    ident = bytes(_attribute(private, Attribute.ID))
    query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
    if ident:
        query[Attribute.ID] = ident
    else:
        query[Attribute.LABEL] = _attribute(private, Attribute.LABEL)
    candidates = _objects(session, query)
    if len(candidates) != 1:
        raise TokenNotFound(
            "the token holds no single public key object with the private key's id: "
            "its public half is needed for the key id and the trust store"
        )
    point = bytes(_attribute(candidates[0], Attribute.EC_POINT))
    return _algorithms.public_key_from_raw(alg, _unwrap_point(point, alg))


def _unwrap_point(point: bytes, alg: Algorithm) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point; some tokens give it bare."""
    size = _POINT_SIZE[alg]
    if len(point) == size + 2 and point[0] == 0x04 and point[1] == size:
        return point[2:]
    if len(point) == size:
        return point
    raise TokenUnsupported(f"the token's {alg} public key has an unexpected encoding")


def _can_sign(alg: Algorithm, mechanisms: set[Any]) -> bool:
    try:
        _mechanism(alg, mechanisms)
    except TokenUnsupported:
        return False
    return True


def _mechanism(alg: Algorithm, mechanisms: set[Any]) -> tuple[Mechanism, bool]:
    """The signing mechanism for ``alg`` and whether to hash with SHA-256 here first."""
    if alg == "EdDSA":
        if Mechanism.EDDSA in mechanisms:
            return Mechanism.EDDSA, False
        raise TokenUnsupported("the token cannot sign with EdDSA: it offers no CKM_EDDSA")
    if Mechanism.ECDSA_SHA256 in mechanisms:
        return Mechanism.ECDSA_SHA256, False
    if Mechanism.ECDSA in mechanisms:
        return Mechanism.ECDSA, True
    raise TokenUnsupported("the token cannot sign with ES256: it offers no CKM_ECDSA")


def _find_private_key(session: pkcs11.Session, uri: KeyUri, token_label: str) -> Any:
    query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    if uri.object is not None:
        query[Attribute.LABEL] = uri.object
    if uri.id is not None:
        query[Attribute.ID] = uri.id
    found = _objects(session, query)
    named = KeyUri(object=uri.object, id=uri.id).describe()
    if not found:
        raise TokenNotFound(f"token {token_label!r} holds no private key {named}")
    if len(found) > 1:
        raise TokenError(
            f"token {token_label!r} holds more than one private key {named}: add id= to the key URI"
        )
    return found[0]


class Pkcs11Signer:
    """A :class:`~cityid_card.signer.Signer` whose private key stays in a PKCS#11 token.

    Open one with :meth:`open`; :meth:`close` it when done. It may be shared between
    threads: signing is serialised per token session.
    """

    def __init__(
        self,
        login: _Login,
        private: Any,
        alg: Algorithm,
        public: PublicKeyObject,
        mechanism: Mechanism,
        prehash: bool,
        uri: KeyUri,
    ) -> None:
        self._login: _Login | None = login
        self._private = private
        self._alg = alg
        self._public = public
        self._check = _algorithms.signature_check(public)
        self._mechanism = mechanism
        self._prehash = prehash
        #: The key URI without any PIN, safe to show.
        self.uri = str(uri)

    @classmethod
    def open(cls, uri: str | KeyUri, *, pin: str | None = None) -> Pkcs11Signer:
        """Log in to the token the URI names and find its private key there."""
        parsed = uri if isinstance(uri, KeyUri) else KeyUri.parse(uri)
        module = parsed.module()
        lib = _load_module(module)
        token = _find_token(lib, parsed)
        mechanisms = _mechanisms(token)
        login = _open_login(lib, token, module, parsed.read_pin(pin))
        try:
            private = _find_private_key(login.session, parsed, token.label)
            alg = _algorithm(private)
            mechanism, prehash = _mechanism(alg, mechanisms)
            public = _public_key(login.session, private, alg)
        except BaseException:
            _release(login)
            raise
        return cls(login, private, alg, public, mechanism, prehash, parsed)

    @property
    def alg(self) -> Algorithm:
        return self._alg

    def public_key(self) -> PublicKeyObject:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """Sign in the token; the signature is checked under the public key first."""
        login = self._login
        if login is None:
            raise TokenError("the token key has been closed")
        data = hashlib.sha256(message).digest() if self._prehash else message
        try:
            with login.lock:
                signature = bytes(self._private.sign(data, mechanism=self._mechanism))
        except p11.PKCS11Error as error:
            raise _failed("sign", error) from None
        try:
            self._check(message, signature)
        except BadSignature:
            raise TokenError(
                "the token's signature does not verify under its public key object: "
                "they do not belong together, or the token is faulty"
            ) from None
        return signature

    def close(self) -> None:
        """Release the session (the token logs out when no other key here uses it)."""
        login, self._login = self._login, None
        if login is not None:
            _release(login)

    def __repr__(self) -> str:
        return f"Pkcs11Signer({self.uri!r}, alg={self._alg!r})"


def generate_key(
    uri: str | KeyUri,
    alg: Algorithm = "ES256",
    *,
    pin: str | None = None,
    kid: str | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> IssuerKey:
    """Make an issuer key pair inside the token the URI names; return it, open.

    The URI's ``object`` is the new key's label (required) and ``id`` its CKA_ID (8
    random bytes if absent). The private key is made sensitive and never extractable,
    allowed to sign and nothing else. Refuses, with TokenError, when the token already
    holds an object with that label or id: an issuing key is never replaced.
    """
    parsed = uri if isinstance(uri, KeyUri) else KeyUri.parse(uri)
    alg = _algorithms.algorithm_name(alg)
    if parsed.object is None:
        raise TokenError("give the new key a label with object= in the key URI")
    module = parsed.module()
    token = _find_token(_load_module(module), parsed)
    mechanisms = _mechanisms(token)
    _mechanism(alg, mechanisms)
    generator = Mechanism.EC_KEY_PAIR_GEN if alg == "ES256" else Mechanism.EC_EDWARDS_KEY_PAIR_GEN
    if generator not in mechanisms:
        raise TokenUnsupported(
            f"the token cannot make {alg} keys: it offers no CKM_{generator.name}"
        )
    ident = parsed.id if parsed.id is not None else secrets.token_bytes(8)
    pin = parsed.read_pin(pin)
    session = _open_session(token, pin, rw=True)
    try:
        for name, attribute, value in (
            ("label", Attribute.LABEL, parsed.object),
            ("id", Attribute.ID, ident),
        ):
            if _objects(session, {attribute: value}):
                raise TokenError(
                    f"token {token.label!r} already holds an object with this {name}: "
                    "choose another, an issuing key is never replaced"
                )
        try:
            session.generate_keypair(
                KeyType.EC if alg == "ES256" else KeyType.EC_EDWARDS,
                store=True,
                label=parsed.object,
                id=ident,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={
                    Attribute.EC_PARAMS: _P256_PARAMS if alg == "ES256" else _ED25519_PARAMS[0]
                },
                private_template={Attribute.EXTRACTABLE: False},
            )
        except p11.PKCS11Error as error:
            raise _failed("make the key pair", error) from None
    finally:
        _close(session)
    located = replace(parsed, id=ident, pin_value=None)
    return IssuerKey(
        Pkcs11Signer.open(located, pin=pin),
        kid=kid,
        valid_from=valid_from,
        valid_until=valid_until,
    )


@dataclass(frozen=True)
class TokenKeyInfo:
    """A private key in a token, as :func:`list_tokens` reports it."""

    #: The key URI that names it (no PIN).
    uri: str
    label: str
    id: bytes
    #: The format's algorithm, or None if the key cannot issue credentials.
    alg: Algorithm | None
    #: Why the key cannot issue credentials, or None if it can.
    problem: str | None = None


@dataclass(frozen=True)
class TokenInfo:
    """A token as :func:`list_tokens` reports it."""

    label: str
    serial: str
    manufacturer: str
    model: str
    #: The algorithms of the format the token can sign with.
    algorithms: tuple[Algorithm, ...]
    #: Its private keys, or None when it was not logged in to (no PIN given).
    keys: tuple[TokenKeyInfo, ...] | None


def list_tokens(
    module: str | None = None, *, token: str | None = None, pin: str | None = None
) -> list[TokenInfo]:
    """The initialised tokens of ``module`` (default as for URIs), and with a PIN their keys.

    Private objects are only visible after logging in: with ``pin`` (or
    $CITYID_CARD_PKCS11_PIN) every listed token is logged in to and its private keys
    are listed with the URI that names each; ``token`` lists only the token with that
    label.
    """
    module = pkcs11_module(module)
    lib = _load_module(module)
    pin = pin if pin is not None else os.environ.get(PIN_ENV)
    found: list[TokenInfo] = []
    try:
        slots = list(lib.get_slots(token_present=True))
    except p11.PKCS11Error as error:
        raise TokenError(
            f"the PKCS#11 module failed to list its slots ({type(error).__name__})"
        ) from None
    for slot in slots:
        current = slot.get_token()
        if not current.flags & TokenFlag.TOKEN_INITIALIZED or token not in (None, current.label):
            continue
        mechanisms = _mechanisms(current)
        algorithms = tuple(a for a in _algorithms.COSE_ALGORITHM if _can_sign(a, mechanisms))
        keys = None
        if pin is not None:
            keys = tuple(_token_keys(lib, current, module, pin, mechanisms))
        found.append(
            TokenInfo(
                current.label,
                _serial(current),
                current.manufacturer_id,
                current.model,
                algorithms,
                keys,
            )
        )
    return found


def _token_keys(
    lib: Any, token: pkcs11.Token, module: str, pin: str, mechanisms: set[Any]
) -> list[TokenKeyInfo]:
    login = _open_login(lib, token, module, pin)
    try:
        keys = []
        for private in _objects(login.session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
            label = str(_attribute(private, Attribute.LABEL))
            ident = bytes(_attribute(private, Attribute.ID))
            uri = KeyUri(
                token=token.label,
                serial=_serial(token),
                object=label or None,
                id=ident or None,
                module_path=None if module == DEFAULT_MODULE else module,
            )
            alg: Algorithm | None = None
            problem = None
            try:
                alg = _algorithm(private)
                _mechanism(alg, mechanisms)
            except TokenError as error:
                alg, problem = None, str(error)
            keys.append(TokenKeyInfo(str(uri), label, ident, alg, problem))
        return keys
    finally:
        _release(login)
