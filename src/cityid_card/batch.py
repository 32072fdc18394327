"""Batch personalisation: a file of applicants, a hopper of blank cards, one records file.

For each applicant in turn, :func:`run_batch` waits for a blank card on the reader,
takes a status index (from the registry, saved before anything is written to the card),
has the card's :class:`Medium` personalise it, and appends the applicant's issuance
:class:`Record` to the records file, on disk before the next card. A card that fails at
any step, or whose record cannot be kept, is reported (:class:`CardFailed`) and set
aside; its status index is revoked in the registry, so a card that failed after its
credential was written never verifies as valid once the status list is published.

Two media, chosen by what the reader holds (:func:`medium_for`):

- :class:`ChipCard`, an ISO 7816 card, contact or ISO-DEP: the chip makes its key pair,
  the credential binds it, is written, read back, verified, the chip authenticated, and
  with ``lock`` the card is locked (:func:`cityid_card.card.personalize`);
- :class:`NfcTag`, an NTAG213/215/216: the credential binds the tag's UID, is written,
  read back, verified, and with ``lock`` the tag is made read-only
  (:func:`cityid_card.card.tag.personalize_tag`).

Privacy: the applicants are read into memory and their data goes to the card and the
records file only. Events, errors and ``repr`` name applicants by their row number;
no name or date of birth ever reaches a message, a log or a temporary file.

Resuming: a batch run again with the same records file skips the applicants it already
holds records for, matching on name and date of birth. Two applicants of one file with
the same name and date of birth are told apart by count: with k records for them, the
first k such rows are done. If they differ in gender or expiry and only some of them
have records, which ones is unknowable: those rows are skipped as ``ambiguous``, to be
settled by a person, rather than risk a second card for someone. Ctrl-C or SIGTERM
during a card takes effect once that card is done or failed; an exception in the middle
of one revokes it; a record that cannot be written is taken back and its card revoked.
Only a power cut or a SIGKILL in the instant between a card's last step and its record
reaching the disk leaves a valid card without a record (see docs/printer-integration.md).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar, Protocol, runtime_checkable

from .card.session import Authenticity, CardSession, personalize
from .card.tag import Contents, TagLink, TagSession, personalize_tag
from .credential import Credential
from .drivers import DEFAULT_TIMEOUT, Connection, connect, load_driver, parse_uri
from .errors import (
    ApplicantError,
    BlankCard,
    CardError,
    CardLocked,
    CardNotBlank,
    CityIDError,
    ClaimError,
    DriverError,
    InvalidApplicantField,
    InvalidKey,
    KeyNotValid,
    RecordsError,
    TagLocked,
    UnknownApplicantField,
    UnsupportedTag,
)
from .keys import IssuerKey
from .status import DEFAULT_ENTRIES, StatusRegistry, StatusValue

if sys.platform != "win32":
    import fcntl

__all__ = [
    "APPLICANT_FIELDS",
    "DEFAULT_WAIT",
    "RECORD_FIELDS",
    "Applicant",
    "BatchEvent",
    "BatchFinished",
    "BatchPlan",
    "BatchStarted",
    "CardDone",
    "CardFailed",
    "CardSkipped",
    "ChipCard",
    "IndexRecorder",
    "Medium",
    "NfcTag",
    "Personalised",
    "Record",
    "Waiting",
    "applicants_from_rows",
    "load_applicants",
    "medium_for",
    "plan_batch",
    "read_records",
    "run_batch",
]

#: The fields an applicant may have: those the credential prints, and nothing else.
APPLICANT_FIELDS = ("name", "date_of_birth", "gender", "expires")
#: The fields of an issuance record, in the order they are written.
RECORD_FIELDS = ("name", "date_of_birth", "issued", "expires", "status_index", "kid")
#: Seconds a batch waits for a usable card for one applicant before it stops.
DEFAULT_WAIT = 60.0
#: Seconds between two looks for a blank card after a card was refused.
_POLL = 0.25
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Longest column or key name a message quotes; anything longer may be a value.
_MAX_LABEL = 40


# ---------------------------------------------------------------------------------------
# Applicants


@dataclass(frozen=True)
class Applicant:
    """One applicant of a batch, checked against the credential's rules.

    ``row`` is the applicant's number in its file, from 1 (a CSV header is no row, nor
    is a blank line): events and errors name applicants by it. ``repr`` shows no
    personal data.
    """

    row: int
    name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    expires: date
    gender: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.row, int) or isinstance(self.row, bool) or self.row < 1:
            raise ApplicantError("an applicant's row number must be a positive integer")
        try:
            self.credential(status_index=0, issued=None)
        except ClaimError as error:  # its messages name the field, never the value
            raise InvalidApplicantField(
                f"row {self.row}: {error}", row=self.row, field=_blamed_field(error)
            ) from None

    def credential(self, *, status_index: int, issued: date | None) -> Credential:
        """The credential to issue for this applicant."""
        return Credential(
            name=self.name,
            date_of_birth=self.date_of_birth,
            expires=self.expires,
            issued=issued,
            gender=self.gender,
            status_index=status_index,
        )

    def check_issuable(self, today: date) -> None:
        """Raise InvalidApplicantField unless a card issued ``today`` can carry these dates."""
        if self.date_of_birth > today:
            raise InvalidApplicantField(
                f"row {self.row}: date_of_birth is after the issue date, {today}",
                row=self.row,
                field="date_of_birth",
            )
        if self.expires < today:
            raise InvalidApplicantField(
                f"row {self.row}: expires is before the issue date, {today}",
                row=self.row,
                field="expires",
            )


def _blamed_field(error: ClaimError) -> str | None:
    """The field a claim error names first (its messages start with it), if any."""
    first = str(error).split(" ", 1)[0]
    return first if first in APPLICANT_FIELDS else None


def _field_name(key: object) -> str | None:
    """``key`` if it may be shown as a column or key name: short printable text."""
    if isinstance(key, str) and 0 < len(key) <= _MAX_LABEL and key.isprintable():
        return key
    return None


def _label(key: object) -> str:
    """A column or key quoted for a message; anything that might be a value is not shown."""
    name = _field_name(key)
    if name is not None:
        return repr(name)
    return "(no name)" if key == "" else "(not shown: not a field name)"


def _absent(value: object) -> bool:
    return value is None or value == ""


def _text(values: Mapping[Any, object], label: str, row: int) -> str | None:
    value = values.get(label)
    if _absent(value):
        return None
    if not isinstance(value, str):
        raise InvalidApplicantField(f"row {row}: {label} must be text", row=row, field=label)
    return value


def _date(values: Mapping[Any, object], label: str, row: int) -> date | None:
    value = values.get(label)
    if _absent(value):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise InvalidApplicantField(
        f"row {row}: {label} must be a date as YYYY-MM-DD", row=row, field=label
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year + years, day=28)


def _default_expiry(expires: date | None, valid_years: int | None, today: date) -> date | None:
    if expires is not None and valid_years is not None:
        raise ApplicantError("give the batch an expiry date or a number of years, not both")
    if valid_years is None:
        return expires
    if isinstance(valid_years, bool) or not isinstance(valid_years, int) or valid_years < 1:
        raise ApplicantError("the number of years a card is valid must be at least 1")
    return _add_years(today, valid_years)


def _applicant(
    row: int, values: Mapping[Any, object], default_expiry: date | None, today: date
) -> Applicant:
    for key in values:
        if key not in APPLICANT_FIELDS:
            raise UnknownApplicantField(
                f"row {row}: key {_label(key)} is not a field an applicant may have "
                f"(allowed: {', '.join(APPLICANT_FIELDS)})",
                row=row,
                field=_field_name(key),
            )
    name = _text(values, "name", row)
    if name is None:
        raise InvalidApplicantField(f"row {row}: name is missing", row=row, field="name")
    date_of_birth = _date(values, "date_of_birth", row)
    if date_of_birth is None:
        raise InvalidApplicantField(
            f"row {row}: date_of_birth is missing", row=row, field="date_of_birth"
        )
    expires = _date(values, "expires", row) or default_expiry
    if expires is None:
        raise InvalidApplicantField(
            f"row {row}: expires is missing, and the batch gives no expiry date or years",
            row=row,
            field="expires",
        )
    applicant = Applicant(row, name, date_of_birth, expires, _text(values, "gender", row))
    applicant.check_issuable(today)
    return applicant


def applicants_from_rows(
    rows: Iterable[Mapping[Any, object]],
    *,
    expires: date | None = None,
    valid_years: int | None = None,
    today: date | None = None,
) -> list[Applicant]:
    """Check rows of named fields (``name``, ``date_of_birth``, ``gender``, ``expires``).

    Rows are numbered from 1. Dates are :class:`~datetime.date` objects or YYYY-MM-DD
    text; an empty or missing ``gender`` is none, an empty or missing ``expires`` is
    ``expires`` (a date for the whole batch) or ``valid_years`` after ``today``. Any other
    field raises UnknownApplicantField, a bad value InvalidApplicantField: the first bad
    row, by number and field, never by value.
    """
    today = today or date.today()
    default_expiry = _default_expiry(expires, valid_years, today)
    applicants: list[Applicant] = []
    for row, values in enumerate(rows, start=1):
        if not isinstance(values, Mapping):
            raise ApplicantError(f"row {row} is not a set of named fields", row=row)
        applicants.append(_applicant(row, values, default_expiry, today))
    return applicants


def _csv_rows(text: str) -> Iterator[dict[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        if not any(cell in APPLICANT_FIELDS for cell in header):
            # Not shown: a file without its header starts with an applicant's data.
            raise ApplicantError(
                "the first line of a CSV file must name its columns "
                f"({', '.join(APPLICANT_FIELDS)}); none of its cells is a field name"
            )
        for position, cell in enumerate(header, start=1):
            if cell not in APPLICANT_FIELDS:
                raise UnknownApplicantField(
                    f"column {position} {_label(cell)} is not a field an applicant may have "
                    f"(allowed: {', '.join(APPLICANT_FIELDS)})",
                    field=_field_name(cell),
                )
            if header.index(cell) != position - 1:
                raise ApplicantError(f"column {position} {_label(cell)} appears twice", field=cell)
        row = 0
        for cells in reader:
            if not any(cells):
                continue
            row += 1
            if len(cells) > len(header):
                raise ApplicantError(
                    f"row {row} has more cells than the header has columns", row=row
                )
            yield dict(zip(header, cells, strict=False))
    except csv.Error:
        raise ApplicantError(
            f"line {reader.line_num} of the applicants file is not well-formed CSV"
        ) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _jsonl_rows(text: str) -> Iterator[Any]:
    row = 0
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        row += 1
        try:
            document = json.loads(line, object_pairs_hook=_unique_keys)
        except _DuplicateKey as duplicate:
            raise ApplicantError(
                f"row {row}: key {_label(duplicate.key)} appears twice", row=row
            ) from None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ApplicantError(f"row {row} (line {line_number}) is not a JSON object", row=row)
        yield document


def load_applicants(
    path: str | os.PathLike[str],
    *,
    expires: date | None = None,
    valid_years: int | None = None,
    today: date | None = None,
) -> list[Applicant]:
    """Read and check every applicant of a CSV (``.csv``) or JSON Lines (``.jsonl``) file.

    A CSV file is comma-separated and starts with a header naming its columns; a JSON
    Lines file holds one object per line. UTF-8, with or without a byte order mark.
    Anything but the applicant fields is refused before any card is touched, naming the
    column or key (UnknownApplicantField); the first row that breaks a rule raises,
    naming its number and field (see :func:`applicants_from_rows`).
    """
    location = Path(path)
    suffix = location.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ApplicantError("the applicants file must be CSV (.csv) or JSON Lines (.jsonl)")
    try:
        data = location.read_bytes()
    except OSError as error:
        raise ApplicantError(f"cannot read the applicants file: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ApplicantError(f"line {line} of the applicants file is not UTF-8 text") from None
    rows = _csv_rows(text) if suffix == ".csv" else _jsonl_rows(text)
    applicants = applicants_from_rows(rows, expires=expires, valid_years=valid_years, today=today)
    if not applicants:
        raise ApplicantError("the applicants file holds no applicant")
    return applicants


# ---------------------------------------------------------------------------------------
# Issuance records


@dataclass(frozen=True)
class Record:
    """One issued card, as the city keeps it: exactly the fields of RECORD_FIELDS."""

    name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    issued: date
    expires: date
    status_index: int
    kid: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat(),
            "status_index": self.status_index,
            "kid": self.kid,
        }

    @classmethod
    def from_json(cls, document: Any) -> Record:
        """Read a line's object; raise ValueError if it is not exactly a record."""
        if not isinstance(document, dict) or set(document) != set(RECORD_FIELDS):
            raise ValueError("not an issuance record")
        name, index, kid = document["name"], document["status_index"], document["kid"]
        if not isinstance(name, str) or not name or not isinstance(kid, str):
            raise ValueError("not an issuance record")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError("not an issuance record")
        dates = []
        for label in ("date_of_birth", "issued", "expires"):
            value = document[label]
            if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
                raise ValueError("not an issuance record")
            dates.append(date.fromisoformat(value))
        return cls(name, dates[0], dates[1], dates[2], index, kid)


