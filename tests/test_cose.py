"""The generic COSE_Sign1 layer (``cityid_card.cose``), independent of credentials.

RFC 8392 Appendix A.3 is a COSE_Sign1 signed by someone else (tagged, ES256, kid in
the unprotected header): it must verify with the A.2.3 key. Our own messages must
round-trip for both algorithms with any payload, external_aad and kid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from cityid_card import (
    BadSignature,
    InvalidKey,
    IssuerKey,
    MalformedCredential,
    TrustStore,
    UnsupportedAlgorithm,
    _algorithms,
    _cbor,
    cose,
    verify,
)
from cityid_card._algorithms import Algorithm, PublicKeyObject

from .conftest import NOW, load_vector_json, sample_credential, signed_envelope

# ---------------------------------------------------------------------------------------
# RFC 8392 Appendix A

RFC8392: dict[str, Any] = load_vector_json("cwt/rfc8392_appendix_a.json")
A3 = bytes.fromhex(RFC8392["A.3_signed_cwt_hex"])
A1_CLAIMS = bytes.fromhex(RFC8392["A.1_claims_set_hex"])
A3_UNPROTECTED_KID = b"AsymmetricECDSA256"


def _a23_public_key() -> PublicKeyObject:
    # The A.2.3 COSE_Key lists its labels as -4, -3, -2, -1, 1, 2, 3: not deterministic
    # order, so it is read with cbor2 (test_a23_key_is_not_deterministic_cbor shows why).
    cose_key = cbor2.loads(bytes.fromhex(RFC8392["A.2.3_cose_key_hex"]))
    assert cose_key[1] == 2  # kty EC2
    assert cose_key[-1] == 1  # crv P-256
    assert cose_key[3] == -7  # alg ES256
    x, y = cose_key[-2], cose_key[-3]
    decoded = RFC8392["A.2.3_cose_key_decoded"]
    assert x.hex() == decoded["-2 (x)"]
    assert y.hex() == decoded["-3 (y)"]
    return _algorithms.public_key_from_raw("ES256", b"\x04" + x + y)


A23_KEY = _a23_public_key()


def test_a23_key_is_not_deterministic_cbor() -> None:
    with pytest.raises(MalformedCredential):
        _cbor.loads(bytes.fromhex(RFC8392["A.2.3_cose_key_hex"]))


def test_rfc8392_a3_verifies() -> None:
    message = cose.Sign1.decode(A3)
    assert message.protected_bytes == bytes.fromhex("a10126")
    assert message.protected == {cose.HEADER_ALG: -7}
    assert message.alg == "ES256"
    assert message.payload == A1_CLAIMS
    message.verify(A23_KEY)


def test_rfc8392_a3_requires_tag_when_asked() -> None:
    assert cose.Sign1.decode(A3, tagged=True) == cose.Sign1.decode(A3)
    with pytest.raises(MalformedCredential):
        cose.Sign1.decode(A3, tagged=False)


def test_rfc8392_a3_untagged_form() -> None:
    untagged = A3[1:]
    message = cose.Sign1.decode(untagged, tagged=False)
    message.verify(A23_KEY)
    assert message.encode() == untagged
    assert message.encode(tagged=True) == A3
    with pytest.raises(MalformedCredential):
        cose.Sign1.decode(untagged, tagged=True)


def test_rfc8392_a3_kid_is_protected_only() -> None:
    message = cose.Sign1.decode(A3)
    # The RFC puts the kid in the unprotected header, which is never consulted.
    assert message.unprotected == {cose.HEADER_KID: A3_UNPROTECTED_KID}
    assert message.kid is None


def test_rfc8392_a3_payload_bit_flips_fail() -> None:
    message = cose.Sign1.decode(A3)
    for index in range(len(message.payload)):
        for bit in (0x01, 0x80):
            payload = bytearray(message.payload)
            payload[index] ^= bit
            with pytest.raises(BadSignature):
                replace(message, payload=bytes(payload)).verify(A23_KEY)


def test_rfc8392_a3_signature_bit_flip_fails() -> None:
    message = cose.Sign1.decode(A3)
    signature = bytearray(message.signature)
    signature[63] ^= 0x01
    with pytest.raises(BadSignature):
        replace(message, signature=bytes(signature)).verify(A23_KEY)


def test_rfc8392_a3_fails_with_external_aad_or_other_key() -> None:
    message = cose.Sign1.decode(A3)
    with pytest.raises(BadSignature):
        message.verify(A23_KEY, external_aad=b"\x00")
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(BadSignature):
        message.verify(other)


# ---------------------------------------------------------------------------------------
# Our messages

ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "EdDSA")
PRIVATE_KEYS = {alg: _algorithms.generate_private_key(alg) for alg in ALGORITHMS}
COSE_ALG: dict[Algorithm, int] = {"ES256": -7, "EdDSA": -8}


def _public(alg: Algorithm) -> PublicKeyObject:
    return PRIVATE_KEYS[alg].public_key()


_kids = st.none() | st.binary(max_size=20)


@pytest.mark.parametrize("alg", ALGORITHMS)
@given(payload=st.binary(max_size=300), kid=_kids, aad=st.binary(max_size=40))
def test_round_trip(alg: Algorithm, payload: bytes, kid: bytes | None, aad: bytes) -> None:
    message = cose.sign1(payload, PRIVATE_KEYS[alg], kid=kid, external_aad=aad)
    expected_header: dict[int, Any] = {cose.HEADER_ALG: COSE_ALG[alg]}
    if kid is not None:
        expected_header[cose.HEADER_KID] = kid
    assert message.protected == expected_header
    assert _cbor.dumps(expected_header) == message.protected_bytes
    assert len(message.signature) == 64
    for tagged in (False, True):
        data = message.encode(tagged=tagged)
        assert data.startswith(b"\xd2") is tagged
        decoded = cose.Sign1.decode(data, tagged=tagged)
        assert decoded == message
        assert (decoded.alg, decoded.kid, decoded.payload) == (alg, kid, payload)
        decoded.verify(_public(alg), external_aad=aad)


@pytest.mark.parametrize("alg", ALGORITHMS)
@given(payload=st.binary(max_size=100), aad=st.binary(max_size=20))
def test_external_aad_must_match(alg: Algorithm, payload: bytes, aad: bytes) -> None:
    message = cose.sign1(payload, PRIVATE_KEYS[alg], external_aad=aad)
    message.verify(_public(alg), external_aad=aad)
    with pytest.raises(BadSignature):
        message.verify(_public(alg), external_aad=aad + b"\x00")
    if aad:
        with pytest.raises(BadSignature):
            message.verify(_public(alg))


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_external_aad_is_not_in_the_message(alg: Algorithm) -> None:
    plain = cose.sign1(b"payload", PRIVATE_KEYS[alg])
    with_aad = cose.sign1(b"payload", PRIVATE_KEYS[alg], external_aad=b"context")
    assert len(with_aad.encode()) == len(plain.encode())
    assert b"context" not in with_aad.encode()
    assert with_aad.to_be_signed(b"context") == cbor2.dumps(
        ["Signature1", with_aad.protected_bytes, b"context", b"payload"]
    )


_sizes = st.sampled_from([0, 23, 24, 255, 256, 65535, 65536]).map(lambda n: b"\x5a" * n)


@given(
    protected=st.binary(max_size=30),
    payload=st.one_of(st.binary(max_size=300), _sizes),
    aad=st.one_of(st.binary(max_size=30), _sizes),
)
def test_sig_structure_is_the_cbor_array(protected: bytes, payload: bytes, aad: bytes) -> None:
    # sig_structure is encoded by hand; cbor2 is the independent reference.
    expected = cbor2.dumps(["Signature1", protected, aad, payload])
    assert cose.sig_structure(protected, payload, aad) == expected
    assert _cbor.loads(expected) == ["Signature1", protected, aad, payload]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_empty_payload_and_tag_head(alg: Algorithm) -> None:
    message = cose.sign1(b"", PRIVATE_KEYS[alg], kid=b"k")
    untagged = message.encode()
    assert untagged[0] == 0x84  # array of four
    assert message.encode(tagged=True) == b"\xd2" + untagged
    # Tag 18 in its one-byte head is the only form accepted; a non-shortest head is not.
    with pytest.raises(MalformedCredential):
        cose.Sign1.decode(b"\xd8\x12" + untagged)
    with pytest.raises(MalformedCredential):
        cose.Sign1.decode(b"\xd2\xd2" + untagged)
    cose.Sign1.decode(untagged, tagged=None).verify(_public(alg))


@pytest.mark.parametrize(
    ("signer", "verifier"),
    [("ES256", "EdDSA"), ("EdDSA", "ES256")],
    ids=["es256-by-ed25519", "eddsa-by-p256"],
)
def test_alg_key_mismatch_is_unsupported_algorithm(signer: Algorithm, verifier: Algorithm) -> None:
    message = cose.sign1(b"payload", PRIVATE_KEYS[signer])
    with pytest.raises(UnsupportedAlgorithm):
        message.verify(_public(verifier))


def test_other_curve_key_is_invalid_key() -> None:
    message = cose.sign1(b"payload", PRIVATE_KEYS["ES256"])
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidKey):
        message.verify(p384.public_key())
    with pytest.raises(InvalidKey):
        cose.sign1(b"payload", p384)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({1: -35}, id="es384"),
        pytest.param({1: -257}, id="rs256"),
        pytest.param({1: 7}, id="positive-7"),
        pytest.param({1: "ES256"}, id="alg-as-text"),
        pytest.param({1: True}, id="alg-true"),
        pytest.param({4: b"k"}, id="no-alg"),
    ],
)
def test_header_algorithm_other_than_es256_or_eddsa(header: dict[int, Any]) -> None:
    # A correct signature does not help: the header's algorithm is checked first.
    protected = _cbor.dumps(header)
    key = PRIVATE_KEYS["ES256"]
    signature = _algorithms.sign(key, cose.sig_structure(protected, b"payload"))
    message = cose.Sign1.decode(cose.Sign1(protected, b"payload", signature).encode())
    with pytest.raises(UnsupportedAlgorithm):
        _ = message.alg
    with pytest.raises(UnsupportedAlgorithm):
        message.verify(key.public_key())


def test_empty_protected_header_is_zero_length() -> None:
    # RFC 9052 section 3: an empty protected header is h'' (then there is no algorithm).
    message = cose.Sign1.decode(_cbor.dumps([b"", {1: -7}, b"p", b"\x00" * 64]))
    assert message.protected == {}
    with pytest.raises(UnsupportedAlgorithm):
        message.verify(_public("ES256"))


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_an_empty_map_is_an_empty_protected_header(alg: Algorithm) -> None:
    """RFC 9052 section 3: recipients accept h'a0' as well as h'' (the signature covers
    the bytes as sent); a credential's profile still refuses both."""
    key = PRIVATE_KEYS[alg]
    signature = _algorithms.sign(key, cose.sig_structure(b"\xa0", b"payload"))
    message = cose.Sign1.decode(_cbor.dumps([b"\xa0", {1: -7}, b"payload", signature]))
    assert (message.protected, message.protected_bytes) == ({}, b"\xa0")
    assert message.to_be_signed() == cose.sig_structure(b"\xa0", b"payload")
    with pytest.raises(UnsupportedAlgorithm):  # no alg in the protected header
        message.verify(key.public_key())
    _algorithms.verify_signature(key.public_key(), message.to_be_signed(), signature)
    issuer = IssuerKey.generate(alg, "K")
    credential = issuer.issue(sample_credential())
    for empty in (b"", b"\xa0"):
        tampered = signed_envelope(issuer, cose.Sign1.decode(credential).payload, empty)
        with pytest.raises(MalformedCredential, match="exactly alg and kid"):
            verify(tampered, TrustStore([issuer.public()]), now=NOW)


