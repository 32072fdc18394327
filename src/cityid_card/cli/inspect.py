"""cityid-card inspect: decode a credential WITHOUT verifying it.

It checks the encoding only: not the signature, the issuer or the dates. Anyone can
write a credential that decodes, so never decide anything from it. It prints every
field, the date of birth and the status index too: it is for IT, with the holder's
agreement, to find out why a card fails. Do not run it into a log.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.verifier import decode_unverified

from ._common import EXIT_OK, add_json_flag, claims_json, print_claims, print_json
from ._io import read_credential


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "inspect",
        help="decode a credential WITHOUT verifying it (for IT)",
        description=__doc__,
        epilog="examples:\n  cityid-card inspect card.cbor\n  cityid-card inspect card.cbor --json",
    )
    parser.add_argument("credential", type=Path, help="credential file (as written by issue)")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    blob = read_credential(args.credential)
    decoded = decode_unverified(blob)
    if args.json:
        print_json(
            {
                "verified": False,
                "alg": decoded.alg,
                "wire_kid": decoded.wire_kid.hex(),
                "bytes": len(blob),
                "claims": claims_json(decoded.credential),
            }
        )
    else:
        print("UNVERIFIED: decoded only; signature, issuer and dates were NOT checked")
        print(
            f"  {'algorithm':<14} {decoded.alg}, key id {decoded.wire_kid.hex()}, {len(blob)} bytes"
        )
        print_claims(decoded.credential)
    return EXIT_OK
