"""The card and tag protocols stay sans-I/O: no files, sockets, clocks or environment.

File and socket I/O for the emulators lives in ``cityid_card.sim_io``, the CLI and the
driver packages; dates come from the caller. This walks the syntax tree of every module
of the protocol packages, so a new ``open()`` or ``date.today()`` there fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("iso7816", "type2", "media")
MODULES = sorted(
    path for name in PACKAGES for path in (REPO / "src" / "cityid_card" / name).glob("*.py")
)
#: Modules whose import alone means I/O or a clock.
FORBIDDEN_IMPORTS = {"socket", "pathlib", "os", "time", "subprocess", "selectors", "signal"}
#: Calls that read a clock or touch a file: ``today()``, ``now()``, ``open()``, ...
FORBIDDEN_CALLS = {"today", "now", "utcnow", "open", "read_bytes", "write_bytes", "read_text"}


def _offences(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                found.append(node.module)
        elif isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else None
            if isinstance(function, ast.Name):
                name = function.id
            if name in FORBIDDEN_CALLS:
                found.append(f"{name}() at line {node.lineno}")
    return found


def test_the_protocol_packages_are_there() -> None:
    assert len(MODULES) > 12


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_io_and_no_clock_in_the_protocol_packages(path: Path) -> None:
    assert _offences(path) == []
