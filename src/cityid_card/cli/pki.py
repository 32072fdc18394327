"""``cityid-card pki``: the city's terminal PKI for generation-2 cards.

``pki init`` makes the city root (CVCA, a card-verifiable certificate of BSI
TR-03110-3), the sector keys that keep each service's pseudonyms apart, and the chip
authentication key of the first batch of cards. ``pki terminal`` makes a document
verifier and a terminal certificate for one role; a card then tells that terminal
exactly what the role is entitled to. ``pki rollover`` replaces the CVCA key and writes
the link certificate that cards learn the new key from.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac import P256, cvc
from cityid_card.eac.errors import EacError
from cityid_card.errors import InputError
from cityid_card.iso7816.gen2.pki import (
    ROLES,
    SECTOR_ROLES,
    CityPki,
    link_certificate,
    make_cvca,
)
from cityid_card.iso7816.gen2.terminal import TerminalAccess

from ._common import EXIT_OK, add_force_flag, add_json_flag, print_json
from ._io import PRIVATE, PUBLIC, read_input, read_json, write_output

__all__ = ["CityRoot", "load_root", "load_terminal", "register"]

_MAX_FILE = 64 * 1024
_CVCA_KEY = "cvca.pem"
_CVCA = "cvca.cvcert"
_SECTORS = "sectors.json"
_BATCH = "batch.pem"
_PKI = "pki.json"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "pki", help="the city's terminal PKI for generation-2 cards", description=__doc__,
        epilog=_EXAMPLES,
    )  # fmt: skip
    actions = parser.add_subparsers(
        dest="pki_command", required=True, metavar="ACTION", help="what to do"
    )
    init = actions.add_parser(
        "init", help="make the city root (CVCA), sector keys and a batch key",
        description=__doc__, epilog=_EXAMPLES,
    )  # fmt: skip
    init.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to create")
    init.add_argument(
        "--holder",
        default="USCITY",
        metavar="MNEMONIC",
        help="country code and city mnemonic of the certificate references, 2 to 7 "
        "characters A-Z (default USCITY)",
    )
    add_force_flag(init)
    add_json_flag(init)
    init.set_defaults(run=run_init)
    terminal = actions.add_parser(
        "terminal", help="make a document verifier and a terminal for a role",
        description=__doc__, epilog=_EXAMPLES,
    )  # fmt: skip
    terminal.add_argument(
        "--ca", type=Path, required=True, metavar="DIR", help="the city root (from pki init)"
    )
    terminal.add_argument("--role", required=True, choices=sorted(ROLES), help="the service")
    terminal.add_argument(
        "--age", type=int, default=21, metavar="N", help="age-check: the age checked (default 21)"
    )
    terminal.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="directory to create"
    )
    add_force_flag(terminal)
    add_json_flag(terminal)
    terminal.set_defaults(run=run_terminal)
    rollover = actions.add_parser(
        "rollover", help="replace the CVCA key; write the link certificate",
        description=__doc__, epilog=_EXAMPLES,
    )  # fmt: skip
    rollover.add_argument("--ca", type=Path, required=True, metavar="DIR", help="the city root")
    add_json_flag(rollover)
    rollover.set_defaults(run=run_rollover)


_EXAMPLES = """\
examples:
  cityid-card pki init --out city-root
  cityid-card pki terminal --ca city-root --role library --out desk-1
  cityid-card pki terminal --ca city-root --role age-check --age 18 --out bar-7
  cityid-card pki rollover --ca city-root     # then make the terminals again
  cityid-card verify --reader pcsc --can 123456 --terminal desk-1 --trust trust.json"""


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_pem(path: Path) -> ec.EllipticCurvePrivateKey:
    data = read_input(path, what="a private key", max_bytes=_MAX_FILE)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InputError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"{path}: not a P-256 private key")
    return key


def _make_dir(path: Path, force: bool) -> None:
    if path.exists() and any(path.iterdir()) and not force:
        raise InputError(f"{path}: exists and is not empty (use --force to write into it)")
    path.mkdir(parents=True, exist_ok=True)


def _json_bytes(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _check_holder(holder: str) -> str:
    if not (2 <= len(holder) <= 7 and holder.isascii() and holder.isalpha() and holder.isupper()):
        raise InputError("--holder is 2 to 7 capital letters A-Z, e.g. USCHI")
    return holder


def run_init(args: argparse.Namespace) -> int:
    holder = _check_holder(args.holder)
    today = date.today()  # the city's local date: the root's effective date
    _make_dir(args.out, args.force)
    key = ec.generate_private_key(ec.SECP256R1())
    chr_ = f"{holder}CVCA00001"
    certificate = make_cvca(key, chr_, today)
    sectors = {role: P256.random_scalar() for role in SECTOR_ROLES}
    batch = ec.generate_private_key(ec.SECP256R1())
    force = args.force
    write_output(args.out / _CVCA_KEY, _pem(key), force=force, mode=PRIVATE)
    write_output(args.out / _CVCA, certificate, force=force, mode=PUBLIC)
    write_output(
        args.out / _SECTORS,
        _json_bytes({role: f"{value:064x}" for role, value in sectors.items()}),
        force=force,
        mode=PRIVATE,
    )
    write_output(args.out / _BATCH, _pem(batch), force=force, mode=PRIVATE)
    pki = {"holder": holder, "cvca": chr_, "sequence": 0, "links": []}
    write_output(args.out / _PKI, _json_bytes(pki), force=force, mode=PUBLIC)
    body = cvc.parse_certificate(certificate).body
    if args.json:
        print_json({"cvca": chr_, "expires": body.expires.isoformat(), "dir": str(args.out)})
    else:
        print(f"city root {chr_} in {args.out}, valid until {body.expires.isoformat()}")
        print(f"  {_CVCA_KEY}, {_SECTORS} and {_BATCH} are secret: keep them offline")
    return EXIT_OK


@dataclass(frozen=True)
class CityRoot:
    """What ``pki init`` wrote: the CVCA's key and certificate, sector keys, batch key."""

    directory: Path
    holder: str
    cvca_chr: str
    cvca_key: ec.EllipticCurvePrivateKey
    cvca: bytes
    sectors: dict[str, int]
    batch_key: ec.EllipticCurvePrivateKey
    sequence: int
    links: list[str]


