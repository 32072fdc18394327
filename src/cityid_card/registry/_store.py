"""The registry behind one small interface: SQLite (a file) or PostgreSQL (a URL), one code path.

Every change is one database transaction: taking a random free status index and
recording the card, revoking, replacing, leasing a station's pool, syncing. Two
processes can never be handed the same index: ``(key, status_index)`` is unique in the
database itself, and an insert that collides is retried with another random index.

This module is the registry's edge: it talks to a database. It reads no clock: every
change takes ``now`` from its caller.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from cityid_card.errors import CityIDError
from cityid_card.status import StatusRegistry, StatusValue

from ._schema import (
    MAX_NAME,
    SCHEMA_VERSION,
    CardState,
    EventKind,
    Medium,
    Reason,
    Role,
    cards,
    events,
    holders,
    issuer_keys,
    metadata,
    registry_meta,
    stations,
)

__all__ = [
    "Card",
    "Holder",
    "KeyInfo",
    "NotIssued",
    "Registry",
    "RegistryError",
    "StationError",
    "SyncResult",
    "is_database",
]

_OPERATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_STATION = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Random draws before a nearly full list falls back to listing what is free.
_DRAWS = 64
T = TypeVar("T")


class RegistryError(CityIDError):
    """The registry refused a change or cannot be used; the message holds no personal data."""


class NotIssued(RegistryError):
    """No card was ever issued with this status index."""


class StationError(RegistryError):
    """A lease or a sync cannot be done (unknown or reclaimed station, foreign file)."""


class _Conflict(RegistryError):
    """The database broke off a transaction for another one (a deadlock, a serialisation
    failure): it left nothing behind, and running it again is the remedy."""


#: SQLSTATEs after which PostgreSQL has rolled the transaction back for another's sake.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
#: How often a transaction that lost a conflict is run again before the error is raised.
_CONFLICT_ATTEMPTS = 8

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _retry_on_conflict(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a registry operation again when the database chose it as a conflict's loser.

    Every operation so decorated is one transaction (or idempotent, as sync is), so the
    rolled-back attempt left nothing and the next one starts afresh; a short random
    pause lets the winner finish first.
    """

    @functools.wraps(method)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                return method(*args, **kwargs)
            except _Conflict:
                if attempt == _CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(secrets.randbelow(10 * 2**attempt) / 1000)
        raise AssertionError("unreachable")

    return run


def is_database(location: str | os.PathLike[str]) -> bool:
    """True for a ``postgresql://`` URL or an SQLite registry file (not a registry.json)."""
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return True
    try:
        with open(text, "rb") as file:
            return file.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return Path(text).suffix in (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class KeyInfo:
    """An issuer key the registry tracks and the shape of its status list."""

    kid: str
    thumbprint: str
    size: int
    bits: int
    list_number: int
    list_iat: int


@dataclass(frozen=True)
class Card:
    """A card (or a station's unused index) as the registry holds it; no personal data."""

    kid: str
    status_index: int
    state: CardState
    issued: date | None
    expires: date | None
    medium: Medium | None
    station: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "status_index": self.status_index,
            "state": self.state.value,
            "issued": None if self.issued is None else self.issued.isoformat(),
            "expires": None if self.expires is None else self.expires.isoformat(),
            "medium": None if self.medium is None else self.medium.value,
            "station": self.station,
        }


@dataclass(frozen=True)
class Holder:
    """A holder and their cards. ``repr`` shows no personal data."""

    name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class SyncResult:
    """What one sync moved: cards and events each way."""

    cards_in: int
    events_in: int
    events_out: int

    def to_json(self) -> dict[str, int]:
        return {
            "cards_in": self.cards_in,
            "events_in": self.events_in,
            "events_out": self.events_out,
        }


def _url(location: str | os.PathLike[str]) -> str:
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith("postgresql+psycopg://"):
        return text
    return "sqlite:///" + os.path.abspath(text)


def _check_operator(operator: str) -> str:
    if not isinstance(operator, str) or not _OPERATOR.fullmatch(operator):
        raise RegistryError(
            "an operator id is 1 to 64 letters, digits and . _ @ - (an id, never a name)"
        )
    return operator


def check_station_name(name: str) -> str:
    """Raise StationError unless ``name`` is a station id: 1-40 of a-z, 0-9 and -."""
    if not isinstance(name, str) or not _STATION.fullmatch(name):
        raise StationError(
            "a station name is 1 to 40 of a-z, 0-9 and -, starting with a letter or digit"
        )
    return name


