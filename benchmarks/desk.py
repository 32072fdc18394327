"""The desk: tap-to-result through the reader loop and through the service, and its throughput.

Run ``python benchmarks/desk.py`` (needs the desk extra and the nfc driver; about a
minute, ``--quick`` for a smoke run). It measures, on this machine:

1. **Tap through the loop**: from the moment a card enters an emulated reader's field
   to the moment :func:`cityid_card.desk.watch` yields its Arrival (the loop polls with
   no pause here, so this is open + read + verify + the loop's own work), against the
   same tap in process (open the reader, verify through :func:`medium_for`, close). Goal: within 10%.
   A real loop adds up to its poll interval (``--interval``, default 0.1 s) on top.
2. **Tap through the service**: the same tap from the card entering the field to its
   event arriving at a client of ``GET /api/events`` (server-sent events).
3. **QR through the service**: ``POST /api/verify`` with a card's QR text on a kept-alive
   connection, against verifying the same text in process (``qr.decode``, ``verify``,
   the display policy). Goal: the service adds at most 1 ms at p50.
4. **Requests per second** of ``POST /api/verify`` against ``cityid-card serve`` with 1
   and 2 worker processes, loaded by client threads in this process on the same cores.
5. **A generation-2 card through the loop**: a museum terminal, the CAN given (as a
   scanned card face) just before the card enters the field, to the Arrival with the
   pseudonym; against the same terminal session in process (open, ``disclose``, close).
6. **A sealed NFC tag through the loop**: an NTAG215 holding a sealed record, the key
   given (as a scanned card face, ``CIDS1:``) just before the tag enters the field, to
   the Arrival; against the same tap in process (open, verify with the key, close).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import uvicorn

from cityid_card import Credential, IssuerKey, TrustStore, Verifier, qr
from cityid_card.desk import FaceBox, event_json, get_policy, watch
from cityid_card.desk.service import UVICORN_OPTIONS, ServiceConfig, create_app
from cityid_card.drivers import Reader, ReaderInfo, ReopeningReader, SimConnection
from cityid_card.iso7816 import CardApplication, personalize
from cityid_card.iso7816.gen2 import TerminalAccess, disclose
from cityid_card.media import Link, medium_for
from cityid_card.media.errors import NoReader
from cityid_card.type2 import NTAG213, NTAG215, seal
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card.type2.session import personalize_tag
from cityid_card_nfc.driver import Type2Connection
from cityid_card_nfc.sim import open_emulated

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.gen2.helpers import CAN, TODAY, City, make_city  # the test suite's city

NOW = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)
CREDENTIAL = Credential(
    name="Ana Rivera",
    date_of_birth=date(1990, 4, 12),
    issued=date(2026, 11, 21),
    expires=date(2031, 11, 20),
    status_index=4711,
)


class Field:
    """An emulated reader whose field the benchmark fills and empties."""

    def __init__(self, card: CardApplication | EmulatedNtag) -> None:
        self.card = card
        self.present = False
        self._connection: SimConnection | None = None

    def put(self) -> None:
        if isinstance(self.card, EmulatedNtag):
            self.card.insert()
        self.present = True

    def take(self) -> None:
        self.present = False
        if isinstance(self.card, EmulatedNtag):
            self.card.in_field = False
        elif self._connection is not None:
            self._connection.remove_at(0, "before")

    def readers(self) -> list[ReaderInfo]:
        return [ReaderInfo("bench", "benchmark field", self.present)]

    def reader(self, target: str) -> Reader:
        return ReopeningReader(self, target, "bench")

    def open(self, target: str, *, timeout: float, kind: str | None = None) -> Link:
        if not self.present:
            raise NoReader("no card in the field")
        if isinstance(self.card, EmulatedNtag):
            connection = open_emulated(self.card, reader="bench")
            assert isinstance(connection, Type2Connection)
            return connection
        self._connection = SimConnection(self.card, reader="bench")
        return self._connection


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def media(issuer: IssuerKey) -> dict[str, Callable[[], Field]]:
    def contact() -> Field:
        application = CardApplication()
        personalize(SimConnection(application), issuer, CREDENTIAL, today=date(2026, 11, 21))
        application.reset()
        return Field(application)

    def ntag213() -> Field:
        tag = EmulatedNtag(NTAG213)
        link = open_emulated(tag)
        assert isinstance(link, Type2Connection)
        personalize_tag(link, issuer, CREDENTIAL, today=date(2026, 11, 21), open_record=True)
        return Field(tag)

    return {"contact card (sim:card)": contact, "NTAG213 (sim:ntag213)": ntag213}


def sealed_ntag215(issuer: IssuerKey) -> tuple[Field, str]:
    """An NTAG215 holding CREDENTIAL sealed under a fresh key, in a field; its face's QR text."""
    tag = EmulatedNtag(NTAG215)
    link = open_emulated(tag)
    assert isinstance(link, Type2Connection)
    key = seal.new_key()
    blob, _ = personalize_tag(link, issuer, CREDENTIAL, today=date(2026, 11, 21), seal_key=key)
    return Field(tag), qr.encode_sealed(blob, key)


