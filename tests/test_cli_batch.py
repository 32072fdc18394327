"""``cityid-card batch``: JSON events, plain lines, the progress bar, faces, resuming, privacy.

In this process the command runs on a test :class:`Machine`: its cards come from a
:class:`Hopper` of blank emulated cards (see tests/test_batch.py) and its clock is a
:class:`FakeClock`, so no test waits on the wall clock; the tests that start the command
as a process of its own use the real ``sim:`` readers and clock, and real signals. The
100-applicant batches sign in SoftHSM2, the way a station signs in its token.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from cityid_card import IssuerKey, StatusRegistry, StatusValue, TrustStore
from cityid_card.cli import batch as batch_command
from cityid_card.station import RECORD_FIELDS, read_records

from .conftest import PIN, TOKEN, run_cli
from .test_batch import FakeClock, Hopper, at_command

TODAY = date.today()


class Terminal(io.StringIO):
    """Standard error as a terminal: what makes the command show its progress bar."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def hopper() -> Hopper:
    return Hopper()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TODAY)


@pytest.fixture(autouse=True)
def machine(
    monkeypatch: pytest.MonkeyPatch, hopper: Hopper, clock: FakeClock
) -> batch_command.Machine:
    """The command's machine in this process: the hopper's cards and the fake clock."""
    machine = batch_command.Machine(clock=clock, sleep=clock.sleep, cards=hopper.source)
    monkeypatch.setattr(batch_command, "MACHINE", machine)
    return machine


def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """Standard error as a terminal, from here to the end of the test.

    Called in the test itself: capture fixtures set sys.stderr again as the test starts.
    """
    screen = Terminal()
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stderr", screen)
    return screen


