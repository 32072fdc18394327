"""Revocation by status list (IETF OAuth Token Status List, CWT form).

A status list is an array of small integers, one per credential, compressed with zlib
and signed by the issuer key whose credentials it covers. A credential's
``status_index`` points into the list of the key that signed it. Values follow the
Token Status List registry: 0 valid, 1 invalid (revoked), 2 suspended.

Issuers keep a :class:`StatusRegistry` (an unsigned working file: the list plus which
indexes are taken) and publish :func:`sign_status_list` tokens; verifiers load tokens
with :meth:`StatusListToken.from_bytes`, which checks the signature against the trust
store, and hand them to a :class:`~cityid_card.Verifier`.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import secrets
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import _algorithms, _cbor, _json, cose
from ._algorithms import SIGNATURE_SIZE, algorithm_from_header
from ._files import read_file, write_atomically
from .errors import CredentialError, JSONInputError, StatusListError
from .keys import WIRE_KID_SIZE, IssuerKey, PublicKey
from .trust import TrustStore

__all__ = [
    "DEFAULT_ENTRIES",
    "CredentialStatus",
    "StatusListToken",
    "StatusRegistry",
    "StatusValue",
    "sign_status_list",
]

#: COSE header "typ" (RFC 9596) and CWT claim keys (RFC 8392, Token Status List).
HEADER_TYP = 16
STATUS_LIST_TYP = "application/statuslist+cwt"
CLAIM_SUB, CLAIM_EXP, CLAIM_IAT = 2, 4, 6
CLAIM_STATUS_LIST, CLAIM_TTL = 65533, 65534
#: The list number (a private-use CWT claim, RFC 8392 section 9.1): it only grows from
#: one list of a key to the next, so a verifier can refuse to go back to an older list.
CLAIM_LIST_NUMBER = -65537
#: Subject prefix; the signing key's kid label follows it.
SUBJECT_PREFIX = "urn:cityid-card:status:"
ALLOWED_BITS = (1, 2, 4, 8)
#: The most entries a list may have: 2**24 one-bit entries decompress to 2 MiB.
MAX_ENTRIES = 2**24
#: Entries in a new status registry, and the range a status index is drawn from at random
#: when there is no registry: large enough that an index does not reveal the issue order.
DEFAULT_ENTRIES = 2**20
#: Decompressed lists larger than this are refused (a zlib bomb guard).
MAX_LIST_BYTES = MAX_ENTRIES
#: Bytes of the taken-bitmap that StatusRegistry.allocate counts at once when nearly full.
_ALLOCATION_BLOCK = 4096
#: The last second a datetime can hold (9999-12-31T23:59:59Z): later iat or exp claims
#: are refused rather than left to fail in datetime.
_LAST_SECOND = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


class StatusValue(enum.IntEnum):
    """Status values of the Token Status List registry."""

    VALID = 0
    INVALID = 1
    SUSPENDED = 2


class CredentialStatus(enum.Enum):
    """What the verifier knows about revocation of a verified credential."""

    #: A current status list of the signing key says the credential is valid.
    VALID = "valid"
    #: No current list of the signing key covers the credential: no list loaded,
    #: the list expired, or the index lies beyond it. Policy decides what this means.
    UNKNOWN = "unknown"


def status_at(data: bytes | bytearray, bits: int, index: int) -> int | None:
    """The value at ``index`` of a decompressed list; None if the index lies beyond it.

    Entries are packed from the least significant bit of each byte upwards.
    """
    position = index * bits
    byte = position >> 3
    if byte >= len(data):
        return None
    return (data[byte] >> (position & 7)) & ((1 << bits) - 1)


@dataclass(frozen=True)
class StatusListToken:
    """A signed status list, verified against a trust store.

    ``kid`` names the issuer key that signed it; the list covers the credentials
    that key signed.
    """

    kid: str
    issued_at: datetime
    expires_at: datetime | None
    ttl: int | None
    subject: str
    bits: int
    data: bytes
    #: The list number (None for a list signed without one): higher is newer.
    number: int | None = None

    @property
    def version(self) -> tuple[int, int]:
        """How new the list is: (list number, iat in seconds); a list without a number is 0."""
        return (self.number or 0, int(self.issued_at.timestamp()))

    @property
    def size(self) -> int:
        """The number of entries."""
        return len(self.data) * 8 // self.bits

    def counts(self) -> dict[str, int]:
        """How many entries are valid, revoked, suspended or another value."""
        found = [0] * (1 << self.bits)
        mask, per_byte = (1 << self.bits) - 1, 8 // self.bits
        for byte, times in Counter(self.data).items():  # by byte value: fast for 2**24 entries
            for slot in range(per_byte):
                found[(byte >> (slot * self.bits)) & mask] += times
        result = {"valid": found[0], "revoked": found[1] if len(found) > 1 else 0}
        result["suspended"] = found[2] if len(found) > 2 else 0
        result["other"] = sum(found[3:])
        return result

    def status_of(self, index: int) -> int | None:
        return status_at(self.data, self.bits, index)

    def current(self, now: datetime) -> bool:
        """True if the list has not expired at ``now``."""
        return self.expires_at is None or now <= self.expires_at

    @classmethod
    def from_bytes(cls, token: bytes, trust: TrustStore) -> StatusListToken:
        """Parse and verify a status list token; raise StatusListError if unusable."""
        try:
            message = cose.Sign1.decode(token, tagged=False)
            header = message.protected
            if not cose.has_labels(header, cose.HEADER_ALG, cose.HEADER_KID, HEADER_TYP):
                raise StatusListError("the protected header must hold exactly alg, kid and typ")
            if header[HEADER_TYP] != STATUS_LIST_TYP or message.unprotected:
                raise StatusListError("not a status list token")
            wire_kid = header[cose.HEADER_KID]
            if not isinstance(wire_kid, bytes) or len(wire_kid) != WIRE_KID_SIZE:
                raise StatusListError("the kid must be a 2-byte string")
            if len(message.signature) != SIGNATURE_SIZE:
                raise StatusListError("the signature must be 64 bytes")
            signer = _signer(
                trust.candidates(algorithm_from_header(header[cose.HEADER_ALG]), wire_kid), message
            )
            claims = _cbor.loads(message.payload)
        except CredentialError as error:
            raise StatusListError(f"the status list token is not acceptable: {error}") from None
        return cls._from_claims(claims, signer)

    @classmethod
    def load(cls, path: str | os.PathLike[str], trust: TrustStore) -> StatusListToken:
        """Read and verify a token file (the file I/O is ``_files``'s)."""
        return cls.from_bytes(read_file(path, StatusListError, "status list"), trust)

    @classmethod
    def read_unverified(cls, token: bytes) -> StatusListToken:
        """Decode a token WITHOUT checking its signature, to show what it says.

        ``kid`` is the label its subject names. Never use such a list to verify cards.
        """
        try:
            message = cose.Sign1.decode(token, tagged=False)
            header = message.protected
            if header.get(HEADER_TYP) != STATUS_LIST_TYP or message.unprotected:
                raise StatusListError("not a status list token")
            claims = _cbor.loads(message.payload)
        except CredentialError as error:
            raise StatusListError(f"the status list token is not acceptable: {error}") from None
        subject = claims.get(CLAIM_SUB) if isinstance(claims, dict) else None
        if not isinstance(subject, str) or not subject.startswith(SUBJECT_PREFIX):
            raise StatusListError("the status list token names no key in its subject")
        return cls._from_claims(claims, subject.removeprefix(SUBJECT_PREFIX))

    @classmethod
    def _from_claims(cls, claims: Any, signer: PublicKey | str) -> StatusListToken:
        if not isinstance(claims, dict):
            raise StatusListError("the status list token payload is not a claims map")
        allowed = {CLAIM_SUB, CLAIM_EXP, CLAIM_IAT, CLAIM_STATUS_LIST, CLAIM_TTL, CLAIM_LIST_NUMBER}
        unknown = set(claims) - allowed
        if unknown or not {CLAIM_SUB, CLAIM_IAT, CLAIM_STATUS_LIST} <= set(claims):
            raise StatusListError("the status list token has missing or unknown claims")
        subject, iat, exp, ttl, number = (
            claims.get(k) for k in (CLAIM_SUB, CLAIM_IAT, CLAIM_EXP, CLAIM_TTL, CLAIM_LIST_NUMBER)
        )
        if not isinstance(subject, str) or not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
            for v in (iat, exp, ttl, number)
        ):
            raise StatusListError("the status list token claims have the wrong types")
        assert isinstance(iat, int)
        if iat > _LAST_SECOND or (exp is not None and exp > _LAST_SECOND):
            raise StatusListError("the status list token's times lie beyond the year 9999")
        bits, data = _decode_list(claims[CLAIM_STATUS_LIST])
        return cls(
            number=number,
            kid=signer if isinstance(signer, str) else signer.kid,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=None if exp is None else datetime.fromtimestamp(exp, UTC),
            ttl=ttl,
            subject=subject,
            bits=bits,
            data=data,
        )


