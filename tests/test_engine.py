"""The verifier engine, run against both twins: the C extension and its pure-Python twin.

Every test here takes ``engine_impl`` ("python", "c") and states the outcome the spec
(specs/credential.md, "Verification") requires, so both twins must pass the same
suite (the way cbor2 tests its C and Python decoders). The "c" runs are skipped, with
the import error, when the extension is not built; under CITYID_CARD_REQUIRE_NATIVE=1
(CI) they fail instead.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cityid_card import (
    BadSignature,
    Credential,
    CredentialError,
    Expired,
    InvalidClaim,
    InvalidKey,
    IssuerKey,
    KeyNotValid,
    MalformedCredential,
    NotYetValid,
    Revoked,
    StatusUnknown,
    Suspended,
    TrustStore,
    UnknownClaim,
    UnknownIssuer,
    UnsupportedAlgorithm,
    UnsupportedVersion,
    Verifier,
    _algorithms,
    _cbor,
    cose,
)
from cityid_card.cli._common import claims_json
from cityid_card.status import CredentialStatus, status_at
from cityid_card.verifier import _ENGINES, KeyRow, VerifiedCredential

from .conftest import (
    VECTORS,
    engine_factory,
    load_vector_json,
    native_module,
    sample_credential,
    signed_envelope,
    vector_generator,
)

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
EPOCH = date(1970, 1, 1)
TODAY = (NOW.date() - EPOCH).days
NOW_SECONDS = int(NOW.timestamp())
#: The sample credential's claims: dob 1990-04-12, issued 2026-11-21, expires 2031-11-20.
NAME = "Ana Sofia Rivera Delgado"
DOB, ISSUED, EXPIRES, INDEX = 7406, 20778, 22603, 4711
BASE: list[Any] = [1, NAME, DOB, ISSUED, EXPIRES, INDEX]
CARD_KEY = bytes([2]) + bytes(range(32))  # a P-256 point (the spec vectors' card key)
TAG_UID = bytes.fromhex("04a1b2c3d4e5f6")


def _point(scalar: int) -> bytes:
    public = ec.derive_private_key(scalar, ec.SECP256R1()).public_key()
    return public.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


POINT_2, POINT_3 = _point(2), _point(3)

Outcome = VerifiedCredential | type[CredentialError]
#: A key row without its kid: make_engine names the keys "key-0", "key-1", ...
Row = tuple[int, bytes, bytes, int | None, int | None]


# ---------------------------------------------------------------------------------------
# Keys, engines and envelopes


@pytest.fixture(scope="module")
def keys() -> dict[str, IssuerKey]:
    return {
        "ES256": vector_generator.seeded_key("ES256", "ENGINE-ES256"),
        "EdDSA": vector_generator.seeded_key("EdDSA", "ENGINE-EdDSA"),
        "ES256-other": vector_generator.seeded_key("ES256", "ENGINE-ES256-OTHER"),
        "EdDSA-other": vector_generator.seeded_key("EdDSA", "ENGINE-EdDSA-OTHER"),
    }


@pytest.fixture
def key(keys: dict[str, IssuerKey], alg: str) -> IssuerKey:
    return keys[alg]


def row(
    key: IssuerKey,
    *,
    wire_kid: bytes | None = None,
    valid_from: int | None = None,
    valid_until: int | None = None,
) -> Row:
    public = key.public()
    return (
        _algorithms.COSE_ALGORITHM[key.alg],
        public.wire_kid if wire_kid is None else wire_kid,
        _algorithms.raw_public_bytes(public.key),
        valid_from,
        valid_until,
    )


def make_engine(implementation: str, *rows: Row, reject_unknown: bool = False) -> Any:
    labelled: list[KeyRow] = [(*r, f"key-{index}") for index, r in enumerate(rows)]
    return engine_factory(implementation)(labelled, reject_unknown)


def day(number: int) -> date:
    """The date of a day number."""
    return EPOCH + timedelta(days=number)


def outcome(engine: Any, blob: bytes, now: datetime | date = NOW) -> Outcome:
    """What verify returns, or the type of the CredentialError it raises."""
    try:
        result: VerifiedCredential = engine.verify(blob, now)
    except CredentialError as error:
        return type(error)
    return result


def status_name(result: Outcome) -> str:
    """A verified credential's status, or the name of the error step 8 raised."""
    if isinstance(result, VerifiedCredential):
        return result.status.value
    return result.__name__


def expected_status(value: int | None, *, reject_unknown: bool = False) -> str:
    """What step 8 makes of a status list's entry (None: no current list covers it)."""
    if value is None:
        return "StatusUnknown" if reject_unknown else "unknown"
    return {0: "valid", 2: "Suspended"}.get(value, "Revoked")


def signed(key: IssuerKey, claims: list[Any] | bytes, protected: Any = None, **parts: Any) -> bytes:
    payload = claims if isinstance(claims, bytes) else _cbor.dumps(claims)
    return signed_envelope(key, payload, protected, **parts)


def head(major: int, argument: int, size: int | None = None) -> bytes:
    """A CBOR head; ``size`` forces an argument of 1, 2, 4 or 8 bytes (non-canonical)."""
    if size is None:
        if argument < 24:
            return bytes([major << 5 | argument])
        size = next(s for s in (1, 2, 4, 8) if argument < 1 << (8 * s))
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size]]) + argument.to_bytes(size, "big")


def array(*items: bytes) -> bytes:
    return head(4, len(items)) + b"".join(items)


def bstr(data: bytes) -> bytes:
    return head(2, len(data)) + data


def envelope(
    kid: bytes,
    *,
    alg: bytes = b"\x26",
    protected: bytes | None = None,
    unprotected: bytes = b"\xa0",
    payload: bytes | None = None,
    signature: bytes | None = None,
) -> bytes:
    """An envelope of raw parts (unsigned: for rules checked before the signature)."""
    protected = b"\xa2\x01" + alg + b"\x04\x42" + kid if protected is None else protected
    return array(
        bstr(protected),
        unprotected,
        bstr(_cbor.dumps(BASE)) if payload is None else payload,
        bstr(bytes(64)) if signature is None else signature,
    )


# ---------------------------------------------------------------------------------------
# Valid credentials


def test_valid_credential(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential())
    result = engine.verify(blob, NOW)
    assert type(result) is VerifiedCredential
    assert (result.kid, result.alg, result.status) == ("key-0", key.alg, CredentialStatus.UNKNOWN)
    # The same attributes, set in the same order, as the dataclass's __init__ sets them.
    assert list(vars(result)) == ["credential", "kid", "alg", "status"]
    credential = result.credential
    assert credential == sample_credential()
    assert type(credential) is Credential
    assert [type(credential.issued), type(credential.date_of_birth)] == [date, date]
    # The same attributes, set in the same order, as Credential.from_claims sets them.
    assert list(vars(credential)) == [
        "name", "date_of_birth", "issued", "expires", "status_index",
        "gender", "card_key", "tag_uid", "pseudonym_key",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"gender": "X"},
        {"gender": "Two-Spirit", "card_key": CARD_KEY},
        {"tag_uid": TAG_UID},
        {"tag_uid": bytes(4), "pseudonym_key": POINT_2},
        {"tag_uid": bytes(10), "card_key": POINT_3, "pseudonym_key": CARD_KEY},
        {"name": "Zoë Ñúñez 李小龍", "gender": "Mujer ✨"},
        {"name": "\U0001d504\U0001d52b\U0001d51e \U0001f600", "status_index": 0},
        {"name": "A", "status_index": 2**32 - 1},
        {"name": "é" * 50},  # exactly 100 bytes of UTF-8
        {"gender": "ß" * 16},  # exactly 32 bytes
        {"date_of_birth": date(1790, 7, 27), "expires": date(2149, 6, 6)},  # the bounds
        {"date_of_birth": date(2026, 11, 21), "expires": date(2026, 11, 21)},  # all equal
    ],
    ids=lambda changes: "-".join(changes),
)
def test_valid_claims_of_every_shape(
    engine_impl: str, key: IssuerKey, changes: dict[str, Any]
) -> None:
    engine = make_engine(engine_impl, row(key))
    expected = sample_credential(**changes)
    credential = engine.verify(key.issue(expected), day(ISSUED)).credential
    assert credential == expected
    assert vars(credential) == vars(Credential.from_claims(expected.to_claims()))


