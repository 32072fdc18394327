"""The command line for people: errors, files, help, completion, colour, QR streams.

Issue 10, sections 7 and 8: input echoed in errors, untyped failures, silent
overwrites, messages for programmers, help, what verify shows, issue without a
registry, docs that disagree with the output.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import select
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from cityid_card import _json, qr
from cityid_card._files import write_file
from cityid_card.cli import COMMAND_GROUPS, build_parser
from cityid_card.cli._common import CLAIM_ORDER, SHOWABLE, paint
from cityid_card.credential import Credential
from cityid_card.errors import JSONInputError
from tests.conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
NAME = "Zyxwquartz Plimsoll"  # a name no message of ours contains
HOLDER = ["--name", NAME, "--dob", "1990-04-12", "--expires", "2031-11-20"]


@pytest.fixture
def station(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A key, its trust store and one credential (card.cbor), in a temporary folder."""
    key, trust = tmp_path / "issuer.pem", tmp_path / "trust.json"
    assert run(capsys, "keygen", "--kid", "CHI-1", "--out", str(key), "--trust", str(trust))[0] == 0
    status, _, err = run(
        capsys, "issue", "--key", str(key), *HOLDER, "--issued", "2026-11-21",
        "--status-index", "4711", "--out", str(tmp_path / "card.cbor"),
    )  # fmt: skip
    assert (status, err) == (0, "")
    return tmp_path


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        run(capsys, *argv)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err