def _parse_records(data: bytes) -> list[Record]:
    """The records in a records file's bytes; RecordsError names a line that is not one."""
    lines = data.split(b"\n")
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(Record.from_json(json.loads(line.decode("utf-8"))))
        except (ValueError, UnicodeDecodeError):
            if number == len(lines):  # no newline after it: the write was cut short
                raise RecordsError(
                    f"the records file ends in an incomplete line (line {number}): the "
                    "station stopped while writing it. Check that card by hand (cityid-card "
                    "verify --reader), then complete or remove the line"
                ) from None
            raise RecordsError(
                f"line {number} of the records file is not an issuance record"
            ) from None
    return records


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """The issuance records of a records file; RecordsError names a line that is not one."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise RecordsError(f"cannot read the records file: {error.strerror}") from None
    return _parse_records(data)


class _RecordsFile:
    """The records file of a running batch: owner-only, locked, appended line by line."""

    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise RecordsError(f"cannot open the records file: {error.strerror}") from None
        try:
            if sys.platform != "win32":
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise RecordsError(
                        "another batch is using the records file: one batch per file"
                    ) from None
            os.chmod(path, 0o600)
            _fsync_directory(path.parent)
            data = path.read_bytes()
            self.records = _parse_records(data)
            self._needs_newline = bool(data) and not data.endswith(b"\n")
        except BaseException:
            os.close(self._fd)
            raise

    def __enter__(self) -> _RecordsFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self._fd)

    def append(self, record: Record) -> None:
        """Append one line and wait until it is on disk; if that fails, take it back."""
        line = json.dumps(record.to_json(), ensure_ascii=False) + "\n"
        view = memoryview(("\n" + line if self._needs_newline else line).encode("utf-8"))
        size = os.fstat(self._fd).st_size
        try:
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size)
                os.fsync(self._fd)
            if isinstance(error, OSError):
                raise RecordsError(f"cannot append to the records file: {error.strerror}") from None
            raise
        self._needs_newline = False


def _fsync_directory(folder: Path) -> None:
    """Make a new file's directory entry durable (where the platform allows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------
