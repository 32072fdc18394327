"""Issuer keys: PEM files, passphrases, JWK, thumbprints and the wire key id."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from cityid_card import (
    CredentialError,
    InvalidClaim,
    InvalidKey,
    IssuerKey,
    KeyNotValid,
    KeyOutsideValidity,
    PassphraseRequired,
    PublicKey,
    TrustStore,
    WrongPassphrase,
    verify,
)

from .conftest import NOW, sample_credential


def test_pem_round_trip_keeps_the_key_its_kid_and_window(issuer_key: IssuerKey) -> None:
    key = IssuerKey(issuer_key._key, kid="CHI-2026-1", valid_until=date(2031, 1, 1))
    pem = key.to_pem()
    assert pem.startswith(b"cityid-card kid: CHI-2026-1\ncityid-card valid-until: 2031-01-01\n")
    loaded = IssuerKey.from_pem(pem)
    assert loaded.public() == key.public()
    assert IssuerKey.from_pem(pem, kid="other").kid == "other"
    blob = loaded.issue(sample_credential())
    assert verify(blob, TrustStore([key.public()]), now=NOW).kid == "CHI-2026-1"
    # The notes are RFC 7468 explanatory text: pyca/cryptography (and OpenSSL) skip them.
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))


def test_a_plain_pem_without_notes_still_loads(issuer_key: IssuerKey) -> None:
    plain = issuer_key._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    loaded = IssuerKey.from_pem(b"some other explanatory text\n" + plain)
    assert loaded.public().key == issuer_key.public().key
    assert (loaded.public().valid_from, loaded.public().valid_until) == (None, None)


def test_encrypted_pem_needs_the_right_passphrase(issuer_key: IssuerKey) -> None:
    pem = issuer_key.to_pem(password="correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert IssuerKey.from_pem(pem, "correct horse").public() == issuer_key.public()
    with pytest.raises(WrongPassphrase, match="wrong passphrase") as wrong:
        IssuerKey.from_pem(pem, "wrong")
    with pytest.raises(PassphraseRequired, match="encrypted") as missing:
        IssuerKey.from_pem(pem)
    for caught in (wrong, missing):  # messages for people, not pyca's exception names
        assert "InvalidKey" not in str(caught.value) and "TypeError" not in str(caught.value)
    with pytest.raises(InvalidKey, match="not encrypted"):
        IssuerKey.from_pem(issuer_key.to_pem(), "unexpected")


def test_a_legacy_openssl_encrypted_key_says_the_same() -> None:
    # "BEGIN EC PRIVATE KEY" with Proc-Type: 4,ENCRYPTED, as older OpenSSL writes.
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(PassphraseRequired):
        IssuerKey.from_pem(pem)
    with pytest.raises(WrongPassphrase):
        IssuerKey.from_pem(pem, "not it")
    assert IssuerKey.from_pem(pem, "pw").alg == "ES256"


@pytest.mark.parametrize(
    ("notes", "complaint"),
    [
        (b"cityid-card valid-until: 31/12/2027\n", "valid-until must be a date"),
        (b"cityid-card valid-from: 2028-01-01\ncityid-card valid-until: 2027-01-01\n", "after"),
        (b"cityid-card kid: A\ncityid-card kid: B\n", "kid twice"),
        (b"cityid-card valid-untill: 2027-12-31\n", "unknown cityid-card field"),
    ],
)
def test_unusable_key_file_notes_are_refused(
    issuer_key: IssuerKey, notes: bytes, complaint: str
) -> None:
    plain = issuer_key._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKey, match=complaint):
        IssuerKey.from_pem(notes + plain)


def test_a_kid_saved_with_the_key_is_one_line() -> None:
    with pytest.raises(InvalidKey, match="one line"):
        IssuerKey.generate("ES256", "CHI\ncityid-card valid-until: 2099-01-01").to_pem()


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


# ---------------------------------------------------------------------------------------
# The issuing window: spec section 9, an issuer MUST NOT sign outside it.


def test_issuing_refuses_dates_outside_the_window() -> None:
    key = IssuerKey.generate(
        "ES256", "CHI-2026-1", valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31)
    )
    for issued in (date(2026, 1, 1), date(2026, 12, 31)):  # both ends are inside
        assert key.issue(sample_credential(issued=issued))
    for issued in (date(2025, 12, 31), date(2027, 1, 1)):
        with pytest.raises(KeyOutsideValidity) as caught:
            key.issue(sample_credential(issued=issued))
        assert str(caught.value) == (
            "the issuer key 'CHI-2026-1' may only sign credentials issued from 2026-01-01 "
            "until 2026-12-31: the issue date is outside that window"
        )
    # A key error (the issuer's), not a rejected credential (a verifier's KeyNotValid).
    assert issubclass(KeyOutsideValidity, InvalidKey)
    assert not issubclass(KeyOutsideValidity, (CredentialError, KeyNotValid))


def test_a_retired_key_loaded_from_its_file_refuses_to_sign() -> None:
    # The defect of issue 10: the window lived only in the trust store, so a key file
    # loaded later signed on any date and the card was born KeyNotValid.
    retired = IssuerKey.generate("EdDSA", "CHI-2020", valid_until=date(2020, 12, 31))
    loaded = IssuerKey.from_pem(retired.to_pem("pw"), "pw")
    with pytest.raises(KeyOutsideValidity, match="until 2020-12-31"):
        loaded.issue(sample_credential())
    with pytest.raises(KeyOutsideValidity):
        loaded.issue(sample_credential(issued=None), today=date(2026, 11, 21))


def test_issuing_needs_an_explicit_date(issuer_key: IssuerKey) -> None:
    # The core reads no clock: the issue date is the credential's, else ``today``.
    with pytest.raises(InvalidClaim, match="no issue date"):
        issuer_key.issue(sample_credential(issued=None))
    blob = issuer_key.issue(sample_credential(issued=None), today=date(2026, 11, 21))
    assert verify(blob, TrustStore([issuer_key.public()]), now=NOW).credential.issued == date(
        2026, 11, 21
    )
    # An issue date in the credential wins over ``today``.
    blob = issuer_key.issue(sample_credential(), today=date(2026, 1, 1))
    assert verify(blob, TrustStore([issuer_key.public()]), now=NOW).credential.issued == date(
        2026, 11, 21
    )
