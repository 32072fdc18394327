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
7. issued <= today (NotYetValid) and today <= expires (Expired), where today is the
   verifier's local calendar date unless the caller passes a date or a datetime,
8. the signing key's current status list, if any, marks it valid (Revoked, Suspended;
   StatusUnknown when no current list covers it and the policy requires one).

Steps 1 to 8 run in an *engine*: the C extension ``cityid_card._native`` when it is
built, or its pure-Python twin :class:`_PythonEngine`, which behaves identically.
"""

from __future__ import annotations

import enum
import os
import struct
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as wall_time
from typing import NamedTuple, Protocol, TypeAlias

from . import _algorithms, _cbor, cose
from ._algorithms import Algorithm
from .cose import _SIGNATURE1_HEAD
from .credential import (
    _CONTROL_CHARACTER,
    _EPOCH,
    _MAX_DAY,
    EXT_CARD_KEY,
    EXT_PSEUDONYM_KEY,
    EXT_TAG_UID,
    MAX_GENDER_BYTES,
    MAX_NAME_BYTES,
    MAX_STATUS_INDEX,
    Credential,
    _day_number,
)
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

_EPOCH_ORDINAL = _EPOCH.toordinal()
_VALID, _SUSPENDED = int(StatusValue.VALID), int(StatusValue.SUSPENDED)
_STATUS_VALID, _STATUS_UNKNOWN = CredentialStatus.VALID, CredentialStatus.UNKNOWN


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


def _verified(
    credential: Credential, kid: str, alg: Algorithm, status: CredentialStatus
) -> VerifiedCredential:
    """A VerifiedCredential built without the dataclass's __init__ (as the C engine does)."""
    result = object.__new__(VerifiedCredential)
    result.__dict__.update(credential=credential, kid=kid, alg=alg, status=status)
    return result


@dataclass(frozen=True)
class UnverifiedCredential:
    """What a credential claims, decoded WITHOUT checking signature, issuer or dates."""

    credential: Credential
    alg: Algorithm
    wire_kid: bytes


#: The moment to judge validity at, as every engine takes it (None: the clock, with the
#: machine's local calendar date as today).
Now: TypeAlias = datetime | date | None
#: What a Verifier's cache keeps for an accepted credential: the result, the signing
#: key's index, the issue and expiry dates (day numbers) and the status index.
CacheEntry: TypeAlias = tuple[VerifiedCredential, int, int, int, int]


class Engine(Protocol):
    """Steps 1 to 8 for one set of keys; implemented in C and in Python.

    Both raise the same CredentialError subclass for every input, so a caller gets the
    final outcome from one call; ``reject_unknown`` is the status policy.
    """

    reject_unknown: bool

    def set_status_list(
        self, key_index: int, data: bytes | None, bits: int, expires_at: int | None
    ) -> None: ...

    def verify(self, blob: bytes | bytearray | memoryview, now: Now, /) -> VerifiedCredential: ...

    def verify_many(
        self, blobs: Sequence[bytes], now: Now, /
    ) -> list[VerifiedCredential | CredentialError]: ...

    def recheck(self, entry: CacheEntry, now: Now, /) -> VerifiedCredential: ...


#: An engine's view of a key: COSE algorithm, wire kid, raw public key, issuing window
#: as day numbers (None: open), and the kid that results name.
KeyRow = tuple[int, bytes, bytes, int | None, int | None, str]


def _key_rows(trust: TrustStore) -> list[KeyRow]:
    return [
        (
            _algorithms.COSE_ALGORITHM[key.alg],
            key.wire_kid,
            _algorithms.raw_public_bytes(key.key),
            None if key.valid_from is None else _day_number(key.valid_from),
            None if key.valid_until is None else _day_number(key.valid_until),
            key.kid,
        )
        for key in trust
    ]


