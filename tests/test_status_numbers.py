"""Status lists that cannot go backwards: list numbers, sane iat, what a verifier has seen."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityid_card import (
    IssuerKey,
    Revoked,
    StatusListToken,
    StatusRegistry,
    StatusValue,
    TrustStore,
    Verifier,
    sign_status_list,
)
from cityid_card.errors import StatusListError
from cityid_card.status import CredentialStatus

from .conftest import NOW, sample_credential

DAY = timedelta(days=1)


@pytest.fixture
def key() -> IssuerKey:
    return IssuerKey.generate("EdDSA", kid="CHI-2027-1")


@pytest.fixture
def trust(key: IssuerKey) -> TrustStore:
    return TrustStore([key.public()])


def _list(
    key: IssuerKey, registry: StatusRegistry, trust: TrustStore, **claims: Any
) -> StatusListToken:
    claims.setdefault("issued_at", NOW - DAY)
    claims.setdefault("expires_at", NOW + 7 * DAY)
    return StatusListToken.from_bytes(sign_status_list(key, registry, **claims), trust)


@pytest.fixture
def setting(key: IssuerKey, trust: TrustStore) -> tuple[bytes, StatusRegistry, int]:
    registry = StatusRegistry.for_key(key, 4096, 2)
    index = registry.allocate()
    return key.issue(sample_credential(status_index=index)), registry, index


def test_the_number_is_signed_and_read_back(
    key: IssuerKey, trust: TrustStore, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    _, registry, _ = setting
    token = _list(key, registry, trust, number=41)
    assert token.number == 41 and token.version == (41, int((NOW - DAY).timestamp()))
    assert _list(key, registry, trust).number is None  # lists of before keep working
    for wrong in (0, -1, True):
        with pytest.raises(StatusListError, match="list number"):
            sign_status_list(key, registry, issued_at=NOW, number=wrong)


def test_an_older_list_after_a_newer_one_is_refused(
    key: IssuerKey, trust: TrustStore, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    """Issue 12: Revoked, then update_status_lists([older]) gave VALID again."""
    blob, registry, index = setting
    yesterday = _list(key, registry, trust, number=1)
    registry.set(index, StatusValue.INVALID)
    today = _list(key, registry, trust, number=2)
    verifier = Verifier(trust, [today])
    with pytest.raises(Revoked):
        verifier.verify(blob, NOW)
    with pytest.raises(StatusListError, match="older than one already seen"):
        verifier.update_status_lists([yesterday])
    with pytest.raises(Revoked):  # nothing changed
        verifier.verify(blob, NOW)
    # Given both, the higher number wins even if its iat is earlier.
    earlier_iat = _list(key, registry, trust, number=3, issued_at=NOW - 3 * DAY)
    both = Verifier(
        trust, [earlier_iat, _list(key, StatusRegistry.for_key(key, 4096, 2), trust, number=2)]
    )
    with pytest.raises(Revoked):
        both.verify(blob, NOW)


def test_what_a_verifier_has_seen_survives_a_restart(
    key: IssuerKey, trust: TrustStore, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    blob, registry, index = setting
    yesterday = _list(key, registry, trust, number=7)
    registry.set(index, StatusValue.INVALID)
    today = _list(key, registry, trust, number=8)
    first = Verifier(trust, [today])
    saved = json.dumps(first.seen_status_lists)  # what a gate writes to disk
    restarted = Verifier(trust, seen_status_lists=json.loads(saved))
    with pytest.raises(StatusListError, match="older"):
        restarted.update_status_lists([yesterday])
    restarted.update_status_lists([today])
    with pytest.raises(Revoked):
        restarted.verify(blob, NOW)


def test_a_list_dated_in_the_future_is_refused_given_the_clock(
    key: IssuerKey, trust: TrustStore, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    """Issue 12: a list with iat in 2099 won over every real list."""
    blob, registry, index = setting
    future = _list(
        key, registry, trust, issued_at=datetime(2099, 1, 1, tzinfo=UTC), expires_at=None
    )
    verifier = Verifier(trust)
    with pytest.raises(StatusListError, match="future"):
        verifier.update_status_lists([future], now=NOW)
    registry.set(index, StatusValue.INVALID)
    verifier.update_status_lists([_list(key, registry, trust, number=1)], now=NOW)
    with pytest.raises(Revoked):
        verifier.verify(blob, NOW)
    # A numbered list beats an unnumbered one, whatever its iat.
    in_use = Verifier(trust, [future, _list(key, registry, trust, number=1)])
    chosen = in_use.status_list_for(key.kid)
    assert chosen is not None and chosen.number == 1


def test_show_reads_a_list_without_a_trust_store(
    key: IssuerKey, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    _, registry, index = setting
    registry.set(index, StatusValue.SUSPENDED)
    token = StatusListToken.read_unverified(
        sign_status_list(key, registry, issued_at=NOW, number=5)
    )
    assert (token.kid, token.number, token.size) == ("CHI-2027-1", 5, 4096)
    assert token.counts() == {"valid": 4095, "revoked": 0, "suspended": 1, "other": 0}
    with pytest.raises(StatusListError):
        StatusListToken.read_unverified(key.issue(sample_credential()))


def test_an_expired_list_leaves_the_status_unknown(
    key: IssuerKey, trust: TrustStore, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    blob, registry, _ = setting
    old = _list(key, registry, trust, number=1, expires_at=NOW - DAY, issued_at=NOW - 9 * DAY)
    verifier = Verifier(trust, [old])
    assert verifier.verify(blob, NOW).status is CredentialStatus.UNKNOWN
    assert verifier.status_list_for(key.kid) is old


def test_a_desk_refresher_orders_lists_by_number_first(
    key: IssuerKey, trust: TrustStore, setting: tuple[bytes, StatusRegistry, int]
) -> None:
    from cityid_card.desk.refresh import list_order

    _, registry, _ = setting
    numbered = _list(key, registry, trust, number=2, issued_at=NOW - 3 * DAY)
    later_iat = _list(key, registry, trust, number=1, issued_at=NOW - DAY)
    unnumbered = _list(key, registry, trust, issued_at=NOW)
    assert list_order(numbered) > list_order(later_iat) > list_order(unnumbered)
