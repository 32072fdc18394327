"""Issuer keys: PEM files, passphrases, JWK, thumbprints and the wire key id."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cityid_card import InvalidKey, IssuerKey, PublicKey, TrustStore, verify

from .conftest import NOW, sample_credential


def test_pem_round_trip_keeps_the_key(issuer_key: IssuerKey, tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    issuer_key.save_pem(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = IssuerKey.load_pem(path, kid=issuer_key.kid)
    assert loaded.alg == issuer_key.alg
    blob = loaded.issue(sample_credential())
    assert verify(blob, TrustStore([issuer_key.public()]), now=NOW).kid == issuer_key.kid


def test_encrypted_pem_needs_the_right_passphrase(issuer_key: IssuerKey, tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    issuer_key.save_pem(path, password="correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert (
        IssuerKey.load_pem(path, "correct horse").public().wire_kid == issuer_key.public().wire_kid
    )
    with pytest.raises(InvalidKey):
        IssuerKey.load_pem(path, "wrong")
    with pytest.raises(InvalidKey):
        IssuerKey.load_pem(path)
    plain = tmp_path / "plain.pem"
    issuer_key.save_pem(plain)
    with pytest.raises(InvalidKey):
        IssuerKey.load_pem(plain, "unexpected")


def test_save_pem_never_overwrites(issuer_key: IssuerKey, tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    path.write_text("precious")
    with pytest.raises(FileExistsError):
        issuer_key.save_pem(path)
    assert path.read_text() == "precious"


@pytest.mark.parametrize(
    "private",
    [
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
    ],
    ids=["p384", "rsa"],
)
def test_other_key_types_are_refused(
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> None:
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKey):
        IssuerKey.from_pem(pem)


def test_garbage_is_not_a_key() -> None:
    with pytest.raises(InvalidKey):
        IssuerKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_unsupported_algorithm_name() -> None:
    from cityid_card import UnsupportedAlgorithm

    with pytest.raises(UnsupportedAlgorithm):
        IssuerKey.generate("RS256")  # type: ignore[arg-type]


def test_wire_kid_is_the_rfc7638_thumbprint_prefix(issuer_key: IssuerKey) -> None:
    jwk = issuer_key.public().to_jwk()
    required = ["crv", "kty", "x", "y"] if jwk["kty"] == "EC" else ["crv", "kty", "x"]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    assert issuer_key.public().wire_kid == digest[:2]


def test_default_kid_is_the_full_thumbprint(alg: str) -> None:
    key = IssuerKey.generate(alg)  # type: ignore[arg-type]
    padded = key.kid + "=" * (-len(key.kid) % 4)
    assert base64.urlsafe_b64decode(padded)[:2] == key.public().wire_kid


def test_jwk_round_trip(issuer_key: IssuerKey) -> None:
    public = IssuerKey.generate(issuer_key.alg, "K", valid_from=date(2026, 1, 1)).public()
    jwk = public.to_jwk()
    assert jwk["alg"] == issuer_key.alg
    assert jwk["valid_from"] == "2026-01-01"
    assert "valid_until" not in jwk
    again = PublicKey.from_jwk(jwk)
    assert again == public
    assert again.wire_kid == public.wire_kid


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"d": "AAAA"}, "private"),
        ({"alg": "ES384"}, "alg"),
        ({"alg": None}, "alg"),
        ({"kid": 7}, "kid"),
        ({"kid": ""}, "kid"),
        ({"use": "enc"}, "use"),
        ({"crv": "P-384"}, "P-256"),
        ({"x": "AAAA"}, "32 bytes"),
        ({"x": "not base64!"}, "base64"),
        ({"x": "AAAA=="}, "unpadded"),
        ({"y": "_" * 42 + "8"}, "valid ES256"),  # y = 2**256 - 1, off the curve
        ({"valid_from": "01/02/2026"}, "YYYY-MM-DD"),
        ({"valid_from": "20260101"}, "YYYY-MM-DD"),
        ({"valid_from": "2026-W01-1"}, "YYYY-MM-DD"),
        ({"valid_from": "2026-02-30"}, "YYYY-MM-DD"),
        ({"valid_from": "2027-01-01", "valid_until": "2026-01-01"}, "after"),
    ],
)
def test_unusable_jwks_are_refused(change: dict[str, object], complaint: str) -> None:
    jwk = IssuerKey.generate("ES256", "K").public().to_jwk()
    jwk.update(change)
    with pytest.raises(InvalidKey, match=complaint):
        PublicKey.from_jwk(jwk)


def test_public_key_checks_its_algorithm() -> None:
    key = IssuerKey.generate("EdDSA", "K").public()
    with pytest.raises(InvalidKey):
        PublicKey("K", "ES256", key.key)