# Resuming


@dataclass(frozen=True)
class BatchPlan:
    """Which applicants a batch issues, given the records of earlier runs (by row)."""

    to_issue: tuple[Applicant, ...]
    already_issued: tuple[int, ...]
    ambiguous: tuple[int, ...]


def plan_batch(applicants: Sequence[Applicant], records: Iterable[Record]) -> BatchPlan:
    """Skip the applicants the records already hold (see the module's description)."""
    done = Counter((record.name, record.date_of_birth) for record in records)
    groups: defaultdict[tuple[str, date], list[Applicant]] = defaultdict(list)
    for applicant in applicants:
        groups[applicant.name, applicant.date_of_birth].append(applicant)
    skipped: set[int] = set()
    ambiguous: set[int] = set()
    for key, group in groups.items():
        issued = done.get(key, 0)
        if issued >= len(group):
            skipped.update(applicant.row for applicant in group)
        elif issued and len({(a.gender, a.expires) for a in group}) == 1:
            skipped.update(applicant.row for applicant in group[:issued])
        elif issued:
            ambiguous.update(applicant.row for applicant in group)
    return BatchPlan(
        to_issue=tuple(a for a in applicants if a.row not in skipped | ambiguous),
        already_issued=tuple(a.row for a in applicants if a.row in skipped),
        ambiguous=tuple(a.row for a in applicants if a.row in ambiguous),
    )


