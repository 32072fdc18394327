"""The service with sealed NFC tags, over real uvicorn: the card face's CIDS1 code through the
API arms the reader, the result comes on the event stream; nothing of the key or the
holder in a log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cityid_card import qr
from cityid_card.cli.serve import reader_events
from cityid_card.desk.faces import FaceBox

from .conftest import HOLDER, Issuer, LiveServer, desk_config
from .helpers import EventStream, ServeCommand, post_verify, streaming
from .test_loop_sealed import KEY, OTHER_KEY, sealed_tag


@pytest.fixture
def tag(issuer: Issuer, tmp_path: Path) -> tuple[str, str]:
    """The ``sim:ntag215`` reader of a sealed tag's image, and its face's QR code text."""
    image = tmp_path / "tag.bin"
    emulated, face = sealed_tag(issuer)
    image.write_bytes(bytes(emulated.memory))
    return f"sim:ntag215:{image}", face


def tag_server(issuer: Issuer, reader: str, policy: str = "library", **changes: Any) -> LiveServer:
    """The service as ``serve --reader READER`` builds it (no terminal: tags need none)."""
    config = desk_config(issuer, policy, faces=FaceBox(), **changes)
    config.events = reader_events(reader, config.verifier, config.policy, None, faces=config.faces)
    return LiveServer(config, log_config=None, log_level="debug").start()


@pytest.fixture
def library(issuer: Issuer, tag: tuple[str, str]) -> Iterator[tuple[LiveServer, EventStream]]:
    server = tag_server(issuer, tag[0])
    with streaming(server) as stream:
        yield server, stream


def _secrets(*faces: str) -> list[str]:
    """What no log may hold: the keys, the face codes, the holder's name and birth date."""
    return [KEY.hex(), OTHER_KEY.hex(), *(face[6:30] for face in faces), HOLDER, "1990"]


def test_the_face_code_arms_the_reader_and_the_name_arrives_on_the_stream(
    library: tuple[LiveServer, EventStream], tag: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, stream = library
    waiting = stream.next()
    assert waiting == {
        "event": "arrival",
        "reader": tag[0],
        "valid": False,
        "error": "SealKeyRequired",
        "status_list_age_days": None,
    }
    assert server.verify({"qr": tag[1]}) == (202, {"reading": "tap"})
    assert stream.next() == {
        "event": "arrival",
        "reader": tag[0],
        "valid": True,
        "name": HOLDER,
        "expires": "2031-11-20",
        "authenticity": "tag_uid_bound",
        "status_list_age_days": None,
    }
    status, _, body = server.request("GET", "/api/health")
    report = json.loads(body)
    assert status == 200 and report["sealed_tags"] is True and report["chip_cards"] is False
    assert "verify: sealed tag key taken for the reader" in caplog.text
    assert not any(secret in caplog.text for secret in _secrets(tag[1]))


def test_another_cards_face_is_a_typed_rejection_with_nothing_personal(
    issuer: Issuer,
    library: tuple[LiveServer, EventStream],
    tag: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server, stream = library
    _, other = sealed_tag(issuer, OTHER_KEY)
    assert stream.next()["error"] == "SealKeyRequired"
    assert server.verify({"qr": other}) == (202, {"reading": "tap"})
    rejected = stream.next()
    assert rejected == {
        "event": "arrival",
        "reader": tag[0],
        "valid": False,
        "error": "SealError",
        "status_list_age_days": None,
    }
    assert server.verify({"qr": "CIDS1:ABC"}) == (200, {"valid": False, "error": "NotASealKey"})
    # A chip card's face on a desk without a terminal certificate: refused, nothing armed.
    status, answer = server.verify({"qr": qr.encode_can("123456")})
    assert status == 409 and "--terminal" in answer["error"]
    # The right face, scanned again with the tag still on the reader, reads it.
    assert server.verify({"qr": tag[1]})[0] == 202
    assert stream.next()["name"] == HOLDER
    assert not any(secret in caplog.text for secret in _secrets(tag[1], other))


def test_a_chipless_cards_qr_code_is_still_verified_at_once(
    library: tuple[LiveServer, EventStream], valid_qr: str
) -> None:
    server, _ = library
    status, answer = server.verify({"qr": valid_qr})
    assert status == 200 and answer["valid"] is True and answer["name"] == HOLDER


def test_without_a_reader_the_sealed_face_code_is_verified_as_a_qr_code(
    server: LiveServer, tag: tuple[str, str]
) -> None:
    """A camera-only desk: the CIDS1 code holds the signed credential too."""
    status, answer = server.verify({"qr": tag[1]})
    assert status == 200
    assert answer == {"valid": True, "name": HOLDER, "expires": "2031-11-20"}


def test_the_serve_command_reads_a_sealed_tag(
    issuer: Issuer, tag: tuple[str, str], tmp_path: Path
) -> None:
    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    serve = ServeCommand(
        "--trust", str(trust), "--reader", tag[0], "--policy", "library", "--log-level", "debug"
    )
    with serve:
        stream = serve.when_up(EventStream)
        assert stream.next()["error"] == "SealKeyRequired"
        assert post_verify(serve.port, {"qr": tag[1]})[0] == 202
        read = stream.next()
        stream.close()
    assert read["valid"] is True and read["name"] == HOLDER
    assert b"verify: sealed tag key taken for the reader" in serve.err
    for secret in _secrets(tag[1]):
        assert secret.encode() not in serve.out + serve.err
