"""Every file the command line reads or writes goes through here.

Reading: a size cap per kind of file, JSON through the limited reader
(:mod:`cityid_card._json`), and errors that name the file and say what is wrong in
words (``card.cbor: no such file``), never its content. Writing: :func:`write_output`
refuses to replace a file without ``--force``, writes atomically, and makes anything
that holds personal data owner-only (0600).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cityid_card import _json
from cityid_card._files import write_file
from cityid_card.errors import InputError, JSONInputError, StatusListError, TrustStoreError
from cityid_card.qr import QR_PREFIX
from cityid_card.status import StatusListToken, StatusRegistry
from cityid_card.trust import TrustStore

__all__ = [
    "MAX_CREDENTIAL_BYTES",
    "PRIVATE",
    "PUBLIC",
    "check_output",
    "describe_os_error",
    "load_registry",
    "load_seen",
    "load_status_list",
    "load_trust",
    "read_credential",
    "read_input",
    "read_json",
    "save_seen",
    "write_output",
]

#: File modes: owner-only for anything holding personal data or a secret (credentials,
#: tag images, card faces, issuance records, card state, keys); world-readable for what
#: is published anyway (trust stores, signed status lists) or holds no personal data.
PRIVATE = 0o600
PUBLIC = 0o644

#: Far above any credential (the largest, with every extension, is under 400 bytes).
MAX_CREDENTIAL_BYTES = 64 * 1024
#: Trust stores, registries and status lists: far above any cityid-card writes.
_MAX_DOCUMENT_BYTES = _json.MAX_BYTES

_REASONS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EEXIST: "already exists: add --force to replace it",
}


def _name(path: str | os.PathLike[str]) -> str:
    return os.fsdecode(path)


def describe_os_error(error: OSError, path: str | os.PathLike[str] | None = None) -> InputError:
    """An OSError as a typed error in words: ``card.cbor: no such file``."""
    where = path if path is not None else error.filename
    reason = _REASONS.get(error.errno or 0)
    if reason is None:
        reason = (error.strerror or "cannot be used").lower()
    return InputError(reason if where is None else f"{_name(where)}: {reason}")


def read_input(path: Path, *, what: str, max_bytes: int) -> bytes:
    """The bytes of ``path`` (at most ``max_bytes``), or InputError naming the file."""
    try:
        with open(path, "rb") as source:
            data = source.read(max_bytes + 1)
    except OSError as error:
        raise describe_os_error(error, path) from None
    if len(data) > max_bytes:
        raise InputError(f"{_name(path)}: too large for {what} (over {max_bytes} bytes)")
    return data


def read_json(path: Path, *, what: str) -> Any:
    """The JSON document in ``path``, parsed within limits; JSONInputError naming the file."""
    data = read_input(path, what=what, max_bytes=_MAX_DOCUMENT_BYTES)
    try:
        return _json.loads(data)
    except JSONInputError as error:
        raise JSONInputError(f"{_name(path)}: {what}: {error}") from None


def _looks_like_pem(data: bytes) -> bool:
    # A key file made by keygen starts with its notes (kid, window), then the PEM block.
    return data.lstrip().startswith((b"-----BEGIN ", b"cityid-card "))


def load_trust(path: Path) -> TrustStore:
    """The trust store (JWK Set) in ``path``; TrustStoreError naming the file otherwise."""
    data = read_input(path, what="a trust store", max_bytes=_MAX_DOCUMENT_BYTES)
    name = _name(path)
    if _looks_like_pem(data):
        raise TrustStoreError(
            f"{name} is a key file, not a trust store (the trust.json that keygen --trust writes)"
        )
    try:
        document = _json.loads(data)
    except JSONInputError as error:
        raise TrustStoreError(f"{name} is not a trust store: {error}") from None
    try:
        return TrustStore.from_jwks(document)
    except TrustStoreError as error:
        raise TrustStoreError(f"{name}: {error}") from None


def load_registry(path: Path) -> StatusRegistry:
    """The status registry in ``path``; StatusListError naming the file otherwise."""
    data = read_input(path, what="a status registry", max_bytes=_MAX_DOCUMENT_BYTES)
    name = _name(path)
    try:
        document = _json.loads(data)
    except JSONInputError as error:
        raise StatusListError(f"{name} is not a status registry: {error}") from None
    try:
        return StatusRegistry.from_json(document)
    except StatusListError as error:
        raise StatusListError(f"{name}: {error}") from None


def load_status_list(path: Path, trust: TrustStore) -> StatusListToken:
    """The signed status list in ``path``, verified against ``trust``."""
    data = read_input(path, what="a status list", max_bytes=_MAX_DOCUMENT_BYTES)
    try:
        return StatusListToken.from_bytes(data, trust)
    except StatusListError as error:
        raise StatusListError(f"{_name(path)}: {error}") from None


#: What a ``--seen`` file holds: ``{"seen_status_lists": {kid: [list number, iat]}}``.
_SEEN_FIELD = "seen_status_lists"
_SEEN_WHAT = "the status lists seen"


def _seen_from(document: Any, path: Path) -> dict[str, tuple[int, int]]:
    wrong = InputError(
        f"{_name(path)}: not a file of the status lists seen "
        f'(expected {{"{_SEEN_FIELD}": {{"KID": [NUMBER, IAT]}}}})'
    )
    if not isinstance(document, dict) or set(document) != {_SEEN_FIELD}:
        raise wrong
    entries = document[_SEEN_FIELD]
    if not isinstance(entries, dict):
        raise wrong
    seen: dict[str, tuple[int, int]] = {}
    for kid, mark in entries.items():
        if (
            not isinstance(mark, list)
            or len(mark) != 2
            or not all(type(part) is int and part >= 0 for part in mark)
        ):
            raise wrong
        seen[kid] = (mark[0], mark[1])
    return seen


def load_seen(path: Path) -> dict[str, tuple[int, int]]:
    """The newest status list (number, iat) a verifier has seen per key, kept in ``path``.

    None yet if ``path`` does not exist (the first start); InputError naming the file
    if it cannot be read or is not such a file: a verifier must not start forgetting.
    """
    if not os.path.lexists(path):
        return {}
    return _seen_from(read_json(path, what=_SEEN_WHAT), path)


def save_seen(path: Path, seen: dict[str, tuple[int, int]]) -> bool:
    """Keep ``seen`` in ``path`` (atomically, owner-only); whether the file changed.

    Merged with what the file holds already, the newer mark of each key winning, so
    that processes sharing the file (the workers of ``serve``, two ``verify --seen``
    at once) never move it back nor lose each other's marks: the read, the merge and
    the write happen under an exclusive lock on ``.NAME.lock`` beside the file.
    """
    with _locked(path):
        kept = load_seen(path)
        merged = dict(kept)
        for kid, (number, iat) in seen.items():
            mark = (int(number), int(iat))
            if mark > merged.get(kid, (0, 0)):
                merged[kid] = mark
        if merged == kept and os.path.lexists(path):
            return False
        document = {_SEEN_FIELD: {kid: list(merged[kid]) for kid in sorted(merged)}}
        write_output(path, json.dumps(document, indent=2) + "\n", force=True, mode=PRIVATE)
        return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock (flock) on the lock file beside ``path``, for the ``with`` block.

    The lock file stays: removing it would let a waiting process lock a file that no
    longer is the one the next process opens.
    """
    lock = path.with_name(f".{path.name}.lock")
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE)
    except FileNotFoundError:
        raise InputError(f"{_name(path)}: its folder does not exist") from None
    except OSError as error:
        raise describe_os_error(error, path) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except OSError as error:  # a file system without locks (some network mounts)
        os.close(descriptor)
        raise describe_os_error(error, path) from None
    try:
        yield
    finally:
        os.close(descriptor)  # releases the lock