# ---------------------------------------------------------------------------------------
# Media: what "personalise one card on this connection" means for each kind of card


@dataclass(frozen=True)
class Personalised:
    """What a medium reports for a card it personalised."""

    blob: bytes = field(repr=False)
    authenticity: Authenticity
    locked: bool
    #: The chip's product name, if the medium knows it (NTAG215, ...).
    product: str | None = None


class Medium(Protocol):
    """One card (or tag) on an open connection: check it is blank, personalise it."""

    @property
    def kind(self) -> str:
        """``chip_card`` or ``nfc_tag``, as events report it."""
        ...

    def check_blank(self) -> None:
        """Raise a CardError (CardNotBlank, CardLocked, ...) unless the card may be used."""
        ...

    def personalise(
        self, issuer: IssuerKey, credential: Credential, *, lock: bool, today: date
    ) -> Personalised:
        """Issue ``credential`` for this card, write it, read it back and verify it; lock."""
        ...


class ChipCard:
    """An ISO 7816 card with the cityid-card application, contact or contactless (ISO-DEP)."""

    kind = "chip_card"

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def check_blank(self) -> None:
        session = CardSession(self._connection)
        if session.select().locked:
            raise CardLocked("the card is locked: it was personalised for good already")
        try:
            session.read_credential()
        except BlankCard:
            return
        raise CardNotBlank("the card already holds a credential: it is refused, not overwritten")

    def personalise(
        self, issuer: IssuerKey, credential: Credential, *, lock: bool, today: date
    ) -> Personalised:
        blob, result = personalize(self._connection, issuer, credential, lock=lock, today=today)
        return Personalised(blob, result.authenticity, lock)


