"""The registry: closed schema, issuing, revoking, replacing, finding, export, purge, import."""

from __future__ import annotations

import os
import stat
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from cityid_card import IssuerKey
from cityid_card.registry import (
    Card,
    CardState,
    EventKind,
    Medium,
    NotIssued,
    Reason,
    Registry,
    RegistryError,
    key_thumbprint,
    record_issue,
)
from cityid_card.registry._schema import metadata
from cityid_card.station import Record
from cityid_card.status import StatusRegistry, StatusValue

from .conftest import NOW, SIZE

NAME, DOB = "Ana María Quispe", date(1988, 4, 2)


def _issue(
    registry: Registry, key: IssuerKey, name: str = NAME, dob: date = DOB, **changes: Any
) -> Card:
    fields: dict[str, Any] = {
        "name": name,
        "date_of_birth": dob,
        "issued": date(2026, 12, 5),
        "expires": date(2031, 12, 4),
        "medium": Medium.FILE,
        "operator": "clerk-7",
        "now": NOW,
    }
    fields.update(changes)
    return record_issue(registry, key, **fields)


def test_the_schema_is_closed() -> None:
    """Holders have a name and a date of birth; nothing anywhere holds more about a person."""
    columns = {table.name: {c.name for c in table.columns} for table in metadata.sorted_tables}
    assert columns["holders"] == {"id", "name", "date_of_birth"}
    assert columns["cards"] == {
        "id", "key_id", "status_index", "holder_id", "issued", "expires", "medium", "state",
        "station_id",
    }  # fmt: skip
    assert columns["events"] == {
        "id", "uid", "card_id", "kind", "reason", "operator", "at", "replacement_id"
    }  # fmt: skip
    every = {column for names in columns.values() for column in names}
    forbidden = ("address", "street", "phone", "mobile", "email", "document", "passport",
                 "immigration", "nationality", "citizenship", "note", "comment", "text",
                 "photo", "gender", "ssn")  # fmt: skip
    assert not [c for c in every if any(word in c for word in forbidden)]


def test_the_database_holds_exactly_the_schema(registry: Registry) -> None:
    """What create() made on this back end is the closed schema, not more."""
    with registry._engine.connect() as conn:
        found = inspect(conn)
        tables = set(found.get_table_names())
        assert tables == {t.name for t in metadata.sorted_tables}
        assert {c["name"] for c in found.get_columns("holders")} == {"id", "name", "date_of_birth"}


def test_reasons_and_kinds_are_fixed_lists_in_the_database(
    registry: Registry, key: IssuerKey
) -> None:
    """A value outside the list is refused by the database itself (CHECK), on both back ends."""
    from sqlalchemy import exc, text

    _issue(registry, key)
    for column, value in (("kind", "note"), ("reason", "moved away")):
        with (
            pytest.raises(exc.IntegrityError, match=r"(?i)check"),
            registry._engine.begin() as conn,
        ):
            conn.execute(
                text(
                    "INSERT INTO events (uid, card_id, kind, reason, operator, at) "
                    "VALUES ('u1', (SELECT min(id) FROM cards), :kind, :reason, 'c', :at)"
                ),
                {"kind": "issued", "reason": None, column: value, "at": NOW},
            )


def test_a_sqlite_registry_is_owner_only(tmp_path: Path) -> None:
    with Registry.create(tmp_path / "city.db"):
        pass
    assert stat.S_IMODE(os.stat(tmp_path / "city.db").st_mode) == 0o600


def test_create_refuses_an_existing_registry(registry: Registry, location: str) -> None:
    with pytest.raises(RegistryError, match=r"already|overwrite"):
        Registry.create(location)


