"""``cityid-card watch`` on a sealed NFC tag: the card face's CIDS1 code typed by a scanner on
stdin, no --terminal; nothing of the key or the holder printed beyond what the policy shows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

from .conftest import HOLDER, Issuer
from .test_loop_sealed import KEY, OTHER_KEY, sealed_tag


@pytest.fixture
def tag(issuer: Issuer, tmp_path: Path) -> tuple[str, str, Path]:
    """The ``sim:ntag215`` reader of a sealed tag's image, its face's code, the trust file."""
    image, trust = tmp_path / "tag.bin", tmp_path / "trust.json"
    emulated, face = sealed_tag(issuer)
    image.write_bytes(bytes(emulated.memory))
    issuer.trust.save(trust)
    return f"sim:ntag215:{image}", face, trust


def _watch(reader: str, trust: Path, *extra: str) -> list[str]:
    return [
        "watch", "--reader", reader, "--trust", str(trust),
        "--count", "1", "--interval", "0.01", *extra,
    ]  # fmt: skip


def _secrets(face: str) -> list[str]:
    """What must never be printed: the keys, the face's code, the date of birth."""
    return [KEY.hex(), OTHER_KEY.hex(), face[6:], "1990"]


def test_the_scanned_face_opens_the_tag_under_the_library_policy(
    tag: tuple[str, str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reader, face, trust = tag
    monkeypatch.setattr("sys.stdin", io.StringIO("not a card\n" + face + "\r\n"))
    status, out, err = run_cli(capsys, *_watch(reader, trust, "--json", "--policy", "library"))
    assert status == 0, err
    *waiting, last = [json.loads(line) for line in out.splitlines()]
    # Read before the scan came (the scanner's thread is not waited for): it asked for it.
    assert all(event["error"] == "SealKeyRequired" for event in waiting)
    assert last == {
        "event": "arrival",
        "reader": reader,
        "valid": True,
        "name": HOLDER,
        "expires": "2031-11-20",
        "authenticity": "tag_uid_bound",
        "status_list_age_days": None,
    }
    assert "ignored" in err and "not a card" not in err
    assert not any(secret in out + err for secret in _secrets(face))


def test_the_text_lines_say_to_scan_the_face_and_then_what_the_policy_allows(
    tag: tuple[str, str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reader, face, trust = tag
    monkeypatch.setattr("sys.stdin", io.StringIO(face + "\n"))
    status, out, err = run_cli(capsys, *_watch(reader, trust, "--policy", "transit"))
    assert status == 0, err
    *waiting, last = out.splitlines()
    assert all(
        line == f"card on {reader}: a sealed tag: scan the QR code on its card face"
        for line in waiting
    )
    assert last == f"card on {reader}: VALID [tag_uid_bound]"
    assert HOLDER not in out + err
    assert not any(secret in out + err for secret in _secrets(face))


def test_another_cards_face_is_a_rejection_that_says_nothing_personal(
    issuer: Issuer,
    tag: tuple[str, str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reader, face, trust = tag
    _, other = sealed_tag(issuer, OTHER_KEY)
    monkeypatch.setattr("sys.stdin", io.StringIO(other + "\n"))
    status, out, err = run_cli(capsys, *_watch(reader, trust, "--policy", "benefits"))
    assert status == 0, err
    assert out.splitlines()[-1] == f"card on {reader}: NOT ACCEPTED (SealError)"
    assert HOLDER not in out + err
    assert not any(secret in out + err for secret in [*_secrets(face), other[6:]])


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_watch_runs_where_standard_input_cannot_be_read(
    issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under pytest, stdin raises when read: the scanner's thread ends, the loop reads on."""
    from tests.desk.test_loop import _written_tag

    image, trust = tmp_path / "tag.bin", tmp_path / "trust.json"
    image.write_bytes(bytes(_written_tag(issuer).memory))  # an open record: no face needed
    issuer.trust.save(trust)
    status, out, err = run_cli(capsys, *_watch(f"sim:ntag213:{image}", trust, "--json"))
    assert status == 0 and err == ""
    assert json.loads(out)["valid"] is True
