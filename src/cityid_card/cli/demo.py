"""``cityid-card demo``: issue and verify a credential with throwaway keys, no hardware.

Nothing is written to disk: the keys live in memory and vanish when the demo ends.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from typing import Any

from cityid_card._algorithms import Algorithm
from cityid_card.credential import Credential
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
    if args.json:
        print_json(
            {"credentials": [{k: v for k, v in r.items() if k != "credential"} for r in results]}
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
