"""Verifying a card's credential offline, against a trust store and status lists.

The checks run in the order the spec fixes (``specs/credential.md``, "Verification"),
so every implementation reports the same error for the same bytes:

1. the bytes are the canonical untagged COSE_Sign1 of the profile (MalformedCredential),
2. the protected header names ES256 or EdDSA (UnsupportedAlgorithm),
3. a trusted key has that algorithm and wire key id (UnknownIssuer),
4. the signature verifies under one of those keys (BadSignature),
5. the payload is a canonical claims array of version 1 with no unknown claim
   (MalformedCredential, UnsupportedVersion, UnknownClaim, InvalidClaim),
6. the key's issuing window holds the issue date (KeyNotValid),
7. issued <= today (NotYetValid) and today <= expires (Expired),
8. the signing key's current status list, if any, marks it valid (Revoked, Suspended;
   StatusUnknown when no current list covers it and the policy requires one).

Steps 1 to 8 run in an *engine*: the C extension ``cityid_card._native`` when it is
built, or its pure-Python twin :class:`_PythonEngine`, which behaves identically.
"""

from __future__ import annotations

import enum
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import NamedTuple, Protocol

from . import _algorithms, _cbor, cose
from ._algorithms import Algorithm
from .credential import Credential
from .errors import (
    BadSignature,
    CredentialError,
    Expired,
    KeyNotValid,
    MalformedCredential,
    NotYetValid,
    Revoked,
    StatusListError,
    StatusUnknown,
    Suspended,
    UnknownIssuer,
)
from .keys import WIRE_KID_SIZE
from .status import CredentialStatus, StatusListToken, StatusValue, status_at
from .trust import TrustStore

__all__ = [
    "DEFAULT_IMPLEMENTATION",
    "StatusPolicy",
    "UnverifiedCredential",
    "VerifiedCredential",
    "Verifier",
    "decode_unverified",
    "verify",
    "verify_many",
]

_EPOCH = date(1970, 1, 1)
#: What an engine reports when no current status list covers a credential.
STATUS_UNKNOWN = -1
_VALID, _SUSPENDED = int(StatusValue.VALID), int(StatusValue.SUSPENDED)
_STATUS_VALID = CredentialStatus.VALID