def applicants_csv(path: Path, names: list[str]) -> Path:
    """A CSV file of applicants born on successive days of 1980 (no expiry column)."""
    rows = [f'"{name}",{date(1980, 1, 1) + timedelta(days=n)}' for n, name in enumerate(names)]
    path.write_text("name,date_of_birth\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


class Station:
    """A station folder: issuer key file, status registry, an applicants file, the records."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        folder.mkdir(exist_ok=True)
        self.folder = folder
        self.names = names
        self.key = folder / "issuer.pem"
        self.issuer = IssuerKey.generate("ES256", kid="CHI-BATCH-2")
        self.key.write_bytes(self.issuer.to_pem())
        self.registry = folder / "registry.json"
        StatusRegistry.for_key(self.issuer, 4096).save(self.registry)
        self.applicants = applicants_csv(folder / "applicants.csv", names)
        self.records = folder / "issued.jsonl"

    def argv(self, reader: str = "sim:card", *extra: str) -> list[str]:
        return [
            "batch", str(self.applicants), "--key", str(self.key), "--kid", "CHI-BATCH-2",
            "--reader", reader, "--valid-years", "5", "--records", str(self.records),
            "--registry", str(self.registry), "--lock", *extra,
        ]  # fmt: skip

    def recorded(self) -> list[str]:
        return [record.name for record in read_records(self.records)]


@pytest.fixture
def station(tmp_path: Path) -> Station:
    return Station(tmp_path / "station", ["Ana Sofia Rivera Delgado", "Nguyễn Thị Mai", "Bo Li"])


def events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def assert_no_personal_data(station: Station, *texts: str) -> None:
    for text in texts:
        for name in station.names:
            assert name not in text and name.split()[0] not in text
        assert "1980-" not in text


def test_json_events_then_a_resumed_run(
    station: Station, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(capsys, *station.argv("sim:card", "--json"))
    assert (status, err) == (0, "")
    first = events(out)
    assert [e["event"] for e in first] == [
        "start",
        "card_done",
        "card_done",
        "card_done",
        "finished",
    ]
    assert first[0] == {
        "event": "start", "applicants": 3, "to_issue": 3, "already_issued": 0, "ambiguous": 0,
        "not_printable": 0, "reader": "sim:card", "kid": "CHI-BATCH-2", "lock": True,
        "sealed_tags": True,
    }  # fmt: skip
    done = first[1]
    assert (done["row"], done["medium"], done["authenticity"], done["locked"]) == (
        1, "chip_card", "chip_authenticated", True,
    )  # fmt: skip
    assert (first[-1]["issued"], first[-1]["failed"], first[-1]["stopped"]) == (3, 0, None)
    assert station.recorded() == station.names
    records = [json.loads(line) for line in station.records.read_text().splitlines()]
    assert [list(record) for record in records] == [list(RECORD_FIELDS)] * 3
    assert {r["kid"] for r in records} == {"CHI-BATCH-2"}
    assert {r["issued"] for r in records} == {TODAY.isoformat()}
    assert [r["status_index"] for r in records] == [e["status_index"] for e in first[1:4]]

    status, out, err = run_cli(capsys, *station.argv("sim:ntag215", "--json", "--open-record"))
    assert (status, err) == (0, "")
    again = events(out)
    assert [(e["event"], e.get("row")) for e in again] == [
        ("start", None), ("card_skipped", 1), ("card_skipped", 2), ("card_skipped", 3),
        ("finished", None),
    ]  # fmt: skip
    assert again[1]["reason"] == "already_issued" and again[-1]["already_issued"] == 3
    assert station.recorded() == station.names
    assert_no_personal_data(station, out, err)


def test_plain_lines_say_which_card_to_set_aside(
    station: Station, hopper: Hopper, capsys: pytest.CaptureFixture[str]
) -> None:
    hopper.faults = {1: lambda card: card.remove_at(4, "during")}
    status, out, err = run_cli(capsys, *station.argv())
    assert status == 1
    registry = StatusRegistry.load(station.registry)
    (line,) = err.splitlines()
    assert line.startswith(
        "row 2: card FAILED (CardRemoved: the card was removed from the reader); set the card "
        "aside, do not hand it out; its status index "
    )
    revoked = int(line.rsplit("index ", 1)[1].split()[0])
    assert registry.get(revoked) is StatusValue.INVALID
    assert out.startswith("issued 2 cards in ")
    assert out.rstrip().endswith("cards per minute); 1 failed; 0 already issued")
    assert station.recorded() == [station.names[0], station.names[2]]
    status, out, err = run_cli(capsys, *station.argv("sim:card", "--stop-on-error"))
    assert (status, err) == (0, "")
    assert "issued 1 card in " in out and "; 0 failed; 2 already issued" in out
    assert_no_personal_data(station, out, err)


def test_without_a_registry_a_failed_card_is_not_revoked_and_that_is_said(
    station: Station, hopper: Hopper, capsys: pytest.CaptureFixture[str]
) -> None:
    hopper.faults = {0: lambda card: card.remove_at(5, "before")}
    argv = station.argv("sim:card", "--stop-on-error")
    registry = argv.index("--registry")
    del argv[registry : registry + 2]
    status, out, err = run_cli(capsys, *argv)
    assert status == 1
    assert err.rstrip().endswith("; no registry: its status index is NOT revoked")
    assert "stopped (stop_on_error): row 1 failed: CardRemoved" in out
    assert station.recorded() == []


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_card_left_in_the_reader_is_reported_once(
    station: Station,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    json_flag: list[str],
) -> None:
    argv = station.argv(f"sim:card:{tmp_path / 'card.json'}", "--wait", "0.6", *json_flag)
    status, out, err = run_cli(capsys, *argv)
    assert status == 1
    assert clock.sleeps == [0.25, 0.25, pytest.approx(0.1)]  # four looks, one event
    if json_flag:
        assert [e["event"] for e in events(out)] == ["start", "card_done", "waiting", "finished"]
    else:
        assert err == (
            "row 2: waiting for a blank card (CardLocked: the card is locked: it was "
            "personalised for good already)\n"
        )
        assert "stopped (no_blank_card): no usable card for row 2: the card is locked" in out


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_column_the_format_does_not_allow_is_refused_before_any_card(
    station: Station, hopper: Hopper, capsys: pytest.CaptureFixture[str], json_flag: list[str]
) -> None:
    station.applicants.write_text(
        "name,date_of_birth,Zyxwquartz Plimsoll\nAna Sofia Rivera Delgado,1990-04-12,12 Elm St\n"
    )
    status, out, err = run_cli(capsys, *station.argv("sim:card", *json_flag))
    assert status == 2
    message = (
        "column 3 is not a field an applicant may have "
        "(allowed: name, date_of_birth, gender, expires)"
    )
    if json_flag:
        assert err == ""
        assert events(out) == [
            {"event": "error", "error": "UnknownApplicantField", "message": message}
        ]
    else:
        assert (out, err) == ("", f"error: {message} (UnknownApplicantField)\n")
    assert hopper.cards == [] and not station.records.exists()
    for text in ("Zyxwquartz", "Plimsoll", "Elm", "Ana"):
        assert text not in out + err


def test_a_key_that_cannot_be_read(station: Station, capsys: pytest.CaptureFixture[str]) -> None:
    station.key.unlink()
    status, out, err = run_cli(capsys, *station.argv())
    assert (status, out) == (2, "")
    assert err == f"error: {station.key}: no such file\n"
    status, out, err = run_cli(capsys, *station.argv("sim:card", "--json"))
    assert (status, err, events(out)[0]["error"]) == (2, "", "FileNotFoundError")
    assert not station.records.exists()


def test_the_issue_date_is_the_machines_and_rows_that_do_not_fit_it_are_refused(
    station: Station, hopper: Hopper, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.day = date(1980, 1, 1)  # before the first applicant's birthday (1980-01-01 + 0)
    clock.day -= timedelta(days=1)
    status, out, err = run_cli(capsys, *station.argv())
    assert (status, out) == (2, "")
    assert err == (
        "error: row 1: date_of_birth is after the issue date, 1979-12-31 (InvalidApplicantField)\n"
    )
    assert hopper.cards == [] and not station.records.exists()


def test_the_progress_bar_on_a_terminal(
    station: Station, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = terminal(monkeypatch)
    assert run_cli(capsys, *station.argv("sim:isodep"))[:2] == (0, "")
    screen = shown.getvalue()
    assert "personalising" in screen and "━" in screen and "\x1b[" in screen
    assert "3/3" in screen and "0 failed" in screen and "cards/min" in screen
    assert "issued 3 cards in " in screen
    assert_no_personal_data(station, screen)


def test_without_rich_a_terminal_gets_plain_lines(
    station: Station, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = terminal(monkeypatch)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    status, out, _ = run_cli(capsys, *station.argv())
    assert status == 0 and out.startswith("issued 3 cards in ")
    assert shown.getvalue() == (
        "note: no progress bar without rich: pip install 'cityid-card[station]'\n"
    )


@pytest.mark.parametrize("reader", ["sim:card", "sim:ntag215"])
def test_100_applicants_signed_in_softhsm2_interrupted_and_resumed_with_the_progress_bar(
    softhsm: Path,
    tmp_path: Path,
    reader: str,
    hopper: Hopper,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = terminal(monkeypatch)
    names = [f"Applicant {n:03d}" for n in range(1, 101)]
    station = Station(tmp_path / "station", names)
    uri = f"pkcs11:token={TOKEN};object=batch-100-{reader[4:]}"
    with IssuerKey.generate_in_token(uri, "ES256", pin=PIN, kid="CHI-HSM-100") as token_key:
        trust = TrustStore([token_key.public()])
        StatusRegistry.for_key(token_key, 4096).save(station.registry)
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    argv = station.argv(reader, "--passphrase-file", str(pin), "--open-record")
    argv[argv.index("--key") + 1] = uri

    def interrupt(card: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the 41st card is fed

    hopper.faults = {40: interrupt}
    assert run_cli(capsys, *argv) == (130, "", "")
    screen = shown.getvalue()
    assert "40/100" in screen and "stopped (interrupted): the batch was interrupted" in screen
    assert "row 41: NOT issued: stopped while waiting for its card; run again" in screen
    assert station.recorded() == names[:40]

    shown.seek(0)
    shown.truncate()
    assert run_cli(capsys, *argv) == (0, "", "")
    screen = shown.getvalue()
    assert "40 of 100 applicants already issued: skipped" in screen
    assert "60/60" in screen and "0 failed" in screen and "cards/min" in screen
    assert "issued 60 cards in " in screen and "; 0 failed; 40 already issued" in screen

    records = read_records(station.records)
    assert [r.name for r in records] == names
    registry = StatusRegistry.load(station.registry)
    indexes = {r.status_index for r in records}
    assert len(indexes) == 100
    assert sum(registry.is_taken(i) for i in range(registry.size)) == 100
    assert {registry.get(i) for i in indexes} == {StatusValue.VALID}
    # 101 cards were fed: the one the interruption left blank, and 100 that verify.
    on_cards = []
    for number in range(len(hopper.cards)):
        if number != 40:
            on_cards.append(hopper.read_back(number, trust).credential)
    assert len(hopper.cards) == 101
    assert [c.name for c in on_cards] == names
    assert [c.status_index for c in on_cards] == [r.status_index for r in records]


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_card_lets_it_finish(
    station: Station, hopper: Hopper, capsys: pytest.CaptureFixture[str], number: int
) -> None:
    hopper.faults = {1: at_command(3, lambda: signal.raise_signal(number))}
    status, out, _ = run_cli(capsys, *station.argv("sim:card", "--json"))
    assert status == 130
    assert [(e["event"], e.get("row")) for e in events(out)][1:] == [
        ("card_done", 1), ("card_done", 2), ("finished", None),
    ]  # fmt: skip
    assert events(out)[-1]["stopped"] == "interrupted"
    assert station.recorded() == station.names[:2]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_ctrl_c_while_waiting_for_a_card_stops_at_once_and_says_who_is_not_done(
    station: Station,
    tmp_path: Path,
    machine: batch_command.Machine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def ctrl_c(seconds: float) -> None:
        signal.raise_signal(signal.SIGINT)  # the operator, between two looks at the reader

    machine.sleep = ctrl_c
    one_card = f"sim:card:{tmp_path / 'card.json'}"
    status, out, err = run_cli(capsys, *station.argv(one_card, "--json"))
    assert (status, err) == (130, "")
    assert [(e["event"], e.get("row"), e.get("reason")) for e in events(out)] == [
        ("start", None, None), ("card_done", 1, None), ("waiting", 2, None),
        ("card_skipped", 2, "interrupted"), ("finished", None, None),
    ]  # fmt: skip
    assert events(out)[-1]["remaining"] == 2
    status, out, err = run_cli(capsys, *station.argv("sim:card", "--json"))
    assert (status, err) == (0, "")
    assert [e["row"] for e in events(out) if e["event"] == "card_done"] == [2, 3]
    assert station.recorded() == station.names


# ---------------------------------------------------------------------------------------
# Card faces: --faces DIR


def test_faces_are_written_per_card_and_an_unprintable_name_touches_no_card(
    tmp_path: Path, hopper: Hopper, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["Ana Sofia Rivera Delgado", "سارة أحمد", "Bo Li"]
    station = Station(tmp_path / "station", names)
    faces = tmp_path / "faces"
    status, out, err = run_cli(
        capsys, *station.argv("sim:card", "--faces", str(faces), "--face-png")
    )
    assert status == 1
    assert err == (
        "row 2: NOT issued, no card touched: its face cannot be printed (the name is written "
        "right to left: card faces cannot print it yet); give a --font that covers it, or "
        "print it with other software\n"
    )
    assert "issued 2 cards in " in out and "; 1 not printable" in out
    assert len(hopper.cards) == 2
    assert sorted(path.name for path in faces.iterdir()) == [
        "row-0001.pdf", "row-0001.png", "row-0003.pdf", "row-0003.png",
    ]  # fmt: skip
    assert stat.S_IMODE(faces.stat().st_mode) == 0o700
    for path in faces.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (page,) = PdfReader(faces / "row-0003.pdf").pages
    assert "Bo Li" in page.extract_text()
    assert (faces / "row-0001.png").read_bytes().startswith(b"\x89PNG")
    assert_no_personal_data(station, out, err)
    # Another job into the same folder is refused before any card: a face would be lost.
    other = [*station.argv("sim:card", "--faces", str(faces))]
    other[other.index("--records") + 1] = str(tmp_path / "other.jsonl")
    status, out, err = run_cli(capsys, *other)
    assert (status, out) == (2, "")
    assert err.startswith("error: the faces folder already holds row-0001.pdf: print and delete")
    assert len(hopper.cards) == 2
    # With --force the faces of the rows issued are replaced.
    before = (faces / "row-0001.pdf").stat().st_ino
    status, out, err = run_cli(capsys, *other, "--force")
    assert (status, len(hopper.cards)) == (1, 4)
    assert (faces / "row-0001.pdf").stat().st_ino != before
    assert stat.S_IMODE((faces / "row-0001.pdf").stat().st_mode) == 0o600


# ---------------------------------------------------------------------------------------
# NFC tags: sealed, each key on its card face


def test_tags_are_sealed_with_a_fresh_key_each_that_only_the_face_holds(
    tmp_path: Path, hopper: Hopper, capsys: pytest.CaptureFixture[str]
) -> None:
    from cityid_card import qr, verify
    from cityid_card.type2.errors import SealedTag

    station = Station(tmp_path / "station", ["Ana Sofia Rivera Delgado", "Bo Li"])
    faces = tmp_path / "faces"
    argv = station.argv("sim:ntag215", "--faces", str(faces), "--face-png", "--json")
    status, out, err = run_cli(capsys, *argv)
    assert (status, err) == (0, "")
    done = [event for event in events(out) if event["event"] == "card_done"]
    assert events(out)[0]["sealed_tags"] is True
    assert [(e["medium"], e["sealed"]) for e in done] == [("nfc_tag", True)] * 2
    assert all("seal_key" not in e for e in done)
    trust = TrustStore([station.issuer.public()])
    keys = set()
    for number, row in enumerate((1, 2)):
        tag = hopper.cards[number]
        assert station.names[number].encode() not in bytes(tag.memory)  # a tap reads no name
        with pytest.raises(SealedTag):
            hopper.read_back(number, trust)
        text = qr.read_image((faces / f"row-{row:04d}.png").read_bytes())
        assert text.startswith("CIDS1:")
        key = qr.seal_key(text)
        keys.add(key)
        held = hopper.read_back(number, trust, key).credential  # the face opens its tag
        assert held.name == station.names[number]
        assert held == verify(qr.decode(text), trust).credential  # the face's credential too
        assert key.hex() not in out + err
    assert len(keys) == 2  # a fresh key per tag
    assert_no_personal_data(station, out, err)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_tag_reader_without_faces_or_a_reader_of_ntag213s_is_refused_before_any_card(
    station: Station,
    hopper: Hopper,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    json_flag: list[str],
) -> None:
    status, out, err = run_cli(capsys, *station.argv("sim:ntag215", *json_flag))
    assert status == 2
    text = out + err
    assert "NFC tags are sealed by default, and each tag's key must go on its card face" in text
    assert "--faces DIR, or --open-record" in text
    assert "InputError" in text or not json_flag
    faces = ["--faces", str(tmp_path / "faces")]
    status, out, err = run_cli(capsys, *station.argv("sim:ntag213", *faces, *json_flag))
    assert status == 2
    assert "row 1: a sealed credential needs 272 bytes of data area; an NTAG213 has 144" in (
        out + err
    )
    assert "TagCapacityError" in out + err
    assert hopper.cards == [] and not station.records.exists()
    assert not (tmp_path / "faces").exists() or list((tmp_path / "faces").iterdir()) == []
    assert_no_personal_data(station, out, err)
    # The open record is the operator's explicit choice, and the plain output says what
    # it gives away.
    status, out, err = run_cli(capsys, *station.argv("sim:ntag215", "--open-record"))
    assert status == 0 and len(hopper.cards) == 3
    assert err.startswith(
        "NFC tags get the OPEN record: each gives away the holder's name, date of birth"
    )
    with pytest.raises(SystemExit):
        run_cli(capsys, "batch", "--help")
    assert "--open-record" in capsys.readouterr().out


def test_a_sealed_tag_that_fails_at_any_write_leaves_no_face_and_no_key(
    tmp_path: Path, hopper: Hopper, capsys: pytest.CaptureFixture[str]
) -> None:
    from cityid_card.type2.emulator import EmulatedNtag

    station = Station(tmp_path / "station", ["Ana Sofia Rivera Delgado"])
    faces = tmp_path / "faces"
    argv = station.argv("sim:ntag215", "--faces", str(faces), "--json", "--stop-on-error")
    status, out, _ = run_cli(capsys, *argv)  # a clean run counts the writes
    assert status == 0 and sorted(p.name for p in faces.iterdir()) == ["row-0001.pdf"]
    writes = hopper.cards[-1].writes
    assert writes > 60  # a sealed record is 272 bytes: 68 pages

    def removed(index: int, stage: Any) -> Any:
        return lambda tag: tag.remove_at_write(index, stage)

    def refused(index: int) -> Any:
        def fault(tag: EmulatedNtag) -> None:
            count = iter(range(10**6))

            def answer(frame: bytes) -> bytes | None:
                if frame[0] == 0xA2 and next(count) == index:
                    return b"\x00"  # a NAK: the tag refuses this page
                return None

            tag.fault = answer

        return fault

    stages = ("before", "during", "after")
    faults = [removed(index, stages[index % 3]) for index in range(writes)]
    faults += [refused(index) for index in range(0, writes, 7)]
    for number, fault in enumerate(faults):
        case = tmp_path / f"case-{number}"
        case.mkdir()
        argv[argv.index("--records") + 1] = str(case / "issued.jsonl")
        argv[argv.index("--faces") + 1] = str(case / "faces")
        hopper.faults = {len(hopper.cards): fault}
        status, out, _ = run_cli(capsys, *argv)
        failed = [event for event in events(out) if event["event"] == "card_failed"]
        assert status == 1 and [e["row"] for e in failed] == [1], number
        assert list((case / "faces").iterdir()) == [], number  # no face: no key anywhere
        assert "seal_key" not in failed[0]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_tag_whose_face_cannot_be_written_is_revoked_and_issued_again_by_the_next_run(
    tmp_path: Path,
    hopper: Hopper,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sealed tag's key is on its face only: a tag whose face is lost must not count."""
    from cityid_card import qr

    station = Station(tmp_path / "station", ["Ana Sofia Rivera Delgado", "Bo Li", "Mai"])
    faces = tmp_path / "faces"
    real_fsync = os.fsync

    def disk_full_at_row_2(fd: int) -> None:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".row-0002."):
            raise OSError(28, os.strerror(28))  # ENOSPC
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full_at_row_2)
    argv = station.argv("sim:ntag215", "--faces", str(faces), "--face-png", "--json")
    status, out, err = run_cli(capsys, *argv)
    assert (status, err) == (1, "")
    failed = [e for e in events(out) if e["event"] == "card_failed"]
    assert [(e["row"], e["error"], e["revoked"]) for e in failed] == [(2, "FaceError", True)]
    finished = events(out)[-1]
    assert (finished["issued"], finished["stopped"]) == (1, "face_error")
    assert finished["message"] == "cannot write the face row-0002.pdf: No space left on device"
    assert station.recorded() == [station.names[0]]
    registry = StatusRegistry.load(station.registry)
    assert registry.get(failed[0]["status_index"]) is StatusValue.INVALID
    assert sorted(p.name for p in faces.iterdir()) == ["row-0001.pdf", "row-0001.png"]
    assert len(hopper.cards) == 2
    monkeypatch.setattr(os, "fsync", real_fsync)
    status, out, err = run_cli(capsys, *argv)  # the disk has room again: run once more
    assert (status, err) == (0, "")
    assert [e["row"] for e in events(out) if e["event"] == "card_done"] == [2, 3]
    assert station.recorded() == [station.names[0], station.names[1], station.names[2]]
    assert len(list(faces.iterdir())) == 6
    trust = TrustStore([station.issuer.public()])
    for number, row in ((2, 2), (3, 3)):  # each new face's key opens its tag
        key = qr.seal_key(qr.read_image((faces / f"row-{row:04d}.png").read_bytes()))
        assert hopper.read_back(number, trust, key).credential.name == station.names[row - 1]
    assert_no_personal_data(station, out, err)