class _PythonEngine:
    """The pure-Python engine: the reference the C engine is tested against."""

    def __init__(self, keys: Sequence[KeyRow], reject_unknown: bool = False) -> None:
        self.reject_unknown = reject_unknown
        self._keys: dict[tuple[Algorithm, bytes], list[tuple[int, _algorithms.SignatureCheck]]] = {}
        self._labels: list[tuple[str, Algorithm]] = []
        self._windows: list[tuple[int | None, int | None]] = []
        self._lists: dict[int, tuple[bytes, int, int | None]] = {}
        for index, (cose_alg, wire_kid, raw, valid_from, valid_until, kid) in enumerate(keys):
            alg = _algorithms.algorithm_from_header(cose_alg)
            check = _algorithms.signature_check(_algorithms.public_key_from_raw(alg, raw))
            self._keys.setdefault((alg, wire_kid), []).append((index, check))
            self._labels.append((kid, alg))
            self._windows.append((valid_from, valid_until))

    def set_status_list(
        self, key_index: int, data: bytes | None, bits: int, expires_at: int | None
    ) -> None:
        if data is None:
            self._lists.pop(key_index, None)
        else:
            self._lists[key_index] = (bytes(data), bits, expires_at)

    def verify(self, blob: bytes | bytearray | memoryview, now: Now, /) -> VerifiedCredential:
        today, moment = _clock(now)
        return self._verify(blob if type(blob) is bytes else _as_bytes(blob), today, moment)

    def verify_many(
        self, blobs: Sequence[bytes], now: Now, /
    ) -> list[VerifiedCredential | CredentialError]:
        today, moment = _clock(now)
        results: list[VerifiedCredential | CredentialError] = []
        for blob in blobs:
            try:
                results.append(self._verify(_as_bytes(blob), today, moment))
            except CredentialError as error:
                results.append(error)
        return results

    def recheck(self, entry: CacheEntry, now: Now, /) -> VerifiedCredential:
        today, moment = _clock(now)
        result, key_index, issued, expires, status_index = entry
        if today < issued:
            raise NotYetValid("the credential's issue date is after the verification date")
        if today > expires:
            raise Expired("the credential expired before the verification date")
        status = self._status(key_index, status_index, moment)
        if status is result.status:
            return result
        return _verified(result.credential, result.kid, result.alg, status)

    def _verify(self, blob: bytes, today: int, moment: int) -> VerifiedCredential:
        envelope = _canonical_envelope(blob) or _checked_envelope(blob)
        alg, wire_kid, payload, signature, to_be_signed = envelope
        candidates = self._keys.get((alg, wire_kid))
        if not candidates:
            raise UnknownIssuer("no trusted key has the credential's key id and algorithm")
        key_index = _signing_key(candidates, to_be_signed, signature)
        credential, issued, expires = _canonical_claims(payload) or _claims(payload)
        valid_from, valid_until = self._windows[key_index]
        if (valid_from is not None and issued < valid_from) or (
            valid_until is not None and issued > valid_until
        ):
            raise KeyNotValid("the issuer key was not valid on the credential's issue date")
        if today < issued:
            raise NotYetValid("the credential's issue date is after the verification date")
        if today > expires:
            raise Expired("the credential expired before the verification date")
        status = self._status(key_index, credential.status_index, moment)
        kid, label = self._labels[key_index]
        return _verified(credential, kid, label, status)

    def _status(self, key_index: int, status_index: int, moment: int) -> CredentialStatus:
        """Step 8: the status the key's current list gives, under the status policy."""
        entry = self._lists.get(key_index)
        value = None
        if entry is not None and (entry[2] is None or moment <= entry[2]):
            value = status_at(entry[0], entry[1], status_index)
        if value == _VALID:
            return _STATUS_VALID
        if value is None:
            if self.reject_unknown:
                raise StatusUnknown("no current status list covers the credential")
            return _STATUS_UNKNOWN
        if value == _SUSPENDED:
            raise Suspended("the issuer's status list marks the credential as suspended")
        raise Revoked("the issuer's status list marks the credential as revoked")


def _signing_key(
    candidates: list[tuple[int, _algorithms.SignatureCheck]], to_be_signed: bytes, signature: bytes
) -> int:
    """Step 4: the index of the candidate key the signature verifies under."""
    for key_index, check in candidates:
        try:
            check(to_be_signed, signature)
        except BadSignature:
            continue
        return key_index
    raise BadSignature("the signature does not verify under the issuer key")


