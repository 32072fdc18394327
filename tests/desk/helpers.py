"""What several desk test modules use: an emulated reader's field and the loop run over a
script, the service's event stream, and ``cityid-card serve`` in a subprocess."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from cityid_card import TrustStore
from cityid_card.desk import Removal, watch
from cityid_card.desk.faces import FaceSource
from cityid_card.desk.loop import ReaderEvent
from cityid_card.drivers import Reader, ReaderInfo, ReopeningReader, SimConnection
from cityid_card.iso7816.applet import CardApplication
from cityid_card.iso7816.gen2 import TerminalAccess
from cityid_card.iso7816.session import personalize
from cityid_card.media import Link
from cityid_card.media.errors import NoReader
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card_nfc.driver import Type2Connection
from cityid_card_nfc.sim import open_emulated
from tests.conftest import sample_credential

from .conftest import DESK_NOW, Issuer, LiveServer

_T = TypeVar("_T")


class Field:
    """A reader whose field a test fills and empties: a card or a tag, or nothing."""

    def __init__(self) -> None:
        self.card: CardApplication | EmulatedNtag | None = None
        self.opened = 0
        #: Pull the tag away right after it was activated (before it is read).
        self.pull_after_activation = False
        #: Opens after a removal that still succeed, to a card that no longer answers
        #: (pcscd reports a pulled card for a moment).
        self.stale_opens = 0
        self._stale_card: CardApplication | None = None
        self._connection: SimConnection | None = None

    def put(self, card: CardApplication | EmulatedNtag) -> None:
        if isinstance(card, EmulatedNtag):
            card.insert()
        self.card = card

    def take(self) -> None:
        if isinstance(self.card, CardApplication):
            self._stale_card = self.card
        if isinstance(self.card, EmulatedNtag):
            self.card.in_field = False
        elif self._connection is not None:
            self._connection.remove_at(0, "before")
        self.card = None

    def readers(self) -> list[ReaderInfo]:
        return [ReaderInfo("field", "a test's field", self.card is not None)]

    def reader(self, target: str) -> Reader:
        return ReopeningReader(self, target, "field")

    def open(self, target: str, *, timeout: float, kind: str | None = None) -> Link:
        if self.card is None and self.stale_opens and self._stale_card is not None:
            self.stale_opens -= 1
            ghost = SimConnection(self._stale_card, reader="field")
            ghost.remove_at(0, "before")
            return ghost
        if self.card is None:
            raise NoReader("no card in the field")
        self.opened += 1
        if isinstance(self.card, EmulatedNtag):
            connection = open_emulated(self.card, reader="field")
            assert isinstance(connection, Type2Connection)
            if self.pull_after_activation:
                self.card.answer_limit = self.card.frames
            return connection
        self._connection = SimConnection(self.card, reader="field")
        return self._connection


def script(steps: list[Callable[[], None]], stop: threading.Event) -> Callable[[float], None]:
    """A sleep that runs the next step of a test's script at each poll, then stops."""
    pending = iter(steps)

    def sleep(seconds: float) -> None:
        step = next(pending, None)
        if step is None:
            stop.set()
        else:
            step()

    return sleep


def run(
    trust: TrustStore,
    reader: str,
    field: Field | None,
    steps: list[Callable[[], None]],
    *,
    faces: FaceSource | None = None,
    terminal: TerminalAccess | None = None,
    now: datetime = DESK_NOW,
) -> list[ReaderEvent]:
    """Every event of the reader loop on ``reader`` (``field`` as its driver) over ``steps``."""
    stop = threading.Event()
    return list(
        watch(
            reader,
            trust,
            terminal=terminal,
            faces=faces,
            now=lambda: now,
            sleep=script(steps, stop),
            stop=stop,
            driver=field,
        )
    )


def kinds(events: list[ReaderEvent]) -> list[str]:
    """Each event in a word: removal, valid, or the name of the arrival's error."""
    return [
        "removal" if isinstance(e, Removal) else ("valid" if e.valid else type(e.error).__name__)
        for e in events
    ]


def personalized_card(issuer: Issuer, **changes: object) -> CardApplication:
    """A version 1 contact card holding the sample credential (with ``changes``)."""
    application = CardApplication()
    today = DESK_NOW.date()
    personalize(SimConnection(application), issuer.key, sample_credential(**changes), today=today)
    application.reset()
    return application


class EventStream:
    """The event stream (``GET /api/events``) of a running service, read event by event."""

    def __init__(self, port: int) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        self._connection.request("GET", "/api/events")
        self._response = self._connection.getresponse()
        assert self._response.status == 200

    def next(self) -> dict[str, Any]:
        while True:
            line = self._response.readline()
            assert line, "the event stream ended"
            if line.startswith(b"data: "):
                event: dict[str, Any] = json.loads(line.removeprefix(b"data: "))
                return event

    def close(self) -> None:
        self._connection.close()


@contextmanager
def streaming(server: LiveServer) -> Iterator[EventStream]:
    """The started ``server``'s event stream; the stream closed and the server stopped after."""
    try:
        stream = EventStream(server.port)
        try:
            yield stream
        finally:
            stream.close()
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post_verify(port: int, document: Any) -> tuple[int, Any]:
    """``POST /api/verify`` on a fresh connection: the status and the JSON answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST", "/api/verify", json.dumps(document), {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class ServeCommand:
    """``cityid-card serve ARGS --port PORT`` in a subprocess; its ``out`` and ``err`` once
    the ``with`` block is left."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.out = self.err = b""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "cityid_card", "serve", *args, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def when_up(self, connect: Callable[[int], _T]) -> _T:
        """``connect(port)``, tried again while the port refuses (20 s at most)."""
        deadline = time.monotonic() + 20
        while True:
            try:
                return connect(self.port)
            except ConnectionRefusedError:
                assert self._process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)

    def __enter__(self) -> ServeCommand:
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self.out, self.err = self._process.communicate(timeout=10)
