"""The station's edge: the files it reads and writes, and the machine's clock.

The only module of :mod:`cityid_card.station` that touches the disk or reads a clock;
the rest works on what it is handed. The command line (``cityid-card batch``) and a
program that runs batches itself use these:

- :func:`load_applicants` reads and checks an applicants file;
- :class:`RecordsFile`, the issuance records: owner-only, locked while a batch runs,
  each record appended and synced to disk before the next card;
- :class:`RegistryFile`, the status registry: an index is saved as taken before its
  card is written, a failed card's index revoked and saved;
- :class:`FaceFolder`, the card faces of a batch: one owner-only file per card;
- :class:`LocalClock`, the machine's local calendar date and monotonic clock.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cityid_card._files import write_file
from cityid_card.errors import FaceError
from cityid_card.keys import IssuerKey
from cityid_card.status import StatusRegistry, StatusValue

from .applicants import Applicant, parse_applicants
from .errors import ApplicantError, RecordsError
from .records import Record, parse_records

if sys.platform != "win32":
    import fcntl

if TYPE_CHECKING:
    from cityid_card.face import FaceFormat  # the face extra: for type checking only

__all__ = [
    "FaceFolder",
    "LocalClock",
    "RecordsFile",
    "RegistryFile",
    "load_applicants",
    "read_records",
]


class LocalClock:
    """The machine's clock: its local calendar date, and ``time.monotonic``."""

    def today(self) -> date:
        return date.today()

    def monotonic(self) -> float:
        return time.monotonic()


def load_applicants(
    path: str | os.PathLike[str],
    *,
    expires: date | None = None,
    valid_years: int | None = None,
    today: date | None = None,
) -> list[Applicant]:
    """Read and check every applicant of a CSV (``.csv``) or JSON Lines (``.jsonl``) file.

    ``today`` (the issue date, by default the machine's local date) dates the expiry of
    ``valid_years`` and is checked against every row; see
    :func:`~cityid_card.station.parse_applicants` for the rules and errors.
    """
    location = Path(path)
    suffix = location.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ApplicantError("the applicants file must be CSV (.csv) or JSON Lines (.jsonl)")
    try:
        data = location.read_bytes()
    except OSError as error:
        raise ApplicantError(f"cannot read the applicants file: {error.strerror}") from None
    return parse_applicants(
        data,
        "csv" if suffix == ".csv" else "jsonl",
        today=today or date.today(),
        expires=expires,
        valid_years=valid_years,
    )


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """The issuance records of a records file; RecordsError names a line that is not one."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise RecordsError(f"cannot read the records file: {error.strerror}") from None
    return parse_records(data)


def _fsync_directory(folder: Path) -> None:
    """Make a new file's directory entry durable (where the platform allows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class RecordsFile:
    """The records file of a running batch: owner-only, locked, appended line by line.

    A :class:`~cityid_card.station.RecordsSink`. Opening it creates the file (mode
    0600) if it is missing, takes an exclusive lock on it (RecordsError if another
    batch holds it) and reads its records; use it as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        location = Path(path)
        try:
            self._fd = os.open(location, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
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
            os.chmod(location, 0o600)
            _fsync_directory(location.parent)
            data = location.read_bytes()
            self._records = parse_records(data)
            self._needs_newline = bool(data) and not data.endswith(b"\n")
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def records(self) -> Sequence[Record]:
        return tuple(self._records)

    def __enter__(self) -> RecordsFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the lock and the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def append(self, record: Record) -> None:
        """Append one line and wait until it is on disk; if that fails, take it back."""
        line = record.to_line()
        view = memoryview(b"\n" + line if self._needs_newline else line)
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
        self._records.append(record)


class RegistryFile:
    """A status registry file as a batch's :class:`~cityid_card.station.StatusIndexes`.

    Loaded and checked against ``issuer`` when made (StatusListError if it is another
    key's); every index taken and every index revoked is saved at once.
    """

    def __init__(self, path: str | os.PathLike[str], issuer: IssuerKey) -> None:
        self._path = Path(path)
        self._registry = StatusRegistry.load(self._path)
        self._registry.check_key(issuer)

    def take(self, applicant: Applicant, *, issued: date, medium: str) -> int:
        """A free index, saved as taken; a registry.json keeps no holder or medium."""
        index = self._registry.allocate()
        self._registry.save(self._path)
        return index

    def revoke(self, index: int) -> bool:
        self._registry.set(index, StatusValue.INVALID)
        self._registry.save(self._path)
        return True


class FaceFolder:
    """A folder of card faces: ``row-0001.pdf`` (and ``.png``, ...) for each card.

    A batch's :class:`~cityid_card.station.FaceSink`: it writes a card's faces before
    the card's record, and removes them if the record cannot be kept.

    Files are named by row, never by name, and written owner-only (0600) and atomically
    (an owner-only temporary file beside it, then linked into place: a face is whole or
    absent, never half-written). Without ``replace`` an existing face is never written
    over: a folder that holds a face for a row the batch is about to issue is refused
    before any card (:meth:`check_free`). The folder is made (0700) if it is missing.
    """

    def __init__(self, path: str | os.PathLike[str], *, replace: bool = False) -> None:
        self.path = Path(path)
        self.replace = replace
        self._written: dict[int, list[Path]] = {}
        try:
            self.path.mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise FaceError(f"cannot make the faces folder: {error.strerror}") from None

    def file(self, row: int, fmt: str) -> Path:
        """Where the face of ``row`` in format ``fmt`` goes."""
        return self.path / f"row-{row:04d}.{fmt}"

    def check_free(self, rows: Sequence[int], formats: Sequence[str]) -> None:
        """Raise FaceError if the folder holds a face for one of ``rows`` already.

        Nothing is refused when the folder replaces faces.
        """
        if self.replace:
            return
        for row in rows:
            for fmt in formats:
                if self.file(row, fmt).exists():
                    raise FaceError(
                        f"the faces folder already holds {self.file(row, fmt).name}: print "
                        "and delete the faces of the last job, give another folder, or add "
                        "--force to replace them"
                    )

    def write(self, row: int, faces: Mapping[FaceFormat, bytes]) -> list[Path]:
        """Write the faces of ``row``, each synced to disk; return their paths.

        All of them or none: FaceError (naming the file, never its content) if one
        cannot be written, with those of this call already written removed.
        """
        written: list[Path] = []
        target = self.path
        try:
            for fmt, data in faces.items():
                target = self.file(row, fmt)
                write_file(target, data, replace=self.replace, mode=0o600)
                written.append(target)
            _fsync_directory(self.path)  # the names too, before the card's record
        except BaseException as error:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            if isinstance(error, OSError):
                raise FaceError(f"cannot write the face {target.name}: {error.strerror}") from None
            raise
        self._written[row] = written
        return written

    def remove(self, row: int) -> None:
        """Remove the faces of ``row`` this folder wrote: their card failed after.

        FaceError if one cannot be removed; faces it did not write are left alone.
        """
        for path in self._written.pop(row, []):
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                raise FaceError(f"cannot remove the face {path.name}: {error.strerror}") from None
        _fsync_directory(self.path)
