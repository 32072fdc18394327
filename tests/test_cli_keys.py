"""The command line's keys: keygen, the issuing window, passphrases (prompted on a terminal)."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from cityid_card import TrustStore, keyfiles
from cityid_card.cli import build_parser

from .conftest import REPO, run_cli

HOLDER = ["--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12", "--expires", "2031-11-20",
          "--status-index", "7"]  # fmt: skip
PASSPHRASE = "correct horse battery staple"


def _keygen(capsys: pytest.CaptureFixture[str], folder: Path, *extra: str) -> tuple[Path, Path]:
    key, trust = folder / "issuer.pem", folder / "trust.json"
    status, _, err = run_cli(capsys, "keygen", "--kid", "CHI-2020-1", "--out", str(key),
                             "--trust", str(trust), *extra)  # fmt: skip
    assert (status, err) == (0, "")
    return key, trust


def _one_line_error(err: str, kind: str) -> None:
    assert err.count("\n") == 1 and err.startswith("error: ") and err.endswith(f"({kind})\n")
    assert "Ana" not in err and "1990" not in err


# ---------------------------------------------------------------------------------------
# The issuing window travels with the key file (issue 10, section 7)


def test_keygen_window_stops_issue_outside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, trust = _keygen(capsys, tmp_path, "--valid-from", "2020-01-01",
                         "--valid-until", "2020-12-31")  # fmt: skip
    assert [(k.valid_from, k.valid_until) for k in TrustStore.load(trust)] == [
        (keyfiles.load_key(key).public().valid_from, keyfiles.load_key(key).public().valid_until)
    ]
    card = tmp_path / "card.cbor"
    # Today (the local date) is after the window: refused, nothing written.
    status, out, err = run_cli(capsys, "issue", "--key", str(key), *HOLDER, "--out", str(card))
    assert (status, out) == (2, "")
    _one_line_error(err, "KeyOutsideValidity")
    assert "'CHI-2020-1' may only sign credentials issued from 2020-01-01 until 2020-12-31" in err
    assert not card.exists()
    # Before the window too; inside it, the card is issued and verifies.
    status, _, err = run_cli(capsys, "issue", "--key", str(key), *HOLDER, "--issued",
                             "2019-12-31", "--out", str(card))  # fmt: skip
    assert status == 2 and "(KeyOutsideValidity)" in err and not card.exists()
    assert run_cli(capsys, "issue", "--key", str(key), *HOLDER, "--issued", "2020-12-31",
                   "--out", str(card))[0] == 0  # fmt: skip
    status, out, _ = run_cli(
        capsys, "verify", str(card), "--trust", str(trust), "--at", "2021-06-01"
    )
    assert status == 0 and out.startswith("VALID")


def test_personalize_and_batch_refuse_a_retired_key_before_touching_a_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(capsys, tmp_path, "--valid-until", "2020-12-31")
    state = tmp_path / "card.json"
    status, out, err = run_cli(capsys, "personalize", "--reader", f"sim:card:{state}",
                               "--key", str(key), *HOLDER)  # fmt: skip
    assert (status, out) == (2, "")
    _one_line_error(err, "KeyOutsideValidity")
    assert not state.exists()  # the card was never opened
    applicants = tmp_path / "applicants.csv"
    applicants.write_text(
        "name,date_of_birth,expires\nAna Sofia Rivera Delgado,1990-04-12,2031-11-20\n"
    )
    status, _, err = run_cli(capsys, "batch", str(applicants), "--key", str(key),
                             "--reader", "sim:card", "--records", str(tmp_path / "r.jsonl"))  # fmt: skip
    assert status == 2 and err.rstrip().endswith("(KeyOutsideValidity)")
    assert not (tmp_path / "r.jsonl").exists() or (tmp_path / "r.jsonl").read_text() == ""


# ---------------------------------------------------------------------------------------
# keygen never replaces a key by surprise


def test_keygen_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, trust = _keygen(capsys, tmp_path)
    before, stored = key.read_bytes(), trust.read_bytes()
    argv = ["keygen", "--out", str(key), "--trust", str(trust)]
    status, _, err = run_cli(capsys, *argv, "--kid", "CHI-2020-2")
    assert status == 2
    assert err == f"error: {key} already exists: add --force to replace it\n"
    assert (key.read_bytes(), trust.read_bytes()) == (before, stored)
    # --force replaces the key file (the key in it is lost); the new key joins the store.
    status, out, _ = run_cli(capsys, *argv, "--kid", "CHI-2020-2", "--force", "--json")
    assert status == 0 and json.loads(out)["kid"] == "CHI-2020-2"
    assert key.read_bytes() != before
    assert [entry.kid for entry in TrustStore.load(trust)] == ["CHI-2020-1", "CHI-2020-2"]
    assert keyfiles.load_key(key).kid == "CHI-2020-2"  # the kid travels with the key


def test_keygen_refuses_a_kid_already_trusted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, trust = _keygen(capsys, tmp_path)
    other = tmp_path / "other.pem"
    status, _, err = run_cli(capsys, "keygen", "--kid", "CHI-2020-1", "--out", str(other),
                             "--trust", str(trust))  # fmt: skip
    assert status == 2 and "(TrustStoreError)" in err and not other.exists()


# ---------------------------------------------------------------------------------------
# Passphrases: one flag, a prompt on a terminal, messages for people


@pytest.fixture
def encrypted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    key, _ = _keygen(capsys, tmp_path, "--passphrase-file", str(secret))
    return key


def test_an_encrypted_key_without_a_terminal_says_what_to_give(
    encrypted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issue = ["issue", "--key", str(encrypted), *HOLDER, "--out", str(tmp_path / "c")]
    status, _, err = run_cli(capsys, *issue)  # pytest's stdin is not a terminal
    assert status == 2
    assert err == (
        "error: the key file is encrypted: give --passphrase-file or type the passphrase "
        "(PassphraseRequired)\n"
    )
    wrong = tmp_path / "wrong"
    wrong.write_text("battery staple\n")
    status, _, err = run_cli(capsys, *issue, "--passphrase-file", str(wrong))
    assert status == 2
    assert err == "error: wrong passphrase for the key file (WrongPassphrase)\n"


def test_a_terminal_is_asked_for_the_passphrase(
    encrypted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    prompts: list[str] = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return PASSPHRASE

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", typed)
    card = tmp_path / "card.cbor"
    status, _, err = run_cli(capsys, "issue", "--key", str(encrypted), *HOLDER, "--out", str(card))
    assert (status, err) == (0, "") and card.exists()
    assert prompts == [f"Passphrase for {encrypted}: "]
    monkeypatch.setattr("getpass.getpass", lambda prompt: "not it")
    card.unlink()
    status, _, err = run_cli(capsys, "issue", "--key", str(encrypted), *HOLDER, "--out", str(card))
    assert status == 2 and err.endswith("(WrongPassphrase)\n")


def test_keygen_on_a_terminal_asks_for_the_new_passphrase_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter([PASSPHRASE, PASSPHRASE, PASSPHRASE, "not the same", ""])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    key, _ = _keygen(capsys, tmp_path)
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert keyfiles.load_key(key, PASSPHRASE).kid == "CHI-2020-1"
    other = tmp_path / "other.pem"
    argv = ["keygen", "--kid", "CHI-2020-2", "--out", str(other), "--trust", str(tmp_path / "t2")]
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and "the two passphrases differ" in err and not other.exists()
    assert run_cli(capsys, *argv)[0] == 0  # empty: an unencrypted key file, as asked
    assert b"ENCRYPTED" not in other.read_bytes()


def test_a_real_terminal_types_the_passphrase_without_echo(encrypted: Path, tmp_path: Path) -> None:
    # The whole command under a pseudo-terminal, as a person at a station runs it.
    card = tmp_path / "card.cbor"
    argv = [sys.executable, "-m", "cityid_card", "issue", "--key", str(encrypted), *HOLDER,
            "--out", str(card)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    pid, terminal = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the command
        os.execve(sys.executable, argv, env)
    seen = b""
    deadline = time.monotonic() + 60
    typed = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not typed and b"Passphrase for" in seen:
            os.write(terminal, PASSPHRASE.encode() + b"\n")
            typed = True
    os.close(terminal)
    _, status = os.waitpid(pid, 0)
    assert typed, seen
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert PASSPHRASE.encode() not in seen  # not echoed
    assert b"wrote " in seen and card.exists()


def test_one_flag_name_for_passphrases_and_pins(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for argv in (["issue", "--key", "k", *HOLDER, "--out", "c"], ["hsm", "list"]):
        args = parser.parse_args([*argv, "--pin-file", "p"])  # the old name still works
        assert args.passphrase_file == Path("p")
        args = parser.parse_args([*argv, "--passphrase-file", "p"])
        assert args.passphrase_file == Path("p")
    for command in (["hsm", "keygen"], ["hsm", "list"], ["issue"], ["keygen"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--help"])
        shown = capsys.readouterr().out
        assert "--passphrase-file" in shown
        assert "[--pin-file" not in shown and "  --pin-file" not in shown  # hidden alias
    # hsm keygen overwrites nothing (neither a key in the token nor a trust store kid),
    # so it has no --force; keygen has one, for the key file only.
    with pytest.raises(SystemExit):
        parser.parse_args(["hsm", "keygen", "--help"])
    assert "--force" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["keygen", "--help"])
    assert "--force" in capsys.readouterr().out