class StatusPolicy(enum.Enum):
    """What a verifier does with a credential whose revocation status is unknown."""

    #: Accept it and report ``CredentialStatus.UNKNOWN`` (the default: offline first).
    ACCEPT_UNKNOWN = "accept-unknown"
    #: Reject it with StatusUnknown.
    REJECT_UNKNOWN = "reject-unknown"


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential whose signature, issuer, dates and status all checked out."""

    credential: Credential
    kid: str
    alg: Algorithm
    status: CredentialStatus = CredentialStatus.UNKNOWN


@dataclass(frozen=True)
class UnverifiedCredential:
    """What a credential claims, decoded WITHOUT checking signature, issuer or dates."""

    credential: Credential
    alg: Algorithm
    wire_kid: bytes


class Engine(Protocol):
    """Steps 1 to 8 for one set of keys; implemented in C and in Python."""

    def set_status_list(
        self, key_index: int, data: bytes | None, bits: int, expires_at: int | None
    ) -> None: ...

    def status(self, key_index: int, status_index: int, now: int) -> int: ...

    def verify(self, blob: bytes, today: int, now: int) -> tuple[int, int, Credential]: ...


#: An engine's view of a key: COSE algorithm, wire kid, raw public key, issuing window
#: as day numbers (None: open).
KeyRow = tuple[int, bytes, bytes, int | None, int | None]


def _key_rows(trust: TrustStore) -> list[KeyRow]:
    return [
        (
            _algorithms.COSE_ALGORITHM[key.alg],
            key.wire_kid,
            _algorithms.raw_public_bytes(key.key),
            None if key.valid_from is None else (key.valid_from - _EPOCH).days,
            None if key.valid_until is None else (key.valid_until - _EPOCH).days,
        )
        for key in trust
    ]


class _PythonEngine:
    """The pure-Python engine: the reference the C engine is tested against."""

    def __init__(self, keys: Sequence[KeyRow]) -> None:
        self._keys: dict[tuple[int, bytes], list[tuple[int, _algorithms.SignatureCheck]]] = {}
        self._windows: list[tuple[int | None, int | None]] = []
        self._lists: dict[int, tuple[bytes, int, int | None]] = {}
        for index, (alg, wire_kid, raw, valid_from, valid_until) in enumerate(keys):
            key = _algorithms.public_key_from_raw(_algorithms.algorithm_from_header(alg), raw)
            check = _algorithms.signature_check(key)
            self._keys.setdefault((alg, wire_kid), []).append((index, check))
            self._windows.append((valid_from, valid_until))

    def set_status_list(
        self, key_index: int, data: bytes | None, bits: int, expires_at: int | None
    ) -> None:
        if data is None:
            self._lists.pop(key_index, None)
        else:
            self._lists[key_index] = (bytes(data), bits, expires_at)

    def status(self, key_index: int, status_index: int, now: int) -> int:
        entry = self._lists.get(key_index)
        if entry is None or (entry[2] is not None and now > entry[2]):
            return STATUS_UNKNOWN
        value = status_at(entry[0], entry[1], status_index)
        return STATUS_UNKNOWN if value is None else value

    def verify(self, blob: bytes, today: int, now: int) -> tuple[int, int, Credential]:
        envelope = _parse_envelope(blob)
        alg, wire_kid = envelope.alg, envelope.wire_kid
        candidates = self._keys.get((_algorithms.COSE_ALGORITHM[alg], wire_kid))
        if not candidates:
            raise UnknownIssuer("no trusted key has the credential's key id and algorithm")
        key_index = _signing_key(candidates, envelope)
        credential = Credential.from_claims(_cbor.loads(envelope.payload))
        issued = _day(credential.issued)
        valid_from, valid_until = self._windows[key_index]
        if (valid_from is not None and issued < valid_from) or (
            valid_until is not None and issued > valid_until
        ):
            raise KeyNotValid("the issuer key was not valid on the credential's issue date")
        if today < issued:
            raise NotYetValid("the credential's issue date is after the verification date")
        if today > _day(credential.expires):
            raise Expired("the credential expired before the verification date")
        return key_index, self.status(key_index, credential.status_index, now), credential


def _signing_key(
    candidates: list[tuple[int, _algorithms.SignatureCheck]], envelope: _Envelope
) -> int:
    """Step 4: the index of the candidate key the signature verifies under."""
    to_be_signed = cose.sig_structure(envelope.protected, envelope.payload)
    for key_index, check in candidates:
        try:
            check(to_be_signed, envelope.signature)
        except BadSignature:
            continue
        return key_index
    raise BadSignature("the signature does not verify under the issuer key")


def _day(value: date | None) -> int:
    assert value is not None
    return (value - _EPOCH).days


class _Envelope(NamedTuple):
    protected: bytes
    payload: bytes
    signature: bytes
    alg: Algorithm
    wire_kid: bytes


#: The profile's protected header is always a2 01 <26|27> 04 42 <kid>: 7 bytes.
_PROTECTED_START = b"\x84\x47\xa2\x01"
_ALG_BY_BYTE: dict[int, Algorithm] = {0x26: "ES256", 0x27: "EdDSA"}


def _parse_envelope(blob: bytes) -> _Envelope:
    """Steps 1 and 2: the profile's COSE_Sign1, its algorithm and wire key id."""
    return _canonical_envelope(blob) or _checked_envelope(blob)


def _canonical_envelope(blob: bytes) -> _Envelope | None:
    """The common case by its exact bytes; None for anything else.

    It accepts only the one canonical encoding of a well-formed envelope (with a
    payload under 65536 bytes), so for those bytes it returns what
    _checked_envelope would; every other input goes to _checked_envelope, which
    decides the error.
    """
    alg = _ALG_BY_BYTE.get(blob[4]) if len(blob) > 12 else None
    if alg is None or not blob.startswith(_PROTECTED_START) or blob[5:7] != b"\x04\x42":
        return None
    if blob[9] != 0xA0:
        return None
    head = blob[10]
    if 0x40 <= head <= 0x57:
        size, start = head - 0x40, 11
    elif head == 0x58 and blob[11] >= 24:
        size, start = blob[11], 12
    elif head == 0x59 and blob[11] > 0:
        size, start = int.from_bytes(blob[11:13], "big"), 13
    else:
        return None
    end = start + size
    if len(blob) != end + 2 + _algorithms.SIGNATURE_SIZE or blob[end : end + 2] != b"\x58\x40":
        return None
    return _Envelope(blob[2:9], blob[start:end], blob[end + 2 :], alg, blob[7:9])


def _checked_envelope(blob: bytes) -> _Envelope:
    message = cose.Sign1.decode(blob, tagged=False)
    if message.unprotected:
        raise MalformedCredential("the unprotected header must be empty")
    if len(message.signature) != _algorithms.SIGNATURE_SIZE:
        raise MalformedCredential("the signature must be 64 bytes")
    header = message.protected
    if not cose.has_labels(header, cose.HEADER_ALG, cose.HEADER_KID):
        raise MalformedCredential("the protected header must hold exactly alg and kid")
    wire_kid = header[cose.HEADER_KID]
    if not isinstance(wire_kid, bytes) or len(wire_kid) != WIRE_KID_SIZE:
        raise MalformedCredential("the kid must be a 2-byte string")
    alg = _algorithms.algorithm_from_header(header[cose.HEADER_ALG])
    return _Envelope(message.protected_bytes, message.payload, message.signature, alg, wire_kid)


