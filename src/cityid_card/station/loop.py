"""The batch: one card per applicant, from a card source, with records and status indexes.

For each applicant in turn, :func:`run_batch` looks for a blank card in its
:class:`~cityid_card.station.CardSource`, takes a status index for the applicant's card
on that medium (kept, e.g. recorded in the registry with its holder and medium, before
anything is written to the card), has the card's medium personalise
it, and keeps the applicant's issuance :class:`~cityid_card.station.Record` before the
next card. A card that fails at any step, or whose record cannot be kept, is reported
(:class:`~cityid_card.station.CardFailed`) and set aside; its status index is revoked,
so a card that failed after its credential was written never verifies as valid once
the status list is published.

The loop does no I/O of its own: it reads no clock but the one it is given (the issue
date is ``clock.today()``, the waits are measured on ``clock.monotonic()`` and spent in
``sleep``), opens no reader (the card source does), touches no file (the records sink
and the status indexes do) and installs no signal handler (``hold`` is where the program
that runs it keeps Ctrl-C from cutting a card off half-way). The command line gives it
the machine's local date, the monotonic clock, ``time.sleep``, a reader, the records
and registry files and its signal handling (:mod:`cityid_card.cli.batch`).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

from cityid_card.credential import Credential
from cityid_card.errors import CityIDError, FaceError, InvalidKey
from cityid_card.keys import IssuerKey
from cityid_card.media.errors import DriverError, MediumError
from cityid_card.status import DEFAULT_ENTRIES
from cityid_card.type2 import seal
from cityid_card.type2.errors import TagCapacityError
from cityid_card.type2.memory import Product
from cityid_card.type2.session import check_capacity

from ._largest import largest_credential
from ._medium import CardSource, Medium
from .applicants import Applicant
from .errors import ApplicantError, RecordsError
from .events import (
    BatchEvent,
    BatchFinished,
    BatchStarted,
    CardDone,
    CardFailed,
    CardSkipped,
    Waiting,
)
from .plan import plan_batch
from .records import Record, RecordsSink

if TYPE_CHECKING:
    from cityid_card.face import FaceFormat  # the face extra: for type checking only

__all__ = [
    "DEFAULT_POLL",
    "DEFAULT_WAIT",
    "BatchOptions",
    "Clock",
    "FaceCheck",
    "FaceRenderer",
    "FaceSink",
    "RandomIndexes",
    "StatusIndexes",
    "check_batch",
    "run_batch",
]

#: Seconds a batch waits for a usable card for one applicant before it stops.
DEFAULT_WAIT = 60.0
#: Seconds between two looks for a blank card after a card was refused.
DEFAULT_POLL = 0.25


class Clock(Protocol):
    """The batch's clock: the issue date, and seconds to measure waits and speed by."""

    def today(self) -> date:
        """The issue date: the issuing city's calendar date."""
        ...

    def monotonic(self) -> float:
        """Seconds from any fixed point, never going back."""
        ...


class StatusIndexes(Protocol):
    """Where a batch takes its cards' status indexes, and revokes a failed card's."""

    def take(self, applicant: Applicant, *, issued: date, medium: str) -> int:
        """A free index for ``applicant``'s card, kept as taken before it is returned.

        ``issued`` is the card's issue date and ``medium`` the kind of card it goes on,
        as the medium names itself (``chip_card`` or ``nfc_tag``:
        :attr:`cityid_card.media.Medium.kind`). A registry records the card with its
        holder and medium here, before anything is written to it, so that a card that
        then fails is revoked with its holder known.
        """
        ...

    def revoke(self, index: int) -> bool:
        """Revoke a failed card's index; False if there is nothing that can revoke it."""
        ...


class FaceCheck(Protocol):
    """What can print a card's face: asked before any card is touched for an applicant."""

    def check(self, credential: Credential) -> None:
        """Raise FaceError if the face of ``credential`` (any card's) cannot be printed."""
        ...


