"""``cityid-card demo``: issue and verify a credential with throwaway keys, no hardware.

It also personalises an emulated contact card (``sim:card``, in this process) and
verifies it with active authentication, then shows a copy of that credential on
another card being rejected. Nothing is written to disk: the keys and the cards live
in memory and vanish when the demo ends.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from typing import Any

from cityid_card._algorithms import Algorithm
from cityid_card.card import CardSession, personalize, verify_card
from cityid_card.credential import Credential
from cityid_card.drivers import SimDriver
from cityid_card.errors import CredentialError
from cityid_card.keys import IssuerKey
from cityid_card.trust import TrustStore
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_json_flag, claims_json, print_claims, print_json

#: Bytes of user memory on an NXP NTAG213, the cheapest NFC Forum Type 2 tag.
NTAG213_USER_BYTES = 144


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
    if args.json:
        print_json(
            {
                "credentials": [{k: v for k, v in r.items() if k != "credential"} for r in results],
                "contact_card": card,
            }
        )
        return EXIT_OK
    for result in results:
        print(f"== {result['alg']}: throwaway issuer key {result['kid']} (in memory only)")
        print(
            f"issued a credential of {result['bytes']} bytes "
            f"(an NTAG213 tag holds {NTAG213_USER_BYTES})"
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
    return EXIT_OK


def _round_trip(alg: Algorithm, today: date) -> dict[str, Any]:
    key = IssuerKey.generate(alg, kid=f"DEMO-{alg}")
    credential = Credential(
        name="Ana Sofia Rivera Delgado",
        date_of_birth=date(1990, 4, 12),
        gender="X",
        issued=today,
        expires=today + timedelta(days=5 * 365),
        status_index=4711,
    )
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
    credential = Credential(
        name="Ana Sofia Rivera Delgado",
        date_of_birth=date(1990, 4, 12),
        issued=today,
        expires=today + timedelta(days=5 * 365),
        status_index=4712,
    )
    card = SimDriver().open("card")
    blob, _ = personalize(card, key, credential, lock=True)
    personalized = card.transmitted
    session = CardSession(card)
    result = verify_card(card, trust, session=session)
    other = SimDriver().open("card")
    copier = CardSession(other)
    copier.select()
    copier.generate_key()
    copier.write_credential(blob)
    try:
        verify_card(other, trust)
        copy = "nothing: the copy passed"
    except CredentialError as error:
        copy = type(error).__name__
    return {
        "reader": card.reader,
        "bytes": len(blob),
        "alg": result.alg,
        "kid": result.kid,
        "authenticity": result.authenticity.name.lower(),
        "locked": result.locked,
        "apdus_personalize": personalized,
        "apdus_verify": session.apdus,
        "copy": copy,
    }
