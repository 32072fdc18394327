"""The city's registry: issues and revocations per second, stations, signing, size on disk.

Run: ``.venv/bin/python benchmarks/registry.py [--holders 1000000] [--backends sqlite,postgresql]``
(``./scripts/test`` sets up .venv and installs PostgreSQL). For each back end it makes a
registry in a temporary folder (SQLite: a file; PostgreSQL: a throwaway cluster started
with initdb and pg_ctl on a Unix socket, run as the postgres user when run as root, with
its default, durable settings), fills it with --holders made-up holders, each with one
card at a random index of a 2^24-entry list (1 % of them revoked) and its issued event,
and --stations - 1 stations with a pool of 2,000 indexes each (bulk inserts: the filling
is set-up, not measured), then measures through the registry's own interface:

- issues per second with 1, 4 and 16 issuer processes at once (each issue one
  transaction: a random free index, the holder, the card, the event);
- revocations per second with 4 processes at once;
- an offline station, the last of --stations (50) that each hold a pool of 2,000
  indexes: lease 2,000 indexes into its own SQLite file, issue 2,000 cards
  offline, sync them to the city (and the same sync again, which must move nothing);
- signing the list of 2^24 entries (building it from the database, compressing,
  signing);
- size on disk per holder (SQLite: the file and its WAL; PostgreSQL: the database).

Every figure is one run; the machine is shared, so expect some noise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pwd
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, text

from cityid_card import IssuerKey, sign_status_list
from cityid_card.registry import (
    CardState,
    EventKind,
    Medium,
    Reason,
    Registry,
    key_thumbprint,
    lease,
)
from cityid_card.registry._schema import cards, events, holders
from cityid_card.registry._schema import stations as stations_table

ENTRIES = 2**24
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
_FORK = multiprocessing.get_context("fork")


@dataclass
class Figures:
    backend: str
    holders: int
    fill_seconds: float
    issues: dict[int, float]
    revocations: float
    lease_seconds: float
    offline_per_second: float
    sync_seconds: float
    resync_seconds: float
    sign_seconds: float
    list_bytes: int
    bytes_per_holder: float


# -- PostgreSQL: a throwaway cluster ---------------------------------------------------


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running cluster in a temporary folder; yields a URL with a {db} placeholder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        sys.exit("PostgreSQL is not installed (./scripts/test installs Debian's postgresql)")
    bindir = found[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="cityid-bench-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    options = f"-k {folder} -p 5432 -c listen_addresses='' -c max_connections=100"
    try:
        subprocess.run(  # noqa: S603 - the server's own programs
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "cityid",
             "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(  # noqa: S603
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"),
             "-o", options, "-w", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql://cityid@/{{db}}?host={folder}&port=5432"
    finally:
        subprocess.run(  # noqa: S603
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server: str, name: str) -> str:
    with psycopg.connect(server.format(db="postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.format(db=name)


# -- filling -----------------------------------------------------------------------------


def fill(registry: Registry, key_id: int, count: int, stations: int) -> None:
    """``count`` holders, each with one card at a random index (1 % revoked) and its event;
    ``stations`` stations with a leased pool of 2,000 indexes each."""
    rng = random.Random(1)  # noqa: S311 - made-up data, reproducible
    every = rng.sample(range(ENTRIES), count + 2000 * stations)
    indexes, pools = every[:count], every[count:]
    chunk = 20_000
    engine = registry._engine
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        with engine.begin() as conn:
            ids = range(start + 1, stop + 1)
            conn.execute(
                insert(holders),
                [
                    {
                        "id": i,
                        "name": f"Benchmark Holder Number {i:07d}",
                        "date_of_birth": date(1940, 1, 1) + timedelta(days=rng.randrange(25000)),
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(cards),
                [
                    {
                        "id": i,
                        "key_id": key_id,
                        "status_index": indexes[i - 1],
                        "holder_id": i,
                        "issued": date(2026, 1, 1),
                        "expires": date(2031, 1, 1),
                        "medium": Medium.CARD,
                        # 1 % revoked, placed at random: what the signed list compresses
                        "state": CardState.REVOKED if i % 100 == 0 else CardState.VALID,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(events),
                [
                    {
                        "uid": secrets.token_hex(16),
                        "card_id": i,
                        "kind": EventKind.ISSUED,
                        "operator": "import",
                        "at": NOW,
                    }
                    for i in ids
                ],
            )
    with engine.begin() as conn:
        for number in range(stations):
            conn.execute(insert(stations_table).values(id=number + 1, name=f"ward-{number + 1}"))
            conn.execute(
                insert(cards),
                [
                    {
                        "id": count + number * 2000 + i + 1,
                        "key_id": key_id,
                        "status_index": pools[number * 2000 + i],
                        "state": CardState.LEASED,
                        "station_id": number + 1,
                    }
                    for i in range(2000)
                ],
            )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # the ids above were given by hand
            for table in ("holders", "cards", "events", "stations"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our table names
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            conn.execute(text("ANALYZE"))


# -- measured work, in separate processes ---------------------------------------------------


def _issue_many(registry: Registry, thumbprint: str, worker: int, count: int) -> None:
    for i in range(count):
        registry.issue(
            thumbprint=thumbprint, name=f"New Holder {worker:03d}-{i:05d}",
            date_of_birth=date(1990, 1, 1), issued=date(2026, 12, 5),
            expires=date(2031, 12, 4), medium=Medium.FILE, operator="bench", now=NOW,
        )  # fmt: skip


def _issuer(start: Any, location: str, thumbprint: str, worker: int, count: int) -> None:
    with Registry.open(location) as registry:
        registry.counts()  # connected before the clock starts
        start.wait()
        _issue_many(registry, thumbprint, worker, count)


def _revoker(start: Any, location: str, indexes: list[int]) -> None:
    with Registry.open(location) as registry:
        registry.counts()
        start.wait()
        for index in indexes:
            registry.set_state(
                index=index, kind=EventKind.REVOKED, reason=Reason.LOST, operator="bench",
                now=NOW,
            )  # fmt: skip


def _parallel(jobs: list[tuple[Any, tuple[Any, ...]]]) -> float:
    """Seconds from the moment every process is connected to the last one's end."""
    start = _FORK.Barrier(len(jobs) + 1)
    processes = [_FORK.Process(target=f, args=(start, *a)) for f, a in jobs]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            sys.exit("a benchmark process failed")
    return time.perf_counter() - began


