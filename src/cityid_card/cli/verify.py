"""``cityid-card verify``: check a credential against a trust store and status lists.

The credential comes from a file, or with --reader from a card or an NFC tag: then the
chip is also authenticated when the credential binds a card key, a tag's UID is checked
when it binds one (and the tag's originality signature), and the result says which
authenticity level was reached. With --qr or --image it comes from the QR code of a
printed card face (the text, or a picture of the card).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from cityid_card import qr
from cityid_card.drivers import connect
from cityid_card.media import Verification, medium_for, verify_bytes
from cityid_card.status import StatusListToken
from cityid_card.trust import TrustStore
from cityid_card.verifier import StatusPolicy, Verifier

from ._common import (
    EXIT_OK,
    add_json_flag,
    add_reader_flags,
    claims_json,
    exchanges,
    iso_moment,
    print_claims,
    print_json,
)

_LEVELS = {
    "signature_only": "signature only (the credential binds no chip key: a copy would pass)",
    "tag_uid_bound": "tag UID bound (a copy needs a tag whose UID can be set)",
    "originality_checked": (
        "originality checked (UID bound, NXP signature verifies; a tag emulator can still copy it)"
    ),
    "chip_authenticated": "chip authenticated (the card proved it holds the card key)",
}


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "verify", help="verify a credential", description=__doc__
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "credential", nargs="?", type=Path, help="credential file (as written by issue)"
    )
    source.add_argument(
        "--reader", metavar="URI", help="verify the card in this reader (see cityid-card readers)"
    )
    source.add_argument(
        "--qr",
        metavar="TEXT",
        help="verify the text of a card's QR code (CID1:...); - reads it from standard input, "
        "which keeps the holder's name out of the process list and shell history",
    )
    source.add_argument(
        "--image",
        type=Path,
        metavar="FILE",
        help="verify the QR code in a picture of the card face (PNG, JPEG)",
    )
    add_reader_flags(parser, required=False)
    add_verifier_flags(parser)
    parser.add_argument(
        "--at", type=iso_moment, help="judge validity at this ISO 8601 date or time"
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def add_verifier_flags(parser: argparse.ArgumentParser) -> None:
    """--trust, --status-list and --require-status: what a verifier is built from."""
    parser.add_argument("--trust", type=Path, required=True, help="trust store (JWK Set)")
    parser.add_argument(
        "--status-list",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="signed status list of an issuer key (repeatable)",
    )
    parser.add_argument(
        "--require-status",
        action="store_true",
        help="reject a credential no current status list covers (default: accept, status unknown)",
    )


def build_verifier(args: argparse.Namespace) -> Verifier:
    trust = TrustStore.load(args.trust)
    lists = [StatusListToken.load(path, trust) for path in args.status_list]
    policy = StatusPolicy.REJECT_UNKNOWN if args.require_status else StatusPolicy.ACCEPT_UNKNOWN
    return Verifier(trust, lists, cache_size=0, status_policy=policy)


def report(args: argparse.Namespace, result: Verification) -> None:
    """Print a successful verification, from any medium, as text or (--json) one JSON object.

    Read from a reader, it also says the authenticity level reached and what the medium
    reported (its product, what the read cost, originality, lock state).
    """
    facts = result.facts
    from_reader = facts.reader is not None
    if args.json:
        body: dict[str, Any] = {
            "valid": True,
            "kid": result.kid,
            "alg": result.alg,
            "status": result.status.value,
            "claims": claims_json(result.credential),
        }
        if from_reader:
            body.update(facts.as_json(), authenticity=result.authenticity.name.lower())
        print_json(body)
        return
    where = f", {facts.what} in {facts.reader}" if from_reader else ""
    print(f"VALID  {result.alg}, issuer key {result.kid}, status {result.status.value}{where}")
    if from_reader:
        level = result.authenticity.name.lower()
        print(f"  {'authenticity':<14} {_LEVELS.get(level, level)}")
        print(f"  {'medium':<14} {facts.what}, read and checked in {exchanges(facts)}")
        if facts.originality is False:
            print(f"  {'originality':<14} the NXP signature does NOT verify: not an original chip")
        if facts.locked is False:
            print(f"  {'locked':<14} NOT locked: anyone can rewrite this {facts.what}")
    print_claims(result.credential)


def credential_bytes(args: argparse.Namespace) -> bytes:
    """The credential from the file, the --qr text or the --image picture."""
    if args.qr is not None:
        text = sys.stdin.readline().rstrip("\r\n") if args.qr == "-" else args.qr
        return qr.decode(text)
    if args.image is not None:
        return qr.decode(qr.read_image(args.image.read_bytes()))
    data: bytes = args.credential.read_bytes()
    return data


def run(args: argparse.Namespace) -> int:
    verifier = build_verifier(args)
    if args.reader is None:
        kind = "bytes" if args.credential is not None else "qr"
        report(args, verify_bytes(credential_bytes(args), verifier, args.at, kind=kind))
        return EXIT_OK
    with connect(args.reader, timeout=args.timeout) as link:
        result = medium_for(link).verify(verifier, args.at or date.today())
    report(args, result)
    return EXIT_OK