def test_result_objects_are_independent(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential(card_key=CARD_KEY))
    first = engine.verify(blob, NOW)
    second = engine.verify(blob, NOW)
    assert first == second
    assert first is not second and first.credential is not second.credential


# ---------------------------------------------------------------------------------------
# Steps 1 and 2: the envelope (MalformedCredential before UnsupportedAlgorithm)

# fmt: off
ENVELOPE_CASES: dict[str, Callable[[bytes, bytes], bytes]] = {
    # (valid blob, wire kid) -> bytes
    "empty": lambda b, k: b"",
    "tagged": lambda b, k: b"\xd2" + b,
    "trailing-byte": lambda b, k: b + b"\x00",
    "two-items": lambda b, k: b + b,
    "not-an-array": lambda b, k: b"\xa1\x01" + b,
    "array-of-3": lambda b, k: b"\x83" + b[1:-66],
    "array-of-5": lambda b, k: b"\x85" + b[1:] + b"\x00",
    "indefinite-array": lambda b, k: b"\x9f" + b[1:] + b"\xff",
    "protected-not-bstr": lambda b, k: b"\x84" + b[2:],
    "protected-empty-bstr": lambda b, k: envelope(k, protected=b""),
    "protected-empty-map": lambda b, k: envelope(k, protected=b"\xa0"),
    "protected-not-a-map": lambda b, k: envelope(k, protected=b"\x82\x01\x26"),
    "protected-trailing": lambda b, k: envelope(k, protected=b"\xa2\x01\x26\x04\x42" + k + b"\0"),
    "protected-non-canonical-alg": lambda b, k: envelope(k, alg=b"\x38\x06"),
    "protected-unsorted": lambda b, k: envelope(k, protected=b"\xa2\x04\x42" + k + b"\x01\x26"),
    "protected-alg-only": lambda b, k: envelope(k, protected=b"\xa1\x01\x26"),
    "protected-kid-only": lambda b, k: envelope(k, protected=b"\xa1\x04\x42" + k),
    "protected-third-label": lambda b, k: envelope(
        k, protected=b"\xa3\x01\x26\x04\x42" + k + b"\x10\x00"
    ),
    "protected-true-label": lambda b, k: envelope(k, protected=b"\xa2\x04\x42" + k + b"\xf5\x26"),
    "protected-label-2": lambda b, k: envelope(k, protected=b"\xa2\x01\x26\x02\x42" + k),
    "protected-kid-1-byte": lambda b, k: envelope(k, protected=b"\xa2\x01\x26\x04\x41" + k[:1]),
    "protected-kid-3-bytes": lambda b, k: envelope(k, protected=b"\xa2\x01\x26\x04\x43" + k + b"\0"),
    "protected-kid-text": lambda b, k: envelope(k, protected=b"\xa2\x01\x26\x04\x62ab"),
    "protected-invalid-utf8": lambda b, k: envelope(k, protected=b"\xa2\x01\x62\xc3\x28\x04\x42" + k),
    "protected-float-alg": lambda b, k: envelope(k, alg=b"\xf9\xc7\x00"),
    "protected-tagged-alg": lambda b, k: envelope(k, alg=b"\xc1\x26"),
    "unprotected-array": lambda b, k: envelope(k, unprotected=b"\x80"),
    "unprotected-kid": lambda b, k: envelope(k, unprotected=b"\xa1\x04\x42" + k),
    "unprotected-invalid-utf8-key": lambda b, k: envelope(k, unprotected=b"\xa1\x61\xff\x00"),
    "unprotected-1-and-true": lambda b, k: envelope(k, unprotected=b"\xa2\x01\x00\xf5\x00"),
    "unprotected-float": lambda b, k: envelope(k, unprotected=b"\xa1\x01\xf9\x3c\x00"),
    "unprotected-deep": lambda b, k: envelope(k, unprotected=b"\xa1\x01" + b"\x81" * 15 + b"\x00"),
    "payload-array": lambda b, k: envelope(k, payload=_cbor.dumps(BASE)),
    "payload-null": lambda b, k: envelope(k, payload=b"\xf6"),
    "payload-text": lambda b, k: envelope(k, payload=b"\x61a"),
    "payload-non-canonical-head": lambda b, k: envelope(
        k, payload=head(2, 40, 2) + _cbor.dumps(BASE)
    ),
    "signature-63-bytes": lambda b, k: envelope(k, signature=bstr(bytes(63))),
    "signature-65-bytes": lambda b, k: envelope(k, signature=bstr(bytes(65))),
    "signature-empty": lambda b, k: envelope(k, signature=b"\x40"),
    "signature-text": lambda b, k: envelope(k, signature=b"\x78\x40" + b"a" * 64),
    "signature-non-canonical-head": lambda b, k: envelope(k, signature=head(2, 64, 2) + bytes(64)),
    "signature-runs-past-the-end": lambda b, k: b[:-1],
    # Malformed wins over an unsupported algorithm: the whole envelope is checked first.
    "bad-alg-and-unprotected-entry": lambda b, k: envelope(
        k, alg=b"\x38\x22", unprotected=b"\xa1\x04\x42" + k
    ),
    "bad-alg-and-short-signature": lambda b, k: envelope(
        k, alg=b"\x38\x22", signature=bstr(bytes(63))
    ),
    "text-alg-and-long-kid": lambda b, k: envelope(
        k, protected=b"\xa2\x01\x65ES256\x04\x43" + k + b"\0"
    ),
    "bad-alg-and-malformed-unprotected": lambda b, k: envelope(
        k, alg=b"\x38\x22", unprotected=b"\xa1\x61\xff\x00"
    ),
    "bad-alg-and-trailing-byte": lambda b, k: envelope(k, alg=b"\x38\x22") + b"\x00",
    "bad-alg-and-deep-unprotected": lambda b, k: envelope(
        k, alg=b"\x38\x22", unprotected=b"\xa1\x01" + b"\x81" * 16 + b"\x00"
    ),
}
# fmt: on


@pytest.mark.parametrize("case", sorted(ENVELOPE_CASES))
def test_envelope_rules(engine_impl: str, key: IssuerKey, case: str) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential())
    data = ENVELOPE_CASES[case](blob, key.public().wire_kid)
    assert outcome(engine, data) is MalformedCredential


def test_unprotected_nesting_limit_is_that_of_the_profile(engine_impl: str, key: IssuerKey) -> None:
    # The COSE array is depth 1, the map 2, so 14 more arrays reach depth 16: allowed
    # (then refused only because the map is not empty); 15 more are too deep.
    engine = make_engine(engine_impl, row(key))
    kid = key.public().wire_kid
    for levels in (14, 15):
        data = envelope(kid, unprotected=b"\xa1\x01" + b"\x81" * levels + b"\x00")
        assert outcome(engine, data) is MalformedCredential
    alg = b"\x38\x22"  # -35: only an otherwise well-formed envelope gets to the algorithm
    assert outcome(engine, envelope(kid, alg=alg)) is UnsupportedAlgorithm


