"""Contact card: a full read + verify + active authentication through real pcscd.

Run: ``.venv/bin/python benchmarks/card_read.py [--cycles N]`` after ``./scripts/test``
(which installs pcscd, vsmartcard-vpcd and the pcsc driver). Starts ``pcscd
--foreground`` with the test suite's PC/SC stack (and stops it after), puts a personalised,
locked emulated card into the vpcd reader, then times N cycles of what a verifier at a
desk does per card: connect to ``pcsc:0``, SELECT, READ BINARY, verify the signature,
INTERNAL AUTHENTICATE with a fresh challenge and check it, disconnect. It prints the
median and the spread, the APDUs per cycle, and the median of the three APDUs alone
on an open connection.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from cityid_card import Credential, IssuerKey, TrustStore
from cityid_card.drivers import connect
from cityid_card.iso7816 import CardApplication, CardSession, personalize, verify_card
from cityid_card.media import ISO7816, Authenticity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.card.pcsc_stack import PcscStack, Unavailable  # the test suite's PC/SC stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    args = parser.parse_args()
    key = IssuerKey.generate("ES256", kid="BENCH-1")
    trust = TrustStore([key.public()])
    credential = Credential(
        name="Ana Sofia Rivera Delgado",
        date_of_birth=date(1990, 4, 12),
        expires=date(2031, 11, 20),
        status_index=4711,
    )
    card = CardApplication()
    today = date.today()  # the benchmark is the edge: it reads the clock once
    with tempfile.TemporaryDirectory() as folder:
        stack = PcscStack(Path(folder) / "pcscd.log")
        try:
            stack.start()
        except Unavailable as reason:
            raise SystemExit(f"the PC/SC stack cannot run: {reason}") from None
        try:
            with stack.card(card):
                with connect("pcsc:0", kind=ISO7816) as connection:
                    blob, _ = personalize(connection, key, credential, lock=True, today=today)
                cycles, apdus = [], set()
                for _ in range(args.cycles):
                    start = time.perf_counter()
                    with connect("pcsc:0", kind=ISO7816) as connection:
                        session = CardSession(connection)
                        result = verify_card(connection, trust, today, session=session)
                    cycles.append(time.perf_counter() - start)
                    assert result.authenticity == Authenticity.CHIP_AUTHENTICATED
                    apdus.add(session.apdus)
                exchanges = []
                with connect("pcsc:0", kind=ISO7816) as connection:
                    for _ in range(args.cycles):
                        start = time.perf_counter()
                        verify_card(connection, trust, today)
                        exchanges.append(time.perf_counter() - start)
        finally:
            stack.stop()
    ms = [c * 1000 for c in cycles]
    quartiles = statistics.quantiles(ms, n=4)
    print(
        f"pyscard -> pcscd -> vsmartcard-vpcd -> emulator, {args.cycles} cycles, {len(blob)}-byte credential"
    )
    print("full read + verify + active authentication (connect to disconnect):")
    print(
        f"  median {statistics.median(ms):.2f} ms  (quartiles {quartiles[0]:.2f} .. {quartiles[2]:.2f} ms)"
    )
    print(
        f"  APDUs per cycle: {', '.join(map(str, sorted(apdus)))} (SELECT, READ BINARY, INTERNAL AUTHENTICATE)"
    )
    print(f"the same on an open connection: median {statistics.median(exchanges) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