def _check_holder(name: str, date_of_birth: date) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise RegistryError(f"a holder's name must be 1 to {MAX_NAME} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise RegistryError("a holder's name must not hold control characters")
    if not isinstance(date_of_birth, date) or isinstance(date_of_birth, datetime):
        raise RegistryError("a holder's date of birth must be a date")


def _check_now(now: datetime) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise RegistryError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fold(kinds: Iterable[EventKind], start: CardState) -> CardState:
    """A card's state after its events, in order. Revoked is final."""
    state = start
    for kind in kinds:
        if state is CardState.REVOKED:
            break
        if kind is EventKind.ISSUED:
            state = CardState.VALID
        elif kind in (EventKind.REVOKED, EventKind.REPLACED):
            state = CardState.REVOKED
        elif kind is EventKind.SUSPENDED:
            state = CardState.SUSPENDED
        elif kind is EventKind.REINSTATED and state is CardState.SUSPENDED:
            state = CardState.VALID
    return state


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Our own BEGIN (below) instead of pysqlite's, so that savepoints work and every
        # transaction takes the write lock at its start: two writers wait for each other
        # (busy timeout) instead of failing on a lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")  # a committed revocation survives power loss
        # A purged holder, or a name a station forgot after a sync, is overwritten on
        # disk, not left readable in a free page of the file.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Registry:
    """The city's registry, or a station's file: holders, cards and their events.

    Open one with :meth:`open` (an existing registry) or :meth:`create`; close it with
    :meth:`close` or use it as a context manager. ``location`` is a file path (SQLite)
    or a ``postgresql://`` URL. Messages of its errors never hold names, dates of birth
    or the database's own error text (which may quote them).
    """

    def __init__(self, engine: Engine, role: Role, station: str | None) -> None:
        self._engine = engine
        self.role = role
        self.station = station

    # -- opening -------------------------------------------------------------------

    @classmethod
    def _engine_for(cls, location: str | os.PathLike[str], *, creating: bool) -> Engine:
        url = _url(location)
        if url.startswith("sqlite:"):
            path = Path(url.removeprefix("sqlite:///"))
            if creating:
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                except FileExistsError:
                    raise RegistryError("refusing to overwrite an existing file") from None
                except OSError as error:
                    raise RegistryError(f"cannot create the registry: {error.strerror}") from None
            elif not path.is_file():
                raise RegistryError("no registry at that path: create one with `registry init`")
            return _sqlite_engine(url)
        return create_engine(url, hide_parameters=True)

    @classmethod
    def create(
        cls,
        location: str | os.PathLike[str],
        *,
        role: Role = Role.CITY,
        station: str | None = None,
    ) -> Registry:
        """Make the tables of a new registry (an SQLite file is created, owner-only)."""
        if (role is Role.STATION) != (station is not None):
            raise RegistryError("a station's file, and only one, names its station")
        if station is not None:
            check_station_name(station)
        engine = cls._engine_for(location, creating=True)
        try:
            with _db_errors("cannot create the registry"), engine.begin() as conn:
                if inspect(conn).has_table(registry_meta.name):
                    raise RegistryError("that database already holds a registry")
                metadata.create_all(conn)
                conn.execute(
                    insert(registry_meta).values(
                        id=1, schema_version=SCHEMA_VERSION, role=role, station=station
                    )
                )
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, role, station)

    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> Registry:
        """Open an existing registry; refuse a database that is not one, or of another version."""
        engine = cls._engine_for(location, creating=False)
        try:
            with _db_errors("cannot open the registry"), engine.begin() as conn:
                if not inspect(conn).has_table(registry_meta.name):
                    raise RegistryError("that database holds no registry: run `registry init`")
                row = conn.execute(select(registry_meta)).one()
        except BaseException:
            engine.dispose()
            raise
        if row.schema_version != SCHEMA_VERSION:
            engine.dispose()
            raise RegistryError(
                f"the registry has schema version {row.schema_version}; "
                f"this cityid-card reads version {SCHEMA_VERSION}"
            )
        return cls(engine, Role(row.role), row.station)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    @contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        with _db_errors(what), self._engine.begin() as conn:
            yield conn

    # -- keys ----------------------------------------------------------------------

    @_retry_on_conflict
    def add_key(self, kid: str, thumbprint: str, size: int, bits: int) -> KeyInfo:
        """Track a new issuer key with a status list of ``size`` entries of ``bits`` bits."""
        StatusRegistry(thumbprint, size, bits)  # the same rules as the list files
        if not isinstance(kid, str) or not 0 < len(kid) <= 64:
            raise RegistryError("a key id is 1 to 64 characters")
        with self._transaction("cannot add the key") as conn:
            known = conn.execute(
                select(issuer_keys.c.id).where(
                    (issuer_keys.c.kid == kid) | (issuer_keys.c.thumbprint == thumbprint)
                )
            ).first()
            if known is not None:
                raise RegistryError("the registry already tracks this key or this key id")
            conn.execute(
                insert(issuer_keys).values(
                    kid=kid, thumbprint=thumbprint, size=size, bits=bits, list_number=0, list_iat=0
                )
            )
        return self.key(thumbprint=thumbprint)

    def keys(self) -> list[KeyInfo]:
        with self._transaction("cannot read the keys") as conn:
            rows = conn.execute(select(issuer_keys).order_by(issuer_keys.c.id)).all()
        return [_key_info(row) for row in rows]

    def key(self, *, kid: str | None = None, thumbprint: str | None = None) -> KeyInfo:
        """The key named by ``kid`` or ``thumbprint``; with neither, the registry's only key."""
        with self._transaction("cannot read the keys") as conn:
            return _key_info(_key_row(conn, kid, thumbprint))

    # -- issuing -------------------------------------------------------------------

    @_retry_on_conflict
    def issue(
        self,
        *,
        thumbprint: str,
        name: str,
        date_of_birth: date,
        issued: date,
        expires: date,
        medium: Medium,
        operator: str,
        now: datetime,
    ) -> Card:
        """Take a random free status index and record the card and its holder, in one step.

        A station's file takes the index from its leased pool instead. Record the card
        before it is signed: an index recorded but unused is harmless, one used twice is not.
        """
        _check_holder(name, date_of_birth)
        _check_operator(operator)
        now = _check_now(now)
        if expires < issued:
            raise RegistryError("a card cannot expire before it is issued")
        with self._transaction("cannot record the card") as conn:
            key = _key_row(conn, None, thumbprint)
            holder_id = _holder_id(conn, name, date_of_birth)
            values = {
                "holder_id": holder_id,
                "issued": issued,
                "expires": expires,
                "medium": Medium(medium),
                "state": CardState.VALID,
            }
            card_id, index = self._take_index(conn, key, values)
            _add_event(conn, card_id, EventKind.ISSUED, None, operator, now)
        return Card(key.kid, index, CardState.VALID, issued, expires, Medium(medium), self.station)

    @_retry_on_conflict
    def reserve(self, *, thumbprint: str, operator: str, now: datetime) -> Card:
        """Record a card at a random free index whose holder comes later (:meth:`attach_holder`).

        For a caller that needs the index before it knows the holder (a station's batch
        knows both, and records them in one step: :meth:`issue`). The card is issued from the start: an index on a half-written card is
        never handed out again, and a failed card is revoked like any other.
        """
        _check_operator(operator)
        now = _check_now(now)
        with self._transaction("cannot record the card") as conn:
            key = _key_row(conn, None, thumbprint)
            card_id, index = self._take_index(conn, key, {"state": CardState.VALID})
            _add_event(conn, card_id, EventKind.ISSUED, None, operator, now)
        return Card(key.kid, index, CardState.VALID, None, None, None, self.station)

    @_retry_on_conflict
    def attach_holder(
        self,
        *,
        index: int,
        name: str,
        date_of_birth: date,
        issued: date,
        expires: date,
        medium: Medium | None = None,
        kid: str | None = None,
    ) -> Card:
        r"""Give a :meth:`reserve`\ d card its holder and dates; refused if it has another."""
        _check_holder(name, date_of_birth)
        if expires < issued:
            raise RegistryError("a card cannot expire before it is issued")
        with self._transaction("cannot record the holder") as conn:
            key = _key_row(conn, kid, None)
            row = _card_row(conn, key.id, index)
            holder_id = _holder_id(conn, name, date_of_birth)
            if row.holder_id is not None and row.holder_id != holder_id:
                raise RegistryError("that card already has another holder")
            conn.execute(
                update(cards)
                .where(cards.c.id == row.id)
                .values(
                    holder_id=holder_id,
                    issued=issued,
                    expires=expires,
                    # No medium given: the one recorded stays (it is never wiped).
                    medium=row.medium if medium is None else Medium(medium),
                )
            )
            return _card(conn, key.kid, _card_row(conn, key.id, index))

    def _take_index(self, conn: Connection, key: Any, values: dict[str, Any]) -> tuple[int, int]:
        if self.role is Role.STATION:
            return _take_from_pool(conn, key.id, values)
        return _insert_random(conn, key, values)

    # -- revoking ------------------------------------------------------------------

    @_retry_on_conflict
    def set_state(
        self,
        *,
        index: int,
        kind: EventKind,
        reason: Reason | None,
        operator: str,
        now: datetime,
        kid: str | None = None,
    ) -> tuple[Card, bool]:
        """Revoke, suspend or reinstate the card at ``index``; whether anything changed.

        Refused (NotIssued) for an index no card was ever issued with, so an index can
        never be born revoked. Revoked is final: a revoked card is not reinstated.
        """
        if kind not in (EventKind.REVOKED, EventKind.SUSPENDED, EventKind.REINSTATED):
            raise RegistryError("only revoked, suspended and reinstated change a card's state")
        if kind is not EventKind.REINSTATED and reason is None:
            raise RegistryError("a revocation or suspension needs a reason")
        _check_operator(operator)
        now = _check_now(now)
        with self._transaction("cannot change the card") as conn:
            key = _key_row(conn, kid, None)
            row = _card_row(conn, key.id, index)
            if kind is EventKind.SUSPENDED and key.bits < 2:
                raise RegistryError("a 1-bit status list cannot suspend: revoke instead")
            changed = _change(conn, row, kind, reason, operator, now)
            card = _card(conn, key.kid, _card_row(conn, key.id, index))
        return card, changed

    @_retry_on_conflict
    def revoke_holder(
        self, *, name: str, date_of_birth: date, reason: Reason, operator: str, now: datetime
    ) -> list[Card]:
        """Revoke every card of a holder that is not revoked yet; the cards revoked."""
        _check_holder(name, date_of_birth)
        _check_operator(operator)
        now = _check_now(now)
        done: list[Card] = []
        with self._transaction("cannot revoke the holder's cards") as conn:
            for row in conn.execute(
                select(cards, issuer_keys.c.kid)
                .join(holders, holders.c.id == cards.c.holder_id)
                .join(issuer_keys, issuer_keys.c.id == cards.c.key_id)
                .where(holders.c.name == name, holders.c.date_of_birth == date_of_birth)
                .where(cards.c.state != CardState.REVOKED)
                .order_by(cards.c.id)
            ).all():
                _change(conn, row, EventKind.REVOKED, reason, operator, now)
                done.append(_card(conn, row.kid, _card_row(conn, row.key_id, row.status_index)))
        return done

    @_retry_on_conflict
    def replace(
        self,
        *,
        index: int,
        reason: Reason,
        thumbprint: str,
        issued: date,
        expires: date,
        medium: Medium,
        operator: str,
        now: datetime,
        kid: str | None = None,
    ) -> tuple[Holder, Card, Card]:
        """Revoke the card at ``index`` and issue its holder a new one, in one transaction.

        The new card is issued under the key ``thumbprint`` names (the city's current key);
        ``kid`` names the old card's key when the registry has several.
        """
        _check_operator(operator)
        now = _check_now(now)
        with self._transaction("cannot replace the card") as conn:
            old_key = _key_row(conn, kid, None)
            old = _card_row(conn, old_key.id, index)
            if old.holder_id is None:
                raise RegistryError("the registry holds no holder for that card: issue anew")
            if old.state is CardState.REVOKED:
                raise RegistryError("that card is already revoked: issue anew")
            holder = conn.execute(select(holders).where(holders.c.id == old.holder_id)).one()
            new_key = _key_row(conn, None, thumbprint)
            values = {
                "holder_id": old.holder_id,
                "issued": issued,
                "expires": expires,
                "medium": Medium(medium),
                "state": CardState.VALID,
            }
            new_id, new_index = self._take_index(conn, new_key, values)
            _add_event(conn, new_id, EventKind.ISSUED, None, operator, now)
            _change(conn, old, EventKind.REPLACED, reason, operator, now, replacement=new_id)
            old_card = _card(conn, old_key.kid, _card_row(conn, old_key.id, index))
            new_card = _card(conn, new_key.kid, _card_row(conn, new_key.id, new_index))
        return Holder(holder.name, holder.date_of_birth, (old_card,)), old_card, new_card

    # -- finding, export, purge ----------------------------------------------------

    def find(self, name: str, date_of_birth: date) -> Holder | None:
        """The holder with this name and date of birth and their cards, or None."""
        _check_holder(name, date_of_birth)
        with self._transaction("cannot search the registry") as conn:
            found = _holder_with_cards(conn, name, date_of_birth, cards.c.issued, cards.c.id)
            if found is None:
                return None
            holder, rows = found
            held = tuple(_card(conn, row.kid, row) for row in rows)
        return Holder(holder.name, holder.date_of_birth, held)

    def card(self, index: int, kid: str | None = None) -> Card:
        """The card at ``index`` (NotIssued if none)."""
        with self._transaction("cannot read the card") as conn:
            key = _key_row(conn, kid, None)
            return _card(conn, key.kid, _card_row(conn, key.id, index))

    def export(self, name: str, date_of_birth: date) -> dict[str, Any] | None:
        """Everything the registry holds about one holder, as JSON-ready values; None if nothing."""
        _check_holder(name, date_of_birth)
        with self._transaction("cannot export") as conn:
            found = _holder_with_cards(conn, name, date_of_birth, cards.c.id)
            if found is None:
                return None
            holder, rows = found
            exported = []
            for row in rows:
                entry = _card(conn, row.kid, row).to_json()
                entry["events"] = [
                    {
                        "event": e.kind.value,
                        "reason": None if e.reason is None else e.reason.value,
                        "operator": e.operator,
                        "at": _utc(e.at).isoformat(),
                    }
                    for e in conn.execute(
                        select(events)
                        .where(events.c.card_id == row.id)
                        .order_by(events.c.at, events.c.uid)
                    ).all()
                ]
                exported.append(entry)
        return {
            "holder": {"name": holder.name, "date_of_birth": holder.date_of_birth.isoformat()},
            "cards": exported,
        }

    @_retry_on_conflict
    def purge(self, expired_before: date) -> int:
        """Delete the holders all of whose cards expired before ``expired_before``; how many.

        Their cards stay, without a holder: the indexes stay taken and the list keeps
        their status.
        """
        with self._transaction("cannot purge") as conn:
            latest = (
                select(cards.c.holder_id, func.max(cards.c.expires).label("last"))
                .where(cards.c.holder_id.is_not(None))
                .group_by(cards.c.holder_id)
                .subquery()
            )
            stale = select(latest.c.holder_id).where(latest.c.last < expired_before)
            ids = [row[0] for row in conn.execute(stale).all()]
            for chunk in _chunks(ids, 500):
                conn.execute(
                    update(cards).where(cards.c.holder_id.in_(chunk)).values(holder_id=None)
                )
                conn.execute(delete(holders).where(holders.c.id.in_(chunk)))
        return len(ids)

    def counts(self) -> dict[str, int]:
        """How many holders, cards by state, and events the registry holds."""
        with self._transaction("cannot count") as conn:
            result = {
                "holders": conn.execute(select(func.count()).select_from(holders)).scalar_one()
            }
            for state, count in conn.execute(
                select(cards.c.state, func.count()).group_by(cards.c.state)
            ).all():
                result[CardState(state).value] = count
            result["events"] = conn.execute(select(func.count()).select_from(events)).scalar_one()
        return result

    # -- status lists --------------------------------------------------------------

    @_retry_on_conflict
    def status_list(self, *, thumbprint: str, now: datetime) -> tuple[StatusRegistry, int]:
        """The key's current list and its new list number, taken in one transaction.

        The number only grows: each call takes the next. Refused if ``now`` is before
        the last list signed from this registry (a clock set back).
        """
        now = _check_now(now)
        iat = int(now.timestamp())
        with self._transaction("cannot build the status list") as conn:
            key = _key_row(conn, None, thumbprint)
            if iat < key.list_iat:
                raise RegistryError(
                    "the clock is before the last status list signed from this registry"
                )
            number = conn.execute(
                update(issuer_keys)
                .where(issuer_keys.c.id == key.id)
                .values(list_number=issuer_keys.c.list_number + 1, list_iat=iat)
                .returning(issuer_keys.c.list_number)
            ).scalar_one()
            result = StatusRegistry(key.thumbprint, key.size, key.bits)
            for index, state in conn.execute(
                select(cards.c.status_index, cards.c.state).where(
                    cards.c.key_id == key.id,
                    cards.c.state.in_([CardState.REVOKED, CardState.SUSPENDED]),
                )
            ).all():
                value = (
                    StatusValue.SUSPENDED if state is CardState.SUSPENDED else StatusValue.INVALID
                )
                result.set(index, value if value < 1 << key.bits else StatusValue.INVALID)
        return result, int(number)

    # -- offline stations ----------------------------------------------------------

    @_retry_on_conflict
    def lease(
        self, *, station: str, count: int, thumbprint: str, now: datetime, fresh: bool = False
    ) -> list[int]:
        """Give ``station`` ``count`` more random free indexes; return its whole unused pool.

        The whole pool, so that a lease run again after a crash hands the station's
        file what it missed. ``fresh``: the pool goes to a new file, refused while the
        station still holds unused indexes (its old file may have issued from them
        offline: two files must never hold one index).
        """
        self._city_only()
        check_station_name(station)
        _check_now(now)
        if not isinstance(count, int) or not 0 <= count <= 1_000_000:
            raise StationError("a lease is 0 to 1,000,000 indexes")
        with self._transaction("cannot lease") as conn:
            key = _key_row(conn, None, thumbprint)
            station_id = _station_id(conn, station, create=True)
            held = conn.execute(
                select(func.count())
                .select_from(cards)
                .where(cards.c.station_id == station_id, cards.c.state == CardState.LEASED)
            ).scalar_one()
            if fresh and held:
                raise StationError(
                    "this station holds unused indexes in another file: lease into that file "
                    "(or sync it), or reclaim the station if its file is lost"
                )
            for _ in range(count):
                _insert_random(conn, key, {"state": CardState.LEASED, "station_id": station_id})
            pool = conn.execute(
                select(cards.c.status_index).where(
                    cards.c.key_id == key.id,
                    cards.c.station_id == station_id,
                    cards.c.state == CardState.LEASED,
                )
            ).all()
        return [int(row[0]) for row in pool]

    @_retry_on_conflict
    def receive_pool(self, key: KeyInfo, indexes: Sequence[int]) -> int:
        """A station's file: add the leased indexes it does not hold yet; how many were new."""
        if self.role is not Role.STATION:
            raise StationError("only a station's file receives a pool")
        with self._transaction("cannot store the pool") as conn:
            local = conn.execute(
                select(issuer_keys).where(issuer_keys.c.thumbprint == key.thumbprint)
            ).first()
            if local is None:
                conn.execute(
                    insert(issuer_keys).values(
                        kid=key.kid, thumbprint=key.thumbprint, size=key.size, bits=key.bits,
                        list_number=0, list_iat=0,
                    )
                )  # fmt: skip
                local = conn.execute(
                    select(issuer_keys).where(issuer_keys.c.thumbprint == key.thumbprint)
                ).one()
            held = {
                row[0]
                for row in conn.execute(
                    select(cards.c.status_index).where(cards.c.key_id == local.id)
                ).all()
            }
            new = [i for i in indexes if i not in held]
            for chunk in _chunks(new, 1000):
                conn.execute(
                    insert(cards),
                    [
                        {"key_id": local.id, "status_index": i, "state": CardState.LEASED}
                        for i in chunk
                    ],
                )
        return len(new)

    @_retry_on_conflict
    def reclaim(self, *, station: str, free: bool, operator: str, now: datetime) -> int:
        """Close a lost station's lease and take back its unused pool; how many indexes.

        By default the unused indexes are revoked (reason STATION_LOST): any card the
        lost station issued from them offline stops verifying, and none is handed out
        twice. With ``free`` they return to the free indexes, for a station whose file is
        known never to have issued from them. A reclaimed station can no longer sync.
        """
        self._city_only()
        check_station_name(station)
        _check_operator(operator)
        now = _check_now(now)
        with self._transaction("cannot reclaim") as conn:
            station_id = _station_id(conn, station, create=False)
            conn.execute(update(stations).where(stations.c.id == station_id).values(reclaimed=now))
            pool = conn.execute(
                select(cards).where(
                    cards.c.station_id == station_id, cards.c.state == CardState.LEASED
                )
            ).all()
            if free:
                for chunk in _chunks([row.id for row in pool], 1000):
                    conn.execute(delete(cards).where(cards.c.id.in_(chunk)))
            else:
                for row in pool:
                    conn.execute(
                        update(cards).where(cards.c.id == row.id).values(state=CardState.REVOKED)
                    )
                    _add_event(conn, row.id, EventKind.REVOKED, Reason.STATION_LOST, operator, now)
        return len(pool)

    def _city_only(self) -> None:
        if self.role is not Role.CITY:
            raise StationError("leases are given by the city's registry, not a station's file")

    @_retry_on_conflict
    def sync(self, station_file: Registry) -> SyncResult:
        """Bring a station's cards and events into the city, and the city's events back.

        Idempotent and resumable: events are matched by their uid, cards by (key,
        index), so running it twice, or again after a crash half-way, changes nothing
        more. Once the city holds a card, the station's file forgets its holder.
        """
        self._city_only()
        if station_file.role is not Role.STATION or station_file.station is None:
            raise StationError("the second registry is not a station's file")
        name = station_file.station
        local = station_file._snapshot()
        cards_in = events_in = 0
        with self._transaction("cannot sync") as conn:
            station_id = _station_id(conn, name, create=False)
            if (
                conn.execute(
                    select(stations.c.reclaimed).where(stations.c.id == station_id)
                ).scalar_one()
                is not None
            ):
                raise StationError("this station's lease was reclaimed: it can no longer sync")
            key_ids = {row.thumbprint: row for row in conn.execute(select(issuer_keys)).all()}
            for item in local:
                key = key_ids.get(item["thumbprint"])
                if key is None:
                    raise StationError("the station's file holds a key the city does not track")
                row = conn.execute(
                    select(cards).where(
                        cards.c.key_id == key.id, cards.c.status_index == item["status_index"]
                    )
                ).first()
                if row is None or row.station_id != station_id:
                    raise StationError("the station's file holds an index not leased to it")
                if row.state is CardState.LEASED and item["name"] is not None:
                    conn.execute(
                        update(cards)
                        .where(cards.c.id == row.id)
                        .values(
                            holder_id=_holder_id(conn, item["name"], item["date_of_birth"]),
                            issued=item["issued"],
                            expires=item["expires"],
                            medium=item["medium"],
                        )
                    )
                    cards_in += 1
                known = {
                    r[0]
                    for r in conn.execute(
                        select(events.c.uid).where(events.c.card_id == row.id)
                    ).all()
                }
                fresh = [e for e in item["events"] if e["uid"] not in known]
                for e in fresh:
                    conn.execute(insert(events).values(card_id=row.id, **e))
                events_in += len(fresh)
                if fresh:
                    _refold(conn, row.id)
            # The other way: the city's events for the station's cards.
            outgoing = _events_of_station(conn, station_id)
        events_out = station_file._receive_events(outgoing)
        return SyncResult(cards_in, events_in, events_out)

    def _snapshot(self) -> list[dict[str, Any]]:
        """A station's issued cards with their holders and events, for a sync."""
        with self._transaction("cannot read the station's file") as conn:
            rows = conn.execute(
                select(cards, issuer_keys.c.thumbprint, holders.c.name, holders.c.date_of_birth)
                .join(issuer_keys, issuer_keys.c.id == cards.c.key_id)
                .outerjoin(holders, holders.c.id == cards.c.holder_id)
                .where(cards.c.state != CardState.LEASED)
            ).all()
            all_events: dict[int, list[dict[str, Any]]] = {}
            for e in conn.execute(select(events).order_by(events.c.id)).all():
                all_events.setdefault(e.card_id, []).append(
                    {
                        "uid": e.uid,
                        "kind": e.kind,
                        "reason": e.reason,
                        "operator": e.operator,
                        "at": _utc(e.at),
                    }
                )
        return [
            {
                "thumbprint": row.thumbprint,
                "status_index": row.status_index,
                "name": row.name,
                "date_of_birth": row.date_of_birth,
                "issued": row.issued,
                "expires": row.expires,
                "medium": row.medium,
                "events": all_events.get(row.id, []),
            }
            for row in rows
        ]

    def _receive_events(self, outgoing: list[dict[str, Any]]) -> int:
        """A station's file: take the city's events, forget holders the city now holds."""
        received = 0
        with self._transaction("cannot update the station's file") as conn:
            key_ids = {row.thumbprint: row.id for row in conn.execute(select(issuer_keys)).all()}
            for item in outgoing:
                key_id = key_ids.get(item["thumbprint"])
                if key_id is None:
                    continue
                row = conn.execute(
                    select(cards).where(
                        cards.c.key_id == key_id, cards.c.status_index == item["status_index"]
                    )
                ).first()
                if row is None:
                    continue
                known = {
                    r[0]
                    for r in conn.execute(
                        select(events.c.uid).where(events.c.card_id == row.id)
                    ).all()
                }
                fresh = [e for e in item["events"] if e["uid"] not in known]
                for e in fresh:
                    conn.execute(insert(events).values(card_id=row.id, **e))
                received += len(fresh)
                if fresh:
                    _refold(conn, row.id)
                if item["city_has_holder"] and row.holder_id is not None:
                    conn.execute(update(cards).where(cards.c.id == row.id).values(holder_id=None))
            conn.execute(
                delete(holders).where(
                    ~select(cards.c.id).where(cards.c.holder_id == holders.c.id).exists()
                )
            )
        return received

    # -- migration from the files of before ----------------------------------------

    @_retry_on_conflict
    def import_files(
        self,
        status: StatusRegistry,
        records: Iterable[Any],
        *,
        operator: str,
        now: datetime,
    ) -> dict[str, int]:
        """Import a registry.json (``status``) and the issuance records of issued.jsonl files.

        Every index taken in the file becomes a card (with its holder when a record
        names it), with its revoked or suspended state. Indexes already in the registry
        are left as they are, so an import can be run again. Records are
        :class:`cityid_card.station.Record`-like: name, date_of_birth, issued, expires,
        status_index.
        """
        _check_operator(operator)
        now = _check_now(now)
        by_index: dict[int, Any] = {}
        for record in records:
            _check_holder(record.name, record.date_of_birth)
            by_index[record.status_index] = record
        added = with_holder = skipped = 0
        with self._transaction("cannot import") as conn:
            key = _key_row(conn, None, status.key_thumbprint)
            if (key.size, key.bits) != (status.size, status.bits):
                raise RegistryError("the status registry file's size or bits differ from the key's")
            present = {
                row[0]
                for row in conn.execute(
                    select(cards.c.status_index).where(cards.c.key_id == key.id)
                ).all()
            }
            taken = {  # the set bits of the taken bitmap, skipping its empty bytes
                number * 8 + bit
                for number, byte in enumerate(status.taken)
                if byte
                for bit in range(8)
                if byte >> bit & 1
            } | set(by_index)
            for index in sorted(taken):
                if index >= status.size:
                    raise RegistryError("an issuance record's index lies outside the status list")
                if index in present:
                    skipped += 1
                    continue
                record = by_index.get(index)
                value = status.get(index)
                state = (
                    CardState.VALID if value is StatusValue.VALID
                    else CardState.SUSPENDED if value is StatusValue.SUSPENDED
                    else CardState.REVOKED
                )  # fmt: skip
                card_id = conn.execute(
                    insert(cards)
                    .values(
                        key_id=key.id,
                        status_index=index,
                        holder_id=None
                        if record is None
                        else _holder_id(conn, record.name, record.date_of_birth),
                        issued=None if record is None else record.issued,
                        expires=None if record is None else record.expires,
                        medium=Medium.UNKNOWN,
                        state=state,
                    )
                    .returning(cards.c.id)
                ).scalar_one()
                _add_event(conn, card_id, EventKind.ISSUED, None, operator, now)
                if state is CardState.REVOKED:
                    _add_event(conn, card_id, EventKind.REVOKED, Reason.OTHER, operator, now)
                elif state is CardState.SUSPENDED:
                    _add_event(conn, card_id, EventKind.SUSPENDED, Reason.OTHER, operator, now)
                added += 1
                with_holder += record is not None
        return {"cards": added, "with_holder": with_holder, "already_present": skipped}


