"""Revocation: status registries, signed status lists, and the Verifier's status policy."""

from __future__ import annotations

import base64
import json
import random
import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityid_card import (
    CredentialStatus,
    Expired,
    IssuerKey,
    Revoked,
    StatusListError,
    StatusListToken,
    StatusPolicy,
    StatusRegistry,
    StatusUnknown,
    StatusValue,
    Suspended,
    TrustStore,
    UnknownIssuer,
    Verifier,
    _cbor,
    sign_status_list,
)
from cityid_card.status import CLAIM_STATUS_LIST, status_at

from .conftest import NOW, sample_credential, signed_envelope

ISSUED_AT = datetime(2027, 5, 1, tzinfo=UTC)


def _token(
    key: IssuerKey, registry: StatusRegistry, trust: TrustStore, **times: Any
) -> StatusListToken:
    times.setdefault("issued_at", ISSUED_AT)
    times.setdefault("expires_at", ISSUED_AT + timedelta(days=60))
    return StatusListToken.from_bytes(sign_status_list(key, registry, **times), trust)


@pytest.mark.parametrize(
    ("bits", "statuses", "packed", "compressed"),
    [
        (1, [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1], "b9a3", "eNrbuRgAAhcBXQ"),
        (2, [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3], "c944f9", "eNo76fITAAPfAgc"),
    ],
)
def test_bit_packing_matches_the_token_status_list_examples(
    bits: int, statuses: list[int], packed: str, compressed: str
) -> None:
    """The worked examples of draft-ietf-oauth-status-list (LSB first within each byte)."""
    data = zlib.decompress(base64.urlsafe_b64decode(compressed + "=" * (-len(compressed) % 4)))
    assert data.hex() == packed
    assert [status_at(data, bits, i) for i in range(len(statuses))] == statuses
    assert status_at(data, bits, len(data) * 8 // bits) is None


def test_registry_set_get_and_json_round_trip(issuer_key: IssuerKey) -> None:
    registry = StatusRegistry.for_key(issuer_key, 64, bits=2)
    registry.set(5, StatusValue.INVALID)
    registry.set(6, StatusValue.SUSPENDED)
    registry.set(5, StatusValue.VALID)
    registry.set(63, StatusValue.INVALID)
    again = StatusRegistry.from_json(registry.to_json())
    assert [again.get(i) for i in (5, 6, 63, 0)] == [
        StatusValue.VALID, StatusValue.SUSPENDED, StatusValue.INVALID, StatusValue.VALID,
    ]  # fmt: skip
    with pytest.raises(StatusListError):
        registry.set(64, StatusValue.INVALID)
    one_bit = StatusRegistry.for_key(issuer_key, 64, bits=1)
    with pytest.raises(StatusListError, match="1-bit"):
        one_bit.set(0, StatusValue.SUSPENDED)


def test_allocation_is_random_unique_and_fills_the_list(issuer_key: IssuerKey) -> None:
    registry = StatusRegistry.for_key(issuer_key, 256)
    taken = [registry.allocate() for _ in range(256)]
    assert sorted(taken) == list(range(256))
    assert taken != sorted(taken)  # 1/256! chance of a false failure
    with pytest.raises(StatusListError, match="full"):
        registry.allocate()


@pytest.mark.parametrize(("size", "bits"), [(2**16, 1), (8201, 8)])
def test_the_nearly_full_path_finds_every_free_index_by_rank(
    issuer_key: IssuerKey, size: int, bits: int
) -> None:
    """allocate's path for a nearly full list: rank r gives the r-th free index, across
    block edges and the unused bits after the last entry."""
    registry = StatusRegistry.for_key(issuer_key, size, bits)
    rng = random.Random(7)
    edges = [0, size - 1, 4096 * 8 - 1, 4096 * 8]  # the list's ends, a block's edge
    free = [*rng.sample(range(size), 300), *(index for index in edges if index < size)]
    registry.taken[:] = b"\xff" * len(registry.taken)
    if size % 8:  # the bits after the last entry are never taken
        registry.taken[-1] = (1 << size % 8) - 1
    for index in free:
        registry.taken[index >> 3] &= ~(1 << (index & 7))
    free = sorted(set(free))
    assert registry._free_count() == len(free)
    assert [registry._nth_free(rank) for rank in range(len(free))] == free
    drawn = {registry.allocate() for _ in range(len(free))}
    assert drawn == set(free)
    with pytest.raises(StatusListError, match="full"):
        registry.allocate()


def test_allocation_near_full_is_uniform(issuer_key: IssuerKey) -> None:
    """Four free indexes among 2**14: every draw takes one of them, each as often."""
    counts: Counter[int] = Counter()
    template = StatusRegistry.for_key(issuer_key, 2**14)
    template.taken[:] = b"\xff" * len(template.taken)
    for index in (3, 5000, 9001, 16383):
        template.taken[index >> 3] &= ~(1 << (index & 7))
    for _ in range(2000):
        registry = StatusRegistry.from_json(template.to_json())
        counts[registry.allocate()] += 1
    assert set(counts) == {3, 5000, 9001, 16383}
    assert min(counts.values()) >= 400  # 500 expected; a uniform draw fails with p < 1e-5


def test_allocation_does_not_reveal_issue_order(issuer_key: IssuerKey) -> None:
    # The first 100 cards of a 2**16 list: their indexes spread over the whole list.
    registry = StatusRegistry.for_key(issuer_key, 2**16)
    first = [registry.allocate() for _ in range(100)]
    quarters = Counter(index * 4 // 2**16 for index in first)
    assert min(quarters.values()) >= 10  # a uniform draw fails this with p < 1e-6


@pytest.mark.parametrize(
    "document",
    [{}, {"size": 64}, {"key_thumbprint": "k", "size": 63, "bits": 1, "status": "", "taken": ""}],
)
def test_broken_registry_files(document: dict[str, Any]) -> None:
    with pytest.raises(StatusListError):
        StatusRegistry.from_json(document)
    with pytest.raises(StatusListError):
        StatusRegistry.from_bytes(json.dumps(document).encode())


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe\x00", b"[]", b"null"])
def test_registry_files_that_are_not_json_objects(content: bytes) -> None:
    with pytest.raises(StatusListError, match="not a status registry"):
        StatusRegistry.from_bytes(content)


def test_registry_and_token_files_through_the_edge(
    issuer_key: IssuerKey, trust: TrustStore, tmp_path: Path
) -> None:
    """load and save only move bytes (cityid_card._files); parsing takes the bytes."""
    registry = StatusRegistry.for_key(issuer_key, 64)
    registry.allocate()
    registry.save(tmp_path / "r.json")
    assert (tmp_path / "r.json").read_bytes() == registry.to_bytes()
    assert StatusRegistry.from_bytes(registry.to_bytes()).taken == registry.taken
    with pytest.raises(StatusListError, match="cannot read the status registry"):
        StatusRegistry.load(tmp_path / "absent.json")
    (tmp_path / "s.cwt").write_bytes(sign_status_list(issuer_key, registry, issued_at=ISSUED_AT))
    assert StatusListToken.load(tmp_path / "s.cwt", trust).kid == issuer_key.kid
    with pytest.raises(StatusListError, match="cannot read the status list"):
        StatusListToken.load(tmp_path / "absent.cwt", trust)


def test_registry_belongs_to_one_key(issuer_key: IssuerKey, tmp_path: Path) -> None:
    registry = StatusRegistry.for_key(issuer_key, 64)
    registry.save(tmp_path / "r.json")
    other = IssuerKey.generate(issuer_key.alg, "OTHER")
    with pytest.raises(StatusListError, match="another issuer key"):
        sign_status_list(other, StatusRegistry.load(tmp_path / "r.json"), issued_at=ISSUED_AT)


def test_signed_list_round_trip(issuer_key: IssuerKey, trust: TrustStore) -> None:
    registry = StatusRegistry.for_key(issuer_key, 1024, bits=2)
    registry.set(700, StatusValue.INVALID)
    token = _token(issuer_key, registry, trust, ttl=3600)
    assert token.kid == issuer_key.kid
    assert (token.status_of(700), token.status_of(701), token.status_of(1024)) == (1, 0, None)
    assert token.ttl == 3600
    assert token.current(ISSUED_AT + timedelta(days=60))
    assert not token.current(ISSUED_AT + timedelta(days=60, seconds=1))


def test_lists_from_untrusted_keys_or_tampered_are_refused(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    registry = StatusRegistry.for_key(issuer_key, 64)
    signed = sign_status_list(issuer_key, registry, issued_at=ISSUED_AT)
    with pytest.raises(StatusListError, match="not signed by a trusted key"):
        StatusListToken.from_bytes(signed, TrustStore())
    tampered = bytearray(signed)
    tampered[-3] ^= 1
    with pytest.raises(StatusListError):
        StatusListToken.from_bytes(bytes(tampered), trust)
    credential = issuer_key.issue(sample_credential())
    with pytest.raises(StatusListError, match="exactly alg, kid and typ"):
        StatusListToken.from_bytes(credential, trust)


def _list_payload(status_list: Any) -> bytes:
    return _cbor.dumps({2: "urn:x", 6: 1, CLAIM_STATUS_LIST: status_list})


@pytest.mark.parametrize(
    ("status_list", "complaint"),
    [
        ({"bits": 3, "lst": zlib.compress(b"\x00")}, "bits"),
        ({"bits": 1, "lst": b"not zlib"}, "zlib"),
        ({"bits": 1, "lst": zlib.compress(b"\x00")[:-2]}, "truncated"),
        ({"bits": 1, "lst": zlib.compress(bytes(2**24 + 1), 9)}, "too large"),
        ({"bits": 1, "lst": zlib.compress(b"\x00") + b"x"}, "after"),
        ({"bits": 1}, "exactly"),
    ],
)
def test_hostile_status_lists_are_refused(
    issuer_key: IssuerKey, trust: TrustStore, status_list: Any, complaint: str
) -> None:
    header = {
        1: -7 if issuer_key.alg == "ES256" else -8,
        4: issuer_key.public().wire_kid,
        16: "application/statuslist+cwt",
    }
    token = signed_envelope(issuer_key, _list_payload(status_list), header)
    with pytest.raises(StatusListError, match=complaint):
        StatusListToken.from_bytes(token, trust)


@pytest.mark.parametrize(
    "times",
    [
        {6: 2**64 - 1},
        {6: 253402300800},  # 10000-01-01T00:00:00Z, one second past datetime's range
        {6: 1, 4: 10**15},
        {6: 1, 4: 2**63},
    ],
)
def test_times_beyond_the_datetime_range_are_a_status_list_error(
    issuer_key: IssuerKey, trust: TrustStore, times: dict[int, int]
) -> None:
    """They raised OverflowError or ValueError from datetime, not a typed error."""
    header = {
        1: -7 if issuer_key.alg == "ES256" else -8,
        4: issuer_key.public().wire_kid,
        16: "application/statuslist+cwt",
    }
    payload = _cbor.dumps(
        {2: "urn:x", **times, CLAIM_STATUS_LIST: {"bits": 1, "lst": zlib.compress(b"\x00")}}
    )
    with pytest.raises(StatusListError, match="beyond the year 9999"):
        StatusListToken.from_bytes(signed_envelope(issuer_key, payload, header), trust)
    last = {key: min(value, 253402300799) for key, value in times.items()}
    payload = _cbor.dumps(
        {2: "urn:x", **last, CLAIM_STATUS_LIST: {"bits": 1, "lst": zlib.compress(b"\x00")}}
    )
    token = StatusListToken.from_bytes(signed_envelope(issuer_key, payload, header), trust)
    assert token.issued_at.year == 9999 or token.expires_at is not None


@pytest.fixture
def revocation(issuer_key: IssuerKey, trust: TrustStore) -> tuple[bytes, StatusRegistry]:
    registry = StatusRegistry.for_key(issuer_key, 2**12, bits=2)
    registry.taken[0] = 0xFF  # indexes 0-7 taken: the card's index lies beyond an 8-entry list
    blob = issuer_key.issue(sample_credential(status_index=registry.allocate()))
    return blob, registry


def test_status_is_valid_revoked_suspended_or_unknown(
    issuer_key: IssuerKey, trust: TrustStore, revocation: tuple[bytes, StatusRegistry]
) -> None:
    blob, registry = revocation
    index = Verifier(trust).verify(blob, NOW).credential.status_index
    verifier = Verifier(trust, [_token(issuer_key, registry, trust)])
    assert verifier.verify(blob, NOW).status is CredentialStatus.VALID
    registry.set(index, StatusValue.SUSPENDED)
    verifier.update_status_lists([_token(issuer_key, registry, trust)])
    with pytest.raises(Suspended):
        verifier.verify(blob, NOW)
    registry.set(index, StatusValue.INVALID)
    verifier.update_status_lists([_token(issuer_key, registry, trust)])
    with pytest.raises(Revoked) as caught:
        verifier.verify(blob, NOW)
    assert type(caught.value) is Revoked
    assert Verifier(trust).verify(blob, NOW).status is CredentialStatus.UNKNOWN


def test_unknown_status_follows_the_policy(
    issuer_key: IssuerKey, trust: TrustStore, revocation: tuple[bytes, StatusRegistry]
) -> None:
    blob, registry = revocation
    strict = StatusPolicy.REJECT_UNKNOWN
    with pytest.raises(StatusUnknown):
        Verifier(trust, status_policy=strict).verify(blob, NOW)
    expired = _token(issuer_key, registry, trust, expires_at=datetime(2027, 5, 2, tzinfo=UTC))
    with pytest.raises(StatusUnknown):
        Verifier(trust, [expired], status_policy=strict).verify(blob, NOW)
    assert Verifier(trust, [expired]).verify(blob, NOW).status is CredentialStatus.UNKNOWN
    short = StatusRegistry.for_key(issuer_key, 8, bits=2)  # the index lies beyond it
    assert Verifier(trust, [_token(issuer_key, short, trust)]).verify(blob, NOW).status is (
        CredentialStatus.UNKNOWN
    )


def test_a_list_of_another_key_says_nothing(
    issuer_key: IssuerKey, revocation: tuple[bytes, StatusRegistry]
) -> None:
    blob, _ = revocation
    other = IssuerKey.generate(issuer_key.alg, "OTHER")
    trust = TrustStore([issuer_key.public(), other.public()])
    everything_revoked = StatusRegistry.for_key(other, 2**12, bits=2)
    for index in range(2**12):
        everything_revoked.set(index, StatusValue.INVALID)
    verifier = Verifier(trust, [_token(other, everything_revoked, trust)])
    assert verifier.verify(blob, NOW).status is CredentialStatus.UNKNOWN


def test_the_newest_list_of_a_key_wins(
    issuer_key: IssuerKey, trust: TrustStore, revocation: tuple[bytes, StatusRegistry]
) -> None:
    blob, registry = revocation
    old = _token(issuer_key, registry, trust)
    index = Verifier(trust).verify(blob, NOW).credential.status_index
    registry.set(index, StatusValue.INVALID)
    new = _token(issuer_key, registry, trust, issued_at=ISSUED_AT + timedelta(days=1))
    with pytest.raises(Revoked):
        Verifier(trust, [new, old]).verify(blob, NOW)


def test_a_list_signed_by_an_unknown_key_is_refused_by_the_verifier(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    other = IssuerKey.generate(issuer_key.alg, "OTHER")
    both = TrustStore([issuer_key.public(), other.public()])
    token = _token(other, StatusRegistry.for_key(other, 64), both)
    with pytest.raises(StatusListError):
        Verifier(trust, [token])


def test_cache_skips_the_signature_but_not_dates_or_status(
    issuer_key: IssuerKey, trust: TrustStore, revocation: tuple[bytes, StatusRegistry]
) -> None:
    blob, registry = revocation
    verifier = Verifier(trust, [_token(issuer_key, registry, trust)], cache_size=8)
    first = verifier.verify(blob, NOW)
    assert verifier.verify(blob, NOW) is first  # a hit returns the cached result
    with pytest.raises(Expired):
        verifier.verify(blob, date(2040, 1, 1))
    registry.set(first.credential.status_index, StatusValue.INVALID)
    verifier.update_status_lists([_token(issuer_key, registry, trust)])
    with pytest.raises(Revoked):
        verifier.verify(blob, NOW)
    # A new trust store without the key: the cached result must not survive.
    verifier.update_trust(TrustStore([IssuerKey.generate(issuer_key.alg, "OTHER").public()]))
    with pytest.raises(UnknownIssuer):
        verifier.verify(blob, NOW)


def test_cache_is_bounded(issuer_key: IssuerKey, trust: TrustStore) -> None:
    verifier = Verifier(trust, cache_size=4)
    blobs = [issuer_key.issue(sample_credential(status_index=i)) for i in range(10)]
    for blob in blobs:
        verifier.verify(blob, NOW)
    assert len(verifier._cache) == 4
    assert Verifier(trust, cache_size=0).verify(blobs[0], NOW).credential.status_index == 0


def test_clock_of_a_date_is_the_start_of_that_local_day(
    issuer_key: IssuerKey, trust: TrustStore, revocation: tuple[bytes, StatusRegistry]
) -> None:
    blob, registry = revocation
    expiry = datetime(2027, 6, 1).astimezone()  # the start of that day in local time
    token = _token(issuer_key, registry, trust, expires_at=expiry)
    verifier = Verifier(trust, [token])
    assert verifier.verify(blob, date(2027, 6, 1)).status is CredentialStatus.VALID
    assert verifier.verify(blob, expiry + timedelta(seconds=1)).status is CredentialStatus.UNKNOWN
