"""The emulated card: its state machine, its state file, power loss."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cityid_card.iso7816 import CardApplication, CardState
from cityid_card.iso7816 import apdu as commands
from cityid_card.iso7816.apdu import AID, SW, Lifecycle
from cityid_card.iso7816.applet import EF_CAPACITY
from cityid_card.media.errors import MediumError
from cityid_card.sim_io import load_card_state, save_card_state


def send(card: CardApplication, command: commands.CommandApdu) -> tuple[bytes, int]:
    return commands.split_response(card.process(command.encode()))


def personalised(card: CardApplication, blob: bytes = b"\xa1" * 40) -> None:
    send(card, commands.select_application())
    send(card, commands.generate_key_pair())
    assert send(card, commands.update_binary(0, blob, sfi=True)) == (b"", SW.OK)


def test_life_cycle_initialisation_to_operational() -> None:
    card = CardApplication()
    assert send(card, commands.select_application()) == (bytes.fromhex("6F038A0103"), SW.OK)
    assert send(card, commands.activate())[1] == SW.CONDITIONS_NOT_SATISFIED
    personalised(card)
    assert send(card, commands.activate()) == (b"", SW.OK)
    assert card.state.lifecycle == Lifecycle.OPERATIONAL
    assert send(card, commands.select_application()) == (bytes.fromhex("6F038A0105"), SW.OK)
    assert send(card, commands.generate_key_pair())[1] == SW.CONDITIONS_NOT_SATISFIED
    assert send(card, commands.update_binary(0, b"\x00", sfi=True))[1] == (
        SW.SECURITY_STATUS_NOT_SATISFIED
    )
    assert send(card, commands.read_binary(0, sfi=True)) == (b"\xa1" * 40, SW.END_OF_FILE)
    assert send(card, commands.internal_authenticate(bytes(32)))[1] == SW.OK


def test_a_new_key_erases_the_credential() -> None:
    card = CardApplication()
    personalised(card)
    first_key = card.state.card_key
    assert send(card, commands.generate_key_pair())[1] == SW.OK
    assert card.state.card_key != first_key
    assert card.state.ef == b""
    assert send(card, commands.read_binary(0, sfi=True))[1] == SW.WRONG_P1P2


def test_update_binary_grows_the_ef_without_holes() -> None:
    card = CardApplication()
    personalised(card, b"\x01\x02\x03")
    assert send(card, commands.update_binary(1, b"\xff\xfe\xfd\xfc")) == (b"", SW.OK)
    assert card.state.ef == b"\x01\xff\xfe\xfd\xfc"
    assert send(card, commands.update_binary(6, b"\x00"))[1] == SW.WRONG_P1P2
    assert send(card, commands.read_binary(1, 2)) == (b"\xff\xfe", SW.OK)
    assert send(card, commands.read_binary(5))[1] == SW.WRONG_P1P2


def test_the_ef_holds_its_capacity_and_no_more() -> None:
    card = CardApplication(CardState(card_key=bytes(31) + b"\x01"))
    send(card, commands.select_application())
    for offset in range(0, EF_CAPACITY, 128):
        command = commands.update_binary(offset, bytes(128), sfi=offset == 0)
        assert send(card, command)[1] == SW.OK
    assert send(card, commands.update_binary(EF_CAPACITY, b"\x00"))[1] == SW.NOT_ENOUGH_MEMORY


def test_reset_loses_the_selection_but_not_the_state() -> None:
    card = CardApplication()
    personalised(card)
    card.reset()
    assert send(card, commands.read_binary(0, sfi=True))[1] == SW.INS_NOT_SUPPORTED
    send(card, commands.select_application())
    assert send(card, commands.read_binary(0))[1] == SW.NO_CURRENT_EF
    assert send(card, commands.read_binary(0, sfi=True))[0] == b"\xa1" * 40


def test_selecting_another_application_deselects_this_one() -> None:
    card = CardApplication()
    personalised(card)
    other = commands.CommandApdu(0x00, 0xA4, 0x04, 0x00, AID[:-1] + b"\x02", le=256)
    assert send(card, other)[1] == SW.FILE_NOT_FOUND
    assert send(card, commands.read_binary(0, sfi=True))[1] == SW.INS_NOT_SUPPORTED


def test_tearing_an_update_persists_at_most_half_of_it() -> None:
    card = CardApplication()
    personalised(card, b"\x01")
    card.tear(commands.update_binary(0, bytes(range(10)), sfi=True).encode())
    assert card.state.ef == bytes(range(5))
    card.tear(commands.update_binary(0, b"\xff" * 4).encode())  # no current EF after the tear
    assert card.state.ef == bytes(range(5))
    send(card, commands.select_application())
    card.tear(commands.generate_key_pair().encode())
    assert card.state.ef == bytes(range(5))


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    assert load_card_state(path) == CardState()
    saved: list[CardState] = []

    def commit(state: CardState) -> None:
        save_card_state(state, path)
        saved.append(state)

    card = CardApplication(on_commit=commit)
    personalised(card)
    send(card, commands.activate())
    assert len(saved) == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = CardApplication(load_card_state(path))
    assert reloaded.state == card.state
    send(reloaded, commands.select_application())
    challenge = bytes(range(32))
    assert send(reloaded, commands.internal_authenticate(challenge)) == send(
        card, commands.internal_authenticate(challenge)
    )


@pytest.mark.parametrize(
    "document",
    [
        "[]",
        '{"format": "something else"}',
        '{"format": "cityid-card emulated card", "lifecycle": "gone", "card_key": null, "ef": ""}',
        '{"format": "cityid-card emulated card", "lifecycle": "operational", "card_key": "00", "ef": ""}',
        '{"format": "cityid-card emulated card", "lifecycle": "operational", "card_key": null, "ef": "zz"}',
        "not json",
    ],
)
def test_bad_state_files_are_refused(tmp_path: Path, document: str) -> None:
    path = tmp_path / "card.json"
    path.write_text(document)
    with pytest.raises(MediumError, match="state file"):
        load_card_state(path)


def test_state_json_is_what_the_file_holds(tmp_path: Path) -> None:
    state = CardState(Lifecycle.OPERATIONAL, bytes(32), b"\x01\x02")
    save_card_state(state, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == state.to_json()
    assert CardState.from_json(state.to_json()) == state
