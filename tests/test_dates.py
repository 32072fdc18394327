"""The date rule (specs/credential.md, "Dates"), on both engines and across time zones.

A credential's dates are calendar dates of the issuing city; a verifier compares them
with its own local calendar date. The zones are POSIX TZ strings, which need no zone
files: UTC-11 (a station issuing late in the day, the issue's first case), UTC+14 (a
city east of UTC, after local midnight) and US Central time with its DST rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from cityid_card import Expired, IssuerKey, NotYetValid, TrustStore, Verifier, _algorithms, verify
from cityid_card.status import CredentialStatus
from cityid_card.verifier import _clock

from .conftest import engine_factory, native_module, sample_credential

EPOCH = date(1970, 1, 1)
MINUS_11 = "SST11"
PLUS_14 = "LINT-14"
CHICAGO = "CST6CDT,M3.2.0,M11.1.0"


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function that moves this process to a time zone; the old one comes back after."""

    def move(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield move
    monkeypatch.undo()
    time.tzset()


def _local_today() -> date:
    local = time.localtime()
    return date(local.tm_year, local.tm_mon, local.tm_mday)


@pytest.mark.parametrize("tz", [MINUS_11, PLUS_14, CHICAGO])
def test_a_card_issued_and_expiring_today_verifies_today_in_any_zone(
    engine_impl: str, issuer_key: IssuerKey, trust: TrustStore, zone: Any, tz: str
) -> None:
    """At any hour, UTC-11 or UTC+14 has another date than UTC: judged by the UTC date,
    such a card was Expired in the one (a station west of UTC) or NotYetValid in the
    other (a city east of UTC, after local midnight)."""
    zone(tz)
    today = _local_today()
    # Issued and valid today only, as a station's date.today() writes it.
    blob = issuer_key.issue(sample_credential(issued=today, expires=today))
    verifier = Verifier(trust, implementation=engine_impl)
    assert verifier.verify(blob).credential.expires == today
    assert verifier.verify(blob).credential.expires == today  # the cache hit, rechecked
    [result] = verifier.verify_many([blob])
    assert not isinstance(result, Exception) and result.credential.issued == today
    with pytest.raises(Expired):
        verifier.verify(issuer_key.issue(sample_credential(expires=today - timedelta(days=1))))
    tomorrow = today + timedelta(days=1)
    with pytest.raises(NotYetValid):
        verifier.verify(
            issuer_key.issue(sample_credential(issued=tomorrow, expires=tomorrow)), None
        )


def _zone_where_the_clock_reads(hour: int, minute: int, *, west: bool) -> str:
    """A POSIX TZ (no zone file) in which the clock now reads hour:minute, west or east
    of UTC (offsets up to 24 hours, which glibc takes). It aims at hour:minute:30, so
    that a clock step of a few seconds (a loaded VM) still reads hour:minute."""
    now = datetime.now(UTC).replace(microsecond=0)
    east = (now.replace(hour=hour, minute=minute, second=30) - now) % timedelta(days=1)
    if west:
        east -= timedelta(days=1)
    seconds = int(east.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    # POSIX counts west of UTC as positive: "LCL6" is UTC-6.
    return f"LCL{'' if seconds < 0 else '-'}{hours}:{rest // 60:02}:{rest % 60:02}"


@pytest.mark.parametrize(
    ("hour", "minute", "west", "edge"),
    [(23, 30, True, "last day"), (0, 30, False, "first day")],
)
def test_the_default_clock_at_the_ends_of_the_local_day(
    engine_impl: str,
    issuer_key: IssuerKey,
    trust: TrustStore,
    zone: Any,
    hour: int,
    minute: int,
    west: bool,
    edge: str,
) -> None:
    """The issue's desks, on the real clock: 23:30 on a card's last day west of UTC (a
    US desk in the evening, the UTC date already tomorrow), and 00:30 on its first day
    east of UTC (the UTC date still yesterday). Both valid, on the local date."""
    zone(_zone_where_the_clock_reads(hour, minute, west=west))
    local = time.localtime()
    assert (local.tm_hour, local.tm_min) in {(hour, minute), (hour, minute + 1)}
    today = _local_today()
    if edge == "last day":
        blob = issuer_key.issue(sample_credential(issued=today - timedelta(days=9), expires=today))
    else:
        blob = issuer_key.issue(sample_credential(issued=today, expires=today + timedelta(days=9)))
    # Judged by the UTC date, the card is Expired (west) or NotYetValid (east); that date
    # differs from the local one at every hour but the half hour around UTC midnight.
    utc = datetime.now(UTC).date()
    if utc != today:
        wrong = Expired if west else NotYetValid
        with pytest.raises(wrong):
            verify(blob, trust, now=utc)
    verifier = Verifier(trust, implementation=engine_impl)
    assert verifier.verify(blob).credential.issued is not None
    assert verifier.verify(blob).kid == issuer_key.kid  # the cache hit, dates rechecked
    [result] = verifier.verify_many([blob])
    assert not isinstance(result, Exception)


def test_the_c_engine_notices_a_change_of_zone(
    issuer_key: IssuerKey, trust: TrustStore, zone: Any
) -> None:
    """The C engine keeps today's span of seconds; a new zone must not reuse it."""
    native_module()
    verifier = Verifier(trust, cache_size=0, implementation="c")
    for tz in (MINUS_11, PLUS_14, MINUS_11, "UTC0", PLUS_14):
        zone(tz)
        today = _local_today()
        verifier.verify(issuer_key.issue(sample_credential(issued=today, expires=today)))


def test_chicago_on_the_evening_of_the_last_valid_day(
    engine_impl: str, blob: bytes, trust: TrustStore, zone: Any
) -> None:
    """23:30 in Chicago on the expiry day is 05:30 UTC the next day: still valid there."""
    zone(CHICAGO)
    expires = sample_credential().expires
    verifier = Verifier(trust, cache_size=0, implementation=engine_impl)
    evening = datetime(expires.year, expires.month, expires.day, 23, 30)
    verifier.verify(blob, evening)  # naive: the desk's local wall time
    verifier.verify(blob, evening.replace(tzinfo=timezone(timedelta(hours=-6))))
    verifier.verify(blob, expires)
    with pytest.raises(Expired):
        verifier.verify(blob, evening + timedelta(minutes=30))
    with pytest.raises(Expired):  # an aware datetime is judged by its own calendar date
        verifier.verify(blob, evening.replace(tzinfo=timezone(timedelta(hours=-6))).astimezone(UTC))


@pytest.mark.parametrize("tz", [MINUS_11, PLUS_14, CHICAGO])
def test_naive_datetimes_and_dates_are_local_for_status_lists(
    engine_impl: str, zone: Any, tz: str
) -> None:
    """A naive datetime is local wall time, a date starts at local midnight: both engines
    judge a status list's expiry at the same instant, the one datetime.timestamp() gives."""
    zone(tz)
    day = date(2027, 6, 1)
    checks = [
        (datetime(2027, 6, 1, 12, 0), int(datetime(2027, 6, 1, 12, 0).timestamp())),
        (day, int(datetime(2027, 6, 1).timestamp())),
    ]
    key = IssuerKey.generate("EdDSA", kid="K")
    engine = engine_factory(engine_impl)([(-8, key.public().wire_kid, _raw(key), None, None, "K")])
    result = Verifier(TrustStore([key.public()]), implementation="python").verify(
        key.issue(sample_credential()), day
    )
    for now, instant in checks:
        assert _clock(now) == ((day - EPOCH).days, instant)
        entry = (result, 0, (day - EPOCH).days, (day - EPOCH).days, 0)
        engine.set_status_list(0, b"\x00", 1, instant)
        assert engine.recheck(entry, now).status is CredentialStatus.VALID
        engine.set_status_list(0, b"\x00", 1, instant - 1)
        assert engine.recheck(entry, now).status is CredentialStatus.UNKNOWN


def _raw(key: IssuerKey) -> bytes:
    return _algorithms.raw_public_bytes(key.public().key)


@pytest.mark.parametrize("tz", [MINUS_11, PLUS_14, CHICAGO, "UTC0"])
def test_the_c_engines_cached_day_is_the_local_calendar_date(zone: Any, tz: str) -> None:
    """The C engine's span of today, kept between verifications, gives the date that
    localtime gives: across local midnights, both DST changes of 2027 and the clock
    stepping back, second by second at the edges and in 7-minute steps between."""
    local_day = native_module()._native._local_day
    zone(tz)
    starts = [
        datetime(2027, 3, 13, 20, tzinfo=UTC),  # Chicago springs forward on 14 March
        datetime(2027, 11, 6, 20, tzinfo=UTC),  # and falls back on 7 November
        datetime(2026, 12, 31, 0, tzinfo=UTC),
    ]
    readings: list[int] = []
    for start in starts:
        first = int(start.timestamp())
        readings += range(first, first + 2 * 86400, 420)
    # Around each local midnight and DST change in Chicago, every second.
    for edge in (
        "2027-03-14T02:00:00-06:00",
        "2027-11-07T01:00:00-05:00",
        "2027-03-15T00:00:00-05:00",
    ):
        middle = int(datetime.fromisoformat(edge).timestamp())
        readings += range(middle - 90, middle + 90)
    readings += sorted(readings, reverse=True)[:500]  # the clock going backwards
    for seconds in readings:
        local = time.localtime(seconds)
        expected = (date(local.tm_year, local.tm_mon, local.tm_mday) - EPOCH).days
        assert local_day(seconds) == expected, (tz, seconds)


def test_verify_uses_the_local_date_by_default(
    issuer_key: IssuerKey, trust: TrustStore, zone: Any
) -> None:
    """The module-level verify() (and the default engine, whichever it is)."""
    for tz in (MINUS_11, PLUS_14):
        zone(tz)
        today = _local_today()
        blob = issuer_key.issue(sample_credential(issued=today, expires=today))
        assert verify(blob, trust).credential.issued == today
