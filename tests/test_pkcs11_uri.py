"""PKCS#11 key URIs (RFC 7512): parsing and printing, with no PKCS#11 library at all.

Nothing here imports python-pkcs11: ``cityid_card.pkcs11_uri`` is the pure half of the
token code (tests/test_package.py checks it imports where python-pkcs11 is missing).
"""

from __future__ import annotations

import pytest

from cityid_card import InvalidKey
from cityid_card.pkcs11_uri import (
    KeyUri,
    TokenError,
    TokenNotFound,
    TokenPinError,
    TokenPinRequired,
    TokenUnsupported,
    is_key_uri,
)


def test_uri_parsing() -> None:
    uri = KeyUri.parse(
        "pkcs11:token=City%20Hall;object=CHI-2026-1;id=%01%ff;type=private;serial=abc;"
        "slot-id=7?module-path=/opt/hsm/p11.so&pin-source=file:/run/pin"
    )
    assert (uri.token, uri.object, uri.id, uri.type, uri.serial, uri.slot_id) == (
        "City Hall", "CHI-2026-1", b"\x01\xff", "private", "abc", 7,
    )  # fmt: skip
    assert (uri.module_path, uri.pin_source, uri.pin_value) == (
        "/opt/hsm/p11.so", "file:/run/pin", None,
    )  # fmt: skip
    assert KeyUri.parse(str(uri)) == uri
    assert KeyUri.parse("PKCS11:object=k").object == "k"


def test_printing_escapes_what_rfc_7512_does_not_allow() -> None:
    uri = KeyUri(token="Ciudad de México;1", object="clé?&", id=b"\x00\xff")
    text = str(uri)
    assert text == "pkcs11:token=Ciudad%20de%20M%C3%A9xico%3B1;object=cl%C3%A9%3F%26;id=%00%ff"
    assert KeyUri.parse(text) == uri


def test_uri_never_shows_the_pin() -> None:
    uri = KeyUri.parse("pkcs11:token=t;object=k?pin-value=s3cret-pin")
    assert uri.pin_value == "s3cret-pin"
    assert "s3cret" not in str(uri) and "s3cret" not in repr(uri)


def test_describe_names_the_key_for_messages() -> None:
    assert KeyUri.parse("pkcs11:token=CITY;object=K;id=%0a").describe() == (
        "object 'K' id 0a in token 'CITY'"
    )
    assert KeyUri.parse("pkcs11:id=%01").describe() == "id 01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file:/key.pem", "must start with pkcs11:"),
        ("pkcs11:token=t", "object= or id="),
        ("pkcs11:objct=k", "path attribute 'objct' is not supported"),
        ("pkcs11:object=k?pin=1", "query attribute 'pin' is not supported"),
        ("pkcs11:object=k;object=j", "gives 'object' twice"),
        ("pkcs11:id=%01;id=%02", "gives 'id' twice"),
        ("pkcs11:object", "'object' has no value"),
        ("pkcs11:object=k;type=public", "private key"),
        ("pkcs11:object=k;slot-id=x", "slot-id must be a decimal"),
        ("pkcs11:object=k;slot-id=\u00b2", "slot-id must be a decimal"),
        ("pkcs11:object=%ff", "not UTF-8"),
    ],
)
def test_bad_uris(text: str, message: str) -> None:
    with pytest.raises(TokenError, match=message):
        KeyUri.parse(text)


def test_is_key_uri() -> None:
    assert is_key_uri("pkcs11:object=k") and is_key_uri("PKCS11:object=k")
    assert not is_key_uri("issuer.pem") and not is_key_uri("pkcs11")


def test_token_errors_are_key_errors_with_one_base_each() -> None:
    # A bad token key is handled where a bad key file is: every token error is an
    # InvalidKey, by single inheritance (errors.py, rule 2).
    for error in (TokenError, TokenNotFound, TokenPinError, TokenPinRequired, TokenUnsupported):
        assert issubclass(error, InvalidKey) and len(error.__bases__) == 1
    assert issubclass(TokenPinRequired, TokenPinError)