def _claims(payload: bytes) -> tuple[Credential, int, int]:
    """Step 5 by the strict decoder: the credential, its issue and expiry day numbers."""
    credential = Credential.from_claims(_cbor.loads(payload))
    return credential, _day(credential.issued), _day(credential.expires)


def _day(value: date | None) -> int:
    assert value is not None  # a decoded credential always has its issue date
    return _day_number(value)


class _NotCommon(Exception):
    """Raised inside _canonical_claims for anything it leaves to the strict decoder."""


#: Three integers with 2-byte arguments: (head, argument) three times.
_THREE_DAYS = struct.Struct(">BHBHBH").unpack_from


def _canonical_claims(payload: bytes) -> tuple[Credential, int, int] | None:
    """The claims of a valid credential by their exact bytes; None for anything else.

    It accepts only canonical claims arrays that pass every check of
    Credential.from_claims, and returns what from_claims would for them; every other
    payload goes to _cbor.loads and from_claims, which decide the error.
    """
    try:
        count = payload[0] - 0x80
        if not 6 <= count <= 8 or payload[1] != 1:
            return None
        name, pos = _text_at(payload, 2, MAX_NAME_BYTES)
        # Most dates take a 2-byte argument (days 256 to 65535 after or before 1970).
        dob_head, dob, issued_head, issued, expires_head, expires = _THREE_DAYS(payload, pos)
        if (
            issued_head == expires_head == 0x19
            and dob_head in (0x19, 0x39)
            and min(dob, issued, expires) >= 256
        ):
            dob = dob if dob_head == 0x19 else -1 - dob
            pos += 9
        else:
            dob, pos = _int_at(payload, pos, _MAX_DAY)
            issued, pos = _int_at(payload, pos, _MAX_DAY)
            expires, pos = _int_at(payload, pos, _MAX_DAY)
        status_index, pos = _int_at(payload, pos, MAX_STATUS_INDEX)
        if status_index < 0 or not dob <= issued <= expires:
            return None
        gender = None
        extensions: dict[int, bytes] = {}
        if count > 6:
            if payload[pos] == 0xF6 and count == 8:
                pos += 1
            else:
                gender, pos = _text_at(payload, pos, MAX_GENDER_BYTES)
        if count == 8:
            pos = _extensions_at(payload, pos, extensions)
    except (_NotCommon, IndexError, UnicodeDecodeError, struct.error):
        return None
    if pos != len(payload):
        return None
    credential = Credential._unchecked(
        name=name,
        date_of_birth=date.fromordinal(_EPOCH_ORDINAL + dob),
        issued=date.fromordinal(_EPOCH_ORDINAL + issued),
        expires=date.fromordinal(_EPOCH_ORDINAL + expires),
        status_index=status_index,
        gender=gender,
        card_key=extensions.get(EXT_CARD_KEY),
        tag_uid=extensions.get(EXT_TAG_UID),
        pseudonym_key=extensions.get(EXT_PSEUDONYM_KEY),
    )
    return credential, issued, expires


def _int_at(data: bytes, pos: int, limit: int) -> tuple[int, int]:
    """A canonical integer in -(limit + 1) .. limit at ``pos``; its value and end."""
    head = data[pos]
    major, info = head & 0xE0, head & 0x1F
    if major > 0x20:
        raise _NotCommon
    if info < 24:
        value, end = info, pos + 1
    elif info == 24 and data[pos + 1] >= 24:
        value, end = data[pos + 1], pos + 2
    elif info == 25 and data[pos + 1]:
        value, end = (data[pos + 1] << 8) | data[pos + 2], pos + 3
    elif info == 26 and (data[pos + 1] or data[pos + 2]) and pos + 5 <= len(data):
        value, end = int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
    else:
        raise _NotCommon
    if value > limit:
        raise _NotCommon
    return (-1 - value if major else value), end