@pytest.mark.parametrize(
    "alg_value",
    [
        "-35", "-6", "-9", "-1", "7", "8", "0", "24", "-257", "-2**64", "2**64-1",
        '"ES256"', '"EdDSA"', "true", "false", "null", "h'26'", "[-7]", "{1: -7}",
    ],
)  # fmt: skip
def test_only_the_integers_minus_7_and_minus_8_name_an_algorithm(
    engine_impl: str, key: IssuerKey, alg_value: str
) -> None:
    encoded = {
        "-2**64": head(1, 2**64 - 1),
        "2**64-1": head(0, 2**64 - 1),
        '"ES256"': b"\x65ES256",
        '"EdDSA"': b"\x65EdDSA",
        "true": b"\xf5",
        "false": b"\xf4",
        "null": b"\xf6",
        "h'26'": b"\x41\x26",
        "[-7]": b"\x81\x26",
        "{1: -7}": b"\xa1\x01\x26",
    }.get(alg_value) or _cbor.dumps(int(alg_value))
    engine = make_engine(engine_impl, row(key))
    blob = signed(key, BASE, b"\xa2\x01" + encoded + b"\x04\x42" + key.public().wire_kid)
    assert outcome(engine, blob) is UnsupportedAlgorithm


# ---------------------------------------------------------------------------------------
# Steps 3 and 4: issuer and signature


def test_unknown_issuer(engine_impl: str, keys: dict[str, IssuerKey], key: IssuerKey) -> None:
    blob = key.issue(sample_credential())
    other = keys[f"{key.alg}-other"]
    assert outcome(make_engine(engine_impl, row(other)), blob) is UnknownIssuer
    assert outcome(make_engine(engine_impl), blob) is UnknownIssuer
    # The right wire kid under the other algorithm is not a candidate.
    other_alg = keys["EdDSA" if key.alg == "ES256" else "ES256"]
    forged = row(other_alg, wire_kid=key.public().wire_kid)
    assert outcome(make_engine(engine_impl, forged), blob) is UnknownIssuer


def test_bad_signature(engine_impl: str, keys: dict[str, IssuerKey], key: IssuerKey) -> None:
    blob = key.issue(sample_credential())
    other = keys[f"{key.alg}-other"]
    # Another key of the same algorithm claiming the same wire kid: a candidate, but
    # the signature is not its.
    impostor = make_engine(engine_impl, row(other, wire_kid=key.public().wire_kid))
    assert outcome(impostor, blob) is BadSignature
    engine = make_engine(engine_impl, row(key))
    for signature in (bytes(64), b"\xff" * 64, blob[-64:-32] + blob[-64:-32]):
        assert outcome(engine, blob[:-64] + signature) is BadSignature


def test_the_signature_is_checked_before_the_payload(engine_impl: str, key: IssuerKey) -> None:
    # Garbage claims under a wrong signature are a BadSignature, not a MalformedCredential.
    engine = make_engine(engine_impl, row(key))
    kid = key.public().wire_kid
    for payload in (b"\xff", b"\x1f", _cbor.dumps([2]), _cbor.dumps([1, ""]), b""):
        blob = envelope(kid, alg=b"\x26" if key.alg == "ES256" else b"\x27", payload=bstr(payload))
        assert outcome(engine, blob) is BadSignature


def test_every_candidate_sharing_a_wire_kid_is_tried_in_order(
    engine_impl: str, keys: dict[str, IssuerKey], key: IssuerKey
) -> None:
    blob = key.issue(sample_credential())
    kid = key.public().wire_kid
    impostor = row(keys[f"{key.alg}-other"], wire_kid=kid)
    stranger = row(keys[f"{key.alg}-other"])
    engine = make_engine(engine_impl, stranger, impostor, impostor, row(key))
    result = outcome(engine, blob)
    assert isinstance(result, VerifiedCredential) and result.kid == "key-3"
    first = outcome(make_engine(engine_impl, row(key), impostor), blob)
    assert isinstance(first, VerifiedCredential) and first.kid == "key-0"
    # The first key whose signature verifies is the signing key: its window decides.
    narrow = row(key, valid_until=ISSUED - 1)
    assert outcome(make_engine(engine_impl, impostor, narrow, row(key)), blob) is KeyNotValid
    first = outcome(make_engine(engine_impl, row(key), narrow), blob)
    assert isinstance(first, VerifiedCredential) and first.kid == "key-0"


ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493


def _ed25519_envelope(kid: bytes, signature: bytes) -> bytes:
    return envelope(kid, alg=b"\x27", payload=bstr(_cbor.dumps(BASE)), signature=bstr(signature))


def test_ed25519_signature_with_the_identity_as_r_is_refused(
    engine_impl: str, keys: dict[str, IssuerKey]
) -> None:
    # R = the identity and S = k * a satisfy the verification equation, so OpenSSL
    # accepts this second signature that any key holder can make; libsodium, through
    # which the Python twin checks, refuses a small-order R, and so must every engine.
    key = keys["EdDSA"]
    seed = hashlib.sha256(b"cityid-card test vector key ENGINE-EdDSA").digest()
    public = _algorithms.raw_public_bytes(key.public().key)
    scalar = int.from_bytes(hashlib.sha512(seed).digest()[:32], "little")
    scalar = (scalar & ((1 << 254) - 8)) | (1 << 254)
    kid = key.public().wire_kid
    identity = (1).to_bytes(32, "little")
    message = cose.sig_structure(b"\xa2\x01\x27\x04\x42" + kid, _cbor.dumps(BASE))
    k = int.from_bytes(hashlib.sha512(identity + public + message).digest(), "little")
    signature = identity + (k * scalar % ED25519_ORDER).to_bytes(32, "little")
    assert outcome(make_engine(engine_impl, row(key)), _ed25519_envelope(kid, signature)) is (
        BadSignature
    )


@pytest.mark.parametrize("encoding", ["01" + "00" * 31, "ee" + "ff" * 30 + "7f", "00" * 32])
def test_small_order_ed25519_keys_verify_nothing(engine_impl: str, encoding: str) -> None:
    # Under the identity as public key, R = [S]B verifies any message for OpenSSL.
    kid = b"\x00\x01"
    engine = make_engine(engine_impl, (-8, kid, bytes.fromhex(encoding), None, None))
    s = (123456789).to_bytes(32, "little")
    signature = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(s) + s
    assert outcome(engine, _ed25519_envelope(kid, signature)) is BadSignature


# ---------------------------------------------------------------------------------------
# Step 5: the claims, signed correctly so that only the claims are wrong

EXT7 = {1: CARD_KEY}


def _with(position: int, value: Any) -> list[Any]:
    claims = list(BASE)
    claims[position] = value
    return claims


def _nested(levels: int) -> bytes:
    """A claims array whose name is `levels` nested arrays around 0."""
    return b"\x86\x01" + b"\x81" * levels + b"\x00" + _cbor.dumps(BASE[2:])[1:]


def _with_extensions(encoded_map: bytes) -> bytes:
    """The base claims, a null gender and extensions given as raw CBOR."""
    return b"\x88" + _cbor.dumps(BASE)[1:] + b"\xf6" + encoded_map


_DEEP_OK = _nested(15)  # claims array at depth 1, nested arrays to depth 16: allowed
_DEEP_BAD = _nested(16)
assert _cbor.loads(_DEEP_OK) and len(_DEEP_BAD) == len(_DEEP_OK) + 1

