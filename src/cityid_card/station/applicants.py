"""Applicants: the rows of an applicants file, checked against the credential's rules.

An applicants file is CSV (comma-separated, a header naming its columns) or JSON Lines
(one object per line), UTF-8 with or without a byte order mark, holding the credential's
fields and nothing else: ``name``, ``date_of_birth``, ``gender`` (optional) and
``expires`` (optional when the batch gives an expiry date or a number of years).

Everything here works on text already in memory (:func:`parse_applicants`) or on rows
of named values (:func:`applicants_from_rows`); reading the file is the edge's
(:func:`cityid_card.station.files.load_applicants`). Errors name the row, and the column
or key by its number, never what the file holds there: a header cell or a key that is
not one of the four fields is not repeated, since it may be a value (a file exported
without its header starts with an applicant's name).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from cityid_card import _json
from cityid_card.credential import Credential
from cityid_card.errors import ClaimError

from .errors import ApplicantError, InvalidApplicantField, UnknownApplicantField

__all__ = [
    "APPLICANT_FIELDS",
    "Applicant",
    "ApplicantsFormat",
    "applicants_from_rows",
    "parse_applicants",
]

#: The fields an applicant may have: those the credential prints, and nothing else.
APPLICANT_FIELDS = ("name", "date_of_birth", "gender", "expires")
#: The two formats of an applicants file, by the suffix of its name.
ApplicantsFormat = Literal["csv", "jsonl"]
_ALLOWED = f"(allowed: {', '.join(APPLICANT_FIELDS)})"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    for position, key in enumerate(values, start=1):
        if key not in APPLICANT_FIELDS:
            raise UnknownApplicantField(
                f"row {row}: key {position} is not a field an applicant may have {_ALLOWED}",
                row=row,
                column=position,
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
    today: date,
    expires: date | None = None,
    valid_years: int | None = None,
) -> list[Applicant]:
    """Check rows of named fields (``name``, ``date_of_birth``, ``gender``, ``expires``).

    Rows are numbered from 1. Dates are :class:`~datetime.date` objects or YYYY-MM-DD
    text; an empty or missing ``gender`` is none, an empty or missing ``expires`` is
    ``expires`` (a date for the whole batch) or ``valid_years`` after ``today`` (the
    issue date). Any other field raises UnknownApplicantField naming the key by its
    position, a bad value InvalidApplicantField: the first bad row, by number and
    field, never by value.
    """
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
            raise ApplicantError(
                "the first line of a CSV file must name its columns "
                f"({', '.join(APPLICANT_FIELDS)}); none of its cells is a field name"
            )
        for position, cell in enumerate(header, start=1):
            if cell not in APPLICANT_FIELDS:
                raise UnknownApplicantField(
                    f"column {position} is not a field an applicant may have {_ALLOWED}",
                    column=position,
                )
            if header.index(cell) != position - 1:
                raise ApplicantError(
                    f"column {position} ({cell}) appears twice", field=cell, column=position
                )
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
            document = _json.loads(line, object_pairs_hook=_unique_keys)
        except _DuplicateKey as duplicate:
            # A key given twice is named only when it is one of the four fields.
            known = duplicate.key if duplicate.key in APPLICANT_FIELDS else None
            raise ApplicantError(
                f"row {row}: key {f'{known} ' if known else ''}appears twice",
                row=row,
                field=known,
            ) from None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ApplicantError(f"row {row} (line {line_number}) is not a JSON object", row=row)
        yield document


def parse_applicants(
    data: bytes,
    fmt: ApplicantsFormat,
    *,
    today: date,
    expires: date | None = None,
    valid_years: int | None = None,
) -> list[Applicant]:
    """Check every applicant of an applicants file's bytes, CSV or JSON Lines.

    UTF-8, with or without a byte order mark. Anything but the applicant fields is
    refused (UnknownApplicantField), naming the column or key by its number; the first
    row that breaks a rule raises, naming its number and field (see
    :func:`applicants_from_rows`). An empty file raises ApplicantError.
    """
    if fmt not in ("csv", "jsonl"):
        raise ApplicantError("the applicants file must be CSV (.csv) or JSON Lines (.jsonl)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ApplicantError(f"line {line} of the applicants file is not UTF-8 text") from None
    rows = _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)
    applicants = applicants_from_rows(rows, expires=expires, valid_years=valid_years, today=today)
    if not applicants:
        raise ApplicantError("the applicants file holds no applicant")
    return applicants
