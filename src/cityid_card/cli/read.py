"""``cityid-card read``: read the credential from a card or an NFC tag, WITHOUT verifying it.

A sealed NFC tag (the default for tags this library writes) reads, to a tap alone, as
sealed and nothing more: no personal byte. Its card face's QR code opens it:
--seal-key-from-qr TEXT (- reads the text a keyboard-wedge scanner types), or the key
file personalize or write saved: --seal-key FILE. Without either the command says the
tag is sealed, what opens it, and exits with status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.drivers import connect
from cityid_card.media import Facts, medium_for
from cityid_card.media.errors import UnsupportedMedium
from cityid_card.type2.errors import SealedTag

from ._common import (
    EXIT_OK,
    EXIT_REJECTED,
    add_force_flag,
    add_json_flag,
    add_reader_flags,
    exchanges,
    print_json,
)
from ._io import PRIVATE, check_output, write_output
from ._seal import OPENS_A_SEALED_TAG, add_seal_key_flags, check_seal_key_for, seal_key_from_args


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "read", help="read a card's credential without verifying it", description=__doc__
    )
    add_reader_flags(parser)
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the credential bytes to this file"
    )
    add_force_flag(parser)
    parser.add_argument(
        "--uid",
        action="store_true",
        help="only print the NFC tag's UID, for issue --tag-uid (works on a blank tag)",
    )
    add_seal_key_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_output(args.out, force=args.force)
    seal_key = seal_key_from_args(args)  # before the reader: it may read standard input
    with connect(args.reader, timeout=args.timeout) as link:
        if args.uid:
            return _print_uid(args, link.reader, link.uid)
        medium = medium_for(link)
        check_seal_key_for(medium, seal_key)
        try:
            reading = medium.read(seal_key=seal_key)
        except SealedTag:
            return _sealed(args, medium.facts())
    blob, facts = reading.blob, reading.facts
    if args.out is not None:
        write_output(args.out, blob, force=args.force, mode=PRIVATE)
    if args.json:
        out = None if args.out is None else str(args.out)
        print_json({"verified": False, "bytes": len(blob), "out": out, **facts.as_json()})
    else:
        state = {True: "locked", False: "NOT locked", None: "lock state unknown"}[facts.locked]
        where = f"; wrote {args.out}" if args.out is not None else ""
        print(
            f"read {len(blob)} bytes from the {facts.what} in {facts.reader} ({state}) "
            f"in {exchanges(facts)}{where}"
        )
        print("UNVERIFIED: use cityid-card verify --reader to check it")
    return EXIT_OK


def _sealed(args: argparse.Namespace, facts: Facts) -> int:
    """A sealed tag read without its key: say so, and what opens it; nothing personal."""
    if args.json:
        print_json({**facts.as_json(), "sealed": True, "verified": False, "bytes": None})
    else:
        print(
            f"the {facts.what} in {facts.reader} holds a SEALED credential: a tap alone reads "
            "no personal byte"
        )
        print(f"to read it: {OPENS_A_SEALED_TAG}")
    return EXIT_REJECTED


def _print_uid(args: argparse.Namespace, reader: str, uid: bytes | None) -> int:
    # NFC tags and ISO-DEP cards have a UID; contact cards have none.
    if uid is None:
        raise UnsupportedMedium("the card in this reader reports no UID (it is a contact card)")
    if args.json:
        print_json({"reader": reader, "uid": uid.hex()})
    else:
        print(uid.hex())
    return EXIT_OK
