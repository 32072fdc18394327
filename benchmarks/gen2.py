"""Generation-2 card: APDUs, bytes and host CPU time per transaction, each role.

Run: ``.venv/bin/python benchmarks/gen2.py [--runs N]``. Each role's whole terminal
session (``disclose``: EF.CardAccess, PACE, TA, EF.CardSecurity, CA, then RI, reads and
VERIFY as the role allows) runs N times against the in-process emulator; the card's
time is measured around each ``process`` call and subtracted, so the figure is the
terminal's (host) CPU time alone. In the same run, OpenPACE (libeac through the test
suite's ctypes harness, a test-only peer) does PACE's terminal steps against the same
emulator, beside the project's own PACE terminal steps: OpenPACE's EAC API offers
PACE's terminal steps one by one, so PACE is the like-for-like comparison (TA and CA
terminal steps are a signature and one ECDH on each side). With ``--pcsc`` it also
times the library role's whole read through real pcscd and vsmartcard-vpcd (the test
suite's PC/SC stack; run it under ``flock /tmp/cityid-pcsc.lock``). Targets (issue 11):
a full desk read in at most 20 APDUs; host time at most 1.5x OpenPACE's.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

import _card_estimate  # benchmarks/_card_estimate.py: the estimate on a real card

from cityid_card.drivers import SimConnection
from cityid_card.eac import pace
from cityid_card.iso7816.gen2.channel import LinkProcessor
from cityid_card.iso7816.gen2.chip import EmulatedCard
from cityid_card.iso7816.gen2.terminal import disclose, pace_with_can, read_card_access

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.gen2.helpers import CAN, TODAY, make_city  # the test suite's city

ROLES = ("library", "transit", "museum", "age-check", "benefits")


class TimedCard:
    """A connection to the emulator that adds up the card's own CPU time."""

    def __init__(self, connection: SimConnection) -> None:
        self.connection = connection
        self.card_time = 0.0

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        start = time.process_time()
        try:
            return self.connection.transmit(apdu)
        finally:
            self.card_time += time.process_time() - start