def load_root(directory: Path) -> CityRoot:
    """Read a city root directory; InputError naming the file at fault."""
    pki = read_json(directory / _PKI, what="a pki.json")
    sectors_doc = read_json(directory / _SECTORS, what="a sectors.json")
    try:
        holder, chr_ = str(pki["holder"]), str(pki["cvca"])
        sequence, links = int(pki["sequence"]), [str(link) for link in pki["links"]]
        sectors = {role: int(sectors_doc[role], 16) for role in SECTOR_ROLES}
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{directory}: not a city root made by pki init") from None
    cvca = read_input(directory / _CVCA, what="a CVCA certificate", max_bytes=_MAX_FILE)
    try:
        if cvc.parse_certificate(cvca).body.chr != chr_:
            raise InputError(f"{directory}: {_CVCA} is not the CVCA pki.json names")
    except EacError:
        raise InputError(f"{directory / _CVCA}: not a card-verifiable certificate") from None
    return CityRoot(
        directory,
        holder,
        chr_,
        _load_pem(directory / _CVCA_KEY),
        cvca,
        sectors,
        _load_pem(directory / _BATCH),
        sequence,
        links,
    )


def _save_pki(root: CityRoot, **changes: Any) -> None:
    document = {
        "holder": root.holder,
        "cvca": root.cvca_chr,
        "sequence": root.sequence,
        "links": root.links,
    }
    document.update(changes)
    write_output(root.directory / _PKI, _json_bytes(document), force=True, mode=PUBLIC)