# -- helpers (one code path for both back ends) -----------------------------------------


@contextmanager
def _db_errors(what: str) -> Iterator[None]:
    """Turn a database error into a RegistryError that quotes nothing the database said.

    The database's own messages may quote the values of a row (a name), and a
    connection error the URL (a password): only the kind of error is kept.
    """
    try:
        yield
    except sa_exc.DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            raise _Conflict(
                f"{what}: another transaction won a conflict ({_kind(error)})"
            ) from None
        if isinstance(error, sa_exc.OperationalError):
            raise RegistryError(
                f"{what}: the database is unreachable or busy ({_kind(error)})"
            ) from None
        raise RegistryError(f"{what}: the database refused it ({_kind(error)})") from None
    except sa_exc.SQLAlchemyError as error:
        raise RegistryError(f"{what}: the database refused it ({_kind(error)})") from None


def _kind(error: sa_exc.SQLAlchemyError) -> str:
    original = getattr(error, "orig", None)
    return type(original if original is not None else error).__name__


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key_info(row: Any) -> KeyInfo:
    return KeyInfo(row.kid, row.thumbprint, row.size, row.bits, row.list_number, row.list_iat)


def _key_row(conn: Connection, kid: str | None, thumbprint: str | None) -> Any:
    query = select(issuer_keys)
    if kid is not None:
        query = query.where(issuer_keys.c.kid == kid)
    if thumbprint is not None:
        query = query.where(issuer_keys.c.thumbprint == thumbprint)
    rows = conn.execute(query.limit(2)).all()
    if not rows:
        raise RegistryError("the registry does not track this issuer key")
    if len(rows) > 1:
        raise RegistryError("the registry tracks several keys: name one with --kid")
    return rows[0]


