"""The public vectors in tests/vectors/ are exactly the files SOURCES lists, unchanged."""

from __future__ import annotations

import hashlib

from .conftest import PUBLIC_VECTORS


def _listed() -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in (PUBLIC_VECTORS / "SOURCES").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, path, *_origin = line.split("  ")
            listed[path] = digest
    return listed


def test_every_vector_file_is_listed_with_its_digest() -> None:
    present = {
        path.relative_to(PUBLIC_VECTORS).as_posix()
        for path in PUBLIC_VECTORS.rglob("*")
        if path.is_file() and path.name != "SOURCES"
    }
    listed = _listed()
    assert present == set(listed)
    for path, digest in listed.items():
        assert hashlib.sha256((PUBLIC_VECTORS / path).read_bytes()).hexdigest() == digest, path


def test_every_listed_file_names_origin_commit_and_licence() -> None:
    for line in (PUBLIC_VECTORS / "SOURCES").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split("  ")
            assert len(fields) == 6, line
            assert all(field.strip() for field in fields), line
