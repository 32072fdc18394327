"""OpenPACE is GPL: a test-only peer. Nothing the package ships may load or import it."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cityid_card"


def test_no_shipped_module_loads_libeac_or_imports_the_test_peer() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            in_eac = path.parent.name == "eac"
            if any(n.startswith("tests") or (in_eac and n.startswith("ctypes")) for n in names):
                offenders.append(f"{path.relative_to(SRC)} imports {names}")
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and "libeac" in text.lower():
                offenders.append(f"{path.relative_to(SRC)} names libeac")
    assert offenders == []
    assert (SRC / "eac" / "pace.py").is_file()  # the walk saw the EAC package