def in_process(field: Field, read: Callable[[Link], object], taps: int) -> list[float]:
    """The tap without the loop: card in, open the reader, ``read`` the card, close."""
    samples = []
    for _ in range(taps):
        field.put()
        started = time.perf_counter()
        link = field.open("", timeout=0)
        try:
            read(link)
        finally:
            link.close()
        samples.append(time.perf_counter() - started)
        field.take()
    return samples


def through_loop(
    field: Field,
    verifier: Verifier | TrustStore,
    taps: int,
    *,
    face: str | None = None,
    terminal: TerminalAccess | None = None,
    now: Callable[[], datetime | date] = lambda: NOW,
) -> list[float]:
    """Card in, a valid Arrival out: the card goes in during the loop's (empty) wait.

    With ``face`` (a scanned card face's QR text), staff scan it just before each tap.
    """
    samples: list[float] = []
    stop = threading.Event()
    faces = FaceBox()
    placed = [0.0]
    state = {"taps": 0}

    def sleep(_: float) -> None:
        if field.present:
            field.take()
        elif state["taps"] < taps:
            state["taps"] += 1
            if face is not None:
                faces.give(face)
            field.put()
            placed[0] = time.perf_counter()
        else:
            stop.set()

    for event in watch(
        "bench", verifier, terminal=terminal, faces=faces if face is not None else None, now=now,
        sleep=sleep, stop=stop, driver=field,
    ):  # fmt: skip
        if type(event).__name__ == "Arrival":
            assert getattr(event, "valid", False), "the card did not read"
            samples.append(time.perf_counter() - placed[0])
    return samples


def tap_in_process(field: Field, verifier: Verifier, taps: int) -> list[float]:
    """Open the reader, verify the card, close."""
    return in_process(field, lambda link: medium_for(link).verify(verifier, NOW), taps)


def tap_through_loop(field: Field, verifier: Verifier, taps: int) -> list[float]:
    """Card in, Arrival out."""
    return through_loop(field, verifier, taps)


def sealed_in_process(field: Field, verifier: Verifier, face: str, taps: int) -> list[float]:
    """Open the reader, verify the tag with the key from its face, close."""
    key = qr.seal_key(face)
    return in_process(
        field, lambda link: medium_for(link).verify(verifier, NOW, seal_key=key), taps
    )


def sealed_through_loop(field: Field, verifier: Verifier, face: str, taps: int) -> list[float]:
    """Face scanned, tag in, Arrival (valid) out."""
    return through_loop(field, verifier, taps, face=face)


def gen2_museum() -> tuple[Field, City, TerminalAccess]:
    """A generation-2 card in a field, its city, and the city's museum terminal."""
    city = make_city()
    return Field(city.card().application), city, city.terminal("museum")


def gen2_in_process(field: Field, city: City, terminal: TerminalAccess, taps: int) -> list[float]:
    """Open the reader, run the terminal's session with the CAN, close."""

    def read(link: Link) -> object:
        return disclose(link, terminal, CAN, today=TODAY, trust=city.trust)  # type: ignore[arg-type]

    return in_process(field, read, taps)


def gen2_through_loop(field: Field, city: City, terminal: TerminalAccess, taps: int) -> list[float]:
    """CAN given, card in, Arrival (with the pseudonym) out."""
    face = qr.encode_can(CAN)
    return through_loop(field, city.trust, taps, face=face, terminal=terminal, now=lambda: TODAY)


