"""``cityid-card personalize``: make a contact card for one holder.

The card generates its key pair; the credential is issued with the card's public key
in it, written to the card, read back, verified and the chip authenticated; with
--lock the card is then locked for good. Anything that fails leaves the card unlocked.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

from cityid_card.card import personalize
from cityid_card.credential import Credential
from cityid_card.drivers import connect

from ._common import (
    EXIT_OK,
    add_json_flag,
    add_passphrase_flag,
    add_reader_flags,
    iso_date,
    load_issuer_key,
    print_json,
)
from .issue import DEFAULT_STATUS_LIST_SIZE


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "personalize", help="personalise a contact card", description=__doc__
    )
    add_reader_flags(parser)
    parser.add_argument("--key", type=Path, required=True, help="issuer private key (PEM)")
    parser.add_argument("--name", required=True, help="the name as printed on the card")
    parser.add_argument("--dob", type=iso_date, required=True, help="date of birth, YYYY-MM-DD")
    parser.add_argument("--expires", type=iso_date, required=True, help="expiry date, YYYY-MM-DD")
    parser.add_argument("--gender", help="self-designated gender, free text (optional)")
    parser.add_argument("--issued", type=iso_date, help="issue date (default: today)")
    parser.add_argument(
        "--status-index", type=int, help="index in the status list (default: random)"
    )
    parser.add_argument(
        "--lock", action="store_true", help="lock the card for good once it verifies"
    )
    parser.add_argument("--out", type=Path, help="also write the credential to this file")
    add_passphrase_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    key = load_issuer_key(args.key, args.passphrase_file)
    status_index = args.status_index
    if status_index is None:
        status_index = secrets.randbelow(DEFAULT_STATUS_LIST_SIZE)
    credential = Credential(
        name=args.name,
        date_of_birth=args.dob,
        expires=args.expires,
        issued=args.issued,
        gender=args.gender,
        status_index=status_index,
    )
    with connect(args.reader, timeout=args.timeout) as connection:
        blob, result = personalize(connection, key, credential, lock=args.lock)
        reader = connection.reader
    if args.out is not None:
        args.out.write_bytes(blob)
    level = result.authenticity.name.lower()
    if args.json:
        print_json(
            {
                "reader": reader,
                "bytes": len(blob),
                "alg": key.alg,
                "authenticity": level,
                "locked": args.lock,
            }
        )
    else:
        print(
            f"personalised the card in {reader}: {len(blob)} bytes, {key.alg}; "
            f"read back, verified, {level.replace('_', ' ')}"
        )
        print(
            "locked: the card is read-only for good"
            if args.lock
            else "NOT locked: run again with --lock to finish the card"
        )
    return EXIT_OK
