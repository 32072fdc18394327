"""``cityid-card personalize``: make a card (or an NFC tag) for one holder.

A chip card generates its key pair; the credential is issued with the card's public
key in it, written to the card, read back, verified and the chip authenticated. On an
NFC tag the credential binds the tag's UID instead. With --lock the card or tag is then
locked for good. Anything that fails leaves it unlocked.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from cityid_card.drivers import connect
from cityid_card.keys import IssuerKey
from cityid_card.media import medium_for

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_holder_flags,
    add_json_flag,
    add_reader_flags,
    load_issuer_key,
    print_json,
)
from ._holder import holder_credential
from ._io import PRIVATE, check_output, write_output
from .registry import revoke_failed_card


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "personalize", help="personalise a card or an NFC tag", description=__doc__
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
    today = date.today()  # the issuing city's local date
    if args.out is not None:
        check_output(args.out, force=args.force)  # before the card is written
    credential, registry = holder_credential(args, key)
    key.check_issuing_date(credential.issued or today)  # before the card is touched
    if registry is not None:
        registry.save(args.registry)
    try:
        with connect(args.reader, timeout=args.timeout) as link:
            done = medium_for(link).personalise(key, credential, lock=args.lock, today=today)
    except BaseException:
        revoke_failed_card(args, credential.status_index)  # the city's registry: card failed
        raise
    blob, facts = done.blob, done.verification.facts
    if args.out is not None:
        write_output(args.out, blob, force=args.force, mode=PRIVATE)
    level = done.authenticity.name.lower()
    if args.json:
        print_json(
            {
                **facts.as_json(),
                "bytes": len(blob),
                "alg": key.alg,
                "authenticity": level,
                "locked": done.locked,
                "status_index": credential.status_index,  # to revoke the card if it is lost
            }
        )
    else:
        print(
            f"personalised the {facts.what} in {facts.reader}: {len(blob)} bytes, {key.alg}, "
            f"status index {credential.status_index}; read back, verified, "
            f"{level.replace('_', ' ')}"
        )
        print(
            f"locked: the {facts.what} is read-only for good"
            if done.locked
            else "NOT locked: run again with --lock to finish it"
        )
    return EXIT_OK
