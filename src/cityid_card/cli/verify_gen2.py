"""``cityid-card verify --can CAN --terminal DIR``: what a generation-2 card tells a role.

The card runs PACE with the CAN, checks the terminal's certificates and signature, and
answers exactly what the role's certificate grants; the output holds those fields and
``valid``, nothing else. A wrong CAN is a rejection (exit 1) that says nothing personal.
A version 1 card in the reader is verified as one (--trust is then required).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, datetime

from cityid_card import qr
from cityid_card.drivers import connect
from cityid_card.errors import InputError
from cityid_card.iso7816.gen2 import Disclosure, NotGeneration2, disclose
from cityid_card.media import ISO7816, Link
from cityid_card.trust import TrustStore

from ._common import EXIT_OK, EXIT_REJECTED, paint, print_json
from ._io import load_trust
from .pki import load_terminal

__all__ = ["run_gen2"]

_LABELS = (
    ("name", "name"),
    ("date_of_birth", "date of birth"),
    ("gender", "gender"),
    ("expires", "expires"),
    ("pseudonym", "pseudonym"),
)


def _trust(args: argparse.Namespace) -> TrustStore | None:
    if args.trust is not None:
        return load_trust(args.trust)
    default = args.terminal / "trust.json"
    return load_trust(default) if default.exists() else None


def run_gen2(args: argparse.Namespace, version_1: Callable[[argparse.Namespace, Link], int]) -> int:
    """Read a generation-2 card; ``version_1(args, link)`` verifies a version 1 card found."""
    if args.reader is None:
        raise InputError("--can and --terminal read a card: give --reader")
    if args.can is None or args.terminal is None:
        raise InputError("a generation-2 card is read with both --can and --terminal")
    can: str = args.can
    if not qr.is_can(can):
        raise InputError("--can is the 6-digit number printed on the card face")
    access = load_terminal(args.terminal)
    trust = _trust(args)
    at: datetime | date | None = args.at
    today = (at.date() if isinstance(at, datetime) else at) if at is not None else date.today()
    with connect(args.reader, kind=ISO7816, timeout=args.timeout) as link:
        try:
            result = disclose(
                link, access, can, today=today, trust=trust,
                reader=link.reader,
            )  # fmt: skip
        except NotGeneration2:
            if trust is None:
                raise InputError("a version 1 card is verified against --trust") from None
            return version_1(args, link)
    _report(args, result)
    return EXIT_OK if result.valid else EXIT_REJECTED


def _report(args: argparse.Namespace, result: Disclosure) -> None:
    if result.issuer is None:
        print(
            "warning: the card's issuer was not checked (no --trust): a card made by "
            "anyone with its own batch key would pass",
            file=sys.stderr,
        )
    body = result.as_json()
    if args.json:
        print_json(body)
        return
    verdict = (
        paint("VALID", "green", sys.stdout) if result.valid else paint("INVALID", "red", sys.stdout)
    )
    issuer = f"issuer key {result.issuer}" if result.issuer else "issuer NOT checked"
    print(
        f"{verdict}  generation-2 card, role {result.role}, chip authenticated, {issuer}, "
        f"{result.facts.exchanges} APDUs"
    )
    for key, label in _LABELS:
        if key in body:
            print(f"  {label:<14} {body[key] if body[key] is not None else '-'}")
    for key, value in body.items():
        if key.startswith("age_over_"):
            years = key.removeprefix("age_over_")
            print(f"  {'age':<14} {'at least' if value else 'NOT'} {years} years old today")