class NfcTag:
    """An NFC Type 2 tag (NTAG213/215/216); its credential binds the tag's UID."""

    kind = "nfc_tag"

    def __init__(self, link: TagLink) -> None:
        self._link = link

    def check_blank(self) -> None:
        if self._link.product is None:
            raise UnsupportedTag("the tag is not an NTAG213, NTAG215 or NTAG216")
        session = TagSession(self._link)
        contents = session.contents()
        if contents is Contents.CREDENTIAL:
            raise CardNotBlank("the tag already holds a credential: it is refused, not overwritten")
        if contents is Contents.FOREIGN:
            raise CardNotBlank("the tag holds other data: it is refused, not overwritten")
        session.read_lock_bytes()
        state = session.lock_state()
        if state is not None and (state.capability_container_read_only or state.locked_pages):
            raise TagLocked("the tag is read-only: its lock bits or capability container say so")

    def personalise(
        self, issuer: IssuerKey, credential: Credential, *, lock: bool, today: date
    ) -> Personalised:
        blob, write = personalize_tag(self._link, issuer, credential, lock=lock, today=today)
        assert write.verification is not None  # personalize_tag always verifies
        return Personalised(blob, write.verification.authenticity, write.locked, write.product)


def medium_for(connection: Connection | TagLink) -> Medium:
    """The medium for what a reader connection holds: an NFC tag, else a chip card."""
    if isinstance(connection, TagLink):
        return NfcTag(connection)
    return ChipCard(connection)


# ---------------------------------------------------------------------------------------
# Events: row numbers, never personal data


#: Field metadata of what an event carries for the program that runs the batch only.
_NOT_JSON = {"json": False}


