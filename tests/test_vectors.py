"""The checked-in vectors of specs/vectors/ verify as labelled and are the code's output."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from cityid_card import CredentialError, IssuerKey, TrustStore, verify

from .conftest import VECTORS, vector_generator

claims_json = vector_generator.claims_json

CREDENTIALS: dict[str, Any] = json.loads((VECTORS / "credentials.json").read_text("utf-8"))
TRUST = TrustStore.load(VECTORS / "trust.json")


def test_regenerating_gives_the_checked_in_files() -> None:
    credentials, trust = vector_generator.build()
    assert vector_generator.dump(credentials) == (VECTORS / "credentials.json").read_text("utf-8")
    assert vector_generator.dump(trust) == (VECTORS / "trust.json").read_text("utf-8")


def test_vectors_cover_every_error_and_both_algorithms() -> None:
    outcomes = {v["expected"].get("error", "valid") for v in CREDENTIALS["vectors"]}
    assert outcomes >= {
        "valid", "MalformedCredential", "UnsupportedAlgorithm", "UnsupportedVersion",
        "UnknownIssuer", "KeyNotValid", "BadSignature", "UnknownClaim", "InvalidClaim",
        "NotYetValid", "Expired",
    }  # fmt: skip
    assert {key["alg"] for key in CREDENTIALS["keys"]} == {"ES256", "EdDSA"}


@pytest.mark.parametrize("vector", CREDENTIALS["vectors"], ids=lambda v: v["id"])
def test_vector(vector: dict[str, Any]) -> None:
    blob = bytes.fromhex(vector["hex"])
    assert len(blob) == vector["bytes"]
    now = date.fromisoformat(vector["now"])
    expected = vector["expected"]
    if expected["valid"]:
        assert claims_json(verify(blob, TRUST, now=now).credential) == expected["claims"]
    else:
        with pytest.raises(CredentialError) as caught:
            verify(blob, TRUST, now=now)
        assert type(caught.value).__name__ == expected["error"]


@pytest.mark.parametrize("entry", CREDENTIALS["keys"], ids=lambda k: k["kid"])
def test_vector_keys_load_and_match_the_trust_store(entry: dict[str, Any]) -> None:
    key = IssuerKey.from_pem(entry["private_key_pem"].encode(), kid=entry["kid"])
    assert key.alg == entry["alg"]
    trusted = [k for k in TRUST if k.kid == entry["kid"]]
    if entry["kid"].endswith("UNTRUSTED"):
        assert trusted == []
    else:
        assert trusted[0].to_jwk()["x"] == key.public().to_jwk()["x"]
