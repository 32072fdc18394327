"""The nfc driver package: entry points, the sim dispatch, real-reader paths without hardware."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from cityid_card import type2
from cityid_card.drivers import (
    SIM_ENTRY_POINT_GROUP,
    driver_names,
    list_readers,
    load_driver,
)
from cityid_card.media.errors import MediumError, NoReader
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card_nfc.driver import NfcDriver, Type2Connection
from cityid_card_nfc.sim import load_tag

from .conftest import UID, Field


def test_the_driver_and_the_emulators_are_registered() -> None:
    assert "nfc" in driver_names()
    assert isinstance(load_driver("nfc"), NfcDriver)
    simulators = importlib.metadata.entry_points(group=SIM_ENTRY_POINT_GROUP)
    assert sorted(ep.name for ep in simulators) == ["isodep", "ntag213", "ntag215", "ntag216"]


def test_sim_uris_reach_the_nfc_emulators() -> None:
    sim = load_driver("sim")
    with pytest.raises(NoReader, match=r"no reader 'ntag203' \(it has sim:card, sim:isodep"):
        sim.open("ntag203", timeout=0)
    connection = sim.open("ntag216", timeout=0)
    try:
        assert isinstance(connection, Type2Connection)
        assert connection.product is type2.NTAG216 and connection.reader == "sim:ntag216"
    finally:
        connection.close()


def test_an_image_file_keeps_the_tag(tmp_path: Path, field: Field) -> None:
    path = tmp_path / "tag.bin"
    tag = load_tag(type2.NTAG213, path)
    assert path.read_bytes() == bytes(tag.memory) and tag.uid[0] == 0x04
    connection = field.tag(tag)
    assert connection.command(type2.write(20, b"\x01\x02\x03\x04")) == b"\x0a"
    again = load_tag(type2.NTAG213, path)
    assert again.uid == tag.uid and bytes(again.memory[80:84]) == b"\x01\x02\x03\x04"
    path.write_bytes(bytes(10))
    with pytest.raises(MediumError, match="not an NTAG213 image"):
        load_tag(type2.NTAG213, path)


def test_real_readers_without_hardware() -> None:
    found = list_readers()["nfc"]
    assert found == [] or isinstance(found, MediumError)
    with pytest.raises(MediumError):
        NfcDriver().open("usb:ffff:ffff", timeout=0)
    with pytest.raises(MediumError):
        NfcDriver().open("tty:nonexistent0:pn532", timeout=0)


def test_a_closed_connection_refuses_to_work(field: Field) -> None:
    from cityid_card.media.errors import TransportError

    connection = field.tag(EmulatedNtag(type2.NTAG213, uid=UID))
    connection.close()
    with pytest.raises(TransportError, match="closed"):
        connection.command(type2.read(0))


def test_the_core_never_imports_nfcpy() -> None:
    code = (
        "import sys, cityid_card.cli, cityid_card.drivers, cityid_card.type2.session, cityid_card_nfc; "
        "sys.exit('nfc' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_broken_emulator_is_no_reader_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from cityid_card.media.errors import DriverError

    broken = importlib.metadata.EntryPoint(
        "ntag999", "no_such_module_here:Simulator", SIM_ENTRY_POINT_GROUP
    )
    monkeypatch.setattr("cityid_card.drivers._group", lambda group: {"ntag999": broken})
    sim = load_driver("sim")
    assert [reader.uri for reader in sim.readers()] == ["sim:card"]
    with pytest.raises(DriverError, match="sim:ntag999 emulator cannot be loaded"):
        sim.open("ntag999:x.bin", timeout=0)