class _Server:
    def __init__(self, config: ServiceConfig) -> None:
        # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets that say TCP.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        options: dict[str, Any] = {**UVICORN_OPTIONS, "log_level": "warning"}
        self.server = uvicorn.Server(uvicorn.Config(create_app(config), **options))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def tap_through_service(field: Field, verifier: Verifier, taps: int) -> list[float]:
    """Card in, its event out of GET /api/events at a client."""
    policy = get_policy("library")
    placed = [0.0]
    ready = threading.Event()
    stop_loop = threading.Event()
    gate = threading.Semaphore(0)

    def sleep(_: float) -> None:
        if field.present:
            field.take()
            return
        gate.acquire()  # the client asks for the next tap
        if stop_loop.is_set():
            return
        field.put()
        placed[0] = time.perf_counter()

    def events(stop: threading.Event) -> Iterator[dict[str, Any]]:
        ready.wait()
        for event in watch(
            "bench", verifier, now=lambda: NOW, sleep=sleep, stop=stop_loop, driver=field
        ):
            yield event_json(event, policy, NOW.date())

    config = ServiceConfig(verifier=verifier, policy=policy, events=events, clock=lambda: NOW)
    samples = []
    with _Server(config) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        response.readline()
        while config.hub.subscribers == 0:
            time.sleep(0.01)
        ready.set()
        for _ in range(taps):
            gate.release()
            while True:
                line = response.readline()
                if line.startswith(b"data:") and b'"arrival"' in line:
                    samples.append(time.perf_counter() - placed[0])
                    break
        stop_loop.set()
        gate.release()
        connection.close()
    return samples


def qr_in_process(verifier: Verifier, text: str, runs: int) -> list[float]:
    policy = get_policy("library")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        policy.show(verifier.verify(qr.decode(text), NOW), NOW.date())
        json.dumps({"qr": text})
        samples.append(time.perf_counter() - started)
    return samples