def _signer(candidates: tuple[PublicKey, ...], message: cose.Sign1) -> PublicKey:
    if not candidates:
        raise StatusListError("the status list is not signed by a trusted key")
    to_be_signed = message.to_be_signed()
    for key in candidates:
        try:
            key.verify_signature(to_be_signed, message.signature)
        except CredentialError:
            continue
        return key
    raise StatusListError("the status list signature does not verify")


def _decode_list(value: Any) -> tuple[int, bytes]:
    if not isinstance(value, dict) or set(value) != {"bits", "lst"}:
        raise StatusListError("status_list must be a map of exactly bits and lst")
    bits, compressed = value["bits"], value["lst"]
    if bits not in ALLOWED_BITS or isinstance(bits, bool) or not isinstance(compressed, bytes):
        raise StatusListError("status_list bits must be 1, 2, 4 or 8 and lst a byte string")
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_LIST_BYTES + 1)
    except zlib.error:
        raise StatusListError("status_list lst is not zlib data") from None
    if len(data) > MAX_LIST_BYTES or inflater.unconsumed_tail or not inflater.eof:
        raise StatusListError("status_list lst is truncated or too large")
    if inflater.unused_data:
        raise StatusListError("status_list lst has bytes after the zlib stream")
    return bits, data


def _thumbprint(key: IssuerKey) -> str:
    return _algorithms._b64url(_algorithms.thumbprint(key.public().key))


