"""Contact card through the reader loop: tap to result on real pcscd, and PC/SC contexts per tap.

Run: ``flock /tmp/cityid-pcsc.lock .venv/bin/python benchmarks/pcsc_watch.py [--taps N]``
after ``./scripts/test`` (which installs pcscd, vsmartcard-vpcd and the pcsc driver). It
starts ``pcscd --foreground`` with the test suite's PC/SC stack, runs the reader loop of
``cityid-card watch`` (:func:`cityid_card.desk.watch` on ``pcsc``, default interval) and
puts a personalised card into the vpcd reader N times.

Tap to result is timed from the moment pcscd reports the card (a second PC/SC context
waits in SCardGetStatusChange for it: pcscd itself only looks at vpcd every ~400 ms, the
same before and after any change to the loop) to the loop's Arrival with the verified
credential. It also counts the SCardEstablishContext calls the loop made, per tap and
per second while the reader stays empty.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from smartcard import scard

from cityid_card import Credential, IssuerKey, TrustStore
from cityid_card.desk import Arrival, Removal, watch
from cityid_card.drivers import SimConnection
from cityid_card.iso7816 import CardApplication, personalize
from cityid_card.sim_io import serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.card.pcsc_stack import (  # the test suite's PC/SC stack
    VPCD_READER,
    PcscStack,
    Unavailable,
)

_TODAY = date.today()  # the benchmark is the edge: it reads the clock once


class _Counter:
    """Counts SCardEstablishContext calls (pyscard's function, wrapped)."""

    def __init__(self) -> None:
        self.calls = 0
        self._original: Any = scard.SCardEstablishContext

    def __enter__(self) -> _Counter:
        def counted(scope: int) -> Any:
            self.calls += 1
            return self._original(scope)

        scard.SCardEstablishContext = counted
        return self

    def __exit__(self, *exc: object) -> None:
        scard.SCardEstablishContext = self._original


def _pcscd_sees(seen: list[float], stop: threading.Event) -> None:
    """Record when pcscd reports a card coming into the vpcd reader (its own context)."""
    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert result == scard.SCARD_S_SUCCESS
    state = scard.SCARD_STATE_UNAWARE
    try:
        while not stop.is_set():
            result, states = scard.SCardGetStatusChange(context, 200, [(VPCD_READER, state)])
            if result != scard.SCARD_S_SUCCESS:
                continue
            _, new, _ = states[0]
            if new & scard.SCARD_STATE_PRESENT and not state & scard.SCARD_STATE_PRESENT:
                seen.append(time.perf_counter())
            state = new & ~scard.SCARD_STATE_CHANGED
    finally:
        scard.SCardReleaseContext(context)


def _until(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the reader loop did not report the card in time")
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=30)
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
    personalize(SimConnection(card), key, credential, lock=True, today=_TODAY)
    card.reset()
    arrivals: list[tuple[float, Arrival]] = []
    removals: list[float] = []
    seen: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        for event in watch("pcsc", trust, now=lambda: _TODAY, stop=stop):
            if isinstance(event, Removal):
                removals.append(time.perf_counter())
            else:
                arrivals.append((time.perf_counter(), event))

    with tempfile.TemporaryDirectory() as folder:
        stack = PcscStack(Path(folder) / "pcscd.log")
        try:
            stack.start()
        except Unavailable as reason:
            raise SystemExit(f"the PC/SC stack cannot run: {reason}") from None
        watcher = threading.Thread(target=_pcscd_sees, args=(seen, stop), daemon=True)
        watcher.start()
        time.sleep(0.3)  # the watcher holds its context before the count starts
        try:
            with _Counter() as contexts:
                looping = threading.Thread(target=loop, daemon=True)
                looping.start()
                time.sleep(0.5)
                idle_start, idle_calls = time.perf_counter(), contexts.calls
                time.sleep(2.0)
                idle_rate = (contexts.calls - idle_calls) / (time.perf_counter() - idle_start)
                taps_start = contexts.calls
                for _ in range(args.taps):
                    inserted = threading.Event()
                    server = threading.Thread(
                        target=serve, args=(card,), kwargs={"stop": inserted}, daemon=True
                    )
                    server.start()
                    _until(lambda: any(event.valid for _, event in arrivals[len(removals) :]))
                    inserted.set()
                    server.join(10)
                    _until(lambda: len(removals) == len(arrivals))
                    time.sleep(0.5)  # pcscd notices the removal; the reader stays empty
                per_tap = (contexts.calls - taps_start) / args.taps
                stop.set()
                looping.join(10)
        finally:
            stop.set()
            stack.stop()
    failed = [event for _, event in arrivals if not event.valid]
    # Each valid arrival against the last time pcscd reported a card before it.
    ms = [
        (at - max(t for t in seen if t <= at)) * 1000
        for at, event in arrivals
        if event.valid and any(t <= at for t in seen)
    ]
    verify_ms = [event.elapsed * 1000 for _, event in arrivals if event.valid]
    quartiles = statistics.quantiles(ms, n=20)
    print(f"cityid-card watch on pcsc (pyscard -> pcscd -> vsmartcard-vpcd), {args.taps} taps")
    print(
        f"  pcscd reports the card -> Arrival: median {statistics.median(ms):.1f} ms,"
        f" p95 {quartiles[18]:.1f} ms, max {max(ms):.1f} ms"
    )
    print(f"  taps that failed (an Arrival with an error): {len(failed)}")
    print(
        f"  of which verification (Arrival.elapsed): median {statistics.median(verify_ms):.1f} ms"
    )
    print(f"  SCardEstablishContext calls by the loop: {per_tap:.1f} per tap")
    print(f"  SCardEstablishContext calls by the loop, reader empty: {idle_rate:.1f} per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