# fmt: off
CLAIMS_CASES: list[tuple[str, list[Any] | bytes, type[CredentialError]]] = [
    # The payload's CBOR first: any encoding error anywhere is MalformedCredential.
    ("not-an-array", _cbor.dumps({0: 1}), MalformedCredential),
    ("an-integer", _cbor.dumps(1), MalformedCredential),
    ("empty-array", _cbor.dumps([]), MalformedCredential),
    ("empty-payload", b"", MalformedCredential),
    ("trailing-byte", _cbor.dumps(BASE) + b"\x00", MalformedCredential),
    ("non-canonical-status", _cbor.dumps(BASE)[:-3] + head(0, INDEX, 4), MalformedCredential),
    ("non-canonical-array-head", head(4, 6, 1) + _cbor.dumps(BASE)[1:], MalformedCredential),
    ("float-status", _cbor.dumps(BASE)[:-3] + b"\xf9\x3c\x00", MalformedCredential),
    ("tagged-date", _cbor.dumps(BASE)[:-12] + b"\xd8\x64" + _cbor.dumps(BASE)[-12:], MalformedCredential),
    ("invalid-utf8-name", b"\x86\x01\x62\xc3\x28" + _cbor.dumps(BASE[2:])[1:], MalformedCredential),
    ("surrogate-in-name", b"\x86\x01\x63\xed\xa0\x80" + _cbor.dumps(BASE[2:])[1:], MalformedCredential),
    ("overlong-utf8-name", b"\x86\x01\x62\xc0\xaf" + _cbor.dumps(BASE[2:])[1:], MalformedCredential),
    ("indefinite-array", b"\x9f" + _cbor.dumps(BASE)[1:] + b"\xff", MalformedCredential),
    ("too-deep", _DEEP_BAD, MalformedCredential),
    ("deep-but-allowed", _DEEP_OK, InvalidClaim),
    ("extension-keys-1-and-true", _with_extensions(b"\xa2\x01" + bstr(CARD_KEY) + b"\xf5\x41\x00"), MalformedCredential),
    ("extension-keys-unsorted", _with_extensions(b"\xa2\x02" + bstr(TAG_UID) + b"\x01" + bstr(CARD_KEY)), MalformedCredential),
    ("undefined-gender", _cbor.dumps([*BASE, None])[:-1] + b"\xf7", MalformedCredential),
    # The shape, in the order of Credential.from_claims.
    ("version-text", _with(0, "1"), MalformedCredential),
    ("version-true", _with(0, True), MalformedCredential),
    ("version-null", _with(0, None), MalformedCredential),
    ("version-bytes", _with(0, b"\x01"), MalformedCredential),
    ("version-array", _with(0, [1]), MalformedCredential),
    ("version-2", _with(0, 2), UnsupportedVersion),
    ("version-0", _with(0, 0), UnsupportedVersion),
    ("version-minus-1", _with(0, -1), UnsupportedVersion),
    ("version-huge", _with(0, 2**64 - 1), UnsupportedVersion),
    ("version-very-negative", _with(0, -(2**64)), UnsupportedVersion),
    ("version-2-alone", [2], UnsupportedVersion),
    ("version-2-and-bad-name", [2, "", *BASE[2:]], UnsupportedVersion),
    ("one-claim", [1], MalformedCredential),
    ("five-claims", BASE[:5], MalformedCredential),
    ("nine-claims", [*BASE, "X", EXT7, 0], UnknownClaim),
    ("nine-claims-and-bad-name", [1, "", *BASE[2:], "X", EXT7, 0], UnknownClaim),
    ("null-gender-without-extensions", [*BASE, None], MalformedCredential),
    ("extensions-not-a-map", [*BASE, None, [1]], MalformedCredential),
    ("extensions-bytes", [*BASE, "X", b"\x01"], MalformedCredential),
    ("extensions-empty", [*BASE, None, {}], MalformedCredential),
    # name
    ("name-integer", _with(1, 5), InvalidClaim),
    ("name-bytes", _with(1, b"Ana"), InvalidClaim),
    ("name-null", _with(1, None), InvalidClaim),
    ("name-false", _with(1, False), InvalidClaim),
    ("name-array", _with(1, []), InvalidClaim),
    ("name-empty", _with(1, ""), InvalidClaim),
    ("name-101-bytes", _with(1, "a" * 101), InvalidClaim),
    ("name-101-bytes-multibyte", _with(1, "é" * 50 + "a"), InvalidClaim),
    ("name-nfd", _with(1, "Zoe\u0308"), InvalidClaim),
    ("name-nfd-hangul", _with(1, "\u1100\u1161"), InvalidClaim),
    ("name-singleton-decomposition", _with(1, "A\u212b"), InvalidClaim),  # ANGSTROM SIGN
    ("name-control-nul", _with(1, "A\x00B"), InvalidClaim),
    ("name-control-unit-separator", _with(1, "A\x1fB"), InvalidClaim),
    ("name-control-delete", _with(1, "A\x7fB"), InvalidClaim),
    ("name-control-u0080", _with(1, "A\x80B"), InvalidClaim),
    ("name-control-u009f", _with(1, "A\x9fB"), InvalidClaim),
    ("name-control-newline-inside", _with(1, "A\nB"), InvalidClaim),
    # dates
    ("dob-text", _with(2, "1990-04-12"), InvalidClaim),
    ("dob-true", _with(2, True), InvalidClaim),
    ("dob-null", _with(2, None), InvalidClaim),
    ("dob-too-early", _with(2, -65537), InvalidClaim),
    ("dob-very-negative", _with(2, -(2**64)), InvalidClaim),
    ("issued-bytes", _with(3, b"\x51\x2a"), InvalidClaim),
    ("expires-too-late", _with(4, 65536), InvalidClaim),
    ("expires-huge", _with(4, 2**64 - 1), InvalidClaim),
    ("dob-after-issued", _with(2, ISSUED + 1), InvalidClaim),
    ("issued-after-expires", _with(3, EXPIRES + 1), InvalidClaim),
    # status_index
    ("status-negative", _with(5, -1), InvalidClaim),
    ("status-2**32", _with(5, 2**32), InvalidClaim),
    ("status-true", _with(5, True), InvalidClaim),
    ("status-text", _with(5, "4711"), InvalidClaim),
    ("status-null", _with(5, None), InvalidClaim),
    # gender
    ("gender-empty", [*BASE, ""], InvalidClaim),
    ("gender-33-bytes", [*BASE, "x" * 33], InvalidClaim),
    ("gender-integer", [*BASE, 1], InvalidClaim),
    ("gender-false", [*BASE, False], InvalidClaim),
    ("gender-bytes", [*BASE, b"X", EXT7], InvalidClaim),
    ("gender-leading-space", [*BASE, " X"], InvalidClaim),
    ("gender-nfd", [*BASE, "e\u0301"], InvalidClaim),
    ("gender-control", [*BASE, "X\x85Y"], InvalidClaim),
    # extensions, entry by entry
    ("extension-label-0", [*BASE, None, {0: CARD_KEY}], UnknownClaim),
    ("extension-label-4", [*BASE, None, {4: CARD_KEY}], UnknownClaim),
    ("extension-label-minus-1", [*BASE, None, {-1: CARD_KEY}], UnknownClaim),
    ("extension-label-text", [*BASE, None, {"card_key": CARD_KEY}], UnknownClaim),
    ("extension-label-bytes", [*BASE, None, {b"\x01": CARD_KEY}], UnknownClaim),
    ("extension-label-true", [*BASE, None, {True: CARD_KEY}], UnknownClaim),
    ("extension-label-null", _with_extensions(b"\xa1\xf6" + bstr(CARD_KEY)), UnknownClaim),
    ("card-key-32-bytes", [*BASE, None, {1: CARD_KEY[:32]}], InvalidClaim),
    ("card-key-text", [*BASE, None, {1: "02" * 33}], InvalidClaim),
    ("card-key-uncompressed-prefix", [*BASE, None, {1: b"\x04" + CARD_KEY[1:]}], InvalidClaim),
    ("card-key-empty", [*BASE, None, {1: b""}], InvalidClaim),
    ("pseudonym-key-34-bytes", [*BASE, None, {3: CARD_KEY + b"\0"}], InvalidClaim),
    ("pseudonym-key-prefix-0", [*BASE, None, {3: b"\x00" + CARD_KEY[1:]}], InvalidClaim),
    ("tag-uid-5-bytes", [*BASE, None, {2: bytes(5)}], InvalidClaim),
    ("tag-uid-integer", [*BASE, None, {2: 7}], InvalidClaim),
    ("bad-value-before-unknown-label", [*BASE, None, {1: b"", 4: b""}], InvalidClaim),
    ("unknown-label-after-good-entry", [*BASE, None, {1: CARD_KEY, 4: b""}], UnknownClaim),
    ("good-entry-then-bad-value", [*BASE, None, {1: CARD_KEY, 2: b""}], InvalidClaim),
    # The first failing check decides.
    ("bad-name-before-bad-status", [*_with(1, "")[:5], -1], InvalidClaim),
    ("bad-status-before-null-gender", [*BASE[:5], -1, None], InvalidClaim),
    ("null-gender-before-date-order", [*_with(2, ISSUED + 1), None], MalformedCredential),
    ("unknown-extension-before-date-order", [*_with(2, ISSUED + 1), None, {9: b""}], UnknownClaim),
    ("bad-name-before-unknown-extension", [1, " ", *BASE[2:], None, {9: b""}], InvalidClaim),
    ("date-order-before-nfd", [1, "Zoe\u0308", DOB, EXPIRES + 1, EXPIRES, INDEX], InvalidClaim),
]
# fmt: on