def read_credential(path: Path) -> bytes:
    """A credential file's bytes; a file of QR code text gets a hint instead of a rejection."""
    data = read_input(path, what="a credential", max_bytes=MAX_CREDENTIAL_BYTES)
    if data.lstrip().startswith(QR_PREFIX.encode("ascii")):
        raise InputError(
            f"{_name(path)} holds QR code text, not a credential file: use --qr {_name(path)}"
        )
    if _looks_like_pem(data):
        raise InputError(f"{_name(path)} is a key file, not a credential")
    return data


def _exists_error(path: Path) -> InputError:
    return InputError(f"{_name(path)} already exists: add --force to replace it")


def check_output(path: Path, *, force: bool) -> None:
    """Refuse early, before any work, if ``path`` exists and ``force`` is not given.

    :func:`write_output` checks again when it writes; this check keeps a command from
    signing, allocating a status index or touching a card for a file it cannot write.
    """
    if not force and os.path.lexists(path):
        raise _exists_error(path)


def write_output(path: Path, data: bytes | str, *, force: bool, mode: int = PRIVATE) -> None:
    """Write ``data`` to ``path`` atomically with ``mode``; an existing file only if ``force``."""
    try:
        write_file(path, data, replace=force, mode=mode)
    except FileExistsError:
        raise _exists_error(path) from None
    except FileNotFoundError:
        raise InputError(f"{_name(path)}: its folder does not exist") from None
    except OSError as error:
        raise describe_os_error(error, path) from None