def _critical(header: dict[Any, Any], unprotected: dict[Any, Any] | None = None) -> bytes:
    key = PRIVATE_KEYS["EdDSA"]
    protected = _cbor.dumps(header)
    signature = _algorithms.sign(key, cose.sig_structure(protected, b"p"))
    return _cbor.dumps([protected, unprotected or {}, b"p", signature])


@pytest.mark.parametrize(
    ("header", "understood"),
    [
        ({1: -8, 2: [4], 4: b"k"}, ()),  # RFC 9052's own parameters are understood
        ({1: -8, 2: [1, 3], 3: 0}, ()),
        ({1: -8, 2: [99], 99: 1}, (99,)),
        ({1: -8, 2: ["ext"], "ext": 1}, ("ext",)),
        ({1: -8, 2: [99, -70000], 99: 1, -70000: b""}, (99, -70000)),
    ],
)
def test_crit_naming_understood_parameters_is_accepted(
    header: dict[Any, Any], understood: tuple[Any, ...]
) -> None:
    message = cose.Sign1.decode(_critical(header), understood=understood)
    message.verify(PRIVATE_KEYS["EdDSA"].public_key())


@pytest.mark.parametrize(
    ("header", "unprotected", "complaint"),
    [
        ({1: -8, 2: [99], 99: 1}, None, "not understood"),
        ({1: -8, 2: [16], 16: "application/x"}, None, "not understood"),
        ({1: -8, 2: ["ext"], "ext": 1}, None, "not understood"),
        ({1: -8, 2: [5], 5: b"iv"}, None, "not understood"),  # IV: nothing to do with Sign1
        ({1: -8, 2: []}, None, "non-empty array"),
        ({1: -8, 2: 99, 99: 1}, None, "non-empty array"),
        ({1: -8, 2: [True]}, None, "non-empty array"),
        ({1: -8, 2: [b"\x01"]}, None, "non-empty array"),
        ({1: -8, 2: [4, 4], 4: b"k"}, None, "distinct"),
        ({1: -8}, {2: [4]}, "protected header"),
    ],
)
def test_crit_is_honoured(
    header: dict[Any, Any], unprotected: dict[Any, Any] | None, complaint: str
) -> None:
    """A recipient refuses a message whose crit names what it does not understand."""
    data = _critical(header, unprotected)
    with pytest.raises(MalformedCredential, match=complaint):
        cose.Sign1.decode(data)
    # The check can be left to a stricter profile (a credential's admits no crit).
    cose.Sign1.decode(data, check_critical=False)


