"""Issuance records: one line per card issued, the only place a station writes a name.

A records file is JSON Lines, each line exactly the fields of :data:`RECORD_FIELDS`.
The batch keeps records through a :class:`RecordsSink`: the records of earlier runs
(to resume) and ``append``, which returns once the record is kept for good. The file
behind it, owner-only, locked and synced line by line, is the edge's
(:class:`cityid_card.station.files.RecordsFile`); :class:`RecordsList` keeps them in
memory, for a program that stores them its own way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from cityid_card import _json

from .errors import RecordsError

__all__ = ["RECORD_FIELDS", "Record", "RecordsList", "RecordsSink", "parse_records"]

#: The fields of an issuance record, in the order they are written.
RECORD_FIELDS = ("name", "date_of_birth", "issued", "expires", "status_index", "kid")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
        """The record as the JSON object of its line."""
        return {
            "name": self.name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat(),
            "status_index": self.status_index,
            "kid": self.kid,
        }

    def to_line(self) -> bytes:
        """The record's line in a records file, newline included."""
        return (json.dumps(self.to_json(), ensure_ascii=False) + "\n").encode("utf-8")

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


def parse_records(data: bytes) -> list[Record]:
    """The records in a records file's bytes; RecordsError names a line that is not one."""
    lines = data.split(b"\n")
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(Record.from_json(_json.loads(line)))
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


class RecordsSink(Protocol):
    """Where a batch keeps its issuance records."""

    @property
    def records(self) -> Sequence[Record]:
        """The records kept so far, earlier runs' included: who is done already."""
        ...

    def append(self, record: Record) -> None:
        """Keep ``record`` for good before returning; raise RecordsError if it cannot be.

        A record that cannot be kept must leave no trace: the batch revokes its card.
        """
        ...


class RecordsList:
    """Records kept in memory: a :class:`RecordsSink` for a program that stores its own."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._records = list(records)

    @property
    def records(self) -> Sequence[Record]:
        return tuple(self._records)

    def append(self, record: Record) -> None:
        self._records.append(record)
