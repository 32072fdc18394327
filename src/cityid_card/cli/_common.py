"""What the commands share: argument types, reading inputs, printing results."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from cityid_card.credential import Credential
from cityid_card.drivers import DEFAULT_TIMEOUT
from cityid_card.errors import InputError, PassphraseRequired
from cityid_card.keyfiles import PIN_ENV, load_key, read_secret_file
from cityid_card.keys import IssuerKey
from cityid_card.media import Facts
from cityid_card.pkcs11_uri import KeyUri, TokenError, TokenPinRequired, is_key_uri
from cityid_card.trust import TrustStore

from ._io import describe_os_error, load_trust

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
#: stdout was closed by its reader: 128 + SIGPIPE, as a shell reports a killed pipeline.
EXIT_BROKEN_PIPE = 141

_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def tag_uid(text: str) -> bytes:
    """argparse type: an NFC tag UID in hex (4, 7 or 10 bytes)."""
    try:
        uid = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected the UID in hex, e.g. 04A1B2C3D4E5F6") from None
    if len(uid) not in (4, 7, 10):
        raise argparse.ArgumentTypeError("a tag UID is 4, 7 or 10 bytes")
    return uid


def iso_date(text: str) -> date:
    """argparse type: a YYYY-MM-DD date that exists in the calendar."""
    if not _DATE_SHAPE.fullmatch(text):
        raise argparse.ArgumentTypeError("expected a date as YYYY-MM-DD") from None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not a date in the calendar (check the day and the month)"
        ) from None


def iso_moment(text: str) -> datetime | date:
    """argparse type: an ISO 8601 date or date-time."""
    if _DATE_SHAPE.fullmatch(text):
        return iso_date(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected an ISO 8601 date or date-time, e.g. 2027-01-01 or 2027-01-01T09:30:00-06:00"
        ) from None


def whole_number(text: str) -> int:
    """argparse type: a non-negative whole number (at most 18 digits)."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError("expected a whole number, e.g. 4711")
    return int(text)


def add_force_flag(parser: argparse.ArgumentParser, warning: str = "") -> None:
    """--force: replace an existing output file (without it, an existing file is refused)."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the output file if it exists (default: refuse)"
        + (f"; {warning}" if warning else ""),
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_passphrase_flag(parser: argparse.ArgumentParser) -> None:
    """--passphrase-file: the key file's passphrase, or the PIN of a key in a token.

    ``--pin-file``, its old name in ``hsm``, still works (hidden from the help).
    """
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help="file whose first line is the key file's passphrase, or the PIN of a pkcs11: "
        "key (without it, a terminal asks)",
    )
    parser.add_argument("--pin-file", type=Path, dest="passphrase_file", help=argparse.SUPPRESS)


def add_key_flag(parser: argparse.ArgumentParser) -> None:
    """--key, for every command that signs: a key file or a key in a token."""
    parser.add_argument(
        "--key",
        required=True,
        metavar="PEM|URI",
        help="issuer private key: a PEM file, or a pkcs11: URI of a key in a hardware token "
        "(pkcs11:token=LABEL;object=KEY?pin-source=file:PINFILE)",
    )


def add_new_key_flags(parser: argparse.ArgumentParser) -> None:
    """--trust, --valid-from, --valid-until: where a new key's public half goes, when it issues."""
    parser.add_argument(
        "--trust", type=Path, required=True, help="JWK Set to add the public key to"
    )
    parser.add_argument("--valid-from", type=iso_date, help="first day the key may issue")
    parser.add_argument("--valid-until", type=iso_date, help="last day the key may issue")


def trust_store_or_new(path: Path) -> TrustStore:
    """The trust store a new key is added to: the file's, or an empty one if there is none."""
    return load_trust(path) if path.exists() else TrustStore()


def read_passphrase(path: Path | None) -> bytes | None:
    """The first line of a --passphrase-file, or None without one."""
    return None if path is None else read_secret_file(path)


