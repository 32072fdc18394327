"""Separate processes at once on one registry: nothing lost, no index shared, both back ends."""

from __future__ import annotations

import multiprocessing
from datetime import date, timedelta
from multiprocessing.pool import AsyncResult
from pathlib import Path

from cityid_card import IssuerKey
from cityid_card.registry import (
    CardState,
    EventKind,
    Medium,
    Reason,
    Registry,
    key_thumbprint,
    lease,
)
from cityid_card.status import StatusValue

from .conftest import NOW

DOB = date(1975, 5, 5)
_CONTEXT = multiprocessing.get_context("fork")


def _issuer(location: str, thumbprint: str, prefix: str, count: int) -> list[int]:
    with Registry.open(location) as registry:
        return [
            registry.issue(
                thumbprint=thumbprint, name=f"{prefix} {i}", date_of_birth=DOB,
                issued=date(2026, 12, 5), expires=date(2031, 12, 4), medium=Medium.FILE,
                operator="clerk", now=NOW,
            ).status_index
            for i in range(count)
        ]  # fmt: skip


def _revoker(location: str, indexes: list[int]) -> int:
    with Registry.open(location) as registry:
        for index in indexes:
            registry.set_state(
                index=index, kind=EventKind.REVOKED, reason=Reason.LOST, operator="clerk",
                now=NOW + timedelta(hours=1),
            )  # fmt: skip
    return len(indexes)


def _run(jobs: list[tuple[object, tuple[object, ...]]]) -> list[object]:
    with _CONTEXT.Pool(len(jobs)) as pool:
        pending: list[AsyncResult[object]] = [
            pool.apply_async(function, args)  # type: ignore[arg-type]
            for function, args in jobs
        ]
        return [job.get(timeout=300) for job in pending]


def test_concurrent_issuers_and_revokers_lose_nothing(
    registry: Registry, key: IssuerKey, location: str
) -> None:
    thumbprint = key_thumbprint(key)
    first = _issuer(location, thumbprint, "early", 40)
    jobs: list[tuple[object, tuple[object, ...]]] = [
        (_issuer, (location, thumbprint, f"issuer{n}", 20)) for n in range(4)
    ]
    jobs += [(_revoker, (location, first[n::4])) for n in range(4)]
    results = _run(jobs)
    issued = [i for r in results[:4] for i in r]  # type: ignore[attr-defined]
    everything = first + issued
    assert len(everything) == 120 and len(set(everything)) == 120
    counts = registry.counts()
    assert counts["valid"] == 80 and counts["revoked"] == 40 and counts["events"] == 160
    status, _ = registry.status_list(thumbprint=thumbprint, now=NOW + timedelta(hours=2))
    assert all(status.get(i) is StatusValue.INVALID for i in first)
    assert all(status.get(i) is StatusValue.VALID for i in issued)


def test_thirty_issuers_on_a_small_list_never_share_an_index(
    location: str, key: IssuerKey, backend: str
) -> None:
    """Issue 12 saw 5 indexes given twice with 30 issuers on a 64-entry list."""
    thumbprint = key_thumbprint(key)
    with Registry.create(location) as registry:
        registry.add_key(key.kid, thumbprint, 64, 2)
    results = _run([(_issuer, (location, thumbprint, f"p{n}", 2)) for n in range(30)])
    indexes = [i for r in results for i in r]  # type: ignore[attr-defined]
    assert len(indexes) == 60 and len(set(indexes)) == 60
    with Registry.open(location) as registry:
        assert registry.counts()["valid"] == 60


def _station(location: str, path: str, name: str, thumbprint: str) -> int:
    with Registry.open(location) as city:
        lease(city, path, station=name, count=30, thumbprint=thumbprint, now=NOW)
    _issuer(path, thumbprint, name, 30)
    with Registry.open(location) as city, Registry.open(path) as station:
        return city.sync(station).cards_in


def test_stations_lease_issue_and_sync_at_once(
    registry: Registry, key: IssuerKey, location: str, tmp_path: Path
) -> None:
    """Issue 12 saw 4,437 indexes given twice by 50 stations working from copies."""
    jobs: list[tuple[object, tuple[object, ...]]] = [
        (_station, (location, str(tmp_path / f"w{n}.db"), f"ward-{n}", key_thumbprint(key)))
        for n in range(6)
    ]
    assert _run(jobs) == [30] * 6
    counts = registry.counts()
    assert counts["valid"] == 180 and counts["holders"] == 180
    assert counts.get(CardState.LEASED.value, 0) == 0