@dataclass(frozen=True)
class _Event:
    event: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The event as one JSON object, ``event`` naming its kind."""
        values = {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.metadata.get("json", True)
        }
        return {"event": self.event, **values}


@dataclass(frozen=True)
class BatchStarted(_Event):
    """The applicants are checked and the records read: cards are next."""

    event: ClassVar[str] = "start"
    applicants: int
    to_issue: int
    already_issued: int
    ambiguous: int
    reader: str
    kid: str
    lock: bool


@dataclass(frozen=True)
class CardSkipped(_Event):
    """An applicant not issued in this run: ``already_issued``, or ``ambiguous`` (see above)."""

    event: ClassVar[str] = "card_skipped"
    row: int
    reason: str


@dataclass(frozen=True)
class Waiting(_Event):
    """No usable card for the applicant yet: none in the reader, or one that was refused.

    Reported for each look at the reader that finds no usable card (about four a second
    while the batch waits), so that a program that swaps the card on this event sees
    every card tried; a refused card is left as it is.
    """

    event: ClassVar[str] = "waiting"
    row: int
    error: str
    message: str


@dataclass(frozen=True)
class CardDone(_Event):
    """A card was personalised, verified (and locked, if asked) and its record kept.

    ``blob``, the credential as written (for the card face), is for the program that
    runs the batch; it is not part of :meth:`to_json`.
    """

    event: ClassVar[str] = "card_done"
    row: int
    status_index: int
    kid: str
    authenticity: Authenticity
    locked: bool
    medium: str
    product: str | None
    #: The credential's size in bytes.
    size: int
    blob: bytes = field(repr=False, compare=False, metadata=_NOT_JSON)

    def to_json(self) -> dict[str, Any]:
        values = super().to_json()
        values["authenticity"] = self.authenticity.name.lower()
        values["bytes"] = values.pop("size")
        return values


@dataclass(frozen=True)
class CardFailed(_Event):
    """A card failed during personalisation, or its record could not be kept: set it aside.

    ``revoked`` says whether its status index was revoked in the registry (always, when
    the batch has one), so the card cannot verify as valid once the list is published.
    """

    event: ClassVar[str] = "card_failed"
    row: int
    error: str
    message: str
    status_index: int
    revoked: bool
    #: The error itself, for the program that runs the batch; not part of to_json().
    exception: BaseException | None = field(
        default=None, repr=False, compare=False, metadata=_NOT_JSON
    )


@dataclass(frozen=True)
class BatchFinished(_Event):
    """The end of a run: counts, time, and why it stopped early, if it did.

    ``stopped`` is None (every applicant was tried), ``stop_on_error``,
    ``no_blank_card`` (no usable card came within the wait), ``key_error`` (the issuer
    key, e.g. in a token that was unplugged, stopped signing), ``records_error`` (the
    records file cannot be appended to) or ``interrupted``.
    """

    event: ClassVar[str] = "finished"
    applicants: int
    issued: int
    failed: int
    already_issued: int
    ambiguous: int
    remaining: int
    seconds: float
    cards_per_minute: float
    stopped: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """True if every applicant has a card now: none failed, left or ambiguous."""
        return not (self.failed or self.ambiguous or self.remaining or self.stopped)


BatchEvent = BatchStarted | CardSkipped | Waiting | CardDone | CardFailed | BatchFinished


# ---------------------------------------------------------------------------------------
# The batch


class _HeldSignals:
    """Ctrl-C (SIGINT) and SIGTERM held back during a block, then delivered as it ends.

    Only the main thread receives signals and may hold them; elsewhere nothing is held.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.caught: list[int] = []
        self._previous: dict[int, Any] = {}

    def _hold(self, number: int, frame: FrameType | None) -> None:
        self.caught.append(number)

    def __enter__(self) -> _HeldSignals:
        if threading.current_thread() is threading.main_thread():
            for number in self._SIGNALS:
                self._previous[number] = signal.signal(number, self._hold)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        if self.caught:
            signal.raise_signal(self.caught[0])


@runtime_checkable
class IndexRecorder(Protocol):
    """Where a batch takes status indexes from and records its cards: the city's registry.

    ``cityid_card.registry.BatchRecorder`` is one. ``take`` records the applicant's card
    (``medium`` is a :class:`Medium`'s ``kind``) and returns its new random index;
    ``revoke`` revokes the index of a card that failed.
    """

    def take(self, applicant: Applicant, issued: date, medium: str) -> int: ...

    def revoke(self, index: int) -> None: ...


def _failure_message(error: BaseException) -> str:
    if isinstance(error, CityIDError):
        return str(error)  # names commands, pages and status words, never data
    if isinstance(error, KeyboardInterrupt):
        return "the batch was interrupted during this card"
    return "the station stopped with an unexpected error during this card"