def test_open_refuses_what_is_not_a_registry(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no registry"):
        Registry.open(tmp_path / "none.db")


def test_issue_records_a_random_index_the_holder_and_an_event(
    registry: Registry, key: IssuerKey
) -> None:
    cards = [_issue(registry, key) for _ in range(50)]
    indexes = [card.status_index for card in cards]
    assert len(set(indexes)) == 50
    assert all(0 <= i < SIZE for i in indexes)
    assert sorted(indexes) != indexes  # drawn at random, not in order
    holder = registry.find(NAME, DOB)
    assert holder is not None
    assert {c.status_index for c in holder.cards} == set(indexes)
    assert all(c.state is CardState.VALID and c.medium is Medium.FILE for c in holder.cards)
    assert registry.counts()["holders"] == 1
    assert registry.counts()["events"] == 50
    assert NAME not in repr(holder)


def test_find_needs_name_and_date_of_birth(registry: Registry, key: IssuerKey) -> None:
    _issue(registry, key)
    assert registry.find(NAME, date(1988, 4, 3)) is None
    assert registry.find("Ana Maria Quispe", DOB) is None


def test_a_full_list_is_refused_and_every_index_was_used(location: str, key: IssuerKey) -> None:
    with Registry.create(location) as registry:
        registry.add_key(key.kid, key_thumbprint(key), 16, 1)
        taken = {_issue(registry, key, name=f"P{i}").status_index for i in range(16)}
        assert taken == set(range(16))
        with pytest.raises(RegistryError, match="full"):
            _issue(registry, key)


def test_revoke_is_recorded_with_reason_and_operator(registry: Registry, key: IssuerKey) -> None:
    card = _issue(registry, key)
    revoked, changed = registry.set_state(
        index=card.status_index, kind=EventKind.REVOKED, reason=Reason.LOST,
        operator="clerk-9", now=NOW + timedelta(hours=1),
    )  # fmt: skip
    assert changed and revoked.state is CardState.REVOKED
    again, changed = registry.set_state(
        index=card.status_index, kind=EventKind.REVOKED, reason=Reason.LOST,
        operator="clerk-9", now=NOW + timedelta(hours=2),
    )  # fmt: skip
    assert not changed and again.state is CardState.REVOKED
    export = registry.export(NAME, DOB)
    assert export is not None
    trail = export["cards"][0]["events"]
    assert [(e["event"], e["reason"], e["operator"]) for e in trail] == [
        ("issued", None, "clerk-7"),
        ("revoked", "lost", "clerk-9"),
    ]


def test_revoking_an_index_never_issued_is_refused(registry: Registry, key: IssuerKey) -> None:
    card = _issue(registry, key)
    free = next(i for i in range(SIZE) if i != card.status_index)
    with pytest.raises(NotIssued):
        registry.set_state(
            index=free, kind=EventKind.REVOKED, reason=Reason.ERROR, operator="c", now=NOW
        )
    # ...so the index is not born revoked: the list still has it valid and free.
    status, _ = registry.status_list(thumbprint=key_thumbprint(key), now=NOW)
    assert status.get(free) is StatusValue.VALID and not status.is_taken(free)


def test_suspend_and_reinstate_but_revoked_is_final(registry: Registry, key: IssuerKey) -> None:
    index = _issue(registry, key).status_index
    change: dict[str, Any] = {"index": index, "operator": "clerk-1", "now": NOW}
    card, _ = registry.set_state(kind=EventKind.SUSPENDED, reason=Reason.OTHER, **change)
    assert card.state is CardState.SUSPENDED
    card, _ = registry.set_state(kind=EventKind.REINSTATED, reason=None, **change)
    assert card.state is CardState.VALID
    registry.set_state(kind=EventKind.REVOKED, reason=Reason.STOLEN, **change)
    with pytest.raises(RegistryError, match="replace"):
        registry.set_state(kind=EventKind.REINSTATED, reason=None, **change)


def test_revocation_needs_a_reason_and_an_operator_id(registry: Registry, key: IssuerKey) -> None:
    index = _issue(registry, key).status_index
    with pytest.raises(RegistryError, match="reason"):
        registry.set_state(index=index, kind=EventKind.REVOKED, reason=None, operator="c", now=NOW)
    with pytest.raises(RegistryError, match="operator"):
        registry.set_state(
            index=index, kind=EventKind.REVOKED, reason=Reason.LOST, operator="Ana Q.", now=NOW
        )


def test_revoke_a_holder_revokes_all_their_cards(registry: Registry, key: IssuerKey) -> None:
    mine = {_issue(registry, key).status_index for _ in range(3)}
    other = _issue(registry, key, name="Someone Else").status_index
    done = registry.revoke_holder(
        name=NAME, date_of_birth=DOB, reason=Reason.DECEASED, operator="clerk-2", now=NOW
    )
    assert {c.status_index for c in done} == mine
    assert registry.card(other).state is CardState.VALID


def test_replace_revokes_the_old_and_issues_a_new_card_in_one_step(
    registry: Registry, key: IssuerKey
) -> None:
    old = _issue(registry, key)
    holder, revoked, new = registry.replace(
        index=old.status_index, reason=Reason.LOST, thumbprint=key_thumbprint(key),
        issued=date(2027, 1, 2), expires=date(2032, 1, 1), medium=Medium.CARD,
        operator="clerk-3", now=NOW,
    )  # fmt: skip
    assert holder.name == NAME and holder.date_of_birth == DOB
    assert revoked.state is CardState.REVOKED
    assert new.state is CardState.VALID and new.status_index != old.status_index
    export = registry.export(NAME, DOB)
    assert export is not None
    assert [[e["event"] for e in c["events"]] for c in export["cards"]] == [
        ["issued", "replaced"],
        ["issued"],
    ]
    with pytest.raises(RegistryError, match="already revoked"):
        registry.replace(
            index=old.status_index, reason=Reason.LOST, thumbprint=key_thumbprint(key),
            issued=date(2027, 1, 2), expires=date(2032, 1, 1), medium=Medium.CARD,
            operator="clerk-3", now=NOW,
        )  # fmt: skip


def test_export_holds_exactly_what_is_kept(registry: Registry, key: IssuerKey) -> None:
    _issue(registry, key)
    _issue(registry, key, name="Someone Else")
    export = registry.export(NAME, DOB)
    assert export is not None
    assert set(export) == {"holder", "cards"}
    assert export["holder"] == {"name": NAME, "date_of_birth": "1988-04-02"}
    assert len(export["cards"]) == 1
    assert set(export["cards"][0]) == {
        "kid", "status_index", "state", "issued", "expires", "medium", "station", "events"
    }  # fmt: skip
    assert registry.export("Nobody", DOB) is None


def test_purge_deletes_holders_whose_cards_all_expired_and_keeps_the_indexes(
    registry: Registry, key: IssuerKey
) -> None:
    old = _issue(registry, key, issued=date(2015, 1, 1), expires=date(2020, 1, 1))
    registry.set_state(
        index=old.status_index, kind=EventKind.REVOKED, reason=Reason.LOST, operator="c", now=NOW
    )
    _issue(registry, key, name="Current Holder", issued=date(2015, 1, 1), expires=date(2020, 1, 1))
    _issue(registry, key, name="Current Holder")  # a newer card keeps this one
    assert registry.purge(date(2024, 1, 1)) == 1
    assert registry.find(NAME, DOB) is None
    assert registry.find("Current Holder", DOB) is not None
    # The purged holder's card stays: its index is still taken, and still revoked.
    assert registry.card(old.status_index).state is CardState.REVOKED
    status, _ = registry.status_list(thumbprint=key_thumbprint(key), now=NOW)
    assert status.get(old.status_index) is StatusValue.INVALID
    assert registry.purge(date(2024, 1, 1)) == 0


def test_status_list_numbers_only_grow_and_the_list_matches(
    registry: Registry, key: IssuerKey
) -> None:
    cards = [_issue(registry, key, name=f"H{i}") for i in range(6)]
    for card, kind in zip(cards[:2], (EventKind.REVOKED, EventKind.SUSPENDED), strict=True):
        registry.set_state(
            index=card.status_index, kind=kind, reason=Reason.LOST, operator="c", now=NOW
        )
    status, first = registry.status_list(thumbprint=key_thumbprint(key), now=NOW)
    _, second = registry.status_list(thumbprint=key_thumbprint(key), now=NOW)
    assert (first, second) == (1, 2)
    assert status.get(cards[0].status_index) is StatusValue.INVALID
    assert status.get(cards[1].status_index) is StatusValue.SUSPENDED
    assert all(status.get(c.status_index) is StatusValue.VALID for c in cards[2:])
    with pytest.raises(RegistryError, match="clock"):
        registry.status_list(thumbprint=key_thumbprint(key), now=NOW - timedelta(seconds=1))
    assert registry.key().list_number == 2


def test_import_of_the_old_files(registry: Registry, key: IssuerKey) -> None:
    old = StatusRegistry.for_key(key, SIZE, 2)
    indexes = [old.allocate() for _ in range(5)]
    old.set(indexes[1], StatusValue.INVALID)
    old.set(indexes[2], StatusValue.SUSPENDED)
    records = [
        Record(f"Holder {i}", DOB, date(2026, 1, 1), date(2030, 1, 1), index, key.kid)
        for i, index in enumerate(indexes[:3])
    ]
    result = registry.import_files(old, records, operator="import", now=NOW)
    assert result == {"cards": 5, "with_holder": 3, "already_present": 0}
    assert registry.card(indexes[1]).state is CardState.REVOKED
    assert registry.card(indexes[2]).state is CardState.SUSPENDED
    assert registry.card(indexes[4]).state is CardState.VALID
    holder = registry.find("Holder 0", DOB)
    assert holder is not None and holder.cards[0].medium is Medium.UNKNOWN
    again = registry.import_files(old, records, operator="import", now=NOW)
    assert again == {"cards": 0, "with_holder": 0, "already_present": 5}
    # New cards never take an imported index.
    fresh = {_issue(registry, key, name=f"N{i}").status_index for i in range(100)}
    assert not fresh & set(indexes)


def test_import_refuses_another_keys_file(registry: Registry) -> None:
    other = StatusRegistry.for_key(IssuerKey.generate("ES256"), SIZE, 2)
    with pytest.raises(RegistryError, match="does not track"):
        registry.import_files(other, [], operator="import", now=NOW)


def test_errors_never_quote_personal_data(registry: Registry, key: IssuerKey) -> None:
    with pytest.raises(RegistryError) as caught:
        _issue(registry, key, name="Ana\x00Quispe")
    assert "Ana" not in str(caught.value)
    with pytest.raises(RegistryError) as caught:
        _issue(registry, key, expires=date(2000, 1, 1))
    assert NAME not in str(caught.value) and "1988" not in str(caught.value)


def test_a_purged_name_is_gone_from_the_sqlite_file(tmp_path: Path, key: IssuerKey) -> None:
    """Deleted rows are overwritten (secure_delete), not left in free pages or the WAL."""
    path = tmp_path / "city.db"
    with Registry.create(path) as registry:
        registry.add_key(key.kid, key_thumbprint(key), SIZE, 2)
        _issue(
            registry,
            key,
            name="Zenobia Purgeable",
            issued=date(2010, 1, 1),
            expires=date(2015, 1, 1),
        )
        for i in range(20):
            _issue(registry, key, name=f"Kept Holder {i}")
        assert registry.purge(date(2024, 1, 1)) == 1
        raw = registry._engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("city.db*"))
    assert b"Kept Holder 3" in data
    assert b"Zenobia" not in data


