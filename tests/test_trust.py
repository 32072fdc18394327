"""The trust store: JWK Set files, uniqueness, lookups."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from cityid_card import IssuerKey, PublicKey, TrustStore, TrustStoreError, _algorithms


def test_save_and_load(tmp_path: Path) -> None:
    keys = [
        IssuerKey.generate("ES256", "CHI-2025-1", valid_until=date(2025, 12, 31)),
        IssuerKey.generate("ES256", "CHI-2026-1", valid_from=date(2026, 1, 1)),
        IssuerKey.generate("EdDSA", "CHI-2026-2"),
    ]
    store = TrustStore(key.public() for key in keys)
    path = tmp_path / "trust.json"
    store.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["trust.json"]  # no temporary left behind
    loaded = TrustStore.load(path)
    assert list(loaded) == list(store)
    assert len(loaded) == 3
    document = json.loads(path.read_text())
    assert [jwk["kid"] for jwk in document["keys"]] == ["CHI-2025-1", "CHI-2026-1", "CHI-2026-2"]
    assert all("d" not in jwk for jwk in document["keys"])
    public = keys[1].public()
    assert loaded.candidates("ES256", public.wire_kid) == (public,)
    assert loaded.candidates("EdDSA", public.wire_kid) == ()


def test_with_key_returns_a_new_store() -> None:
    store = TrustStore()
    key = IssuerKey.generate("EdDSA", "K").public()
    bigger = store.with_key(key)
    assert (len(store), len(bigger)) == (0, 1)
    with pytest.raises(TrustStoreError, match="kid"):
        bigger.with_key(IssuerKey.generate("EdDSA", "K").public())


def test_the_same_key_cannot_appear_twice_under_two_labels() -> None:
    public = IssuerKey.generate("ES256", "A").public()
    from dataclasses import replace

    with pytest.raises(TrustStoreError, match="already"):
        TrustStore([public, replace(public, kid="B")])


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"not json", "JSON"),
        (b"\xff\xfe", "JSON"),
        (b"[]", "JWK Set"),
        (b'{"keys": {}}', "JWK Set"),
        (b'{"keys": [{"kty": "RSA", "kid": "x", "alg": "ES256"}]}', "key 0"),
    ],
)
def test_broken_files_raise_trust_store_error(
    tmp_path: Path, content: bytes, complaint: str
) -> None:
    path = tmp_path / "trust.json"
    path.write_bytes(content)
    with pytest.raises(TrustStoreError, match=complaint):
        TrustStore.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="cannot read"):
        TrustStore.load(tmp_path / "absent.json")


#: Ed25519 encodings no signature verifies under (libsodium refuses them): the points of
#: order 1, 2, 4 and 8, the same with the sign bit set, y = p and y = p + 1 (y >= p is
#: not canonical), and a point of order 8 plus a prime-order point (mixed order).
_SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


def _mixed_order() -> bytes:
    prime_order = IssuerKey.generate("EdDSA", "K").public()
    raw = _algorithms.raw_public_bytes(prime_order.key)
    return bytes(nacl.bindings.crypto_core_ed25519_add(raw, bytes.fromhex(_SMALL_ORDER[3])))


def _okp(raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "kid": "CHI-BAD", "alg": "EdDSA", "x": _b64(raw)}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "raw",
    [bytes.fromhex(h) for h in _SMALL_ORDER] + [_mixed_order()],
    ids=lambda raw: raw.hex()[:8],
)
def test_ed25519_keys_that_can_never_verify_are_refused(raw: bytes) -> None:
    with pytest.raises(TrustStoreError, match=r"key 0 .*prime-order subgroup"):
        TrustStore.from_jwks({"keys": [_okp(raw)]})
    key = ed25519.Ed25519PublicKey.from_public_bytes(raw)  # OpenSSL takes any of them
    public = PublicKey(kid="CHI-BAD", alg="EdDSA", key=key)
    with pytest.raises(TrustStoreError, match="'CHI-BAD' is not usable"):
        TrustStore([public])
    # The reason: no signature verifies under such a key (libsodium refuses it).
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.bindings.crypto_sign_open(bytes(64) + b"message", raw)


def _with_url_characters(alg: str) -> tuple[IssuerKey, dict[str, Any]]:
    """A key whose JWK coordinates contain '-' or '_' (the base64url-only characters)."""
    while True:
        key = IssuerKey.generate(alg, "CHI-URL")  # type: ignore[arg-type]
        jwk = key.public().to_jwk()
        if any(c in jwk[m] for m in ("x", "y") if m in jwk for c in "-_"):
            return key, jwk


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_only_strict_base64url_is_accepted(alg: str) -> None:
    key, jwk = _with_url_characters(alg)
    assert list(TrustStore.from_jwks({"keys": [jwk]})) == [key.public()]
    member = "x" if ("-" in jwk["x"] or "_" in jwk["x"]) else "y"
    text = jwk[member]
    last = _B64URL_ALPHABET.index(text[-1])
    for bad in (
        text.replace("-", "+").replace("_", "/"),  # base64, not base64url
        text + "=",  # padded
        text[:10] + " " + text[10:],
        text[:10] + "\n" + text[10:],
        text[:10] + "." + text[10:],
        # 32 bytes leave 2 unused bits in the last character: set one of them.
        text[:-1] + _B64URL_ALPHABET[last ^ 1],
    ):
        if bad == text:
            continue
        with pytest.raises(TrustStoreError, match=r"key 0 .*base64url"):
            TrustStore.from_jwks({"keys": [{**jwk, member: bad}]})


_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_store_files_are_parsed_from_bytes_without_the_file_system() -> None:
    store = TrustStore([IssuerKey.generate("EdDSA", "CHI-1").public()])
    assert list(TrustStore.from_bytes(store.to_bytes())) == list(store)
    with pytest.raises(TrustStoreError, match="JSON"):
        TrustStore.from_bytes(b"\xff")
