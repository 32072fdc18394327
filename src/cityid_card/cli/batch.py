"""``cityid-card batch``: personalise a card for every applicant in a file.

The applicants file is CSV (comma-separated, a header naming the columns) or JSON
Lines, with only the fields the format allows: name, date_of_birth, gender (optional),
expires (optional if --expires or --valid-years is given). Anything else, an address
column say, is refused before any card is touched. For each applicant the batch waits
for a blank card on the reader (the sim: emulators hand out a fresh one each time,
like a hopper), personalises it (chip cards: card key, credential, read back,
verified, chip authenticated; NFC tags: credential bound to the tag's UID, sealed,
read back, verified), locks it with --lock, and appends the issuance record to
--records. With --faces DIR it writes each card's face there, synced to disk before the
card's record (row-0001.pdf, and .png with --face-png, owner-only; a face already there
is replaced only with --force): a card whose face cannot be written (disk full) fails,
is revoked and stops the batch, and a card whose record cannot be kept has its face
removed. It checks before any card is touched that every face can be printed: an
applicant whose face cannot (a name written right to left, a character the font lacks:
give --font) is skipped. A failed card is reported and must be set aside (with --registry its status
index is revoked); the batch goes on unless --stop-on-error. Run it again with the
same --records to resume: applicants already issued are skipped, failed and skipped
ones retried.

NFC tags are sealed (specs/ndef-mapping.md section 2.3): each under a fresh random
key that exists only in the QR code of that card's face, so a tap alone reads no
personal byte. A tag reader therefore needs --faces DIR, and tags of 272 bytes of data
area or more (NTAG215, NTAG216): an NTAG213 is refused before it is written, and a
sim:ntag213 reader before any card. A failed tag leaves no face behind. --open-record
writes the credential unsealed instead, readable by any tap.

Exit status: 0 every applicant has a card; 1 the batch ran but a card failed, a row
was ambiguous or not printable, or it stopped early; 2 it could not start (the
applicants file, key, registry, records file, faces folder or reader driver); 130
interrupted by Ctrl-C or SIGTERM, which take effect at once while the batch waits for a
card (that applicant is reported not done) and once the card in progress is done (or
failed, reported and revoked) otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from cityid_card.errors import CityIDError, FaceError, InputError
from cityid_card.keys import IssuerKey
from cityid_card.station import (
    DEFAULT_WAIT,
    Applicant,
    BatchEvent,
    BatchFinished,
    BatchOptions,
    BatchStarted,
    CardDone,
    CardFailed,
    CardSkipped,
    CardSource,
    Clock,
    FaceFolder,
    LocalClock,
    ReaderCards,
    RecordsFile,
    RegistryFile,
    Waiting,
    check_batch,
    load_applicants,
    plan_batch,
    run_batch,
    tag_products,
)

from ._common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    add_key_flag,
    add_passphrase_flag,
    add_reader_flags,
    fail,
    iso_date,
    load_issuer_key,
    print_json,
)
from ._seal import OPEN_RECORD_EXPOSES, add_open_record_flag
from .registry import batch_registry, is_database

if TYPE_CHECKING:
    from rich.console import Console

    from cityid_card.station.faces import CardFaces

#: Exit status after Ctrl-C, as shells report a process ended by SIGINT.
EXIT_INTERRUPTED = 130
# The same as cityid_card.face's, which is imported only when faces are asked for.
_TITLE = "MUNICIPAL IDENTIFICATION CARD"

Report = Callable[[BatchEvent], None]


def _reader_cards(uri: str, timeout: float) -> CardSource:
    return ReaderCards(uri, timeout=timeout)


@dataclass
class Machine:
    """What the command takes from the machine it runs on; tests give it their own.

    ``clock`` gives the issue date (the machine's local date) and measures the waits,
    ``sleep`` waits between two looks at the reader, ``cards`` makes the card source of
    a reader URI (with the --timeout).
    """

    clock: Clock = field(default_factory=LocalClock)
    sleep: Callable[[float], object] = time.sleep
    cards: Callable[[str, float], CardSource] = _reader_cards


MACHINE = Machine()


def _years(text: str) -> int:
    try:
        years = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number of years") from None
    if not 1 <= years <= 100:
        raise argparse.ArgumentTypeError("a card is valid 1 to 100 years")
    return years


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds") from None
    if not seconds >= 0:
        raise argparse.ArgumentTypeError("expected a number of seconds, 0 or more")
    return seconds


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "batch",
        help="personalise cards for a file of applicants",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "applicants", type=Path, help="applicants file: .csv with a header, or .jsonl"
    )
    add_key_flag(parser)
    parser.add_argument(
        "--kid",
        metavar="LABEL",
        help="the key's label for the records and events, as in the trust store "
        "(default: the kid the key carries: its key file's, or its label in the token)",
    )
    add_passphrase_flag(parser)
    add_reader_flags(parser)
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires", type=iso_date, help="expiry date of every card whose row gives none"
    )
    expiry.add_argument(
        "--valid-years",
        type=_years,
        metavar="N",
        help="cards whose row gives no expiry expire N years after their issue date",
    )
    parser.add_argument(
        "--lock", action="store_true", help="lock each card for good once it verifies"
    )
    parser.add_argument(
        "--records",
        type=Path,
        metavar="FILE",
        help="issuance records (JSON Lines, owner-only): one line per card issued; "
        "run again with the same file to resume",
    )
    parser.add_argument(
        "--registry",
        metavar="DB|JSON",
        help="the registry to take free random indexes from (recommended: a failed card's "
        "index is revoked in it): an SQLite file or postgresql:// URL records every card "
        "with its holder; a registry.json only takes the indexes",
    )
    parser.add_argument("--operator", metavar="ID", help="operator id the registry records")
    parser.add_argument(
        "--stop-on-error", action="store_true", help="stop at the first card that fails"
    )
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for a blank card for each applicant (default {DEFAULT_WAIT:g})",
    )
    faces = parser.add_argument_group("card faces (needs the face extra)")
    faces.add_argument(
        "--faces",
        type=Path,
        metavar="DIR",
        help="write each card's face to DIR as row-NNNN.pdf (owner-only); applicants "
        "whose face cannot be printed are skipped before any card is touched",
    )
    faces.add_argument("--face-png", action="store_true", help="a 300 dpi PNG of each face as well")
    faces.add_argument("--title", default=_TITLE, help=f"the card's title (default {_TITLE!r})")
    faces.add_argument(
        "--force",
        action="store_true",
        help="replace faces already in DIR for the rows issued (default: refuse to start)",
    )
    faces.add_argument("--font", type=Path, metavar="TTF", help="TrueType font for the text")
    faces.add_argument("--bold-font", type=Path, metavar="TTF", help="bold TrueType font")
    add_open_record_flag(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON event per line (no progress bar)"
    )
    parser.set_defaults(run=run)


class _Signals:
    """Ctrl-C (SIGINT) and SIGTERM while a batch runs: KeyboardInterrupt, but never mid-card.

    Outside a card (loading, waiting for a card) a signal raises KeyboardInterrupt at
    once; while a card is held (:meth:`hold`, which the batch enters once a usable card
    is found and leaves once its outcome is reported) it is kept and raised as the card
    is left. Only the main thread receives signals; elsewhere nothing is installed.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._holding = False
        self._caught = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._holding:
            self._caught = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.signal(number, self._handle) for number in self._SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, signal.SIG_DFL if handler is None else handler)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._caught:
            self._caught = False
            raise KeyboardInterrupt


