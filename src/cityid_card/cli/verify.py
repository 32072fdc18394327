"""``cityid-card verify``: check a credential against a trust store and status lists.

The credential comes from a file, or with --reader from a card or an NFC tag: then the
chip is also authenticated when the credential binds a card key, a tag's UID is checked
when it binds one (and the tag's originality signature), and the result says which
authenticity level was reached. With --qr or --image it comes from the QR code of a
printed card face (the text, or a picture of the card). A sealed NFC tag is opened with
the key in its card face's QR code: --seal-key-from-qr (or the key file: --seal-key).

A generation-2 card (specs/card-application.md v2) is read with --can (the 6-digit
number printed on its face) and --terminal DIR (from cityid-card pki terminal): it
tells the terminal exactly what its role is entitled to, and nothing else. --trust
then checks the issuer of the card's security object (default: DIR/trust.json if it
exists; without either, the issuer is not checked and a warning says so).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from cityid_card import qr
from cityid_card.drivers import ReaderConnection, connect
from cityid_card.errors import CredentialError, InputError
from cityid_card.iso7816.errors import ApplicationNotFound
from cityid_card.media import ISO7816, Link, Verification, medium_for, verify_bytes
from cityid_card.verifier import StatusPolicy, Verifier

from ._common import (
    ALL_CLAIMS,
    CLAIM_ORDER,
    DESK_CLAIMS,
    EXIT_OK,
    EXIT_REJECTED,
    SHOWABLE,
    add_json_flag,
    add_reader_flags,
    claims_json,
    exchanges,
    iso_moment,
    paint,
    print_claims,
    print_json,
)
from ._io import (
    load_seen,
    load_status_list,
    load_trust,
    read_credential,
    read_input,
    save_seen,
)
from ._seal import add_seal_key_flags, seal_key_from_args, verify_medium
from .status_list import status_note

#: A photo of a card face from a phone is a few megabytes.
_MAX_IMAGE = 64 * 1024 * 1024
#: A file of scanned QR code texts: some 200,000 scans.
_MAX_QR_FILE = 64 * 1024 * 1024
#: One line of a scanner stream: past the longest QR code text, it cannot be one.
_MAX_QR_LINE = qr.MAX_TEXT_LENGTH + 64

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
        "verify", help="verify a credential: file, card, tag or QR code", description=__doc__,
        epilog=_EXAMPLES,
    )  # fmt: skip
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "credential", nargs="?", type=Path, help="credential file (as written by issue)"
    )
    source.add_argument(
        "--reader", metavar="URI", help="verify the card in this reader (see cityid-card readers)"
    )
    source.add_argument(
        "--qr",
        metavar="TEXT|FILE|-",
        help="verify QR code text (CID1:...); a FILE or - (standard input) is read line by "
        "line, one result per line, as a scanner types them. A file or - keeps the holder's "
        "name out of the process list and the shell history",
    )
    source.add_argument(
        "--image",
        type=Path,
        metavar="FILE",
        help="verify the QR code in a picture of the card face (PNG, JPEG)",
    )
    add_reader_flags(parser, required=False)
    add_seal_key_flags(parser)
    add_verifier_flags(parser)
    add_seen_flag(parser)
    parser.add_argument(
        "--can",
        metavar="NNNNNN",
        help="generation-2 card: the card access number printed on its face",
    )
    parser.add_argument(
        "--terminal",
        type=Path,
        metavar="DIR",
        help="generation-2 card: this terminal's certificates and key (cityid-card pki terminal)",
    )
    parser.add_argument(
        "--at",
        type=iso_moment,
        metavar="DATE",
        help="judge validity at this ISO 8601 date or date-time (default: now, by the "
        "local calendar date)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--show",
        type=show_list,
        default=frozenset(),
        metavar="FIELDS",
        help="also show these fields, comma-separated: " + ", ".join(SHOWABLE)
        + " (by default only the name and the expiry date, what a desk needs)",
    )  # fmt: skip
    shown.add_argument("--all", action="store_true", help="show every field of the credential")
    add_json_flag(parser)
    parser.set_defaults(run=run)


_EXAMPLES = """\
examples:
  cityid-card verify card.cbor --trust trust.json
  cityid-card verify card.cbor --trust trust.json --status-list status.cwt --require-status
  cityid-card verify card.cbor --trust trust.json --status-list status.cwt --seen seen.json
  cityid-card verify card.cbor --trust trust.json --show dob --json
  cityid-card verify --reader nfc --trust trust.json
  scanner-tool | cityid-card verify --qr - --trust trust.json --json   # one line per scan
  cityid-card verify --image face.png --trust trust.json
  cityid-card verify --reader pcsc --can 123456 --terminal desk-1 --trust trust.json --json"""


def show_list(text: str) -> frozenset[str]:
    """argparse type: --show's comma-separated field names, as claim names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(name not in SHOWABLE for name in names):
        raise argparse.ArgumentTypeError("expected field names from: " + ", ".join(SHOWABLE))
    return frozenset(SHOWABLE[name] for name in names)


