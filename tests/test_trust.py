"""The trust store: JWK Set files, uniqueness, lookups."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cityid_card import IssuerKey, TrustStore, TrustStoreError


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
