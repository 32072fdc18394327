"""The card commands of cityid-card, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cityid_card.cli import main
from tests.conftest import run_cli as run

from .pcsc_stack import PcscStack

HOLDER = ["--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12"]


@pytest.fixture
def issuer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key, trust = tmp_path / "issuer.pem", tmp_path / "trust.json"
    assert (
        run(capsys, "keygen", "--kid", "CHI-2026-1", "--out", str(key), "--trust", str(trust))[0]
        == 0
    )
    return tmp_path


def personalize_args(folder: Path, reader: str) -> list[str]:
    return [
        "personalize", "--generation", "1", "--reader", reader, "--key", str(folder / "issuer.pem"), *HOLDER,
        "--expires", "2031-11-20", "--issued", "2026-11-21", "--status-index", "7",
    ]  # fmt: skip


def test_personalize_read_verify_on_an_emulated_card(
    issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = f"sim:card:{issuer / 'card.json'}"
    status, out, _ = run(capsys, *personalize_args(issuer, reader))
    assert status == 0
    assert "chip authenticated" in out and "NOT locked" in out
    status, out, _ = run(capsys, *personalize_args(issuer, reader), "--lock", "--json")
    assert status == 0
    assert json.loads(out) == {
        "medium": "chip_card", "reader": reader, "bytes": 154, "alg": "ES256",
        "authenticity": "chip_authenticated", "locked": True, "apdus": 6, "originality": None,
        "status_index": 7,
    }  # fmt: skip
    status, out, err = run(capsys, *personalize_args(issuer, reader))
    assert (status, out) == (2, "")
    assert err == "error: the card is locked: it was personalised for good already (CardLocked)\n"

    status, out, _ = run(capsys, "read", "--reader", reader, "--out", str(issuer / "c.cbor"))
    assert status == 0 and "read 154 bytes" in out and "(locked)" in out
    assert "Ana" not in out
    status, out, _ = run(
        capsys, "verify", str(issuer / "c.cbor"), "--trust", str(issuer / "trust.json")
    )
    assert status == 0

    verify = ["verify", "--reader", reader, "--trust", str(issuer / "trust.json")]
    status, out, _ = run(capsys, *verify, "--at", "2027-01-01")
    assert status == 0
    assert out.startswith("VALID  ES256, issuer key CHI-2026-1, status unknown, card in sim:card:")
    assert "chip authenticated (the card proved it holds the card key)" in out
    status, out, _ = run(capsys, *verify, "--at", "2027-01-01", "--json")
    result = json.loads(out)
    assert (result["authenticity"], result["locked"], result["valid"]) == (
        "chip_authenticated", True, True,
    )  # fmt: skip
    assert result["claims"]["name"] == "Ana Sofia Rivera Delgado"
    status, out, _ = run(capsys, *verify, "--at", "2032-01-01", "--json")
    assert status == 1 and json.loads(out)["error"] == "Expired"


def test_a_copied_card_is_rejected_with_exit_1(
    issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original, clone = f"sim:card:{issuer / 'a.json'}", issuer / "b.json"
    assert run(capsys, *personalize_args(issuer, original), "--out", str(issuer / "c.cbor"))[0] == 0
    # The clone has its own key pair and the original's credential bytes.
    state = json.loads((issuer / "a.json").read_text())
    state["card_key"] = "11" * 32
    clone.write_text(json.dumps(state))
    status, out, err = run(
        capsys, "verify", "--reader", f"sim:card:{clone}", "--trust", str(issuer / "trust.json")
    )
    assert (status, out) == (1, "")
    assert "the card may be a copy (CardAuthenticationError)" in err
    assert "Ana" not in err


def test_card_errors_exit_2_in_one_line(issuer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = str(issuer / "trust.json")
    status, out, err = run(capsys, "verify", "--reader", "sim:card", "--trust", trust)
    assert (status, out) == (2, "")
    assert err == "error: the card holds no credential (not personalised) (BlankCard)\n"
    status, out, _ = run(capsys, "read", "--reader", "nosuch:0", "--json")
    assert status == 2 and json.loads(out)["error"] == "DriverError"


def test_verify_takes_a_file_or_a_reader_not_both(
    issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["verify", "--trust", "t.json"],
        ["verify", "c.cbor", "--reader", "sim:card", "--trust", "t"],
    ):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_readers_lists_every_driver(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "readers", "--json")
    drivers = json.loads(out)["drivers"]
    assert status == 0
    assert drivers["sim"]["readers"][0] == {
        "uri": "sim:card",
        "name": "emulated cityid-card (in this process)",
        "card_present": True,
    }
    assert set(drivers) >= {"sim", "pcsc"}
    status, out, _ = run(capsys, "readers")
    assert status == 0 and out.startswith("sim:card   emulated cityid-card")


def test_demo_includes_a_contact_card(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "demo", "--json")
    card = json.loads(out)["contact_card"]
    assert status == 0
    assert card["authenticity"] == "chip_authenticated"
    assert (card["apdus_personalize"], card["apdus_verify"], card["locked"]) == (6, 3, True)
    assert card["copy"] == "CardAuthenticationError"
    status, out, _ = run(capsys, "demo")
    assert "copied to another card -> rejected: CardAuthenticationError" in out


def test_sim_serve_puts_the_card_into_pcsc(
    pcsc: PcscStack, issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = issuer / "served.json"
    serve = subprocess.Popen(
        [sys.executable, "-m", "cityid_card", "sim", "serve", "--vpcd", "127.0.0.1:35963",
         "--state", str(state)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        assert "emulated card in the vpcd reader at 127.0.0.1:35963" in serve.stdout.readline()
        pcsc.wait_for_card(present=True)
        status, out, err = run(capsys, *personalize_args(issuer, "pcsc"), "--lock")
        assert status == 0, err
        assert "personalised the card in Virtual PCD 00 00" in out
        status, out, err = run(
            capsys, "verify", "--reader", "pcsc:0", "--trust", str(issuer / "trust.json"), "--json"
        )
        assert status == 0, err
        assert json.loads(out)["authenticity"] == "chip_authenticated"
        assert json.loads(state.read_text())["lifecycle"] == "operational"
    finally:
        serve.terminate()
        serve.wait(10)
        pcsc.wait_for_card(present=False)


def test_sim_serve_refuses_other_machines(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "sim", "serve", "--vpcd", "192.0.2.1:35963")
    assert status == 2 and "this machine only" in err


def test_personalize_takes_unique_random_indexes_from_a_registry(
    issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cityid_card.status import StatusRegistry

    key, registry = str(issuer / "issuer.pem"), issuer / "registry.json"
    assert (
        run(capsys, "status-list", "build", "--key", key, "--size", "64", "--out", str(registry))[0]
        == 0
    )
    indexes = []
    for number in range(2):
        card = issuer / f"card{number}.cbor"
        args = [
            "personalize", "--generation", "1", "--reader", "sim:card", "--key", key, *HOLDER, "--expires", "2031-11-20",
            "--registry", str(registry), "--out", str(card),
        ]  # fmt: skip
        assert run(capsys, *args)[0] == 0
        out = run(capsys, "inspect", str(card), "--json")[1]
        indexes.append(json.loads(out)["claims"]["status_index"])
    assert indexes[0] != indexes[1]
    saved = StatusRegistry.load(registry)
    assert all(saved.is_taken(index) for index in indexes)
    assert sum(saved.is_taken(i) for i in range(64)) == 2
