"""cityid-card keygen: make an issuer key and add its public half to a trust store.

The private key is written owner-only (0600); an existing key file is replaced only
with --force (the key it held is then lost for good). The trust store is created if it
does not exist, and a kid already in it is refused. The key file carries the kid and
the issuing window (--valid-from, --valid-until) with the key, so every command that
signs with it refuses a credential dated outside the window. On a terminal, without
--passphrase-file, the passphrase that encrypts the key file is asked for (twice;
empty for none).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.keys import IssuerKey

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_json_flag,
    add_new_key_flags,
    add_passphrase_flag,
    new_passphrase,
    print_json,
    trust_store_or_new,
)
from ._io import PRIVATE, check_output, write_output

_EXAMPLES = """\
examples:
  cityid-card keygen --kid CHI-2026-1 --out issuer.pem --trust trust.json
  cityid-card keygen --alg EdDSA --kid CHI-2027-1 --valid-from 2027-01-01 \\
      --out issuer-2027.pem --trust trust.json --passphrase-file passphrase"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "keygen",
        help="make an issuer key pair and add its public key to a trust store",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    parser.add_argument(
        "--alg", choices=("ES256", "EdDSA"), default="ES256", help="signature algorithm"
    )
    parser.add_argument("--kid", required=True, help="the key's label, e.g. CHI-2026-1")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="new PKCS#8 PEM private key file"
    )
    add_force_flag(parser, "the key it held is lost for good")
    add_new_key_flags(parser)
    add_passphrase_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.out, force=args.force)
    store = trust_store_or_new(args.trust)
    passphrase = new_passphrase(args.passphrase_file)  # asked on a terminal
    key = IssuerKey.generate(
        args.alg, args.kid, valid_from=args.valid_from, valid_until=args.valid_until
    )
    store = store.with_key(key.public())  # refuses a kid already in the store
    pem = key.to_pem(passphrase)
    write_output(args.out, pem, force=args.force, mode=PRIVATE)
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
