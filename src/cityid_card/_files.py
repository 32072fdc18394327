"""The library's file I/O, at the edge: reading a file whole, writing one atomically.

Protocol code (trust stores, status lists, registries, cards) parses and produces bytes
and never touches the file system; the ``load``/``save`` conveniences of those classes
and the command line come through here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import CityIDError


def read_file(path: str | os.PathLike[str], error: type[CityIDError], what: str) -> bytes:
    """The bytes of ``path``; ``error`` naming ``what`` (and the system's reason) if unreadable.

    The message names neither the path nor any of the file's content.
    """
    try:
        return Path(path).read_bytes()
    except OSError as failure:
        raise error(f"cannot read the {what}: {failure.strerror}") from None


def write_atomically(target: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Replace ``target`` with ``data``: readers see the old file or the new one, never half."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
