"""The service with generation-2 cards: the face QR code through the API, the result on the
event stream, the library hand-off with the pseudonym; nothing personal in a log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cityid_card import TrustStore, qr
from cityid_card.cli.pki import load_terminal
from cityid_card.cli.serve import reader_events
from cityid_card.desk.faces import FaceBox
from cityid_card.desk.policy import get_policy, policy_for_role
from cityid_card.desk.service import ServiceConfig
from cityid_card.verifier import Verifier
from tests.conftest import run_cli
from tests.gen2.test_cli import PERSONAL, city

from .conftest import GEN2_CAN as CAN
from .conftest import LiveServer
from .helpers import EventStream, ServeCommand, post_verify, streaming

__all__ = ["city"]

WRONG = "000000"


def gen2_server(city: Path, reader: str, role: str | None, **changes: Any) -> LiveServer:
    """The service as ``serve --reader READER --terminal city/ROLE`` builds it."""
    verifier = Verifier(TrustStore.load(city / "trust.json"), cache_size=0)
    terminal = None if role is None else load_terminal(city / role)
    policy = get_policy() if terminal is None else policy_for_role(terminal.role, terminal.age)
    faces = FaceBox()
    config = ServiceConfig(
        verifier=verifier,
        policy=policy,
        faces=faces,
        terminal_role=None if terminal is None else terminal.role,
        events=reader_events(reader, verifier, policy, None, terminal=terminal, faces=faces),
    )
    for name, value in changes.items():
        setattr(config, name, value)
    return LiveServer(config, log_config=None, log_level="debug").start()


@pytest.fixture
def museum(city: Path, gen2_card: str) -> Iterator[tuple[LiveServer, EventStream]]:
    server = gen2_server(city, gen2_card, "museum")
    with streaming(server) as stream:
        yield server, stream


def test_the_face_code_arms_the_reader_and_the_pseudonym_arrives_on_the_stream(
    museum: tuple[LiveServer, EventStream], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, stream = museum
    waiting = stream.next()
    assert waiting == {
        "event": "arrival",
        "reader": waiting["reader"],
        "valid": False,
        "error": "CanRequired",
        "status_list_age_days": None,
    }
    status, answer = server.verify({"qr": qr.encode_can(CAN)})
    assert (status, answer) == (202, {"reading": "tap"})
    read = stream.next()
    assert read["valid"] is True and read["authenticity"] == "chip_authenticated"
    assert set(read) == {
        "event",
        "reader",
        "valid",
        "pseudonym",
        "authenticity",
        "status_list_age_days",
    }
    assert len(read["pseudonym"]) == 64
    # Typed by hand, the same card again: the same museum pseudonym.
    assert server.verify({"can": CAN})[0] == 202
    assert stream.next()["pseudonym"] == read["pseudonym"]
    status, _, body = server.request("GET", "/api/health")
    report = json.loads(body)
    assert status == 200 and report["chip_cards"] is True
    assert report["terminal_role"] == "museum" and report["policy"] == "museum"
    assert "verify: chip card number taken for the reader" in caplog.text
    assert CAN not in caplog.text and read["pseudonym"] not in caplog.text


def test_a_wrong_can_is_a_typed_rejection_with_nothing_personal(
    museum: tuple[LiveServer, EventStream], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, stream = museum
    assert stream.next()["error"] == "CanRequired"
    assert server.verify({"qr": qr.encode_can(WRONG)}) == (202, {"reading": "tap"})
    rejected = stream.next()
    assert rejected == {
        "event": "arrival",
        "reader": rejected["reader"],
        "valid": False,
        "error": "WrongCan",
        "status_list_age_days": None,
    }
    assert server.verify({"can": "12345"}) == (200, {"valid": False, "error": "NotACan"})
    assert server.verify({"qr": "CIDC1:12"}) == (200, {"valid": False, "error": "NotACan"})
    for secret in (CAN, WRONG, *PERSONAL):
        assert secret not in caplog.text


def test_the_library_hands_the_card_on_the_reader_to_koha_with_its_pseudonym(
    city: Path, gen2_card: str
) -> None:
    server = gen2_server(city, gen2_card, "library", koha=("CPL", "PT"))
    with streaming(server) as stream:
        assert stream.next()["error"] == "CanRequired"
        body = json.dumps({"reader": True, "consent": True}).encode()
        headers = {"Content-Type": "application/json"}
        # Nothing read yet: no patron record.
        assert server.request("POST", "/api/ils/koha", body, headers)[0] == 409
        assert server.verify({"qr": qr.encode_can(CAN)})[0] == 202
        read = stream.next()
        assert read["name"] == "Ana Sofia Rivera Delgado" and len(read["pseudonym"]) == 64
        status, _, csv = server.request("POST", "/api/ils/koha", body, headers)
        assert status == 200
        assert csv.decode().splitlines() == [
            "surname,firstname,branchcode,categorycode,patron_attributes",
            f"Ana Sofia Rivera Delgado,,CPL,PT,CITYID:{read['pseudonym']}",
        ]
        without = json.dumps({"reader": True}).encode()
        assert server.request("POST", "/api/ils/koha", without, headers)[0] == 403


def test_a_desk_without_a_terminal_says_it_reads_no_chip_cards(city: Path, gen2_card: str) -> None:
    server = gen2_server(city, gen2_card, None)
    with streaming(server) as stream:
        assert stream.next()["error"] == "TerminalRequired"
        status, answer = server.verify({"qr": qr.encode_can(CAN)})
        assert status == 409 and "--terminal" in answer["error"]


def test_the_serve_command_reads_a_generation_2_card(city: Path, gen2_card: str) -> None:
    trust, terminal = str(city / "trust.json"), str(city / "museum")
    with ServeCommand("--trust", trust, "--reader", gen2_card, "--terminal", terminal) as serve:
        stream = serve.when_up(EventStream)
        assert stream.next()["error"] == "CanRequired"
        assert post_verify(serve.port, {"qr": qr.encode_can(CAN)})[0] == 202
        read = stream.next()
        stream.close()
    assert read["valid"] is True and len(read["pseudonym"]) == 64 and "name" not in read
    for secret in (CAN.encode(), b"Ana", read["pseudonym"].encode()):
        assert secret not in serve.out + serve.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--terminal", "museum"], "--terminal reads chip cards on a reader"),
        (["--terminal", "museum", "--reader", "sim:card", "--policy", "library"], "does not match"),
    ],
)
def test_serve_refuses_a_terminal_it_cannot_use(
    city: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    extra = [str(city / value) if value == "museum" else value for value in extra]
    status, _, err = run_cli(capsys, "serve", "--trust", str(city / "trust.json"), *extra)
    assert status == 2 and message in err
