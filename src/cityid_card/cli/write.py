"""``cityid-card write``: put an issued credential on an NFC tag (NTAG213/215/216).

Only a blank tag or one that holds a credential of the same holder (a renewal) is
written, unless --force. With --trust the credential is verified first, and one that
does not verify is never written. It is written in the order of specs/ndef-mapping.md
(a tag pulled away half-way reads as its old credential, blank or the new one, never
as a mix), the rest of the tag is zeroed, and the tag is read back and compared byte
for byte (and verified again with --trust). Only then, with --lock, is the tag made
read-only for good. A credential bound to a tag UID is refused on any other tag.

The tag holds the credential sealed (encrypted under a random key that --seal-key saves
for the card face's QR code), so a tap alone reads nothing about the holder; that needs
an NTAG215 or NTAG216. --open-record writes it readable by any tap instead.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from cityid_card.drivers import connect
from cityid_card.media import Written, medium_for

from ._common import EXIT_OK, add_json_flag, add_reader_flags, exchanges, print_json
from ._io import load_trust, read_credential
from ._seal import (
    OPEN_RECORD_EXPOSES,
    add_seal_flags,
    check_seal_flags,
    kept_seal_key,
    seal_key_for,
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "write", help="write a credential to an NFC tag", description=__doc__
    )
    add_reader_flags(parser)
    parser.add_argument("credential", type=Path, help="credential file (as written by issue)")
    parser.add_argument(
        "--lock", action="store_true", help="make the tag read-only for good once it checks out"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite a tag that holds other data (a URL, another application's record) "
        "or another holder's credential",
    )
    parser.add_argument(
        "--trust", type=Path, help="also verify the credential read back against this trust store"
    )
    add_seal_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    blob = read_credential(args.credential)
    trust = load_trust(args.trust) if args.trust is not None else None
    check_seal_flags(args)
    with connect(args.reader, timeout=args.timeout) as link:
        medium = medium_for(link)
        key = seal_key_for(args, medium)
        today = date.today()
        result: Written
        if medium.seals:
            with kept_seal_key(args, key):  # before the tag, taken back if the write fails
                result = medium.write(
                    blob,
                    force=args.force,
                    lock=args.lock,
                    verifier=trust,
                    now=today,
                    seal_key=key,
                    open_record=key is None,  # only with --open-record (seal_key_for)
                )
        else:
            result = medium.write(blob, force=args.force, lock=args.lock, verifier=trust, now=today)
    sealed = key is not None
    facts = result.facts
    level = None if result.verification is None else result.verification.authenticity.name
    if args.json:
        print_json(
            {
                **facts.as_json(),
                "bytes": result.size,
                "writes": result.writes,
                "replaced": str(result.replaced),
                "authenticity": None if level is None else level.lower(),
                "locked": result.locked,
                "sealed": sealed,
            }
        )
        return EXIT_OK
    print(
        f"wrote the {result.size}-byte credential to the {facts.what} in {facts.reader} "
        f"(it held: {result.replaced}); {result.writes} pages, "
        f"{exchanges(facts)}; read back and compared"
    )
    if level is not None:
        print(f"verified: {level.lower().replace('_', ' ')}")
    if sealed:
        print(
            f"sealed: a tap alone reads no personal byte; the key is in {args.seal_key}: "
            f"print it on the card face (cityid-card face --seal-key {args.seal_key})"
        )
    elif medium.seals:
        print(f"OPEN record: it gives away {OPEN_RECORD_EXPOSES}")
    print(
        f"locked: the {facts.what} is read-only for good"
        if result.locked
        else f"NOT locked: run again with --lock to make the {facts.what} read-only"
    )
    return EXIT_OK