def shown_claims(args: argparse.Namespace) -> frozenset[str]:
    """The claims to print: the desk's by default, more with --show, every one with --all."""
    if getattr(args, "all", False):
        return ALL_CLAIMS
    extra: frozenset[str] = getattr(args, "show", frozenset())
    return DESK_CLAIMS | extra


def add_verifier_flags(parser: argparse.ArgumentParser) -> None:
    """--trust, --status-list and --require-status: what a verifier is built from."""
    parser.add_argument(
        "--trust",
        type=Path,
        metavar="FILE",
        help="trust store: the JWK Set of the issuer keys (trust.json, from keygen --trust)",
    )
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


def add_seen_flag(parser: argparse.ArgumentParser) -> None:
    """--seen FILE: the status list numbers seen, kept across runs (verify, serve, watch)."""
    parser.add_argument(
        "--seen",
        type=Path,
        metavar="FILE",
        help="keep the newest status list number seen for each key in FILE (JSON, "
        "owner-only; made on first use) and refuse any list older than it, also after a "
        "restart: a gate given yesterday's list after today's does not accept a card "
        "revoked today",
    )


def build_verifier(args: argparse.Namespace) -> Verifier:
    trust = load_trust(args.trust)
    lists = [load_status_list(path, trust) for path in args.status_list]
    policy = StatusPolicy.REJECT_UNKNOWN if args.require_status else StatusPolicy.ACCEPT_UNKNOWN
    seen = None if args.seen is None else load_seen(args.seen)
    verifier = Verifier(trust, cache_size=0, status_policy=policy, seen_status_lists=seen)
    # Refuses a list dated ahead, and one older than a list seen before (--seen).
    verifier.update_status_lists(lists, now=datetime.now(UTC))
    if args.seen is not None:
        save_seen(args.seen, verifier.seen_status_lists)
    return verifier


def verification_time(args: argparse.Namespace) -> datetime | date:
    """--at, or now: an aware local time, so the local calendar date is the one judged."""
    at: datetime | date | None = args.at
    return at if at is not None else datetime.now().astimezone()


def _valid() -> str:
    return paint("VALID", "green", sys.stdout)


def result_json(result: Verification, show: frozenset[str]) -> dict[str, Any]:
    """A successful verification as JSON: claims holds name, expires and what --show adds.

    Read from a reader, it also has the authenticity level reached and the medium's facts
    (``medium``, ``reader``, ``locked``, ``product``, ``frames`` or ``apdus``, ...).
    """
    body: dict[str, Any] = {
        "valid": True,
        "kid": result.kid,
        "alg": result.alg,
        "status": result.status.value,
        "claims": claims_json(result.credential, show),
    }
    if result.facts.reader is not None:
        body.update(result.facts.as_json(), authenticity=result.authenticity.name.lower())
    return body


def report(args: argparse.Namespace, result: Verification, note: str | None = None) -> None:
    """Print a successful verification, from any medium, as text or (--json) one JSON object.

    Read from a reader, it also says the authenticity level reached and what the medium
    reported (its product, what the read cost, originality, lock state). ``note`` says
    why the status is unknown although a list was given (it expired, say).
    """
    show = shown_claims(args)
    if args.json:
        print_json({**result_json(result, show), **({} if note is None else {"status_note": note})})
        return
    facts = result.facts
    from_reader = facts.reader is not None
    where = f", {facts.what} in {facts.reader}" if from_reader else ""
    said = "" if note is None else f" ({note})"
    print(
        f"{_valid()}  {result.alg}, issuer key {result.kid}, "
        f"status {result.status.value}{said}{where}"
    )
    if from_reader:
        level = result.authenticity.name.lower()
        print(f"  {'authenticity':<14} {_LEVELS.get(level, level)}")
        print(f"  {'medium':<14} {facts.what}, read and checked in {exchanges(facts)}")
        if facts.originality is False:
            print(f"  {'originality':<14} the NXP signature does NOT verify: not an original chip")
        if facts.locked is False:
            print(f"  {'locked':<14} NOT locked: anyone can rewrite this {facts.what}")
    print_claims(result.credential, show)


def credential_bytes(args: argparse.Namespace) -> bytes:
    """The credential from the file, the --qr text or the --image picture."""
    if args.qr is not None:
        return qr.decode(args.qr)
    if args.image is not None:
        return qr.decode(
            qr.read_image(read_input(args.image, what="a picture", max_bytes=_MAX_IMAGE))
        )
    return read_credential(args.credential)


