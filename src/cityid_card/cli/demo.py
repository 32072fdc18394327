"""``cityid-card demo``: issue and verify a credential with throwaway keys, no hardware.

It also personalises an emulated contact card (``sim:card``, in this process) and
verifies it with active authentication, then shows a copy of that credential on
another card being rejected. With the nfc driver installed it writes and reads an
emulated NTAG213 tag through nfcpy (``sim:ntag213``), shows that a copy on another tag
still verifies (signature only), and that a credential bound to an NTAG215's UID is
rejected on a copy. Nothing is written to disk: the keys, cards and tags live in
memory and vanish when the demo ends.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, cast

from cityid_card._algorithms import Algorithm
from cityid_card.credential import Credential
from cityid_card.drivers import SimDriver, connect
from cityid_card.errors import CredentialError
from cityid_card.iso7816 import CardSession
from cityid_card.keys import IssuerKey
from cityid_card.media import TYPE2, medium_for
from cityid_card.media.errors import MediumError, NoReader
from cityid_card.trust import TrustStore
from cityid_card.type2 import NTAG213
from cityid_card.type2.medium import TagInReader
from cityid_card.type2.ndef import encode_message
from cityid_card.type2.session import TagSession
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_json_flag, claims_json, print_claims, print_json


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo", help="issue and verify with throwaway keys", description=__doc__
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    today = date.today()
    results = [_round_trip(alg, today) for alg in ("ES256", "EdDSA")]
    card = _contact_card(today)
    tag = _nfc_tags(today)
    if args.json:
        print_json(
            {
                "credentials": [{k: v for k, v in r.items() if k != "credential"} for r in results],
                "contact_card": card,
                "nfc_tag": tag,
            }
        )
        return EXIT_OK
    for result in results:
        print(f"== {result['alg']}: throwaway issuer key {result['kid']} (in memory only)")
        print(
            f"issued a credential of {result['bytes']} bytes "
            f"(an NTAG213 tag holds {NTAG213.user_memory})"
        )
        print(f"  {result['hex']}")
        print(f"VALID  {result['alg']}, issuer key {result['kid']}")
        print_claims(result["credential"])
        print(f"one flipped bit -> rejected: {result['tampered']}\n")
    print(f"== contact card: an emulated chip card ({card['reader']}, in memory only)")
    print(
        f"personalised: the card made its key pair, the {card['bytes']}-byte credential "
        f"binds its public key; written, read back, verified, locked in {card['apdus_personalize']} APDUs"
    )
    print(
        f"card verified with {card['alg']}, issuer key {card['kid']}: "
        f"{card['authenticity'].replace('_', ' ')} in {card['apdus_verify']} APDUs"
    )
    print(f"the same credential copied to another card -> rejected: {card['copy']}")
    print()
    if "skipped" in tag:
        print(f"== NFC tags: skipped ({tag['skipped']})")
        return EXIT_OK
    print(f"== NFC tag: an emulated NXP NTAG213 under nfcpy ({tag['reader']}, in memory only)")
    print(
        f"wrote the {tag['bytes']}-byte credential ({tag['pages_written']} pages), "
        f"read it back and verified it: {tag['authenticity'].replace('_', ' ')}"
    )
    print(
        f"a verifier's tap: read and verified in {tag['frames_read']} frame "
        f"after activation (nfcpy's generic NDEF read takes {tag['frames_generic']})"
    )
    print(f"the same bytes copied to another tag -> {tag['copy']}")
    print(
        f"bound to an NTAG215's UID instead ({tag['bound_bytes']} bytes): "
        f"{tag['bound_authenticity'].replace('_', ' ')}; "
        f"copied to another tag -> {tag['bound_copy']}"
    )
    return EXIT_OK


def _holder(today: date, status_index: int, gender: str | None = None) -> Credential:
    """The demo's made-up holder, issued today for five years."""
    return Credential(
        name="Ana Sofia Rivera Delgado",
        date_of_birth=date(1990, 4, 12),
        gender=gender,
        issued=today,
        expires=today + timedelta(days=5 * 365),
        status_index=status_index,
    )