def test_an_unreachable_postgresql_is_a_registry_error_without_the_url(tmp_path: Path) -> None:
    url = f"postgresql://clerk:s3cret-pw@/cityid?host={tmp_path}&port=5999"
    with pytest.raises(RegistryError, match="unreachable") as caught:
        Registry.open(url)
    assert "s3cret" not in str(caught.value) and "clerk" not in str(caught.value)


def test_several_keys_need_a_kid(registry: Registry, key: IssuerKey) -> None:
    old_index = _issue(registry, key).status_index
    new_key = IssuerKey.generate("ES256", kid="CHI-2027-1")
    registry.add_key(new_key.kid, key_thumbprint(new_key), SIZE, 2)
    new_index = _issue(registry, new_key).status_index
    change: dict[str, Any] = {
        "kind": EventKind.REVOKED,
        "reason": Reason.LOST,
        "operator": "c",
        "now": NOW,
    }
    with pytest.raises(RegistryError, match="several keys"):
        registry.set_state(index=old_index, **change)
    card, _ = registry.set_state(index=old_index, kid=key.kid, **change)
    assert card.kid == key.kid and card.state is CardState.REVOKED
    assert registry.card(new_index, kid="CHI-2027-1").state is CardState.VALID
    with pytest.raises(RegistryError, match="already tracks"):
        registry.add_key(new_key.kid, key_thumbprint(new_key), SIZE, 2)


def test_attaching_a_holder_again_keeps_the_recorded_medium(
    registry: Registry, key: IssuerKey
) -> None:
    card = _issue(registry, key, medium=Medium.TAG)
    again = registry.attach_holder(
        index=card.status_index, name=NAME, date_of_birth=DOB,
        issued=date(2026, 12, 5), expires=date(2031, 12, 4), kid=key.kid,
    )  # fmt: skip
    assert again.medium is Medium.TAG
    assert registry.card(card.status_index).medium is Medium.TAG
