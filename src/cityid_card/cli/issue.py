"""``cityid-card issue``: sign a credential for one holder and write it to a file."""

from __future__ import annotations

import argparse
from datetime import date
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
    # The issuing city's local calendar date; refused outside the key's issuing window.
    blob = key.issue(credential, today=date.today())
    if registry is not None:
        registry.save(args.registry)
    args.out.write_bytes(blob)
    if args.json:
        print_json({"out": str(args.out), "bytes": len(blob), "alg": key.alg, "kid": key.kid})
    else:
        print(f"wrote {args.out}: {len(blob)} bytes, {key.alg}")
    return EXIT_OK
