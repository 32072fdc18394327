"""The issuance station (cityid_card.station): applicants, records, resuming, failures.

Cards come from a :class:`Hopper`, a card source handed to the batch like the reader a
station is given: every card it hands out is a fresh blank emulated card (a contact
card, or an NTAG21x under nfcpy), kept so that a test can break the n-th one at a
chosen command and then read what the card holds afterwards, as a verifier would.
Time is a :class:`FakeClock`: waiting for a card costs no wall-clock time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.metadata
import importlib.util
import itertools
import json
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
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
from cityid_card.drivers import SimConnection
from cityid_card.errors import CityIDError, FaceError, KeyOutsideValidity, StatusListError
from cityid_card.iso7816 import personalize, verify_card
from cityid_card.iso7816.applet import CardApplication
from cityid_card.media import Verification
from cityid_card.media.errors import DriverError
from cityid_card.station import (
    RECORD_FIELDS,
    Applicant,
    ApplicantError,
    BatchEvent,
    BatchFinished,
    BatchOptions,
    CardDone,
    CardFailed,
    CardSkipped,
    CardSource,
    FaceFolder,
    InvalidApplicantField,
    Medium,
    ReaderCards,
    Record,
    RecordsError,
    RecordsFile,
    RecordsList,
    RegistryFile,
    UnknownApplicantField,
    Waiting,
    applicants_from_rows,
    check_batch,
    load_applicants,
    medium_for,
    plan_batch,
    read_records,
    run_batch,
)
from cityid_card.type2 import NTAG213, NTAG215, NTAG216, seal
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card.type2.errors import SealedTag, TagCapacityError
from cityid_card.type2.memory import PRODUCTS
from cityid_card.type2.session import verify_tag
from cityid_card_nfc.driver import Type2Connection
from cityid_card_nfc.sim import open_emulated

from .conftest import NOW, PIN, REPO, TOKEN

TODAY = NOW.date()
EXPIRES = date(2032, 5, 31)


def people(count: int, prefix: str = "Holder") -> list[Applicant]:
    """Applicants with names and dates of birth of the same length (so, same-size cards)."""
    return [
        Applicant(row, f"{prefix} {row:03d}", date(1980, 1, 1) + timedelta(days=row), EXPIRES)
        for row in range(1, count + 1)
    ]


@pytest.fixture(scope="module")
def key() -> IssuerKey:
    return IssuerKey.generate("ES256", kid="CHI-BATCH-1")


class FakeClock:
    """The batch's clock in a test: a fixed date, and seconds that pass only in sleep()."""

    def __init__(self, day: date = TODAY) -> None:
        self.day = day
        self.seconds = 0.0
        self.sleeps: list[float] = []

    def today(self) -> date:
        return self.day

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.seconds += seconds


_TAGS = {f"ntag{product.name[4:]}": product for product in PRODUCTS}


class Hopper:
    """A card source of fresh blank emulated cards; ``faults[n]`` breaks the n-th card.

    ``kind`` is ``card`` (a contact chip card) or ``ntag213``, ``ntag215``, ``ntag216``.
    A fault is called with the card as it is handed out: the SimConnection of a chip
    card, the EmulatedNtag of a tag (before nfcpy activates it).
    """

    def __init__(self, kind: str = "card") -> None:
        self.kind = kind
        self.cards: list[Any] = []
        self.faults: dict[int, Callable[[Any], None]] = {}

    @property
    def reader(self) -> str:
        return f"sim:{self.kind}"

    def source(self, uri: str, timeout: float = 0.0) -> CardSource:
        """This hopper for ``sim:card`` and ``sim:ntag21x``, the reader itself otherwise."""
        kind = uri.removeprefix("sim:")
        if kind != "card" and kind not in _TAGS:
            return ReaderCards(uri, timeout=timeout)
        self.kind = kind
        return self

    @contextlib.contextmanager
    def card(self) -> Iterator[Medium]:
        card: SimConnection | EmulatedNtag
        if self.kind == "card":
            card = SimConnection(CardApplication())
        else:
            card = EmulatedNtag(_TAGS[self.kind])
        fault = self.faults.get(len(self.cards))
        self.cards.append(card)
        if fault is not None:
            fault(card)
        connection = card if isinstance(card, SimConnection) else open_emulated(card)
        try:
            assert isinstance(connection, SimConnection | Type2Connection)
            yield medium_for(connection)
        finally:
            connection.close()

    def read_back(
        self, number: int, trust: TrustStore | Verifier, seal_key: bytes | None = None
    ) -> Verification:
        """Verify what the ``number``-th card holds, put back into a reader.

        A sealed tag is opened with ``seal_key`` (the key on its card face).
        """
        card = self.cards[number]
        card.insert()
        if isinstance(card, SimConnection):
            return verify_card(card, trust, NOW)
        connection = open_emulated(card)
        try:
            assert isinstance(connection, Type2Connection)
            return verify_tag(connection, trust, NOW, seal_key=seal_key)
        finally:
            connection.close()


@pytest.fixture
def drawn_keys(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The seal keys the batch draws, in order: a test's view of the faces' QR codes."""
    keys: list[bytes] = []
    new_key = seal.new_key

    def drawing() -> bytes:
        keys.append(new_key())
        return keys[-1]

    monkeypatch.setattr(seal, "new_key", drawing)
    return keys


@pytest.fixture
def hopper() -> Hopper:
    return Hopper()


def at_command(number: int, action: Callable[[], object]) -> Callable[[SimConnection], None]:
    """A fault: ``action`` runs as the card receives its ``number``-th command (from 0)."""

    def fault(card: SimConnection) -> None:
        process = card.application.process
        count = itertools.count()

        def processed(apdu: bytes) -> bytes:
            if next(count) == number:
                action()
            return process(apdu)

        card.application.process = processed  # type: ignore[method-assign]

    return fault


class Station:
    """A station's files (registry, records), its clock, and the events of its last batch."""

    def __init__(
        self, folder: Path, key: IssuerKey, hopper: Hopper, registry_size: int = 1024
    ) -> None:
        folder.mkdir(exist_ok=True)
        self.key = key
        self.hopper = hopper
        self.clock = FakeClock()
        self.registry = folder / "registry.json"
        self.records = folder / "issued.jsonl"
        StatusRegistry.for_key(key, registry_size).save(self.registry)
        self.events: list[BatchEvent] = []

    def run(
        self,
        applicants: list[Applicant],
        reader: str = "sim:card",
        *,
        lock: bool = True,
        stop_on_error: bool = False,
        wait: float = 0,
        open_record: bool = False,
        **options: Any,
    ) -> BatchFinished:
        """A batch with the registry and records files, as the command line runs it."""
        self.events.clear()
        options = {
            "on_event": self.events.append,
            "clock": self.clock,
            "sleep": self.clock.sleep,
            **options,
        }
        with RecordsFile(self.records) as records:
            return run_batch(
                applicants,
                self.key,
                self.hopper.source(reader),
                records=records,
                indexes=RegistryFile(self.registry, self.key),
                options=BatchOptions(
                    lock=lock, stop_on_error=stop_on_error, wait=wait, open_record=open_record
                ),
                **options,
            )

    def done(self) -> list[CardDone]:
        return [event for event in self.events if isinstance(event, CardDone)]

    def failed(self) -> list[CardFailed]:
        return [event for event in self.events if isinstance(event, CardFailed)]

    def recorded(self) -> list[str]:
        return [record.name for record in read_records(self.records)]

    def published(self) -> Verifier:
        """A verifier with the status list the city would publish now."""
        trust = TrustStore([self.key.public()])
        token = sign_status_list(self.key, StatusRegistry.load(self.registry), issued_at=NOW)
        return Verifier(trust, [StatusListToken.from_bytes(token, trust)])

    def assert_set_aside(
        self, hopper: Hopper, number: int, applicant: Applicant, seal_key: bytes | None = None
    ) -> None:
        """The card failed, was reported, revoked, has no record, and verifies with no
        other data than the applicant's (if at all), and not once the list is published.

        ``seal_key``: the key the batch drew for a sealed tag (gone with the failure: the
        test keeps it to look inside anyway)."""
        (failed,) = self.failed()
        assert failed.row == applicant.row and failed.revoked
        assert StatusRegistry.load(self.registry).get(failed.status_index) is StatusValue.INVALID
        assert applicant.name not in self.recorded()
        try:
            held = hopper.read_back(number, TrustStore([self.key.public()]), seal_key).credential
        except CityIDError:
            return  # nothing on the card verifies
        assert (held.name, held.date_of_birth, held.status_index) == (
            applicant.name,
            applicant.date_of_birth,
            failed.status_index,
        )
        with pytest.raises(Revoked):
            hopper.read_back(number, self.published(), seal_key)

    def assert_resumes(self, applicants: list[Applicant], reader: str) -> None:
        """Run again: only who has no record gets a card, and then everyone has one."""
        missing = [a.row for a in applicants if a.name not in self.recorded()]
        result = self.run(applicants, reader)
        assert [event.row for event in self.done()] == missing
        assert result.ok and result.already_issued == len(applicants) - len(missing)
        assert sorted(self.recorded()) == sorted(a.name for a in applicants)


@pytest.fixture
def station(tmp_path: Path, key: IssuerKey, hopper: Hopper) -> Station:
    return Station(tmp_path / "station", key, hopper)


# ---------------------------------------------------------------------------------------
# Applicants files


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_file_is_read_with_row_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        "\ufeffname,date_of_birth,gender,expires\n"
        "Ana Sofia Rivera Delgado,1990-04-12,,2031-11-20\n"
        "\n"
        '"Nguyễn, Thị Mai",1985-12-01,female,\n',
    )
    first, second = load_applicants(path, valid_years=5, today=TODAY)
    assert (first.row, first.name, first.date_of_birth) == (
        1,
        "Ana Sofia Rivera Delgado",
        date(1990, 4, 12),
    )
    assert (first.gender, first.expires) == (None, date(2031, 11, 20))
    assert (second.row, second.name, second.gender) == (2, "Nguyễn, Thị Mai", "female")
    assert second.expires == date(2032, 6, 1)
    assert "Ana" not in repr(first) and "1990" not in repr(first)


