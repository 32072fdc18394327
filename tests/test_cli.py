"""The cityid-card command line, end to end in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cityid_card.cli import main
from tests.conftest import run_cli as run

HOLDER = ["--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12", "--gender", "X"]


@pytest.fixture
def issued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key, trust, card = tmp_path / "issuer.pem", tmp_path / "trust.json", tmp_path / "card.cbor"
    assert (
        run(capsys, "keygen", "--kid", "CHI-2026-1", "--out", str(key), "--trust", str(trust))[0]
        == 0
    )
    status, out, _ = run(
        capsys, "issue", "--key", str(key), *HOLDER, "--issued", "2026-11-21",
        "--expires", "2031-11-20", "--status-index", "99999", "--out", str(card),
    )  # fmt: skip
    assert status == 0
    assert "120 bytes" not in out and "122 bytes" in out  # 24-char name + gender "X"
    return tmp_path


def test_keygen_issue_verify(issued: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "verify", str(issued / "card.cbor"), "--trust", str(issued / "trust.json"),
        "--at", "2027-01-01",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out == (
        "VALID  ES256, issuer key CHI-2026-1, status unknown\n"
        "  name           Ana Sofia Rivera Delgado\n"
        "  expires        2031-11-20\n"
    )  # what a desk needs: no date of birth, no status index (a tracking identifier)
    status, out, _ = run(
        capsys, "verify", str(issued / "card.cbor"), "--trust", str(issued / "trust.json"),
        "--at", "2027-01-01", "--show", "dob,status-index",
    )  # fmt: skip
    assert status == 0
    assert out.splitlines()[1:] == [
        "  name           Ana Sofia Rivera Delgado",
        "  date of birth  1990-04-12",
        "  expires        2031-11-20",
        "  status index   99999",
    ]
    status, out, _ = run(
        capsys, "verify", str(issued / "card.cbor"), "--trust", str(issued / "trust.json"),
        "--at", "2027-01-01", "--all",
    )  # fmt: skip
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "name", "date", "gender", "issued", "expires", "status",
    ]  # fmt: skip


def test_verify_json(issued: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["verify", str(issued / "card.cbor"), "--trust", str(issued / "trust.json"), "--json"]
    status, out, _ = run(capsys, *args, "--at", "2027-01-01T10:00:00-06:00")
    assert status == 0
    result = json.loads(out)
    assert result == {
        "valid": True,
        "kid": "CHI-2026-1",
        "alg": "ES256",
        "status": "unknown",
        "claims": {"name": "Ana Sofia Rivera Delgado", "expires": "2031-11-20"},
    }
    status, out, _ = run(capsys, *args, "--at", "2027-01-01", "--all")
    assert json.loads(out)["claims"] == {
        "name": "Ana Sofia Rivera Delgado", "date_of_birth": "1990-04-12",
        "issued": "2026-11-21", "expires": "2031-11-20", "status_index": 99999,
        "gender": "X", "card_key": None, "tag_uid": None, "pseudonym_key": None,
    }  # fmt: skip
    status, out, _ = run(capsys, *args, "--at", "2027-01-01", "--show", "dob")
    assert json.loads(out)["claims"] == {
        "name": "Ana Sofia Rivera Delgado", "date_of_birth": "1990-04-12", "expires": "2031-11-20",
    }  # fmt: skip
    status, out, _ = run(capsys, *args, "--at", "2032-01-01")
    assert status == 1
    assert json.loads(out) == {
        "valid": False, "error": "Expired",
        "message": "the credential expired before the verification date",
    }  # fmt: skip


def test_rejections_are_one_line_without_personal_data(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = issued / "card.cbor"
    data = bytearray(card.read_bytes())
    data[30] ^= 0x04
    card.write_bytes(bytes(data))
    status, out, err = run(capsys, "verify", str(card), "--trust", str(issued / "trust.json"))
    assert (status, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("INVALID: ") and "(BadSignature)" in err
    assert "Ana" not in err and "1990" not in err


def test_wrong_trust_store_is_unknown_issuer(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = issued / "other.json"
    assert run(capsys, "keygen", "--kid", "NYC-1", "--alg", "EdDSA", "--out",
               str(issued / "nyc.pem"), "--trust", str(other))[0] == 0  # fmt: skip
    status, _, err = run(capsys, "verify", str(issued / "card.cbor"), "--trust", str(other))
    assert status == 1 and "(UnknownIssuer)" in err


def test_inspect_is_labelled_unverified(issued: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "inspect", str(issued / "card.cbor"))
    assert status == 0
    assert out.startswith("UNVERIFIED")
    assert "Ana Sofia Rivera Delgado" in out
    status, out, _ = run(capsys, "inspect", str(issued / "card.cbor"), "--json")
    assert json.loads(out)["verified"] is False
    (issued / "junk").write_bytes(b"\x00\x01")
    status, _, err = run(capsys, "inspect", str(issued / "junk"))
    assert status == 1 and "(MalformedCredential)" in err


def test_keygen_adds_to_the_trust_store_and_refuses_a_reused_kid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "trust.json"
    for number, alg in enumerate(("ES256", "EdDSA")):
        status, _, _ = run(capsys, "keygen", "--alg", alg, "--kid", f"K{number}",
                           "--out", str(tmp_path / f"k{number}.pem"), "--trust", str(trust))  # fmt: skip
        assert status == 0
    assert [k["kid"] for k in json.loads(trust.read_text())["keys"]] == ["K0", "K1"]
    status, _, err = run(capsys, "keygen", "--kid", "K0", "--out", str(tmp_path / "again.pem"),
                         "--trust", str(trust))  # fmt: skip
    assert status == 2 and "K0" in err
    assert not (tmp_path / "again.pem").exists()
    before = (tmp_path / "k0.pem").read_bytes()
    status, _, err = run(capsys, "keygen", "--kid", "K9", "--out", str(tmp_path / "k0.pem"),
                         "--trust", str(trust))  # fmt: skip
    assert (
        status == 2
        and err == f"error: {tmp_path / 'k0.pem'} already exists: add --force to replace it\n"
    )
    assert (tmp_path / "k0.pem").read_bytes() == before
    assert [k["kid"] for k in json.loads(trust.read_text())["keys"]] == ["K0", "K1"]
    status, _, err = run(capsys, "keygen", "--kid", "K9", "--out", str(tmp_path / "k0.pem"),
                         "--trust", str(trust), "--force")  # fmt: skip
    assert (status, err) == (0, "")
    assert (tmp_path / "k0.pem").read_bytes() != before
    assert (tmp_path / "k0.pem").stat().st_mode & 0o777 == 0o600


def test_passphrase_protected_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    key, trust = tmp_path / "k.pem", tmp_path / "t.json"
    assert run(capsys, "keygen", "--kid", "K", "--out", str(key), "--trust", str(trust),
               "--passphrase-file", str(secret))[0] == 0  # fmt: skip
    issue = [
        "issue",
        "--key",
        str(key),
        *HOLDER,
        "--expires",
        "2099-01-01",
        "--status-index",
        "1",
        "--out",
        str(tmp_path / "c"),
    ]
    status, _, err = run(capsys, *issue)
    assert status == 2 and "(PassphraseRequired)" in err
    assert run(capsys, *issue, "--passphrase-file", str(secret))[0] == 0


def test_issue_refuses_values_outside_the_format(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "issue", "--key", str(issued / "issuer.pem"), "--name", "Ana\nRivera",
                         "--dob", "1990-04-12", "--expires", "2031-01-01", "--status-index", "1",
                         "--out", str(issued / "x"))  # fmt: skip
    assert status == 1 and "(InvalidClaim)" in err and "Rivera" not in err
    assert not (issued / "x").exists()


def test_bad_date_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["issue", "--key", "k", *HOLDER, "--expires", "tomorrow", "--out", "x"])
    assert caught.value.code == 2


def test_missing_file_is_a_usage_error(issued: Path, capsys: pytest.CaptureFixture[str]) -> None:
    absent = issued / "nosuch.cbor"
    status, _, err = run(capsys, "verify", str(absent), "--trust", str(issued / "t"))
    assert (status, err) == (2, f"error: {issued / 't'}: no such file\n")
    status, _, err = run(capsys, "verify", str(absent), "--trust", str(issued / "trust.json"))
    assert (status, err) == (2, f"error: {absent}: no such file\n")


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "demo")
    assert status == 0
    assert out.count("VALID  ") == 2
    assert out.count("one flipped bit -> rejected: BadSignature") == 2
    status, out, _ = run(capsys, "demo", "--json")
    results = json.loads(out)["credentials"]
    assert [(r["alg"], r["bytes"], r["tampered"]) for r in results] == [
        ("ES256", 120, "BadSignature"),
        ("EdDSA", 120, "BadSignature"),
    ]


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "cityid_card"], [str(Path(sys.executable).parent / "cityid-card")]],
    ids=["python -m", "console script"],
)
def test_entry_points(command: list[str]) -> None:
    done = subprocess.run([*command, "demo", "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["credentials"]) == 2


def test_revocation_flow(issued: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key, trust = str(issued / "issuer.pem"), str(issued / "trust.json")
    registry, signed, card = issued / "registry.json", issued / "status.cwt", issued / "c2.cbor"
    assert (
        run(capsys, "status-list", "build", "--key", key, "--size", "4096", "--out", str(registry))[
            0
        ]
        == 0
    )
    status, out, _ = run(
        capsys, "issue", "--key", key, *HOLDER, "--expires", "2099-01-01", "--registry", str(registry),
        "--out", str(card), "--json",
    )  # fmt: skip
    assert status == 0
    index = json.loads(run(capsys, "inspect", str(card), "--json")[1])["claims"]["status_index"]
    verify = ["verify", str(card), "--trust", trust, "--status-list", str(signed), "--json"]

    def publish() -> None:
        assert run(capsys, "status-list", "sign", "--key", key, "--registry", str(registry),
                   "--out", str(signed), "--force")[0] == 0  # fmt: skip

    publish()
    status, out, _ = run(capsys, *verify)
    assert (status, json.loads(out)["status"]) == (0, "valid")
    for flag, error in (("--suspend", "Suspended"), ("", "Revoked")):
        change = ["revoke", "--registry", str(registry), "--index", str(index)]
        assert run(capsys, *change, *([flag] if flag else []))[0] == 0
        publish()
        status, out, _ = run(capsys, *verify)
        assert (status, json.loads(out)["error"]) == (1, error)
    assert (
        run(capsys, "revoke", "--registry", str(registry), "--index", str(index), "--reinstate")[0]
        == 0
    )
    publish()
    assert run(capsys, *verify)[0] == 0
    status, out, _ = run(
        capsys, "verify", str(issued / "card.cbor"), "--trust", trust, "--require-status", "--json"
    )
    assert (status, json.loads(out)["error"]) == (1, "StatusUnknown")
    status, _, err = run(capsys, "status-list", "build", "--key", key, "--out", str(registry))
    assert status == 2 and "already exists: add --force" in err
    status, _, err = run(capsys, "status-list", "sign", "--key", key, "--registry", str(registry),
                         "--out", str(signed))  # fmt: skip
    assert status == 2 and "already exists: add --force" in err
    assert registry.stat().st_mode & 0o777 == 0o644 and signed.stat().st_mode & 0o777 == 0o644
    status, _, err = run(capsys, "revoke", "--registry", str(registry), "--index", "4096")
    assert status == 2 and "(StatusListError)" in err


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """`cityid-card demo --json | head -c0`: no traceback, the exit status of a broken pipe."""
    command = [str(Path(sys.executable).with_name("cityid-card")), "demo", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the interpreter has started and written anything
    errors = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert errors == b""