def _text_at(data: bytes, pos: int, limit: int) -> tuple[str, int]:
    """A canonical text claim at ``pos`` that passes every text rule; its value and end."""
    head = data[pos]
    if 0x61 <= head <= 0x77:
        start, size = pos + 1, head - 0x60
    elif head == 0x78 and data[pos + 1] >= 24:
        start, size = pos + 2, data[pos + 1]
    else:
        raise _NotCommon
    end = start + size
    if size > limit or end > len(data):
        raise _NotCommon
    text = data[start:end].decode("utf-8")
    if text.isascii():
        # For ASCII, isprintable() is "no control character", and the only white space
        # that is not a control character is the space.
        if not text.isprintable() or text[0] == " " or text[-1] == " ":
            raise _NotCommon
    elif (
        text.strip() != text
        or _CONTROL_CHARACTER.search(text)
        or not unicodedata.is_normalized("NFC", text)
    ):
        raise _NotCommon
    return text, end


#: The extensions' byte-string heads the format allows: tag UIDs of 4, 7 or 10 bytes,
#: keys as 33-byte points.
_UID_HEADS = {0x44: 4, 0x47: 7, 0x4A: 10}


def _extensions_at(data: bytes, pos: int, extensions: dict[int, bytes]) -> int:
    """A canonical, valid extensions map at ``pos``, into ``extensions``; its end."""
    count = data[pos] - 0xA0
    if not 1 <= count <= 3:
        raise _NotCommon
    pos += 1
    previous = 0
    for _ in range(count):
        label = data[pos]
        if not previous < label <= EXT_PSEUDONYM_KEY:
            raise _NotCommon
        if label == EXT_TAG_UID:
            size = _UID_HEADS.get(data[pos + 1], 0)
            start = pos + 2
        elif data[pos + 1] == 0x58 and data[pos + 2] == 33 and data[pos + 3] in (2, 3):
            size, start = 33, pos + 3
        else:
            raise _NotCommon
        pos = start + size
        if not size or pos > len(data):
            raise _NotCommon
        extensions[label] = data[start:pos]
        previous = label
    return pos


#: The parts of an envelope the checks use: the algorithm, wire key id, payload,
#: signature and the Sig_structure the signature covers.
_Envelope: TypeAlias = tuple[Algorithm, bytes, bytes, bytes, bytes]

#: The profile's protected header is always a2 01 <26|27> 04 42 <kid>: 7 bytes.
_PROTECTED_START = b"\x84\x47\xa2\x01"
_ALG_BY_BYTE: dict[int, Algorithm] = {0x26: "ES256", 0x27: "EdDSA"}