def test_face_options_without_faces_are_refused(
    station: Station, hopper: Hopper, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(capsys, *station.argv("sim:card", "--face-png"))
    assert (status, out) == (2, "")
    assert err == (
        "error: --face-png, --force, --font, --bold-font and --title go with --faces DIR "
        "(FaceError)\n"
    )
    assert hopper.cards == [] and not station.records.exists()


def _cli(station: Station, *argv: str, **options: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cityid_card", *argv],
        cwd=station.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def test_a_batch_killed_while_it_waits_for_a_card_resumes(station: Station, tmp_path: Path) -> None:
    # One card that keeps its state: the second applicant waits for a blank card.
    one_card = f"sim:card:{tmp_path / 'card.json'}"
    process = _cli(station, *station.argv(one_card, "--json", "--wait", "60"))
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "waiting":
            process.terminate()
    assert process.wait() == 130 and process.stderr is not None and process.stderr.read() == ""
    assert [(e["event"], e.get("row")) for e in seen] == [
        ("start", None), ("card_done", 1), ("waiting", 2), ("card_skipped", 2),
        ("finished", None),
    ]  # fmt: skip
    assert seen[2]["error"] == "CardLocked" and seen[3]["reason"] == "interrupted"
    assert seen[-1]["stopped"] == "interrupted"
    assert station.recorded() == station.names[:1]
    resumed = _cli(station, *station.argv("sim:card", "--json"))
    out, err = resumed.communicate()
    assert (resumed.returncode, err) == (0, "")
    assert [(e["event"], e.get("row")) for e in events(out)] == [
        ("start", None), ("card_skipped", 1), ("card_done", 2), ("card_done", 3),
        ("finished", None),
    ]  # fmt: skip
    assert station.recorded() == station.names


# ---------------------------------------------------------------------------------------
# Privacy: names reach the card, the records file and nothing else


def _files(root: Path, since: float = 0.0) -> Iterator[Path]:
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            try:
                if not path.is_symlink() and path.is_file() and path.stat().st_mtime >= since:
                    yield path
            except OSError:
                continue


def _holding(paths: Iterator[Path], needles: list[bytes]) -> set[Path]:
    found = set()
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(needle in data for needle in needles):
            found.add(path)
    return found


def test_names_reach_nothing_but_the_cards_and_the_records_file(
    softhsm: Path,
    tmp_path: Path,
    hopper: Hopper,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = time.time() - 1
    system_temp = Path(tempfile.gettempdir())
    mark = secrets.token_hex(4)
    names = [f"Zorvath{mark} Quillmore-Ébène {n}" for n in range(6)]
    station = Station(tmp_path / "station", names)
    temp = tmp_path / "tmp"
    temp.mkdir()
    uri = f"pkcs11:token={TOKEN};object=batch-privacy"
    with IssuerKey.generate_in_token(uri, "ES256", pin=PIN) as token_key:
        StatusRegistry.for_key(token_key, 4096).save(station.registry)
    (station.folder / "pin").write_text(PIN)
    argv = station.argv("sim:card", "--passphrase-file", "pin", "--json")
    argv[argv.index("--key") + 1] = uri
    second = [*argv, "--reader", "sim:ntag215", "--records", "second.jsonl", "--open-record"]
    second.remove("--json")
    outputs: list[str] = []
    # The station's process: JSON events on sim:card, plain lines on sim:ntag215.
    environment = {**os.environ, "TMPDIR": str(temp)}
    for command in (argv, second):
        process = _cli(station, *command, env=environment)
        out, err = process.communicate()
        assert process.returncode == 0, err
        outputs += [out, err]
    # In this process, with every log record kept (nfcpy's too): a card that fails, one
    # interrupted, then the rest; and a run on NFC tags.
    caplog.set_level("DEBUG")
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(station.folder)
    hopper.faults = {
        1: lambda card: card.remove_at(4, "during"),
        3: at_command(3, lambda: signal.raise_signal(signal.SIGINT)),
    }
    third = [*second, "--reader", "sim:card", "--records", "third.jsonl"]
    fourth = [*second, "--reader", "sim:ntag215", "--records", "fourth.jsonl"]
    for command, expected in ((third, 130), (third, 0), (fourth, 0)):
        status, out, err = run_cli(capsys, *command)
        assert status == expected
        outputs += [out, err]
    assert "card FAILED" in outputs[-5] and "already issued" in outputs[-4]
    outputs += [caplog.text, *(repr(record.__dict__) for record in caplog.records)]

    needles = [name.encode() for name in names] + [mark.encode()]
    for text in outputs:
        assert mark not in text and mark.encode().hex() not in text.lower()
    # Every file of the station, its temp dir and the token; new files in the system's.
    found = _holding(_files(tmp_path), needles) | _holding(_files(softhsm.parent), needles)
    found |= _holding(_files(system_temp, since=start), needles)
    assert found == {
        station.applicants,
        station.records,
        station.folder / "second.jsonl",
        station.folder / "third.jsonl",
        station.folder / "fourth.jsonl",
    }
    assert list(temp.iterdir()) == []


def test_the_tag_example_of_batch_help_runs_as_written(
    tmp_path: Path,
    hopper: Hopper,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shlex

    from cityid_card.cli._examples import _EXAMPLES

    (example,) = [e for e in _EXAMPLES["cityid-card batch"] if "sim:ntag" in e]
    argv = shlex.split(example.replace("\\\n", " "))[1:]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "issuer.pem").write_bytes(IssuerKey.generate("ES256", kid="CHI-EX").to_pem())
    (tmp_path / "applicants.jsonl").write_text(
        '{"name": "Ana Rivera", "date_of_birth": "1990-04-12"}\n', encoding="utf-8"
    )
    status, out, err = run_cli(capsys, *argv)
    assert (status, err) == (0, ""), out
    (done,) = [e for e in events(out) if e["event"] == "card_done"]
    assert (done["medium"], done["sealed"]) == ("nfc_tag", True)
    assert [p.name for p in (tmp_path / "faces").iterdir()] == ["row-0001.pdf"]