def sign_status_list(
    key: IssuerKey,
    registry: StatusRegistry,
    *,
    issued_at: datetime,
    expires_at: datetime | None = None,
    ttl: int | None = None,
    number: int | None = None,
) -> bytes:
    """A status list token for the credentials ``key`` signed, as an untagged COSE_Sign1.

    ``number`` is the list number: give each list of a key a higher one than the last
    (the registry database does), so that verifiers can refuse to go back.
    """
    registry.check_key(key)
    if number is not None and (
        isinstance(number, bool) or not isinstance(number, int) or number < 1
    ):
        raise StatusListError("a list number is a whole number, 1 or more")
    if issued_at.tzinfo is None:
        raise StatusListError("issued_at must be a timezone-aware datetime")
    claims: dict[int, Any] = {
        CLAIM_SUB: f"{SUBJECT_PREFIX}{key.kid}",
        CLAIM_IAT: int(issued_at.timestamp()),
        CLAIM_STATUS_LIST: {"bits": registry.bits, "lst": zlib.compress(bytes(registry.data), 9)},
    }
    if expires_at is not None:
        claims[CLAIM_EXP] = int(expires_at.timestamp())
    if ttl is not None:
        claims[CLAIM_TTL] = ttl
    if number is not None:
        claims[CLAIM_LIST_NUMBER] = number
    return key.sign(_cbor.dumps(claims), extra_protected={HEADER_TYP: STATUS_LIST_TYP})


