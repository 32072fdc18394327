"""Generate ``card_apdus.json``: APDU traces of the card application (specs/card-application.md).

Run ``python specs/vectors/card_apdus.py`` to rewrite it. The traces are the reference
emulator's answers: personalisation, verification with active authentication, and one
case per status word. Everything is deterministic (seeded card key, seeded issuer key,
RFC 6979 signatures on both sides, fixed challenges), so the test suite checks that
regenerating gives exactly the checked-in file, and a card implementation can be
checked against it command by command.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.drivers import SimConnection
from cityid_card.iso7816 import CardApplication, CardSession, CardState
from cityid_card.iso7816.apdu import AID, Lifecycle, select_application

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_vectors import BASE, dump, p256_key, seeded_key  # noqa: E402

ISSUED = date(2026, 11, 21)


def seeded_card_key(label: str) -> ec.EllipticCurvePrivateKey:
    """A card key derived from a public seed: for test vectors only."""
    return p256_key(hashlib.sha256(f"cityid-card test vector card key {label}".encode()).digest())


def challenge(label: str) -> bytes:
    return hashlib.sha256(f"cityid-card test vector challenge {label}".encode()).digest()


class Recorder:
    """A connection that records every exchange with the emulated card."""

    def __init__(self, card: SimConnection) -> None:
        self.card = card
        self.steps: list[dict[str, str]] = []
        self.label = ""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.card.transmit(apdu)
        self.steps.append(
            {
                "step": self.label,
                "command": apdu.hex().upper(),
                "response": (data.hex() + f"{sw:04x}").upper(),
            }
        )
        return data, sw


def _recorded(application: CardApplication) -> tuple[Recorder, CardSession]:
    """A session with ``application`` through a Recorder."""
    recorder = Recorder(SimConnection(application))
    return recorder, CardSession(recorder)


def _issue(card_key: bytes) -> bytes:
    """The traces' credential: BASE with ``card_key``, signed by VEC-ES256-1."""
    return seeded_key("ES256", "VEC-ES256-1").issue(replace(BASE, card_key=card_key), today=ISSUED)


def _personalised_card(label: str) -> tuple[CardApplication, bytes, bytes]:
    """A card personalised (and locked) by the flow of the first trace; returns its card key."""
    application = CardApplication(key_factory=lambda: seeded_card_key(label))
    session = CardSession(SimConnection(application))
    session.select()
    card_key = session.generate_key()
    blob = _issue(card_key)
    session.write_credential(blob)
    session.lock()
    return application, card_key, blob


def personalisation_trace() -> dict[str, Any]:
    recorder, session = _recorded(CardApplication(key_factory=lambda: seeded_card_key("A")))
    recorder.label = "SELECT the application: FCI with life cycle 03 (initialisation)"
    session.select()
    recorder.label = "GENERATE ASYMMETRIC KEY PAIR: 7F49 template with the uncompressed point"
    card_key = session.generate_key()
    blob = _issue(card_key)
    recorder.label = "UPDATE BINARY by SFI 01 at offset 0: the whole credential"
    session.write_credential(blob)
    recorder.label = "READ BINARY by SFI 01 with Le=00: the credential and 6282 (end of file)"
    assert session.read_credential() == blob
    recorder.label = "INTERNAL AUTHENTICATE: r || s over SHA-256(context || challenge)"
    session.authenticate(card_key, challenge=challenge("personalisation"))
    recorder.label = "ACTIVATE FILE: lock"
    session.lock()
    recorder.label = "SELECT again: life cycle 05 (operational, locked)"
    session.select()
    return {
        "id": "personalise",
        "description": "personalise a blank card with the seeded card key A and lock it",
        "card_key": card_key.hex(),
        "credential": blob.hex(),
        "steps": recorder.steps,
    }


def verification_trace() -> dict[str, Any]:
    application, card_key, blob = _personalised_card("A")
    recorder, session = _recorded(application)
    recorder.label = "SELECT"
    session.select()
    recorder.label = "READ BINARY by SFI 01 with Le=00"
    assert session.read_credential() == blob
    recorder.label = "INTERNAL AUTHENTICATE with a fresh challenge"
    session.authenticate(card_key, challenge=challenge("verification"))
    return {
        "id": "verify",
        "description": "read and authenticate the locked card of 'personalise': 3 APDUs",
        "card_key": card_key.hex(),
        "credential": blob.hex(),
        "steps": recorder.steps,
    }


def _long_credential_trace() -> dict[str, Any]:
    recorder, session = _recorded(
        CardApplication(CardState(card_key=bytes(31) + b"\x01", ef=bytes(range(256)) * 2))
    )
    recorder.label = "SELECT"
    session.select()
    recorder.label = "READ BINARY: 256 bytes and 9000, so the host reads on at offset 256"
    session.read_credential()
    return {
        "id": "read-512-bytes",
        "description": "an EF of 512 bytes takes three READ BINARY: the last one finds the end",
        "steps": recorder.steps,
    }