def run_terminal(args: argparse.Namespace) -> int:
    root = load_root(args.ca)
    if args.role == "age-check" and not 1 <= args.age <= 150:
        raise InputError("--age is a whole number of years from 1 to 150")
    today = date.today()
    _make_dir(args.out, args.force)
    sequence = root.sequence + 1
    pki = CityPki(root.holder, root.cvca_chr, root.cvca_key, root.cvca, root.sectors)
    age = args.age if args.role == "age-check" else None
    access = pki.terminal(args.role, today, age=age, sequence=sequence)
    links = [
        read_input(root.directory / name, what="a link certificate", max_bytes=_MAX_FILE).hex()
        for name in root.links
    ]
    force = args.force
    write_output(args.out / "dv.cvcert", access.dv_certificate, force=force, mode=PUBLIC)
    write_output(
        args.out / "terminal.cvcert", access.terminal_certificate, force=force, mode=PUBLIC
    )
    write_output(args.out / "terminal.pem", _pem(access.private_key), force=force, mode=PRIVATE)
    sector_public = access.sector_public_key
    settings = {
        "role": args.role,
        "age": age,
        "sector_public_key": None if sector_public is None else sector_public.hex(),
        "link_certificates": links,
    }
    write_output(args.out / "terminal.json", _json_bytes(settings), force=force, mode=PUBLIC)
    _save_pki(root, sequence=sequence)
    body = cvc.parse_certificate(access.terminal_certificate).body
    if args.json:
        print_json(
            {
                "role": args.role,
                "terminal": body.chr,
                "dv": body.car,
                "expires": body.expires.isoformat(),
                "dir": str(args.out),
            }
        )
    else:
        print(
            f"terminal {body.chr} ({args.role}) under {body.car} in {args.out}, "
            f"valid until {body.expires.isoformat()}"
        )
    return EXIT_OK


def load_terminal(directory: Path) -> TerminalAccess:
    """A terminal directory written by ``pki terminal``; InputError naming the file at fault."""
    settings = read_json(directory / "terminal.json", what="a terminal.json")
    dv = read_input(directory / "dv.cvcert", what="a DV certificate", max_bytes=_MAX_FILE)
    terminal = read_input(
        directory / "terminal.cvcert", what="a terminal certificate", max_bytes=_MAX_FILE
    )
    try:
        role = str(settings["role"])
        age = settings["age"]
        sector = settings["sector_public_key"]
        links = tuple(bytes.fromhex(link) for link in settings["link_certificates"])
        if role not in ROLES or (age is not None and not isinstance(age, int)):
            raise ValueError
        access = TerminalAccess(
            role,
            dv,
            terminal,
            _load_pem(directory / "terminal.pem"),
            sector_public_key=None if sector is None else bytes.fromhex(sector),
            age=age,
            link_certificates=links,
        )
        access.rights  # noqa: B018  (parses both certificates)
    except (KeyError, TypeError, ValueError, EacError):
        raise InputError(f"{directory}: not a terminal made by pki terminal") from None
    return access


def run_rollover(args: argparse.Namespace) -> int:
    root = load_root(args.ca)
    today = date.today()
    number = len(root.links) + 2
    new_chr = f"{root.holder}CVCA{number:05d}"
    new_key = ec.generate_private_key(ec.SECP256R1())
    link, certificate = link_certificate(root.cvca_key, root.cvca_chr, new_key, new_chr, today)
    link_name = f"link-{number:05d}.cvcert"
    write_output(root.directory / link_name, link, force=False, mode=PUBLIC)
    write_output(root.directory / _CVCA, certificate, force=True, mode=PUBLIC)
    write_output(root.directory / _CVCA_KEY, _pem(new_key), force=True, mode=PRIVATE)
    _save_pki(root, cvca=new_chr, links=[*root.links, link_name])
    if args.json:
        print_json({"cvca": new_chr, "link": link_name})
    else:
        print(f"new city root {new_chr}; cards learn it from {link_name} (terminals send it)")
    return EXIT_OK