def _holder_with_cards(
    conn: Connection, name: str, date_of_birth: date, *order: Any
) -> tuple[Any, Sequence[Any]] | None:
    """The holder's row and their cards' rows (with each card's kid), in ``order``."""
    holder = conn.execute(
        select(holders).where(holders.c.name == name, holders.c.date_of_birth == date_of_birth)
    ).first()
    if holder is None:
        return None
    rows = conn.execute(
        select(cards, issuer_keys.c.kid)
        .join(issuer_keys, issuer_keys.c.id == cards.c.key_id)
        .where(cards.c.holder_id == holder.id)
        .order_by(*order)
    ).all()
    return holder, rows


def _holder_id(conn: Connection, name: str, date_of_birth: date) -> int:
    values = {"name": name, "date_of_birth": date_of_birth}
    # Insert unless present, atomically on both back ends (ON CONFLICT DO NOTHING).
    dialect = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
    conn.execute(dialect.insert(holders).values(**values).on_conflict_do_nothing())
    return int(
        conn.execute(
            select(holders.c.id).where(
                holders.c.name == name, holders.c.date_of_birth == date_of_birth
            )
        ).scalar_one()
    )


def _insert_random(conn: Connection, key: Any, values: dict[str, Any]) -> tuple[int, int]:
    """Insert a card at a free index drawn uniformly at random; (card id, index).

    Rejection sampling: a draw that is taken (the unique constraint says so, also for
    a concurrent transaction) is rolled back to a savepoint and drawn again.
    """
    for _ in range(_DRAWS):
        index = secrets.randbelow(key.size)
        try:
            with conn.begin_nested():
                card_id = conn.execute(
                    insert(cards)
                    .values(key_id=key.id, status_index=index, **values)
                    .returning(cards.c.id)
                ).scalar_one()
        except sa_exc.IntegrityError:
            continue
        return int(card_id), index
    taken = {
        row[0]
        for row in conn.execute(select(cards.c.status_index).where(cards.c.key_id == key.id)).all()
    }
    free = [i for i in range(key.size) if i not in taken]
    if not free:
        raise RegistryError("the status list is full: track a new key with a larger list")
    index = free[secrets.randbelow(len(free))]
    card_id = conn.execute(
        insert(cards).values(key_id=key.id, status_index=index, **values).returning(cards.c.id)
    ).scalar_one()
    return int(card_id), index