def new_passphrase(path: Path | None) -> bytes | None:
    """The passphrase for a new key file: --passphrase-file's, else typed twice on a terminal.

    Empty (or no terminal and no file) means an unencrypted key file.
    """
    if path is not None or sys.stdin is None or not sys.stdin.isatty():
        return read_passphrase(path)
    first = getpass.getpass("Passphrase for the new key file (empty: none): ")
    if first and getpass.getpass("The same passphrase again: ") != first:
        raise InputError("the two passphrases differ: nothing was written")
    return first.encode("utf-8") or None


_T = TypeVar("_T")


def with_secret(action: Callable[[bytes | None], _T], secret: bytes | None, prompt: str) -> _T:
    """``action(secret)``; if it needs a passphrase or PIN that was not given, ask for it.

    A terminal on standard input is asked (without echo) and ``action`` runs again;
    otherwise, and with a secret that was given, the error says what to give.
    """
    try:
        return action(secret)
    except (PassphraseRequired, TokenPinRequired) as error:
        if secret is not None or sys.stdin is None or not sys.stdin.isatty():
            raise _needs_secret(error) from None
    return action(getpass.getpass(prompt).encode("utf-8"))


def _needs_secret(error: PassphraseRequired | TokenPinRequired) -> Exception:
    if isinstance(error, PassphraseRequired):
        return PassphraseRequired(
            "the key file is encrypted: give --passphrase-file or type the passphrase"
        )
    return TokenPinRequired(
        f"{error}: give --passphrase-file, pin-source= in the key URI or ${PIN_ENV}, "
        "or type the PIN"
    )


def secret_prompt(location: str | os.PathLike[str]) -> str:
    """What a terminal is asked for the key at ``location``: its passphrase, or a PIN."""
    text = os.fspath(location)
    if is_key_uri(text):
        try:
            named = KeyUri.parse(text)
        except TokenError:
            return "PIN: "
        return f"PIN for token {named.token!r}: " if named.token else "token PIN: "
    return f"Passphrase for {text}: "


def load_issuer_key(
    location: str | os.PathLike[str], passphrase_file: Path | None, *, kid: str | None = None
) -> IssuerKey:
    """The issuer key a --key names: a PEM file path or a pkcs11: URI.

    The passphrase or PIN comes from ``passphrase_file``, else (for a URI) the URI or
    the environment, else a terminal asks for it. A key in a token holds a session
    open: use the result as a context manager.
    """
    return with_secret(
        lambda secret: load_key(location, secret, kid=kid),
        read_passphrase(passphrase_file),
        secret_prompt(location),
    )


#: The claims in the order people read them (dates in life order, the identifiers last).
CLAIM_ORDER = (
    "name", "date_of_birth", "gender", "issued", "expires",
    "status_index", "card_key", "tag_uid", "pseudonym_key",
)  # fmt: skip
#: What a desk sees by default: who, and until when (docs/verifying.md, privacy rules).
DESK_CLAIMS = frozenset({"name", "expires"})
#: The names --show takes, and the claims they add.
SHOWABLE = {
    "dob": "date_of_birth",
    "gender": "gender",
    "issued": "issued",
    "status-index": "status_index",
    "card-key": "card_key",
    "tag-uid": "tag_uid",
    "pseudonym-key": "pseudonym_key",
}
ALL_CLAIMS = frozenset(CLAIM_ORDER)


def claims_json(credential: Credential, show: frozenset[str] = ALL_CLAIMS) -> dict[str, Any]:
    """The claims in ``show`` as JSON-ready values (dates as YYYY-MM-DD, bytes as hex).

    In the credential's field order, as specs/vectors/credentials.json holds them.
    """
    result: dict[str, Any] = {}
    for label in (field.name for field in fields(credential)):
        if label not in show:
            continue
        value = getattr(credential, label)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = value.hex()
        result[label] = value
    return result


def print_claims(credential: Credential, show: frozenset[str] = ALL_CLAIMS) -> None:
    """Print the claims in ``show`` that have a value, one per line, in CLAIM_ORDER."""
    claims = claims_json(credential, show)
    for label in CLAIM_ORDER:
        value = claims.get(label)
        if value is not None:
            print(f"  {label.replace('_', ' '):<14} {value}")