def _card_faces(args: argparse.Namespace, key: IssuerKey) -> CardFaces:
    try:
        from cityid_card.station.faces import CardFaces
    except ImportError:
        raise FaceError(
            "card faces need segno, ReportLab and Pillow: pip install 'cityid-card[face]'"
        ) from None
    return CardFaces(
        key.public(),
        formats=("pdf", "png") if args.face_png else ("pdf",),
        title=args.title,
        font=args.font,
        bold_font=args.bold_font,
        sealed_tags=not args.open_record,
    )


def _batch(args: argparse.Namespace, machine: Machine, signals: _Signals) -> BatchFinished:
    face_options = args.face_png or args.font or args.bold_font or args.force
    if args.faces is None and (face_options or args.title != _TITLE):
        raise FaceError("--face-png, --force, --font, --bold-font and --title go with --faces DIR")
    today = machine.clock.today()
    applicants = load_applicants(
        args.applicants, expires=args.expires, valid_years=args.valid_years, today=today
    )
    tags = tag_products(args.reader)
    if tags and args.faces is None and not args.open_record:
        raise InputError(
            "NFC tags are sealed by default, and each tag's key must go on its card face: "
            "add --faces DIR, or --open-record to write records any tap reads"
        )
    with contextlib.ExitStack() as stack:
        key = stack.enter_context(load_issuer_key(args.key, args.passphrase_file, kid=args.kid))
        check_batch(applicants, key, today, tags=tags, open_record=args.open_record)
        cards = machine.cards(args.reader, args.timeout)
        faces = _card_faces(args, key) if args.faces is not None else None
        indexes = RegistryFile(args.registry, key) if _registry_file(args) else None
        records = None if args.records is None else stack.enter_context(RecordsFile(args.records))
        if args.registry is not None and indexes is None:  # the city's registry (a database)
            indexes = records = stack.enter_context(batch_registry(args, key, records))
        report = _changes_only(stack.enter_context(_reporter(args.json)))
        folder = None
        if faces is not None:
            folder = FaceFolder(args.faces, replace=args.force)
            folder.check_free(_rows_to_issue(applicants, records), faces.formats)
        return run_batch(
            applicants,
            key,
            cards,
            clock=machine.clock,
            sleep=machine.sleep,
            records=records,
            indexes=indexes,
            faces=faces,
            face_sink=folder,
            options=BatchOptions(
                lock=args.lock,
                stop_on_error=args.stop_on_error,
                wait=args.wait,
                open_record=args.open_record,
            ),
            hold=signals.hold,
            on_event=report,
        )


