"""The registry on the command line, on SQLite and PostgreSQL: the names issue 12 fixes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityid_card import load_key
from cityid_card.station import Record
from cityid_card.status import StatusRegistry, StatusValue
from tests.conftest import run_cli

HOLDER = ["--name", "Ana Sofía Rivera", "--dob", "1990-04-12"]
EXPIRES = (date.today() + timedelta(days=3650)).isoformat()


class Office:
    """A clerk's office: a key, a trust store, a registry; runs cityid-card commands."""

    def __init__(self, folder: Path, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.folder, self.db, self.capsys = folder, db, capsys
        self.key, self.trust = str(folder / "issuer.pem"), str(folder / "trust.json")
        assert (
            self.run("keygen", "--kid", "CHI-2026-1", "--out", self.key, "--trust", self.trust)[0]
            == 0
        )

    def run(self, *argv: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, *argv)

    def json(self, *argv: str, status: int = 0) -> Any:
        code, out, err = self.run(*argv, "--json")
        assert code == status, (out, err)
        return json.loads(out)

    def issue(
        self, name: str = "Ana Sofía Rivera", out: str = "card.cbor", db: str | None = None
    ) -> int:
        result = self.json(
            "issue", "--key", self.key, "--name", name, "--dob", "1990-04-12",
            "--expires", EXPIRES, "--registry", db or self.db, "--out", str(self.folder / out),
            "--operator", "clerk-1",
        )  # fmt: skip
        return int(result["status_index"])


@pytest.fixture
def office(location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Office:
    made = Office(tmp_path, location, capsys)
    result = made.json(
        "registry", "init", location, "--key", made.key, "--kid", "CHI-2026-1", "--size", "65536"
    )
    assert result["kid"] == "CHI-2026-1" and result["size"] == 65536
    return made


def test_issue_records_and_find_shows_the_cards(office: Office) -> None:
    indexes = {office.issue(out=f"c{i}.cbor") for i in range(3)}
    assert len(indexes) == 3
    found = office.json("registry", "find", office.db, *HOLDER)
    assert found["found"] and {c["status_index"] for c in found["cards"]} == indexes
    assert {c["state"] for c in found["cards"]} == {"valid"}
    code, out, _ = office.run(
        "registry", "find", office.db, "--name", "Nobody", "--dob", "1990-04-12"
    )
    assert code == 0 and "no holder" in out


def test_revoke_with_a_reason_and_the_list_says_so(office: Office) -> None:
    index = office.issue()
    done = office.json("revoke", "--registry", office.db, "--index", str(index), "--reason", "lost")
    assert done["changed"] == 1 and done["cards"][0]["state"] == "revoked"
    again = office.json(
        "revoke", "--registry", office.db, "--index", str(index), "--reason", "lost"
    )
    assert again["changed"] == 0
    signed = str(office.folder / "status.cwt")
    first = office.json(
        "status-list", "sign", "--key", office.key, "--registry", office.db, "--out", signed
    )
    assert first["number"] == 1
    shown = office.json("status-list", "show", signed, "--trust", office.trust)
    assert shown["number"] == 1 and shown["counts"]["revoked"] == 1 and shown["size"] == 65536
    assert shown["signature"] == "verified" and not shown["expired"]
    code, _, err = office.run(
        "verify", str(office.folder / "card.cbor"), "--trust", office.trust, "--status-list", signed
    )
    assert code == 1 and "revoked" in err
    second = office.json(
        "status-list", "sign", "--key", office.key, "--registry", office.db, "--out", signed,
        "--force",
    )  # fmt: skip
    assert second["number"] == 2


def test_an_index_never_issued_is_refused_with_status_2(office: Office) -> None:
    index = office.issue()
    never = (index + 1) % 65536
    code, out, err = office.run(
        "revoke", "--registry", office.db, "--index", str(never), "--reason", "error"
    )
    assert code == 2 and "no card was issued" in err and out == ""
    code, _, err = office.run("revoke", "--registry", office.db, "--index", str(index))
    assert code == 2 and "--reason" in err


def test_revoke_a_holder_by_name_and_date_of_birth(office: Office) -> None:
    mine = {office.issue(out=f"c{i}.cbor") for i in range(2)}
    office.issue(name="Someone Else", out="other.cbor")
    done = office.json("revoke", "--registry", office.db, *HOLDER, "--reason", "deceased")
    assert {c["status_index"] for c in done["cards"]} == mine


def test_replace_a_lost_card_in_one_step(office: Office) -> None:
    old = office.issue()
    new_file = str(office.folder / "new.cbor")
    result = office.json(
        "registry", "replace", office.db, "--index", str(old), "--reason", "lost", "--key",
        office.key, "--expires", EXPIRES, "--out", new_file, "--operator", "clerk-2",
    )  # fmt: skip
    assert result["revoked"]["state"] == "revoked" and result["issued"]["state"] == "valid"
    checked = office.json("verify", new_file, "--trust", office.trust, "--show", "status-index")
    assert checked["claims"]["name"] == "Ana Sofía Rivera"
    assert checked["claims"]["status_index"] == result["issued"]["status_index"]
    export = office.json("registry", "export", office.db, *HOLDER)
    assert [e["event"] for e in export["cards"][0]["events"]] == ["issued", "replaced"]
    assert export["cards"][0]["events"][1]["operator"] == "clerk-2"


def test_a_station_leases_issues_offline_and_syncs(office: Office) -> None:
    station = str(office.folder / "ward-3.db")
    leased = office.json(
        "registry", "lease", office.db, "--station", "ward-3", "--count", "20", "--out", station
    )
    assert leased["pool"] == 20
    offline = {office.issue(name=f"Offline {i}", out=f"o{i}.cbor", db=station) for i in range(5)}
    synced = office.json("registry", "sync", office.db, station)
    assert (synced["cards_in"], synced["events_in"]) == (5, 5)
    assert office.json("registry", "sync", office.db, station)["cards_in"] == 0
    found = office.json("registry", "find", office.db, "--name", "Offline 2", "--dob", "1990-04-12")
    assert found["cards"][0]["station"] == "ward-3" and found["cards"][0]["status_index"] in offline
    reclaimed = office.json("registry", "reclaim", office.db, "--station", "ward-3")
    assert reclaimed["indexes"] == 15
    shown = office.json("registry", "show", office.db)
    assert shown["counts"]["revoked"] == 15 and shown["counts"]["valid"] == 5


def test_purge_and_export(office: Office) -> None:
    office.json(
        "issue", "--key", office.key, *HOLDER, "--issued", "2010-01-01", "--expires", "2015-01-01",
        "--registry", office.db, "--out", str(office.folder / "old.cbor"),
    )  # fmt: skip
    code, out, _ = office.run("registry", "export", office.db, *HOLDER)
    assert code == 0 and "Ana Sofía Rivera" in out and "nothing else is held" in out
    assert office.json("registry", "purge", office.db)["purged"] == 1
    assert office.json("registry", "export", office.db, *HOLDER) == {"found": False}


def test_import_of_registry_json_and_issued_jsonl(office: Office) -> None:
    key = load_key(office.key, kid="CHI-2026-1")
    old = StatusRegistry.for_key(key, 65536, 2)
    indexes = [old.allocate() for _ in range(3)]
    old.set(indexes[0], StatusValue.INVALID)
    old.save(office.folder / "registry.json")
    records = office.folder / "issued.jsonl"
    records.write_text(
        "".join(
            json.dumps(
                Record(
                    "Imported Holder",
                    date(1990, 4, 12),
                    date(2026, 1, 1),
                    date(2031, 1, 1),
                    i,
                    "CHI-2026-1",
                ).to_json()
            )
            + "\n"
            for i in indexes[:2]
        )
    )
    result = office.json(
        "registry", "import", office.db, "--status-registry", str(office.folder / "registry.json"),
        "--records", str(records),
    )  # fmt: skip
    assert result == {"cards": 3, "with_holder": 2, "already_present": 0}
    found = office.json(
        "registry", "find", office.db, "--name", "Imported Holder", "--dob", "1990-04-12"
    )
    assert sorted(c["state"] for c in found["cards"]) == ["revoked", "valid"]


def test_publish_writes_numbered_lists_and_the_current_one(office: Office) -> None:
    folder = office.folder / "www"
    for number in (1, 2):
        result = office.json(
            "status-list",
            "publish",
            "--key",
            office.key,
            "--registry",
            office.db,
            "--dir",
            str(folder),
        )
        assert result["number"] == number
    published = folder / "CHI-2026-1"
    assert sorted(p.name for p in published.iterdir()) == ["1.cwt", "2.cwt", "current.cwt"]
    assert (published / "current.cwt").read_bytes() == (published / "2.cwt").read_bytes()
    assert (folder / "CHI-2026-1.cwt").read_bytes() == (published / "2.cwt").read_bytes()
    shown = office.json("status-list", "show", str(published / "1.cwt"))
    assert shown["number"] == 1 and shown["signature"] == "not checked"


def test_an_expired_list_is_said_in_text_and_json(office: Office) -> None:
    office.issue()
    signed = str(office.folder / "status.cwt")
    office.json("status-list", "sign", "--key", office.key, "--registry", office.db, "--out", signed,
                "--valid-for", "1")  # fmt: skip
    later = (date.today() + timedelta(days=3)).isoformat()
    args = [
        "verify",
        str(office.folder / "card.cbor"),
        "--trust",
        office.trust,
        "--status-list",
        signed,
        "--at",
        later,
    ]
    code, out, _ = office.run(*args)
    assert code == 0 and "status unknown (the status list of key CHI-2026-1 EXPIRED" in out
    result = office.json(*args)
    assert result["status"] == "unknown" and "EXPIRED" in result["status_note"]
    assert office.run(*args, "--require-status")[0] == 1
    code, out, _ = office.run("status-list", "show", signed)
    assert code == 0 and "expires" in out


def test_registry_errors_hold_no_personal_data(office: Office) -> None:
    code, _, err = office.run(
        "issue", "--key", office.key, "--name", "Ana\x07Rivera", "--dob", "1990-04-12",
        "--expires", EXPIRES, "--registry", office.db, "--out", str(office.folder / "x.cbor"),
    )  # fmt: skip
    assert code == 2 and "Ana" not in err and "1990" not in err


def test_personalize_records_the_card_and_revokes_one_that_failed(office: Office) -> None:
    args = ["personalize", "--generation", "1", "--key", office.key, *HOLDER, "--expires", EXPIRES,
            "--registry", office.db, "--operator", "clerk-5"]  # fmt: skip
    assert office.run(*args, "--reader", "sim:card")[0] == 0
    broken = f"sim:card:{office.folder / 'no-such-folder' / 'card.json'}"
    code, _, err = office.run(*args, "--reader", broken)
    assert code == 2 and "Ana" not in err
    found = office.json("registry", "find", office.db, *HOLDER)
    cards = sorted(found["cards"], key=lambda c: c["state"])
    assert [(c["state"], c["medium"]) for c in cards] == [("revoked", "card"), ("valid", "card")]
    export = office.json("registry", "export", office.db, *HOLDER)
    reasons = {e["reason"] for c in export["cards"] for e in c["events"]}
    assert reasons == {None, "error"}


@pytest.mark.parametrize(
    ("reader", "medium"),
    [("sim:card", "card"), ("sim:isodep", "card"), ("sim:ntag215", "tag")],
)
def test_personalize_records_what_the_card_goes_on(
    office: Office, reader: str, medium: str
) -> None:
    args = ["personalize", "--generation", "1", "--key", office.key, *HOLDER, "--expires", EXPIRES,
            "--registry", office.db, "--reader", reader]  # fmt: skip
    if medium == "tag":
        args += ["--seal-key", str(office.folder / "tag.key")]
    code, _, err = office.run(*args)
    assert code == 0, err
    (card,) = office.json("registry", "find", office.db, *HOLDER)["cards"]
    assert (card["state"], card["medium"]) == ("valid", medium)


def _batch_office(
    office: Office, monkeypatch: pytest.MonkeyPatch, faults: dict[int, Any], count: int = 3
) -> tuple[list[str], Path]:
    """A hopper with ``faults`` as the batch's reader; the batch's arguments and records."""
    from cityid_card.cli import batch as batch_command
    from tests.test_batch import Hopper

    hopper = Hopper()
    hopper.faults = faults
    monkeypatch.setattr(batch_command, "MACHINE", batch_command.Machine(cards=hopper.source))
    applicants = office.folder / "applicants.csv"
    applicants.write_text(
        "name,date_of_birth\n" + "".join(f"Batch Holder {i},1990-04-12\n" for i in range(count))
    )
    records = office.folder / "issued.jsonl"
    argv = ["batch", str(applicants), "--key", office.key, "--valid-years", "5",
            "--registry", office.db, "--operator", "station-3",
            "--records", str(records)]  # fmt: skip
    return argv, records


def _found(office: Office, i: int) -> list[dict[str, Any]]:
    found = office.json(
        "registry", "find", office.db, "--name", f"Batch Holder {i}", "--dob", "1990-04-12"
    )
    return sorted(found["cards"], key=lambda card: card["state"])


def test_batch_records_every_card_and_revokes_a_failed_one(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv, records = _batch_office(
        office, monkeypatch, {1: lambda card: card.remove_at(4, "during")}
    )
    code, out, err = office.run(*argv, "--reader", "sim:card")
    assert code == 1, err
    assert "Batch Holder" not in out + err
    states = {i: [card["state"] for card in _found(office, i)] for i in range(3)}
    # The failed card is revoked and keeps its holder: a clerk finds it by name and date.
    assert states == {0: ["valid"], 1: ["revoked"], 2: ["valid"]}
    shown = office.json("registry", "show", office.db)
    assert shown["counts"] == {"holders": 3, "valid": 2, "revoked": 1, "events": 4}
    export = office.json(
        "registry", "export", office.db, "--name", "Batch Holder 0", "--dob", "1990-04-12"
    )
    assert [(e["event"], e["operator"]) for e in export["cards"][0]["events"]] == [
        ("issued", "station-3")
    ]
    failed = office.json(
        "registry", "export", office.db, "--name", "Batch Holder 1", "--dob", "1990-04-12"
    )
    assert [(e["event"], e["reason"]) for e in failed["cards"][0]["events"]] == [
        ("issued", None),
        ("revoked", "error"),
    ]
    # The name is kept in the registry alone: not in the records file, nor the output.
    assert "Batch Holder 1" not in records.read_text()
    # Resumed with the same records: only the failed applicant gets a card now.
    code, out, err = office.run(*argv, "--reader", "sim:card")
    assert code == 0, err
    assert [card["state"] for card in _found(office, 1)] == ["revoked", "valid"]
    assert office.json("registry", "show", office.db)["counts"]["valid"] == 3


@pytest.mark.parametrize(("reader", "medium"), [("sim:card", "card"), ("sim:ntag215", "tag")])
def test_batch_records_the_medium_of_every_card(
    office: Office, monkeypatch: pytest.MonkeyPatch, reader: str, medium: str
) -> None:
    argv, _ = _batch_office(office, monkeypatch, {1: lambda card: card.remove_at(4, "during")}
                            if reader == "sim:card" else {}, count=2)  # fmt: skip
    faces = ["--faces", str(office.folder / "faces")]  # a sealed tag's key goes on its face
    code, _, err = office.run(*argv, "--reader", reader, *faces)
    assert code == (1 if reader == "sim:card" else 0), err
    cards = [card for i in range(2) for card in _found(office, i)]
    assert len(cards) == 2
    assert {card["medium"] for card in cards} == {medium}  # the failed card's too


def test_an_offline_station_batch_brings_holders_and_media_back(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = str(office.folder / "ward-5.db")
    office.json(
        "registry", "lease", office.db, "--station", "ward-5", "--count", "10", "--out", station
    )
    argv, _ = _batch_office(office, monkeypatch, {1: lambda card: card.remove_at(4, "during")})
    argv[argv.index(office.db)] = station
    code, _, err = office.run(*argv, "--reader", "sim:card")
    assert code == 1, err
    assert office.json("registry", "sync", office.db, station)["cards_in"] == 3
    cards = {i: _found(office, i) for i in range(3)}
    assert {i: [(c["state"], c["medium"]) for c in found] for i, found in cards.items()} == {
        0: [("valid", "card")],
        1: [("revoked", "card")],
        2: [("valid", "card")],
    }
    assert {c["station"] for found in cards.values() for c in found} == {"ward-5"}


def test_a_failed_card_names_nobody_in_the_json_events(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv, _ = _batch_office(office, monkeypatch, {0: lambda card: card.remove_at(4, "during")})
    code, out, err = office.run(*argv, "--reader", "sim:card", "--json")
    assert code == 1, err
    events = [json.loads(line) for line in out.splitlines()]
    failed = [event for event in events if event["event"] == "card_failed"]
    assert len(failed) == 1 and failed[0]["revoked"] is True
    assert "Batch Holder" not in out + err and "1990-04-12" not in out + err
    assert [card["status_index"] for card in _found(office, 0)] == [failed[0]["status_index"]]


def test_a_name_can_come_from_standard_input(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    index = office.issue()
    monkeypatch.setattr("sys.stdin", io.StringIO("Ana Sofía Rivera\n"))
    found = office.json("registry", "find", office.db, "--name", "-", "--dob", "1990-04-12")
    assert [c["status_index"] for c in found["cards"]] == [index]


def _two_lists(office: Office) -> tuple[str, str]:
    """Yesterday's list (number 1, the card valid) and today's (number 2, the card revoked)."""
    index = office.issue()
    yesterday, today = str(office.folder / "yesterday.cwt"), str(office.folder / "today.cwt")
    sign = ["status-list", "sign", "--key", office.key, "--registry", office.db, "--out"]
    assert office.json(*sign, yesterday)["number"] == 1
    office.json("revoke", "--registry", office.db, "--index", str(index), "--reason", "stolen")
    assert office.json(*sign, today)["number"] == 2
    return yesterday, today


def _seen_numbers(seen: Path) -> dict[str, int]:
    document = json.loads(seen.read_text())
    return {kid: mark[0] for kid, mark in document["seen_status_lists"].items()}


def test_verify_with_seen_refuses_yesterdays_list_after_todays(office: Office) -> None:
    yesterday, today = _two_lists(office)
    card, seen = str(office.folder / "card.cbor"), office.folder / "seen.json"
    verify = ["verify", card, "--trust", office.trust, "--seen", str(seen), "--status-list"]
    code, _, err = office.run(*verify, today)
    assert code == 1 and "revoked" in err.lower()
    assert _seen_numbers(seen) == {"CHI-2026-1": 2}
    assert seen.stat().st_mode & 0o777 == 0o600
    # The gate restarted with yesterday's list: refused, the card is not accepted.
    code, out, err = office.run(*verify, yesterday)
    assert code == 2 and "older than one already seen" in err and "VALID" not in out
    assert _seen_numbers(seen) == {"CHI-2026-1": 2}
    # Without --seen nothing remembers today's list: what the option is for.
    assert office.run("verify", card, "--trust", office.trust, "--status-list", yesterday)[0] == 0


def test_a_seen_file_that_is_not_one_is_refused(office: Office) -> None:
    office.issue()
    seen = office.folder / "seen.json"
    for text in ("[]", '{"seen_status_lists": {"CHI-2026-1": [2]}}', "{"):
        seen.write_text(text)
        code, _, err = office.run(
            "verify", str(office.folder / "card.cbor"), "--trust", office.trust,
            "--seen", str(seen),
        )  # fmt: skip
        assert code == 2 and "seen.json" in err, err
        assert seen.read_text() == text  # left as it was


def test_the_desk_with_seen_refuses_yesterdays_list_after_a_restart(office: Office) -> None:
    from cityid_card import TrustStore, Verifier
    from cityid_card.cli.serve import build_verifier
    from cityid_card.errors import Revoked
    from cityid_card.status import CredentialStatus

    yesterday, today = _two_lists(office)
    blob = (office.folder / "card.cbor").read_bytes()
    desk, seen = office.folder / "lists", office.folder / "seen.json"
    desk.mkdir()
    (desk / "chi.cwt").write_bytes(Path(today).read_bytes())
    settings = {"trust": office.trust, "status_lists": str(desk), "require_status": False,
                "seen": str(seen)}  # fmt: skip
    verifier, refresher = build_verifier(settings)
    assert refresher is not None and refresher.last is not None
    assert refresher.last.updated == ("CHI-2026-1",)
    with pytest.raises(Revoked):
        verifier.verify(blob)
    assert _seen_numbers(seen) == {"CHI-2026-1": 2}
    # Restarted with yesterday's list in its folder (a stale mirror): refused.
    (desk / "chi.cwt").write_bytes(Path(yesterday).read_bytes())
    verifier, refresher = build_verifier(settings)
    assert refresher is not None and refresher.last is not None
    assert refresher.last.refused_older == ("CHI-2026-1",)
    assert verifier.status_list_for("CHI-2026-1") is None
    assert verifier.verify(blob).status is CredentialStatus.UNKNOWN  # not VALID
    assert _seen_numbers(seen) == {"CHI-2026-1": 2}
    # The Python API keeps the same memory: the file is what a Verifier is given back.
    again = Verifier(TrustStore.load(office.trust), seen_status_lists=verifier.seen_status_lists)
    assert again.seen_status_lists["CHI-2026-1"][0] == 2


def test_watch_hands_seen_to_the_desk(office: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    from cityid_card.cli import watch as watch_command
    from cityid_card.errors import CityIDError

    given: list[Any] = []

    def build(settings: dict[str, Any]) -> Any:
        given.append(settings)
        raise CityIDError("stop here")

    monkeypatch.setattr(watch_command, "build_verifier", build)
    seen = office.folder / "seen.json"
    code, _, err = office.run(
        "watch", "--reader", "sim:card", "--trust", office.trust,
        "--status-lists", str(office.folder), "--seen", str(seen),
    )  # fmt: skip
    assert code == 2 and "stop here" in err
    assert [Path(settings["seen"]) for settings in given] == [seen]


def test_the_refresher_keeps_trying_to_keep_what_it_has_seen(office: Office) -> None:
    from cityid_card import TrustStore, Verifier
    from cityid_card.desk.refresh import FolderSource, StatusListRefresher
    from cityid_card.errors import InputError

    _, today = _two_lists(office)
    desk = office.folder / "lists"
    desk.mkdir()
    (desk / "chi.cwt").write_bytes(Path(today).read_bytes())
    kept: list[dict[str, tuple[int, int]]] = []

    def keep(seen: dict[str, tuple[int, int]]) -> None:
        if not kept:
            kept.append({})
            raise InputError("seen.json: the disk is full")
        kept.append(seen)

    verifier = Verifier(TrustStore.load(office.trust), cache_size=0)
    refresher = StatusListRefresher(verifier, FolderSource(desk), keep_seen=keep)
    first = refresher.refresh()
    assert first.updated == ("CHI-2026-1",) and first.errors == ("InputError",)
    second = refresher.refresh()  # nothing new, but what was seen is not kept yet
    assert second.updated == () and second.errors == ()
    assert [marks["CHI-2026-1"][0] for marks in kept[1:]] == [2]
    refresher.refresh()
    assert len(kept) == 2  # kept once: nothing to keep until a list is taken again
