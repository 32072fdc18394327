"""``cityid-card verify``: check a credential against a trust store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.trust import TrustStore
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_json_flag, claims_json, iso_moment, print_claims, print_json


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "verify", help="verify a credential", description=__doc__
    )
    parser.add_argument("credential", type=Path, help="credential file (as written by issue)")
    parser.add_argument("--trust", type=Path, required=True, help="trust store (JWK Set)")
    parser.add_argument(
        "--at", type=iso_moment, help="judge validity at this ISO 8601 date or time"
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    trust = TrustStore.load(args.trust)
    result = verify(args.credential.read_bytes(), trust, now=args.at)
    if args.json:
        print_json(
            {
                "valid": True,
                "kid": result.kid,
                "alg": result.alg,
                "claims": claims_json(result.credential),
            }
        )
    else:
        print(f"VALID  {result.alg}, issuer key {result.kid}")
        print_claims(result.credential)
    return EXIT_OK
