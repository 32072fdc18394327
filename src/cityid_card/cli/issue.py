"""cityid-card issue: sign a credential for one holder and write it to a file.

The status index comes from a registry (--registry, recommended: a free index at
random, recorded there) or is given (--status-index N, which you record yourself);
without either the command refuses, because a card whose index is recorded nowhere
can never be revoked. The credential file holds personal data: it is written
owner-only (0600), and an existing file is replaced only with --force.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from cityid_card.keys import IssuerKey

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_holder_flags,
    add_json_flag,
    load_issuer_key,
    print_json,
    require_status_choice,
)
from ._holder import holder_credential
from ._io import PRIVATE, check_output, write_output

_EXAMPLES = """\
examples:
  cityid-card issue --key issuer.pem --registry registry.json \\
      --name "Ana Sofia Rivera Delgado" --dob 1990-04-12 --expires 2031-11-20 --out card.cbor
  cityid-card issue --key issuer.pem --status-index 4711 --name "Ana Rivera" \\
      --dob 1990-04-12 --expires 2031-11-20 --gender X --out card.cbor --json"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "issue", help="sign a credential for one holder", description=__doc__, epilog=_EXAMPLES
    )
    add_holder_flags(parser)
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="where to write the credential"
    )
    add_force_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    require_status_choice(args)  # before a key (or a token session) is opened
    check_output(args.out, force=args.force)
    with load_issuer_key(args.key, args.passphrase_file) as key:
        return _issue(args, key)


def _issue(args: argparse.Namespace, key: IssuerKey) -> int:
    credential, registry = holder_credential(args, key)
    # The issuing city's local calendar date; refused outside the key's issuing window.
    blob = key.issue(credential, today=date.today())
    if registry is not None:
        registry.save(args.registry)
    write_output(args.out, blob, force=args.force, mode=PRIVATE)
    index = credential.status_index  # the registry's record of the card holds it too
    if args.json:
        print_json({"out": str(args.out), "bytes": len(blob), "alg": key.alg, "kid": key.kid,
                    "status_index": index})  # fmt: skip
    else:
        print(f"wrote {args.out}: {len(blob)} bytes, {key.alg}, status index {index}")
    return EXIT_OK
