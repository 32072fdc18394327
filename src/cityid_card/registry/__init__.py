"""The city's registry: the one place that keeps a holder's name and date of birth.

A real database behind one small interface (:class:`Registry`): SQLite, a file, as the
embedded default (a clerk's office, an offline ward station's own file) and PostgreSQL
for a city (a ``postgresql://`` URL), through SQLAlchemy Core, one code path for both.
It holds holders (name and date of birth, nothing else), cards (status index, key,
dates, medium, state, station) and their events (issued, revoked, suspended,
reinstated, replaced; a reason from a fixed list, an operator id, a time). See
docs/registry.md.

Needs the ``registry`` extra: ``pip install 'cityid-card[registry]'``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from cityid_card.keys import IssuerKey
from cityid_card.status import _thumbprint

from ._schema import SCHEMA_VERSION, CardState, EventKind, Medium, Reason, Role
from ._store import (
    Card,
    Holder,
    KeyInfo,
    NotIssued,
    Registry,
    RegistryError,
    StationError,
    SyncResult,
    check_station_name,
    is_database,
)

__all__ = [
    "SCHEMA_VERSION",
    "BatchRegistry",
    "Card",
    "CardState",
    "EventKind",
    "Holder",
    "KeyInfo",
    "Medium",
    "NotIssued",
    "Reason",
    "Registry",
    "RegistryError",
    "Role",
    "StationError",
    "SyncResult",
    "check_station_name",
    "is_database",
    "key_thumbprint",
    "lease",
    "record_issue",
]


def key_thumbprint(key: IssuerKey) -> str:
    """How the registry names an issuer key: its RFC 7638 thumbprint (base64url)."""
    return _thumbprint(key)


def lease(
    city: Registry,
    station_file: str | os.PathLike[str],
    *,
    station: str,
    count: int,
    thumbprint: str,
    now: datetime,
) -> int:
    """Lease ``count`` more random free indexes to ``station`` and put its pool in its file.

    The station's file (SQLite) is made on the first lease and topped up later. Safe to
    run again after a crash: the file receives the station's whole unused pool, and
    takes what it lacks. A new file for a station that still holds unused indexes is
    refused (reclaim a station whose file is lost). Returns how many unused indexes the
    file now holds.
    """
    check_station_name(station)
    exists = is_database(station_file) and os.path.exists(station_file)
    if exists:
        with Registry.open(station_file) as found:
            if found.role is not Role.STATION or found.station != station:
                raise StationError("that file is not this station's file")
    pool = city.lease(
        station=station, count=count, thumbprint=thumbprint, now=now, fresh=not exists
    )
    key = city.key(thumbprint=thumbprint)
    if exists:
        target = Registry.open(station_file)
    else:
        target = Registry.create(station_file, role=Role.STATION, station=station)
    with target:
        target.receive_pool(key, pool)
        return target.counts().get(CardState.LEASED.value, 0)


def record_issue(
    location: str | os.PathLike[str] | Registry,
    key: IssuerKey,
    *,
    name: str,
    date_of_birth: date,
    issued: date,
    expires: date,
    medium: Medium,
    operator: str,
    now: datetime,
) -> Card:
    """Take a random free status index for a new card and record it, in one transaction.

    The call for ``issue``, ``personalize`` and ``batch`` given a registry: put the
    returned card's ``status_index`` in the credential, then sign it. If the card then
    fails, revoke the index with reason ERROR (``Registry.set_state``).
    """
    opened = (
        contextlib.nullcontext(location)
        if isinstance(location, Registry)
        else Registry.open(location)
    )
    with opened as registry:
        return registry.issue(
            thumbprint=key_thumbprint(key),
            name=name,
            date_of_birth=date_of_birth,
            issued=issued,
            expires=expires,
            medium=medium,
            operator=operator,
            now=now,
        )


#: How the registry names the media a batch's cards go on (:attr:`cityid_card.media.Medium.kind`).
_BATCH_MEDIA = {"chip_card": Medium.CARD, "nfc_tag": Medium.TAG}


class _Applicant(Protocol):
    """What the registry takes of a batch's applicant: the holder and the expiry date."""

    @property
    def name(self) -> str: ...

    @property
    def date_of_birth(self) -> date: ...

    @property
    def expires(self) -> date: ...


class BatchRegistry:
    """The city's registry for a batch: its status indexes and its records, in one.

    Give it to ``cityid_card.station.run_batch`` as both ``indexes`` and ``records``.
    ``take`` records the applicant's card (holder, dates and medium: ``card`` or
    ``tag``) at a random free index, in one transaction, before anything is written to
    the card; ``append`` keeps the record of a card that is done in the batch's own
    records sink too, if it has one (the records file, which says who is done when the
    batch is resumed); ``revoke`` revokes a failed card's index (reason ERROR), whose
    holder the registry then knows, so that a clerk finds the failed card by name and
    date of birth. ``clock`` gives each event's time: the registry reads no clock itself.
    """

    def __init__(
        self,
        registry: Registry,
        key: IssuerKey,
        *,
        records: Any = None,
        operator: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._registry = registry
        self._thumbprint = key_thumbprint(key)
        self._kid = registry.key(thumbprint=self._thumbprint).kid  # refuses another key
        self._records = records
        self._operator = operator
        self._clock = clock

    @property
    def records(self) -> Sequence[Any]:
        """The batch's records sink's records (who is done already), or none."""
        return () if self._records is None else tuple(self._records.records)

    def take(self, applicant: _Applicant, *, issued: date, medium: str) -> int:
        """A random free index, recorded with the card's holder, dates and medium first."""
        kind = _BATCH_MEDIA.get(medium)
        if kind is None:
            raise RegistryError("the registry records chip cards and NFC tags only")
        card = self._registry.issue(
            thumbprint=self._thumbprint,
            name=applicant.name,
            date_of_birth=applicant.date_of_birth,
            issued=issued,
            expires=applicant.expires,
            medium=kind,
            operator=self._operator,
            now=self._clock(),
        )
        return card.status_index

    def append(self, record: Any) -> None:
        """The card at ``record.status_index`` is done: keep its record in the records sink.

        The registry recorded the card with its holder when its index was taken.
        """
        if self._records is not None:
            self._records.append(record)

    def revoke(self, index: int) -> bool:
        """Revoke the index of a card that failed (reason ERROR)."""
        self._registry.set_state(
            index=index,
            kind=EventKind.REVOKED,
            reason=Reason.ERROR,
            operator=self._operator,
            now=self._clock(),
            kid=self._kid,
        )
        return True