def _round_trip(alg: Algorithm, today: date) -> dict[str, Any]:
    key = IssuerKey.generate(alg, kid=f"DEMO-{alg}")
    credential = _holder(today, 4711, gender="X")
    blob = key.issue(credential)
    trust = TrustStore([key.public()])
    verified = verify(blob, trust)
    tampered = bytearray(blob)
    tampered[20] ^= 0x01
    try:
        verify(bytes(tampered), trust)
        rejection = "nothing: the tampered copy verified"
    except CredentialError as error:
        rejection = type(error).__name__
    return {
        "alg": alg,
        "kid": verified.kid,
        "bytes": len(blob),
        "hex": blob.hex(),
        "credential": verified.credential,
        "claims": claims_json(verified.credential),
        "tampered": rejection,
    }


def _contact_card(today: date) -> dict[str, Any]:
    """Personalise and verify an emulated contact card, then try a copy on another card."""
    key = IssuerKey.generate("ES256", kid="DEMO-CARD")
    trust = TrustStore([key.public()])
    credential = _holder(today, 4712)
    card = SimDriver().card()
    done = medium_for(card).personalise(key, credential, lock=True, today=today)
    personalized = card.transmitted
    result = medium_for(card).verify(trust, today)
    other = SimDriver().card()
    copier = CardSession(other)
    copier.select()
    copier.generate_key()
    copier.write_credential(done.blob)
    try:
        medium_for(other).verify(trust, today)
        copy = "nothing: the copy passed"
    except CredentialError as error:
        copy = type(error).__name__
    return {
        "reader": card.reader,
        "bytes": len(done.blob),
        "alg": result.alg,
        "kid": result.kid,
        "authenticity": result.authenticity.name.lower(),
        "locked": result.locked,
        "apdus_personalize": personalized,
        "apdus_verify": result.facts.exchanges,
        "copy": copy,
    }


@contextlib.contextmanager
def _tag(name: str) -> Iterator[TagInReader]:
    """An emulated tag in this process, as the nfc driver presents it."""
    with connect(f"sim:{name}", timeout=0) as link:
        if link.kind != TYPE2:
            raise MediumError(f"sim:{name} is not an NFC tag")
        yield cast(TagInReader, link)


def _copy_fails(blob: bytes, trust: TrustStore, today: date) -> str:
    """What becomes of the credential's bytes copied as they are to another NTAG215."""
    with _tag("ntag215") as copy:
        TagSession(copy).write_message(encode_message(blob))
        try:
            level = medium_for(copy).verify(trust, today).authenticity
            return f"verifies too: {level.name.lower()}"
        except CredentialError as error:
            return f"rejected: {type(error).__name__}"


def _nfc_tags(today: date) -> dict[str, Any]:
    """Write and verify emulated tags through nfcpy; copy them to show what binds them."""
    key = IssuerKey.generate("ES256", kid="DEMO-TAG")
    trust = TrustStore([key.public()])
    credential = _holder(today, 4713)
    blob = key.issue(credential)
    try:
        with _tag("ntag213") as tag:
            medium = medium_for(tag)
            written = medium.write(blob, verifier=trust, now=today)
            result = medium.verify(trust, today)
            generic_start = tag.frames
            tag.read_generic(0, 16 + 2 + len(encode_message(blob)))
            generic = tag.frames - generic_start
    except NoReader:
        return {"skipped": "the nfc driver is not installed: pip install -e drivers/nfc"}
    with _tag("ntag215") as tag:
        bound = medium_for(tag).personalise(key, credential, lock=False, today=today)
        bound_result = medium_for(tag).verify(trust, today)
    return {
        "reader": "sim:ntag213",
        "bytes": len(blob),
        "pages_written": written.writes,  # the JSON key of earlier releases
        "authenticity": result.authenticity.name.lower(),
        "frames_read": result.facts.exchanges,
        "frames_generic": generic,
        "copy": _copy_fails(blob, trust, today),
        "bound_bytes": len(bound.blob),
        "bound_authenticity": bound_result.authenticity.name.lower(),
        "bound_copy": _copy_fails(bound.blob, trust, today),
    }
