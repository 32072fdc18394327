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
from dataclasses import dataclass, field, fields
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
_MIN_DAY, _MAX_DAY = -65536, 65535
MIN_DATE = _EPOCH + timedelta(days=_MIN_DAY)
MAX_DATE = _EPOCH + timedelta(days=_MAX_DAY)

#: Registered extension labels (specs/credential.md, "Extensions").
EXT_CARD_KEY = 1
EXT_TAG_UID = 2
EXT_PSEUDONYM_KEY = 3
_EXTENSION_SIZES: dict[int, tuple[str, tuple[int, ...]]] = {
    EXT_CARD_KEY: ("card_key", (33,)),  # compressed SEC1 P-256 point
    EXT_TAG_UID: ("tag_uid", (4, 7, 10)),  # ISO/IEC 14443-3 UID sizes
    EXT_PSEUDONYM_KEY: ("pseudonym_key", (33,)),
}

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

    # Personal data stays out of repr(), so printing or logging a result cannot leak it.
    name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    expires: date
    status_index: int
    issued: date | None = None
    gender: str | None = field(default=None, repr=False)
    card_key: bytes | None = None
    tag_uid: bytes | None = None
    pseudonym_key: bytes | None = None

    def __post_init__(self) -> None:
        # The same checks, in the same order, as from_claims (see there).
        _check_text(self.name, "name", MAX_NAME_BYTES)
        for label in ("date_of_birth", "issued", "expires"):
            value = getattr(self, label)
            if label != "issued" or value is not None:
                if not isinstance(value, date) or isinstance(value, datetime):
                    raise InvalidClaim(f"{label} must be a datetime.date")
                _check_day(_day_number(value), label)
        _check_status_index(self.status_index)
        if self.gender is not None:
            _check_text(self.gender, "gender", MAX_GENDER_BYTES)
        for extension, data in self._extensions().items():
            _check_extension(extension, data)
        if not self.date_of_birth <= (self.issued or self.expires) <= self.expires:
            raise InvalidClaim("dates must satisfy date_of_birth <= issued <= expires")
        _check_normalized(self.name, self.gender)

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
        extensions = self._extensions()
        if self.gender is not None or extensions:
            claims.append(self.gender)
        if extensions:
            claims.append(extensions)
        return claims

    @classmethod
    def from_claims(cls, claims: Any) -> Credential:
        """Check a decoded claims array against the closed schema and build the Credential.

        The checks run in the order specs/credential.md fixes ("Checking the claims"),
        so every implementation reports the same first failure: the array's shape,
        then each claim left to right, then the order of the dates, and last the
        Unicode normalization of the texts.
        """
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
        name = _check_text(claims[1], "name", MAX_NAME_BYTES)
        dob, issued, expires = (
            _check_day(claims[position], label)
            for position, label in ((2, "date_of_birth"), (3, "issued"), (4, "expires"))
        )
        status_index = _check_status_index(claims[5])
        gender = None
        if len(claims) > 6 and claims[6] is None:
            if len(claims) == 7:
                raise MalformedCredential("a null gender is only allowed before extensions")
        elif len(claims) > 6:
            gender = _check_text(claims[6], "gender", MAX_GENDER_BYTES)
        extensions: dict[int, bytes] = {}
        if len(claims) == _MAX_CLAIMS:
            extensions = claims[7]
            if not isinstance(extensions, dict) or not extensions:
                raise MalformedCredential("extensions must be a non-empty map")
            for label, value in extensions.items():
                _check_extension(label, value)
        if not dob <= issued <= expires:
            raise InvalidClaim("dates must satisfy date_of_birth <= issued <= expires")
        _check_normalized(name, gender)
        return cls._unchecked(
            name=name,
            date_of_birth=_EPOCH + timedelta(days=dob),
            issued=_EPOCH + timedelta(days=issued),
            expires=_EPOCH + timedelta(days=expires),
            status_index=status_index,
            gender=gender,
            card_key=extensions.get(EXT_CARD_KEY),
            tag_uid=extensions.get(EXT_TAG_UID),
            pseudonym_key=extensions.get(EXT_PSEUDONYM_KEY),
        )

    @classmethod
    def _unchecked(cls, **values: Any) -> Credential:
        """Build without running the checks again: for values that were just checked."""
        credential = object.__new__(cls)
        credential.__dict__.update(values)
        return credential

    def _extensions(self) -> dict[int, bytes]:
        pairs = (
            (EXT_CARD_KEY, self.card_key),
            (EXT_TAG_UID, self.tag_uid),
            (EXT_PSEUDONYM_KEY, self.pseudonym_key),
        )
        return {label: value for label, value in pairs if value is not None}


def _check_text(value: Any, label: str, max_bytes: int) -> str:
    """The text rules but normalization (which _check_normalized does last)."""
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
    return value


def _check_normalized(name: str, gender: str | None) -> None:
    for label, value in (("name", name), ("gender", gender)):
        if (
            value is not None
            and not value.isascii()
            and not unicodedata.is_normalized("NFC", value)
        ):
            raise InvalidClaim(f"{label} must be in Unicode normalization form NFC")


def _check_day(value: Any, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidClaim(f"{label} must be an integer day number")
    if not _MIN_DAY <= value <= _MAX_DAY:
        raise InvalidClaim(f"{label} is outside {MIN_DATE} .. {MAX_DATE}")
    return value


def _check_status_index(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidClaim("status_index must be an integer")
    if not 0 <= value <= MAX_STATUS_INDEX:
        raise InvalidClaim("status_index must be in 0 .. 2**32 - 1")
    return value


def _check_extension(label: Any, value: Any) -> None:
    if label not in _EXTENSION_SIZES or isinstance(label, bool):
        raise UnknownClaim("the credential carries an extension this format does not define")
    name, sizes = _EXTENSION_SIZES[label]
    if not isinstance(value, bytes) or len(value) not in sizes:
        raise InvalidClaim(f"{name} must be a byte string of {' or '.join(map(str, sizes))} bytes")
    if label != EXT_TAG_UID and value[0] not in (2, 3):
        raise InvalidClaim(f"{name} must be a compressed SEC1 P-256 point")


def _day_number(day: date) -> int:
    return (day - _EPOCH).days
