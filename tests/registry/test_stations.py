"""Offline ward stations: leases of random free indexes, offline issuing, sync both ways."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityid_card import IssuerKey
from cityid_card.registry import (
    CardState,
    EventKind,
    Medium,
    Reason,
    Registry,
    StationError,
    key_thumbprint,
    lease,
    record_issue,
)

from .conftest import NOW

DOB = date(1990, 1, 1)


def _issue_offline(path: Path, key: IssuerKey, names: list[str]) -> list[int]:
    with Registry.open(path) as station:
        return [
            record_issue(
                station, key, name=name, date_of_birth=DOB, issued=date(2026, 12, 5),
                expires=date(2031, 12, 4), medium=Medium.CARD, operator="ward-clerk", now=NOW,
            ).status_index
            for name in names
        ]  # fmt: skip


def test_pools_never_overlap_and_sync_brings_every_card_back(
    registry: Registry, key: IssuerKey, tmp_path: Path
) -> None:
    thumbprint = key_thumbprint(key)
    files = {name: tmp_path / f"{name}.db" for name in ("ward-1", "ward-2", "ward-3")}
    for name, path in files.items():
        held = lease(registry, path, station=name, count=40, thumbprint=thumbprint, now=NOW)
        assert held == 40
    issued = {
        name: _issue_offline(path, key, [f"{name} holder {i}" for i in range(25)])
        for name, path in files.items()
    }
    everything = [i for indexes in issued.values() for i in indexes]
    assert len(set(everything)) == 75
    # Meanwhile the city office issues too, never from a station's pool.
    city = {
        record_issue(
            registry, key, name=f"office {i}", date_of_birth=DOB, issued=date(2026, 12, 5),
            expires=date(2031, 12, 4), medium=Medium.FILE, operator="clerk", now=NOW,
        ).status_index
        for i in range(50)
    }  # fmt: skip
    assert not city & set(everything)
    for path in files.values():
        with Registry.open(path) as station:
            result = registry.sync(station)
        assert (result.cards_in, result.events_in) == (25, 25)
        with Registry.open(path) as station:
            again = registry.sync(station)  # idempotent
        assert (again.cards_in, again.events_in, again.events_out) == (0, 0, 0)
    for name, indexes in issued.items():
        holder = registry.find(f"{name} holder 3", DOB)
        assert holder is not None
        (card,) = holder.cards
        assert card.station == name and card.state is CardState.VALID
        assert card.status_index == indexes[3]
    counts = registry.counts()
    assert counts["valid"] == 125 and counts["leased"] == 45


def test_sync_forgets_names_at_the_station_once_the_city_has_them(
    registry: Registry, key: IssuerKey, tmp_path: Path
) -> None:
    path = tmp_path / "ward.db"
    lease(registry, path, station="ward-9", count=5, thumbprint=key_thumbprint(key), now=NOW)
    _issue_offline(path, key, ["Offline Holder"])
    with Registry.open(path) as station:
        assert station.find("Offline Holder", DOB) is not None
        registry.sync(station)
        assert station.find("Offline Holder", DOB) is None
        assert station.counts()["holders"] == 0
    assert registry.find("Offline Holder", DOB) is not None


def test_revocations_travel_both_ways(registry: Registry, key: IssuerKey, tmp_path: Path) -> None:
    path = tmp_path / "ward.db"
    lease(registry, path, station="ward-4", count=5, thumbprint=key_thumbprint(key), now=NOW)
    first, second = _issue_offline(path, key, ["Holder A", "Holder B"])
    with Registry.open(path) as station:
        registry.sync(station)
    # The city revokes one; the station, offline, suspends the other.
    registry.set_state(
        index=first, kind=EventKind.REVOKED, reason=Reason.STOLEN, operator="clerk",
        now=NOW + timedelta(hours=1),
    )  # fmt: skip
    with Registry.open(path) as station:
        station.set_state(
            index=second, kind=EventKind.SUSPENDED, reason=Reason.OTHER, operator="ward",
            now=NOW + timedelta(hours=2),
        )  # fmt: skip
        result = registry.sync(station)
        assert (result.events_in, result.events_out) == (1, 1)
        assert station.card(first).state is CardState.REVOKED
    assert registry.card(second).state is CardState.SUSPENDED
    assert registry.card(first).state is CardState.REVOKED


def test_a_sync_cut_off_half_way_is_resumed(
    registry: Registry, key: IssuerKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The city committed, the station's side failed: running sync again completes it."""
    path = tmp_path / "ward.db"
    lease(registry, path, station="ward-5", count=5, thumbprint=key_thumbprint(key), now=NOW)
    _issue_offline(path, key, ["Holder C"])

    def crash(self: Registry, outgoing: object) -> int:
        raise OSError("power cut")

    with Registry.open(path) as station:
        monkeypatch.setattr(Registry, "_receive_events", crash)
        with pytest.raises(OSError, match="power cut"):
            registry.sync(station)
        monkeypatch.undo()
        assert station.find("Holder C", DOB) is not None  # not yet forgotten
        result = registry.sync(station)
        assert (result.cards_in, result.events_in) == (0, 0)
        assert station.find("Holder C", DOB) is None
    assert registry.counts()["valid"] == 1