def exchanges(facts: Facts) -> str:
    """``1 frame``, ``2 APDUs``: what an operation on a medium cost, for messages."""
    count = facts.exchanges or 0
    return f"{count} {facts.unit}{'' if count == 1 else 's'}"


def print_json(obj: dict[str, Any]) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


_COLOURS = {"green": "\033[32m", "red": "\033[31m"}


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, never when NO_COLOR is set (https://no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def paint(text: str, colour: str, stream: TextIO) -> str:
    """``text`` in ``colour`` (green, red) if ``stream`` shows colour, else as it is."""
    if not colour_wanted(stream):
        return text
    return f"{_COLOURS[colour]}{text}\033[0m"


def fail(args: argparse.Namespace, error: Exception, status: int) -> int:
    """Report ``error`` in one line (a JSON object with --json) and return ``status``.

    An OSError is said in words and names its file (``card.cbor: no such file``).
    """
    if isinstance(error, OSError):
        error = describe_os_error(error)
    kind = type(error).__name__
    message = str(error)
    if getattr(args, "json", False):
        print_json({"valid": False, "error": kind, "message": message})
        return status
    # A file problem speaks for itself ("card.cbor: no such file"); the other kinds are
    # named, as the guides' tables of errors list them.
    suffix = "" if isinstance(error, InputError) else f" ({kind})"
    label = paint("INVALID", "red", sys.stderr) if status == EXIT_REJECTED else "error"
    print(f"{label}: {message}{suffix}", file=sys.stderr)
    return status


def add_reader_flags(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """--reader URI and --timeout SECONDS, for the commands that talk to a card."""
    if required:
        parser.add_argument(
            "--reader",
            required=True,
            metavar="URI",
            help="pcsc[:<index>|:<name part>], nfc[:<nfcpy path>], sim:card[:STATEFILE], "
            "sim:ntag213|ntag215|ntag216[:IMAGEFILE] or sim:isodep[:STATEFILE]",
        )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for a card and for each answer (default {DEFAULT_TIMEOUT:g})",
    )


def add_holder_flags(parser: argparse.ArgumentParser) -> None:
    """--key, the holder's fields and where the status index comes from."""
    add_key_flag(parser)
    parser.add_argument("--name", required=True, help="the name as printed on the card")
    parser.add_argument(
        "--dob", type=iso_date, required=True, metavar="DATE", help="date of birth, YYYY-MM-DD"
    )
    parser.add_argument(
        "--expires", type=iso_date, required=True, metavar="DATE", help="expiry date, YYYY-MM-DD"
    )
    parser.add_argument(
        "--gender", metavar="TEXT", help="self-designated gender, free text (optional)"
    )
    parser.add_argument(
        "--issued", type=iso_date, metavar="DATE", help="issue date (default: today's local date)"
    )
    parser.add_argument(
        "--tag-uid",
        type=tag_uid,
        metavar="HEX",
        help="bind the credential to this NFC tag's UID (cityid-card read --json shows it)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--status-index",
        type=whole_number,
        metavar="N",
        help="index in the status list, which you record yourself",
    )
    where.add_argument(
        "--registry",
        metavar="DB|JSON",
        help="the registry to take a free random index from and record the card in (an "
        "SQLite file or postgresql:// URL; a registry.json only takes the index); one of "
        "--registry and --status-index is required",
    )
    parser.add_argument(
        "--operator",
        metavar="ID",
        help="operator id the registry records (default: $CITYID_OPERATOR or the login name)",
    )
    add_passphrase_flag(parser)


def require_status_choice(args: argparse.Namespace) -> None:
    """Refuse to issue without --registry or --status-index.

    An index picked at random and recorded nowhere can never be revoked: the city could
    not say which entry of its status list a lost card is.
    """
    if args.registry is None and args.status_index is None:
        raise InputError(
            "no status index: give --registry FILE (recommended) or --status-index N and "
            "record N; without one the card could never be revoked"
        )
