"""``cityid-card personalize``: make a contact card for one holder.

The card generates its key pair; the credential is issued with the card's public key
in it, written to the card, read back, verified and the chip authenticated; with
--lock the card is then locked for good. Anything that fails leaves the card unlocked.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.drivers import connect
from cityid_card.iso7816 import personalize
from cityid_card.keys import IssuerKey

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_holder_flags,
    add_json_flag,
    add_reader_flags,
    holder_credential,
    load_issuer_key,
    print_json,
)
from ._io import PRIVATE, check_output, write_output
from .registry import revoke_failed_card


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "personalize", help="personalise a contact card", description=__doc__
    )
    add_reader_flags(parser)
    add_holder_flags(parser)
    parser.add_argument(
        "--lock", action="store_true", help="lock the card for good once it verifies"
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="also write the credential to this file"
    )
    add_force_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with load_issuer_key(args.key, args.passphrase_file) as key:
        return _personalize(args, key)


def _personalize(args: argparse.Namespace, key: IssuerKey) -> int:
    if args.out is not None:
        check_output(args.out, force=args.force)  # before the card is written
    credential, registry = holder_credential(args, key)
    if registry is not None:
        registry.save(args.registry)
    try:
        with connect(args.reader, timeout=args.timeout) as connection:
            blob, result = personalize(connection, key, credential, lock=args.lock)
            reader = connection.reader
    except BaseException:
        revoke_failed_card(args, credential.status_index)  # the city's registry: card failed
        raise
    if args.out is not None:
        write_output(args.out, blob, force=args.force, mode=PRIVATE)
    level = result.authenticity.name.lower()
    if args.json:
        print_json(
            {
                "reader": reader,
                "bytes": len(blob),
                "alg": key.alg,
                "authenticity": level,
                "locked": args.lock,
                "status_index": credential.status_index,  # to revoke the card if it is lost
            }
        )
    else:
        print(
            f"personalised the card in {reader}: {len(blob)} bytes, {key.alg}, status index "
            f"{credential.status_index}; read back, verified, {level.replace('_', ' ')}"
        )
        print(
            "locked: the card is read-only for good"
            if args.lock
            else "NOT locked: run again with --lock to finish the card"
        )
    return EXIT_OK
