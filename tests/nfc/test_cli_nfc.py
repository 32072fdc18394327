"""The NFC side of the command line: write, read, verify, readers and demo on emulators."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.conftest import run_cli as run

HOLDER = ["--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12", "--expires", "2031-11-20"]


@pytest.fixture
def issued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key, trust = tmp_path / "issuer.pem", tmp_path / "trust.json"
    assert run(capsys, "keygen", "--kid", "CHI-1", "--out", str(key), "--trust", str(trust))[0] == 0
    issue = ["issue", "--key", str(key), *HOLDER, "--issued", "2026-11-21"]
    assert run(capsys, *issue, "--status-index", "7", "--out", str(tmp_path / "c.cbor"))[0] == 0
    return tmp_path


def test_write_read_verify_lock_an_emulated_ntag213(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, card, trust = issued / "tag.bin", str(issued / "c.cbor"), str(issued / "trust.json")
    reader = f"sim:ntag213:{image}"
    status, out, _ = run(capsys, "write", "--reader", reader, card, "--trust", trust)
    assert status == 0
    assert out.splitlines() == [
        f"wrote the 116-byte credential to the NTAG213 in {reader} (it held: blank); "
        "35 pages, 37 frames; read back and compared",
        "verified: signature only",
        "NOT locked: run again with --lock to make the NTAG213 read-only",
    ]
    assert len(image.read_bytes()) == 180 and image.read_bytes()[16:18] == b"\x03\x83"
    status, out, _ = run(capsys, "read", "--reader", reader, "--out", str(issued / "r.cbor"))
    assert status == 0 and "read 116 bytes from the NTAG213" in out and "in 1 frame;" in out
    assert (issued / "r.cbor").read_bytes() == (issued / "c.cbor").read_bytes()
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", trust)
    assert status == 0 and "signature only" in out and "read and checked in 1 frame\n" in out
    assert "NOT locked: anyone can rewrite this NTAG213" in out
    status, out, _ = run(capsys, "write", "--reader", reader, card, "--lock", "--json")
    assert status == 0
    assert json.loads(out) == {
        "medium": "nfc_tag", "reader": reader, "product": "NTAG213", "bytes": 116,
        "writes": 0, "frames": 10, "replaced": "credential", "authenticity": None,
        "locked": True, "originality": None,
    }  # fmt: skip
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", trust, "--json")
    result = json.loads(out)
    assert (status, result["locked"], result["product"], result["frames"]) == (
        0,
        True,
        "NTAG213",
        1,
    )
    assert (result["medium"], result["status"]) == ("nfc_tag", "unknown")
    assert (result["authenticity"], result["originality"]) == ("signature_only", None)
    status, out, err = run(capsys, "write", "--reader", reader, card)
    assert (status, out) == (2, "")
    assert (
        err
        == "error: the tag is read-only: its lock bits or capability container say so (TagLocked)\n"
    )


def test_a_uid_bound_credential_through_the_cli(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, trust = issued / "tag.bin", str(issued / "trust.json")
    reader = f"sim:ntag215:{image}"
    status, out, _ = run(capsys, "read", "--reader", reader, "--json")
    assert status == 2 and json.loads(out)["error"] == "BlankTag"
    status, out, _ = run(capsys, "read", "--reader", reader, "--uid")
    uid = image.read_bytes()[0:3] + image.read_bytes()[4:8]
    assert (status, out) == (0, uid.hex() + "\n")
    status, _, err = run(capsys, "read", "--reader", "sim:card", "--uid")
    assert status == 2 and "reports no UID" in err
    bound = issued / "bound.cbor"
    issue = ["issue", "--key", str(issued / "issuer.pem"), *HOLDER, "--tag-uid", uid.hex(),
             "--status-index", "8"]  # fmt: skip
    assert run(capsys, *issue, "--out", str(bound))[0] == 0
    status, out, _ = run(capsys, "write", "--reader", reader, str(bound), "--trust", trust)
    assert status == 0 and "verified: tag uid bound" in out
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", trust)
    assert status == 0
    assert "tag UID bound (a copy needs a tag whose UID can be set)" in out
    assert "the NXP signature does NOT verify: not an original chip" in out
    status, out, err = run(capsys, "write", "--reader", "sim:ntag215", str(bound))
    assert (status, out) == (1, "")
    assert "bound to another tag's UID" in err and "(TagUidMismatch)" in err


def test_write_refuses_foreign_tags_and_chip_cards(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cityid_card.type2 import NTAG213, data_area_image, factory_memory, with_data_area

    image = issued / "tag.bin"
    foreign = data_area_image(b"\xd1\x01\x0cU\x04example.org", 144)
    image.write_bytes(
        with_data_area(factory_memory(NTAG213, bytes.fromhex("04a1b2c3d4e5f6")), foreign)
    )
    card = str(issued / "c.cbor")
    status, _, err = run(capsys, "write", "--reader", f"sim:ntag213:{image}", card)
    assert status == 2 and "needs force (NotOurTag)" in err
    status, out, _ = run(capsys, "write", "--reader", f"sim:ntag213:{image}", card, "--force")
    assert status == 0 and "(it held: foreign)" in out
    status, _, err = run(capsys, "write", "--reader", "sim:isodep", card)
    assert status == 2 and "(cityid-card personalize) (UnsupportedMedium)" in err
    (issued / "short.bin").write_bytes(bytes(100))
    status, _, err = run(capsys, "read", "--reader", f"sim:ntag213:{issued / 'short.bin'}")
    assert status == 2 and "is not an NTAG213 image (180 bytes, page 0 first)" in err


def test_write_verifies_before_writing_and_keeps_another_holders_credential(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, card, trust = issued / "tag.bin", issued / "c.cbor", str(issued / "trust.json")
    reader = f"sim:ntag213:{image}"
    forged = issued / "forged.cbor"
    forged.write_bytes(card.read_bytes()[:-1] + bytes((card.read_bytes()[-1] ^ 1,)))
    status, out, err = run(capsys, "write", "--reader", reader, str(forged), "--trust", trust)
    assert (status, out) == (1, "") and "(BadSignature)" in err
    assert image.read_bytes()[16:18] != b"\x03\x83"  # nothing was written: still factory
    status, _, err = run(capsys, "read", "--reader", reader)
    assert status == 2 and "(BlankTag)" in err
    assert run(capsys, "write", "--reader", reader, str(card))[0] == 0
    other = issued / "other.cbor"
    issue = ["issue", "--key", str(issued / "issuer.pem"), "--name", "Bea Quinta Plimsoll Ruiz"]
    issue += ["--dob", "1990-04-12", "--expires", "2031-11-20", "--status-index", "8"]
    assert run(capsys, *issue, "--out", str(other))[0] == 0
    status, _, err = run(capsys, "write", "--reader", reader, str(other))
    assert status == 2 and "another holder's credential" in err and "(TagNotBlank)" in err
    status, out, _ = run(capsys, "write", "--reader", reader, str(other), "--force")
    assert status == 0 and "(it held: credential)" in out


def test_an_iso_dep_card_personalised_by_contact_verifies_contactless(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, trust = issued / "card.json", str(issued / "trust.json")
    personalize = [
        "personalize", "--generation", "1", "--reader", f"sim:card:{state}", "--key", str(issued / "issuer.pem"),
        *HOLDER, "--issued", "2026-11-21", "--status-index", "9", "--lock",
    ]  # fmt: skip
    assert run(capsys, *personalize)[0] == 0
    status, out, _ = run(capsys, "verify", "--reader", f"sim:isodep:{state}", "--trust", trust)
    assert status == 0 and "chip authenticated" in out and "card in sim:isodep" in out
    status, out, _ = run(capsys, "read", "--reader", f"sim:isodep:{state}", "--json")
    result = json.loads(out)
    assert status == 0 and result["locked"] is True and result["medium"] == "chip_card"
    assert result["apdus"] == 2 and "product" not in result


def test_readers_lists_the_nfc_emulators(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "readers", "--json")
    uris = [reader["uri"] for reader in json.loads(out)["drivers"]["sim"]["readers"]]
    assert status == 0
    assert uris == ["sim:card", "sim:ntag213", "sim:ntag215", "sim:ntag216", "sim:isodep"]
    assert "nfc" in json.loads(out)["drivers"]


def test_demo_writes_and_reads_an_emulated_ntag213(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "demo", "--json")
    tag = json.loads(out)["nfc_tag"]
    assert status == 0
    assert (tag["reader"], tag["authenticity"], tag["frames_read"]) == (
        "sim:ntag213",
        "signature_only",
        1,
    )
    assert tag["copy"] == "verifies too: signature_only"
    assert (tag["bound_authenticity"], tag["bound_copy"]) == (
        "tag_uid_bound",
        "rejected: TagUidMismatch",
    )
    status, out, _ = run(capsys, "demo")
    assert "== NFC tag: an emulated NXP NTAG213 under nfcpy" in out
    assert "read and verified in 1 frame after activation" in out


def test_no_tag_data_reaches_a_log_or_an_error(
    issued: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("nfc").setLevel(logging.DEBUG)  # as a careless application might
    image, card, trust = issued / "tag.bin", str(issued / "c.cbor"), str(issued / "trust.json")
    reader = f"sim:ntag213:{image}"
    assert run(capsys, "write", "--reader", reader, card)[0] == 0
    texts = list(capsys.readouterr())
    assert run(capsys, "verify", "--reader", reader, "--trust", trust, "--json")[0] == 0
    memory = image.read_bytes()
    image.write_bytes(memory[:16] + b"\x03\xc8" + memory[18:])
    status, out, err = run(capsys, "verify", "--reader", reader, "--trust", trust)
    assert status == 2 and "NdefLengthError" in err
    blob = (issued / "c.cbor").read_bytes()
    for text in [*caplog.messages, *texts, out, err]:
        assert "Ana" not in text and blob[20:30].hex() not in text
    assert not [r for r in caplog.records if r.name.startswith("nfc") and r.levelno < logging.INFO]


def test_demo_without_the_nfc_driver_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("cityid_card.drivers._group", lambda group: {})
    status, out, _ = run(capsys, "demo")
    assert status == 0
    assert (
        "== NFC tags: skipped (the nfc driver is not installed: pip install -e drivers/nfc)" in out
    )


def test_personalize_takes_an_nfc_tag_too_and_binds_its_uid(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, trust = issued / "tag.bin", str(issued / "trust.json")
    reader = f"sim:ntag215:{image}"
    personalize = ["personalize", "--reader", reader, "--key", str(issued / "issuer.pem")]
    status, out, _ = run(capsys, *personalize, *HOLDER, "--status-index", "5", "--json")
    result = json.loads(out)
    assert status == 0 and (result["medium"], result["product"]) == ("nfc_tag", "NTAG215")
    assert (result["authenticity"], result["locked"]) == ("tag_uid_bound", False)
    verify = ["verify", "--reader", reader, "--trust", trust, "--all", "--json"]
    status, out, _ = run(capsys, *verify)
    uid = image.read_bytes()[0:3] + image.read_bytes()[4:8]
    verified = json.loads(out)
    assert status == 0 and verified["claims"]["tag_uid"] == uid.hex()
    assert verified["authenticity"] == "tag_uid_bound" and verified["status"] == "unknown"
