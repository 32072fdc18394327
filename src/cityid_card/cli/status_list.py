"""cityid-card status-list build|sign and cityid-card revoke: revocation by status list.

An issuer keeps one status registry per issuer key (a working file, never published),
marks cards revoked or suspended in it, and publishes a signed status list built from
it. Verifiers load the signed lists with cityid-card verify --status-list. Output files
are replaced only with --force (signing a new list over the published one is routine:
give --force there).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cityid_card.status import DEFAULT_ENTRIES, StatusRegistry, StatusValue, sign_status_list

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_json_flag,
    add_key_flag,
    add_passphrase_flag,
    load_issuer_key,
    print_json,
    whole_number,
)
from ._io import PUBLIC, check_output, load_registry, write_output

_EXAMPLES = """\
examples:
  cityid-card status-list build --key issuer.pem --out registry.json
  cityid-card status-list sign --key issuer.pem --registry registry.json --out status.cwt --force
  cityid-card revoke --registry registry.json --index 4711
  cityid-card revoke --registry registry.json --index 4711 --suspend"""


def register(commands: Any) -> None:
    group: argparse.ArgumentParser = commands.add_parser(
        "status-list",
        help="start a status registry, or sign its list for publication",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    actions = group.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="what to do"
    )

    build = actions.add_parser(
        "build", help="start a status registry for an issuer key", description=__doc__,
        epilog=_EXAMPLES,
    )  # fmt: skip
    _add_key_flags(build)
    build.add_argument("--size", type=whole_number, default=DEFAULT_ENTRIES, metavar="N",
                       help="number of entries")  # fmt: skip
    build.add_argument("--bits", type=int, choices=(1, 2, 4, 8), default=2,
                       help="bits per entry (2 allows suspension)")  # fmt: skip
    build.add_argument("--out", type=Path, required=True, metavar="FILE",
                       help="new registry file (JSON)")  # fmt: skip
    add_force_flag(build, "the revocations it held are lost")
    add_json_flag(build)
    build.set_defaults(run=run_build)

    sign = actions.add_parser(
        "sign", help="sign the registry's current list for publication", description=__doc__,
        epilog=_EXAMPLES,
    )  # fmt: skip
    _add_key_flags(sign)
    sign.add_argument("--registry", type=Path, required=True, metavar="FILE",
                      help="the status registry (from status-list build)")  # fmt: skip
    sign.add_argument("--valid-for", type=whole_number, default=7, metavar="DAYS",
                      help="days until verifiers treat the list as expired")  # fmt: skip
    sign.add_argument("--ttl", type=whole_number, metavar="SECONDS",
                      help="how often verifiers should refresh (default: not said)")  # fmt: skip
    sign.add_argument("--out", type=Path, required=True, metavar="FILE",
                      help="signed status list (COSE_Sign1 CWT)")  # fmt: skip
    add_force_flag(sign)
    add_json_flag(sign)
    sign.set_defaults(run=run_sign)

    revoke: argparse.ArgumentParser = commands.add_parser(
        "revoke",
        help="revoke, suspend or reinstate a card in a status registry",
        description="Mark a card revoked (the default), suspended or valid again in a "
        "status registry. Verifiers learn of it once the registry's list is signed and "
        "published again (status-list sign).",
        epilog=_EXAMPLES,
    )
    revoke.add_argument("--registry", type=Path, required=True, metavar="FILE",
                        help="the status registry (from status-list build)")  # fmt: skip
    revoke.add_argument("--index", type=whole_number, required=True, metavar="N",
                        help="the card's status index")  # fmt: skip
    change = revoke.add_mutually_exclusive_group()
    change.add_argument("--suspend", action="store_true", help="suspend instead of revoking")
    change.add_argument("--reinstate", action="store_true", help="mark valid again")
    add_json_flag(revoke)
    revoke.set_defaults(run=run_revoke)


def _add_key_flags(parser: argparse.ArgumentParser) -> None:
    add_key_flag(parser)
    add_passphrase_flag(parser)


def run_build(args: argparse.Namespace) -> int:
    check_output(args.out, force=args.force)
    with load_issuer_key(args.key, args.passphrase_file) as key:
        registry = StatusRegistry.for_key(key, args.size, args.bits)
    write_output(args.out, json.dumps(registry.to_json(), indent=2) + "\n", force=args.force,
                 mode=PUBLIC)  # fmt: skip
    _say(args, f"wrote {args.out}: {registry.size} entries of {registry.bits} bits",
         registry=str(args.out), size=registry.size, bits=registry.bits)  # fmt: skip
    return EXIT_OK


def run_sign(args: argparse.Namespace) -> int:
    check_output(args.out, force=args.force)
    registry = load_registry(args.registry)
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(days=args.valid_for)
    with load_issuer_key(args.key, args.passphrase_file) as key:
        token = sign_status_list(key, registry, issued_at=now, expires_at=expires, ttl=args.ttl)
    write_output(args.out, token, force=args.force, mode=PUBLIC)
    _say(args, f"wrote {args.out}: {len(token)} bytes, expires {expires.isoformat()}",
         out=str(args.out), bytes=len(token), expires=expires.isoformat())  # fmt: skip
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    value = (
        StatusValue.VALID if args.reinstate
        else StatusValue.SUSPENDED if args.suspend
        else StatusValue.INVALID
    )  # fmt: skip
    registry.set(args.index, value)
    registry.save(args.registry)
    _say(args, f"index {args.index} is now {value.name.lower()}; sign and publish the list",
         index=args.index, status=value.name.lower())  # fmt: skip
    return EXIT_OK


def _say(args: argparse.Namespace, text: str, **fields: Any) -> None:
    if args.json:
        print_json(fields)
    else:
        print(text)
