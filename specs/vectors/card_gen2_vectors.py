"""Generate ``card_gen2_vectors.json``: every APDU of a generation-2 card, as sent.

Run ``python specs/vectors/card_gen2_vectors.py`` to rewrite it. The card is the
reference emulator (``cityid_card.iso7816.gen2.card``) and the terminal the session of
``cityid_card.iso7816.gen2.terminal``; every key, nonce and challenge comes from a public
label through SHA-256 (test vectors only), signatures are deterministic (RFC 6979), so
``tests/gen2/test_vectors.py`` checks that regenerating gives exactly the checked-in
file. The transcript: personalisation (SELECT, six PUT DATA, GENERATE, ACTIVATE), then
one read per role of specs/card-application.md v2 (library, transit, museum, age-check
at 21, benefits), each APDU as it crossed the contacts (protected after PACE).
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.drivers import SimConnection
from cityid_card.eac import P256
from cityid_card.iso7816.gen2 import Holder, TerminalAccess, disclose, make_batch, personalize_gen2
from cityid_card.iso7816.gen2.chip import EmulatedCard
from cityid_card.iso7816.gen2.pki import SECTOR_ROLES, make_cvca, make_terminal
from cityid_card.keys import IssuerKey

HERE = Path(__file__).resolve().parent
CAN = "500540"
ISSUED = date(2026, 12, 1)
TODAY = date(2027, 1, 15)
TERMINAL_DAY = date(2027, 1, 10)
HOLDER = Holder("Ana Sofia Rivera Delgado", date(1990, 4, 12), date(2031, 11, 20), "X")
ROLES = ("library", "transit", "museum", "age-check", "benefits")


def seeded(label: str, length: int = 32) -> bytes:
    """Bytes derived from a public label: for test vectors only."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"cityid-card gen2 vector {label} {counter}".encode()).digest()
        counter += 1
    return out[:length]


def scalar(label: str) -> int:
    return int.from_bytes(seeded(label), "big") % (P256.n - 1) + 1


def key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(scalar(label), ec.SECP256R1())


class Stream:
    """Deterministic randomness: each call gets the next bytes of a labelled stream."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    def __call__(self, length: int) -> bytes:
        self.count += 1
        return seeded(f"{self.label} {self.count}", length)


class Recorder:
    """A connection that records every command and response APDU."""

    def __init__(self, connection: SimConnection) -> None:
        self.connection = connection
        self.apdus: list[dict[str, str]] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.connection.transmit(apdu)
        self.apdus.append(
            {
                "command": apdu.hex().upper(),
                "response": (data + sw.to_bytes(2, "big")).hex().upper(),
            }
        )
        return data, sw


def build() -> dict[str, Any]:
    issuer = IssuerKey(key("issuer"), kid="CHI-2026-1")
    cvca = make_cvca(key("cvca"), "USCHICVCA00001", date(2026, 11, 1))
    batch = make_batch(cvca, scalar("batch chip key"), issuer)
    card = EmulatedCard(rng=Stream("card"))
    connection = Recorder(SimConnection(card))
    personalize_gen2(
        connection, HOLDER, batch, can=CAN, today=ISSUED, rng=Stream("personalisation")
    )
    sequence: dict[str, Any] = {"personalisation": connection.apdus}
    for number, role in enumerate(ROLES, 1):
        card.reset()
        sector = scalar(f"sector {role}") if role in SECTOR_ROLES else None
        public = None if sector is None else P256.public_key(sector)
        chain = make_terminal(
            key("cvca"), "USCHICVCA00001", role, TERMINAL_DAY, holder="USCHI", sequence=number,
            sector_public_key=public, dv_key=key(f"dv {role}"), terminal_key=key(f"terminal {role}"),
        )  # fmt: skip
        access = TerminalAccess(
            role, chain.dv_certificate, chain.terminal_certificate, chain.terminal_key,
            sector_public_key=public, age=21 if role == "age-check" else None,
        )  # fmt: skip
        connection.apdus = []
        result = disclose(connection, access, CAN, today=TODAY, rng=Stream(f"terminal {role}"))
        sequence[role] = {
            "dv_certificate": chain.dv_certificate.hex().upper(),
            "terminal_certificate": chain.terminal_certificate.hex().upper(),
            "sector_public_key": None if public is None else public.hex().upper(),
            "disclosed": result.as_json(),
            "apdus": connection.apdus,
            "bytes_sent": result.bytes_sent,
            "bytes_received": result.bytes_received,
        }
    return {
        "description": "generation-2 card (specs/card-application.md v2): personalisation and one read per role",
        "can": CAN,
        "issued": ISSUED.isoformat(),
        "today": TODAY.isoformat(),
        "cvca_certificate": cvca.hex().upper(),
        "card_security": batch.card_security.hex().upper(),
        "chip_public_key": P256.public_key(batch.chip_key).hex().upper(),
        **sequence,
    }


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    (HERE / "card_gen2_vectors.json").write_text(dump(build()), encoding="utf-8")
    print(f"wrote {HERE / 'card_gen2_vectors.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