def _registry_file(args: argparse.Namespace) -> bool:
    """--registry names a registry.json (not the city's registry database)."""
    return args.registry is not None and not is_database(args.registry)


def _rows_to_issue(applicants: list[Applicant], records: RecordsFile | None) -> list[int]:
    plan = plan_batch(applicants, [] if records is None else records.records)
    return [applicant.row for applicant in plan.to_issue]


def run(args: argparse.Namespace) -> int:
    signals = _Signals()
    try:
        with signals.installed():
            result = _batch(args, MACHINE, signals)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # nobody reads the events any more: main() ends quietly
    except (CityIDError, OSError) as error:
        # Whatever stops a batch is a problem with its inputs or the station, not a
        # rejected credential (cards that fail are events): always status 2.
        if not args.json:
            return fail(args, error, EXIT_USAGE)
        print_json({"event": "error", "error": type(error).__name__, "message": str(error)})
        return EXIT_USAGE
    return EXIT_OK if result.ok else EXIT_REJECTED


def _changes_only(report: Report) -> Report:
    """Drop a waiting event that repeats the one before it (a card left in the reader)."""
    last: list[BatchEvent] = []

    def changed(event: BatchEvent) -> None:
        if not (isinstance(event, Waiting) and last == [event]):
            report(event)
        last[:] = [event]

    return changed


def _json_event(event: BatchEvent) -> None:
    """``--json``: one JSON object per event on standard output, flushed at once."""
    print_json(event.to_json())
    sys.stdout.flush()