# -- usage errors never echo what was typed ------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # an unquoted name: argparse printed "unrecognized arguments: Plimsoll"
        (["issue", "--key", "k", "--name", "Zyxwquartz", "Plimsoll", "--dob", "1990-04-12",
          "--expires", "2031-11-20", "--out", "x"], "quote values that contain spaces"),
        (["keygen", "--alg", "Zyxwquartz", "--kid", "K", "--out", "k", "--trust", "t"],
         "argument --alg: not one of the choices (ES256, EdDSA)"),
        (["issue", "--key", "k", *HOLDER, "--status-index", "Zyxwquartz", "--out", "x"],
         "argument --status-index: expected a whole number"),
        (["status-list", "build", "--key", "k", "--out", "r", "--bits", "Zyxwquartz"],
         "argument --bits: expected a whole number"),
        (["verify", "c", "--trust", "t", "--s=Zyxwquartz"], "write it in full"),
        (["verify", "c", "--trust", "t", "--json=Zyxwquartz"], "argument --json: takes no value"),
        (["Zyxwquartz"], "error: not a command of cityid-card\n"),
        (["read", "--reader", "sim:card", "--timeout", "Zyxwquartz"],
         "argument --timeout: expected a number"),
        (["status-list", "Zyxwquartz"], "argument ACTION: not one of the choices (build, sign, show, publish)"),
        (["verify", "c", "--trust", "t", "--show", "Zyxwquartz"], "expected field names from"),
        (["issue", "--key", "k", "--name", NAME, "--dob", "Zyxwquartz", "--expires", "2031-11-20",
          "--out", "x"], "expected a date as YYYY-MM-DD"),
    ],
)  # fmt: skip
def test_usage_errors_never_echo_input(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    err = _usage_error(capsys, *argv)
    assert expected in err
    assert "Zyxwquartz" not in err and "Plimsoll" not in err


def test_a_usage_error_shows_the_subcommands_own_usage(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "verify", "card.cbor", "--trust", "t.json", "--bogus")
    assert err.startswith("usage: cityid-card verify ")
    assert "cityid-card verify: error: unexpected extra argument(s)" in err
    assert "--bogus" not in err and "COMMAND" not in err
    err = _usage_error(capsys, "status-list", "sign", "--key", "k", "--registry", "r", "extra")
    assert err.startswith("usage: cityid-card status-list sign ")


def test_an_impossible_date_is_not_called_a_format_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["issue", "--key", "k", "--name", NAME, "--expires", "2031-11-20", "--out", "x"]
    err = _usage_error(capsys, *base, "--dob", "1962-02-29")
    assert "argument --dob: not a date in the calendar" in err and "1962" not in err
    err = _usage_error(capsys, *base, "--dob", "1962/02/28")
    assert "argument --dob: expected a date as YYYY-MM-DD" in err


# -- file errors in words, naming the file ---------------------------------------------


def test_file_errors_name_the_file_in_words(
    station: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = str(station / "trust.json")
    status, _, err = run(capsys, "verify", str(station / "nosuch.cbor"), "--trust", trust)
    assert (status, err) == (2, f"error: {station / 'nosuch.cbor'}: no such file\n")
    status, _, err = run(capsys, "inspect", str(station))
    assert (status, err) == (2, f"error: {station}: is a folder, not a file\n")
    # a key file given as the trust store
    status, _, err = run(capsys, "verify", str(station / "card.cbor"), "--trust",
                         str(station / "issuer.pem"))  # fmt: skip
    assert status == 2
    assert "issuer.pem is a key file, not a trust store (the trust.json that keygen --trust" in err
    assert "JSON" not in err
    # QR code text saved to a file and given as a credential file
    text = station / "scan.txt"
    text.write_text(qr.encode((station / "card.cbor").read_bytes()) + "\n")
    status, _, err = run(capsys, "verify", str(text), "--trust", trust)
    assert (status, err) == (2, f"error: {text} holds QR code text, not a credential file: "
                                f"use --qr {text}\n")  # fmt: skip
    status, out, _ = run(
        capsys, "verify", "--qr", str(text), "--trust", trust, "--at", "2027-01-01"
    )
    assert status == 0 and out.startswith("VALID  Zyxwquartz Plimsoll, expires 2031-11-20")
    # a missing output folder
    status, _, err = run(capsys, "issue", "--key", str(station / "issuer.pem"), *HOLDER,
                         "--status-index", "1", "--out", str(station / "no" / "card.cbor"))  # fmt: skip
    assert (status, err) == (
        2,
        f"error: {station / 'no' / 'card.cbor'}: its folder does not exist\n",
    )


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
        ('{"keys": [], "n": ' + "9" * 5000 + "}", "an integer has more than 40 digits"),
        ('{"keys": [], "keys": []}', "the same key twice"),
        ('{"keys": [NaN]}', "NaN is not a JSON value"),
        ('{"keys": [1e999]}', "a number is too large"),
        ('{"keys": [}', "not valid JSON: expecting value (line 1, column 11)"),
    ],
)
def test_hostile_json_is_a_typed_error_with_exit_2(
    station: Path, capsys: pytest.CaptureFixture[str], document: str, reason: str
) -> None:
    """RecursionError and a bare ValueError used to escape: a traceback and exit 1."""
    hostile = station / "hostile.json"
    hostile.write_text(document)
    status, _, err = run(capsys, "verify", str(station / "card.cbor"), "--trust", str(hostile))
    assert status == 2 and reason in err and "(TrustStoreError)" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    key = str(station / "issuer.pem")
    status, _, err = run(capsys, "issue", "--key", key, *HOLDER, "--registry", str(hostile),
                         "--out", str(station / "new.cbor"))  # fmt: skip
    assert status == 2 and reason in err and "(StatusListError)" in err
    assert not (station / "new.cbor").exists()
    status, out, _ = run(capsys, "revoke", "--registry", str(hostile), "--index", "1", "--json")
    result = json.loads(out)
    assert status == 2 and result["error"] == "StatusListError" and reason in result["message"]


def test_json_reader_limits() -> None:
    assert _json.loads(b'{"a": [1, -2, 3.5, "[[[[", true, null]}') == {
        "a": [1, -2, 3.5, "[[[[", True, None]
    }
    assert _json.loads("[" * 32 + "]" * 32) is not None
    with pytest.raises(JSONInputError, match="nested deeper"):
        _json.loads("[" * 33 + "]" * 33)
    assert _json.loads("-" + "9" * 40) == -int("9" * 40)
    with pytest.raises(JSONInputError, match="more than 40 digits"):
        _json.loads("9" * 41)
    with pytest.raises(JSONInputError, match="larger than 10 bytes"):
        _json.loads(b"[" + b" " * 10 + b"]", max_bytes=10)
    with pytest.raises(JSONInputError, match="not UTF-8"):
        _json.loads(b'"\xff"')
    assert _json.loads(b"\xef\xbb\xbf[]") == []  # a byte order mark, as Notepad writes


