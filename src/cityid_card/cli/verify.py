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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cityid_card import qr
from cityid_card.card import CardVerification
from cityid_card.card.tag import TagVerification, verify_reader
from cityid_card.drivers import connect
from cityid_card.status import StatusListToken
from cityid_card.trust import TrustStore
from cityid_card.verifier import StatusPolicy, VerifiedCredential, Verifier

from ._common import (
    EXIT_OK,
    add_json_flag,
    add_reader_flags,
    claims_json,
    iso_moment,
    print_claims,
    print_json,
)
from .status_list import status_note

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
    verifier = Verifier(trust, cache_size=0, status_policy=policy)
    verifier.update_status_lists(lists, now=datetime.now(UTC))  # refuses a list dated ahead
    return verifier


def report(args: argparse.Namespace, result: VerifiedCredential, note: str | None = None) -> None:
    """Print a successful verification, as text or (--json) one JSON object.

    ``note`` says why the status is unknown when a list was given (it expired, say).
    """
    if args.json:
        print_json(
            {
                "valid": True,
                "kid": result.kid,
                "alg": result.alg,
                "status": result.status.value,
                **({} if note is None else {"status_note": note}),
                "claims": claims_json(result.credential),
            }
        )
    else:
        said = "" if note is None else f" ({note})"
        print(f"VALID  {result.alg}, issuer key {result.kid}, status {result.status.value}{said}")
        print_claims(result.credential)


def report_card(
    args: argparse.Namespace, result: CardVerification, reader: str, note: str | None = None
) -> None:
    """Print a successful card verification, with the authenticity level reached."""
    verified = result.verified
    level = result.authenticity.name.lower()
    tag: dict[str, Any] = {}
    if isinstance(result, TagVerification):
        tag = {"tag": result.product, "frames": result.frames, "originality": result.originality}
    if args.json:
        print_json(
            {
                "valid": True,
                "kid": verified.kid,
                "alg": verified.alg,
                "status": verified.status.value,
                **({} if note is None else {"status_note": note}),
                "reader": reader,
                "authenticity": level,
                "locked": result.locked,
                "claims": claims_json(verified.credential),
                **tag,
            }
        )
    else:
        medium = "card" if not tag else tag["tag"]
        print(
            f"VALID  {verified.alg}, issuer key {verified.kid}, status {verified.status.value}"
            f"{'' if note is None else f' ({note})'}, {medium} in {reader}"
        )
        print(f"  {'authenticity':<14} {_LEVELS.get(level, level)}")
        if tag:
            unit = "frame" if tag["frames"] == 1 else "frames"
            print(f"  {'tag':<14} {tag['tag']}, read and checked in {tag['frames']} {unit}")
        if tag.get("originality") is False:
            print(f"  {'originality':<14} the NXP signature does NOT verify: not an original chip")
        if result.locked is False:
            what = "NOT locked: its personalisation was not finished"
            if tag:
                what = "NOT locked: anyone can rewrite this tag"
            print(f"  {medium if not tag else 'tag':<14} {what}")
        print_claims(verified.credential)


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
        verified = verifier.verify(credential_bytes(args), now=args.at)
        report(args, verified, status_note(verifier, verified, args.at))
        return EXIT_OK
    with connect(args.reader, timeout=args.timeout) as connection:
        result = verify_reader(connection, verifier, args.at)
        reader = connection.reader
    report_card(args, result, reader, status_note(verifier, result.verified, args.at))
    return EXIT_OK