EngineFactory = Callable[[list[KeyRow]], Engine]


def _load_engines() -> dict[str, EngineFactory]:
    engines: dict[str, EngineFactory] = {"python": _PythonEngine}
    if os.environ.get("CITYID_CARD_PURE") == "1":
        return engines
    try:
        from . import _native
    except ImportError:
        return engines
    return {"c": _native.Engine, **engines}


_ENGINES = _load_engines()
#: Which engine verifies by default: "c" (the C extension) or "python"
#: (when the extension is not built, or CITYID_CARD_PURE=1 was set at start).
DEFAULT_IMPLEMENTATION: str = next(iter(_ENGINES))


@dataclass(slots=True)
class _CacheEntry:
    """A verified credential in a Verifier's cache, with what a hit checks again."""

    key_index: int
    issued: int
    expires: int
    status_index: int
    result: VerifiedCredential


class Verifier:
    """A verifier for a gate or a kiosk: parsed keys and status lists, and a cache.

    ``verify`` has the contract of the module-level :func:`verify`. Repeated taps of
    the same card hit a cache keyed by the credential's SHA-256 digest and skip the
    signature check; dates and status are checked again on every hit. The cache holds
    at most ``cache_size`` credentials in memory (0 disables it).
    """

    def __init__(
        self,
        trust: TrustStore,
        status_lists: Iterable[StatusListToken] = (),
        *,
        cache_size: int = 1024,
        status_policy: StatusPolicy = StatusPolicy.ACCEPT_UNKNOWN,
        implementation: str | None = None,
    ) -> None:
        name = implementation or DEFAULT_IMPLEMENTATION
        if name not in _ENGINES:
            raise ValueError(f"no {name!r} engine here (available: {', '.join(_ENGINES)})")
        self.implementation = name
        self.status_policy = status_policy
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _CacheEntry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._lists: list[StatusListToken] = []
        self.update_trust(trust)
        self.update_status_lists(status_lists)

    @property
    def trust(self) -> TrustStore:
        return self._trust

    def update_trust(self, trust: TrustStore) -> None:
        """Use a new trust store; keeps the status lists whose signer is still trusted."""
        self._trust = trust
        self._key_list = list(trust)
        self._labels = [(key.kid, key.alg) for key in self._key_list]
        self._engine = _ENGINES[self.implementation](_key_rows(trust))
        self._cache.clear()
        self.update_status_lists(
            [token for token in self._lists if any(k.kid == token.kid for k in self._key_list)]
        )

    def update_status_lists(self, status_lists: Iterable[StatusListToken]) -> None:
        """Replace the status lists; each covers the credentials of the key that signed it.

        Cached credentials stay cached: their status is looked up again on every hit.
        """
        lists = list(status_lists)
        index_of = {key.kid: index for index, key in enumerate(self._key_list)}
        for token in lists:
            if token.kid not in index_of:
                raise StatusListError("the status list's signing key is not in the trust store")
        for index in range(len(self._key_list)):
            self._engine.set_status_list(index, None, 1, None)
        for token in sorted(lists, key=lambda t: t.issued_at):  # the newest list of a key wins
            expires = None if token.expires_at is None else int(token.expires_at.timestamp())
            self._engine.set_status_list(index_of[token.kid], token.data, token.bits, expires)
        self._lists = lists

    def verify(
        self, blob: bytes | bytearray | memoryview, now: datetime | date | None = None
    ) -> VerifiedCredential:
        """Verify a card's bytes; return the result or raise a CredentialError subclass."""
        today, moment = _clock(now)
        data = _as_bytes(blob)
        if not self._cache_size:
            return self._result(*self._engine.verify(data, today, moment))
        digest = hashlib.sha256(data).digest()
        with self._cache_lock:
            entry = self._cache.get(digest)
            if entry is not None:
                self._cache.move_to_end(digest)
        if entry is None:
            key_index, value, credential = self._engine.verify(data, today, moment)
            key = self._key_list[key_index]
            entry = _CacheEntry(
                key_index,
                _day(credential.issued),
                _day(credential.expires),
                credential.status_index,
                VerifiedCredential(credential, key.kid, key.alg),
            )
            # Cached whatever the status: revocation is looked up again on every hit.
            with self._cache_lock:
                self._cache[digest] = entry
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return self._with_status(entry, value)
        if today < entry.issued:
            raise NotYetValid("the credential's issue date is after the verification date")
        if today > entry.expires:
            raise Expired("the credential expired before the verification date")
        return self._with_status(
            entry, self._engine.status(entry.key_index, entry.status_index, moment)
        )

    def _result(self, key_index: int, value: int, credential: Credential) -> VerifiedCredential:
        kid, alg = self._labels[key_index]
        status = _STATUS_VALID if value == _VALID else self._status(value)
        return VerifiedCredential(credential, kid, alg, status)

    def _with_status(self, entry: _CacheEntry, value: int) -> VerifiedCredential:
        status = self._status(value)
        if status is not entry.result.status:
            entry.result = replace(entry.result, status=status)
        return entry.result

    def _status(self, value: int) -> CredentialStatus:
        if value == _VALID:
            return CredentialStatus.VALID
        if value == STATUS_UNKNOWN:
            if self.status_policy is StatusPolicy.REJECT_UNKNOWN:
                raise StatusUnknown("no current status list covers the credential")
            return CredentialStatus.UNKNOWN
        if value == _SUSPENDED:
            raise Suspended("the issuer's status list marks the credential as suspended")
        raise Revoked("the issuer's status list marks the credential as revoked")

    def verify_many(
        self,
        blobs: Iterable[bytes],
        now: datetime | date | None = None,
        *,
        threads: int | None = None,
    ) -> list[VerifiedCredential | CredentialError]:
        """Verify many credentials on ``threads`` threads (default: one per core).

        Returns, in input order, the result or the CredentialError for each input.
        The C engine releases the GIL while it works, so threads use all cores.
        """
        items = [_as_bytes(blob) for blob in blobs]
        workers = max(1, min(threads or os.cpu_count() or 1, len(items)))
        moment = _clock(now)

        def run(chunk: range) -> list[VerifiedCredential | CredentialError]:
            return [self._verify_or_error(items[i], moment) for i in chunk]

        if workers == 1:
            return run(range(len(items)))
        size = -(-len(items) // workers)
        chunks = [
            range(start, min(start + size, len(items))) for start in range(0, len(items), size)
        ]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return [result for part in pool.map(run, chunks) for result in part]

    def _verify_or_error(
        self, blob: bytes, moment: tuple[int, int]
    ) -> VerifiedCredential | CredentialError:
        try:
            return self._result(*self._engine.verify(blob, *moment))
        except CredentialError as error:
            return error


def _as_bytes(blob: object) -> bytes:
    if isinstance(blob, bytes):
        return blob
    if isinstance(blob, (bytearray, memoryview)):
        return bytes(blob)
    raise TypeError("the credential must be bytes")


def _clock(now: datetime | date | None) -> tuple[int, int]:
    """The verification day (days since 1970) and instant (seconds since 1970) of ``now``.

    A naive datetime is taken as UTC; an aware one is judged by its own calendar date;
    a date means the start of that day, UTC.
    """
    if now is None:
        seconds = int(time.time())
        return seconds // 86400, seconds
    if isinstance(now, datetime):
        instant = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        return (now.date() - _EPOCH).days, int(instant.timestamp())
    if isinstance(now, date):
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
        return (now - _EPOCH).days, int(start.timestamp())
    raise TypeError("now must be a datetime, a date or None")


#: One cache-less verifier per trust store (stores are immutable), built on first use.
def _default_verifier(trust: TrustStore) -> Verifier:
    verifier: Verifier | None = trust.default_verifier
    if verifier is None:
        verifier = trust.default_verifier = Verifier(trust, cache_size=0)
    return verifier


def verify(
    blob: bytes | bytearray | memoryview, trust: TrustStore, now: datetime | date | None = None
) -> VerifiedCredential:
    """Verify a card's bytes; return the result or raise a CredentialError subclass.

    ``now`` is the moment to judge validity at (default: the current UTC time). Its
    calendar date is compared with the card's dates: pass a timezone-aware datetime
    to judge by the local date, a naive one is taken as UTC. Without status lists the
    result's status is UNKNOWN; use a :class:`Verifier` to check revocation.
    """
    return _default_verifier(trust).verify(blob, now)


def verify_many(
    blobs: Iterable[bytes],
    trust: TrustStore,
    now: datetime | date | None = None,
    *,
    threads: int | None = None,
) -> list[VerifiedCredential | CredentialError]:
    """Verify many credentials using all cores; see :meth:`Verifier.verify_many`."""
    return _default_verifier(trust).verify_many(blobs, now, threads=threads)


def decode_unverified(blob: bytes) -> UnverifiedCredential:
    """Decode a credential without trusting it (for inspection and diagnostics only).

    The encoding is checked as strictly as by :func:`verify`; nothing else is.
    """
    envelope = _parse_envelope(_as_bytes(blob))
    claims = Credential.from_claims(_cbor.loads(envelope.payload))
    return UnverifiedCredential(claims, envelope.alg, envelope.wire_kid)