@pytest.mark.parametrize(
    ("claims", "expected"), [pytest.param(c, e, id=i) for i, c, e in CLAIMS_CASES]
)
def test_claims_rules(
    engine_impl: str, key: IssuerKey, claims: list[Any] | bytes, expected: type[CredentialError]
) -> None:
    engine = make_engine(engine_impl, row(key))
    assert outcome(engine, signed(key, claims)) is expected


#: Python's str.strip() white space (Py_UNICODE_ISSPACE), one per code point.
WHITE_SPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]
#: Format characters and others that look blank but are not white space to Python.
NOT_WHITE_SPACE = ["\u200b", "\u180e", "\ufeff", "\u2060", "\u00ad", "\u3164", "\u115f"]


def test_white_space_is_what_python_strips() -> None:
    assert len(WHITE_SPACE) == 29
    assert not any(c.isspace() for c in NOT_WHITE_SPACE)


@pytest.mark.parametrize("space", WHITE_SPACE, ids=lambda c: f"U+{ord(c):04X}")
def test_white_space_at_either_end_is_refused(engine_impl: str, key: IssuerKey, space: str) -> None:
    engine = make_engine(engine_impl, row(key))
    for name in (space + "Ana", "Ana" + space, space, "Ana Ana"):
        text = name.replace(" ", space)
        refused = text != text.strip() or unicodedata.category(space) == "Cc"
        # U+2000 and U+2001 are not in NFC (they decompose to U+2002 and U+2003).
        refused |= not unicodedata.is_normalized("NFC", text)
        for claims in (_with(1, text), [*BASE, text]):
            result = outcome(engine, signed(key, claims))
            if refused:
                assert result is InvalidClaim, (name, claims)
            else:
                assert isinstance(result, VerifiedCredential), (name, claims)


@pytest.mark.parametrize("blank", NOT_WHITE_SPACE, ids=lambda c: f"U+{ord(c):04X}")
def test_blank_looking_characters_are_not_white_space(
    engine_impl: str, key: IssuerKey, blank: str
) -> None:
    engine = make_engine(engine_impl, row(key))
    for text in (blank + "Ana", "Ana" + blank, blank):
        result = outcome(engine, signed(key, _with(1, text)))
        assert isinstance(result, VerifiedCredential) and result.credential.name == text


@pytest.mark.parametrize(
    "control",
    [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0))],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_every_control_character_is_refused_anywhere(
    engine_impl: str, key: IssuerKey, control: str
) -> None:
    engine = make_engine(engine_impl, row(key))
    for text in (control, "A" + control, "A" + control + "B", control + "é"):
        assert outcome(engine, signed(key, _with(1, text))) is InvalidClaim


