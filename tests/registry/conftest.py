"""Registry fixtures: every registry test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is a throwaway cluster made for the test session in a temporary
folder (initdb, then pg_ctl on a Unix socket in that folder, no TCP port), stopped and
deleted at the end. PostgreSQL refuses to run as root: as root the cluster runs as the
``postgres`` system user that Debian's package creates. Under CI=true a server that
cannot start fails the run; elsewhere the PostgreSQL tests are skipped, saying why.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cityid_card import IssuerKey
from cityid_card.registry import Registry, key_thumbprint

#: A moment at which the tests act; the registry never reads a clock itself.
NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
#: Entries in the test keys' lists: small, so that a full list can be tested too.
SIZE = 4096
BACKENDS = ("sqlite", "postgresql")
_counter = itertools.count()


def _bindir() -> Path | None:
    """Where Debian's postgresql package put initdb and pg_ctl (the newest version)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0],
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI: {why}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {why}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running throwaway PostgreSQL cluster: a URL with a ``{db}`` placeholder."""
    bindir = _bindir()
    if bindir is None:
        _unavailable("initdb not found (./scripts/test installs Debian's postgresql)")
    assert bindir is not None
    folder = Path(tempfile.mkdtemp(prefix="cityid-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            _unavailable("running as root and there is no postgres user to run the server as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log = folder / "data", folder / "server.log"
    options = (
        f"-k {folder} -p 5432 -c listen_addresses='' -c max_connections=200 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    started = False
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "cityid",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
             "-w", "-t", "60", "start"],
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip
        started = True
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"the throwaway server did not start ({type(error).__name__})")
    try:
        yield f"postgresql://cityid@/{{db}}?host={folder}&port=5432"
    finally:
        if started:
            subprocess.run(
                [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server: str) -> str:
    """A fresh empty database in the session's cluster; its URL."""
    import psycopg

    name = f"t{os.getpid()}_{next(_counter)}"
    admin = server.format(db="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.format(db=name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a new registry goes: an SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "city.db")
    return new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def key() -> IssuerKey:
    return IssuerKey.generate("EdDSA", kid="CHI-2026-1")


@pytest.fixture
def registry(location: str, key: IssuerKey) -> Iterator[Registry]:
    """A new city registry tracking ``key`` with a 2-bit list of SIZE entries."""
    with Registry.create(location) as made:
        made.add_key(key.kid, key_thumbprint(key), SIZE, 2)
        yield made