class _Batch:
    def __init__(
        self,
        issuer: IssuerKey,
        reader: str,
        *,
        lock: bool,
        records: _RecordsFile | None,
        registry: tuple[StatusRegistry, Path] | IndexRecorder | None,
        today: date,
        timeout: float,
        wait: float,
        on_event: Callable[[BatchEvent], object],
    ) -> None:
        self.issuer = issuer
        self.reader = reader
        self.lock = lock
        self.records = records
        self.registry = registry
        self.today = today
        self.timeout = timeout
        self.wait = wait
        self.on_event = on_event
        self.used_indexes = {r.status_index for r in records.records} if records else set()
        self.issued = self.failed = 0

    def emit(self, event: BatchEvent) -> None:
        self.issued += isinstance(event, CardDone)
        self.failed += isinstance(event, CardFailed)
        self.on_event(event)

    def take_index(self, applicant: Applicant, medium: str) -> int:
        """A free status index; with a registry, saved (or recorded) there before it is used."""
        if isinstance(self.registry, IndexRecorder):
            return self.registry.take(applicant, self.today, medium)
        if self.registry is not None:
            registry, path = self.registry
            index = registry.allocate()
            registry.save(path)
            return index
        while (index := secrets.randbelow(DEFAULT_ENTRIES)) in self.used_indexes:
            pass
        self.used_indexes.add(index)
        return index

    def revoke(self, index: int) -> bool:
        """Revoke a failed card's index in the registry; False without a registry."""
        if self.registry is None:
            return False
        if isinstance(self.registry, IndexRecorder):
            self.registry.revoke(index)
            return True
        registry, path = self.registry
        registry.set(index, StatusValue.INVALID)
        registry.save(path)
        return True

    def personalise(self, applicant: Applicant, medium: Medium) -> CardDone | CardFailed:
        """Issue and write the applicant's card, keep its record; revoke it if that fails."""
        index = self.take_index(applicant, medium.kind)
        credential = applicant.credential(status_index=index, issued=self.today)
        try:
            done = medium.personalise(self.issuer, credential, lock=self.lock, today=self.today)
            if self.records is not None:
                self.records.append(
                    Record(
                        applicant.name,
                        applicant.date_of_birth,
                        self.today,
                        applicant.expires,
                        index,
                        self.issuer.kid,
                    )
                )
        except BaseException as error:
            failed = CardFailed(
                applicant.row,
                type(error).__name__,
                _failure_message(error),
                index,
                self.revoke(index),
                exception=error,
            )
            if isinstance(error, CityIDError):
                return failed
            self.emit(failed)  # interrupted, or a bug: report the card, then stop
            raise
        return CardDone(
            row=applicant.row,
            status_index=index,
            kid=self.issuer.kid,
            authenticity=done.authenticity,
            locked=done.locked,
            medium=medium.kind,
            product=done.product,
            size=len(done.blob),
            blob=done.blob,
        )

    def issue(self, applicant: Applicant, stop_on_error: bool) -> tuple[str, str] | None:
        """Wait for a usable card, personalise it, report it; why the batch must stop, if so.

        A Ctrl-C or SIGTERM that comes once a usable card is found takes effect when the
        card's outcome is reported: a card is never cut off half-way by a signal.
        """
        deadline = time.monotonic() + self.wait
        with _HeldSignals() as held:
            while not held.caught:
                with contextlib.ExitStack() as stack:
                    try:
                        connection = stack.enter_context(connect(self.reader, timeout=self.timeout))
                        medium = medium_for(connection)
                        medium.check_blank()
                    except DriverError:
                        raise  # the reader's driver failed: no card will come
                    except CardError as error:
                        refused = error
                    else:
                        outcome = self.personalise(applicant, medium)
                        break
                self.emit(Waiting(applicant.row, type(refused).__name__, str(refused)))
                left = deadline - time.monotonic()
                if left <= 0:
                    return "no_blank_card", f"no usable card for row {applicant.row}: {refused}"
                time.sleep(min(_POLL, left))
            else:
                return None  # a signal came while waiting: leaving the block delivers it
            self.emit(outcome)  # the connection is closed: the card may be ejected now
        if isinstance(outcome, CardDone):
            return None
        if isinstance(outcome.exception, InvalidKey):
            return "key_error", f"the issuer key failed: {outcome.message}"
        if isinstance(outcome.exception, RecordsError):
            return "records_error", outcome.message
        if stop_on_error:
            return "stop_on_error", f"row {outcome.row} failed: {outcome.error}"
        return None

    def run(self, applicants: Sequence[Applicant], stop_on_error: bool) -> BatchFinished:
        plan = plan_batch(applicants, [] if self.records is None else self.records.records)
        self.emit(
            BatchStarted(
                applicants=len(applicants),
                to_issue=len(plan.to_issue),
                already_issued=len(plan.already_issued),
                ambiguous=len(plan.ambiguous),
                reader=self.reader,
                kid=self.issuer.kid,
                lock=self.lock,
            )
        )
        reasons = dict.fromkeys(plan.already_issued, "already_issued")
        reasons.update(dict.fromkeys(plan.ambiguous, "ambiguous"))
        for row in sorted(reasons):
            self.emit(CardSkipped(row, reasons[row]))
        start = time.monotonic()

        def finished(stop: tuple[str, str] | None) -> BatchFinished:
            seconds = time.monotonic() - start
            return BatchFinished(
                applicants=len(applicants),
                issued=self.issued,
                failed=self.failed,
                already_issued=len(plan.already_issued),
                ambiguous=len(plan.ambiguous),
                remaining=len(plan.to_issue) - self.issued - self.failed,
                seconds=round(seconds, 3),
                cards_per_minute=round(self.issued / seconds * 60, 1) if seconds > 0 else 0.0,
                stopped=None if stop is None else stop[0],
                message=None if stop is None else stop[1],
            )

        stop = None
        try:
            for applicant in plan.to_issue:
                stop = self.issue(applicant, stop_on_error)
                if stop is not None:
                    break
        except KeyboardInterrupt:
            self.emit(finished(("interrupted", "the batch was interrupted")))
            raise
        result = finished(stop)
        self.emit(result)
        return result


