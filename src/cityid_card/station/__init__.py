"""The issuance station: a file of applicants, a hopper of blank cards, one records file.

One concept per module:

- :mod:`~cityid_card.station.applicants`: the applicants file, checked row by row;
- :mod:`~cityid_card.station.records`: issuance records and where a batch keeps them;
- :mod:`~cityid_card.station.plan`: resuming, who is done already;
- :mod:`~cityid_card.station.events`: what a batch reports, by row, never by name;
- :mod:`~cityid_card.station.loop`: :func:`run_batch`, which takes its cards, clock,
  records and status indexes from its caller and does no I/O of its own;
- ``_medium``: the one place the station meets chip cards and NFC tags
  (:class:`CardSource`, :class:`ReaderCards` for a reader URI);
- :mod:`~cityid_card.station.faces`: card faces, checked before a card is touched
  (needs the ``face`` extra; not imported here);
- :mod:`~cityid_card.station.edge`: the files (applicants, records, registry, faces:
  :class:`FaceFolder`, a :class:`FaceSink`) and the machine's clock.

Privacy: events, errors and ``repr`` name applicants by their row number; no name or
date of birth ever reaches a message, a log or a temporary file. Their data goes to
the card and the records only. NFC tags are sealed (unless
``BatchOptions(open_record=True)``): a tap alone reads no personal byte, and each tag's
key goes only to the card face (kept through the batch's ``face_sink`` before the
card's record) and to the program that runs the batch, in its ``CardDone`` event.

Resuming: a batch run again with the same records skips the applicants they hold
(:func:`plan_batch`). A failed card, or one whose record cannot be kept, is revoked;
an interruption takes effect once the card in progress is done or failed (see
:func:`run_batch`). Only a power cut or a SIGKILL in the instant between a card's last
step and its record reaching the disk leaves a valid card without a record (see
docs/printer-integration.md).
"""

from __future__ import annotations

from ._medium import (
    CardSource,
    ChipCard,
    Medium,
    NfcTag,
    Personalised,
    ReaderCards,
    medium_for,
    tag_products,
)
from .applicants import APPLICANT_FIELDS, Applicant, applicants_from_rows, parse_applicants
from .edge import FaceFolder, LocalClock, RecordsFile, RegistryFile, load_applicants, read_records
from .errors import ApplicantError, InvalidApplicantField, RecordsError, UnknownApplicantField
from .events import (
    BatchEvent,
    BatchFinished,
    BatchStarted,
    CardDone,
    CardFailed,
    CardSkipped,
    Waiting,
)
from .loop import (
    DEFAULT_POLL,
    DEFAULT_WAIT,
    BatchOptions,
    Clock,
    FaceCheck,
    FaceRenderer,
    FaceSink,
    RandomIndexes,
    StatusIndexes,
    check_batch,
    run_batch,
)
from .plan import BatchPlan, plan_batch
from .records import RECORD_FIELDS, Record, RecordsList, RecordsSink, parse_records

__all__ = [
    "APPLICANT_FIELDS",
    "DEFAULT_POLL",
    "DEFAULT_WAIT",
    "RECORD_FIELDS",
    "Applicant",
    "ApplicantError",
    "BatchEvent",
    "BatchFinished",
    "BatchOptions",
    "BatchPlan",
    "BatchStarted",
    "CardDone",
    "CardFailed",
    "CardSkipped",
    "CardSource",
    "ChipCard",
    "Clock",
    "FaceCheck",
    "FaceFolder",
    "FaceRenderer",
    "FaceSink",
    "InvalidApplicantField",
    "LocalClock",
    "Medium",
    "NfcTag",
    "Personalised",
    "RandomIndexes",
    "ReaderCards",
    "Record",
    "RecordsError",
    "RecordsFile",
    "RecordsList",
    "RecordsSink",
    "RegistryFile",
    "StatusIndexes",
    "UnknownApplicantField",
    "Waiting",
    "applicants_from_rows",
    "check_batch",
    "load_applicants",
    "medium_for",
    "parse_applicants",
    "parse_records",
    "plan_batch",
    "read_records",
    "run_batch",
    "tag_products",
]
