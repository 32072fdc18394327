"""``cityid-card issue``: sign a credential for one holder and write it to a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.keys import IssuerKey

from ._common import (
    EXIT_OK,
    add_holder_flags,
    add_json_flag,
    holder_credential,
    load_issuer_key,
    print_json,
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "issue", help="sign a credential", description=__doc__
    )
    add_holder_flags(parser)
    parser.add_argument("--out", type=Path, required=True, help="where to write the credential")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with load_issuer_key(args.key, args.passphrase_file) as key:
        return _issue(args, key)


def _issue(args: argparse.Namespace, key: IssuerKey) -> int:
    credential, registry = holder_credential(args, key)
    blob = key.issue(credential)
    if registry is not None:
        registry.save(args.registry)
    args.out.write_bytes(blob)
    index = credential.status_index  # the registry's record of the card holds it too
    if args.json:
        print_json({"out": str(args.out), "bytes": len(blob), "alg": key.alg, "kid": key.kid,
                    "status_index": index})  # fmt: skip
    else:
        print(f"wrote {args.out}: {len(blob)} bytes, {key.alg}, status index {index}")
    return EXIT_OK
