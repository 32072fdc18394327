"""``cityid-card issue``: sign a credential for one holder and write it to a file."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

from cityid_card.credential import Credential
from cityid_card.keys import IssuerKey
from cityid_card.status import StatusRegistry

from ._common import (
    EXIT_OK,
    KEY_HELP,
    add_json_flag,
    add_passphrase_flag,
    iso_date,
    load_issuer_key,
    print_json,
)

#: Without --status-index or --registry the index is drawn at random from this many,
#: so that it does not reveal the order in which cards were issued.
DEFAULT_STATUS_LIST_SIZE = 2**20


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "issue", help="sign a credential", description=__doc__
    )
    parser.add_argument("--key", required=True, metavar="PEM|URI", help=KEY_HELP)
    parser.add_argument("--name", required=True, help="the name as printed on the card")
    parser.add_argument("--dob", type=iso_date, required=True, help="date of birth, YYYY-MM-DD")
    parser.add_argument("--expires", type=iso_date, required=True, help="expiry date, YYYY-MM-DD")
    parser.add_argument("--gender", help="self-designated gender, free text (optional)")
    parser.add_argument("--issued", type=iso_date, help="issue date (default: today)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--status-index", type=int, help="index in the status list")
    where.add_argument(
        "--registry",
        type=Path,
        help="status registry to take a free random index from (recommended)",
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the credential")
    add_passphrase_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with load_issuer_key(args.key, args.passphrase_file) as key:
        return _issue(args, key)


def _issue(args: argparse.Namespace, key: IssuerKey) -> int:
    registry = StatusRegistry.load(args.registry) if args.registry else None
    if registry is not None:
        registry.check_key(key)
        status_index = registry.allocate()
    elif args.status_index is not None:
        status_index = args.status_index
    else:
        status_index = secrets.randbelow(DEFAULT_STATUS_LIST_SIZE)
    credential = Credential(
        name=args.name,
        date_of_birth=args.dob,
        expires=args.expires,
        issued=args.issued,
        gender=args.gender,
        status_index=status_index,
    )
    blob = key.issue(credential)
    if registry is not None:
        # Saved first: an index taken but unused is harmless, one used twice is not.
        registry.save(args.registry)
    args.out.write_bytes(blob)
    if args.json:
        print_json({"out": str(args.out), "bytes": len(blob), "alg": key.alg, "kid": key.kid})
    else:
        print(f"wrote {args.out}: {len(blob)} bytes, {key.alg}")
    return EXIT_OK
