"""The edge of issuer keys: key files, PIN files and the environment (cityid_card.keyfiles).

No token and no python-pkcs11 here: PIN and module resolution are pure functions of the
URI, the files and an environment passed in.
"""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest

from cityid_card import (
    IssuerKey,
    PassphraseRequired,
    TrustStore,
    WrongPassphrase,
    keyfiles,
    load_key,
    verify,
)
from cityid_card.keyfiles import save_key, token_module, token_pin
from cityid_card.pkcs11_uri import KeyUri, TokenError, TokenPinError

from .conftest import NOW, sample_credential


def test_a_key_file_round_trip_keeps_the_key_its_kid_and_window(tmp_path: Path) -> None:
    key = IssuerKey.generate(
        "EdDSA", "CHI-2026-1", valid_from=date(2026, 1, 1), valid_until=date(2027, 12, 31)
    )
    path = tmp_path / "issuer.pem"
    save_key(key, path, "pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key(path, b"pw")
    assert loaded.public() == key.public()  # kid, key and window
    assert loaded.kid == "CHI-2026-1" and loaded.public().valid_until == date(2027, 12, 31)
    blob = loaded.issue(sample_credential())
    assert verify(blob, TrustStore([key.public()]), now=NOW).kid == "CHI-2026-1"


def test_save_key_never_replaces_a_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    path.write_text("precious")
    key = IssuerKey.generate("ES256", "K")
    with pytest.raises(FileExistsError):
        save_key(key, path)
    assert path.read_text() == "precious"
    save_key(key, path, force=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path).public() == key.public()
    assert [p.name for p in tmp_path.iterdir()] == ["issuer.pem"]  # no temporary file left


def test_encrypted_key_files_say_what_is_missing_or_wrong(tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    save_key(IssuerKey.generate("ES256", "K"), path, "correct horse")
    with pytest.raises(PassphraseRequired, match="encrypted"):
        load_key(path)
    with pytest.raises(PassphraseRequired):
        load_key(path, b"")  # an empty passphrase file is no passphrase
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        load_key(path, "battery staple")
    assert load_key(path, "correct horse").kid == "K"


def test_read_secret_file_takes_the_first_line(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"first line\r\nsecond line\n")
    assert keyfiles.read_secret_file(secret) == b"first line"
    secret.write_bytes(b"")
    assert keyfiles.read_secret_file(secret) == b""
    with pytest.raises(FileNotFoundError):
        keyfiles.read_secret_file(tmp_path / "none")


def test_pin_sources(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("1234-5678\nignored second line\n")
    env = {keyfiles.PIN_ENV: "from-env"}
    for source in (f"file:{pin_file}", f"file://{pin_file}", str(pin_file)):
        assert token_pin(KeyUri.parse(f"pkcs11:object=k?pin-source={source}"), environ={}) == (
            "1234-5678"
        )
    assert token_pin(KeyUri.parse("pkcs11:object=k"), environ=env) == "from-env"
    assert token_pin(KeyUri.parse("pkcs11:object=k"), environ={}) is None
    assert token_pin(KeyUri.parse("pkcs11:object=k?pin-value=in-uri"), environ=env) == "in-uri"
    assert token_pin(KeyUri.parse("pkcs11:object=k?pin-value=in-uri"), "given") == "given"
    with pytest.raises(TokenPinError, match="cannot read the pin-source file"):
        token_pin(KeyUri.parse(f"pkcs11:object=k?pin-source=file:{tmp_path / 'none'}"))
    with pytest.raises(TokenError, match="file: URI or a file path"):
        token_pin(KeyUri.parse("pkcs11:object=k?pin-source=https://example.invalid/pin"))
    with pytest.raises(TokenError, match="local absolute path"):
        token_pin(KeyUri.parse("pkcs11:object=k?pin-source=file://host/pin"))
    pin_file.write_bytes(b"\xff\xfe\n")
    with pytest.raises(TokenPinError, match="UTF-8"):
        token_pin(KeyUri.parse(f"pkcs11:object=k?pin-source={pin_file}"))


def test_module_sources() -> None:
    env = {keyfiles.MODULE_ENV: "/opt/env/p11.so"}
    assert token_module(None, environ={}) is None  # the default: hsm.DEFAULT_MODULE
    assert token_module(None, environ=env) == "/opt/env/p11.so"
    assert token_module("/opt/uri.so", environ=env) == "/opt/uri.so"


def test_a_token_pin_must_be_utf8() -> None:
    with pytest.raises(TokenPinError, match="UTF-8"):
        load_key("pkcs11:token=t;object=k", b"\xff")