def measure(
    backend: str, location: str, folder: Path, count: int, per_issuer: int, stations: int
) -> Figures:
    key = IssuerKey.generate("EdDSA", kid="BENCH-1")
    thumbprint = key_thumbprint(key)
    with Registry.create(location) as registry:
        registry.add_key(key.kid, thumbprint, ENTRIES, 2)
        start = time.perf_counter()
        fill(registry, 1, count, stations - 1)
        fill_seconds = time.perf_counter() - start
    print(f"{backend}: filled {count:,} holders, {stations - 1} stations' pools in "
          f"{fill_seconds:.0f} s", file=sys.stderr)  # fmt: skip

    issues: dict[int, float] = {}
    for processes in (1, 4, 16):
        seconds = _parallel(
            [(_issuer, (location, thumbprint, processes * 100 + w, per_issuer))
             for w in range(processes)]
        )  # fmt: skip
        issues[processes] = processes * per_issuer / seconds
        print(f"{backend}: {processes} issuers: {issues[processes]:.0f}/s", file=sys.stderr)

    with Registry.open(location) as registry, registry._engine.begin() as conn:
        some = [
            row[0]
            for row in conn.execute(
                text("SELECT status_index FROM cards WHERE state = 'valid' LIMIT 800")
            )
        ]
    seconds = _parallel([(_revoker, (location, some[w::4])) for w in range(4)])
    revocations = len(some) / seconds

    station = folder / f"ward-{backend}.db"
    with Registry.open(location) as city:
        start = time.perf_counter()
        lease(city, station, station=f"ward-{stations}", count=2000, thumbprint=thumbprint, now=NOW)
        lease_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with Registry.open(station) as ward:
        _issue_many(ward, thumbprint, 999, 2000)
    offline = 2000 / (time.perf_counter() - start)
    with Registry.open(location) as city, Registry.open(station) as ward:
        start = time.perf_counter()
        result = city.sync(ward)
        sync_seconds = time.perf_counter() - start
        assert result.cards_in == 2000
        start = time.perf_counter()
        assert city.sync(ward).cards_in == 0
        resync_seconds = time.perf_counter() - start

    with Registry.open(location) as registry:
        start = time.perf_counter()
        status, number = registry.status_list(thumbprint=thumbprint, now=NOW)
        token = sign_status_list(key, status, issued_at=NOW, number=number)
        sign_seconds = time.perf_counter() - start
        held = registry.counts()["holders"]
        if backend == "sqlite":
            raw = registry._engine.raw_connection()  # a checkpoint runs outside a transaction
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
            size = sum(p.stat().st_size for p in folder.glob("city.db*"))
        else:
            with registry._engine.begin() as conn:
                size = int(
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                )
    return Figures(
        backend, held, fill_seconds, issues, revocations, lease_seconds, offline, sync_seconds,
        resync_seconds, sign_seconds, len(token), size / held,
    )  # fmt: skip


def table(rows: list[Figures]) -> str:
    lines = [
        "| | " + " | ".join(row.backend for row in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]

    def line(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    line("holders in the registry", [f"{r.holders:,}" for r in rows])
    for n in (1, 4, 16):
        line(f"issues/s, {n} issuer{'s' * (n > 1)} at once", [f"{r.issues[n]:,.0f}" for r in rows])
    line("revocations/s, 4 at once", [f"{r.revocations:,.0f}" for r in rows])
    line("lease 2,000 indexes to one more station", [f"{r.lease_seconds:.2f} s" for r in rows])
    line("offline issues/s at the station (SQLite)", [f"{r.offline_per_second:,.0f}" for r in rows])
    line("sync 2,000 cards to the city", [f"{r.sync_seconds:.2f} s" for r in rows])
    line("the same sync again (nothing to move)", [f"{r.resync_seconds:.2f} s" for r in rows])
    line("build and sign the 2^24-entry list", [f"{r.sign_seconds:.2f} s" for r in rows])
    line("signed list size", [f"{r.list_bytes:,} bytes" for r in rows])
    line("size on disk per holder", [f"{r.bytes_per_holder:,.0f} bytes" for r in rows])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holders", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=200, help="issues per issuer process")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--stations", type=int, default=50,
                        help="stations with a pool of 2,000; the last one is measured")  # fmt: skip
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        folder = Path(tempfile.mkdtemp(prefix=f"cityid-bench-{backend}-"))
        try:
            if backend == "sqlite":
                location = str(folder / "city.db")
                rows.append(
                    measure(backend, location, folder, args.holders, args.issues, args.stations)
                )
            else:
                with postgres_cluster() as server:
                    location = new_database(server, "bench")
                    rows.append(
                        measure(backend, location, folder, args.holders, args.issues, args.stations)
                    )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(table(rows))


if __name__ == "__main__":
    main()
