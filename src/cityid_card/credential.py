"""The claims a card carries: a closed schema and its canonical CBOR form.

The payload is a CBOR array, not a map, because every byte counts on a 144-byte tag
(see ``specs/credential.md``)::

    [version, name, date_of_birth, issued, expires, status_index, ? gender / null, ? extensions]

Dates are whole days since 1970-01-01. Nothing else may appear: there is no field for
an address, a phone number, a document number or an immigration status, and a value
that does not fit a field is refused with :class:`~cityid_card.errors.ClaimError`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from .errors import InvalidClaim, MalformedCredential, UnknownClaim, UnsupportedVersion

__all__ = ["FORMAT_VERSION", "Credential"]

FORMAT_VERSION = 1
MAX_NAME_BYTES = 100
MAX_GENDER_BYTES = 32
MAX_STATUS_INDEX = 2**32 - 1
_EPOCH = date(1970, 1, 1)
#: Dates are limited to the days whose number encodes in a 3-byte CBOR integer.
MIN_DATE = _EPOCH - timedelta(days=65536)
MAX_DATE = _EPOCH + timedelta(days=65535)

#: Registered extension labels (specs/credential.md, "Extensions").
EXT_CARD_KEY = 1
EXT_TAG_UID = 2
EXT_PSEUDONYM_KEY = 3
_EC_POINT_COMPRESSED_SIZE = 33
_TAG_UID_SIZES = (4, 7, 10)

#: Unicode general category Cc is exactly these two ranges.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
_MIN_CLAIMS = 6
_MAX_CLAIMS = 8


@dataclass(frozen=True, kw_only=True)
class Credential:
    """The claims of a municipal ID card, exactly those printed on its face.

    ``issued`` may be left out when issuing: the issuer fills in the issue date.
    ``card_key``, ``tag_uid`` and ``pseudonym_key`` are the registered extensions
    (a chip's P-256 public key, an NFC tag's UID, a pseudonym key); they carry no
    personal data.
    """

    name: str
    date_of_birth: date
    expires: date
    status_index: int
    issued: date | None = None
    gender: str | None = None
    card_key: bytes | None = None
    tag_uid: bytes | None = None
    pseudonym_key: bytes | None = None

    def __post_init__(self) -> None:
        _check_text("name", self.name, MAX_NAME_BYTES)
        if self.gender is not None:
            _check_text("gender", self.gender, MAX_GENDER_BYTES)
        for label in ("date_of_birth", "expires", "issued"):
            value = getattr(self, label)
            if value is None and label == "issued":
                continue
            if not isinstance(value, date) or isinstance(value, datetime):
                raise InvalidClaim(f"{label} must be a datetime.date")
            if not MIN_DATE <= value <= MAX_DATE:
                raise InvalidClaim(f"{label} is outside {MIN_DATE} .. {MAX_DATE}")
        issued = self.issued or self.expires
        if not self.date_of_birth <= issued <= self.expires:
            raise InvalidClaim("dates must satisfy date_of_birth <= issued <= expires")
        if not isinstance(self.status_index, int) or isinstance(self.status_index, bool):
            raise InvalidClaim("status_index must be an integer")
        if not 0 <= self.status_index <= MAX_STATUS_INDEX:
            raise InvalidClaim("status_index must be in 0 .. 2**32 - 1")
        _check_bytes("card_key", self.card_key, (_EC_POINT_COMPRESSED_SIZE,))
        _check_bytes("pseudonym_key", self.pseudonym_key, (_EC_POINT_COMPRESSED_SIZE,))
        _check_bytes("tag_uid", self.tag_uid, _TAG_UID_SIZES)
        for label in ("card_key", "pseudonym_key"):
            value = getattr(self, label)
            if value is not None and value[0] not in (2, 3):
                raise InvalidClaim(f"{label} must be a compressed SEC1 P-256 point")

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Credential:
        """Build from a mapping of field names; any other field raises UnknownClaim.

        The error names the offending field (never its value), so it is safe to show.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise UnknownClaim(f"the format has no field {unknown[0]!r}")
        missing = sorted({"name", "date_of_birth", "expires", "status_index"} - set(data))
        if missing:
            raise InvalidClaim(f"missing required field {missing[0]!r}")
        return cls(**data)

    def to_claims(self) -> list[Any]:
        """The claims array (before CBOR encoding); ``issued`` must be set."""
        if self.issued is None:
            raise InvalidClaim("issued must be set before encoding")
        claims: list[Any] = [
            FORMAT_VERSION,
            self.name,
            _day_number(self.date_of_birth),
            _day_number(self.issued),
            _day_number(self.expires),
            self.status_index,
        ]
        extensions = {
            label: value
            for label, value in (
                (EXT_CARD_KEY, self.card_key),
                (EXT_TAG_UID, self.tag_uid),
                (EXT_PSEUDONYM_KEY, self.pseudonym_key),
            )
            if value is not None
        }
        if self.gender is not None or extensions:
            claims.append(self.gender)
        if extensions:
            claims.append(extensions)
        return claims

    @classmethod
    def from_claims(cls, claims: Any) -> Credential:
        """Check a decoded claims array against the closed schema and build the Credential."""
        if not isinstance(claims, list) or not claims:
            raise MalformedCredential("the payload is not a non-empty claims array")
        version = claims[0]
        if not isinstance(version, int) or isinstance(version, bool):
            raise MalformedCredential("the format version is not an integer")
        if version != FORMAT_VERSION:
            raise UnsupportedVersion("this library reads format version 1 only")
        if len(claims) < _MIN_CLAIMS:
            raise MalformedCredential("required claims are missing")
        if len(claims) > _MAX_CLAIMS:
            raise UnknownClaim("the claims array holds more claims than the format defines")
        _, name, dob, issued, expires, status_index = claims[:_MIN_CLAIMS]
        gender = claims[6] if len(claims) > 6 else None
        extensions = claims[7] if len(claims) > 7 else {}
        if len(claims) == 7 and gender is None:
            raise MalformedCredential("a null gender is only allowed before extensions")
        if not isinstance(name, str) or (gender is not None and not isinstance(gender, str)):
            raise InvalidClaim("name and gender must be text strings")
        if not isinstance(status_index, int) or isinstance(status_index, bool):
            raise InvalidClaim("status_index must be an unsigned integer")
        known = _extensions(extensions, present=len(claims) == _MAX_CLAIMS)
        return cls(
            name=name,
            date_of_birth=_date_from_day(dob, "date_of_birth"),
            issued=_date_from_day(issued, "issued"),
            expires=_date_from_day(expires, "expires"),
            status_index=status_index,
            gender=gender,
            card_key=known.get(EXT_CARD_KEY),
            tag_uid=known.get(EXT_TAG_UID),
            pseudonym_key=known.get(EXT_PSEUDONYM_KEY),
        )


