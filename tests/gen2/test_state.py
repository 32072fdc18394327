"""The generation-2 card's state file, personalisation refusals and the pki command's errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cityid_card.iso7816.errors import CardLocked
from cityid_card.iso7816.gen2 import Gen2State, disclose, personalize_gen2
from cityid_card.iso7816.gen2.chip import EmulatedCard
from cityid_card.media.errors import MediumError
from cityid_card.sim_io import card_in_file, load_chip_state
from tests.conftest import run_cli
from tests.gen2.helpers import CAN, HOLDER, TODAY, City


def test_the_state_file_keeps_a_personalised_card(city: City, tmp_path: Path) -> None:
    from cityid_card.drivers import SimConnection

    path = tmp_path / "card.json"
    personalize_gen2(SimConnection(card_in_file(path)), HOLDER, city.batch, can=CAN, today=TODAY)
    state = load_chip_state(path)
    assert isinstance(state, Gen2State) and state.can == CAN
    assert Gen2State.from_json(state.to_json()) == state
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    card = SimConnection(card_in_file(path))
    assert disclose(card, city.terminal("library"), CAN, today=TODAY).name == HOLDER.name
    assert "Ana" not in repr(state)


@pytest.mark.parametrize(
    "change",
    [
        {"can": "12345"},
        {"pace_failures": -1},
        {"chip_key": "00"},
        {"data_groups": {"99": "00"}},
        {"lifecycle": "weird"},
        {"current_date": "2027-02-30"},
    ],
)
def test_a_hostile_state_file_is_a_typed_error(
    city: City, tmp_path: Path, change: dict[str, object]
) -> None:
    document = Gen2State(can=CAN).to_json()
    document.update(change)
    path = tmp_path / "card.json"
    path.write_text(json.dumps(document))
    with pytest.raises(MediumError):
        load_chip_state(path)


def test_a_personalised_card_is_not_personalised_again(city: City) -> None:
    card = city.card()
    card.insert()
    with pytest.raises(CardLocked):
        personalize_gen2(card, HOLDER, city.batch, can="111111", today=date(2027, 1, 1))
    card.insert()
    assert disclose(card, city.terminal("benefits"), CAN, today=TODAY).name == HOLDER.name


def test_a_blank_chip_becomes_what_it_is_personalised_as() -> None:
    card = EmulatedCard()
    assert card.generation == 0
    assert card.process(bytes.fromhex("00A4040C08F043495459494402")) == b"\x90\x00"
    assert card.process(bytes.fromhex("00DA010106313233343536")) == b"\x90\x00"
    assert card.generation == 2
    # The version 1 application is gone for good.
    assert card.process(bytes.fromhex("00A4040008F04349545949440100"))[-2:] == b"\x6a\x82"


def test_pki_refuses_bad_input_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run_cli(
        capsys, "pki", "init", "--out", str(tmp_path / "r"), "--holder", "secret-name"
    )
    assert status == 2 and "secret-name" not in err
    status, _, err = run_cli(
        capsys,
        "pki",
        "terminal",
        "--ca",
        str(tmp_path / "none"),
        "--role",
        "library",
        "--out",
        str(tmp_path / "t"),
    )
    assert status == 2
    assert run_cli(capsys, "pki", "init", "--out", str(tmp_path / "r"))[0] == 0
    status, _, err = run_cli(capsys, "pki", "init", "--out", str(tmp_path / "r"))
    assert status == 2 and "--force" in err
    status, _, err = run_cli(
        capsys,
        "pki",
        "terminal",
        "--ca",
        str(tmp_path / "r"),
        "--role",
        "age-check",
        "--age",
        "0",
        "--out",
        str(tmp_path / "t"),
    )
    assert status == 2
    status, _, err = run_cli(
        capsys,
        "verify",
        "--reader",
        "sim:card",
        "--can",
        "12ab56",
        "--terminal",
        str(tmp_path / "t"),
    )
    assert status == 2 and "12ab56" not in err
