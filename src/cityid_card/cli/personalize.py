"""``cityid-card personalize``: make a card (or an NFC tag) for one holder.

A chip card becomes a generation-2 card (specs/card-application.md v2): the holder's
data behind PACE with the 6-digit CAN printed on the face (random unless --can gives
it), the city root of --ca DIR (cityid-card pki init) and its batch chip key, whose
card security object the issuer key signs; the card is then closed for good and PACE
with the CAN checked. With --generation 1 a chip card gets a version 1 signed
credential instead: it generates its key pair, the credential is issued with the
card's public key in it, written, read back, verified and the chip authenticated. On
an NFC tag the credential binds the tag's UID, and is sealed under a random key saved
with --seal-key for the card face (--open-record writes it readable by any tap). With
--lock a version 1 card or a tag is then locked for good. Anything that fails leaves it
unlocked.
"""

from __future__ import annotations

import argparse
import hashlib
from datetime import date
from pathlib import Path
from typing import Any, cast

from cityid_card import qr
from cityid_card.credential import Credential
from cityid_card.drivers import ReaderConnection, connect
from cityid_card.errors import InputError
from cityid_card.iso7816.gen2 import Batch, Holder, make_batch, new_can, personalize_gen2
from cityid_card.keys import IssuerKey
from cityid_card.media import ISO7816, Link, medium_for

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_holder_flags,
    add_json_flag,
    add_reader_flags,
    load_issuer_key,
    print_json,
    require_status_choice,
)
from ._holder import holder_credential
from ._io import PRIVATE, check_output, write_output
from ._seal import OPEN_RECORD_EXPOSES, add_seal_flags, check_seal_flags, tag_personalise
from .registry import revoke_failed_card


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "personalize", help="personalise a card or an NFC tag", description=__doc__
    )
    add_reader_flags(parser)
    add_holder_flags(parser)
    parser.add_argument(
        "--lock", action="store_true", help="lock the card for good once it verifies"
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="also write the credential to this file"
    )
    parser.add_argument(
        "--generation",
        type=int,
        choices=(1, 2),
        default=2,
        help="what a chip card becomes: 2, the private generation-2 card (default), or 1, "
        "a version 1 card with a signed credential anyone can read",
    )
    parser.add_argument(
        "--can",
        type=_can,
        metavar="NNNNNN",
        help="generation 2: the 6-digit card access number to print on the face "
        "(default: a random one, reported)",
    )
    parser.add_argument(
        "--ca",
        type=Path,
        metavar="DIR",
        help="generation 2: the city root and batch key (from cityid-card pki init)",
    )
    add_seal_flags(parser)
    add_force_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def _can(text: str) -> str:
    if not qr.is_can(text):
        raise argparse.ArgumentTypeError("a CAN is 6 digits")
    return text


def run(args: argparse.Namespace) -> int:
    with load_issuer_key(args.key, args.passphrase_file) as key:
        return _personalize(args, key)


def _personalize(args: argparse.Namespace, key: IssuerKey) -> int:
    today = date.today()  # the issuing city's local date
    if args.out is not None:
        check_output(args.out, force=args.force)  # before the card is written
    check_seal_flags(args)
    require_status_choice(args)
    key.check_issuing_date(args.issued or today)  # before the card is touched
    with connect(args.reader, timeout=args.timeout) as link:
        medium = medium_for(link)
        # Recorded with what it goes on (a chip card, an NFC tag): the card is in the reader.
        credential, registry = holder_credential(args, key, medium.kind)
        if registry is not None:
            registry.save(args.registry)
        try:
            if link.kind == ISO7816 and args.generation == 2:
                return _personalize_gen2(args, key, credential, link, today)
            done, sealed = tag_personalise(args, medium, key, credential, today)
        except BaseException:
            revoke_failed_card(args, credential.status_index)  # the city's registry: card failed
            raise
    blob, facts = done.blob, done.verification.facts
    if args.out is not None:
        write_output(args.out, blob, force=args.force, mode=PRIVATE)
    level = done.authenticity.name.lower()
    if args.json:
        print_json(
            {
                **facts.as_json(),
                "bytes": len(blob),
                "alg": key.alg,
                "authenticity": level,
                "locked": done.locked,
                "status_index": credential.status_index,  # to revoke the card if it is lost
                **({} if sealed is None else {"sealed": sealed}),  # NFC tags only
            }
        )
    else:
        print(
            f"personalised the {facts.what} in {facts.reader}: {len(blob)} bytes, {key.alg}, "
            f"status index {credential.status_index}; read back, verified, "
            f"{level.replace('_', ' ')}"
        )
        if sealed is True:
            print(f"sealed: a tap alone reads no personal byte; the key is in {args.seal_key}")
        elif sealed is False:
            print(f"OPEN record: it gives away {OPEN_RECORD_EXPOSES}")
        print(
            f"locked: the {facts.what} is read-only for good"
            if done.locked
            else "NOT locked: run again with --lock to finish it"
        )
    return EXIT_OK


def _personalize_gen2(
    args: argparse.Namespace, key: IssuerKey, credential: Credential, link: Link, today: date
) -> int:
    """A generation-2 card: no credential leaves the station, the CAN goes on the face."""
    from .pki import load_root

    if args.ca is None:
        raise InputError(
            "a generation-2 card needs the city root: --ca DIR (cityid-card pki init), "
            "or --generation 1 for a version 1 card"
        )
    if args.out is not None:
        raise InputError("a generation-2 card carries no credential to write to --out")
    root = load_root(args.ca)
    batch = _batch(args.ca, root.cvca, root.batch_key.private_numbers().private_value, key)
    holder = Holder(
        credential.name, credential.date_of_birth, credential.expires, credential.gender
    )
    can = args.can or new_can()
    done = personalize_gen2(cast(ReaderConnection, link), holder, batch, can=can, today=today)
    if args.json:
        print_json(
            {
                "medium": "chip_card",
                "reader": link.reader,
                "generation": 2,
                "can": can,
                "apdus": done.apdus,
                "locked": True,
            }
        )
    else:
        print(
            f"personalised a generation-2 card in {link.reader} in {done.apdus} APDUs; "
            "PACE with its CAN checked; closed for good"
        )
        print(f"CAN {can}: print it on the card face (cityid-card face)")
    return EXIT_OK


def _batch(directory: Path, cvca: bytes, chip_key: int, key: IssuerKey) -> Batch:
    """The batch, its card security object signed once per issuer key and kept in DIR.

    Every card of a batch must hold the very same object, or the object would tell
    cards apart; a key in a token may sign ECDSA with fresh randomness each time, so
    the first signature is kept (``card-security-<hash of the kid>.cose``) and reused.
    """
    from cityid_card.eac import P256
    from cityid_card.iso7816.gen2.security import parse_card_security
    from cityid_card.trust import TrustStore

    from ._io import PUBLIC, read_input

    name = hashlib.sha256(key.kid.encode("utf-8")).hexdigest()[:16]
    path = directory / f"card-security-{name}.cose"
    if path.exists():
        data = read_input(path, what="a card security object", max_bytes=4096)
        security = parse_card_security(data, TrustStore([key.public()]))
        if security.chip_key != P256.public_key(chip_key):
            raise InputError(f"{path}: made for another batch key")
        return Batch(cvca, chip_key, data)
    batch = make_batch(cvca, chip_key, key)
    write_output(path, batch.card_security, force=False, mode=PUBLIC)
    return batch
