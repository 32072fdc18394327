"""``cityid-card inspect``: decode a credential WITHOUT verifying it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.verifier import decode_unverified

from ._common import EXIT_OK, add_json_flag, claims_json, print_claims, print_json


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "inspect", help="decode a credential without verifying it", description=__doc__
    )
    parser.add_argument("credential", type=Path)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    blob = args.credential.read_bytes()
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