def _extensions(value: Any, *, present: bool) -> dict[int, bytes]:
    if not isinstance(value, dict):
        raise MalformedCredential("extensions must be a map")
    if present and not value:
        raise MalformedCredential("an empty extensions map must be left out")
    for label, item in value.items():
        if label not in (EXT_CARD_KEY, EXT_TAG_UID, EXT_PSEUDONYM_KEY) or isinstance(label, bool):
            raise UnknownClaim("the credential carries an extension this format does not define")
        if not isinstance(item, bytes):
            raise InvalidClaim("extension values must be byte strings")
    return value


def _check_text(label: str, value: object, max_bytes: int) -> None:
    if not isinstance(value, str):
        raise InvalidClaim(f"{label} must be a text string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidClaim(f"{label} is not valid Unicode text") from None
    if not 1 <= size <= max_bytes:
        raise InvalidClaim(f"{label} must be 1 to {max_bytes} bytes of UTF-8")
    if value != value.strip():
        raise InvalidClaim(f"{label} must not begin or end with white space")
    if _CONTROL_CHARACTER.search(value):
        raise InvalidClaim(f"{label} must not contain control characters")
    if not unicodedata.is_normalized("NFC", value):
        raise InvalidClaim(f"{label} must be in Unicode normalization form NFC")


def _check_bytes(label: str, value: object, sizes: tuple[int, ...]) -> None:
    if value is None:
        return
    if not isinstance(value, bytes) or len(value) not in sizes:
        raise InvalidClaim(f"{label} must be a byte string of {' or '.join(map(str, sizes))} bytes")


def _day_number(day: date) -> int:
    return (day - _EPOCH).days


def _date_from_day(value: Any, label: str) -> date:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidClaim(f"{label} must be an integer day number")
    if not -65536 <= value <= 65535:
        raise InvalidClaim(f"{label} is outside the representable range")
    return _EPOCH + timedelta(days=value)
