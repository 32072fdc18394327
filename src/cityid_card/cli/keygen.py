"""``cityid-card keygen``: make an issuer key and add its public half to a trust store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.keys import IssuerKey
from cityid_card.trust import TrustStore

from ._common import (
    EXIT_OK,
    add_json_flag,
    add_passphrase_flag,
    iso_date,
    print_json,
    read_passphrase,
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "keygen", help="make an issuer key pair", description=__doc__
    )
    parser.add_argument("--alg", choices=("ES256", "EdDSA"), default="ES256")
    parser.add_argument("--kid", required=True, help="the key's label, e.g. CHI-2026-1")
    parser.add_argument("--out", type=Path, required=True, help="new PKCS#8 PEM private key file")
    parser.add_argument(
        "--trust", type=Path, required=True, help="JWK Set to add the public key to"
    )
    parser.add_argument("--valid-from", type=iso_date, help="first day the key may issue")
    parser.add_argument("--valid-until", type=iso_date, help="last day the key may issue")
    add_passphrase_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = TrustStore.load(args.trust) if args.trust.exists() else TrustStore()
    key = IssuerKey.generate(
        args.alg, args.kid, valid_from=args.valid_from, valid_until=args.valid_until
    )
    store = store.with_key(key.public())  # refuses a kid already in the store
    key.save_pem(args.out, read_passphrase(args.passphrase_file))
    store.save(args.trust)
    if args.json:
        print_json(
            {
                "kid": key.kid,
                "alg": key.alg,
                "wire_kid": key.public().wire_kid.hex(),
                "key": str(args.out),
                "trust": str(args.trust),
            }
        )
    else:
        print(f"wrote {args.out} ({key.alg}, kid {key.kid}); added the public key to {args.trust}")
    return EXIT_OK