class StatusRegistry:
    """The issuer's working copy of a status list: statuses and which indexes are taken.

    It is saved as JSON (the arrays zlib-compressed, base64-encoded). It holds no
    personal data: an index says nothing about the card it belongs to.
    """

    def __init__(self, key_thumbprint: str, size: int, bits: int = 1) -> None:
        if bits not in ALLOWED_BITS or isinstance(bits, bool):
            raise StatusListError("bits must be 1, 2, 4 or 8")
        if not isinstance(size, int) or not 8 <= size <= MAX_ENTRIES or size * bits % 8:
            raise StatusListError(f"size must be 8 to {MAX_ENTRIES} and fill whole bytes")
        if not isinstance(key_thumbprint, str):
            raise StatusListError("the registry must name its issuer key")
        self.key_thumbprint = key_thumbprint
        self.size = size
        self.bits = bits
        self.data = bytearray(size * bits // 8)
        self.taken = bytearray((size + 7) // 8)

    @classmethod
    def for_key(cls, key: IssuerKey, size: int, bits: int = 1) -> StatusRegistry:
        """A new registry, all valid and nothing taken, for the credentials ``key`` signs."""
        return cls(_thumbprint(key), size, bits)

    def check_key(self, key: IssuerKey) -> None:
        """Raise StatusListError unless this registry belongs to ``key``."""
        if _thumbprint(key) != self.key_thumbprint:
            raise StatusListError("this status registry belongs to another issuer key")

    def get(self, index: int) -> StatusValue:
        self._check(index)
        value = status_at(self.data, self.bits, index)
        assert value is not None
        return StatusValue(value)

    def set(self, index: int, value: StatusValue) -> None:
        self._check(index)
        if value >= 1 << self.bits:
            raise StatusListError(f"a {self.bits}-bit list cannot hold status {value.name}")
        position = index * self.bits
        mask = ((1 << self.bits) - 1) << (position & 7)
        byte = position >> 3
        self.data[byte] = (self.data[byte] & ~mask) | (int(value) << (position & 7))

    def allocate(self) -> int:
        """Take a free index chosen uniformly at random, so it says nothing of issue order."""
        # Rejection sampling is uniform over the free indexes and almost always done in
        # a few draws; a nearly full list draws the rank of the free index instead.
        for _ in range(64):
            index = secrets.randbelow(self.size)
            if not self.is_taken(index):
                break
        else:
            index = self._nth_free(secrets.randbelow(self._free_count()))
        self.taken[index >> 3] |= 1 << (index & 7)
        return index

    def _free_count(self) -> int:
        """How many indexes are free; StatusListError if none."""
        taken = self.taken
        free = self.size - int.from_bytes(taken, "little").bit_count()
        if free <= 0:
            raise StatusListError("the status list is full: build a larger one")
        return free

    def _nth_free(self, rank: int) -> int:
        """The free index with ``rank`` free indexes before it (0 <= rank < free count).

        It counts whole blocks at C speed (int.bit_count) and only walks the bytes of
        the one block the index lies in: a few milliseconds for 2**24 entries, where a
        scan of every index took over a second.
        """
        taken = self.taken
        for start in range(0, len(taken), _ALLOCATION_BLOCK):
            block = taken[start : start + _ALLOCATION_BLOCK]
            free = len(block) * 8 - int.from_bytes(block, "little").bit_count()
            if rank < free:
                for offset, byte in enumerate(block):
                    free = 8 - byte.bit_count()
                    if rank < free:
                        for bit in range(8):
                            if not byte & (1 << bit):
                                if rank == 0:
                                    return (start + offset) * 8 + bit
                                rank -= 1
                    rank -= free
            rank -= free
        raise AssertionError("the rank lies beyond the free indexes")  # pragma: no cover

    def is_taken(self, index: int) -> bool:
        return bool(self.taken[index >> 3] & (1 << (index & 7)))

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise StatusListError("the index lies outside the status list")

    def to_json(self) -> dict[str, Any]:
        return {
            "key_thumbprint": self.key_thumbprint,
            "size": self.size,
            "bits": self.bits,
            "status": base64.b64encode(zlib.compress(bytes(self.data), 9)).decode(),
            "taken": base64.b64encode(zlib.compress(bytes(self.taken), 9)).decode(),
        }

    @classmethod
    def from_json(cls, document: Any) -> StatusRegistry:
        try:
            registry = cls(document["key_thumbprint"], document["size"], document["bits"])
            data = zlib.decompress(base64.b64decode(document["status"], validate=True))
            taken = zlib.decompress(base64.b64decode(document["taken"], validate=True))
        except (KeyError, TypeError, ValueError, zlib.error):
            raise StatusListError("not a status registry file") from None
        if len(data) != len(registry.data) or len(taken) != len(registry.taken):
            raise StatusListError("the status registry arrays do not match its size")
        registry.data[:] = data
        registry.taken[:] = taken
        return registry

    @classmethod
    def from_bytes(cls, data: bytes) -> StatusRegistry:
        """Parse a registry file's content (JSON, as :meth:`to_bytes` writes it)."""
        try:
            document = _json.loads(data)
        except JSONInputError as error:
            raise StatusListError(f"not a status registry file: {error}") from None
        return cls.from_json(document)

    def to_bytes(self) -> bytes:
        """The registry as a file's content."""
        return (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StatusRegistry:
        """Read a registry file (the file I/O is ``_files``'s)."""
        return cls.from_bytes(read_file(path, StatusListError, "status registry"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the registry, replacing the previous file atomically."""
        write_atomically(Path(path), self.to_bytes())