def _canonical_envelope(blob: bytes) -> _Envelope | None:
    """The common envelope by its exact bytes; None for anything else.

    It accepts only the one canonical encoding of a well-formed envelope (with a
    payload under 65536 bytes), so for those bytes it finds what _checked_envelope
    would; every other input goes to _checked_envelope, which decides the error.
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
    # The Sig_structure reuses the envelope's canonical heads of both strings.
    to_be_signed = _SIGNATURE1_HEAD + blob[1:9] + b"\x40" + blob[10:end]
    return alg, blob[7:9], blob[start:end], blob[end + 2 :], to_be_signed


def _checked_envelope(blob: bytes) -> _Envelope:
    # The profile is stricter than COSE: exactly alg and kid, so no crit; an empty
    # protected header (h'' or h'a0') is refused before the unprotected one is looked at.
    message = cose.Sign1.decode(blob, tagged=False, check_critical=False)
    if not message.protected:
        raise MalformedCredential("the protected header must hold exactly alg and kid")
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
    payload = message.payload
    to_be_signed = cose.sig_structure(message.protected_bytes, payload)
    return alg, wire_kid, payload, message.signature, to_be_signed


EngineFactory = Callable[[list[KeyRow], bool], Engine]


def _load_engines() -> dict[str, EngineFactory]:
    engines: dict[str, EngineFactory] = {"python": _PythonEngine}
    try:
        from . import _native
    except ImportError:
        return engines
    return {"c": _native.Engine, **engines}


_ENGINES = _load_engines()
#: Which engine verifies by default: "c" (the C extension) or "python" (when the
#: extension is not built, or the process started with CITYID_CARD_PURE=1, which the
#: package's ``__init__`` reads and hands to :func:`_python_only`).
DEFAULT_IMPLEMENTATION: str = next(iter(_ENGINES))


def _python_only() -> None:
    """Keep the C engine out of this process: every Verifier uses the Python twin."""
    global DEFAULT_IMPLEMENTATION
    _ENGINES.pop("c", None)
    DEFAULT_IMPLEMENTATION = "python"


class _State(NamedTuple):
    """What a Verifier verifies with, replaced whole when the trust store changes."""

    trust: TrustStore
    engine: Engine
    index_of: dict[str, int]


#: How far past the verifier's clock a status list's iat may lie (clocks differ).
_STATUS_LIST_SKEW = 86400


class Verifier:
    """A verifier for a gate or a kiosk: parsed keys and status lists, and a cache.

    ``verify`` has the contract of the module-level :func:`verify`. Repeated taps of
    the same card hit a cache keyed by the credential's bytes and skip the signature
    check; dates and status are checked again on every hit. The cache holds at most
    ``cache_size`` accepted credentials in memory (0 disables it).

    Every method may be called from several threads at once; ``update_trust`` and
    ``update_status_lists`` take effect as a whole for the verifications that start
    after they return, and a trust update empties the cache.
    """

    def __init__(
        self,
        trust: TrustStore,
        status_lists: Iterable[StatusListToken] = (),
        *,
        cache_size: int = 1024,
        status_policy: StatusPolicy = StatusPolicy.ACCEPT_UNKNOWN,
        implementation: str | None = None,
        seen_status_lists: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        name = implementation or DEFAULT_IMPLEMENTATION
        if name not in _ENGINES:
            raise ValueError(f"no {name!r} engine here (available: {', '.join(_ENGINES)})")
        self.implementation = name
        self._status_policy = status_policy
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, CacheEntry] = OrderedDict()
        #: Guards the cache and which state is current (readers take it briefly).
        self._cache_lock = threading.Lock()
        #: Serialises the updates, so that one update never sees half of another.
        self._update_lock = threading.RLock()
        self._lists: list[StatusListToken] = []
        # The newest (list number, iat) seen per key: a list older than it is refused.
        self._seen: dict[str, tuple[int, int]] = {
            kid: (int(mark[0]), int(mark[1])) for kid, mark in (seen_status_lists or {}).items()
        }
        self._state = self._new_state(trust, [])
        self.update_status_lists(status_lists)

    @property
    def trust(self) -> TrustStore:
        return self._state.trust

    @property
    def _engine(self) -> Engine:
        return self._state.engine

    @property
    def status_policy(self) -> StatusPolicy:
        return self._status_policy

    @status_policy.setter
    def status_policy(self, policy: StatusPolicy) -> None:
        with self._update_lock:
            self._status_policy = policy
            self._state.engine.reject_unknown = policy is StatusPolicy.REJECT_UNKNOWN

    def _new_state(self, trust: TrustStore, lists: list[StatusListToken]) -> _State:
        index_of = {key.kid: index for index, key in enumerate(trust)}
        reject_unknown = self._status_policy is StatusPolicy.REJECT_UNKNOWN
        engine = _ENGINES[self.implementation](_key_rows(trust), reject_unknown)
        _load_status_lists(engine, index_of, lists)
        return _State(trust, engine, index_of)

    def update_trust(self, trust: TrustStore) -> None:
        """Use a new trust store; keeps the status lists whose signer is still trusted.

        The new keys and lists are set up aside, then replace the old ones and the
        cache's entries at once: no verification sees a mix, and nothing verified
        under the old store is served from the cache afterwards.
        """
        with self._update_lock:
            kids = {key.kid for key in trust}
            lists = [token for token in self._lists if token.kid in kids]
            state = self._new_state(trust, lists)
            with self._cache_lock:
                self._state = state
                self._lists = lists
                self._cache.clear()

    def update_status_lists(
        self, status_lists: Iterable[StatusListToken], now: datetime | None = None
    ) -> None:
        """Replace the status lists; each covers the credentials of the key that signed it.

        Of several lists of one key the newest wins: the highest list number, then the
        latest ``iat``. A list older than one this verifier has seen for its key (see
        :attr:`seen_status_lists`), or, given ``now``, signed more than a day after it, is
        refused with StatusListError and nothing changes: an old list would accept
        revoked cards again, and one dated in the future would shut out the real ones.
        Cached credentials stay cached: their status is looked up again on every hit.
        """
        lists = list(status_lists)
        with self._update_lock:
            state = self._state
            latest = None if now is None else now.timestamp() + _STATUS_LIST_SKEW
            seen = dict(self._seen)
            for token in sorted(lists, key=lambda t: t.version):
                if token.kid not in state.index_of:
                    raise StatusListError("the status list's signing key is not in the trust store")
                if latest is not None and token.issued_at.timestamp() > latest:
                    raise StatusListError("the status list is signed in the future: check its iat")
                if token.version < seen.get(token.kid, (0, 0)):
                    raise StatusListError(
                        f"the status list of key {token.kid} is older than one already seen"
                    )
                seen[token.kid] = token.version
            _load_status_lists(state.engine, state.index_of, lists)
            self._lists = lists
            self._seen = seen

    @property
    def seen_status_lists(self) -> dict[str, tuple[int, int]]:
        """The newest (list number, iat) seen per key: keep it across restarts.

        Pass it back as ``Verifier(..., seen_status_lists=...)`` (it is JSON-ready as
        lists) so that a restarted verifier still refuses lists older than these.
        """
        return dict(self._seen)

    def status_list_for(self, kid: str) -> StatusListToken | None:
        """The status list in use for the key ``kid``, if any (it may have expired)."""
        mine = [token for token in self._lists if token.kid == kid]
        return max(mine, key=lambda t: t.version) if mine else None

    def verify(self, blob: bytes | bytearray | memoryview, now: Now = None) -> VerifiedCredential:
        """Verify a card's bytes; return the result or raise a CredentialError subclass."""
        if not self._cache_size:
            return self._state.engine.verify(blob, now)
        data = blob if type(blob) is bytes else bytes(_as_bytes(blob))
        cache = self._cache
        with self._cache_lock:
            state = self._state
            entry = cache.get(data)
            if entry is not None:
                cache.move_to_end(data)
        if entry is None:
            return self._verify_and_cache(state, data, now)
        result = state.engine.recheck(entry, now)
        if result is not entry[0]:  # the status changed: later hits return the new result
            with self._cache_lock:
                if self._state is state and data in cache:
                    cache[data] = (result, *entry[1:])
        return result

    def _verify_and_cache(self, state: _State, data: bytes, now: Now) -> VerifiedCredential:
        result = state.engine.verify(data, now)
        credential = result.credential
        entry = (
            result,
            state.index_of[result.kid],
            _day(credential.issued),
            _day(credential.expires),
            credential.status_index,
        )
        with self._cache_lock:
            # A trust update while this ran emptied the cache: the result stands for
            # this call, but must not outlive the store that accepted it.
            if self._state is state:
                self._cache[data] = entry
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return result

    def verify_many(
        self,
        blobs: Iterable[bytes],
        now: Now = None,
        *,
        threads: int | None = None,
    ) -> list[VerifiedCredential | CredentialError]:
        """Verify many credentials on ``threads`` threads (default: one per core).

        Returns, in input order, the result or the CredentialError for each input.
        The C engine releases the GIL while it parses and checks signatures, so
        threads use all cores.
        """
        items = list(blobs)  # the engines take bytes-like items and refuse anything else
        workers = max(1, min(threads or os.cpu_count() or 1, len(items)))
        # One clock for the whole batch: the local date and instant of this moment.
        moment = datetime.now().astimezone() if now is None else now
        verify_chunk = self._state.engine.verify_many
        if workers == 1:
            return verify_chunk(items, moment)
        # Several chunks per thread, so a thread slowed by other work on the machine
        # does not hold up the rest.
        size = -(-len(items) // (workers * _CHUNKS_PER_THREAD))
        chunks = [items[start : start + size] for start in range(0, len(items), size)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(verify_chunk, chunks, [moment] * len(chunks))
            return [result for part in parts for result in part]


def _load_status_lists(
    engine: Engine, index_of: dict[str, int], lists: list[StatusListToken]
) -> None:
    """Give each key of ``engine`` its newest list of ``lists`` (or none), one key at a time."""
    newest: dict[int, StatusListToken] = {}
    for token in sorted(lists, key=lambda t: t.version):  # the newest list of a key wins
        newest[index_of[token.kid]] = token
    for index in range(len(index_of)):
        current = newest.get(index)
        if current is None:
            engine.set_status_list(index, None, 1, None)
        else:
            expires = None if current.expires_at is None else int(current.expires_at.timestamp())
            engine.set_status_list(index, current.data, current.bits, expires)


_CHUNKS_PER_THREAD = 8


def _as_bytes(blob: object) -> bytes:
    if isinstance(blob, bytes):
        return blob
    if isinstance(blob, (bytearray, memoryview)):
        return bytes(blob)
    raise TypeError("the credential must be bytes")


def _clock(now: Now) -> tuple[int, int]:
    """The verification day (days since 1970) and instant (seconds since 1970) of ``now``.

    None: the clock; the day is the machine's local calendar date. A date: that day,
    and the start of it in local time. A datetime: the calendar date it is written
    in (an aware one in its own zone, a naive one as it reads), and the instant it
    denotes (a naive one read as local time, as ``datetime.timestamp`` does).
    """
    if now is None:
        seconds = time.time()
        local = time.localtime(seconds)
        day = date(local.tm_year, local.tm_mon, local.tm_mday).toordinal() - _EPOCH_ORDINAL
        return day, int(seconds)
    if isinstance(now, datetime):
        day = now.toordinal() - _EPOCH_ORDINAL
        return day, (int(now.timestamp()) if now.tzinfo is not None else _local_instant(now))
    if isinstance(now, date):
        return now.toordinal() - _EPOCH_ORDINAL, _local_instant(now)
    raise TypeError("now must be a datetime, a date or None")


def _local_instant(now: date) -> int:
    """Seconds since 1970 of a naive datetime, or of the start of a date, in local time.

    Both engines take it from here. Near the ends of the datetime range, where the
    local zone's offset pushes it out of range, the wall time is read as UTC instead.
    """
    moment = now if isinstance(now, datetime) else datetime.combine(now, wall_time())
    try:
        return int(moment.timestamp())
    except (OverflowError, ValueError, OSError):
        return int(moment.replace(tzinfo=UTC).timestamp())


#: One cache-less verifier per trust store (stores are immutable), built on first use.
def _default_verifier(trust: TrustStore) -> Verifier:
    verifier: Verifier | None = trust.default_verifier
    if verifier is None:
        verifier = trust.default_verifier = Verifier(trust, cache_size=0)
    return verifier


def verify(
    blob: bytes | bytearray | memoryview, trust: TrustStore, now: Now = None
) -> VerifiedCredential:
    """Verify a card's bytes; return the result or raise a CredentialError subclass.

    The card's dates are calendar dates of the issuing city; they are compared with
    today, the verifier's local calendar date (``specs/credential.md``, "Dates").
    ``now`` overrides it: a date is the day to judge at; a datetime is judged by the
    calendar date it is written in. Without status lists the result's status is
    UNKNOWN; use a :class:`Verifier` to check revocation.
    """
    return (trust.default_verifier or _default_verifier(trust))._state.engine.verify(blob, now)


def verify_many(
    blobs: Iterable[bytes],
    trust: TrustStore,
    now: Now = None,
    *,
    threads: int | None = None,
) -> list[VerifiedCredential | CredentialError]:
    """Verify many credentials using all cores; see :meth:`Verifier.verify_many`."""
    return _default_verifier(trust).verify_many(blobs, now, threads=threads)


def decode_unverified(blob: bytes) -> UnverifiedCredential:
    """Decode a credential without trusting it (for inspection and diagnostics only).

    The encoding is checked as strictly as by :func:`verify`; nothing else is.
    """
    data = _as_bytes(blob)
    alg, wire_kid, payload, _, _ = _canonical_envelope(data) or _checked_envelope(data)
    return UnverifiedCredential(Credential.from_claims(_cbor.loads(payload)), alg, wire_kid)
