"""``cityid-card keygen``: make an issuer key and add its public half to a trust store.

The key file carries the key's kid and issuing window (--valid-from, --valid-until),
so every command that signs with it refuses dates outside the window. An existing key
file, or a trust store entry with the same kid, is replaced only with --force.
"""

from __future__ import annotations

import argparse
import errno
from pathlib import Path
from typing import Any

from cityid_card.keyfiles import save_key
from cityid_card.keys import IssuerKey
from cityid_card.trust import TrustStore

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
    add_force_flag(parser, "replace an existing --out file and a trust store key with this kid")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def add_force_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """--force: the one way to let a keygen command replace what exists."""
    parser.add_argument("--force", action="store_true", help=what)


def refuse_existing(path: Path, force: bool) -> None:
    """FileExistsError naming ``path`` unless ``force``: nothing is replaced by surprise."""
    if path.exists() and not force:
        raise FileExistsError(errno.EEXIST, "exists: give --force to replace it", str(path))


def with_new_key(store: TrustStore, key: IssuerKey, force: bool) -> TrustStore:
    """``store`` with the new public key; with ``force``, in place of one with its kid."""
    if force:
        store = TrustStore([entry for entry in store if entry.kid != key.kid])
    return store.with_key(key.public())  # refuses a kid already in the store


def run(args: argparse.Namespace) -> int:
    refuse_existing(args.out, args.force)
    store = trust_store_or_new(args.trust)
    key = IssuerKey.generate(
        args.alg, args.kid, valid_from=args.valid_from, valid_until=args.valid_until
    )
    store = with_new_key(store, key, args.force)
    save_key(key, args.out, read_passphrase(args.passphrase_file), force=args.force)
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