def test_a_json_lines_file_is_read_with_row_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        '{"name": "Ana Sofia Rivera Delgado", "date_of_birth": "1990-04-12"}\n'
        "   \n"
        '{"name": "Nguyễn Thị Mai", "date_of_birth": "1985-12-01", "gender": "f", '
        '"expires": "2030-01-31"}\n',
    )
    first, second = load_applicants(path, expires=date(2031, 1, 1), today=TODAY)
    assert (first.row, first.expires, first.gender) == (1, date(2031, 1, 1), None)
    assert (second.row, second.expires, second.gender) == (2, date(2030, 1, 31), "f")


def test_cards_valid_for_years_from_the_29th_of_february() -> None:
    (applicant,) = applicants_from_rows(
        [{"name": "A B", "date_of_birth": "2000-01-01"}], valid_years=5, today=date(2028, 2, 29)
    )
    assert applicant.expires == date(2033, 2, 28)


@pytest.mark.parametrize(
    ("name", "text", "row", "column", "message"),
    [
        ("a.csv", "name,date_of_birth,address\nAna Ruiz,1990-04-12,12 Elm St\n", None, 3,
         "column 3 is not a field an applicant may have"),
        ("a.csv", "name,Zyxwquartz Plimsoll,date_of_birth\nAna Ruiz,555-0100,1990-04-12\n",
         None, 2, "column 2 is not a field"),
        ("a.jsonl", '{"name": "Ana Ruiz", "date_of_birth": "1990-04-12"}\n'
         '{"name": "Bo Li", "date_of_birth": "1991-01-01", "status_index": 7}\n', 2, 3,
         "row 2: key 3 is not a field an applicant may have"),
        ("a.jsonl", '{"name": "Ana Ruiz", "Zyxwquartz Plimsoll": "12 Elm St", '
         '"date_of_birth": "1990-04-12"}\n', 1, 2, "row 1: key 2 is not a field"),
    ],
)  # fmt: skip
def test_a_field_the_format_does_not_allow_is_refused_by_number_never_echoed(
    tmp_path: Path, name: str, text: str, row: int | None, column: int, message: str
) -> None:
    with pytest.raises(UnknownApplicantField) as caught:
        load_applicants(write(tmp_path / name, text), valid_years=5, today=TODAY)
    assert (caught.value.row, caught.value.column, caught.value.field) == (row, column, None)
    assert message in str(caught.value)
    assert "(allowed: name, date_of_birth, gender, expires)" in str(caught.value)
    # Neither the column or key as written (it may be a value) nor any value is shown.
    for text_in_file in ("address", "Zyxwquartz", "Plimsoll", "status_index", "Ana", "Elm"):
        assert text_in_file not in str(caught.value)
    for value in ("555", "1990"):
        assert value not in str(caught.value)


@pytest.mark.parametrize(
    "key",
    ["Ana Sofia Rivera Delgado lives at 12 Elm Street, Chicago", "name\x00", "tab\there"],
)
def test_a_key_that_may_be_a_value_is_not_shown(key: str) -> None:
    with pytest.raises(UnknownApplicantField) as caught:
        applicants_from_rows(
            [{"name": "Ana Ruiz", "date_of_birth": "1990-04-12", key: "x"}], today=TODAY
        )
    assert caught.value.field is None and (caught.value.row, caught.value.column) == (1, 3)
    assert str(caught.value).startswith("row 1: key 3 is not a field an applicant may have")
    assert key not in str(caught.value) and "Ana" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.csv", b"Ana Ruiz,1990-04-12\n", "the first line of a CSV file must name its columns"),
        ("a.csv", b"name,date_of_birth,name\nAna Ruiz,1990-04-12,Ana\n",
         "column 3 (name) appears twice"),
        ("a.csv", b"name,\nAna Ruiz,\n", "column 2 is not a field"),
        ("a.csv", b"name,date_of_birth\nAna Ruiz,1990-04-12,12 Elm St\n",
         "row 1 has more cells than the header has columns"),
        ("a.csv", b'name,date_of_birth\n"Ana "Ruiz,1990-04-12\n',
         "line 2 of the applicants file is not well-formed CSV"),
        ("a.csv", b"name,date_of_birth\nAna Ru\xefz,1990-04-12\n",
         "line 2 of the applicants file is not UTF-8 text"),
        ("a.csv", b"name,date_of_birth\n", "the applicants file holds no applicant"),
        ("a.jsonl", b'{"name": "Ana Ruiz", "date_of_birth": "1990-04-12"}\n["Ana Ruiz"]\n',
         "row 2 (line 2) is not a JSON object"),
        ("a.jsonl", b'{"name": "Ana Ruiz", "date_of_birth": "1990-04-12", "name": "Bo"}\n',
         "row 1: key name appears twice"),
        ("a.jsonl", b'{"name": "Ana Ruiz", "Ruiz": 1, "Ruiz": 2}\n',
         "row 1: key appears twice"),
        ("a.jsonl", b'{"name": "Ana Ruiz", ', "row 1 (line 1) is not a JSON object"),
        ("a.xlsx", b"name,date_of_birth\n", "must be CSV (.csv) or JSON Lines (.jsonl)"),
    ],
)  # fmt: skip
def test_a_broken_applicants_file_is_refused_by_line_never_by_value(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ApplicantError) as caught:
        load_applicants(tmp_path / name, valid_years=5, today=TODAY)
    assert message in str(caught.value)
    for value in ("Ana", "Ruiz", "Elm", "1990"):
        assert value not in str(caught.value)