def qr_through_service(verifier: Verifier, text: str, runs: int) -> list[float]:
    config = ServiceConfig(verifier=verifier, policy=get_policy("library"), clock=lambda: NOW)
    body = json.dumps({"qr": text}).encode()
    headers = {"Content-Type": "application/json"}
    samples = []
    with _Server(config) as server:
        connection = keep_alive(server.port)
        for index in range(runs + 50):
            started = time.perf_counter()
            connection.request("POST", "/api/verify", body, headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            elapsed = time.perf_counter() - started
            assert answer["valid"] is True
            if index >= 50:  # after warming up
                samples.append(elapsed)
        connection.close()
    return samples


def keep_alive(port: int) -> http.client.HTTPConnection:
    """A kept-alive connection with Nagle's algorithm off, as browsers open them.

    http.client sends a request's headers and body in two writes; with Nagle on, the
    body waits for the server's delayed ACK of the headers (40 ms on Linux).
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def requests_per_second(
    trust_file: Path, text: str, workers: int, clients: int, seconds: float
) -> float:
    port = free_port()
    command = [
        sys.executable, "-m", "cityid_card", "serve", "--trust", str(trust_file),
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    body = json.dumps({"qr": text}).encode()
    headers = {"Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/api/health")
                probe.getresponse().read()
                probe.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("cityid-card serve did not start") from None
                time.sleep(0.1)
        time.sleep(0.5 * workers)  # every worker up
        counts = [0] * clients
        end = time.monotonic() + seconds

        def client(index: int) -> None:
            connection = keep_alive(port)
            while time.monotonic() < end:
                connection.request("POST", "/api/verify", body, headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    counts[index] += 1
            connection.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts) / (time.monotonic() - started)
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (fewer taps, shorter)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    taps = 30 if args.quick else 300
    runs = 200 if args.quick else 3000
    seconds = 1.0 if args.quick else 5.0

    issuer = IssuerKey.generate("ES256", kid="CHI-2026-1")
    trust = TrustStore([issuer.public()])
    verifier = Verifier(trust, cache_size=0)
    figures: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "engine": verifier.implementation}
    }

    rows = []
    for medium, make in media(issuer).items():
        field = make()
        tap_in_process(field, verifier, 5)  # warm up
        base = percentiles(tap_in_process(field, verifier, taps))
        loop = percentiles(tap_through_loop(field, verifier, taps))
        service = percentiles(tap_through_service(make(), verifier, max(10, taps // 3)))
        rows.append((medium, base, loop, service))
        figures[medium] = {
            "in_process_ms": base,
            "loop_ms": loop,
            "service_event_ms": service,
            "loop_over_in_process_p50": loop[0] / base[0],
        }

    field, face = sealed_ntag215(issuer)
    sealed_in_process(field, verifier, face, 5)  # warm up
    sealed_base = percentiles(sealed_in_process(field, verifier, face, taps))
    sealed_loop = percentiles(sealed_through_loop(field, verifier, face, taps))

    field, city, terminal = gen2_museum()
    gen2_taps = max(10, taps // 5)
    gen2_in_process(field, city, terminal, 3)  # warm up
    gen2_base = percentiles(gen2_in_process(field, city, terminal, gen2_taps))
    gen2_loop = percentiles(gen2_through_loop(field, city, terminal, gen2_taps))
    scanned = [  # (figure name, table row, in process, through loop, what comes first)
        ("sealed NTAG215 (sim:ntag215)", "sealed NTAG215 (sim:ntag215)", sealed_base, sealed_loop,
         "(face scanned, then the tap)"),
        ("generation-2 card, museum (sim:card)", "generation-2 card, museum", gen2_base, gen2_loop,
         "(CAN given, then the tap)"),
    ]  # fmt: skip
    for name, _, base, loop, _ in scanned:
        figures[name] = {
            "in_process_ms": base,
            "loop_ms": loop,
            "loop_over_in_process_p50": loop[0] / base[0],
        }

    text = qr.encode(issuer.issue(CREDENTIAL))
    qr_in_process(verifier, text, 200)  # warm up
    in_process = percentiles(qr_in_process(verifier, text, runs))
    service = percentiles(qr_through_service(verifier, text, runs))
    figures["qr"] = {
        "in_process_ms": in_process,
        "service_ms": service,
        "added_p50_ms": service[0] - in_process[0],
        "ratio_p50": service[0] / in_process[0],
    }

    with tempfile.TemporaryDirectory() as folder:
        trust_file = Path(folder) / "trust.json"
        trust.save(trust_file)
        figures["requests_per_second"] = {
            str(workers): requests_per_second(trust_file, text, workers, 4, seconds)
            for workers in (1, 2)
        }

    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"cityid-card desk benchmark: {os.cpu_count()} CPUs, {verifier.implementation} engine")
    print()
    print(
        "Tap to result (ms, p50 / p99)    in process     through loop   loop/in-process   via service (SSE)"
    )
    for medium, base, loop, event in rows:
        print(
            f"  {medium:<30} {base[0]:6.2f} / {base[1]:6.2f}  {loop[0]:6.2f} / {loop[1]:6.2f}"
            f"   {loop[0] / base[0]:7.2f}x        {event[0]:6.2f} / {event[1]:6.2f}"
        )
    for _, row, base, loop, first in scanned:
        print(
            f"  {row:<30} {base[0]:6.2f} / {base[1]:6.2f}  {loop[0]:6.2f} / {loop[1]:6.2f}"
            f"   {loop[0] / base[0]:7.2f}x        {first}"
        )
    print()
    qr_row = figures["qr"]
    print("QR code text (ms, p50 / p99)     in process     POST /api/verify   added at p50   ratio")
    print(
        f"  {'':<30} {in_process[0]:6.3f} / {in_process[1]:6.3f}  {service[0]:6.3f} / {service[1]:6.3f}"
        f"    {qr_row['added_p50_ms']:6.3f}        {qr_row['ratio_p50']:5.1f}x"
    )
    print()
    rps = figures["requests_per_second"]
    print(
        f"POST /api/verify requests/s (4 client threads): 1 worker {rps['1']:.0f}, 2 workers {rps['2']:.0f}"
    )
    print()
    loop_ok = all(row[2][0] <= 1.10 * row[1][0] for row in rows)
    loop_ok = loop_ok and sealed_loop[0] <= 1.10 * sealed_base[0]
    print(
        f"Goal, a tap through the loop within 10% of in process: {'met' if loop_ok else 'NOT met'}"
    )
    added_ok = qr_row["added_p50_ms"] <= 1.0
    print(f"Goal, the service adds at most 1 ms at p50: {'met' if added_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
