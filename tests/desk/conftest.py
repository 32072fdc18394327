"""What the desk tests share: an issuer, cards, and the real service on a free loopback port."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from cityid_card import IssuerKey, TrustStore, qr
from cityid_card.desk.policy import get_policy
from cityid_card.desk.service import UVICORN_OPTIONS, ServiceConfig, create_app
from cityid_card.verifier import Verifier
from tests.conftest import run_cli, sample_credential
from tests.gen2.test_cli import personalize

#: The name on the test cards: a test asserts it never reaches a log.
HOLDER = "Ana Sofia Rivera Delgado"
#: The desk's clock in the tests: the sample cards are valid then.
DESK_NOW = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)
#: The card access number of the generation-2 test card (``gen2_card``).
GEN2_CAN = "271828"


@dataclass
class Issuer:
    key: IssuerKey
    trust: TrustStore

    def card(self, **changes: Any) -> bytes:
        return self.key.issue(sample_credential(**changes))


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    key = IssuerKey.generate("ES256", kid="CHI-2026-1")
    return Issuer(key, TrustStore([key.public()]))


@pytest.fixture
def gen2_card(city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The ``sim:card`` reader of a generation-2 card personalised with ``GEN2_CAN`` by
    ``cityid-card personalize``, in the city of the module's ``city`` fixture (a folder:
    tests.gen2.test_cli.city)."""
    reader = f"sim:card:{tmp_path / 'card.json'}"
    status, _, err = run_cli(capsys, *personalize(city, reader, "--can", GEN2_CAN))
    assert status == 0, err
    return reader


@pytest.fixture(scope="session")
def valid_qr(issuer: Issuer) -> str:
    return qr.encode(issuer.card(gender="X"))


@pytest.fixture(scope="session")
def expired_qr(issuer: Issuer) -> str:
    return qr.encode(issuer.card(issued=date(2020, 1, 1), expires=date(2021, 1, 1)))


class LiveServer:
    """The service under uvicorn in a thread, on a loopback port of its own."""

    def __init__(self, config: ServiceConfig, **uvicorn_options: Any) -> None:
        self.config = config
        # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets that say TCP.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        options: dict[str, Any] = {**UVICORN_OPTIONS, "log_level": "info"}
        options.update(uvicorn_options)
        self.server = uvicorn.Server(uvicorn.Config(create_app(config), **options))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._socket.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: status, headers (lower-case names), body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def verify(self, document: Any, **headers: str) -> tuple[int, Any]:
        status, _, body = self.request(
            "POST",
            "/api/verify",
            json.dumps(document).encode(),
            {"Content-Type": "application/json", **headers},
        )
        return status, json.loads(body)


def desk_config(issuer: Issuer, policy: str = "library", **changes: Any) -> ServiceConfig:
    config = ServiceConfig(
        verifier=Verifier(issuer.trust, cache_size=0),
        policy=get_policy(policy),
        clock=lambda: DESK_NOW,
    )
    for name, value in changes.items():
        setattr(config, name, value)
    return config


@pytest.fixture
def server(issuer: Issuer) -> Iterator[LiveServer]:
    live = LiveServer(desk_config(issuer)).start()
    yield live
    live.stop()
