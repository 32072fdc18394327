"""``cityid-card read``: read the credential from a contact card, WITHOUT verifying it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.card import CardSession
from cityid_card.drivers import connect

from ._common import EXIT_OK, add_json_flag, add_reader_flags, print_json


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "read", help="read a card's credential without verifying it", description=__doc__
    )
    add_reader_flags(parser)
    parser.add_argument("--out", type=Path, help="write the credential bytes to this file")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with connect(args.reader, timeout=args.timeout) as connection:
        session = CardSession(connection)
        info = session.select()
        blob = session.read_credential()
        reader = connection.reader
    if args.out is not None:
        args.out.write_bytes(blob)
    if args.json:
        print_json(
            {
                "verified": False,
                "reader": reader,
                "bytes": len(blob),
                "locked": info.locked,
                "out": None if args.out is None else str(args.out),
            }
        )
    else:
        locked = {True: "locked", False: "NOT locked", None: "lock state unknown"}[info.locked]
        where = f"; wrote {args.out}" if args.out is not None else ""
        print(f"read {len(blob)} bytes from the card in {reader} ({locked}){where}")
        print("UNVERIFIED: use cityid-card verify --reader to check it")
    return EXIT_OK