def test_kid_must_be_bytes() -> None:
    message = cose.Sign1.decode(_cbor.dumps([_cbor.dumps({1: -7, 4: "text"}), {}, b"", b""]))
    with pytest.raises(MalformedCredential):
        _ = message.kid


def test_wrong_signature_length_is_bad_signature() -> None:
    message = cose.sign1(b"payload", PRIVATE_KEYS["EdDSA"])
    for signature in (b"", message.signature[:63], message.signature + b"\x00"):
        with pytest.raises(BadSignature):
            replace(message, signature=signature).verify(_public("EdDSA"))


_GOOD_PROTECTED = bytes.fromhex("a10126")


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({}, id="map"),
        pytest.param([], id="empty-array"),
        pytest.param([_GOOD_PROTECTED, {}, b""], id="three-items"),
        pytest.param([_GOOD_PROTECTED, {}, b"", b"", b""], id="five-items"),
        pytest.param(["a10126", {}, b"", b""], id="protected-text"),
        pytest.param([{1: -7}, {}, b"", b""], id="protected-map-not-wrapped"),
        pytest.param([_GOOD_PROTECTED, [], b"", b""], id="unprotected-array"),
        pytest.param([_GOOD_PROTECTED, b"", b"", b""], id="unprotected-bytes"),
        pytest.param([_GOOD_PROTECTED, {}, None, b""], id="detached-payload"),
        pytest.param([_GOOD_PROTECTED, {}, "p", b""], id="payload-text"),
        pytest.param([_GOOD_PROTECTED, {}, b"", None], id="signature-null"),
        pytest.param([b"\x80", {}, b"", b""], id="protected-array"),
        pytest.param([b"\x00", {}, b"", b""], id="protected-int"),
        pytest.param([b"\xa1\x01\x26\x00", {}, b"", b""], id="protected-trailing"),
        pytest.param(
            [bytes.fromhex("a2 04 40 01 26".replace(" ", "")), {}, b"", b""],
            id="protected-unsorted",
        ),
        pytest.param(
            [bytes.fromhex("a1 01 38 06".replace(" ", "")), {}, b"", b""],
            id="protected-nonshortest",
        ),
        pytest.param(
            [bytes.fromhex("a1 01 f9 c4 00".replace(" ", "")), {}, b"", b""], id="protected-float"
        ),
    ],
)
def test_malformed_structure(item: Any) -> None:
    data = _cbor.dumps(item)
    for blob in (data, b"\xd2" + data):
        with pytest.raises(MalformedCredential):
            cose.Sign1.decode(blob)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_message_must_be_deterministic_cbor(alg: Algorithm) -> None:
    message = cose.sign1(b"payload", PRIVATE_KEYS[alg])
    data = message.encode()
    # The same array with a non-shortest payload length (0x58 0x07 instead of 0x47).
    longer = data.replace(b"\x47payload", b"\x58\x07payload")
    assert longer != data
    assert cbor2.loads(longer) == cbor2.loads(data)
    with pytest.raises(MalformedCredential):
        cose.Sign1.decode(longer)