def test_a_lease_tops_up_the_same_file_and_a_used_up_pool_is_refused(
    registry: Registry, key: IssuerKey, tmp_path: Path
) -> None:
    path, thumbprint = tmp_path / "ward.db", key_thumbprint(key)
    lease(registry, path, station="ward-6", count=2, thumbprint=thumbprint, now=NOW)
    _issue_offline(path, key, ["H1", "H2"])
    with pytest.raises(StationError, match="used up"):
        _issue_offline(path, key, ["H3"])
    assert lease(registry, path, station="ward-6", count=3, thumbprint=thumbprint, now=NOW) == 3
    _issue_offline(path, key, ["H3"])
    with pytest.raises(StationError, match="not this station"):
        lease(registry, path, station="ward-7", count=1, thumbprint=thumbprint, now=NOW)


@pytest.mark.parametrize("free", [False, True])
def test_a_lost_stations_pool_is_reclaimed(
    registry: Registry, key: IssuerKey, tmp_path: Path, free: bool
) -> None:
    path, thumbprint = tmp_path / "ward.db", key_thumbprint(key)
    lease(registry, path, station="ward-8", count=10, thumbprint=thumbprint, now=NOW)
    assert registry.reclaim(station="ward-8", free=free, operator="it-1", now=NOW) == 10
    counts = registry.counts()
    assert counts.get("leased", 0) == 0
    assert counts.get("revoked", 0) == (0 if free else 10)
    with Registry.open(path) as station, pytest.raises(StationError, match="reclaimed"):
        registry.sync(station)
    with pytest.raises(StationError, match="reclaimed"):
        lease(
            registry, tmp_path / "new.db", station="ward-8", count=1, thumbprint=thumbprint, now=NOW
        )


def test_a_station_file_is_not_a_city(registry: Registry, key: IssuerKey, tmp_path: Path) -> None:
    path = tmp_path / "ward.db"
    lease(registry, path, station="ward-2", count=1, thumbprint=key_thumbprint(key), now=NOW)
    with Registry.open(path) as station, pytest.raises(StationError):
        station.lease(station="x", count=1, thumbprint=key_thumbprint(key), now=NOW)
    with Registry.open(path) as station, pytest.raises(StationError):
        station.sync(registry)


def test_an_unsynced_station_card_is_not_revoked_blindly(
    registry: Registry, key: IssuerKey, tmp_path: Path
) -> None:
    """The city cannot tell a station's unused index from one it issued offline: sync first."""
    from cityid_card.registry import NotIssued

    path = tmp_path / "ward.db"
    lease(registry, path, station="ward-1", count=3, thumbprint=key_thumbprint(key), now=NOW)
    (index,) = _issue_offline(path, key, ["Not Yet Synced"])
    change: dict[str, Any] = {"index": index, "kind": EventKind.REVOKED, "reason": Reason.STOLEN}
    with pytest.raises(NotIssued, match="sync the station first"):
        registry.set_state(**change, operator="clerk", now=NOW)
    with Registry.open(path) as station:
        registry.sync(station)
    card, changed = registry.set_state(**change, operator="clerk", now=NOW + timedelta(hours=1))
    assert changed and card.state is CardState.REVOKED


def test_a_second_file_for_a_station_with_a_pool_is_refused(
    registry: Registry, key: IssuerKey, tmp_path: Path
) -> None:
    """Its first file may have issued offline from the pool: two files never hold one index."""
    thumbprint = key_thumbprint(key)
    lease(
        registry,
        tmp_path / "laptop-1.db",
        station="ward-5",
        count=4,
        thumbprint=thumbprint,
        now=NOW,
    )
    with pytest.raises(StationError, match="another file"):
        lease(
            registry,
            tmp_path / "laptop-2.db",
            station="ward-5",
            count=4,
            thumbprint=thumbprint,
            now=NOW,
        )
    assert not (tmp_path / "laptop-2.db").exists()
    assert registry.counts()["leased"] == 4  # nothing leased by the refused call
    # Once the first file is synced and its pool used up, a new file is fine.
    _issue_offline(tmp_path / "laptop-1.db", key, [f"H{i}" for i in range(4)])
    with Registry.open(tmp_path / "laptop-1.db") as station:
        registry.sync(station)
    assert (
        lease(
            registry,
            tmp_path / "laptop-2.db",
            station="ward-5",
            count=4,
            thumbprint=thumbprint,
            now=NOW,
        )
        == 4
    )