def run_batch(
    applicants: Sequence[Applicant],
    issuer: IssuerKey,
    reader: str,
    *,
    lock: bool = False,
    records: str | os.PathLike[str] | None = None,
    registry: str | os.PathLike[str] | IndexRecorder | None = None,
    stop_on_error: bool = False,
    on_event: Callable[[BatchEvent], object] | None = None,
    today: date | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: float = DEFAULT_WAIT,
) -> BatchFinished:
    """Personalise a card for every applicant not yet issued; return the final counts.

    ``reader`` is a reader URI (``sim:card`` and the other emulators hand out a fresh
    blank card each time, like a hopper). For each applicant the batch waits up to
    ``wait`` seconds for a usable card (blank, unlocked, of a known kind), reporting
    :class:`Waiting`, and stops with ``no_blank_card`` if none comes. ``registry`` is a
    status registry file (indexes are taken from it and it is saved before each card is
    written; a failed card's index is revoked in it), or an :class:`IndexRecorder`
    (the city's registry: each card recorded with its holder); ``records`` the issuance records
    file (created owner-only if missing; appended and synced after each card; read first
    to skip who is done).

    ``on_event`` gets each :class:`BatchEvent` as it happens, before the next card is
    looked for: the place to print the card face, eject the card, feed the next one.
    A failed card raises nothing: it is a :class:`CardFailed` event, and the batch goes on
    (or, with ``stop_on_error``, stops). Raised before any card is touched: ApplicantError
    (duplicate rows, dates that do not fit ``today``), RecordsError, StatusListError,
    KeyNotValid, DriverError.

    Ctrl-C (and SIGTERM, in the main thread) is held while a card is personalised and
    takes effect once the card is reported, done or failed: then ``interrupted`` is
    reported and KeyboardInterrupt raised again. Any other exception in the middle of a
    card revokes and reports that card before it propagates.
    """
    today = today or date.today()
    rows: set[int] = set()
    for applicant in applicants:
        if applicant.row in rows:
            raise ApplicantError(f"row {applicant.row} appears twice", row=applicant.row)
        rows.add(applicant.row)
        applicant.check_issuable(today)
    if not issuer.public().valid_on(today):
        raise KeyNotValid("the issuer key may not issue credentials today")
    status: tuple[StatusRegistry, Path] | IndexRecorder | None = None
    if isinstance(registry, IndexRecorder):
        status = registry
    elif registry is not None:
        loaded = StatusRegistry.load(registry)
        loaded.check_key(issuer)
        status = loaded, Path(registry)
    load_driver(parse_uri(reader)[0])
    with contextlib.ExitStack() as stack:
        kept = None if records is None else stack.enter_context(_RecordsFile(Path(records)))
        batch = _Batch(
            issuer,
            reader,
            lock=lock,
            records=kept,
            registry=status,
            today=today,
            timeout=timeout,
            wait=wait,
            on_event=on_event or (lambda event: None),
        )
        return batch.run(applicants, stop_on_error)
