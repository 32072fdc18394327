"""The ``--seen`` file: concurrent writers merge under a lock, none loses another's mark."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from cityid_card.cli._io import load_seen, save_seen
from cityid_card.errors import InputError

_WRITERS = 6
_ROUNDS = 40


def _writer(path: str, index: int, start: multiprocessing.synchronize.Barrier) -> None:
    """One ``verify --seen`` after another: this writer's key, a newer list each time."""
    start.wait()
    for number in range(1, _ROUNDS + 1):
        save_seen(Path(path), {f"KID-{index}": (number, 1_000 + number)})


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    spawn = multiprocessing.get_context("spawn")  # no fork of a threaded test process
    start = spawn.Barrier(_WRITERS)
    writers = [
        spawn.Process(target=_writer, args=(str(seen), index, start)) for index in range(_WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    expected = {f"KID-{index}": (_ROUNDS, 1_000 + _ROUNDS) for index in range(_WRITERS)}
    assert load_seen(seen) == expected
    assert stat.S_IMODE(os.stat(seen).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".seen.json.")] == [
        ".seen.json.lock"
    ]  # no temporary file left behind


def test_the_newer_mark_wins_and_an_older_one_changes_nothing(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    assert save_seen(seen, {"A": (3, 30)}) is True
    assert save_seen(seen, {"A": (2, 99), "B": (1, 10)}) is True
    assert load_seen(seen) == {"A": (3, 30), "B": (1, 10)}
    assert save_seen(seen, {"A": (1, 1)}) is False


def test_a_seen_file_in_a_missing_folder_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder does not exist"):
        save_seen(tmp_path / "nowhere" / "seen.json", {"A": (1, 1)})
