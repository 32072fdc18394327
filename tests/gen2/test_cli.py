"""The generation-2 command line: pki, personalize, verify, on sim:, PC/SC and ISO-DEP."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

HOLDER = ["--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12", "--gender", "X"]
GRANTED = {
    "library": {"name", "expires", "pseudonym", "valid"},
    "transit": {"pseudonym", "valid"},
    "museum": {"pseudonym", "valid"},
    "age-check": {"age_over_21", "valid"},
    "benefits": {"name", "date_of_birth", "gender", "expires", "valid"},
}
PERSONAL = ("Ana Sofia", "1990", "-04-12")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    from cityid_card.cli import main

    args = ["keygen", "--kid", "CHI-2026-1", "--out", str(folder / "issuer.pem")]
    assert main([*args, "--trust", str(folder / "trust.json")]) == 0
    assert main(["pki", "init", "--out", str(folder / "root"), "--holder", "USCHI"]) == 0
    for role in GRANTED:
        out = str(folder / role)
        assert (
            main(["pki", "terminal", "--ca", str(folder / "root"), "--role", role, "--out", out])
            == 0
        )
    return folder


def personalize(city: Path, reader: str, *extra: str) -> list[str]:
    return [
        "personalize", "--reader", reader, "--key", str(city / "issuer.pem"), *HOLDER,
        "--expires", "2031-11-20", "--status-index", "7", "--ca", str(city / "root"), *extra,
    ]  # fmt: skip


def verify(city: Path, reader: str, can: str, role: str) -> list[str]:
    return [
        "verify", "--reader", reader, "--can", can, "--terminal", str(city / role),
        "--trust", str(city / "trust.json"), "--json",
    ]  # fmt: skip


def test_every_role_prints_exactly_its_fields(
    city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = f"sim:card:{tmp_path / 'card.json'}"
    status, out, err = run_cli(capsys, *personalize(city, reader, "--can", "123456", "--json"))
    assert status == 0, err
    assert json.loads(out)["can"] == "123456" and json.loads(out)["generation"] == 2
    for role, keys in GRANTED.items():
        status, out, err = run_cli(capsys, *verify(city, reader, "123456", role))
        assert status == 0, err
        body = json.loads(out)
        assert set(body) == keys and body["valid"] is True
    assert body["gender"] == "X" and body["date_of_birth"] == "1990-04-12"
    # A second card of the batch holds the very same card security object.
    (kept,) = (city / "root").glob("card-security-*.cose")
    other = f"sim:card:{tmp_path / 'other.json'}"
    assert run_cli(capsys, *personalize(city, other, "--can", "654321"))[0] == 0
    states = [json.loads((tmp_path / n).read_text()) for n in ("card.json", "other.json")]
    assert states[0]["card_security"] == states[1]["card_security"] == kept.read_bytes().hex()


def test_a_random_can_is_reported_and_a_wrong_one_exits_1_saying_nothing(
    city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = f"sim:card:{tmp_path / 'card.json'}"
    status, out, _ = run_cli(capsys, *personalize(city, reader))
    assert status == 0
    can = out.split("\nCAN ")[1][:6]
    assert can.isdigit()
    wrong = f"{(int(can) + 1) % 10**6:06d}"
    status, out, err = run_cli(capsys, *verify(city, reader, wrong, "benefits"))
    assert status == 1
    assert not any(text in out + err for text in PERSONAL)
    assert json.loads(out)["error"] == "WrongCan"
    status, out, _ = run_cli(capsys, *verify(city, reader, can, "library")[:-1])
    assert status == 0 and "Ana Sofia Rivera Delgado" in out and "1990" not in out
    trust = str(city / "trust.json")
    status, out, err = run_cli(capsys, "verify", "--reader", reader, "--trust", trust)
    assert status == 2 and "generation-2 card" in err and "Ana" not in out + err


def test_a_version_1_card_still_verifies_with_can_and_terminal(
    city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = f"sim:card:{tmp_path / 'card.json'}"
    status, _, err = run_cli(capsys, *personalize(city, reader, "--generation", "1"))
    assert status == 0, err
    status, out, err = run_cli(capsys, *verify(city, reader, "123456", "library"))
    assert status == 0, err
    assert json.loads(out)["authenticity"] == "chip_authenticated"


def test_generation_2_needs_the_city_root(
    city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = f"sim:card:{tmp_path / 'card.json'}"
    status, _, err = run_cli(capsys, *personalize(city, reader)[:-2])
    assert status == 2 and "--ca DIR" in err


@pytest.mark.skipif(
    shutil.which("cvc-print") is None, reason="OpenPACE's cvc-print is not installed"
)
def test_cvc_print_parses_what_pki_makes(city: Path) -> None:
    files = [city / "root" / "cvca.cvcert"] + [
        city / role / name for role in GRANTED for name in ("dv.cvcert", "terminal.cvcert")
    ]
    for path in files:
        done = subprocess.run(["cvc-print", "--cvc", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "Certificate Holder Reference" in done.stdout or "CHR" in done.stdout


def test_rollover_reaches_old_cards_through_the_link_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cityid_card.cli import main

    assert (
        main(
            [
                "keygen",
                "--kid",
                "K",
                "--out",
                str(tmp_path / "k.pem"),
                "--trust",
                str(tmp_path / "t.json"),
            ]
        )
        == 0
    )
    root = str(tmp_path / "root")
    assert main(["pki", "init", "--out", root]) == 0
    reader = f"sim:card:{tmp_path / 'card.json'}"
    args = ["personalize", "--reader", reader, "--key", str(tmp_path / "k.pem"), *HOLDER,
            "--expires", "2031-11-20", "--status-index", "7", "--ca", root, "--can", "654321"]  # fmt: skip
    assert main(args) == 0
    assert main(["pki", "rollover", "--ca", root]) == 0
    assert (
        main(
            ["pki", "terminal", "--ca", root, "--role", "transit", "--out", str(tmp_path / "gate")]
        )
        == 0
    )
    capsys.readouterr()
    status, out, err = run_cli(capsys, "verify", "--reader", reader, "--can", "654321",
                               "--terminal", str(tmp_path / "gate"), "--trust", str(tmp_path / "t.json"), "--json")  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["valid"] is True
    state = json.loads((tmp_path / "card.json").read_text())
    from cityid_card.eac import cvc

    assert cvc.parse_certificate(bytes.fromhex(state["trust_point"])).body.chr.endswith("00002")


def test_over_nfc_iso_dep(city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cityid_card_nfc")
    state = tmp_path / "card.json"
    status, _, err = run_cli(capsys, *personalize(city, f"sim:isodep:{state}", "--can", "111111"))
    assert status == 0, err
    for role in ("library", "age-check"):
        status, out, err = run_cli(capsys, *verify(city, f"sim:isodep:{state}", "111111", role))
        assert status == 0, err
        assert set(json.loads(out)) == GRANTED[role]
