"""Issuer keys in a hardware security module, through PKCS#11 (python-pkcs11).

A city never keeps its issuing key in a file: the key is made inside a token (an HSM,
a smart card, SoftHSM2 for tests) and signs there. A key URI (RFC 7512, parsed by
:mod:`cityid_card.pkcs11_uri`) names it wherever a key file path is accepted::

    pkcs11:token=CITY-ISSUING;object=CHI-2026-1?pin-source=file:/run/cityid/pin

This is the only module that imports python-pkcs11 (the ``hsm`` extra). It reads no
file and no environment variable: the PIN is the ``pin`` argument, else the URI's
``pin-value`` (a token with a PIN pad needs none); the PKCS#11 module is the ``module``
argument, else the URI's ``module-path``, else SoftHSM2's
(``/usr/lib/softhsm/libsofthsm2.so``). :func:`cityid_card.keyfiles.load_key` is the edge
that also reads ``pin-source`` files and ``$CITYID_CARD_PKCS11_PIN`` /
``$CITYID_CARD_PKCS11_MODULE``. Errors are :class:`~cityid_card.pkcs11_uri.TokenError`
subclasses; no message and no ``repr`` ever shows a PIN.

**Issuing window.** A key made by :func:`generate_key` with ``valid_from`` /
``valid_until`` carries them as the standard PKCS#11 key attributes CKA_START_DATE and
CKA_END_DATE, on both halves; :attr:`Pkcs11Signer.valid_from` and
:attr:`Pkcs11Signer.valid_until` read them back from the public key object (SoftHSM 2.6
fails with CKR_GENERAL_ERROR on a private key's dates), and
:meth:`cityid_card.keys.IssuerKey.from_uri` refuses to sign outside them. Tokens do not
enforce these dates themselves (PKCS#11 leaves that to the application); this library
does.

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
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11

from . import _algorithms
from ._algorithms import Algorithm, PublicKeyObject
from .errors import BadSignature
from .pkcs11_uri import (
    KeyUri,
    TokenError,
    TokenNotFound,
    TokenPinError,
    TokenPinRequired,
    TokenUnsupported,
)

__all__ = [
    "DEFAULT_MODULE",
    "KeyUri",
    "Pkcs11Signer",
    "TokenError",
    "TokenInfo",
    "TokenKeyInfo",
    "TokenNotFound",
    "TokenPinError",
    "TokenPinRequired",
    "TokenUnsupported",
    "generate_key",
    "list_tokens",
]

#: SoftHSM2's PKCS#11 module on Debian and Ubuntu (package softhsm2).
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

_TOKEN_ATTRIBUTES = ("token", "manufacturer", "model", "serial")

# DER of the curve parameters (CKA_EC_PARAMS): the P-256 OID; Ed25519 as OID 1.3.101.112
# or, as PKCS#11 3.0 also allows, the PrintableString "edwards25519".
_P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")
_ED25519_PARAMS = (bytes.fromhex("06032b6570"), b"\x13\x0cedwards25519")
_POINT_SIZE: dict[Algorithm, int] = {"ES256": 65, "EdDSA": 32}


def _module(uri: KeyUri, module: str | None) -> str:
    """The PKCS#11 module to load: ``module``, else the URI's module-path, else SoftHSM2's."""
    return module or uri.module_path or DEFAULT_MODULE


def _pin(uri: KeyUri, pin: str | None) -> str | None:
    """``pin``, else the URI's pin-value; a pin-source is for the edge to read."""
    if pin is not None:
        return pin
    if uri.pin_value is not None:
        return uri.pin_value
    if uri.pin_source is not None:
        raise TokenPinRequired(
            "the key URI names a pin-source file: open it with cityid_card.keyfiles.load_key, "
            "which reads it, or pass the PIN"
        )
    return None


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
            "module-path= in the key URI or set CITYID_CARD_PKCS11_MODULE"
        )
    try:
        return pkcs11.lib(path)
    except p11.PKCS11Error:
        raise TokenError(f"{path} cannot be loaded as a PKCS#11 module") from None


def _date_attribute(obj: Any, attribute: Attribute) -> date | None:
    """A CKA_START_DATE or CKA_END_DATE; None when it is empty (no date set)."""
    try:
        value = obj[attribute]
    except ValueError:
        return None  # python-pkcs11 cannot parse an empty CK_DATE: no date was set
    except (p11.AttributeTypeInvalid, p11.AttributeSensitive):
        return None
    except p11.PKCS11Error as error:
        raise _failed(f"read {attribute.name}", error) from None
    if not isinstance(value, date):
        raise TokenUnsupported(f"the token key's {attribute.name} is not a date")
    return value


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
            raise TokenPinRequired(f"token {token.label!r} needs a PIN")
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