def _take_from_pool(conn: Connection, key_id: int, values: dict[str, Any]) -> tuple[int, int]:
    """A station: one of its leased indexes, chosen uniformly at random."""
    pool = and_(cards.c.key_id == key_id, cards.c.state == CardState.LEASED)
    count = conn.execute(select(func.count()).select_from(cards).where(pool)).scalar_one()
    if not count:
        raise StationError("the station's pool is used up: sync and lease more while online")
    row = conn.execute(
        select(cards.c.id, cards.c.status_index)
        .where(pool)
        .order_by(cards.c.id)
        .offset(secrets.randbelow(count))
        .limit(1)
    ).one()
    conn.execute(update(cards).where(cards.c.id == row.id).values(**values))
    return int(row.id), int(row.status_index)


def _station_id(conn: Connection, name: str, *, create: bool) -> int:
    found = conn.execute(select(stations).where(stations.c.name == name)).first()
    if found is not None:
        if create and found.reclaimed is not None:
            raise StationError("this station's lease was reclaimed: give the new one another name")
        return int(found.id)
    if not create:
        raise StationError("the registry has no station of that name")
    return int(
        conn.execute(insert(stations).values(name=name).returning(stations.c.id)).scalar_one()
    )


def _add_event(
    conn: Connection,
    card_id: int,
    kind: EventKind,
    reason: Reason | None,
    operator: str,
    now: datetime,
    replacement: int | None = None,
) -> None:
    # A card's events are ordered by time: one given the same instant as the card's
    # last event (a clerk acting twice within a clock tick) is put a microsecond later.
    last = conn.execute(select(func.max(events.c.at)).where(events.c.card_id == card_id)).scalar()
    if last is not None and _utc(last) >= now:
        now = _utc(last) + timedelta(microseconds=1)
    conn.execute(
        insert(events).values(
            uid=secrets.token_hex(16),
            card_id=card_id,
            kind=kind,
            reason=reason,
            operator=operator,
            at=now,
            replacement_id=replacement,
        )
    )


