"""Reader URIs, driver discovery through entry points, the sim driver, the vpcd protocol."""

from __future__ import annotations

import importlib.metadata
import threading
from pathlib import Path

import pytest

from cityid_card import IssuerKey, TrustStore
from cityid_card.drivers import (
    ENTRY_POINT_GROUP,
    Connection,
    SimConnection,
    connect,
    driver_names,
    list_readers,
    load_driver,
    parse_uri,
)
from cityid_card.iso7816 import CardApplication, personalize, verify_card
from cityid_card.iso7816.errors import CardRemoved
from cityid_card.iso7816.vpcd import ATR, VpcdCard
from cityid_card.media import ISO7816
from cityid_card.media.errors import DriverError, NoReader
from cityid_card.sim_io import serve
from tests.conftest import NOW, sample_credential


def test_parse_uri() -> None:
    assert parse_uri("pcsc") == ("pcsc", "")
    assert parse_uri("pcsc:1") == ("pcsc", "1")
    assert parse_uri("pcsc:Virtual PCD 00 00") == ("pcsc", "Virtual PCD 00 00")
    assert parse_uri("sim:card:/tmp/x:y.json") == ("sim", "card:/tmp/x:y.json")
    with pytest.raises(DriverError, match="starts with a driver name"):
        parse_uri(":1")


def test_the_pcsc_driver_is_found_through_its_entry_point() -> None:
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    assert [ep.value for ep in entry_points if ep.name == "pcsc"] == [
        "cityid_card_pcsc.pcsc:PcscDriver"
    ]
    assert driver_names()[0] == "sim"
    assert "pcsc" in driver_names()
    assert type(load_driver("pcsc")).__name__ == "PcscDriver"


def test_unknown_drivers_and_readers() -> None:
    with pytest.raises(DriverError, match="no driver for 'nosuch' is installed"):
        load_driver("nosuch")
    with pytest.raises(NoReader, match="has no reader 'tag'"):
        load_driver("sim").open("tag", timeout=1)


def test_a_driver_that_fails_to_load_is_a_driver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint(
        "broken", "no_such_module_here:Driver", ENTRY_POINT_GROUP
    )
    monkeypatch.setattr("cityid_card.drivers._entry_points", lambda: {"broken": broken})
    with pytest.raises(DriverError, match="cannot be loaded: ModuleNotFoundError"):
        load_driver("broken")
    assert isinstance(list_readers()["broken"], DriverError)


def test_the_core_never_imports_pyscard() -> None:
    import subprocess
    import sys

    code = "import sys, cityid_card.cli, cityid_card.drivers; sys.exit('smartcard' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_sim_card_with_a_state_file_outlives_the_connection(tmp_path: Path) -> None:
    key = IssuerKey.generate("ES256", kid="K")
    state = tmp_path / "card.json"
    with connect(f"sim:card:{state}", kind=ISO7816) as card:
        assert card.reader == f"sim:card:{state}"
        assert isinstance(card, Connection)
        personalize(card, key, sample_credential(), lock=True, today=NOW.date())
    with connect(f"sim:card:{state}", kind=ISO7816) as card:
        assert verify_card(card, TrustStore([key.public()]), NOW).locked is True
    with connect("sim:card", kind=ISO7816) as blank:
        assert blank.transmit(bytes.fromhex("00A4040008F04349545949440100")) == (
            bytes.fromhex("6F038A0103"),
            0x9000,
        )


def test_sim_removal_stages() -> None:
    card = SimConnection(CardApplication())
    card.remove_at(1, "after")
    card.transmit(bytes.fromhex("00A4040C08F043495459494401"))
    with pytest.raises(CardRemoved):
        card.transmit(bytes.fromhex("0047800000"))
    with pytest.raises(CardRemoved):
        card.transmit(bytes.fromhex("00A4040C08F043495459494401"))
    assert card.application.state.card_key is not None  # processed, answer lost
    card.insert()
    assert card.transmit(bytes.fromhex("00B0810000")) == (b"", 0x6D00)  # power cycled


class Recording:
    def __init__(self) -> None:
        self.resets = 0
        self.apdus: list[bytes] = []

    def process(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        return b"\x90\x00"

    def reset(self) -> None:
        self.resets += 1


def test_vpcd_framing_in_any_split() -> None:
    card = Recording()
    protocol = VpcdCard(card)
    stream = b"\x00\x01\x04" + b"\x00\x01\x01" + b"\x00\x05\x00\xa4\x04\x00\x00" + b"\x00\x01\x02"
    replies = b"".join(protocol.receive(stream[i : i + 1]) for i in range(len(stream)))
    assert replies == len(ATR).to_bytes(2, "big") + ATR + b"\x00\x02\x90\x00"
    assert card.apdus == [b"\x00\xa4\x04\x00\x00"]
    assert card.resets == 2
    assert protocol.receive(b"\x00\x00" + b"\x00\x01\x09") == b""  # empty and unknown: ignored
    assert bytes.fromhex("3B8680014349545949440D") == ATR


def test_the_emulator_connects_to_this_machine_only() -> None:
    with pytest.raises(DriverError, match="this machine only"):
        serve(Recording(), "192.0.2.1", 35963)


def test_serving_with_no_vpcd_is_a_transport_error() -> None:
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(Exception, match="no vpcd listens") as caught:
        serve(Recording(), "127.0.0.1", port, connect_timeout=1)
    assert type(caught.value).__name__ == "TransportError"


def test_serve_answers_a_fake_vpcd_and_a_removal_closes_the_socket() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        card = Recording()

        def pulled(apdu: bytes) -> bytes:
            raise CardRemoved("pulled")

        thread = threading.Thread(target=serve, args=(card, "127.0.0.1", port), daemon=True)
        thread.start()
        vpcd, _ = server.accept()
        with vpcd:
            vpcd.sendall(b"\x00\x01\x04")
            assert vpcd.recv(64) == len(ATR).to_bytes(2, "big") + ATR
            vpcd.sendall(b"\x00")  # length and body in two writes, as vpcd does
            vpcd.sendall(b"\x04\x00\xb0\x81\x00")
            assert vpcd.recv(64) == b"\x00\x02\x90\x00"
            card.process = pulled  # type: ignore[method-assign]
            vpcd.sendall(b"\x00\x04\x00\x44\x00\x00")
            assert vpcd.recv(64) == b""  # the card went away: the socket is closed
        thread.join(10)
        assert not thread.is_alive()