def test_a_missing_applicants_file(tmp_path: Path) -> None:
    with pytest.raises(ApplicantError, match="cannot read the applicants file: No such file"):
        load_applicants(tmp_path / "nowhere.csv")


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"name": "Ana Ruiz", "date_of_birth": "12/04/1990"}, "date_of_birth",
         "date_of_birth must be a date as YYYY-MM-DD"),
        ({"name": "Ana Ruiz", "date_of_birth": "1990-02-30"}, "date_of_birth",
         "date_of_birth must be a date as YYYY-MM-DD"),
        ({"name": "Ana Ruiz", "date_of_birth": "2027-06-02"}, "date_of_birth",
         "date_of_birth is after the issue date, 2027-06-01"),
        ({"name": "Ana Ruiz", "date_of_birth": "1990-04-12", "expires": "2027-05-31"},
         "expires", "expires is before the issue date, 2027-06-01"),
        ({"date_of_birth": "1990-04-12"}, "name", "name is missing"),
        ({"name": "", "date_of_birth": "1990-04-12"}, "name", "name is missing"),
        ({"name": "Ana Ruiz"}, "date_of_birth", "date_of_birth is missing"),
        ({"name": "Ana Ruiz ", "date_of_birth": "1990-04-12"}, "name",
         "name must not begin or end with white space"),
        ({"name": "Ana Rui\u0301z", "date_of_birth": "1990-04-12"}, "name",
         "name must be in Unicode normalization form NFC"),
        ({"name": "Ana Ruiz", "date_of_birth": "1990-04-12", "gender": 7}, "gender",
         "gender must be text"),
        ({"name": ["Ana Ruiz"], "date_of_birth": "1990-04-12"}, "name", "name must be text"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_by_row_and_field_never_by_value(
    row: dict[str, Any], field: str, message: str
) -> None:
    rows = [{"name": "Bo Li", "date_of_birth": "1991-01-01"}, row]
    with pytest.raises(InvalidApplicantField) as caught:
        applicants_from_rows(rows, valid_years=5, today=TODAY)
    assert (caught.value.row, caught.value.field) == (2, field)
    assert str(caught.value) == f"row 2: {message}"


def test_an_expiry_must_come_from_the_row_or_the_batch() -> None:
    row = {"name": "Ana Ruiz", "date_of_birth": "1990-04-12"}
    with pytest.raises(InvalidApplicantField, match="row 1: expires is missing, and the batch"):
        applicants_from_rows([row], today=TODAY)
    with pytest.raises(ApplicantError, match="an expiry date or a number of years, not both"):
        applicants_from_rows([row], expires=EXPIRES, valid_years=5, today=TODAY)
    with pytest.raises(ApplicantError, match="must be at least 1"):
        applicants_from_rows([row], valid_years=0, today=TODAY)
    with pytest.raises(ApplicantError, match="row 1 is not a set of named fields"):
        applicants_from_rows([["Ana Ruiz", "1990-04-12"]], today=TODAY)  # type: ignore[list-item]
    with pytest.raises(ApplicantError, match="positive integer"):
        Applicant(0, "Ana Ruiz", date(1990, 4, 12), EXPIRES)


# ---------------------------------------------------------------------------------------
# Records and resuming


def test_resuming_skips_who_has_a_record_and_counts_namesakes() -> None:
    twins = [Applicant(row, "Maria Garcia", date(1990, 1, 1), EXPIRES) for row in (2, 5, 7)]
    other = Applicant(3, "Maria Garcia", date(1991, 1, 1), EXPIRES)
    applicants = [people(1)[0], twins[0], other, twins[1], twins[2]]

    def record(applicant: Applicant) -> Record:
        return Record(applicant.name, applicant.date_of_birth, TODAY, EXPIRES, 1, "K")

    plan = plan_batch(applicants, [record(applicants[0]), record(twins[0]), record(twins[0])])
    assert (plan.already_issued, plan.ambiguous) == ((1, 2, 5), ())
    assert [a.row for a in plan.to_issue] == [3, 7]
    plan = plan_batch(applicants, [record(twins[0])] * 4 + [record(other)])
    assert (plan.already_issued, plan.to_issue) == ((2, 3, 5, 7), (applicants[0],))
    # Namesakes who differ in what the records do not show: which one has the card?
    differing = [twins[0], Applicant(5, "Maria Garcia", date(1990, 1, 1), EXPIRES, gender="f")]
    plan = plan_batch(differing, [record(twins[0])])
    assert (plan.to_issue, plan.already_issued, plan.ambiguous) == ((), (), (2, 5))
    plan = plan_batch(differing, [record(twins[0])] * 2)
    assert plan.already_issued == (2, 5)


def test_a_records_file_that_is_not_one_is_refused_by_line(tmp_path: Path) -> None:
    good = json.dumps(Record("Ana Ruiz", date(1990, 4, 12), TODAY, EXPIRES, 7, "K").to_json())
    path = tmp_path / "issued.jsonl"
    path.write_text(f"{good}\n\n{good}\n")
    assert [r.status_index for r in read_records(path)] == [7, 7]
    path.write_text(f'{good}\n{{"name": "Ana Ruiz", "address": "Elm St"}}\n{good}\n')
    with pytest.raises(
        RecordsError, match=r"^line 2 of the records file is not an issuance record$"
    ):
        read_records(path)
    path.write_text(f"{good}\n{good[:30]}")
    with pytest.raises(RecordsError, match=r"ends in an incomplete line \(line 2\): the station"):
        read_records(path)
    with pytest.raises(RecordsError, match="cannot read the records file: No such file"):
        read_records(tmp_path / "nowhere.jsonl")


def test_records_are_six_fields_owner_only_and_on_disk_before_the_next_card(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    station.records.write_text("")
    station.records.chmod(0o644)
    synced: list[int] = []  # lines in the records file at each of its fsyncs
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if os.fstat(fd).st_ino == station.records.stat().st_ino:
            synced.append(len(station.records.read_bytes().splitlines()))

    def on_disk(event: BatchEvent) -> None:
        if isinstance(event, CardDone):
            assert synced[-1] == len(station.done()) + 1 == len(read_records(station.records))
        station.events.append(event)

    monkeypatch.setattr(os, "fsync", fsync)
    applicants = people(3)
    result = station.run(applicants, on_event=on_disk)
    assert result.issued == 3 and synced == [1, 2, 3]
    assert stat.S_IMODE(station.records.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in station.records.read_text().splitlines()]
    assert [list(line) for line in lines] == [list(RECORD_FIELDS)] * 3
    assert lines[0] == {
        "name": "Holder 001",
        "date_of_birth": "1980-01-02",
        "issued": "2027-06-01",
        "expires": "2032-05-31",
        "status_index": station.done()[0].status_index,
        "kid": "CHI-BATCH-1",
    }


def test_a_records_file_is_used_by_one_batch_at_a_time(station: Station, hopper: Hopper) -> None:
    with station.records.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(RecordsError, match="another batch is using the records file"):
            station.run(people(1))
    assert hopper.cards == []


def test_a_record_left_without_its_newline_is_kept_apart(station: Station) -> None:
    station.run(people(1))
    station.records.write_bytes(station.records.read_bytes().rstrip(b"\n"))
    station.run(people(2))
    assert station.recorded() == ["Holder 001", "Holder 002"]


# ---------------------------------------------------------------------------------------
# Personalising: every emulated reader is a hopper of blank cards


@pytest.mark.parametrize(
    ("reader", "medium", "product", "authenticity", "open_record"),
    [
        ("sim:card", "chip_card", None, "CHIP_AUTHENTICATED", False),
        ("sim:isodep", "chip_card", None, "CHIP_AUTHENTICATED", False),
        ("sim:ntag213", "nfc_tag", "NTAG213", "TAG_UID_BOUND", True),
        ("sim:ntag215", "nfc_tag", "NTAG215", "TAG_UID_BOUND", True),
        ("sim:ntag215", "nfc_tag", "NTAG215", "TAG_UID_BOUND", False),
        ("sim:ntag216", "nfc_tag", "NTAG216", "TAG_UID_BOUND", False),
    ],
)
def test_each_applicant_gets_a_fresh_card_personalised_verified_and_locked(
    station: Station,
    hopper: Hopper,
    drawn_keys: list[bytes],
    reader: str,
    medium: str,
    product: str | None,
    authenticity: str,
    open_record: bool,
) -> None:
    applicants = people(4)
    result = station.run(applicants, reader, open_record=open_record)
    assert result.ok and (result.issued, result.failed, result.remaining) == (4, 0, 0)
    assert [e.row for e in station.done()] == [1, 2, 3, 4]
    verifier = Verifier(TrustStore([station.key.public()]))
    registry = StatusRegistry.load(station.registry)
    cards = set()
    tag = medium == "nfc_tag"
    sealed = tag and not open_record
    assert len(drawn_keys) == (4 if sealed else 0) and len(set(drawn_keys)) == len(drawn_keys)
    for number, (applicant, done) in enumerate(zip(applicants, station.done(), strict=True)):
        assert (done.medium, done.product, done.authenticity.name) == (
            medium,
            product,
            authenticity,
        )
        assert done.locked and done.kid == "CHI-BATCH-1" and done.size == len(done.blob)
        # A tag is sealed under its own fresh key, handed to the program for the face only.
        assert done.sealed == (sealed if tag else None)
        assert done.seal_key == (drawn_keys[number] if sealed else None)
        assert "sealed" in done.to_json() and "seal_key" not in done.to_json()
        if sealed:
            with pytest.raises(SealedTag):  # a tap alone
                hopper.read_back(number, verifier)
        if hopper.cards:  # the hopper's (sim:isodep is the reader's own)
            held = hopper.read_back(number, verifier, done.seal_key).credential
            assert held.to_claims() == verifier.verify(done.blob, NOW).credential.to_claims()
        credential = verifier.verify(done.blob, NOW).credential
        assert credential.card_key is None or credential.tag_uid is None
        cards.add(credential.card_key or credential.tag_uid)
        assert (credential.name, credential.date_of_birth) == (
            applicant.name,
            applicant.date_of_birth,
        )
        assert (credential.issued, credential.expires, credential.gender) == (TODAY, EXPIRES, None)
        assert credential.status_index == done.status_index
        assert registry.is_taken(done.status_index)
        assert registry.get(done.status_index) is StatusValue.VALID
    assert len(cards) == 4 and None not in cards  # four cards, each bound to its chip or tag
    assert station.recorded() == [a.name for a in applicants]
    assert len({done.status_index for done in station.done()}) == 4


def test_a_tag_too_small_for_a_sealed_record_is_refused_before_it_is_written(
    station: Station, hopper: Hopper, key: IssuerKey
) -> None:
    # Before any card: a reader known to hand out only NTAG213s.
    with pytest.raises(TagCapacityError, match="row 1: a sealed credential needs 272 bytes"):
        check_batch(people(1), key, TODAY, tags=(NTAG213,))
    check_batch(people(1), key, TODAY, tags=(NTAG213,), open_record=True)
    check_batch(people(1), key, TODAY, tags=(NTAG213, NTAG215))
    # The longest credential seals to 509 bytes: an NTAG216 only.
    longest = [Applicant(1, "Ä" * 50, date(1990, 4, 12), EXPIRES, gender="Ö" * 16)]
    with pytest.raises(TagCapacityError, match="an NTAG215 has 496"):
        check_batch(longest, key, TODAY, tags=(NTAG213, NTAG215))
    check_batch(longest, key, TODAY, tags=(NTAG215, NTAG216))
    # At the reader: an NTAG213 that comes anyway is refused untouched, as a used card is.
    result = station.run(people(1), "sim:ntag213", wait=0.5)
    waiting = [e for e in station.events if isinstance(e, Waiting)]
    assert {(e.row, e.error) for e in waiting} == {(1, "TagCapacityError")}
    assert "use an NTAG215 or NTAG216" in waiting[0].message
    assert (result.stopped, result.issued, result.failed) == ("no_blank_card", 0, 0)
    assert all(tag.writes == 0 for tag in hopper.cards)
    assert not any(StatusRegistry.load(station.registry).is_taken(i) for i in range(1024))


@pytest.mark.parametrize(
    "reader", ["sim:card:{}/card.json", "sim:isodep:{}/card.json", "sim:ntag215:{}/tag.bin"]
)
def test_a_reader_with_a_state_file_holds_one_card_which_is_not_reused(
    station: Station, tmp_path: Path, reader: str
) -> None:
    reader = reader.format(tmp_path)
    result = station.run(people(2), reader, lock=False)  # a locked chip would say CardLocked
    assert [e.row for e in station.done()] == [1]
    waiting = [e for e in station.events if isinstance(e, Waiting)]
    refused = "TagNotBlank" if "ntag" in reader else "CardNotBlank"  # kind NotBlank, per medium
    assert [(e.row, e.error) for e in waiting] == [(2, refused)]
    assert (result.stopped, result.remaining) == ("no_blank_card", 1)
    assert result.message is not None and "no usable card for row 2" in result.message


def test_every_look_at_a_reader_without_a_usable_card_is_reported(
    station: Station, tmp_path: Path
) -> None:
    # An encoding program that swaps the card on each waiting event must see each card.
    result = station.run(people(2), f"sim:card:{tmp_path / 'card.json'}", wait=0.6)
    waiting = [event for event in station.events if isinstance(event, Waiting)]
    assert result.stopped == "no_blank_card"
    # Looks at 0, 0.25, 0.5 and 0.6 seconds on the batch's clock: none on the wall clock.
    assert [(event.row, event.error) for event in waiting] == [(2, "CardLocked")] * 4
    assert station.clock.sleeps == [0.25, 0.25, pytest.approx(0.1)]
    assert station.clock.seconds == pytest.approx(0.6)


def test_a_used_or_locked_card_is_refused_untouched_and_the_next_one_used(
    station: Station, hopper: Hopper, key: IssuerKey
) -> None:
    def used(card: SimConnection) -> None:
        personalize(SimConnection(card.application), key, people(9)[8].credential(
            status_index=3, issued=TODAY), lock=False, today=NOW.date())  # fmt: skip

    def locked(tag: EmulatedNtag) -> None:
        tag.memory[10:12] = b"\xff\xff"  # the static lock bits of pages 3 to 15

    def waits() -> list[tuple[int, str]]:
        return [(e.row, e.error) for e in station.events if isinstance(e, Waiting)]

    hopper.faults = {0: used, 2: locked}
    station.run(people(1), wait=5)
    assert waits() == [(1, "CardNotBlank")] and [e.row for e in station.done()] == [1]
    station.run(people(2), "sim:ntag215", wait=5)
    assert waits() == [(2, "TagLocked")] and [e.row for e in station.done()] == [2]
    held = hopper.read_back(0, TrustStore([key.public()])).credential
    assert (held.name, held.status_index) == ("Holder 009", 3)
    assert station.recorded() == ["Holder 001", "Holder 002"]


def test_the_status_index_is_saved_in_the_registry_before_the_card_is_written(
    station: Station, hopper: Hopper
) -> None:
    taken: list[set[int]] = []

    def look() -> None:
        registry = StatusRegistry.load(station.registry)
        taken.append({i for i in range(registry.size) if registry.is_taken(i)})

    hopper.faults = {0: at_command(2, look)}  # 2 commands check that the card is blank
    station.run(people(1))
    assert taken == [{station.done()[0].status_index}]


# ---------------------------------------------------------------------------------------
# A card that fails is reported, revoked, never left verifying with wrong data


CHIP_COMMANDS = ("SELECT", "GENERATE KEY", "UPDATE BINARY", "READ BINARY", "AUTHENTICATE", "LOCK")


@pytest.mark.parametrize("stage", ["before", "during", "after"])
@pytest.mark.parametrize("command", range(len(CHIP_COMMANDS)), ids=CHIP_COMMANDS)
def test_a_chip_card_pulled_out_at_any_command_is_set_aside_and_the_batch_resumes(
    station: Station, hopper: Hopper, command: int, stage: Any
) -> None:
    applicants = people(3)
    hopper.faults = {0: lambda card: card.remove_at(2 + command, stage)}
    result = station.run(applicants)
    assert (result.issued, result.failed, result.stopped, result.ok) == (2, 1, None, False)
    assert [(e.row, e.error) for e in station.failed()] == [(1, "CardRemoved")]
    station.assert_set_aside(hopper, 0, applicants[0])
    station.assert_resumes(applicants, "sim:card")


def _silent_after(frames: int) -> Callable[[EmulatedNtag], None]:
    def fault(tag: EmulatedNtag) -> None:
        tag.answer_limit = frames

    return fault


def _removed_at_write(index: int, stage: Any) -> Callable[[EmulatedNtag], None]:
    def fault(tag: EmulatedNtag) -> None:
        tag.remove_at_write(index, stage)

    return fault


@pytest.mark.parametrize("open_record", [False, True], ids=["sealed", "open"])
def test_a_tag_that_fails_at_any_frame_or_write_is_set_aside_and_the_batch_resumes(
    tmp_path: Path, hopper: Hopper, key: IssuerKey, drawn_keys: list[bytes], open_record: bool
) -> None:
    applicants = people(2)
    hopper.kind = "ntag215"
    # A clean run sizes the sweep; a registry of 16 keeps every credential the same size.
    with hopper.card() as medium:
        medium.check_blank()
    checked = hopper.cards[-1].frames
    Station(tmp_path / "clean", key, hopper, 16).run(
        applicants[:1], "sim:ntag215", open_record=open_record
    )
    frames, writes = hopper.cards[-1].frames, hopper.cards[-1].writes
    assert frames > checked + 30 and writes > 30
    faults = [_silent_after(limit) for limit in range(checked, frames)]
    faults += [
        _removed_at_write(index, stage)
        for index in range(writes)
        for stage in ("before", "during", "after")
    ]
    outcomes: set[tuple[str, bool]] = set()
    for number, fault in enumerate(faults):
        station = Station(tmp_path / f"case-{number}", key, hopper, 16)
        hopper.faults = {len(hopper.cards): fault}
        first = len(hopper.cards)
        drawn = len(drawn_keys)
        result = station.run(applicants, "sim:ntag215", open_record=open_record)
        assert (result.issued, result.failed) == (1, 1), number
        # The failed tag's key went nowhere: no event carries it (only the test kept it).
        assert all(not hasattr(event, "seal_key") for event in station.failed())
        seal_key = None if open_record else drawn_keys[drawn]
        station.assert_set_aside(hopper, first, applicants[0], seal_key)
        try:
            hopper.read_back(first, TrustStore([key.public()]), seal_key)
            outcomes.add((station.failed()[0].error, True))
        except CityIDError:
            outcomes.add((station.failed()[0].error, False))
        station.assert_resumes(applicants, "sim:ntag215")
    # Both kinds of failed tag were seen: blank (or torn), and complete but unlocked.
    assert outcomes >= {("TagRemoved", False), ("TagWriteError", True)}


def test_a_token_that_stops_signing_stops_the_batch(
    softhsm: Path, tmp_path: Path, hopper: Hopper
) -> None:
    uri = f"pkcs11:token={TOKEN};object=batch-unplugged"
    token_key = IssuerKey.generate_in_token(uri, "ES256", pin=PIN, kid="CHI-HSM-1")
    station = Station(tmp_path, token_key, hopper)
    applicants = people(3)

    def unplug(event: BatchEvent) -> None:
        station.events.append(event)
        if isinstance(event, CardDone):
            token_key.close()

    result = station.run(applicants, on_event=unplug)
    assert (result.issued, result.failed, result.stopped) == (1, 1, "key_error")
    assert result.message is not None and result.message.startswith("the issuer key failed: ")
    assert [(e.row, e.error) for e in station.failed()] == [(2, "TokenError")]
    with IssuerKey.from_uri(uri, pin=PIN, kid="CHI-HSM-1") as station.key:
        station.assert_set_aside(hopper, 1, applicants[1])
        station.assert_resumes(applicants, "sim:card")


def test_a_record_that_cannot_be_written_is_taken_back_and_its_card_revoked(
    station: Station, hopper: Hopper, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def failing_disk(fd: int) -> None:
        if station.records.exists() and os.fstat(fd).st_ino == station.records.stat().st_ino:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    applicants = people(2)
    monkeypatch.setattr(os, "fsync", failing_disk)
    result = station.run(applicants)
    assert (result.issued, result.failed, result.stopped) == (0, 1, "records_error")
    assert result.message == "cannot append to the records file: Input/output error"
    assert station.records.read_bytes() == b""
    station.assert_set_aside(hopper, 0, applicants[0])
    monkeypatch.setattr(os, "fsync", real_fsync)
    station.assert_resumes(applicants, "sim:card")


def test_without_a_registry_indexes_are_random_and_a_failed_card_is_not_revoked(
    tmp_path: Path, hopper: Hopper, key: IssuerKey
) -> None:
    events: list[BatchEvent] = []
    hopper.faults = {0: lambda card: card.remove_at(5, "before")}
    clock = FakeClock()
    result = run_batch(
        people(3), key, hopper, clock=clock, sleep=clock.sleep, on_event=events.append
    )
    assert (result.issued, result.failed) == (2, 1)
    (failed,) = [e for e in events if isinstance(e, CardFailed)]
    assert not failed.revoked and 0 <= failed.status_index < 2**20
    assert list(tmp_path.iterdir()) == []


def test_records_kept_in_memory_resume_a_batch(hopper: Hopper, key: IssuerKey) -> None:
    records = RecordsList()
    clock = FakeClock()
    hopper.faults = {1: lambda card: card.remove_at(3, "before")}
    first = run_batch(people(3), key, hopper, clock=clock, sleep=clock.sleep, records=records)
    assert (first.issued, first.failed) == (2, 1)
    assert [record.name for record in records.records] == ["Holder 001", "Holder 003"]
    again = run_batch(people(3), key, hopper, clock=clock, sleep=clock.sleep, records=records)
    assert (again.issued, again.already_issued, again.ok) == (1, 2, True)
    assert len({record.status_index for record in records.records}) == 3


def test_stop_on_error(station: Station, hopper: Hopper) -> None:
    hopper.faults = {1: lambda card: card.remove_at(3, "before")}
    result = station.run(people(3), stop_on_error=True)
    assert (result.issued, result.failed, result.remaining) == (1, 1, 1)
    assert (result.stopped, result.message) == ("stop_on_error", "row 2 failed: CardRemoved")


# ---------------------------------------------------------------------------------------
# Interrupted batches resume without a second card for anyone done


def _skipped(station: Station) -> list[tuple[int, str]]:
    return [(e.row, e.reason) for e in station.events if isinstance(e, CardSkipped)]


def test_ctrl_c_while_waiting_for_a_card_reports_that_applicant_not_done(
    station: Station, hopper: Hopper
) -> None:
    def interrupt(card: object) -> None:
        raise KeyboardInterrupt  # as the reader is asked for the 4th card

    applicants = people(5)
    hopper.faults = {3: interrupt}
    with pytest.raises(KeyboardInterrupt):
        station.run(applicants)
    assert _skipped(station) == [(4, "interrupted")]
    finished = station.events[-1]
    assert isinstance(finished, BatchFinished)
    assert (finished.stopped, finished.issued, finished.remaining) == ("interrupted", 3, 2)
    assert station.recorded() == ["Holder 001", "Holder 002", "Holder 003"]
    station.assert_resumes(applicants, "sim:card")
    assert _skipped(station) == [
        (1, "already_issued"),
        (2, "already_issued"),
        (3, "already_issued"),
    ]


def test_ctrl_c_while_sleeping_between_two_looks_stops_at_once(
    station: Station, tmp_path: Path
) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        station.run(people(3), f"sim:card:{tmp_path / 'card.json'}", wait=60, sleep=interrupted)
    kinds = [event.to_json()["event"] for event in station.events]
    assert kinds == ["start", "card_done", "waiting", "card_skipped", "finished"]
    assert _skipped(station) == [(2, "interrupted")]
    finished = station.events[-1]
    assert isinstance(finished, BatchFinished)
    assert (finished.stopped, finished.issued, finished.remaining) == ("interrupted", 1, 2)


class HeldCtrlC:
    """The ``hold`` of a batch, as the command line's: a Ctrl-C during the ``at``-th card
    (from 0) is kept until the card is reported, then raised."""

    def __init__(self, at: int, events: list[BatchEvent]) -> None:
        self.at = at
        self.events = events
        self.cards = 0
        self.reported_when_raised: list[str] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        number = self.cards
        self.cards += 1
        yield
        if number == self.at:
            self.reported_when_raised = [event.to_json()["event"] for event in self.events]
            raise KeyboardInterrupt


def test_a_ctrl_c_held_during_a_card_takes_effect_once_the_card_is_reported(
    station: Station, hopper: Hopper
) -> None:
    applicants = people(4)
    hold = HeldCtrlC(1, station.events)
    with pytest.raises(KeyboardInterrupt):
        station.run(applicants, hold=hold)
    assert hold.reported_when_raised[-1] == "card_done"
    assert [e.row for e in station.done()] == [1, 2] and station.failed() == []
    assert _skipped(station) == []  # no one was waiting: row 3 is simply not done
    finished = station.events[-1]
    assert isinstance(finished, BatchFinished)
    assert (finished.stopped, finished.remaining) == ("interrupted", 2)
    assert station.recorded() == ["Holder 001", "Holder 002"]
    assert hopper.read_back(1, station.published()).credential.name == "Holder 002"
    station.assert_resumes(applicants, "sim:card")


def test_a_ctrl_c_mid_card_without_a_hold_fails_and_revokes_that_card(
    station: Station, hopper: Hopper
) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    applicants = people(3)
    hopper.faults = {1: at_command(3, interrupt)}
    with pytest.raises(KeyboardInterrupt):
        station.run(applicants)
    (failed,) = station.failed()
    assert (failed.row, failed.message) == (2, "the batch was interrupted during this card")
    station.assert_set_aside(hopper, 1, applicants[1])
    station.assert_resumes(applicants, "sim:card")


def test_the_loop_installs_no_signal_handler_so_it_runs_in_a_worker_thread(
    station: Station,
) -> None:
    results: list[BatchFinished] = []
    worker = threading.Thread(target=lambda: results.append(station.run(people(2))))
    worker.start()
    worker.join()
    assert [result.issued for result in results] == [2]


def test_an_exception_in_the_middle_of_a_card_revokes_and_reports_it(
    station: Station, hopper: Hopper
) -> None:
    def crash() -> None:
        raise RuntimeError("Holder 002 crashed the driver")

    applicants = people(3)
    hopper.faults = {1: at_command(3, crash)}
    with pytest.raises(RuntimeError):
        station.run(applicants)
    (failed,) = station.failed()
    assert (failed.error, failed.message) == (
        "RuntimeError",
        "the station stopped with an unexpected error during this card",
    )
    assert "Holder" not in json.dumps(failed.to_json())
    station.assert_set_aside(hopper, 1, applicants[1])
    assert station.recorded() == ["Holder 001"]
    station.assert_resumes(applicants, "sim:card")


def test_a_failing_event_handler_stops_the_batch_after_the_record_is_kept(
    station: Station,
) -> None:
    def printer_jam(event: BatchEvent) -> None:
        station.events.append(event)
        if isinstance(event, CardDone) and event.row == 2:
            raise OSError(errno.EIO, "the card printer jammed")

    applicants = people(4)
    with pytest.raises(OSError, match="jammed"):
        station.run(applicants, on_event=printer_jam)
    assert station.recorded() == ["Holder 001", "Holder 002"]
    station.assert_resumes(applicants, "sim:card")


# ---------------------------------------------------------------------------------------
# Card faces: what cannot be printed is known before the card is touched

RIGHT_TO_LEFT = "سارة أحمد"
CJK = "王小明"


def test_an_applicant_whose_face_cannot_be_printed_gets_no_card(
    station: Station, hopper: Hopper, key: IssuerKey
) -> None:
    from cityid_card.station.faces import CardFaces

    applicants = people(4)
    applicants[1] = Applicant(2, RIGHT_TO_LEFT, date(1990, 4, 12), EXPIRES)
    applicants[2] = Applicant(3, CJK, date(1991, 5, 13), EXPIRES)
    result = station.run(applicants, faces=CardFaces(key.public()))
    skipped = [e for e in station.events if isinstance(e, CardSkipped)]
    assert [(e.row, e.reason, e.message) for e in skipped] == [
        (2, "not_printable", "the name is written right to left: card faces cannot print it yet"),
        (3, "not_printable",
         "the font has no glyph for a character of the name: give a font that covers it"),
    ]  # fmt: skip
    assert len(hopper.cards) == 2 and [e.row for e in station.done()] == [1, 4]
    assert (result.issued, result.not_printable, result.remaining, result.ok) == (2, 2, 0, False)
    start = station.events[0].to_json()
    assert (start["to_issue"], start["not_printable"]) == (2, 2)
    for text in [*(json.dumps(e.to_json(), ensure_ascii=False) for e in station.events)]:
        assert RIGHT_TO_LEFT not in text and CJK not in text and "1990" not in text


@pytest.mark.parametrize("reader", ["sim:card", "sim:ntag216"])
def test_a_face_that_passes_the_check_renders_from_the_card_written(
    station: Station, key: IssuerKey, reader: str
) -> None:
    from cityid_card import qr
    from cityid_card.face import CardFace
    from cityid_card.station.faces import CardFaces

    # The longest name and gender the format allows: the largest credential, and QR code.
    longest = Applicant(1, "Ä" * 50, date(1990, 4, 12), EXPIRES, gender="Ö" * 16)
    faces = CardFaces(key.public(), formats=("pdf", "png"))
    station.run([longest], reader, faces=faces)
    (done,) = station.done()
    rendered = faces.render(done.blob, seal_key=done.seal_key)
    assert rendered["pdf"].startswith(b"%PDF-") and rendered["png"].startswith(b"\x89PNG")
    if done.seal_key is not None:  # the sealed tag's key is in the face's QR code
        face = CardFace.from_credential(done.blob, seal_key=done.seal_key)
        assert qr.seal_key(qr.encode_sealed(done.blob, done.seal_key)) == done.seal_key
        assert face.qr_version > CardFace.from_credential(done.blob).qr_version


def test_the_face_check_lays_out_a_sealed_tags_qr_code_when_it_is_the_larger(
    key: IssuerKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cityid_card.face import CardFace
    from cityid_card.station import faces as module

    laid_out: list[bytes | None] = []
    real = CardFace.__init__

    def spy(self: Any, *args: Any, seal_key: bytes | None = None, **kwargs: Any) -> None:
        laid_out.append(seal_key)
        real(self, *args, seal_key=seal_key, **kwargs)

    monkeypatch.setattr(CardFace, "__init__", spy)
    # A chip's 33-byte key outweighs a tag's 10-byte UID and 16-byte seal key; were the
    # chip card's QR code text the shorter, the sealed tag's face is the one laid out.
    credential = people(1)[0].credential(status_index=0, issued=TODAY)
    module.CardFaces(key.public()).check(credential)
    module.CardFaces(key.public(), sealed_tags=False).check(credential)
    monkeypatch.setattr("cityid_card.qr.encode", lambda blob: "CID1:")
    module.CardFaces(key.public()).check(credential)
    assert laid_out == [None, None, bytes(16)]


def test_faces_that_cannot_be_drawn_at_all_are_refused_before_the_batch(
    tmp_path: Path, key: IssuerKey
) -> None:
    from cityid_card.station.faces import CardFaces

    (tmp_path / "font.ttf").write_bytes(b"not a font")
    with pytest.raises(FaceError, match="is not a TrueType font"):
        CardFaces(key.public(), font=tmp_path / "font.ttf")
    with pytest.raises(FaceError, match="must be pdf, png or svg"):
        CardFaces(key.public(), formats=("tiff",))  # type: ignore[arg-type]


def test_faces_are_written_owner_only_by_row_never_over_another(tmp_path: Path) -> None:
    folder = FaceFolder(tmp_path / "faces")
    assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
    written = folder.write(7, {"pdf": b"%PDF-", "png": b"\x89PNG"})
    assert [path.name for path in written] == ["row-0007.pdf", "row-0007.png"]
    assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o600}
    folder.check_free([1, 2, 8], ["pdf", "png"])
    with pytest.raises(FaceError, match=r"already holds row-0007\.png: print and delete"):
        folder.check_free([6, 7], ["png"])
    with pytest.raises(FaceError, match=r"^cannot write the face row-0007\.pdf: File exists$"):
        folder.write(7, {"pdf": b"%PDF-"})
    assert (folder.path / "row-0007.pdf").read_bytes() == b"%PDF-"
    assert sorted(path.name for path in folder.path.iterdir()) == [
        "row-0007.pdf",
        "row-0007.png",
    ]  # fmt: skip  (no temporary file left behind)
    replacing = FaceFolder(folder.path, replace=True)
    replacing.check_free([7], ["pdf"])
    replacing.write(7, {"pdf": b"%PDF-1.7"})
    assert (folder.path / "row-0007.pdf").read_bytes() == b"%PDF-1.7"
    assert stat.S_IMODE((folder.path / "row-0007.pdf").stat().st_mode) == 0o600


def _disk_full_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make every fsync of a file in ``folder`` fail as on a full disk; return the undo."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).parent == folder:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return lambda: monkeypatch.setattr(os, "fsync", real_fsync)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_sealed_tag_whose_face_cannot_be_written_is_revoked_unrecorded_and_reissued(
    station: Station,
    hopper: Hopper,
    key: IssuerKey,
    drawn_keys: list[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The face holds a sealed tag's only key: a tag whose face is lost must not count."""
    from cityid_card.station.faces import CardFaces

    faces, folder = CardFaces(key.public(), formats=("pdf", "png")), FaceFolder(tmp_path / "f")
    applicants = people(3)

    def disk_fills(event: BatchEvent) -> None:
        station.events.append(event)
        if isinstance(event, CardDone):  # after the first card's faces
            undo.append(_disk_full_in(folder.path, monkeypatch))

    undo: list[Callable[[], None]] = []
    result = station.run(
        applicants, "sim:ntag215", faces=faces, face_sink=folder, on_event=disk_fills
    )
    assert (result.issued, result.failed, result.stopped) == (1, 1, "face_error")
    assert result.message == "cannot write the face row-0002.pdf: No space left on device"
    assert [(e.row, e.error) for e in station.failed()] == [(2, "FaceError")]
    assert sorted(p.name for p in folder.path.iterdir()) == ["row-0001.pdf", "row-0001.png"]
    assert len(hopper.cards) == 2 and station.recorded() == ["Holder 001"]
    station.assert_set_aside(hopper, 1, applicants[1], seal_key=drawn_keys[1])
    undo[0]()
    folder = FaceFolder(folder.path)  # the next run, as the command makes it
    station.run(applicants, "sim:ntag215", faces=faces, face_sink=folder)
    assert [event.row for event in station.done()] == [2, 3]
    assert sorted(station.recorded()) == [a.name for a in applicants]
    assert len(list(folder.path.iterdir())) == 6
    for number, row in ((2, 2), (3, 3)):  # the faces' keys open the tags just written
        held = hopper.read_back(number, TrustStore([key.public()]), drawn_keys[number])
        assert held.credential.name == applicants[row - 1].name


def test_a_card_whose_record_cannot_be_kept_leaves_no_face(
    station: Station, hopper: Hopper, key: IssuerKey, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, drawn_keys: list[bytes],
) -> None:  # fmt: skip
    from cityid_card.station.faces import CardFaces

    real_fsync = os.fsync

    def failing_disk(fd: int) -> None:
        if station.records.exists() and os.fstat(fd).st_ino == station.records.stat().st_ino:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    faces, folder = CardFaces(key.public()), FaceFolder(tmp_path / "f")
    applicants = people(2)
    monkeypatch.setattr(os, "fsync", failing_disk)
    result = station.run(applicants, "sim:ntag215", faces=faces, face_sink=folder)
    assert (result.issued, result.failed, result.stopped) == (0, 1, "records_error")
    assert list(folder.path.iterdir()) == []  # written, then taken back with the card
    station.assert_set_aside(hopper, 0, applicants[0], seal_key=drawn_keys[0])
    monkeypatch.setattr(os, "fsync", real_fsync)
    station.run(applicants, "sim:ntag215", faces=faces, face_sink=FaceFolder(folder.path))
    assert [event.row for event in station.done()] == [1, 2]
    assert sorted(p.name for p in folder.path.iterdir()) == ["row-0001.pdf", "row-0002.pdf"]


def test_a_tag_that_fails_to_write_gets_no_face_and_its_applicant_a_new_tag(
    station: Station, hopper: Hopper, key: IssuerKey, tmp_path: Path, drawn_keys: list[bytes]
) -> None:
    from cityid_card.station.faces import CardFaces

    faces, folder = CardFaces(key.public()), FaceFolder(tmp_path / "f")
    applicants = people(3)
    hopper.faults = {1: _removed_at_write(30, "during")}
    result = station.run(applicants, "sim:ntag215", faces=faces, face_sink=folder)
    assert (result.issued, result.failed, result.stopped) == (2, 1, None)
    assert sorted(p.name for p in folder.path.iterdir()) == ["row-0001.pdf", "row-0003.pdf"]
    station.assert_set_aside(hopper, 1, applicants[1], seal_key=drawn_keys[1])
    station.run(applicants, "sim:ntag215", faces=faces, face_sink=FaceFolder(folder.path))
    assert [event.row for event in station.done()] == [2]
    assert len(list(folder.path.iterdir())) == 3


def test_a_face_sink_needs_the_faces_that_render_them(untouched: Station, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a face_sink needs the faces"):
        untouched.run(people(1), face_sink=FaceFolder(tmp_path / "f"))


def test_a_face_folder_writes_all_formats_of_a_row_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cityid_card import _files
    from cityid_card.station import edge

    folder = FaceFolder(tmp_path / "faces")
    real_write = _files.write_file

    def png_fails(target: Path, data: bytes, **options: Any) -> None:
        if target.suffix == ".png":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(target, data, **options)

    monkeypatch.setattr(edge, "write_file", png_fails)
    with pytest.raises(FaceError, match=r"^cannot write the face row-0003\.png: No space left"):
        folder.write(3, {"pdf": b"%PDF-", "png": b"\x89PNG"})
    assert list(folder.path.iterdir()) == []  # the pdf already written is removed
    monkeypatch.setattr(edge, "write_file", real_write)
    # remove() takes back what this folder wrote, and nothing it did not write.
    (folder.path / "row-0004.pdf").write_bytes(b"another job's face")
    folder.write(3, {"pdf": b"%PDF-"})
    folder.remove(4)
    folder.remove(3)
    assert [path.name for path in folder.path.iterdir()] == ["row-0004.pdf"]


# ---------------------------------------------------------------------------------------
# What a batch refuses before touching a card


@pytest.fixture
def untouched(station: Station, hopper: Hopper) -> Iterator[Station]:
    yield station
    assert hopper.cards == []
    assert not station.records.exists() or station.records.read_bytes() == b""


def test_duplicate_rows_and_dates_that_do_not_fit_today(untouched: Station) -> None:
    twice = [people(1)[0], people(1)[0]]
    with pytest.raises(ApplicantError, match="row 1 appears twice"):
        untouched.run(twice)
    untouched.clock.day = EXPIRES + timedelta(days=1)
    with pytest.raises(InvalidApplicantField, match="row 1: expires is before the issue date"):
        untouched.run(people(1))


def test_a_key_that_may_not_issue_today(untouched: Station) -> None:
    expired = IssuerKey.generate("ES256", kid="OLD", valid_until=TODAY - timedelta(days=1))
    clock = FakeClock()
    with pytest.raises(KeyOutsideValidity, match="outside that window"):
        run_batch(people(1), expired, untouched.hopper, clock=clock, sleep=clock.sleep)


def test_a_registry_of_another_key(untouched: Station) -> None:
    with pytest.raises(StatusListError, match="belongs to another issuer key"):
        RegistryFile(untouched.registry, IssuerKey.generate("ES256"))


def test_a_reader_without_a_driver(untouched: Station) -> None:
    with pytest.raises(DriverError, match="no driver for 'nowhere' is installed"):
        untouched.run(people(1), "nowhere:0")


@pytest.mark.parametrize(
    ("uri", "package"),
    [("pcsc:0", "pip install ./drivers/pcsc"), ("nfc", "pip install ./drivers/nfc")],
)
def test_a_reader_whose_driver_is_not_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, uri: str, package: str
) -> None:
    # A station with the library alone: no package has registered a driver.
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    with pytest.raises(DriverError) as caught:
        ReaderCards(uri)
    assert str(caught.value).startswith(f"no driver for '{uri[:4]}' is installed (installed: sim)")
    assert package in str(caught.value)


def test_a_records_file_that_cannot_be_opened(untouched: Station, tmp_path: Path) -> None:
    untouched.records = tmp_path / "no-such-folder" / "issued.jsonl"
    with pytest.raises(RecordsError, match="cannot open the records file: No such file"):
        untouched.run(people(1))


# ---------------------------------------------------------------------------------------
# Events


def test_events_say_rows_and_numbers_never_personal_data(station: Station, hopper: Hopper) -> None:
    applicants = people(4)
    station.run(applicants[:1])
    hopper.faults = {1: lambda card: card.remove_at(4, "during")}
    station.run(applicants)
    kinds = [event.to_json()["event"] for event in station.events]
    assert kinds == ["start", "card_skipped", "card_failed", "card_done", "card_done", "finished"]
    lines = [json.dumps(event.to_json()) for event in station.events]
    assert json.loads(lines[0]) == {
        "event": "start", "applicants": 4, "to_issue": 3, "already_issued": 1, "ambiguous": 0,
        "not_printable": 0, "reader": "sim:card", "kid": "CHI-BATCH-1", "lock": True,
        "sealed_tags": True,
    }  # fmt: skip
    failed = json.loads(lines[2])
    assert failed == {
        "event": "card_failed", "row": 2, "error": "CardRemoved",
        "message": "the card was removed from the reader",
        "status_index": failed["status_index"], "revoked": True,
    }  # fmt: skip
    assert set(json.loads(lines[3])) == {
        "event", "row", "status_index", "kid", "authenticity", "locked", "medium", "product",
        "bytes", "sealed",
    }  # fmt: skip
    finished = json.loads(lines[-1])
    assert (finished["issued"], finished["failed"], finished["already_issued"]) == (2, 1, 1)
    for text in [*lines, *map(repr, station.events)]:
        for applicant in applicants:
            assert applicant.name not in text
            assert applicant.date_of_birth.isoformat() not in text


# ---------------------------------------------------------------------------------------
# benchmarks/batch.py


def test_the_batch_benchmark_measures_every_reader_with_both_keys(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # it shares issue.py's token set-up
    spec = importlib.util.spec_from_file_location(
        "batch_benchmark", REPO / "benchmarks" / "batch.py"
    )
    assert spec is not None and spec.loader is not None
    benchmark = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "batch_benchmark", benchmark)  # for its dataclass
    spec.loader.exec_module(benchmark)
    uri = f"pkcs11:token={TOKEN};object=batch-benchmark"
    with IssuerKey.generate_in_token(uri, "ES256", pin=PIN) as token_key:
        rows = benchmark.run(IssuerKey.generate("ES256"), token_key, 3, 1, tmp_path)
    readers = ["sim:card", "sim:ntag215", "sim:isodep"]
    keys = ["ES256, PEM file", "ES256, SoftHSM2"]
    assert [(row.reader, row.key) for row in rows] == list(itertools.product(readers, keys))
    for file_row, token_row in zip(rows[::2], rows[1::2], strict=True):
        assert file_row.ratio == 1.0 and file_row.cards_per_minute > 0
        assert token_row.ratio == token_row.cards_per_minute / file_row.cards_per_minute
    lines = benchmark.table(rows, 3).splitlines()
    assert lines[0] == "Batches of 3 applicants, each card locked; best of the runs."
    assert lines[2] == "| medium | reader | key | cards per minute | ms per card | vs PEM file |"
    assert len(lines) == 4 + 6 and lines[5].startswith(
        "| contact card | `sim:card` | ES256, SoftHSM2 | "
    )