def _openpace_pace(party: object, card: EmulatedCard) -> float:
    """OpenPACE's terminal steps of PACE against ``card``; their CPU time."""
    ga = pace.dynamic_authentication_data
    spent = 0.0

    def timed(call: object, *args: object) -> object:
        nonlocal spent
        start = time.process_time()
        result = call(*args)  # type: ignore[operator]
        spent += time.process_time() - start
        return result

    def gen_auth(cla: int, data: bytes, tag: int) -> bytes:
        answer = card.process(bytes([cla, 0x86, 0, 0, len(data)]) + data + b"\x00")
        assert answer[-2:] == b"\x90\x00"
        return pace.parse_dynamic_authentication_data(answer[:-2], (tag,))[tag]

    card_access = card.process(bytes.fromhex("00B09C0000"))[:-2]
    timed(party.init_card_access, card_access)  # type: ignore[attr-defined]
    assert card.process(bytes.fromhex("0022C1A40F800A04007F00070202040202830102")) == b"\x90\x00"
    timed(party.decrypt_nonce, CAN, gen_auth(0x10, ga(), 0x80))  # type: ignore[attr-defined]
    mapping = timed(party.mapping_data)  # type: ignore[attr-defined]
    assert isinstance(mapping, bytes)
    timed(party.map_generator, gen_auth(0x10, ga((0x81, mapping)), 0x82))  # type: ignore[attr-defined]
    ephemeral = timed(party.ephemeral_key)  # type: ignore[attr-defined]
    assert isinstance(ephemeral, bytes)
    card_public = gen_auth(0x10, ga((0x83, ephemeral)), 0x84)
    timed(party.shared_secret, card_public)  # type: ignore[attr-defined]
    token = timed(party.token, card_public)  # type: ignore[attr-defined]
    assert isinstance(token, bytes)
    assert timed(party.verify_token, gen_auth(0x00, ga((0x85, token)), 0x86))  # type: ignore[attr-defined]
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--pcsc", action="store_true", help="also time reads through pcscd")
    args = parser.parse_args()
    city = make_city()
    print(f"generation-2 card, in-process emulator, {args.runs} runs per role (median)")
    print(f"{'role':<10} {'APDUs':>5} {'sent':>6} {'recv':>6} {'host ms':>8} {'card ms':>8}")
    for role in ROLES:
        terminal = city.terminal(role)
        connection = city.card()
        hosts, cards = [], []
        for _ in range(args.runs):
            connection.application.reset()
            timed = TimedCard(connection)
            start = time.process_time()
            result = disclose(timed, terminal, CAN, today=TODAY, trust=city.trust)
            total = time.process_time() - start
            hosts.append(total - timed.card_time)
            cards.append(timed.card_time)
        print(
            f"{role:<10} {result.facts.exchanges:>5} {result.bytes_sent:>6} "
            f"{result.bytes_received:>6} {1000 * statistics.median(hosts):>8.2f} "
            f"{1000 * statistics.median(cards):>8.2f}"
        )
    ours, theirs = [], []
    try:
        from tests.eac.openpace import OpenPace, load
    except ImportError:  # pragma: no cover
        load = None  # type: ignore[assignment]
    library = load() if load is not None else None
    connection = city.card()
    for _ in range(args.runs):
        connection.application.reset()
        timed = TimedCard(connection)
        link = LinkProcessor(timed)
        read_card_access(link)
        start = time.process_time()
        pace_with_can(link, CAN, secrets.token_bytes)
        ours.append(time.process_time() - start - timed.card_time)
        if library is not None:
            connection.application.reset()
            application = connection.application
            assert isinstance(application, EmulatedCard)
            with OpenPace(library).party() as party:
                theirs.append(_openpace_pace(party, application))
    print(
        f"PACE terminal steps, host CPU: this library {1000 * statistics.median(ours):.2f} ms",
        end="",
    )
    if theirs:
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(
            f", OpenPACE {1000 * statistics.median(theirs):.2f} ms: {ratio:.2f}x (target <= 1.5x)"
        )
    else:
        print(" (OpenPACE's libeac is not installed: no comparison)")
    print("target: a full desk read in <= 20 APDUs")
    if args.pcsc:
        _pcsc(city, args.runs)
    _card_estimate.report(city, ROLES)
    return 0


def _pcsc(city: object, runs: int) -> None:
    """The library role's read through pyscard, pcscd and vpcd: wall time per read."""
    import tempfile

    from tests.card.pcsc_stack import PcscStack, Unavailable

    from cityid_card.drivers import connect
    from cityid_card.media import ISO7816

    card = city.card()  # type: ignore[attr-defined]
    terminal = city.terminal("library")  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as folder:
        stack = PcscStack(Path(folder) / "pcscd.log")
        try:
            stack.start()
        except Unavailable as reason:
            print(f"no PC/SC figures: {reason}")
            return
        try:
            with stack.card(card.application):
                walls = []
                for _ in range(runs):
                    start = time.perf_counter()
                    with connect("pcsc:0", kind=ISO7816) as link:
                        disclose(link, terminal, CAN, today=TODAY, trust=city.trust)  # type: ignore[attr-defined]
                    walls.append(time.perf_counter() - start)
        finally:
            stack.stop()
    quartiles = statistics.quantiles([w * 1000 for w in walls], n=4)
    print(
        f"library read through pyscard -> pcscd -> vsmartcard-vpcd -> emulator ({runs} reads): "
        f"median {1000 * statistics.median(walls):.1f} ms "
        f"(quartiles {quartiles[0]:.1f} .. {quartiles[2]:.1f} ms), connect to disconnect"
    )


if __name__ == "__main__":
    sys.exit(main())
