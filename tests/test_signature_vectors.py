"""Wycheproof signature vectors through every implementation of the signature check.

``tests/vectors/wycheproof`` (see ``tests/vectors/SOURCES``): ECDSA P-256/SHA-256 with raw r || s
signatures (the form COSE uses) and Ed25519. Every case must come out as labelled:
"valid" verifies, "invalid" raises BadSignature (or, if the public key itself is
unusable, InvalidKey when the key is loaded). Neither file has an "acceptable" case;
``test_no_acceptable_cases`` makes sure that a newer file with some does not slip
through without a decision here.

To add an implementation (the C extension), add an entry to ``IMPLEMENTATIONS``: every
case then runs through it as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cityid_card import BadSignature, InvalidKey, _algorithms
from cityid_card._algorithms import Algorithm, PublicKeyObject

from .conftest import load_vector_json, native_module

#: A signature check: return None or raise BadSignature.
SignatureCheck = Callable[[PublicKeyObject, bytes, bytes], None]


def _c_verify_signature(key: PublicKeyObject, message: bytes, signature: bytes) -> None:
    """The C extension's check, as its engine runs it (skipped when it is not built)."""
    native = native_module()
    alg = _algorithms.COSE_ALGORITHM[_algorithms.algorithm_of(key)]
    native.verify_signature(alg, _algorithms.raw_public_bytes(key), message, signature)


IMPLEMENTATIONS: dict[str, SignatureCheck] = {
    "python": _algorithms.verify_signature,
    "c": _c_verify_signature,
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def verify_signature(request: pytest.FixtureRequest) -> SignatureCheck:
    return IMPLEMENTATIONS[request.param]


@dataclass(frozen=True)
class VectorFile:
    label: str  # short name for test ids
    path: str
    alg: Algorithm
    key_member: str  # member of testGroups[].publicKey with the raw key
    cases: int  # numbers from tests/vectors/SOURCES
    valid: int
    invalid: int


P1363 = VectorFile(
    "p1363",
    "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json",
    "ES256",
    "uncompressed",  # 65-byte 04 || x || y (wx/wy are ASN.1 integers of varying length)
    cases=262,
    valid=173,
    invalid=89,
)
ED25519 = VectorFile(
    "ed25519",
    "wycheproof/ed25519_test.json",
    "EdDSA",
    "pk",
    cases=151,
    valid=88,
    invalid=63,
)
FILES = (P1363, ED25519)
DATA: dict[str, dict[str, Any]] = {f.label: load_vector_json(f.path) for f in FILES}


@dataclass(frozen=True)
class Case:
    alg: Algorithm
    public_key: bytes
    tc_id: int
    comment: str
    flags: tuple[str, ...]
    msg: bytes
    sig: bytes
    result: str


def _cases(vector_file: VectorFile) -> list[Any]:
    params = []
    for group in DATA[vector_file.label]["testGroups"]:
        public_key = bytes.fromhex(group["publicKey"][vector_file.key_member])
        for test in group["tests"]:
            case = Case(
                alg=vector_file.alg,
                public_key=public_key,
                tc_id=test["tcId"],
                comment=test["comment"],
                flags=tuple(test["flags"]),
                msg=bytes.fromhex(test["msg"]),
                sig=bytes.fromhex(test["sig"]),
                result=test["result"],
            )
            params.append(pytest.param(case, id=f"{vector_file.label}-tc{case.tc_id}"))
    return params


CASES = {f.label: _cases(f) for f in FILES}


@pytest.mark.parametrize("vector_file", FILES, ids=lambda f: f.label)
def test_vector_file_is_complete(vector_file: VectorFile) -> None:
    # A truncated or swapped file must not pass quietly.
    data = DATA[vector_file.label]
    results = Counter(p.values[0].result for p in CASES[vector_file.label])
    assert data["numberOfTests"] == vector_file.cases
    assert len(CASES[vector_file.label]) == vector_file.cases
    assert results == {"valid": vector_file.valid, "invalid": vector_file.invalid}
    assert len({p.values[0].tc_id for p in CASES[vector_file.label]}) == vector_file.cases


@pytest.mark.parametrize("vector_file", FILES, ids=lambda f: f.label)
def test_no_acceptable_cases(vector_file: VectorFile) -> None:
    # Wycheproof labels cases a library may accept or reject "acceptable". These files
    # have none. If a new version adds some, decide per flag (e.g. accept only what
    # OpenSSL and the C twin both accept identically) and handle them in test_case.
    acceptable = [p.id for p in CASES[vector_file.label] if p.values[0].result == "acceptable"]
    assert acceptable == []


def _check(case: Case, verify_signature: SignatureCheck) -> None:
    try:
        key = _algorithms.public_key_from_raw(case.alg, case.public_key)
    except InvalidKey:
        # An unusable key is only an acceptable outcome for a case that must fail.
        assert case.result == "invalid", f"key rejected for a {case.result} case: {case.comment}"
        return
    if case.result == "valid":
        verify_signature(key, case.msg, case.sig)
    else:
        with pytest.raises(BadSignature):
            verify_signature(key, case.msg, case.sig)


@pytest.mark.parametrize("case", CASES[P1363.label])
def test_ecdsa_p256_p1363(case: Case, verify_signature: SignatureCheck) -> None:
    _check(case, verify_signature)


@pytest.mark.parametrize("case", CASES[ED25519.label])
def test_ed25519(case: Case, verify_signature: SignatureCheck) -> None:
    _check(case, verify_signature)
