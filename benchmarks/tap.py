"""Tap latency: frames and bytes for read + verify on each emulated medium, and a time estimate.

Run ``python benchmarks/tap.py`` (needs the nfc driver: ``pip install -e drivers/nfc``).
Every medium is an emulator under a real nfcpy ContactlessFrontend, so the frames are
the ones nfcpy and the cityid-card session really send. The baseline is nfcpy's own
generic NDEF read (``tag.ndef``, READ of 16 bytes a frame) of the same tag.

The time is an estimate, not a measurement: each frame costs its bits on air at
106 kbit/s (9 bits a byte with parity, plus CRC_A both ways) and a fixed per-frame
overhead (``--overhead-ms``, default 3 ms: the host-reader round trip of a USB reader
such as a PN533, its firmware and the frame delay times). Activation (anticollision and
nfcpy's tag identification) is the same for both readers of a tag and is shown apart;
a chip's own computation (the ECDSA signature of INTERNAL AUTHENTICATE, typically
50-150 ms on a smart card) is not included.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, cast

from cityid_card import Credential, IssuerKey, TrustStore, type2
from cityid_card.iso7816 import CardApplication, personalize, verify_card
from cityid_card.iso7816.isodep import EmulatedIsoDep
from cityid_card.media import ISO7816, TYPE2
from cityid_card.type2.emulator import TEST_ORIGINALITY_KEY, EmulatedNtag
from cityid_card.type2.session import personalize_tag, verify_tag, write_tag
from cityid_card_nfc.driver import IsoDepConnection, NfcConnection, Type2Connection
from cityid_card_nfc.sim import open_emulated

BITRATE = 106_000
BITS_PER_BYTE = 9
CRC_BYTES = 2
TODAY = date(2027, 6, 1)
CREDENTIAL = Credential(
    name="Ana Sofia Rivera Delgado",
    date_of_birth=date(1990, 4, 12),
    issued=date(2026, 11, 21),
    expires=date(2031, 11, 20),
    status_index=2**32 - 1,
)


@dataclass(frozen=True)
class Tap:
    """One medium and reader: what a tap cost after activation."""

    medium: str
    reader: str
    authenticity: str
    activation_frames: int
    frames: int
    bytes_sent: int
    bytes_received: int

    def milliseconds(self, overhead_ms: float) -> float:
        moved = self.bytes_sent + self.bytes_received + 2 * CRC_BYTES * self.frames
        return moved * BITS_PER_BYTE / BITRATE * 1000 + self.frames * overhead_ms


def _measure(medium: str, reader: str, connection: NfcConnection, check: Callable[[], str]) -> Tap:
    frames, (sent, received) = connection.frames, connection.bytes_moved
    authenticity = check()
    after_sent, after_received = connection.bytes_moved
    return Tap(
        medium,
        reader,
        authenticity,
        frames,
        connection.frames - frames,
        after_sent - sent,
        after_received - received,
    )


def _tag(connection: NfcConnection) -> Type2Connection:
    assert connection.kind == TYPE2
    return cast(Type2Connection, connection)


def _ntag(
    product: type2.Product, key: IssuerKey, trust: TrustStore, *, bind_uid: bool
) -> list[Tap]:
    tag = EmulatedNtag(product)
    if bind_uid:
        personalize_tag(_tag(open_emulated(tag)), key, CREDENTIAL, today=TODAY, open_record=True)
    else:
        write_tag(_tag(open_emulated(tag)), key.issue(CREDENTIAL), open_record=True)
    medium = f"{product.name}, {'UID bound' if bind_uid else 'no UID binding'}"

    def ours() -> str:
        result = verify_tag(_tag(connection), trust, TODAY, originality_keys=[TEST_ORIGINALITY_KEY])
        return result.authenticity.name.lower()

    def generic() -> str:
        nfcpy_tag: Any = connection._tag
        assert nfcpy_tag.ndef is not None and nfcpy_tag.ndef.octets
        return "(read only)"

    taps = []
    for reader, check in (("cityid-card FAST_READ", ours), ("nfcpy generic NDEF", generic)):
        connection = open_emulated(tag)
        taps.append(_measure(medium, reader, connection, check))
        connection.close()
    return taps


def _card(application: CardApplication) -> IsoDepConnection:
    connection = open_emulated(EmulatedIsoDep(application), kind=ISO7816)  # the driver checks
    return cast(IsoDepConnection, connection)


def _iso_dep(key: IssuerKey, trust: TrustStore) -> Tap:
    application = CardApplication()
    personalize(_card(application), key, CREDENTIAL, lock=True, today=TODAY)
    connection = _card(application)

    def check() -> str:
        return verify_card(connection, trust, TODAY).authenticity.name.lower()

    return _measure("ISO-DEP card, chip key", "cityid-card APDUs", connection, check)


def run() -> list[Tap]:
    key = IssuerKey.generate("ES256", kid="BENCH-1")
    trust = TrustStore([key.public()])
    taps = _ntag(type2.NTAG213, key, trust, bind_uid=False)
    taps += _ntag(type2.NTAG215, key, trust, bind_uid=True)
    taps += _ntag(type2.NTAG216, key, trust, bind_uid=True)
    taps.append(_iso_dep(key, trust))
    return taps


def table(taps: list[Tap], overhead_ms: float) -> str:
    lines = [
        f"Read + verify after activation; 106 kbit/s, {overhead_ms:g} ms per frame overhead.",
        "",
        "| medium | reader | level reached | activation frames | frames | bytes sent | "
        "bytes received | estimated ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for tap in taps:
        lines.append(
            f"| {tap.medium} | {tap.reader} | {tap.authenticity.replace('_', ' ')} | "
            f"{tap.activation_frames} | {tap.frames} | {tap.bytes_sent} | "
            f"{tap.bytes_received} | {tap.milliseconds(overhead_ms):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overhead-ms", type=float, default=3.0, help="per-frame overhead")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    taps = run()
    if args.json:
        rows = [
            {**asdict(tap), "estimated_ms": round(tap.milliseconds(args.overhead_ms), 2)}
            for tap in taps
        ]
        json.dump({"overhead_ms": args.overhead_ms, "taps": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(table(taps, args.overhead_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
