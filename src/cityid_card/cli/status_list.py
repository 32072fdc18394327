"""cityid-card status-list build|sign|show|publish and cityid-card revoke: revocation.

The city revokes cards in its registry (cityid-card registry, docs/registry.md: an
SQLite file or a postgresql:// URL), or in the older registry.json working file, and
publishes signed status lists built from it, each with a list number higher than the
last. Verifiers load the signed lists with cityid-card verify --status-list. Output
files are replaced only with --force (signing a new list over the published one is
routine: give --force there; publish replaces its folder's current.cwt by itself).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cityid_card._files import write_atomically
from cityid_card.errors import StatusListError
from cityid_card.keys import IssuerKey
from cityid_card.status import (
    DEFAULT_ENTRIES,
    CredentialStatus,
    StatusListToken,
    StatusRegistry,
    StatusValue,
    sign_status_list,
)
from cityid_card.trust import TrustStore
from cityid_card.verifier import Verifier

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_json_flag,
    add_key_flag,
    add_passphrase_flag,
    iso_date,
    load_issuer_key,
    print_json,
    whole_number,
)
from ._io import PUBLIC, check_output, load_registry, write_output
from .registry import REASONS, add_operator_flag, is_database, open_registry, revoke_in_database

_EXAMPLES = """\
examples:
  cityid-card status-list sign --key issuer.pem --registry city.db --out status.cwt --force
  cityid-card status-list publish --key issuer.pem --registry city.db --dir www/status
  cityid-card status-list show status.cwt --trust trust.json
  cityid-card revoke --registry city.db --index 4711 --reason lost
  cityid-card revoke --registry city.db --index 4711 --suspend --reason other
  cityid-card status-list build --key issuer.pem --out registry.json   # the older file"""


def register(commands: Any) -> None:
    group: argparse.ArgumentParser = commands.add_parser(
        "status-list",
        help="sign, publish and show status lists (and the older registry.json)",
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
    sign.add_argument("--registry", required=True, metavar="DB|JSON",
                      help="the registry (SQLite file or postgresql:// URL), or a registry.json")  # fmt: skip
    sign.add_argument("--valid-for", type=whole_number, default=7, metavar="DAYS",
                      help="days until verifiers treat the list as expired")  # fmt: skip
    sign.add_argument("--ttl", type=whole_number, metavar="SECONDS",
                      help="how often verifiers should refresh (default: not said)")  # fmt: skip
    sign.add_argument("--out", type=Path, required=True, metavar="FILE",
                      help="signed status list (COSE_Sign1 CWT)")  # fmt: skip
    add_force_flag(sign)
    add_json_flag(sign)
    sign.set_defaults(run=run_sign)

    show = actions.add_parser(
        "show", help="what a signed status list says: key, number, dates, counts",
        description=__doc__, epilog=_EXAMPLES,
    )  # fmt: skip
    show.add_argument("file", type=Path, metavar="FILE", help="a signed status list")
    show.add_argument("--trust", type=Path, metavar="FILE",
                      help="check its signature against this trust store")  # fmt: skip
    add_json_flag(show)
    show.set_defaults(run=run_show)

    publish = actions.add_parser(
        "publish", help="sign the current list into a folder a web server or CDN serves",
        description=__doc__, epilog=_EXAMPLES,
    )  # fmt: skip
    _add_key_flags(publish)
    publish.add_argument("--registry", required=True, metavar="DB", help="the registry database")
    publish.add_argument("--dir", type=Path, required=True, help="the published folder")
    publish.add_argument("--valid-for", type=whole_number, default=7, metavar="DAYS",
                         help="days until verifiers treat the list as expired")  # fmt: skip
    publish.add_argument("--ttl", type=whole_number, metavar="SECONDS",
                         help="how often verifiers should refresh (default: not said)")  # fmt: skip
    add_json_flag(publish)
    publish.set_defaults(run=run_publish)

    revoke: argparse.ArgumentParser = commands.add_parser(
        "revoke",
        help="revoke, suspend or reinstate a card in the registry",
        description="Revoke a card (the default), suspend it or make it valid again, by its "
        "status index or, with a registry database, every card of a holder by name and date "
        "of birth. With a database an index never issued is refused (exit 2), a reason is "
        "required and the change is recorded with the operator. Verifiers learn of it once "
        "the list is signed and published again (status-list sign or publish).",
        epilog=_EXAMPLES,
    )
    revoke.add_argument("--registry", required=True, metavar="DB|JSON",
                        help="the registry (SQLite file or postgresql:// URL), or a registry.json")  # fmt: skip
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=whole_number, metavar="N", help="the card's status index")
    which.add_argument("--name", help="revoke every card of the holder with this name and "
                       "--dob (- reads it from standard input)")  # fmt: skip
    revoke.add_argument("--dob", type=iso_date, help="the holder's date of birth, with --name")
    revoke.add_argument("--reason", choices=REASONS, help="why (required with a database)")
    revoke.add_argument(
        "--kid", metavar="LABEL", help="the card's key, if the registry has several"
    )
    add_operator_flag(revoke)
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
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(days=args.valid_for)
    with load_issuer_key(args.key, args.passphrase_file) as key:
        token, number, _ = _sign(args, key, now, expires)
    write_output(args.out, token, force=args.force, mode=PUBLIC)
    numbered = "" if number is None else f", list number {number}"
    _say(args, f"wrote {args.out}: {len(token)} bytes{numbered}, expires {expires.isoformat()}",
         out=str(args.out), bytes=len(token), expires=expires.isoformat(), number=number)  # fmt: skip
    return EXIT_OK


