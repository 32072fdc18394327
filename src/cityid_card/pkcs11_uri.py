"""Naming a key in a PKCS#11 token: RFC 7512 key URIs, and the errors of token keys.

Pure: parsing and printing a URI needs no PKCS#11 library, no file and no environment,
so it is importable (and tested) without python-pkcs11. Talking to a token is
:mod:`cityid_card.hsm`; reading a ``pin-source`` file or the environment is the edge's
job (:mod:`cityid_card.keyfiles`). A key URI names a key wherever a key file path is
accepted::

    pkcs11:token=CITY-ISSUING;object=CHI-2026-1?pin-source=file:/run/cityid/pin

Path attributes (``;``-separated) choose the token and the key: ``token`` (label),
``manufacturer``, ``model``, ``serial``, ``slot-id``, then ``object`` (the key's label),
``id`` (its CKA_ID, percent-encoded bytes) and ``type`` (``private`` if given). Query
attributes (``&``-separated): ``module-path``, ``pin-value``, ``pin-source``. Values are
percent-decoded. An attribute this module does not know is refused, so a typing
mistake cannot select another key.

The token errors live here, with the pure half of the token code, so that a caller can
``except TokenError`` without python-pkcs11 installed. They are :class:`InvalidKey`
errors too (single inheritance): code that handles a bad key file handles a bad token
key the same way. Messages name the token, the object and what was wrong, never a PIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_to_bytes

from .errors import InvalidKey

__all__ = [
    "KEY_URI_SCHEME",
    "KeyUri",
    "TokenError",
    "TokenNotFound",
    "TokenPinError",
    "TokenPinRequired",
    "TokenUnsupported",
    "is_key_uri",
]

#: Where a key file path is accepted, a string starting with this names a key in a token.
KEY_URI_SCHEME = "pkcs11:"

_PATH_ATTRIBUTES = ("token", "manufacturer", "model", "serial", "slot-id", "object", "id", "type")
_QUERY_ATTRIBUTES = ("module-path", "pin-value", "pin-source")
# RFC 7512 pchar plus "/" and ":" stay as they are; everything else is percent-encoded.
_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:[]@!$'()*+,=/|"
)


class TokenError(InvalidKey):
    """A key in a PKCS#11 token cannot be used: the URI, the module or the token failed."""


class TokenNotFound(TokenError):
    """No token, or no private key object in it, matches the key URI."""


class TokenPinError(TokenError):
    """The token PIN is incorrect, locked, or of a form the token refuses."""


class TokenPinRequired(TokenPinError):
    """The token needs a PIN and none was given (a terminal may ask for it, then retry)."""


class TokenUnsupported(TokenError):
    """The token key is not P-256 or Ed25519, or the token cannot sign with its algorithm."""


def is_key_uri(location: str) -> bool:
    """True if ``location`` is a PKCS#11 URI (RFC 7512) rather than a file path."""
    return location[: len(KEY_URI_SCHEME)].lower() == KEY_URI_SCHEME


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
        texts: dict[str, str] = {}
        identifier: bytes | None = None
        for part, separator, known, where in (
            (path, ";", _PATH_ATTRIBUTES, "path"),
            (query, "&", _QUERY_ATTRIBUTES, "query"),
        ):
            for item in part.split(separator) if part else ():
                name, equals, raw = item.partition("=")
                if not equals:
                    raise TokenError(f"key URI attribute {name!r} has no value")
                if name not in known:
                    raise TokenError(f"the key URI {where} attribute {name!r} is not supported")
                if name in texts or (name == "id" and identifier is not None):
                    raise TokenError(f"the key URI gives {name!r} twice")
                if name == "id":
                    identifier = unquote_to_bytes(raw)
                    continue
                try:
                    texts[name] = unquote(raw, errors="strict")
                except UnicodeDecodeError:
                    raise TokenError(f"key URI attribute {name!r} is not UTF-8") from None
        if "object" not in texts and identifier is None:
            raise TokenError("the key URI must name the key with object= or id=")
        if texts.get("type", "private") != "private":
            raise TokenError("the key URI must name a private key (type=private)")
        slot_id = texts.get("slot-id")
        if slot_id is not None and not (slot_id.isascii() and slot_id.isdigit()):
            raise TokenError("key URI slot-id must be a decimal number")
        return cls(
            token=texts.get("token"),
            manufacturer=texts.get("manufacturer"),
            model=texts.get("model"),
            serial=texts.get("serial"),
            slot_id=int(slot_id) if slot_id is not None else None,
            object=texts.get("object"),
            id=identifier,
            type=texts.get("type"),
            module_path=texts.get("module-path"),
            pin_value=texts.get("pin-value"),
            pin_source=texts.get("pin-source"),
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

    def describe(self) -> str:
        """The key the URI names, for messages: ``object 'X' (id 01) in token 'Y'``."""
        parts = []
        if self.object is not None:
            parts.append(f"object {self.object!r}")
        if self.id is not None:
            parts.append(f"id {self.id.hex()}")
        where = f" in token {self.token!r}" if self.token is not None else ""
        return " ".join(parts) + where


def _quote(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return "".join(f"%{byte:02x}" for byte in value)
    return "".join(
        char if char in _SAFE else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        for char in value
    )