def _card_row(conn: Connection, key_id: int, index: int) -> Any:
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise RegistryError("a status index is a whole number, 0 or more")
    # FOR UPDATE (PostgreSQL; SQLite's writers are serialised already): two clerks
    # revoking one card at once make one change and one event, not two.
    row = conn.execute(
        select(cards)
        .where(cards.c.key_id == key_id, cards.c.status_index == index)
        .with_for_update()
    ).first()
    if row is None:
        raise NotIssued("no card was issued with that status index")
    if row.state is CardState.LEASED:
        raise NotIssued(
            "that index is in an offline station's pool and no card of it has reached this "
            "registry: sync the station first (or reclaim a lost station's pool)"
        )
    return row


def _change(
    conn: Connection,
    row: Any,
    kind: EventKind,
    reason: Reason | None,
    operator: str,
    now: datetime,
    replacement: int | None = None,
) -> bool:
    state = _fold([kind], row.state)
    if state is row.state and kind is not EventKind.REPLACED:
        if kind is EventKind.REINSTATED and row.state is CardState.REVOKED:
            raise RegistryError("a revoked card is not reinstated: replace it")
        if kind is EventKind.SUSPENDED and row.state is CardState.REVOKED:
            raise RegistryError("that card is revoked already")
        return False
    conn.execute(update(cards).where(cards.c.id == row.id).values(state=state))
    _add_event(conn, row.id, kind, reason, operator, now, replacement)
    return True


