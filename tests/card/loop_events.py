"""The reader loop's events in words, for assertions and failure messages."""

from __future__ import annotations

from cityid_card.desk import Arrival
from cityid_card.desk.loop import ReaderEvent


def event_names(events: list[ReaderEvent]) -> list[str]:
    """Each event's kind, with an arrival's error: nothing personal."""
    return [
        type(e).__name__
        + (":" + type(e.error).__name__ if isinstance(e, Arrival) and e.error else "")
        for e in events
    ]
