"""``cityid-card demo``: issue and verify a credential with throwaway keys, no hardware.

It also personalises an emulated contact card (``sim:card``, in this process) and
verifies it with active authentication, then shows a copy of that credential on
another card being rejected. With the nfc driver installed it personalises an emulated
NTAG215 tag through nfcpy (``sim:ntag215``) as the library does by default: the
credential bound to the tag's UID and sealed under a fresh key that only the card
face's QR code holds. It shows what a tap alone reads (that the tag is sealed, its UID:
no personal byte), the tag opened and verified with the face's key, and a copy on
another tag rejected. --open-record shows the open record instead, which any tap reads
(on an NTAG213: a copy on another tag still verifies, signature only; bound to an
NTAG215's UID, a copy is rejected). Nothing is written to disk: the keys, cards and
tags live in memory and vanish when the demo ends.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, cast

from cityid_card import qr
from cityid_card._algorithms import Algorithm
from cityid_card.credential import Credential
from cityid_card.drivers import SimDriver, connect
from cityid_card.errors import CredentialError
from cityid_card.iso7816 import CardSession
from cityid_card.keys import IssuerKey
from cityid_card.media import TYPE2, medium_for
from cityid_card.media.errors import MediumError, NoReader
from cityid_card.trust import TrustStore
from cityid_card.type2 import NTAG213, seal
from cityid_card.type2.errors import SealedTag
from cityid_card.type2.medium import NfcTag, TagInReader
from cityid_card.type2.ndef import encode_message
from cityid_card.type2.session import TagSession, data_area_needed
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_json_flag, claims_json, print_claims, print_json
from ._seal import OPEN_RECORD_EXPOSES, add_open_record_flag


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo", help="issue and verify with throwaway keys", description=__doc__
    )
    add_open_record_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    today = date.today()
    results = [_round_trip(alg, today) for alg in ("ES256", "EdDSA")]
    card = _contact_card(today)
    tag = _open_tags(today) if args.open_record else _sealed_tag(today)
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
    if tag["sealed"]:
        _print_sealed(tag)
        return EXIT_OK
    print(f"== NFC tag: an emulated NXP NTAG213 under nfcpy ({tag['reader']}, in memory only)")
    print(f"OPEN record (--open-record): it gives away {OPEN_RECORD_EXPOSES}")
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


def _print_sealed(tag: dict[str, Any]) -> None:
    print(f"== NFC tag: an emulated NXP NTAG215 under nfcpy ({tag['reader']}, in memory only)")
    print(
        f"personalised: the {tag['bytes']}-byte credential binds the tag's UID and is sealed "
        f"under a fresh key ({tag['record_bytes']} bytes on the tag, {tag['pages_written']} "
        "pages); the key exists only in the card face's QR code"
    )
    print(
        f"a tap alone -> {tag['tap_alone']}: the tag's UID {tag['uid']} and that it holds "
        "a sealed cityid-card record; no personal byte"
    )
    print(
        f"with the key from the face's QR code ({tag['qr_characters']} characters, CIDS1:): "
        f"{tag['authenticity'].replace('_', ' ')}, read and verified in {tag['frames_read']} "
        "frames after activation"
    )
    print(f"the sealed record copied to another tag -> {tag['copy']}")
    print("(cityid-card demo --open-record shows the record any tap reads instead)")


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


def _copy_fails(
    message: bytes, trust: TrustStore, today: date, seal_key: bytes | None = None
) -> str:
    """What becomes of a tag's NDEF message copied as it is to another NTAG215."""
    with _tag("ntag215") as copy:
        TagSession(copy).write_message(message)
        try:
            level = NfcTag(copy).verify(trust, today, seal_key=seal_key).authenticity
            return f"verifies too: {level.name.lower()}"
        except CredentialError as error:
            return f"rejected: {type(error).__name__}"


_NO_DRIVER = {"skipped": "the nfc driver is not installed: pip install -e drivers/nfc"}


def _sealed_tag(today: date) -> dict[str, Any]:
    """Personalise an emulated NTAG215 as the library does by default: bound and sealed."""
    key = IssuerKey.generate("ES256", kid="DEMO-TAG")
    trust = TrustStore([key.public()])
    seal_key = seal.new_key()  # printed on the card face, kept nowhere else
    try:
        with _tag("ntag215") as tag:
            medium = NfcTag(tag)
            blob = key.issue(replace(_holder(today, 4713), tag_uid=tag.uid))
            written = medium.write(blob, verifier=trust, now=today, seal_key=seal_key)
            message = TagSession(tag).ndef_message()
            try:
                medium.read()  # a tap alone
                tap_alone = "nothing: the tag read open"
            except SealedTag as error:
                tap_alone = type(error).__name__
            face = qr.encode_sealed(blob, seal_key)
            result = medium.verify(trust, today, seal_key=qr.seal_key(face))
            uid = tag.uid.hex()
    except NoReader:
        return dict(_NO_DRIVER)
    return {
        "reader": "sim:ntag215",
        "sealed": True,
        "bytes": len(blob),
        "record_bytes": data_area_needed(len(blob), sealed=True),
        "pages_written": written.writes,
        "uid": uid,
        "tap_alone": tap_alone,
        "qr_characters": len(face),
        "authenticity": result.authenticity.name.lower(),
        "frames_read": result.facts.exchanges,
        "copy": _copy_fails(message, trust, today, seal_key),
    }


def _open_tags(today: date) -> dict[str, Any]:
    """--open-record: write and verify open tags; copy them to show what binds them."""
    key = IssuerKey.generate("ES256", kid="DEMO-TAG")
    trust = TrustStore([key.public()])
    credential = _holder(today, 4713)
    blob = key.issue(credential)
    try:
        with _tag("ntag213") as tag:
            medium = medium_for(tag)
            written = medium.write(blob, verifier=trust, now=today, open_record=True)
            result = medium.verify(trust, today)
            generic_start = tag.frames
            tag.read_generic(0, 16 + 2 + len(encode_message(blob)))
            generic = tag.frames - generic_start
    except NoReader:
        return dict(_NO_DRIVER)
    with _tag("ntag215") as tag:
        bound = medium_for(tag).personalise(
            key, credential, lock=False, today=today, open_record=True
        )
        bound_result = medium_for(tag).verify(trust, today)
    return {
        "reader": "sim:ntag213",
        "sealed": False,
        "bytes": len(blob),
        "pages_written": written.writes,  # the JSON key of earlier releases
        "authenticity": result.authenticity.name.lower(),
        "frames_read": result.facts.exchanges,
        "frames_generic": generic,
        "copy": _copy_fails(encode_message(blob), trust, today),
        "bound_bytes": len(bound.blob),
        "bound_authenticity": bound_result.authenticity.name.lower(),
        "bound_copy": _copy_fails(encode_message(bound.blob), trust, today),
    }