# -- one rule for output files ---------------------------------------------------------


def test_issue_refuses_to_overwrite_and_writes_owner_only(
    station: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = station / "card.cbor"
    assert card.stat().st_mode & 0o777 == 0o600  # personal data: it was 0644
    before = card.read_bytes()
    issue = ["issue", "--key", str(station / "issuer.pem"), *HOLDER, "--status-index", "2",
             "--out", str(card)]  # fmt: skip
    status, _, err = run(capsys, *issue)
    assert (status, err) == (2, f"error: {card} already exists: add --force to replace it\n")
    assert card.read_bytes() == before
    assert run(capsys, *issue, "--force")[0] == 0
    assert card.read_bytes() != before and card.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in station.iterdir() if p.name.startswith(".")) == []


def test_write_file_never_replaces_without_replace(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    write_file(target, b"first", replace=False, mode=0o600)
    with pytest.raises(FileExistsError):
        write_file(target, b"second", replace=False, mode=0o600)
    assert target.read_bytes() == b"first"
    write_file(target, "third", replace=True, mode=0o644)
    assert target.read_bytes() == b"third" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary file left


def test_issue_without_a_registry_or_an_index_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A random index recorded nowhere: the card could never be revoked."""
    out = tmp_path / "card.cbor"
    status, _, err = run(capsys, "issue", "--key", str(tmp_path / "absent.pem"), *HOLDER,
                         "--out", str(out))  # fmt: skip
    assert status == 2 and "no status index: give --registry FILE (recommended)" in err
    assert not out.exists()


# -- what verify shows -----------------------------------------------------------------


def test_every_claim_has_a_place_in_the_display_order() -> None:
    assert sorted(CLAIM_ORDER) == sorted(field.name for field in fields(Credential))
    assert set(SHOWABLE.values()) == set(CLAIM_ORDER) - {"name", "expires"}


def test_qr_stream_gives_one_result_per_line(
    station: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = (station / "card.cbor").read_bytes()
    tampered = bytearray(blob)
    tampered[30] ^= 0x04
    scans = [qr.encode(blob), qr.encode(bytes(tampered)), "", qr.encode(blob)]
    args = ["verify", "--qr", "-", "--trust", str(station / "trust.json"), "--at", "2027-01-01"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\r\n".join(scans) + "\r\n"))
    status, out, err = run(capsys, *args)
    assert (status, err) == (1, "")  # one rejected: exit 1
    assert out.splitlines() == [
        "VALID  Zyxwquartz Plimsoll, expires 2031-11-20, issuer key CHI-1, status unknown",
        "INVALID  line 2: the signature does not verify under the issuer key (BadSignature)",
        "VALID  Zyxwquartz Plimsoll, expires 2031-11-20, issuer key CHI-1, status unknown",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(scans)))
    status, out, _ = run(capsys, *args, "--json", "--show", "dob")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["line"], r["valid"]) for r in lines] == [(1, True), (2, False), (4, True)]
    assert lines[0]["claims"] == {
        "name": NAME, "date_of_birth": "1990-04-12", "expires": "2031-11-20"
    }  # fmt: skip
    assert lines[1]["error"] == "BadSignature"
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n"))
    status, _, err = run(capsys, *args)
    assert (status, err) == (2, "error: no QR code text to verify: the input is empty\n")


def test_colour_only_on_a_terminal_and_never_with_no_color(
    station: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert paint("VALID", "green", io.StringIO()) == "VALID"

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert paint("VALID", "green", Terminal()) == "\033[32mVALID\033[0m"
    assert paint("INVALID", "red", Terminal()) == "\033[31mINVALID\033[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert paint("VALID", "green", Terminal()) == "VALID"
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: no effect, as no-color.org says
    assert paint("VALID", "green", Terminal()) != "VALID"
    monkeypatch.setenv("TERM", "dumb")
    assert paint("VALID", "green", Terminal()) == "VALID"
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    status, out, _ = run(capsys, "verify", str(station / "card.cbor"), "--trust",
                         str(station / "trust.json"), "--at", "2027-01-01")  # fmt: skip
    assert status == 0 and out.startswith("\033[32mVALID\033[0m  ES256")


# -- help ------------------------------------------------------------------------------


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    found = []

    def walk(parser: argparse.ArgumentParser) -> None:
        found.append((parser.prog, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    walk(child)

    walk(build_parser())
    return found


def test_commands_are_grouped_each_exactly_once() -> None:
    top = build_parser()
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    grouped = [name for _, names in COMMAND_GROUPS for name in names]
    assert sorted(grouped) == sorted(commands.choices)
    help_text = top.format_help()
    for title, names in COMMAND_GROUPS:
        assert f"\n{title}:\n" in help_text
        for name in names:
            assert re.search(rf"^  {re.escape(name)} +\S", help_text, re.MULTILINE)


@pytest.mark.parametrize("prog", sorted(prog for prog, _ in _parsers()))
def test_help_is_plain_text_with_descriptions_defaults_and_examples(prog: str) -> None:
    parser = dict(_parsers())[prog]
    for action in parser._actions:
        assert action.help, f"{prog}: {action.option_strings or action.dest} has no description"
    text = parser.format_help()
    assert "``" not in text and ":class:" not in text and "`" not in text
    assert "\nexamples:\n  cityid-card " in text


def test_help_of_every_command_has_no_markup_and_shows_defaults() -> None:
    for prog, parser in _parsers():
        text = parser.format_help()
        assert "``" not in text and ":class:" not in text, prog
        for nothing in ("None", "False", "[]", "frozenset()"):
            assert f"(default: {nothing})" not in text, prog
    sign = dict(_parsers())["cityid-card status-list sign"].format_help()
    assert "(default: 7)" in " ".join(sign.split())


# -- completion ------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_know_the_commands_and_parse(
    shell: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "completion", shell)
    assert status == 0
    for word in ("verify", "status-list", "--trust", "--registry", "completion"):
        assert word in out
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} is not installed")
    script = tmp_path / f"cityid-card.{shell}"
    script.write_text(out)
    checked = subprocess.run([program, "-n", str(script)], capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr


# -- the guides agree with the output --------------------------------------------------


def _block_after(text: str, marker: str) -> str:
    start = text.index(marker)
    match = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL).search(text, start)
    assert match is not None
    return match.group(1)


def test_docs_verifying_shows_the_real_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = (ROOT / "docs" / "verifying.md").read_text()
    key, trust, card = tmp_path / "issuer.pem", tmp_path / "trust.json", tmp_path / "card.cbor"
    assert (
        run(capsys, "keygen", "--kid", "CHI-2026-1", "--out", str(key), "--trust", str(trust))[0]
        == 0
    )
    assert run(capsys, "issue", "--key", str(key), "--name", "Ana Sofia Rivera Delgado",
               "--dob", "1990-04-12", "--gender", "X", "--issued", "2026-11-21",
               "--expires", "2031-11-20", "--status-index", "348266", "--out", str(card))[0] == 0  # fmt: skip
    verify = ["verify", str(card), "--trust", str(trust), "--at", "2027-01-01"]
    for marker, extra in (
        ("A valid card prints to standard output:", []),
        ("With `--all`:", ["--all"]),
        ("A valid card, with `--json`:", ["--json"]),
        ("And with `--json --show dob,status-index`:", ["--json", "--show", "dob,status-index"]),
    ):
        status, out, _ = run(capsys, *verify, *extra)
        assert status == 0
        assert _block_after(guide, marker) == out, marker


def test_docs_verifying_python_reading_example_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's "Reading a card or tag from Python" code, on the card emulator."""
    guide = (ROOT / "docs" / "verifying.md").read_text()
    code = _block_after(guide, "## Reading a card or tag from Python")
    monkeypatch.chdir(tmp_path)
    assert (
        run(capsys, "keygen", "--kid", "CHI-1", "--out", "issuer.pem", "--trust", "trust.json")[0]
        == 0
    )
    state = tmp_path / "card.json"
    assert run(capsys, "personalize", "--generation", "1", "--reader", f"sim:card:{state}", "--key", "issuer.pem",
               "--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12",
               "--expires", "2031-11-20", "--status-index", "7")[0] == 0  # fmt: skip
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/verifying.md", "exec"), namespace)
    check = namespace["check_presented_card"]
    assert callable(check)
    assert check(f"sim:card:{state}") == (
        "Ana Sofia Rivera Delgado, valid through 20 November 2031 (chip authenticated)"
    )
    assert check("sim:card") == "Could not read the card: BlankCard"


def test_tag_images_and_read_out_files_are_owner_only_and_never_overwritten(
    station: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("cityid_card_nfc")
    image, out = station / "tag.bin", station / "read.cbor"
    reader = f"sim:ntag213:{image}"
    assert run(capsys, "write", "--reader", reader, str(station / "card.cbor"))[0] == 0
    assert image.stat().st_mode & 0o777 == 0o600  # the tag's memory holds the credential
    assert run(capsys, "read", "--reader", reader, "--out", str(out))[0] == 0
    assert out.read_bytes() == (station / "card.cbor").read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600
    status, _, err = run(capsys, "read", "--reader", reader, "--out", str(out))
    assert (status, err) == (2, f"error: {out} already exists: add --force to replace it\n")
    assert run(capsys, "read", "--reader", reader, "--out", str(out), "--force")[0] == 0


def test_docs_nfc_shows_the_real_tag_output(
    station: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/nfc.md said "status good", a status verify never prints."""
    pytest.importorskip("cityid_card_nfc")
    guide = (ROOT / "docs" / "nfc.md").read_text()
    blocks = re.findall(r"```[a-z]*\n(.*?)```", guide, re.DOTALL)
    shown = next(block for block in blocks if block.startswith("VALID  "))
    key, trust, card = station / "k2.pem", station / "t2.json", station / "ana.cbor"
    assert run(capsys, "keygen", "--kid", "CHI-2026-1", "--out", str(key),
               "--trust", str(trust))[0] == 0  # fmt: skip
    assert run(capsys, "issue", "--key", str(key), "--name", "Ana Sofia Rivera Delgado",
               "--dob", "1990-04-12", "--expires", "2031-11-20", "--status-index", "1",
               "--out", str(card))[0] == 0  # fmt: skip
    reader = f"sim:ntag213:{station / 'tag.bin'}"
    assert run(capsys, "write", "--reader", reader, str(card), "--lock")[0] == 0
    status, out, _ = run(capsys, "verify", "--reader", reader, "--trust", str(trust))
    assert status == 0
    assert out.replace(reader, "nfc:usb") == shown


@pytest.mark.parametrize(
    "document", ["[" * 100_000, '{"n": ' + "9" * 5000 + "}"], ids=["deep", "long integer"]
)
def test_the_library_loaders_refuse_hostile_json_with_their_own_error(
    tmp_path: Path, document: str
) -> None:
    """TrustStore.load, StatusRegistry.load and the card state loader used json.loads as it is."""
    from cityid_card.errors import StatusListError, TrustStoreError
    from cityid_card.media.errors import MediumError
    from cityid_card.sim_io import load_card_state
    from cityid_card.status import StatusRegistry
    from cityid_card.trust import TrustStore

    hostile = tmp_path / "hostile.json"
    hostile.write_text(document)
    with pytest.raises(TrustStoreError, match="not valid JSON"):
        TrustStore.load(hostile)
    with pytest.raises(StatusListError, match="not a status registry file"):
        StatusRegistry.load(hostile)
    with pytest.raises(MediumError, match="not an emulated card state file"):
        load_card_state(hostile)


def test_qr_stream_survives_bytes_that_are_not_text_and_endless_lines(
    station: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = qr.encode((station / "card.cbor").read_bytes()).encode("ascii")
    stream = b"\xff\xfe garbage\n" + b"A" * 100_000 + b"\n" + good + b"\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stream), encoding="utf-8"))
    status, out, err = run(capsys, "verify", "--qr", "-", "--trust", str(station / "trust.json"),
                           "--at", "2027-01-01", "--json")  # fmt: skip
    results = [json.loads(line) for line in out.splitlines()]
    assert (status, err) == (1, "")
    assert [(r["line"], r["valid"], r.get("error")) for r in results] == [
        (1, False, "MalformedCredential"),
        (2, False, "MalformedCredential"),
        (3, True, None),
    ]


def test_qr_stream_answers_each_scan_as_it_arrives(station: Path) -> None:
    """A scanner types a code and waits: its result must come before the next scan."""
    command = [str(Path(sys.executable).with_name("cityid-card")), "verify", "--qr", "-",
               "--trust", str(station / "trust.json"), "--at", "2027-01-01"]  # fmt: skip
    text = qr.encode((station / "card.cbor").read_bytes())
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for _ in range(2):
            process.stdin.write(text.encode() + b"\n")
            process.stdin.flush()  # and keep standard input open
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no answer while the stream is still open"
            assert process.stdout.readline().startswith(b"VALID  Zyxwquartz Plimsoll, expires")
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()


def test_bash_completion_completes_commands_and_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "completion", "bash")
    assert status == 0
    script = tmp_path / "cityid-card.bash"
    script.write_text(out)
    probe = (
        f"source {script}\n"
        'complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=();'
        ' _shtab_cityid_card; echo "${COMPREPLY[*]}"; }\n'
        "complete_words cityid-card ver\n"
        "complete_words cityid-card status-list s\n"
        "complete_words cityid-card verify --tr\n"
        "complete_words cityid-card keygen --alg E\n"
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["verify", "sign show", "--trust", "ES256 EdDSA"]


@pytest.mark.parametrize("line", ["[" * 100_000, '{"name": ' + "9" * 5000 + "}"])
def test_station_files_refuse_hostile_json_lines_with_their_own_errors(line: str) -> None:
    """An applicants or records line of '[[[[...' raised RecursionError out of the batch."""
    from datetime import date

    from cityid_card.station.applicants import parse_applicants
    from cityid_card.station.errors import ApplicantError, RecordsError
    from cityid_card.station.records import parse_records

    with pytest.raises(ApplicantError, match="row 1"):
        parse_applicants(line.encode() + b"\n", "jsonl", today=date(2026, 12, 1))
    with pytest.raises(RecordsError):
        parse_records(line.encode() + b"\n")
    with pytest.raises(ValueError, match="nested deeper"):  # JSONInputError is a ValueError
        _json.loads("[" * 100)


def test_io_helpers_name_the_file_and_cap_the_size(tmp_path: Path) -> None:
    from cityid_card.cli import _io
    from cityid_card.errors import InputError

    document = tmp_path / "settings.json"
    document.write_text('{"a": ' + "[" * 40 + "]" * 40 + "}")
    with pytest.raises(JSONInputError, match=r"settings\.json: a settings file: nested deeper"):
        _io.read_json(document, what="a settings file")
    big = tmp_path / "big.cbor"
    big.write_bytes(b"\x00" * (_io.MAX_CREDENTIAL_BYTES + 1))
    with pytest.raises(InputError, match=r"big\.cbor: too large for a credential"):
        _io.read_credential(big)
    with pytest.raises(InputError, match=r"absent\.json: no such file"):
        _io.read_json(tmp_path / "absent.json", what="a settings file")
