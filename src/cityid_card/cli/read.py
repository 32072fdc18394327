"""``cityid-card read``: read the credential from a card or an NFC tag, WITHOUT verifying it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.drivers import ReaderConnection, connect
from cityid_card.errors import UnsupportedTag
from cityid_card.iso7816 import CardSession
from cityid_card.type2.session import TagLink, read_tag

from ._common import EXIT_OK, add_force_flag, add_json_flag, add_reader_flags, print_json
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
    tag: dict[str, Any] = {}
    with connect(args.reader, timeout=args.timeout) as connection:
        reader = connection.reader
        if args.uid:
            return _print_uid(args, connection)
        if isinstance(connection, TagLink):
            blob, locked, frames = read_tag(connection)
            product = connection.product
            tag = {
                "tag": "Type 2 tag" if product is None else product.name,
                "frames": frames,
                "uid": connection.uid.hex(),
            }
        else:
            session = CardSession(connection)
            locked = session.select().locked
            blob = session.read_credential()
    if args.out is not None:
        write_output(args.out, blob, force=args.force, mode=PRIVATE)
    if args.json:
        print_json(
            {
                "verified": False,
                "reader": reader,
                "bytes": len(blob),
                "locked": locked,
                "out": None if args.out is None else str(args.out),
                **tag,
            }
        )
    else:
        state = {True: "locked", False: "NOT locked", None: "lock state unknown"}[locked]
        where = f"; wrote {args.out}" if args.out is not None else ""
        if tag:
            unit = "frame" if tag["frames"] == 1 else "frames"
            print(
                f"read {len(blob)} bytes from the {tag['tag']} in {reader} ({state}) "
                f"in {tag['frames']} {unit}{where}"
            )
        else:
            print(f"read {len(blob)} bytes from the card in {reader} ({state}){where}")
        print("UNVERIFIED: use cityid-card verify --reader to check it")
    return EXIT_OK


def _print_uid(args: argparse.Namespace, connection: ReaderConnection) -> int:
    # NFC tags and ISO-DEP cards have a UID; contact cards have none.
    uid = getattr(connection, "uid", None)
    if not isinstance(uid, bytes):
        raise UnsupportedTag("the card in this reader reports no UID (it is a contact card)")
    if args.json:
        print_json({"reader": connection.reader, "uid": uid.hex()})
    else:
        print(uid.hex())
    return EXIT_OK