class FaceRenderer(FaceCheck, Protocol):
    """A :class:`FaceCheck` that also renders each card's face, in memory."""

    def render(self, blob: bytes, *, seal_key: bytes | None = None) -> Mapping[FaceFormat, bytes]:
        """The face of the credential ``blob`` just written, by format (a sealed tag's key in it)."""
        ...


class FaceSink(Protocol):
    """Where a batch keeps each card's face: before the card's record, never after.

    A sealed tag's key exists only on its face, so a batch writes the face before it
    keeps the card's record, and takes it back if the record cannot be kept: no card
    counts as issued without its face, and no face is left for a failed card.
    """

    def write(self, row: int, faces: Mapping[FaceFormat, bytes]) -> object:
        """Keep the faces of ``row`` (one per format) for good before returning.

        All of them or none: raise FaceError, leaving none behind, if one cannot be kept.
        """
        ...

    def remove(self, row: int) -> None:
        """Take back the faces of ``row`` written by this batch: its card failed after.

        Raise FaceError if one cannot be removed.
        """
        ...


class RandomIndexes:
    """Status indexes without a registry: random, never one of ``used``; nothing revokes.

    Without a registry a failed card cannot be revoked (events say so): use one.
    """

    def __init__(self, used: Iterable[int] = (), size: int = DEFAULT_ENTRIES) -> None:
        self._used = set(used)
        self._size = size

    def take(self, applicant: Applicant, *, issued: date, medium: str) -> int:
        while (index := secrets.randbelow(self._size)) in self._used:
            pass
        self._used.add(index)
        return index

    def revoke(self, index: int) -> bool:
        return False


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    ``lock`` locks each card once it verifies; ``stop_on_error`` stops at the first card
    that fails; ``wait`` is how long (seconds) to wait for a usable card for one
    applicant, ``poll`` how long between two looks at the reader.

    NFC tags are sealed (``specs/ndef-mapping.md`` section 2.3): each under a fresh
    random key, which :class:`~cityid_card.station.CardDone` hands to the program that
    runs the batch for the card face; a tap alone then reads no personal byte, and a tag
    too small for a sealed record (an NTAG213) is refused before it is written.
    ``open_record`` writes the credential unsealed instead, readable by any tap.
    """

    lock: bool = False
    stop_on_error: bool = False
    wait: float = DEFAULT_WAIT
    poll: float = DEFAULT_POLL
    open_record: bool = False

    def __post_init__(self) -> None:
        if not self.wait >= 0 or not self.poll > 0:
            raise ValueError("wait must be 0 or more seconds and poll more than 0")


def check_batch(
    applicants: Sequence[Applicant],
    issuer: IssuerKey,
    today: date,
    *,
    tags: Sequence[Product] = (),
    open_record: bool = False,
) -> None:
    """Raise what keeps a batch from starting ``today``, before anything is touched.

    ApplicantError for a row given twice, InvalidApplicantField for dates that do not
    fit ``today``, KeyOutsideValidity for a key that may not issue today. ``tags``, the
    NFC tags the reader may hand out (:func:`~cityid_card.station.tag_products`):
    TagCapacityError if an applicant's sealed record fits none of them (a sealed record
    on an NTAG213); with ``open_record`` nothing is sealed and tags are not checked.
    """
    rows: set[int] = set()
    for applicant in applicants:
        if applicant.row in rows:
            raise ApplicantError(f"row {applicant.row} appears twice", row=applicant.row)
        rows.add(applicant.row)
        applicant.check_issuable(today)
    issuer.check_issuing_date(today)  # KeyOutsideValidity, before any card is touched
    if tags and applicants and not open_record:
        largest = max(tags, key=lambda product: product.capability_container.size)
        public = issuer.public()
        for applicant in applicants:
            stand_in = applicant.credential(status_index=0, issued=today)
            size = len(largest_credential(public, stand_in, tag=True)[1])
            try:
                check_capacity(largest, size, sealed=True)
            except TagCapacityError as error:
                raise TagCapacityError(f"row {applicant.row}: {error}") from None


def _failure_message(error: BaseException) -> str:
    if isinstance(error, CityIDError):
        return str(error)  # names commands, pages and status words, never data
    if isinstance(error, KeyboardInterrupt):
        return "the batch was interrupted during this card"
    return "the station stopped with an unexpected error during this card"


_Stop = tuple[str, str]


class _Batch:
    def __init__(
        self,
        issuer: IssuerKey,
        cards: CardSource,
        *,
        clock: Clock,
        sleep: Callable[[float], object],
        records: RecordsSink | None,
        indexes: StatusIndexes,
        faces: FaceRenderer | None,
        face_sink: FaceSink | None,
        options: BatchOptions,
        hold: Callable[[], AbstractContextManager[object]],
        on_event: Callable[[BatchEvent], object],
        today: date,
    ) -> None:
        self.issuer = issuer
        self.public = issuer.public()
        self.cards = cards
        self.clock = clock
        self.sleep = sleep
        self.records = records
        self.indexes = indexes
        self.faces = faces
        self.face_sink = face_sink
        self.options = options
        self.hold = hold
        self.on_event = on_event
        self.today = today
        self.issued = self.failed = 0
        #: The applicant whose card is being looked for, until a usable card is found.
        self.waiting_for: Applicant | None = None
        self._tag_sizes: dict[int, int] = {}  # by row: the largest credential on a tag

    def emit(self, event: BatchEvent) -> None:
        self.issued += isinstance(event, CardDone)
        self.failed += isinstance(event, CardFailed)
        self.on_event(event)

    def personalise(self, applicant: Applicant, medium: Medium) -> CardDone | CardFailed:
        """Issue and write the applicant's card, keep its face and record; revoke it if that fails.

        The face (with a sealed tag's key, which exists nowhere else) is kept before the
        record, and taken back if the record cannot be kept: a card is never recorded as
        issued without its face, and a failed card leaves no face.
        """
        index = self.indexes.take(applicant, issued=self.today, medium=medium.kind)
        credential = applicant.credential(status_index=index, issued=self.today)
        sealed = seal_key = None
        face_kept = False
        try:
            if medium.seals:
                sealed = not self.options.open_record
                seal_key = seal.new_key() if sealed else None
            done = medium.personalise(
                self.issuer,
                credential,
                lock=self.options.lock,
                today=self.today,
                seal_key=seal_key,
                open_record=self.options.open_record,
            )
            if self.face_sink is not None and self.faces is not None:
                faces = self.faces.render(done.blob, seal_key=seal_key)
                self.face_sink.write(applicant.row, faces)  # whole, or none of it
                face_kept = True
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
            if face_kept and self.face_sink is not None:
                # A face that cannot be removed stays: the next run refuses to start
                # until it is printed or deleted (FaceFolder.check_free).
                with contextlib.suppress(CityIDError):
                    self.face_sink.remove(applicant.row)
            failed = CardFailed(
                applicant.row,
                type(error).__name__,
                _failure_message(error),
                index,
                self.indexes.revoke(index),
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
            sealed=sealed,
            seal_key=seal_key,
        )

    def check_fits(self, applicant: Applicant, medium: Medium) -> None:
        """Refuse a tag, before anything is written, that the applicant's sealed record does not fit.

        The size is the largest credential the applicant's tag could carry, so a tag
        that passes holds whatever the batch then writes (a sealed record: 272 bytes of
        data area, an NTAG215 or NTAG216). Raises TagCapacityError.
        """
        if not medium.seals or self.options.open_record:
            return
        size = self._tag_sizes.get(applicant.row)
        if size is None:
            stand_in = applicant.credential(status_index=0, issued=self.today)
            size = len(largest_credential(self.public, stand_in, tag=True)[1])
            self._tag_sizes[applicant.row] = size
        medium.check_fits(size, sealed=True)

    def look(self, applicant: Applicant) -> CardDone | CardFailed | MediumError:
        """One look at the reader: the outcome of a usable card, or why there is none.

        From the moment a usable card is found until its outcome is reported, the card
        is in ``hold``: the caller's Ctrl-C takes effect once the card is done or failed.
        """
        with contextlib.ExitStack() as held:
            with contextlib.ExitStack() as stack:
                try:
                    medium = stack.enter_context(self.cards.card())
                    medium.check_blank()
                    self.check_fits(applicant, medium)
                except DriverError:
                    raise  # the reader cannot work: no card will come
                except MediumError as error:
                    return error
                held.enter_context(self.hold())
                self.waiting_for = None
                outcome = self.personalise(applicant, medium)
            self.emit(outcome)  # the connection is closed: the card may be ejected now
        return outcome

    def issue(self, applicant: Applicant) -> _Stop | None:
        """Wait for a usable card, personalise it, report it; why the batch must stop, if so."""
        deadline = self.clock.monotonic() + self.options.wait
        self.waiting_for = applicant
        while True:
            outcome = self.look(applicant)
            if not isinstance(outcome, MediumError):
                break
            self.emit(Waiting(applicant.row, type(outcome).__name__, str(outcome)))
            left = deadline - self.clock.monotonic()
            if left <= 0:
                self.waiting_for = None
                return "no_blank_card", f"no usable card for row {applicant.row}: {outcome}"
            self.sleep(min(self.options.poll, left))
        if isinstance(outcome, CardDone):
            return None
        if isinstance(outcome.exception, InvalidKey):
            return "key_error", f"the issuer key failed: {outcome.message}"
        if isinstance(outcome.exception, RecordsError):
            return "records_error", outcome.message
        if isinstance(outcome.exception, FaceError):
            return "face_error", outcome.message
        if self.options.stop_on_error:
            return "stop_on_error", f"row {outcome.row} failed: {outcome.error}"
        return None

    def run(self, applicants: Sequence[Applicant]) -> BatchFinished:
        plan = plan_batch(applicants, [] if self.records is None else self.records.records)
        reasons: dict[int, tuple[str, str | None]] = {}
        reasons.update(dict.fromkeys(plan.already_issued, ("already_issued", None)))
        reasons.update(dict.fromkeys(plan.ambiguous, ("ambiguous", None)))
        to_issue: list[Applicant] = []
        for applicant in plan.to_issue:
            try:
                if self.faces is not None:
                    self.faces.check(applicant.credential(status_index=0, issued=self.today))
            except FaceError as error:  # its messages name the field, never the value
                reasons[applicant.row] = ("not_printable", str(error))
            else:
                to_issue.append(applicant)
        not_printable = len(plan.to_issue) - len(to_issue)
        self.emit(
            BatchStarted(
                applicants=len(applicants),
                to_issue=len(to_issue),
                already_issued=len(plan.already_issued),
                ambiguous=len(plan.ambiguous),
                not_printable=not_printable,
                reader=self.cards.reader,
                kid=self.issuer.kid,
                lock=self.options.lock,
                sealed_tags=not self.options.open_record,
            )
        )
        for row in sorted(reasons):
            self.emit(CardSkipped(row, *reasons[row]))
        start = self.clock.monotonic()

        def finished(stop: _Stop | None) -> BatchFinished:
            seconds = self.clock.monotonic() - start
            return BatchFinished(
                applicants=len(applicants),
                issued=self.issued,
                failed=self.failed,
                already_issued=len(plan.already_issued),
                ambiguous=len(plan.ambiguous),
                not_printable=not_printable,
                remaining=len(to_issue) - self.issued - self.failed,
                seconds=round(seconds, 3),
                cards_per_minute=round(self.issued / seconds * 60, 1) if seconds > 0 else 0.0,
                stopped=None if stop is None else stop[0],
                message=None if stop is None else stop[1],
            )

        stop = None
        try:
            for applicant in to_issue:
                stop = self.issue(applicant)
                if stop is not None:
                    break
        except KeyboardInterrupt:
            if self.waiting_for is not None:  # stopped while waiting for this card
                self.emit(CardSkipped(self.waiting_for.row, "interrupted"))
            self.emit(finished(("interrupted", "the batch was interrupted")))
            raise
        result = finished(stop)
        self.emit(result)
        return result


def run_batch(
    applicants: Sequence[Applicant],
    issuer: IssuerKey,
    cards: CardSource,
    *,
    clock: Clock,
    sleep: Callable[[float], object],
    records: RecordsSink | None = None,
    indexes: StatusIndexes | None = None,
    faces: FaceRenderer | None = None,
    face_sink: FaceSink | None = None,
    options: BatchOptions | None = None,
    hold: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    on_event: Callable[[BatchEvent], object] | None = None,
) -> BatchFinished:
    """Personalise a card for every applicant not yet issued; return the final counts.

    ``cards`` hands out the card in the reader (:class:`~cityid_card.station.ReaderCards`
    for a reader URI). For each applicant the batch looks for a usable card (blank,
    unlocked, of a known kind), reporting :class:`Waiting` for each look that finds
    none, every ``options.poll`` seconds, and stops with ``no_blank_card`` if none came
    within ``options.wait`` seconds. The issue date is ``clock.today()``; waiting is
    measured on ``clock.monotonic()`` and done by calling ``sleep``.

    ``records`` keeps the issuance records (read first to skip who is done, appended
    after each card); ``indexes`` gives the status indexes (a registry: see
    :class:`~cityid_card.station.files.RegistryFile`; without one, random indexes no
    record uses, and a failed card cannot be revoked). ``faces``, if given, is asked
    about every applicant before any card is touched: one whose face cannot be printed
    is skipped (``not_printable``) and gets no card. ``face_sink`` (with ``faces``:
    :class:`~cityid_card.station.FaceFolder` for a folder of files) keeps each card's
    face, rendered by ``faces``, after the card is written and before its record: a card
    whose face cannot be kept fails, is revoked, and stops the batch (``face_error``);
    one whose record cannot be kept has its face taken back.

    ``on_event`` gets each :class:`BatchEvent` as it happens, before the next card is
    looked for: the place to print the card face, eject the card, feed the next one.
    An NFC tag is sealed under a fresh key (unless ``options.open_record``), which only
    its :class:`CardDone` carries (``seal_key``) and its face, if a ``face_sink`` keeps
    them: print it on the face, or the tag can never be read (a program that prints
    from ``on_event`` alone loses the key of a card whose printing fails there: give a
    ``face_sink``). A tag too small for the sealed record is refused before it is
    written, as a used card is.
    A failed card raises nothing: it is a :class:`CardFailed` event, and the batch goes
    on (or, with ``options.stop_on_error``, stops). Raised before any card is touched:
    ApplicantError (duplicate rows, dates that do not fit today), KeyOutsideValidity.

    ``hold()`` is entered once a usable card is found and left once its outcome is
    reported: where the caller holds Ctrl-C back so that no card is cut off half-way
    (the command line delivers it as KeyboardInterrupt when ``hold`` is left). A
    KeyboardInterrupt while the batch waits for a card reports that applicant skipped
    (``interrupted``); then, and whenever it comes, ``interrupted`` is reported and the
    KeyboardInterrupt raised again. Any other exception in the middle of a card revokes
    and reports that card before it propagates.
    """
    options = options or BatchOptions()
    if face_sink is not None and faces is None:
        raise ValueError("a face_sink needs the faces that render them")
    today = clock.today()
    check_batch(applicants, issuer, today)
    if indexes is None:
        used = [] if records is None else [record.status_index for record in records.records]
        indexes = RandomIndexes(used)
    batch = _Batch(
        issuer,
        cards,
        clock=clock,
        sleep=sleep,
        records=records,
        indexes=indexes,
        faces=faces,
        face_sink=face_sink,
        options=options,
        hold=hold,
        on_event=on_event or (lambda event: None),
        today=today,
    )
    return batch.run(applicants)
