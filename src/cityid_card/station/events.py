"""What a batch reports as it goes: row numbers and counts, never personal data.

Each event is a frozen dataclass with :meth:`to_json`, the object ``cityid-card batch
--json`` prints (``event`` names its kind). Events name applicants by their row number
in the applicants file; what they carry for the program that runs the batch only (the
credential written, the exception) is left out of ``to_json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from cityid_card.media import Authenticity

__all__ = [
    "BatchEvent",
    "BatchFinished",
    "BatchStarted",
    "CardDone",
    "CardFailed",
    "CardSkipped",
    "Waiting",
]

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
    """The applicants are checked, the records read, the faces laid out: cards are next."""

    event: ClassVar[str] = "start"
    applicants: int
    to_issue: int
    already_issued: int
    ambiguous: int
    not_printable: int
    reader: str
    kid: str
    lock: bool
    #: NFC tags are written sealed (the default), not as the open record.
    sealed_tags: bool = True


@dataclass(frozen=True)
class CardSkipped(_Event):
    """An applicant not issued in this run, and why (``reason``).

    ``already_issued`` (the records hold them), ``ambiguous`` (see
    :mod:`cityid_card.station.plan`), ``not_printable`` (their card face cannot be
    printed: ``message`` names the field, never its value; no card is touched for them)
    or ``interrupted`` (the batch was stopped while it waited for their card: a new run
    issues it).
    """

    event: ClassVar[str] = "card_skipped"
    row: int
    reason: str
    message: str | None = None


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

    ``blob``, the credential as written (for the card face), and ``seal_key``, the key
    a sealed NFC tag's record opens with, are for the program that runs the batch: the
    key exists nowhere else, so it must go in the card face's QR code (the command
    line's ``--faces``) or the tag can never be read. Neither is part of
    :meth:`to_json`. ``sealed`` says whether an NFC tag was sealed (None for a chip card).
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
    sealed: bool | None = None
    seal_key: bytes | None = field(default=None, repr=False, compare=False, metadata=_NOT_JSON)

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
    records cannot be appended to), ``face_error`` (a card's face cannot be written:
    the card is revoked) or ``interrupted``. ``seconds`` is measured on the
    batch's clock.
    """

    event: ClassVar[str] = "finished"
    applicants: int
    issued: int
    failed: int
    already_issued: int
    ambiguous: int
    not_printable: int
    remaining: int
    seconds: float
    cards_per_minute: float
    stopped: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """True if every applicant has a card now: none failed, left, ambiguous or unprintable."""
        return not (
            self.failed or self.ambiguous or self.not_printable or self.remaining or self.stopped
        )


BatchEvent = BatchStarted | CardSkipped | Waiting | CardDone | CardFailed | BatchFinished