@pytest.mark.parametrize(
    "neighbour",
    ["\xa0", "\xa1", "\u0100", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff"],
)
def test_the_neighbours_of_the_control_ranges_are_allowed_inside(
    engine_impl: str, key: IssuerKey, neighbour: str
) -> None:
    engine = make_engine(engine_impl, row(key))
    text = "A" + neighbour + "B"
    result = outcome(engine, signed(key, _with(1, text)))
    normalized = unicodedata.is_normalized("NFC", text)
    if normalized:
        assert isinstance(result, VerifiedCredential) and result.credential.name == text
    else:
        assert result is InvalidClaim


@pytest.mark.parametrize(
    ("text", "nfc"),
    [
        ("Zoë", True),
        ("Zoe\u0308", False),
        ("한국", True),
        ("\u1112\u1161\u11ab", False),  # conjoining jamo of 한
        ("Å", True),
        ("\u212b", False),  # ANGSTROM SIGN normalizes to Å
        ("\u0344", False),  # its NFC is U+0308 U+0301
        ("q\u0301\u0327", False),  # marks out of canonical order
        ("q\u0327\u0301", True),
        ("a\u0327\u0301", False),  # the acute composes with the a past the cedilla
        ("ḉ", True),
        ("\U0001d518\U0001f600", True),
        ("ﬁ", True),  # compatibility characters are NFC
    ],
)
def test_nfc_is_checked_for_name_and_gender(
    engine_impl: str, key: IssuerKey, text: str, nfc: bool
) -> None:
    assert unicodedata.is_normalized("NFC", text) is nfc
    engine = make_engine(engine_impl, row(key))
    for claims in (_with(1, text), [*BASE, text], [*BASE, text, EXT7]):
        result = outcome(engine, signed(key, claims))
        assert isinstance(result, VerifiedCredential) if nfc else result is InvalidClaim


@pytest.mark.parametrize("limit", [100, 32])
def test_text_length_limits_are_in_bytes(engine_impl: str, key: IssuerKey, limit: int) -> None:
    engine = make_engine(engine_impl, row(key))
    for unit in ("a", "é", "李", "😀"):
        size = len(unit.encode())
        fits = unit * (limit // size) + "a" * (limit % size)
        assert len(fits.encode()) == limit
        for text, ok in ((fits, True), (fits + "a", False)):
            claims = _with(1, text) if limit == 100 else [*BASE, text]
            result = outcome(engine, signed(key, claims))
            assert isinstance(result, VerifiedCredential) if ok else result is InvalidClaim


def test_nfc_is_the_last_claims_check_and_before_the_dates(
    engine_impl: str, key: IssuerKey
) -> None:
    # NFC belongs to step 5, so it beats the key window (6) and the dates (7).
    nfd = [1, "Zoe\u0308", DOB, ISSUED, EXPIRES, INDEX]
    narrow = row(key, valid_from=ISSUED + 1)
    assert outcome(make_engine(engine_impl, narrow), signed(key, nfd)) is InvalidClaim
    engine = make_engine(engine_impl, row(key))
    assert outcome(engine, signed(key, nfd), day(ISSUED - 1)) is InvalidClaim
    assert outcome(engine, signed(key, nfd), day(EXPIRES + 1)) is InvalidClaim


# ---------------------------------------------------------------------------------------
# Steps 6 and 7: key window and dates


def test_key_windows_are_inclusive_and_may_be_open(engine_impl: str, key: IssuerKey) -> None:
    blob = key.issue(sample_credential())
    windows: list[tuple[int | None, int | None, bool]] = [
        (None, None, True),
        (ISSUED, ISSUED, True),
        (ISSUED, None, True),
        (None, ISSUED, True),
        (ISSUED + 1, None, False),
        (None, ISSUED - 1, False),
        (-(2**70), 2**70, True),  # beyond 64 bits: still just numbers
        (2**70, None, False),
        (None, -(2**70), False),
    ]
    for valid_from, valid_until, ok in windows:
        engine = make_engine(engine_impl, row(key, valid_from=valid_from, valid_until=valid_until))
        result = outcome(engine, blob)
        assert isinstance(result, VerifiedCredential) if ok else result is KeyNotValid, (
            valid_from,
            valid_until,
        )


def test_dates_are_inclusive_and_checked_in_order(engine_impl: str, key: IssuerKey) -> None:
    blob = key.issue(sample_credential())
    engine = make_engine(engine_impl, row(key))
    assert isinstance(outcome(engine, blob, day(ISSUED)), VerifiedCredential)
    assert isinstance(outcome(engine, blob, day(EXPIRES)), VerifiedCredential)
    assert outcome(engine, blob, day(ISSUED - 1)) is NotYetValid
    assert outcome(engine, blob, day(EXPIRES + 1)) is Expired
    assert outcome(engine, blob, date.min) is NotYetValid
    assert outcome(engine, blob, datetime.max) is Expired
    narrow = make_engine(engine_impl, row(key, valid_until=ISSUED - 1))
    assert outcome(narrow, blob, day(ISSUED - 1)) is KeyNotValid  # the window first
    one_day = key.issue(sample_credential(expires=sample_credential().issued))
    assert isinstance(outcome(engine, one_day, day(ISSUED)), VerifiedCredential)
    assert outcome(engine, one_day, day(ISSUED + 1)) is Expired


# ---------------------------------------------------------------------------------------
# Step 8: status lists


def recheck_outcome(
    engine: Any, result: VerifiedCredential, key_index: int, status_index: int, now: Any = NOW
) -> Outcome:
    """What recheck makes of a cache entry whose dates hold at any ``now``."""
    try:
        checked: VerifiedCredential = engine.recheck(
            (result, key_index, -(2**40), 2**40, status_index), now
        )
    except CredentialError as error:
        return type(error)
    return checked


def test_status_from_the_signing_keys_list(
    engine_impl: str, keys: dict[str, IssuerKey], key: IssuerKey
) -> None:
    other = keys[f"{key.alg}-other"]
    engine = make_engine(engine_impl, row(other), row(key))
    blob = key.issue(sample_credential(status_index=10))
    cached = engine.verify(blob, NOW)
    assert cached.status is CredentialStatus.UNKNOWN  # no list
    for bits, data, value in [
        (1, b"\x00\x04", 1),  # bit 10 is bit 2 of byte 1
        (1, b"\xff\xfb", 0),
        (2, bytes([0, 0, 0b0010_0000]), 2),  # entry 10: byte 2, bits 4-5
        (2, bytes([0, 0, 0b1000_1111]), 0),
        (4, bytes([0] * 5 + [0x0F]), 15),  # entry 10: byte 5, low nibble
        (4, bytes([0] * 5 + [0x02]), 2),
        (4, bytes([0] * 5 + [0xF0]), 0),
        (8, bytes(range(11)), 10),
        (8, bytes(10) + b"\x02", 2),
        (1, b"\x00", None),  # index beyond the list
        (8, bytes(10), None),
        (8, b"", None),
    ]:
        engine.set_status_list(1, data, bits, None)
        expected = expected_status(value)
        assert status_name(outcome(engine, blob)) == expected, (bits, data)
        assert status_name(recheck_outcome(engine, cached, 1, 10)) == expected
        assert status_name(recheck_outcome(engine, cached, 0, 10)) == "unknown"  # another key's
        engine.reject_unknown = True
        expected = expected_status(value, reject_unknown=True)
        assert status_name(outcome(engine, blob)) == expected, (bits, data)
        assert status_name(recheck_outcome(engine, cached, 1, 10)) == expected
        engine.reject_unknown = False
    engine.set_status_list(1, None, 1, None)
    assert status_name(outcome(engine, blob)) == "unknown"


def test_the_status_policy(engine_impl: str, key: IssuerKey) -> None:
    blob = key.issue(sample_credential(status_index=0))
    engine = make_engine(engine_impl, row(key), reject_unknown=True)
    assert engine.reject_unknown is True
    assert outcome(engine, blob) is StatusUnknown
    engine.set_status_list(0, b"\x00", 1, None)
    assert status_name(outcome(engine, blob)) == "valid"
    engine.set_status_list(0, b"\x02", 2, None)
    assert outcome(engine, blob) is Suspended
    engine.set_status_list(0, b"\x03", 2, None)
    assert outcome(engine, blob) is Revoked
    assert make_engine(engine_impl, row(key)).reject_unknown is False


def test_an_expired_list_says_nothing(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential(status_index=0))
    engine.set_status_list(0, b"\x01", 1, NOW_SECONDS)
    assert outcome(engine, blob) is Revoked
    assert status_name(outcome(engine, blob, NOW + timedelta(seconds=1))) == "unknown"
    cached = engine.verify(blob, NOW + timedelta(seconds=1))
    assert recheck_outcome(engine, cached, 0, 0) is Revoked
    later = NOW + timedelta(seconds=1)
    assert status_name(recheck_outcome(engine, cached, 0, 0, later)) == "unknown"
    # The last second of year 9999 (a timestamp beyond 2**53 microseconds).
    last = int(datetime.max.replace(tzinfo=UTC).timestamp())
    engine.set_status_list(0, bytearray(b"\x01"), 1, last)
    assert recheck_outcome(engine, cached, 0, 0, datetime.max) is Revoked
    engine.set_status_list(0, b"\x01", 1, last - 1)
    assert status_name(recheck_outcome(engine, cached, 0, 0, datetime.max)) == "unknown"


def test_status_lookup_agrees_with_status_at(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    cached = engine.verify(key.issue(sample_credential()), NOW)
    rng = random.Random(7)
    for bits in (1, 2, 4, 8):
        data = rng.randbytes(rng.randrange(0, 40))
        engine.set_status_list(0, data, bits, None)
        for index in [*range(8 * len(data) // bits + 9), 2**32 - 1, 2**40, 2**63, 2**64]:
            expected = expected_status(status_at(data, bits, index))
            assert status_name(recheck_outcome(engine, cached, 0, index)) == expected


def test_recheck_returns_the_cached_result_while_the_status_holds(
    engine_impl: str, key: IssuerKey
) -> None:
    engine = make_engine(engine_impl, row(key))
    cached = engine.verify(key.issue(sample_credential(status_index=1)), NOW)
    entry = (cached, 0, ISSUED, EXPIRES, 1)
    assert engine.recheck(entry, NOW) is cached
    assert engine.recheck(entry, day(ISSUED)) is cached
    assert engine.recheck(entry, day(EXPIRES)) is cached
    with pytest.raises(NotYetValid):
        engine.recheck(entry, day(ISSUED - 1))
    with pytest.raises(Expired):
        engine.recheck(entry, day(EXPIRES + 1))
    engine.set_status_list(0, b"\x00", 1, None)
    valid = engine.recheck(entry, NOW)
    assert valid == VerifiedCredential(cached.credential, "key-0", key.alg, CredentialStatus.VALID)
    assert type(valid) is VerifiedCredential and valid.credential is cached.credential
    assert list(vars(valid)) == ["credential", "kid", "alg", "status"]
    assert engine.recheck((valid, *entry[1:]), NOW) is valid
    engine.set_status_list(0, b"\x02", 1, None)
    with pytest.raises(Revoked):
        engine.recheck(entry, NOW)


def test_a_new_list_replaces_the_old_one(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential(status_index=3))
    engine.set_status_list(0, b"\x08", 1, None)
    assert outcome(engine, blob) is Revoked
    data = bytearray(b"\x00")
    engine.set_status_list(0, data, 1, None)
    data[0] = 0xFF  # the engine keeps its own copy
    assert status_name(outcome(engine, blob)) == "valid"


# ---------------------------------------------------------------------------------------
# Every single-bit flip, every truncation


def _flip_outcome(blob: bytes, position: int, value: int) -> type[CredentialError]:
    """The outcome of a credential with byte `position` set to `value` (one bit flipped)."""
    # 84 | 47 a2 01 alg 04 42 kid kid | a0 | 58 len payload... | 58 40 signature...
    signature_start = len(blob) - 64
    if position >= signature_start or 12 <= position < signature_start - 2:
        return BadSignature
    if position in (7, 8):
        return UnknownIssuer
    if position == 4:
        if value in (0x26, 0x27):
            return UnknownIssuer  # the other algorithm: no key of it has this kid
        if (value >> 5 in (0, 1) and value & 0x1F < 24) or value in (0xF4, 0xF5, 0xF6):
            return UnsupportedAlgorithm  # another one-byte value
    return MalformedCredential


def test_every_single_bit_flip(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential(status_index=2**32 - 1, gender="X"))
    assert isinstance(outcome(engine, blob), VerifiedCredential)
    for position, bit in itertools.product(range(len(blob)), range(8)):
        tampered = bytearray(blob)
        tampered[position] ^= 1 << bit
        expected = _flip_outcome(blob, position, tampered[position])
        assert outcome(engine, bytes(tampered)) is expected, (position, bit)


def test_every_truncation_and_extension(engine_impl: str, key: IssuerKey) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential(card_key=CARD_KEY))
    for size in range(len(blob)):
        assert outcome(engine, blob[:size]) is MalformedCredential, size
        assert outcome(engine, blob[size:]) is MalformedCredential or size == 0
    for extra in (b"\x00", b"\xff", b"\xa0", blob):
        assert outcome(engine, blob + extra) is MalformedCredential


# ---------------------------------------------------------------------------------------
# Vectors


SPEC_VECTORS: dict[str, Any] = json.loads((VECTORS / "credentials.json").read_text("utf-8"))
SPEC_TRUST = TrustStore.load(VECTORS / "trust.json")


def verifier(engine_impl: str, trust: TrustStore) -> Verifier:
    if engine_impl not in _ENGINES:
        pytest.skip(f"CITYID_CARD_PURE=1 keeps the {engine_impl} engine out of Verifier")
    return Verifier(trust, cache_size=0, implementation=engine_impl)


@pytest.mark.parametrize("vector", SPEC_VECTORS["vectors"], ids=lambda v: v["id"])
def test_spec_vector(engine_impl: str, vector: dict[str, Any]) -> None:
    blob = bytes.fromhex(vector["hex"])
    now = date.fromisoformat(vector["now"])
    expected = vector["expected"]
    checker = verifier(engine_impl, SPEC_TRUST)
    if expected["valid"]:
        assert claims_json(checker.verify(blob, now).credential) == expected["claims"]
    else:
        with pytest.raises(CredentialError) as caught:
            checker.verify(blob, now)
        assert type(caught.value).__name__ == expected["error"]


DARKYENUS: list[dict[str, Any]] = load_vector_json("cbor/rfc8949_vectors_darkyenus.json")


def test_every_darkyenus_cbor_vector_is_a_malformed_credential(engine_impl: str) -> None:
    # 693 invalid and 85 valid CBOR items: none of them is a credential.
    engine = make_engine(engine_impl, *(row(k) for k in _vector_keys()))
    assert len(DARKYENUS) == 778
    for case in DARKYENUS:
        data = bytes.fromhex(case["hex"])
        assert outcome(engine, data) is MalformedCredential, case["hex"]
        if "invalid" in case["flags"]:
            # As a protected header, an unprotected header and a payload too.
            assert outcome(engine, envelope(b"\0\0", protected=data)) is MalformedCredential
            assert outcome(engine, envelope(b"\0\0", unprotected=data)) is MalformedCredential


def _vector_keys() -> list[IssuerKey]:
    return [
        IssuerKey.from_pem(k["private_key_pem"].encode(), kid=k["kid"])
        for k in SPEC_VECTORS["keys"]
    ]


def test_every_invalid_darkyenus_vector_as_a_signed_payload(
    engine_impl: str, key: IssuerKey
) -> None:
    engine = make_engine(engine_impl, row(key))
    for case in DARKYENUS:
        if "invalid" in case["flags"]:
            blob = signed(key, bytes.fromhex(case["hex"]))
            assert outcome(engine, blob) is MalformedCredential, case["hex"]


# ---------------------------------------------------------------------------------------
# Threads


def test_concurrent_verify_gives_the_sequential_results(
    engine_impl: str, keys: dict[str, IssuerKey]
) -> None:
    engine = make_engine(engine_impl, *(row(k) for k in keys.values()))
    blobs: list[bytes] = []
    for number, key in enumerate(keys.values()):
        for index in range(6):
            blob = key.issue(sample_credential(status_index=index, gender=f"G{number}"))
            broken = bytearray(blob)
            broken[-1 - index] ^= 0x10
            blobs += [blob, bytes(broken), blob[: 20 + index]]
    expected = [outcome(engine, blob) for blob in blobs]
    start = threading.Barrier(4)
    results: dict[int, list[Outcome]] = {}

    def work(number: int) -> None:
        order = list(range(len(blobs)))
        random.Random(number).shuffle(order)
        start.wait()
        got = {i: outcome(engine, blobs[i]) for i in order * 3}
        results[number] = [got[i] for i in range(len(blobs))]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[n] == expected for n in range(4)] == [True] * 4


def test_status_lists_may_change_while_other_threads_verify(
    engine_impl: str, key: IssuerKey
) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential(status_index=0))
    stop = threading.Event()
    seen: set[str] = set()

    def verify_loop() -> None:
        while not stop.is_set():
            seen.add(status_name(outcome(engine, blob)))

    threads = [threading.Thread(target=verify_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for number in range(300):
            engine.set_status_list(0, None if number % 3 == 0 else bytes([number % 2]), 1, None)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert seen <= {"unknown", "valid", "Revoked"}


def test_verify_many_on_both_engines(engine_impl: str, key: IssuerKey) -> None:
    trust = TrustStore([key.public()])
    blobs = [key.issue(sample_credential(status_index=i)) for i in range(12)]
    blobs[5] = blobs[5][:-1] + bytes([blobs[5][-1] ^ 1])
    checker = verifier(engine_impl, trust)
    for threads in (1, 2, 4):
        results = checker.verify_many([*blobs, b""], NOW, threads=threads)
        assert [type(r).__name__ for r in results].count("VerifiedCredential") == 11
        assert isinstance(results[5], BadSignature) and isinstance(results[-1], MalformedCredential)


def test_engine_verify_many_is_verify_for_each(
    engine_impl: str, keys: dict[str, IssuerKey]
) -> None:
    engine = make_engine(engine_impl, *(row(k) for k in keys.values()))
    engine.set_status_list(0, b"\x24", 2, None)  # entry 1 revoked, entry 2 suspended
    blobs: list[bytes] = []
    for number in range(150):  # more than one batch of the C engine
        key = list(keys.values())[number % 4]
        index = number % 3
        blob = key.issue(sample_credential(status_index=index, gender=f"G{number}"))
        kind = number % 5
        if kind == 1:
            blob = blob[:-1] + bytes([blob[-1] ^ 1])
        elif kind == 2:
            blob = blob[: number % 40]
        elif kind == 3:
            blob = signed(key, [1, "Zoe\u0308", DOB, ISSUED, ISSUED, index])  # NFD and expired
        blobs.append(blob)

    def described(result: Any) -> Any:
        if isinstance(result, VerifiedCredential):
            return result
        return type(result), str(result)

    expected = []
    for blob in blobs:
        try:
            expected.append(engine.verify(blob, NOW))
        except CredentialError as error:
            expected.append((type(error), str(error)))
    assert {type(e) for e in expected} >= {VerifiedCredential, tuple}
    assert {e[0] for e in expected if isinstance(e, tuple)} >= {
        BadSignature, MalformedCredential, InvalidClaim, Revoked, Suspended,
    }  # fmt: skip
    assert [described(r) for r in engine.verify_many(blobs, NOW)] == expected
    assert [described(r) for r in engine.verify_many(tuple(map(bytearray, blobs)), NOW)] == (
        expected
    )
    assert engine.verify_many([], NOW) == []


# ---------------------------------------------------------------------------------------
# The C engine's own surface


def test_implementation_reports_the_c_engine_when_built() -> None:
    native_module()
    code = "import cityid_card; print(cityid_card.implementation)"
    run = [sys.executable, "-c", code]
    for pure, expected in (("0", "c"), ("1", "python")):
        env = {**os.environ, "CITYID_CARD_PURE": pure}
        shown = subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout
        assert shown.strip() == expected


def test_c_engine_rejects_unusable_key_rows(keys: dict[str, IssuerKey]) -> None:
    engine_class = native_module().Engine
    good = (*row(keys["ES256"]), "K")
    off_curve = good[2][:-1] + bytes([good[2][-1] ^ 1])
    with pytest.raises(InvalidKey):
        engine_class([(-7, b"\0\0", off_curve, None, None, "K")])
    with pytest.raises(InvalidKey):
        engine_class([(-7, b"\0\0", b"\x00", None, None, "K")])
    with pytest.raises(InvalidKey):
        engine_class([(-8, b"\0\0", bytes(31), None, None, "K")])
    for alg in (-35, 7, True, "ES256"):
        with pytest.raises(UnsupportedAlgorithm):
            engine_class([(alg, *good[1:])])
    with pytest.raises(ValueError, match="wire kid"):
        engine_class([(good[0], b"\0", *good[2:])])
    with pytest.raises(ValueError, match="key row"):
        engine_class([good[:5]])
    with pytest.raises(TypeError, match="kid"):
        engine_class([(*good[:5], b"K")])
    with pytest.raises(TypeError):
        engine_class(None)


def test_both_engines_refuse_what_is_not_bytes_or_a_moment(
    engine_impl: str, key: IssuerKey
) -> None:
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential())
    assert engine.verify(bytearray(blob), NOW).credential == sample_credential()
    assert engine.verify(memoryview(blob), NOW).credential == sample_credential()
    for bad_blob in (blob.hex(), list(blob), None):
        with pytest.raises(TypeError, match="must be bytes"):
            engine.verify(bad_blob, NOW)
        with pytest.raises(TypeError, match="must be bytes"):
            engine.verify_many([blob, bad_blob], NOW)
    entry = (engine.verify(blob, NOW), 0, ISSUED, EXPIRES, 0)
    for bad_now in (NOW.isoformat(), TODAY, NOW.timestamp()):
        with pytest.raises(TypeError, match="now must be"):
            engine.verify(blob, bad_now)
        with pytest.raises(TypeError, match="now must be"):
            engine.verify_many([blob], bad_now)
        with pytest.raises(TypeError, match="now must be"):
            engine.recheck(entry, bad_now)


class _NoOffset(tzinfo):
    def utcoffset(self, moment: datetime | None) -> None:
        return None

    def dst(self, moment: datetime | None) -> None:
        return None

    def tzname(self, moment: datetime | None) -> None:
        return None


class _DayLongOffset(_NoOffset):
    def utcoffset(self, moment: datetime | None) -> timedelta:  # type: ignore[override]
        return timedelta(hours=24)


def test_moments_without_a_usable_offset_are_refused(engine_impl: str, key: IssuerKey) -> None:
    # As datetime.timestamp() refuses them.
    engine = make_engine(engine_impl, row(key))
    blob = key.issue(sample_credential())
    with pytest.raises(TypeError):
        engine.verify(blob, datetime(2027, 6, 1, tzinfo=_NoOffset()))
    with pytest.raises(ValueError, match="offset"):
        engine.verify_many([blob], datetime(2027, 6, 1, tzinfo=_DayLongOffset()))


def test_c_engine_argument_checks(keys: dict[str, IssuerKey]) -> None:
    key = keys["EdDSA"]
    engine = native_module().Engine([(*row(key), "K")])
    blob = key.issue(sample_credential())
    cached = engine.verify(blob, NOW)
    with pytest.raises(TypeError):
        engine.verify(blob)
    with pytest.raises(TypeError):
        engine.verify_many([blob])
    with pytest.raises(TypeError):
        engine.verify_many(5, NOW)
    with pytest.raises(IndexError):
        engine.set_status_list(1, b"", 1, None)
    with pytest.raises(ValueError, match="bits"):
        engine.set_status_list(0, b"", 3, None)
    with pytest.raises(ValueError, match="negative"):
        engine.recheck((cached, 0, ISSUED, EXPIRES, -1), NOW)
    for entry in ([cached, 0, ISSUED, EXPIRES, 0], (cached, 0, ISSUED, EXPIRES), ("x", 0, 0)):
        with pytest.raises(TypeError):
            engine.recheck(entry, NOW)
    assert engine.recheck((cached, 5, ISSUED, EXPIRES, 0), NOW) is cached  # no such key: no list
    with pytest.raises(TypeError):
        engine.reject_unknown = 1


def test_c_signature_check(keys: dict[str, IssuerKey]) -> None:
    native = native_module()
    message = b"the message"
    for alg in ("ES256", "EdDSA"):
        key = keys[alg]
        cose_alg = _algorithms.COSE_ALGORITHM[alg]
        raw = _algorithms.raw_public_bytes(key.public().key)
        assert key._key is not None
        signature = _algorithms.sign(key._key, message)
        native.verify_signature(cose_alg, raw, message, signature)
        for bad in (signature[:-1], signature + b"\0", bytes(64), b""):
            with pytest.raises(BadSignature):
                native.verify_signature(cose_alg, raw, message, bad)
        with pytest.raises(BadSignature):
            native.verify_signature(cose_alg, raw, message + b".", signature)
        backend = native.signature_backend(cose_alg)
        assert ("OpenSSL 3" in backend) or ("libsodium" in backend and alg == "EdDSA")
    with pytest.raises(UnsupportedAlgorithm):
        native.verify_signature(-35, b"", b"", b"")
    with pytest.raises(InvalidKey):
        native.verify_signature(-7, b"\x04" + bytes(64), b"", bytes(64))


def test_c_error_messages_carry_no_claim_data(keys: dict[str, IssuerKey]) -> None:
    key = keys["ES256"]
    engine = native_module().Engine([(*row(key, valid_from=ISSUED + 1), "K")])
    holder = [1, "Ana Sofia Rivera Delgado", DOB, ISSUED, EXPIRES, 4711, "Two-Spirit"]
    cases = [
        signed(key, holder),
        signed(key, [*holder[:6], " Two-Spirit"]),
        signed(key, [1, "Ana Sofia Rivera Delgado\n", *holder[2:]]),
        signed(key, [*holder, {9: b"221B Baker Street"}]),
    ]
    for blob in cases:
        with pytest.raises(CredentialError) as caught:
            engine.verify(blob, NOW)
        text = f"{caught.value} {caught.value!r}"
        for secret in ("Ana", "Rivera", "Two-Spirit", "Baker", "7406", "1990", "4711"):
            assert secret not in text, text
