"""The command line's side of sealed NFC tags: the flags, the key file, the choice.

A tag is written sealed unless the operator says --open-record (``specs/ndef-mapping.md``
section 2.3): the key goes to the file --seal-key names, owner-only, as 32 hex digits,
for ``cityid-card face --seal-key FILE`` to print in the card face's QR code.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from cityid_card import qr
from cityid_card.credential import Credential
from cityid_card.errors import InputError
from cityid_card.keys import IssuerKey
from cityid_card.media import Medium, Personalised, Verification
from cityid_card.trust import TrustStore
from cityid_card.type2 import seal
from cityid_card.verifier import Verifier

from ._io import PRIVATE, check_output, read_input, write_output

#: What an open record gives away, said wherever the operator chooses one.
OPEN_RECORD_EXPOSES = (
    "the holder's name, date of birth, gender (if any), issue and expiry dates, status "
    "index and the issuer's signature over them, to any phone or reader that taps the tag"
)


def add_open_record_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--open-record: the operator's explicit choice of a tag record any tap reads."""
    parser.add_argument(
        "--open-record",
        action="store_true",
        help="NFC tags: write the credential unsealed. It then gives away "
        + OPEN_RECORD_EXPOSES
        + "; the tag's UID is a fixed identifier either way",
    )


def add_seal_flags(parser: argparse.ArgumentParser) -> None:
    """--seal-key FILE and --open-record, for commands that write an NFC tag."""
    parser.add_argument(
        "--seal-key",
        type=Path,
        metavar="FILE",
        help="NFC tags: seal the credential (the default) and write its random key to FILE "
        "(owner-only) for the card face's QR code: cityid-card face --seal-key FILE. "
        "Needs an NTAG215 or NTAG216",
    )
    add_open_record_flag(parser)


def check_seal_flags(args: argparse.Namespace) -> None:
    """Refuse contradicting flags, and an existing key file without --force, before any work."""
    if args.open_record and args.seal_key is not None:
        raise InputError("--open-record writes no sealed record: it takes no --seal-key")
    if args.seal_key is not None:
        check_output(args.seal_key, force=args.force)


def seal_key_for(args: argparse.Namespace, medium: Medium) -> bytes | None:
    """A fresh key if ``medium`` is an NFC tag to be sealed; None for an open record or a card.

    Raises InputError, before the tag is written, when sealing has nowhere to keep the key.
    """
    if not medium.seals:
        if args.seal_key is not None or args.open_record:
            raise InputError("--seal-key and --open-record are for NFC tags, not this medium")
        return None
    if args.open_record:
        return None
    if args.seal_key is None:
        raise InputError(
            "an NFC tag is sealed by default, and its key must go on the card face: add "
            "--seal-key FILE (then cityid-card face --seal-key FILE), or --open-record to "
            "write a record any tap reads"
        )
    return seal.new_key()


@contextlib.contextmanager
def kept_seal_key(args: argparse.Namespace, key: bytes | None) -> Iterator[None]:
    """Save ``key`` to --seal-key's file (owner-only) before the tag is written in the block.

    The key must exist before the tag holds a record it opens; if the write fails at
    any step the key is worthless (no tag hands out its record), so the file is taken
    back: removed, or, when --force replaced one, the file it replaced put back.
    Nothing is saved for ``key`` None (an open record, a chip card).
    """
    if key is None:
        yield
        return
    path: Path = args.seal_key
    before = None
    if args.force and path.is_file():
        before = read_input(path, what="the file --seal-key replaces", max_bytes=1 << 20)
    write_output(path, key.hex() + "\n", force=args.force, mode=PRIVATE)
    try:
        yield
    except BaseException:
        if before is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            write_output(path, before, force=True, mode=PRIVATE)
        raise


def read_seal_key(path: Path) -> bytes:
    """The key in a --seal-key file: 32 hex digits (white space around them is ignored)."""
    data = read_input(path, what="a tag's seal key", max_bytes=256)
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != seal.KEY_SIZE:
        raise InputError(f"{path.name} is not a seal key file (32 hex digits)")
    return key


def tag_personalise(
    args: argparse.Namespace, medium: Medium, key: IssuerKey, credential: Credential, today: date
) -> tuple[Personalised, bool | None]:
    """Personalise ``medium``, sealing an NFC tag as the flags say; also whether it was sealed.

    The seal key is saved before the tag is written, and taken back if that fails
    (:func:`kept_seal_key`). The second value is None for a medium that is not an NFC tag.
    """
    seal_key = seal_key_for(args, medium)
    if not medium.seals:
        return medium.personalise(key, credential, lock=args.lock, today=today), None
    with kept_seal_key(args, seal_key):
        done = medium.personalise(
            key,
            credential,
            lock=args.lock,
            today=today,
            seal_key=seal_key,
            open_record=seal_key is None,  # only with --open-record (seal_key_for)
        )
    return done, seal_key is not None


#: How to open a sealed tag, said wherever a tap alone found one.
OPENS_A_SEALED_TAG = (
    "the card face's QR code opens it: --seal-key-from-qr TEXT (- reads a scan from "
    "standard input), or --seal-key FILE (the key file personalize or write saved)"
)


def add_seal_key_flags(parser: argparse.ArgumentParser) -> None:
    """--seal-key-from-qr TEXT|- and --seal-key FILE: what opens a sealed NFC tag (read, verify)."""
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--seal-key-from-qr",
        metavar="TEXT|-",
        help="with --reader on a sealed NFC tag: the card face's QR code text (CIDS1:...), "
        "whose key opens the tag's record; - reads it from standard input, one line, as a "
        "keyboard-wedge scanner types it",
    )
    keys.add_argument(
        "--seal-key",
        type=Path,
        metavar="FILE",
        help="with --reader on a sealed NFC tag: the tag's key file (32 hex digits, as "
        "personalize or write --seal-key saved it)",
    )


def seal_key_from_args(args: argparse.Namespace) -> bytes | None:
    """The tag key --seal-key-from-qr or --seal-key gives (``-``: the first line of stdin)."""
    text: str | None = args.seal_key_from_qr
    path: Path | None = args.seal_key
    if text is None and path is None:
        return None
    if args.reader is None:
        flag = "--seal-key-from-qr" if text is not None else "--seal-key"
        raise InputError(f"{flag} opens a sealed NFC tag: it needs --reader")
    if path is not None:
        return read_seal_key(path)
    assert text is not None
    if text == "-":
        text = sys.stdin.readline(qr.MAX_TEXT_LENGTH + 2).strip()
    return qr.seal_key(text)


def check_seal_key_for(medium: Medium, seal_key: bytes | None) -> None:
    """Refuse a seal key for a medium that is not an NFC tag."""
    if seal_key is not None and not medium.seals:
        raise InputError("--seal-key-from-qr and --seal-key are for NFC tags, not this medium")


def verify_medium(
    medium: Medium,
    verifier: TrustStore | Verifier,
    now: datetime | date,
    seal_key: bytes | None,
) -> Verification:
    """Verify ``medium``; an NFC tag with ``seal_key`` (refused for any other medium)."""
    check_seal_key_for(medium, seal_key)
    return medium.verify(verifier, now, seal_key=seal_key)