def _refold(conn: Connection, card_id: int) -> None:
    """Recompute a card's state from all its events, in time order (both sides agree)."""
    kinds = [
        EventKind(row[0])
        for row in conn.execute(
            select(events.c.kind)
            .where(events.c.card_id == card_id)
            .order_by(events.c.at, events.c.uid)
        ).all()
    ]
    conn.execute(
        update(cards).where(cards.c.id == card_id).values(state=_fold(kinds, CardState.LEASED))
    )


def _events_of_station(conn: Connection, station_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(cards.c.id, cards.c.status_index, cards.c.holder_id, issuer_keys.c.thumbprint)
        .join(issuer_keys, issuer_keys.c.id == cards.c.key_id)
        .where(cards.c.station_id == station_id, cards.c.state != CardState.LEASED)
    ).all()
    by_card: dict[int, list[dict[str, Any]]] = {}
    ids = [row.id for row in rows]
    for chunk in _chunks(ids, 500):
        for e in conn.execute(
            select(events).where(events.c.card_id.in_(chunk)).order_by(events.c.id)
        ).all():
            by_card.setdefault(e.card_id, []).append(
                {
                    "uid": e.uid,
                    "kind": e.kind,
                    "reason": e.reason,
                    "operator": e.operator,
                    "at": _utc(e.at),
                }
            )
    return [
        {
            "thumbprint": row.thumbprint,
            "status_index": row.status_index,
            "city_has_holder": row.holder_id is not None,
            "events": by_card.get(row.id, []),
        }
        for row in rows
    ]


def _card(conn: Connection, kid: str, row: Any) -> Card:
    station = None
    if row.station_id is not None:
        station = conn.execute(
            select(stations.c.name).where(stations.c.id == row.station_id)
        ).scalar_one()
    return Card(
        kid=kid,
        status_index=row.status_index,
        state=CardState(row.state),
        issued=row.issued,
        expires=row.expires,
        medium=None if row.medium is None else Medium(row.medium),
        station=station,
    )
