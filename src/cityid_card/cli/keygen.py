"""``cityid-card keygen``: make an issuer key and add its public half to a trust store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.keys import IssuerKey

from ._common import (
    EXIT_OK,
    add_json_flag,
    add_new_key_flags,
    add_passphrase_flag,
    print_json,
    read_passphrase,
    trust_store_or_new,
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "keygen", help="make an issuer key pair", description=__doc__
    )
    parser.add_argument("--alg", choices=("ES256", "EdDSA"), default="ES256")
    parser.add_argument("--kid", required=True, help="the key's label, e.g. CHI-2026-1")
    parser.add_argument("--out", type=Path, required=True, help="new PKCS#8 PEM private key file")
    add_new_key_flags(parser)
    add_passphrase_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = trust_store_or_new(args.trust)
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
