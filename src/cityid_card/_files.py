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


def write_file(target: Path, data: str | bytes, *, replace: bool, mode: int = 0o644) -> None:
    """Write ``data`` to ``target`` atomically; an existing ``target`` only if ``replace``.

    The data goes to a temporary file in the same folder, created owner-only (mkstemp),
    given ``mode`` and then moved into place: readers see no file or the whole file,
    never half of one. Without ``replace`` the move is a hard link, which fails with
    FileExistsError if ``target`` appeared meanwhile: no check-then-write race.
    """
    if replace:
        write_atomically(target, data, mode)
        return
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise
        except OSError:
            # A file system without hard links (some FUSE and network mounts): check, then
            # move; the race this leaves is with another writer, not with a crash.
            if target.exists():
                raise FileExistsError(17, "File exists", str(target)) from None
            os.replace(temporary, target)
            return
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
