"""The registry's closed schema: holders, cards, events, and what the registry itself needs.

Holders have a name and a date of birth and nothing else, ever: there is no column for an
address, a phone number, a document, an immigration status or free text anywhere. Every
text column other than a name is an identifier or one value of a fixed list, checked by
the database itself (CHECK constraints), so no back end can store anything else in it.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

#: The schema this code reads and writes; a registry of another version is refused.
SCHEMA_VERSION = 1
#: Longest name kept (a credential's name claim is shorter still).
MAX_NAME = 200


class Medium(enum.Enum):
    """What a card's credential was written to."""

    FILE = "file"  # a credential file (printed as a QR code, or kept in a wallet)
    CARD = "card"  # a contact or contactless chip card
    TAG = "tag"  # an NFC tag
    UNKNOWN = "unknown"  # imported from the files of before the registry


class CardState(enum.Enum):
    """Where a status index stands. LEASED: in a station's pool, not yet issued."""

    LEASED = "leased"
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class EventKind(enum.Enum):
    """What happened to a card: the audit trail."""

    ISSUED = "issued"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REPLACED = "replaced"


class Reason(enum.Enum):
    """Why a card was revoked, suspended or replaced: a fixed list, never free text."""

    LOST = "lost"
    STOLEN = "stolen"
    DAMAGED = "damaged"
    DECEASED = "deceased"
    ERROR = "error"
    OTHER = "other"
    #: The station that held the card's index was lost and its pool reclaimed.
    STATION_LOST = "station_lost"


class Role(enum.Enum):
    """A city registry, or an offline station's file leased from one."""

    CITY = "city"
    STATION = "station"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # VARCHAR plus a CHECK constraint on both back ends: no native PostgreSQL type to migrate.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda members: [member.value for member in members],
        length=16,
        validate_strings=True,
    )


metadata = MetaData()

#: One row: the schema version and whether this is a city registry or a station's file.
registry_meta = Table(
    "registry_meta",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("schema_version", Integer, nullable=False),
    Column("role", _enum(Role, "role"), nullable=False),
    # A station's own name (stations only): an identifier such as "ward-7".
    Column("station", String(40)),
    CheckConstraint("id = 1", name="one_row"),
)

#: The issuer keys whose cards the registry tracks, with each key's status list shape.
issuer_keys = Table(
    "issuer_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kid", String(64), nullable=False, unique=True),
    Column("thumbprint", String(64), nullable=False, unique=True),
    Column("size", Integer, nullable=False),
    Column("bits", SmallInteger, nullable=False),
    # The number of the last status list signed from this registry (0: none yet).
    Column("list_number", BigInteger, nullable=False, default=0),
    # When that list was signed, in whole seconds since 1970 UTC (0: none yet).
    Column("list_iat", BigInteger, nullable=False, default=0),
    CheckConstraint("bits IN (1, 2, 4, 8)", name="bits"),
    CheckConstraint("size >= 8 AND size <= 16777216", name="size"),
)

#: Offline stations (ward offices, mobile stations) that hold a lease of indexes.
stations = Table(
    "stations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("reclaimed", DateTime(timezone=True)),
)

#: The people who hold cards: a name and a date of birth, and nothing else.
holders = Table(
    "holders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(MAX_NAME), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    UniqueConstraint("name", "date_of_birth", name="holder_identity"),
)

#: Every status index taken: a card, or an index in a station's pool (LEASED, no holder).
cards = Table(
    "cards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", Integer, ForeignKey("issuer_keys.id"), nullable=False),
    Column("status_index", Integer, nullable=False),
    Column("holder_id", Integer, ForeignKey("holders.id", ondelete="SET NULL")),
    Column("issued", Date),
    Column("expires", Date),
    Column("medium", _enum(Medium, "medium")),
    Column("state", _enum(CardState, "state"), nullable=False),
    # The station that issued the card, or holds the index in its pool; NULL: the city office.
    Column("station_id", Integer, ForeignKey("stations.id")),
    UniqueConstraint("key_id", "status_index", name="one_card_per_index"),
    CheckConstraint("status_index >= 0", name="index_not_negative"),
)
Index("cards_by_holder", cards.c.holder_id)
Index("cards_by_station_state", cards.c.station_id, cards.c.state)
# The status list is built from the revoked and suspended cards of a key.
Index("cards_by_key_state", cards.c.key_id, cards.c.state)

#: What happened to each card, when and by whom. ``uid`` makes station syncs idempotent.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("card_id", Integer, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    Column("kind", _enum(EventKind, "event_kind"), nullable=False),
    Column("reason", _enum(Reason, "reason")),
    # Who did it: an operator id such as "clerk-17" (letters, digits, . _ -), never a name.
    Column("operator", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # For REPLACED: the card that replaces this one.
    Column("replacement_id", Integer, ForeignKey("cards.id", ondelete="SET NULL")),
)
Index("events_by_card", events.c.card_id)