#: An issuing window: first and last day (None: open at that end).
_Window = tuple[date | None, date | None]


def _public_key(
    session: pkcs11.Session, private: Any, alg: Algorithm
) -> tuple[PublicKeyObject, _Window]:
    """The public half, the public key object with the private key's id (else label),
    and the issuing window stored on it."""
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
    public = candidates[0]
    point = bytes(_attribute(public, Attribute.EC_POINT))
    window = (
        _date_attribute(public, Attribute.START_DATE),
        _date_attribute(public, Attribute.END_DATE),
    )
    return _algorithms.public_key_from_raw(alg, _unwrap_point(point, alg)), window


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
        window: _Window = (None, None),
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
        #: The key's issuing window, from CKA_START_DATE and CKA_END_DATE (None: open).
        self.valid_from, self.valid_until = window
        #: The private key's CKA_LABEL (None if empty): its kid unless told otherwise.
        self.label: str | None = str(_attribute(private, Attribute.LABEL)) or None

    @classmethod
    def open(
        cls, uri: str | KeyUri, *, pin: str | None = None, module: str | None = None
    ) -> Pkcs11Signer:
        """Log in to the token the URI names and find its private key there.

        ``pin`` defaults to the URI's pin-value and ``module`` to its module-path, then
        SoftHSM2's. Raises TokenPinRequired when the token needs a PIN and none is given.
        """
        parsed = uri if isinstance(uri, KeyUri) else KeyUri.parse(uri)
        module = _module(parsed, module)
        lib = _load_module(module)
        token = _find_token(lib, parsed)
        mechanisms = _mechanisms(token)
        login = _open_login(lib, token, module, _pin(parsed, pin))
        try:
            private = _find_private_key(login.session, parsed, token.label)
            alg = _algorithm(private)
            mechanism, prehash = _mechanism(alg, mechanisms)
            public, window = _public_key(login.session, private, alg)
        except BaseException:
            _release(login)
            raise
        return cls(login, private, alg, public, mechanism, prehash, parsed, window)

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
    module: str | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> Pkcs11Signer:
    """Make an issuer key pair inside the token the URI names; return its signer, open.

    The URI's ``object`` is the new key's label (required) and ``id`` its CKA_ID (8
    random bytes if absent). The private key is made sensitive and never extractable,
    allowed to sign and nothing else. ``valid_from`` and ``valid_until`` (the issuing
    window) are stored as CKA_START_DATE and CKA_END_DATE. Refuses, with TokenError,
    when the token already holds an object with that label or id: an issuing key is
    never replaced. Wrap the result in :class:`~cityid_card.keys.IssuerKey` to issue.
    """
    parsed = uri if isinstance(uri, KeyUri) else KeyUri.parse(uri)
    alg = _algorithms.algorithm_name(alg)
    if parsed.object is None:
        raise TokenError("give the new key a label with object= in the key URI")
    if valid_from is not None and valid_until is not None and valid_from > valid_until:
        raise TokenError("valid_from is after valid_until")
    module = _module(parsed, module)
    token = _find_token(_load_module(module), parsed)
    mechanisms = _mechanisms(token)
    _mechanism(alg, mechanisms)
    generator = Mechanism.EC_KEY_PAIR_GEN if alg == "ES256" else Mechanism.EC_EDWARDS_KEY_PAIR_GEN
    if generator not in mechanisms:
        raise TokenUnsupported(
            f"the token cannot make {alg} keys: it offers no CKM_{generator.name}"
        )
    ident = parsed.id if parsed.id is not None else secrets.token_bytes(8)
    pin = _pin(parsed, pin)
    window: dict[Attribute, Any] = {}
    if valid_from is not None:
        window[Attribute.START_DATE] = valid_from
    if valid_until is not None:
        window[Attribute.END_DATE] = valid_until
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
                    Attribute.EC_PARAMS: _P256_PARAMS if alg == "ES256" else _ED25519_PARAMS[0],
                    **window,
                },
                private_template={Attribute.EXTRACTABLE: False, **window},
            )
        except p11.PKCS11Error as error:
            raise _failed("make the key pair", error) from None
    finally:
        _close(session)
    located = replace(parsed, id=ident, pin_value=None)
    return Pkcs11Signer.open(located, pin=pin, module=module)


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
    """The initialised tokens of ``module`` (default SoftHSM2's), and with a PIN their keys.

    Private objects are only visible after logging in: with ``pin`` every listed token
    is logged in to and its private keys are listed with the URI that names each;
    ``token`` lists only the token with that label.
    """
    module = module or DEFAULT_MODULE
    lib = _load_module(module)
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