def _is_qr_text(value: str) -> bool:
    """Whether --qr's value is the text itself rather than a FILE (or - for stdin).

    Ours in any case (qr.decode then rejects the wrong case), and any other scheme's
    ("HC1:...": QR alphanumeric characters with a colon) unless such a file exists, so
    that a scan is rejected as what it is and never echoed as a missing file's name.
    """
    if value == "-":
        return False
    if value.upper().startswith(qr.QR_PREFIX):
        return True
    alphanumeric = ":" in value and all(char in qr.BASE45_ALPHABET for char in value)
    return alphanumeric and not Path(value).exists()


def _qr_lines(source: str) -> Iterator[tuple[int, str]]:
    """The numbered non-blank lines of --qr's FILE or of standard input (-)."""
    if source == "-":
        yield from _stdin_lines()
        return
    data = read_input(Path(source), what="QR code text", max_bytes=_MAX_QR_FILE)
    for number, raw in enumerate(data.splitlines(), 1):
        line = raw.decode("utf-8", "replace").strip()
        if line:
            yield number, line


def _stdin_lines() -> Iterator[tuple[int, str]]:
    """Standard input line by line, as each arrives.

    Bytes that are not UTF-8 do not stop the stream (that line is rejected), and a line
    longer than any QR code text is cut there and its rest skipped (the line is then
    rejected) instead of being read whole into memory.
    """
    binary = getattr(sys.stdin, "buffer", None)

    def readline() -> bytes:
        if binary is not None:
            data: bytes = binary.readline(_MAX_QR_LINE)
            return data
        return sys.stdin.readline(_MAX_QR_LINE).encode("utf-8", "replace")

    number = 0
    while raw := readline():
        number += 1
        if len(raw) >= _MAX_QR_LINE and not raw.endswith(b"\n"):
            while (rest := readline()) and not rest.endswith(b"\n"):
                pass
        line = raw.decode("utf-8", "replace").strip()
        if line:
            yield number, line


def _verify_stream(args: argparse.Namespace, verifier: Verifier) -> int:
    """One result per line of QR code text, in order; the worst line decides the exit status."""
    show = shown_claims(args)
    worst = EXIT_OK
    seen = False
    for number, line in _qr_lines(args.qr):
        seen = True
        try:
            result = verify_bytes(qr.decode(line), verifier, verification_time(args), kind="qr")
        except CredentialError as error:
            worst = max(worst, EXIT_REJECTED)
            _stream_failure(args, number, error)
            continue
        if args.json:
            print_json({"line": number, **result_json(result, show)})
        else:
            claims = claims_json(result.credential, show)
            shown = ", ".join(
                f"{label.replace('_', ' ')} {claims[label]}"
                for label in CLAIM_ORDER
                if claims.get(label) is not None and label != "name"
            )
            print(
                f"{_valid()}  {claims['name']}, {shown}, issuer key {result.kid}, "
                f"status {result.status.value}"
            )
        sys.stdout.flush()
    if not seen:
        raise InputError("no QR code text to verify: the input is empty")
    return worst


def _stream_failure(args: argparse.Namespace, number: int, error: CredentialError) -> None:
    kind = type(error).__name__
    if args.json:
        print_json({"line": number, "valid": False, "error": kind, "message": str(error)})
    else:
        print(f"{paint('INVALID', 'red', sys.stdout)}  line {number}: {error} ({kind})")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    if args.can is not None or args.terminal is not None:
        from .verify_gen2 import run_gen2

        return run_gen2(args, _verify_version_1)
    if args.trust is None:
        raise InputError("the following arguments are required: --trust")
    seal_key = seal_key_from_args(args)  # before the reader: it may read standard input
    verifier = build_verifier(args)
    if args.qr is not None and not _is_qr_text(args.qr):
        return _verify_stream(args, verifier)
    if args.reader is None:
        kind = "bytes" if args.credential is not None else "qr"
        blob = credential_bytes(args)
        result = verify_bytes(blob, verifier, verification_time(args), kind=kind)
    else:
        with connect(args.reader, timeout=args.timeout) as link:
            try:
                result = verify_medium(
                    medium_for(link), verifier, verification_time(args), seal_key
                )
            except ApplicationNotFound:
                _refuse_generation_2(link)
                raise
    report(args, result, status_note(verifier, result.kid, result.status, args.at))
    return EXIT_OK


def _verify_version_1(args: argparse.Namespace, link: Link) -> int:
    """A version 1 card found by ``verify --can --terminal``: verified as one."""
    result = medium_for(link).verify(build_verifier(args), verification_time(args))
    report(args, result)
    return EXIT_OK


def _refuse_generation_2(link: Link) -> None:
    """Say so when the card without the version 1 application is a generation-2 card."""
    from cityid_card.iso7816.gen2.terminal import is_generation_2

    if link.kind == ISO7816 and is_generation_2(cast(ReaderConnection, link)):
        raise ApplicationNotFound(
            "the card is a generation-2 card: read it with --can (the number printed on "
            "its face) and --terminal DIR (cityid-card pki terminal)",
            sw=0x6A82,
            command="SELECT",
        )
