"""``cityid-card watch --terminal``: generation-2 cards, the CAN typed by a scanner on stdin."""

from __future__ import annotations

import io
import json
import os
import pty
from pathlib import Path

import pytest

from cityid_card import qr
from cityid_card.cli.watch import quiet_terminal
from tests.conftest import run_cli
from tests.gen2.test_cli import PERSONAL, city, personalize

from .conftest import GEN2_CAN as CAN

__all__ = ["city"]


def _watch(city: Path, reader: str, role: str, *extra: str) -> list[str]:
    return [
        "watch", "--reader", reader, "--trust", str(city / "trust.json"),
        "--terminal", str(city / role), "--count", "1", "--interval", "0.01", *extra,
    ]  # fmt: skip


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_the_scanned_face_code_reads_the_museum_pseudonym(
    city: Path, gen2_card: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "not a card\n" + qr.encode_can(CAN) + "\r\n")
    status, out, err = run_cli(capsys, *_watch(city, gen2_card, "museum", "--json"))
    assert status == 0, err
    shown = json.loads(out.splitlines()[-1])
    assert set(shown) == {
        "event",
        "reader",
        "valid",
        "pseudonym",
        "authenticity",
        "status_list_age_days",
    }
    assert shown["valid"] is True and len(shown["pseudonym"]) == 64
    assert shown["authenticity"] == "chip_authenticated"
    assert "not a card" not in err and "NotACan" not in out
    assert CAN not in out + err
    assert not any(text in out + err for text in PERSONAL)


def test_library_shows_the_name_and_the_library_pseudonym(
    city: Path, gen2_card: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, CAN + "\n")
    status, out, err = run_cli(capsys, *_watch(city, gen2_card, "library"))
    assert status == 0, err
    last = out.splitlines()[-1]
    assert last.startswith(f"card on {gen2_card}: VALID name Ana Sofia Rivera Delgado, expires ")
    assert "pseudonym " in last and "[chip_authenticated]" in last and "1990" not in last


def test_a_wrong_can_is_a_rejection_that_says_nothing_personal(
    city: Path, gen2_card: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "000000\n")
    status, out, err = run_cli(capsys, *_watch(city, gen2_card, "benefits"))
    assert status == 0, err
    assert out.splitlines()[-1] == f"card on {gen2_card}: NOT ACCEPTED (WrongCan)"
    assert "000000" not in out + err and CAN not in out + err
    assert not any(text in out + err for text in PERSONAL)


def test_the_policy_must_match_the_terminals_role(
    city: Path, gen2_card: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(capsys, *_watch(city, gen2_card, "museum", "--policy", "benefits"))
    assert status == 2 and out == ""
    assert "does not match the terminal's role museum" in err


def test_a_generation_2_card_over_nfc_iso_dep(
    city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("cityid_card_nfc")
    reader = f"sim:isodep:{tmp_path / 'card.json'}"
    assert run_cli(capsys, *personalize(city, reader, "--can", CAN))[0] == 0
    _stdin(monkeypatch, qr.encode_can(CAN) + "\n")
    status, out, err = run_cli(capsys, *_watch(city, reader, "age-check", "--json"))
    assert status == 0, err
    shown = json.loads(out.splitlines()[-1])
    assert shown["valid"] is True and shown["age_over_21"] is True
    assert set(shown) == {
        "event",
        "reader",
        "valid",
        "age_over_21",
        "authenticity",
        "status_list_age_days",
    }


def test_a_terminal_does_not_echo_the_scanned_code_while_watch_runs() -> None:
    termios = pytest.importorskip("termios")
    controller, follower = pty.openpty()
    try:
        with os.fdopen(follower, "r", closefd=False) as stream:
            assert termios.tcgetattr(follower)[3] & termios.ECHO
            with quiet_terminal(stream):
                assert not termios.tcgetattr(follower)[3] & termios.ECHO
            assert termios.tcgetattr(follower)[3] & termios.ECHO  # given back as it was
        with quiet_terminal(io.StringIO()):  # not a terminal: nothing to do
            pass
    finally:
        os.close(controller)
        os.close(follower)