def _describe(event: BatchEvent) -> str | None:
    """A line for the events worth a line of their own (failures, waits, ambiguity)."""
    if isinstance(event, BatchStarted):
        if event.sealed_tags or not tag_products(event.reader):
            return None
        return f"NFC tags get the OPEN record: each gives away {OPEN_RECORD_EXPOSES}"
    if isinstance(event, CardFailed):
        revoked = (
            f"; its status index {event.status_index} is revoked"
            if event.revoked
            else "; no registry: its status index is NOT revoked"
        )
        return (
            f"row {event.row}: card FAILED ({event.error}: {event.message}); "
            f"set the card aside, do not hand it out{revoked}"
        )
    if isinstance(event, Waiting):
        return f"row {event.row}: waiting for a blank card ({event.error}: {event.message})"
    if isinstance(event, CardSkipped) and event.reason == "ambiguous":
        return (
            f"row {event.row}: NOT issued: the records hold some but not all of the "
            "applicants with this row's name and date of birth, and they differ; "
            "check by hand which of them have cards"
        )
    if isinstance(event, CardSkipped) and event.reason == "not_printable":
        return (
            f"row {event.row}: NOT issued, no card touched: its face cannot be printed "
            f"({event.message}); give a --font that covers it, or print it with other software"
        )
    if isinstance(event, CardSkipped) and event.reason == "interrupted":
        return f"row {event.row}: NOT issued: stopped while waiting for its card; run again"
    return None


def _summary(event: BatchFinished) -> str:
    parts = [
        f"issued {event.issued} card{'s' * (event.issued != 1)} in {event.seconds:.1f} s "
        f"({event.cards_per_minute:,.0f} cards per minute)",
        f"{event.failed} failed",
        f"{event.already_issued} already issued",
    ]
    if event.ambiguous:
        parts.append(f"{event.ambiguous} ambiguous")
    if event.not_printable:
        parts.append(f"{event.not_printable} not printable")
    if event.remaining:
        parts.append(f"{event.remaining} not yet done")
    line = "; ".join(parts)
    if event.stopped is not None:
        line += f"\nstopped ({event.stopped}): {event.message}"
    return line


class PlainLines:
    """No terminal: failures and waits on standard error, the summary on standard output."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def __call__(self, event: BatchEvent) -> None:
        line = _describe(event)
        if line is not None:
            print(line, file=self._err)
        elif isinstance(event, BatchFinished):
            print(_summary(event), file=self._out)


class RichProgress:
    """On a terminal: a rich progress bar with cards done, failures and the rate.

    Start and stop it as a context manager; failures, waits and the summary are
    printed above the bar.
    """

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]} cards/min"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._task: TaskID | None = None
        self._issued = self._failed = 0
        self._start = time.monotonic()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def _print(self, line: str) -> None:
        self._progress.console.print(line, markup=False, highlight=False)

    def __call__(self, event: BatchEvent) -> None:
        if isinstance(event, BatchStarted):
            self._start = time.monotonic()
            self._task = self._progress.add_task(
                "personalising", total=event.to_issue, failed=0, rate="-"
            )
            if event.already_issued:
                self._print(
                    f"{event.already_issued} of {event.applicants} applicants already issued: "
                    "skipped"
                )
            line = _describe(event)
            if line is not None:
                self._print(line)
            return
        line = _describe(event)
        if line is not None:
            self._print(line)
        if self._task is None:
            return
        if isinstance(event, CardDone | CardFailed):
            self._issued += isinstance(event, CardDone)
            self._failed += isinstance(event, CardFailed)
            elapsed = time.monotonic() - self._start
            rate = f"{self._issued / elapsed * 60:,.0f}" if elapsed > 0 else "-"
            self._progress.update(
                self._task, advance=1, failed=self._failed, rate=rate, description="personalising"
            )
        elif isinstance(event, Waiting):
            self._progress.update(self._task, description=f"row {event.row}: waiting for a card")
        elif isinstance(event, BatchFinished):
            self._progress.stop()
            self._print(_summary(event))


@contextlib.contextmanager
def _reporter(json_events: bool) -> Iterator[Report]:
    """JSON lines, a progress bar on a terminal (needs rich), or plain lines."""
    if json_events:
        yield _json_event
        return
    if sys.stderr.isatty():
        try:
            progress = RichProgress()
        except ImportError:
            print(
                "note: no progress bar without rich: pip install 'cityid-card[station]'",
                file=sys.stderr,
            )
        else:
            with progress:
                yield progress
            return
    yield PlainLines()
