"""The NFC side of the command line: write, read, verify, readers and demo on emulators."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

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
    status, out, err = run(capsys, "write", "--reader", reader, card, "--trust", trust)
    assert (status, out) == (2, "") and "sealed by default" in err and "--open-record" in err
    assert not image.exists() or image.read_bytes()[16:18] != b"\x03\x83"
    write = ["write", "--reader", reader, card, "--open-record"]
    status, out, _ = run(capsys, *write, "--trust", trust)
    assert status == 0
    assert out.splitlines() == [
        f"wrote the 116-byte credential to the NTAG213 in {reader} (it held: blank); "
        "35 pages, 37 frames; read back and compared",
        "verified: signature only",
        "OPEN record: it gives away the holder's name, date of birth, gender (if any), issue "
        "and expiry dates, status index and the issuer's signature over them, to any phone or "
        "reader that taps the tag",
        "NOT locked: run again with --lock to make the NTAG213 read-only",
    ]
    assert len(image.read_bytes()) == 180 and image.read_bytes()[16:18] == b"\x03\x83"
    status, out, _ = run(capsys, "read", "--reader", reader, "--out", str(issued / "r.cbor"))
    assert status == 0 and "read 116 bytes from the NTAG213" in out and "in 1 frame;" in out
    assert (issued / "r.cbor").read_bytes() == (issued / "c.cbor").read_bytes()
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", trust)
    assert status == 0 and "signature only" in out and "read and checked in 1 frame\n" in out
    assert "NOT locked: anyone can rewrite this NTAG213" in out
    status, out, _ = run(capsys, *write, "--lock", "--json")
    assert status == 0
    assert json.loads(out) == {
        "medium": "nfc_tag", "reader": reader, "product": "NTAG213", "bytes": 116,
        "writes": 0, "frames": 10, "replaced": "credential", "authenticity": None,
        "locked": True, "originality": None, "sealed": False,
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
    status, out, err = run(capsys, *write)
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
    status, out, _ = run(
        capsys, "write", "--reader", reader, str(bound), "--trust", trust, "--open-record"
    )
    assert status == 0 and "verified: tag uid bound" in out
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", trust)
    assert status == 0
    assert "tag UID bound (a copy needs a tag whose UID can be set)" in out
    assert "the NXP signature does NOT verify: not an original chip" in out
    status, out, err = run(capsys, "write", "--reader", "sim:ntag215", str(bound), "--open-record")
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
    write = ["write", "--reader", f"sim:ntag213:{image}", card, "--open-record"]
    status, _, err = run(capsys, *write)
    assert status == 2 and "needs force (NotOurTag)" in err
    status, out, _ = run(capsys, *write, "--force")
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
    status, out, err = run(
        capsys, "write", "--reader", reader, str(forged), "--trust", trust, "--open-record"
    )
    assert (status, out) == (1, "") and "(BadSignature)" in err
    assert image.read_bytes()[16:18] != b"\x03\x83"  # nothing was written: still factory
    status, _, err = run(capsys, "read", "--reader", reader)
    assert status == 2 and "(BlankTag)" in err
    assert run(capsys, "write", "--reader", reader, str(card), "--open-record")[0] == 0
    other = issued / "other.cbor"
    issue = ["issue", "--key", str(issued / "issuer.pem"), "--name", "Bea Quinta Plimsoll Ruiz"]
    issue += ["--dob", "1990-04-12", "--expires", "2031-11-20", "--status-index", "8"]
    assert run(capsys, *issue, "--out", str(other))[0] == 0
    status, _, err = run(capsys, "write", "--reader", reader, str(other), "--open-record")
    assert status == 2 and "another holder's credential" in err and "(TagNotBlank)" in err
    status, out, _ = run(
        capsys, "write", "--reader", reader, str(other), "--force", "--open-record"
    )
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


def test_demo_seals_an_emulated_ntag215_and_opens_it_with_the_face_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "demo", "--json")
    tag = json.loads(out)["nfc_tag"]
    assert status == 0
    assert (tag["reader"], tag["sealed"], tag["record_bytes"]) == ("sim:ntag215", True, 272)
    assert (tag["tap_alone"], tag["authenticity"]) == ("SealedTag", "tag_uid_bound")
    assert tag["copy"] == "rejected: TagUidMismatch"
    assert tag["qr_characters"] > 200 and tag["pages_written"] == 69
    status, out, _ = run(capsys, "demo")
    assert "== NFC tag: an emulated NXP NTAG215 under nfcpy (sim:ntag215" in out
    assert "a tap alone -> SealedTag: the tag's UID " in out and "no personal byte" in out
    assert "the sealed record copied to another tag -> rejected: TagUidMismatch" in out
    assert "OPEN record" not in out


def test_demo_writes_and_reads_an_emulated_ntag213_with_the_open_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "demo", "--open-record", "--json")
    tag = json.loads(out)["nfc_tag"]
    assert status == 0
    assert (tag["reader"], tag["sealed"], tag["authenticity"], tag["frames_read"]) == (
        "sim:ntag213",
        False,
        "signature_only",
        1,
    )
    assert tag["copy"] == "verifies too: signature_only"
    assert (tag["bound_authenticity"], tag["bound_copy"]) == (
        "tag_uid_bound",
        "rejected: TagUidMismatch",
    )
    status, out, _ = run(capsys, "demo", "--open-record")
    assert "== NFC tag: an emulated NXP NTAG213 under nfcpy" in out
    assert "OPEN record (--open-record): it gives away the holder's name, date of birth" in out
    assert "read and verified in 1 frame after activation" in out


def test_no_tag_data_reaches_a_log_or_an_error(
    issued: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("nfc").setLevel(logging.DEBUG)  # as a careless application might
    image, card, trust = issued / "tag.bin", str(issued / "c.cbor"), str(issued / "trust.json")
    reader = f"sim:ntag213:{image}"
    assert run(capsys, "write", "--reader", reader, card, "--open-record")[0] == 0
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
    personalize += [*HOLDER, "--status-index", "5", "--open-record", "--json"]
    status, out, _ = run(capsys, *personalize)
    result = json.loads(out)
    assert status == 0 and (result["medium"], result["product"]) == ("nfc_tag", "NTAG215")
    assert (result["authenticity"], result["locked"], result["sealed"]) == (
        "tag_uid_bound",
        False,
        False,
    )
    verify = ["verify", "--reader", reader, "--trust", trust, "--all", "--json"]
    status, out, _ = run(capsys, *verify)
    uid = image.read_bytes()[0:3] + image.read_bytes()[4:8]
    verified = json.loads(out)
    assert status == 0 and verified["claims"]["tag_uid"] == uid.hex()
    assert verified["authenticity"] == "tag_uid_bound" and verified["status"] == "unknown"


def test_personalize_seals_a_tag_and_verify_opens_it_with_the_face_qr_code(
    issued: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from cityid_card import qr

    image, trust, key_file = issued / "tag.bin", str(issued / "trust.json"), issued / "tag.key"
    out_file = issued / "p.cbor"
    reader = f"sim:ntag215:{image}"
    personalize = ["personalize", "--reader", reader, "--key", str(issued / "issuer.pem")]
    personalize += [*HOLDER, "--status-index", "6", "--out", str(out_file)]
    status, out, err = run(capsys, *personalize)
    assert (status, out) == (2, "") and "--seal-key FILE" in err
    assert image.read_bytes()[16:19] == bytes.fromhex("0300fe")  # factory-new, untouched
    status, out, _ = run(capsys, *personalize, "--seal-key", str(key_file), "--json")
    result = json.loads(out)
    assert status == 0 and result["sealed"] is True and result["authenticity"] == "tag_uid_bound"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = bytes.fromhex(key_file.read_text())
    blob = out_file.read_bytes()
    memory = image.read_bytes()
    assert b"Ana Sofia" not in memory and blob[-64:] not in memory
    # a tap alone: nothing
    status, out, err = run(capsys, "verify", "--reader", reader, "--trust", trust)
    assert (status, out) == (2, "") and "(SealedTag)" in err and "Ana" not in err
    status, out, err = run(capsys, "read", "--reader", reader)
    assert (status, err) == (1, "")
    assert out == (
        f"the NTAG215 in {reader} holds a SEALED credential: a tap alone reads no personal "
        "byte\nto read it: the card face's QR code opens it: --seal-key-from-qr TEXT (- reads "
        "a scan from standard input), or --seal-key FILE (the key file personalize or write "
        "saved)\n"
    )
    status, out, _ = run(capsys, "read", "--reader", reader, "--json")
    assert (status, json.loads(out)) == (1, {
        "medium": "nfc_tag", "reader": reader, "product": "NTAG215", "locked": None,
        "originality": None, "sealed": True, "verified": False, "bytes": None,
    })  # fmt: skip
    # read opens it with the face's QR code (typed, or scanned into standard input) or
    # with the key file
    read_out = ["read", "--reader", reader, "--out", str(issued / "r.cbor"), "--force"]
    status, out, _ = run(capsys, *read_out, "--seal-key-from-qr", qr.encode_sealed(blob, key))
    assert status == 0 and out.startswith("read ") and "UNVERIFIED" in out
    assert (issued / "r.cbor").read_bytes() == blob
    monkeypatch.setattr("sys.stdin", io.StringIO(qr.encode_sealed(blob, key) + "\n"))
    status, out, _ = run(capsys, "read", "--reader", reader, "--seal-key-from-qr", "-", "--json")
    assert status == 0 and json.loads(out)["bytes"] == len(blob)
    status, out, _ = run(capsys, "read", "--reader", reader, "--seal-key", str(key_file))
    assert status == 0 and f"read {len(blob)} bytes" in out
    status, _, err = run(capsys, "read", "--reader", reader, "--seal-key-from-qr",
                         qr.encode_sealed(blob, bytes(16)))  # fmt: skip
    assert status == 2 and "(SealError)" in err and "Ana" not in err
    status, _, err = run(capsys, "read", "--reader", "sim:card", "--seal-key", str(key_file))
    assert status == 2 and "are for NFC tags, not this medium" in err
    with pytest.raises(SystemExit):  # one key or the other
        run(capsys, "verify", "--reader", reader, "--trust", trust, "--seal-key",
            str(key_file), "--seal-key-from-qr", "-")  # fmt: skip
    assert "not allowed with argument --seal-key" in capsys.readouterr().err
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", trust, "--seal-key",
                         str(key_file))  # fmt: skip
    assert status == 0 and out.startswith("VALID")
    # with the face's QR code
    text = qr.encode_sealed(blob, key)
    verify = ["verify", "--reader", reader, "--trust", trust]
    status, out, _ = run(capsys, *verify, "--seal-key-from-qr", text, "--json")
    assert status == 0 and json.loads(out)["authenticity"] == "tag_uid_bound"
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))
    status, out, _ = run(capsys, *verify, "--seal-key-from-qr", "-")
    assert status == 0 and out.startswith("VALID")
    other = qr.encode_sealed(blob, bytes(16))
    status, out, err = run(capsys, *verify, "--seal-key-from-qr", other)
    assert (
        (status, out) == (2, "") and "does not open with this key" in err and "(SealError)" in err
    )
    status, _, err = run(capsys, *verify, "--seal-key-from-qr", qr.encode(blob))
    assert status == 1 and "holds no tag key" in err and "Ana" not in err
    status, _, err = run(
        capsys, "verify", "--qr", text, "--trust", trust, "--seal-key-from-qr", text
    )
    assert status == 2 and "it needs --reader" in err
    # the face's text verifies with a camera alone too
    status, out, _ = run(capsys, "verify", "--qr", text, "--trust", trust)
    assert status == 0 and out.startswith("VALID")
    # an NTAG213 is too small for a sealed record; nothing is written
    small = issued / "small.bin"
    write = ["write", "--reader", f"sim:ntag213:{small}", str(issued / "c.cbor")]
    status, _, err = run(capsys, *write, "--seal-key", str(issued / "k2"))
    assert status == 2 and "NTAG215 or NTAG216" in err and "(TagCapacityError)" in err
    status, _, err = run(capsys, *write, "--seal-key", str(issued / "k3"), "--open-record")
    assert status == 2 and "takes no --seal-key" in err
    status, _, err = run(capsys, "write", "--reader", "sim:isodep", str(issued / "c.cbor"),
                         "--open-record")  # fmt: skip
    assert status == 2 and "are for NFC tags, not this medium" in err


def _sim_tags(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], dict[str, Any]]:
    """Every tag the sim: readers open from now on, and the fault to break the next one."""
    from cityid_card_nfc import sim

    opened: list[Any] = []
    next_fault: dict[str, Any] = {}
    emulator = sim.NfcSimDriver._emulator

    def breaking(self: Any, target: str) -> Any:
        tag = emulator(self, target)
        opened.append(tag)
        fault = next_fault.pop("fault", None)
        if fault is not None:
            fault(tag)
        return tag

    monkeypatch.setattr(sim.NfcSimDriver, "_emulator", breaking)
    return opened, next_fault


def _remove_at_write(index: int) -> Any:
    """A fault: the tag leaves the field at its ``index``-th WRITE (the stage by turns)."""
    return lambda tag: tag.remove_at_write(index, ("before", "during", "after")[index % 3])


def _refuse_write(index: int) -> Any:
    """A fault: the tag NAKs its ``index``-th WRITE (it refuses the page)."""

    def fault(tag: Any) -> None:
        writes = iter(range(10**6))

        def answer(frame: bytes) -> bytes | None:
            return b"\x00" if frame[0] == 0xA2 and next(writes) == index else None

        tag.fault = answer

    return fault


@pytest.mark.parametrize("command", ["personalize", "write"])
def test_a_sealed_write_that_fails_at_any_step_leaves_no_key_file(
    issued: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    opened, next_fault = _sim_tags(monkeypatch)
    key_file = issued / "tag.key"
    if command == "personalize":
        argv = ["personalize", "--key", str(issued / "issuer.pem"), *HOLDER]
        argv += ["--status-index", "9"]
    else:
        argv = ["write", str(issued / "c.cbor"), "--trust", str(issued / "trust.json")]
    argv += ["--seal-key", str(key_file), "--lock"]
    status, _, err = run(capsys, *argv, "--reader", "sim:ntag215")  # counts the writes
    assert status == 0, err
    writes = opened[-1].writes
    assert writes > 60 and key_file.exists()
    key_file.unlink()
    faults = [_remove_at_write(index) for index in range(writes)]
    faults += [_refuse_write(index) for index in range(0, writes, 5)]
    for number, fault in enumerate(faults):
        next_fault["fault"] = fault
        status, out, err = run(capsys, *argv, "--reader", "sim:ntag215")
        assert status != 0 and out == "", number
        assert "TagRemoved" in err or "TagWriteError" in err, (number, err)
        assert not key_file.exists(), number
    # A tag too small for a sealed record: refused before it is written, no key left.
    status, _, err = run(capsys, *argv, "--reader", "sim:ntag213")
    assert status == 2 and "(TagCapacityError)" in err and not key_file.exists()
    assert opened[-1].writes == 0
    # With --force over an older key file, a failed write puts that file back.
    key_file.write_text("older key file\n")
    next_fault["fault"] = faults[10]
    status, _, err = run(capsys, *argv, "--reader", "sim:ntag215", "--force")
    assert status != 0 and key_file.read_text() == "older key file\n"