def _sign(
    args: argparse.Namespace, key: IssuerKey, now: datetime, expires: datetime
) -> tuple[bytes, int | None, str]:
    """The signed list, its number (from a registry database) and the key's label."""
    if not is_database(args.registry):
        registry = load_registry(Path(args.registry))
        token = sign_status_list(key, registry, issued_at=now, expires_at=expires, ttl=args.ttl)
        return token, None, key.kid
    from cityid_card.registry import key_thumbprint

    with open_registry(args.registry) as database:
        thumbprint = key_thumbprint(key)
        label = database.key(thumbprint=thumbprint).kid
        status, number = database.status_list(thumbprint=thumbprint, now=now)
    token = sign_status_list(
        key, status, issued_at=now, expires_at=expires, ttl=args.ttl, number=number
    )
    return token, number, label


def run_show(args: argparse.Namespace) -> int:
    data = args.file.read_bytes()
    if args.trust is not None:
        token = StatusListToken.from_bytes(data, TrustStore.load(args.trust))
    else:
        token = StatusListToken.read_unverified(data)
    now = datetime.now(UTC)
    expired = not token.current(now)
    fields: dict[str, Any] = {
        "kid": token.kid,
        "signature": "verified" if args.trust is not None else "not checked",
        "number": token.number,
        "issued_at": token.issued_at.isoformat(),
        "expires_at": None if token.expires_at is None else token.expires_at.isoformat(),
        "expired": expired,
        "ttl": token.ttl,
        "bits": token.bits,
        "size": token.size,
        "counts": token.counts(),
        "bytes": len(data),
    }
    if args.json:
        print_json(fields)
        return EXIT_OK
    counts = fields["counts"]
    print(f"status list of key {token.kid} (signature {fields['signature']})")
    print(f"  number         {token.number if token.number is not None else 'none'}")
    print(f"  issued         {fields['issued_at']}")
    until = fields["expires_at"] or "never"
    print(f"  expires        {until}{'  EXPIRED' if expired else ''}")
    print(f"  entries        {token.size} of {token.bits} bits, {len(data)} bytes signed")
    print(f"  counts         {counts['valid']} valid, {counts['revoked']} revoked, "
          f"{counts['suspended']} suspended, {counts['other']} other")  # fmt: skip
    return EXIT_OK


_SAFE_KID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def run_publish(args: argparse.Namespace) -> int:
    """Sign the current list: DIR/KID/NUMBER.cwt, DIR/KID/current.cwt and DIR/KID.cwt."""
    if not is_database(args.registry):
        raise StatusListError("publish signs from a registry database (SQLite file or URL)")
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(days=args.valid_for)
    with load_issuer_key(args.key, args.passphrase_file) as key:
        token, number, kid = _sign(args, key, now, expires)
    assert number is not None
    folder = args.dir / (kid if _SAFE_KID.fullmatch(kid) else f"key-{_digest(kid)}")
    folder.mkdir(parents=True, exist_ok=True)
    numbered = folder / f"{number}.cwt"
    write_atomically(numbered, token)  # predecessors stay: NUMBER.cwt of each earlier list
    write_atomically(folder / "current.cwt", token)
    # Each key's current list at the top as well: a desk pointed at DIR
    # (cityid-card serve --status-lists DIR) reads every *.cwt there.
    write_atomically(args.dir / f"{folder.name}.cwt", token)
    _say(args, f"published list {number} of key {kid}: {folder / 'current.cwt'} and {numbered}, "
         f"expires {expires.isoformat()}", number=number, kid=kid, current=str(folder / "current.cwt"),
         file=str(numbered), bytes=len(token), expires=expires.isoformat())  # fmt: skip
    return EXIT_OK


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_revoke(args: argparse.Namespace) -> int:
    if args.name is not None and args.dob is None:
        raise StatusListError("--name needs --dob: a holder is found by both")
    if is_database(args.registry):
        return revoke_in_database(args)
    if args.index is None:
        raise StatusListError("a registry.json knows no holders: revoke by --index")
    registry = load_registry(Path(args.registry))
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


def status_note(
    verifier: Verifier, kid: str, status: CredentialStatus, at: datetime | date | None
) -> str | None:
    """Why a verified card's status is unknown although a list of its key ``kid`` was loaded."""
    if status is not CredentialStatus.UNKNOWN:
        return None
    token = verifier.status_list_for(kid)
    if token is None:
        return None
    if at is None:
        moment = datetime.now(UTC)
    elif isinstance(at, datetime):
        moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    else:
        moment = datetime.combine(at, time(), UTC)
    if not token.current(moment):
        assert token.expires_at is not None
        return f"the status list of key {token.kid} EXPIRED {token.expires_at.isoformat()}"
    return f"the status list of key {token.kid} does not cover this card's index"
