"""``cityid-card read``: read the credential from a card or an NFC tag, WITHOUT verifying it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.drivers import connect
from cityid_card.media import medium_for
from cityid_card.media.errors import UnsupportedMedium

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_json_flag,
    add_reader_flags,
    exchanges,
    print_json,
)
from ._io import PRIVATE, check_output, write_output


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
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_output(args.out, force=args.force)
    with connect(args.reader, timeout=args.timeout) as link:
        if args.uid:
            return _print_uid(args, link.reader, link.uid)
        reading = medium_for(link).read()
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


def _print_uid(args: argparse.Namespace, reader: str, uid: bytes | None) -> int:
    # NFC tags and ISO-DEP cards have a UID; contact cards have none.
    if uid is None:
        raise UnsupportedMedium("the card in this reader reports no UID (it is a contact card)")
    if args.json:
        print_json({"reader": reader, "uid": uid.hex()})
    else:
        print(uid.hex())
    return EXIT_OK