def _errors() -> list[dict[str, Any]]:
    """One trace per status word: a card in a known state, then the offending command."""
    select = select_application().encode().hex()
    cases: list[tuple[str, str, Callable[[], CardApplication], list[bytes]]] = []

    def blank() -> CardApplication:
        return CardApplication(key_factory=lambda: seeded_card_key("B"))

    def with_key() -> CardApplication:
        return CardApplication(CardState(card_key=bytes(31) + b"\x07"))

    def almost_full() -> CardApplication:
        return CardApplication(CardState(card_key=bytes(31) + b"\x07", ef=bytes(511)))

    def locked() -> CardApplication:
        return _personalised_card("A")[0]

    def case(case_id: str, text: str, make: Callable[[], CardApplication], *hexes: str) -> None:
        cases.append((case_id, text, make, [bytes.fromhex(h) for h in hexes]))

    case("wrong-aid", "SELECT of another AID: 6A82", blank, "00A4040008F043495459494402")
    case("select-p1", "SELECT by file identifier (P1=00): 6A86", blank, "00A40000023F00")
    case("select-no-fci", "SELECT with P2=0C: 9000 without data", blank, "00A4040C08" + AID.hex())
    case("not-selected", "READ BINARY before SELECT: 6D00", blank, "00B0810000")
    case(
        "unknown-ins",
        "an instruction the application lacks (GET DATA): 6D00",
        blank,
        select,
        "00CA006E00",
    )
    case("cla-proprietary", "CLA 80: 6E00", blank, select, "80B0810000")
    case("cla-sm", "CLA 0C (secure messaging): 6882", blank, select, "0CB0810000")
    case("cla-chaining", "CLA 10 (command chaining): 6884", blank, select, "10B0810000")
    case("cla-channel", "CLA 01 (logical channel 1): 6881", blank, select, "01B0810000")
    case("truncated", "a 3-byte command: 6700", blank, select, "00B081")
    case("extended", "an extended-length APDU: 6700", blank, select, "00B08100000100")
    case("lc-mismatch", "Lc says 5, 3 bytes follow: 6700", blank, select, "00D6810005010203")
    case("read-blank", "READ BINARY of an empty EF: 6B00", blank, select, "00B0810000")
    case("read-no-le", "READ BINARY without Le: 6700", locked, select, "00B08100")
    case("read-other-sfi", "READ BINARY by SFI 02: 6A82", locked, select, "00B0820000")
    case(
        "read-no-current-ef",
        "READ BINARY by offset before any SFI access: 6986",
        locked,
        select,
        "00B0000000",
    )
    case(
        "read-beyond",
        "READ BINARY at an offset past the end: 6B00",
        locked,
        select,
        "00B081F000",
    )
    case(
        "read-short-le",
        "READ BINARY with Le=10: 10 bytes and 9000",
        locked,
        select,
        "00B081000A",
    )
    case(
        "update-before-key",
        "UPDATE BINARY before a key exists: 6985",
        blank,
        select,
        "00D6810003A10203",
    )
    case(
        "update-hole",
        "UPDATE BINARY past the end of the data: 6B00",
        with_key,
        select,
        "00D6810503A10203",
    )
    case(
        "update-full",
        "UPDATE BINARY past the EF's 512 bytes (after a READ BINARY by SFI made the EF current): 6A84",
        almost_full,
        select,
        "00B0810001",
        "00D601FF02AAAA",
    )
    case(
        "update-locked",
        "UPDATE BINARY on a locked card: 6982",
        locked,
        select,
        "00D6810001AA",
    )
    case(
        "generate-p1",
        "GENERATE with P1=81 (read the public key): 6A86",
        blank,
        select,
        "0047810000",
    )
    case(
        "generate-short-le",
        "GENERATE with Le=10: 6C46, and no key is made",
        blank,
        select,
        "004780000A",
    )
    case("generate-locked", "GENERATE on a locked card: 6985", locked, select, "0047800000")
    case(
        "auth-no-key",
        "INTERNAL AUTHENTICATE before a key exists: 6A88",
        blank,
        select,
        "0088000020" + "00" * 32 + "00",
    )
    case(
        "auth-short-challenge",
        "INTERNAL AUTHENTICATE with a 16-byte challenge: 6700",
        with_key,
        select,
        "0088000010" + "00" * 16 + "00",
    )
    case(
        "auth-short-le",
        "INTERNAL AUTHENTICATE with Le=20: 6C40",
        with_key,
        select,
        "0088000020" + "00" * 32 + "14",
    )
    case(
        "activate-blank",
        "ACTIVATE FILE with no key or no credential: 6985",
        blank,
        select,
        "00440000",
    )
    case(
        "activate-again",
        "ACTIVATE FILE on a locked card: 9000 (no change)",
        locked,
        select,
        "00440000",
    )
    entries = []
    for case_id, text, make, commands in cases:
        application = make()
        steps = []
        for command in commands:
            response = application.process(command)
            steps.append({"command": command.hex().upper(), "response": response.hex().upper()})
        entries.append({"id": case_id, "description": text, "steps": steps})
    return entries


def build() -> dict[str, Any]:
    return {
        "description": "APDU traces of the cityid-card card application "
        "(specs/card-application.md), from the reference emulator. Send each 'command' "
        "(hex) in order to a card in the stated state and expect 'response' (data and "
        "status word). Card keys, issuer key and challenges derive from public seeds: "
        "test only, never for real cards.",
        "aid": AID.hex().upper(),
        "lifecycle": {state.name.lower(): f"{state:02X}" for state in Lifecycle},
        "issuer_key": "VEC-ES256-1 of credentials.json",
        "card_key_seeds": {
            "A": "SHA-256('cityid-card test vector card key A') mod (n - 1) + 1",
            "B": "SHA-256('cityid-card test vector card key B') mod (n - 1) + 1",
        },
        "traces": [personalisation_trace(), verification_trace(), _long_credential_trace()],
        "errors": _errors(),
    }


def main() -> int:
    (HERE / "card_apdus.json").write_text(dump(build()), encoding="utf-8")
    print(f"wrote {HERE / 'card_apdus.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
