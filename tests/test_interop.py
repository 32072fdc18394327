"""Interoperability with two independent COSE implementations: pycose and python-cwt.

Both directions: they verify what we issue with nothing but the issuer's public key,
and our verifier accepts what they sign with the issuer's private key.

Our credentials are UNTAGGED COSE_Sign1: the tag (one byte) is left out because the
context fixes the type, which RFC 9052 section 2 allows. pycose's ``CoseMessage.decode``
and python-cwt's ``COSE.decode`` dispatch on the tag, so the untagged array is handed
to pycose's ``Sign1Message.from_cose_obj`` (what ``decode`` calls after reading the
tag), and python-cwt gets the blob with tag 18 (0xd2) put in front.
"""

from __future__ import annotations

from typing import Any

import cbor2
import cwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pycose import algorithms as pycose_algorithms
from pycose import headers as pycose_headers
from pycose.keys.cosekey import CoseKey
from pycose.keys.curves import P256, Ed25519
from pycose.keys.ec2 import EC2Key
from pycose.keys.okp import OKPKey
from pycose.messages.sign1message import Sign1Message

from cityid_card import (
    Credential,
    IssuerKey,
    MalformedCredential,
    PublicKey,
    TrustStore,
    _cbor,
    cose,
    verify,
)
from cityid_card._algorithms import PrivateKeyObject

from .conftest import NOW, sample_credential

COSE_ALG = {"ES256": -7, "EdDSA": -8}
PYCOSE_ALG = {"ES256": pycose_algorithms.Es256, "EdDSA": pycose_algorithms.EdDSA}
ALG = pycose_headers.Algorithm
KID = pycose_headers.KID


def _public_pem(public: PublicKey) -> bytes:
    return public.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pycose_public_key(public: PublicKey) -> CoseKey:
    """The issuer public key as a pycose key, from its raw coordinates."""
    if isinstance(public.key, ed25519.Ed25519PublicKey):
        raw = public.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return OKPKey(crv=Ed25519, x=raw)
    numbers = public.key.public_numbers()
    return EC2Key(crv=P256, x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))


def _private_key(issuer_key: IssuerKey) -> PrivateKeyObject:
    private = serialization.load_pem_private_key(issuer_key.to_pem(), password=None)
    assert isinstance(private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
    return private


def _cwt_public_key(public: PublicKey) -> Any:
    # python-cwt only tries keys whose kid equals the message's kid, so the key carries
    # the wire kid, which is derived from the public key itself (its thumbprint).
    return cwt.COSEKey.from_pem(_public_pem(public), kid=public.wire_kid)


def _flip_last_bit(blob: bytes) -> bytes:
    # The last byte of a credential is the last byte of the signature.
    return blob[:-1] + bytes([blob[-1] ^ 0x01])


# ---------------------------------------------------------------------------------------
# They verify what we issue


def test_pycose_verifies_our_credential(issuer_key: IssuerKey, blob: bytes) -> None:
    public = issuer_key.public()
    message = Sign1Message.from_cose_obj(cbor2.loads(blob), True)
    message.key = _pycose_public_key(public)
    assert message.verify_signature() is True
    assert message.payload is not None
    assert message.phdr == {ALG: PYCOSE_ALG[issuer_key.alg], KID: public.wire_kid}
    assert message.uhdr == {}
    assert cbor2.loads(message.payload) == sample_credential().to_claims()
    assert Credential.from_claims(cbor2.loads(message.payload)) == sample_credential()

    tampered = Sign1Message.from_cose_obj(cbor2.loads(_flip_last_bit(blob)), True)
    tampered.key = _pycose_public_key(public)
    assert tampered.verify_signature() is False


def test_cwt_verifies_our_credential(issuer_key: IssuerKey, blob: bytes) -> None:
    key = _cwt_public_key(issuer_key.public())
    # python-cwt requires the COSE_Sign1 tag (18, one byte 0xd2) that our format omits.
    protected, unprotected, payload = cwt.COSE.new().decode_with_headers(b"\xd2" + blob, key)
    assert protected == {1: COSE_ALG[issuer_key.alg], 4: issuer_key.public().wire_kid}
    assert unprotected == {}
    assert cbor2.loads(payload) == sample_credential().to_claims()

    with pytest.raises(cwt.VerifyError):
        cwt.COSE.new().decode(b"\xd2" + _flip_last_bit(blob), key)


@pytest.mark.parametrize("payload", [b"", b"\x00", b"not CBOR \xff", bytes(range(256)) * 40])
def test_they_verify_our_generic_sign1(issuer_key: IssuerKey, payload: bytes) -> None:
    public = issuer_key.public()
    blob = issuer_key.sign(payload)
    message = Sign1Message.from_cose_obj(cbor2.loads(blob), True)
    message.key = _pycose_public_key(public)
    assert message.verify_signature() is True
    assert message.payload == payload
    assert cwt.COSE.new().decode(b"\xd2" + blob, _cwt_public_key(public)) == payload


def test_they_verify_our_external_aad(issuer_key: IssuerKey) -> None:
    public = issuer_key.public()
    signed = cose.sign1(
        b"payload", _private_key(issuer_key), kid=public.wire_kid, external_aad=b"aad"
    )
    tagged = signed.encode(tagged=True)
    message = Sign1Message.decode(tagged)
    message.key = _pycose_public_key(public)
    # pycose declares this setter apart from its getter, which mypy reads as read-only.
    message.external_aad = b"aad"  # type: ignore[misc]
    assert message.verify_signature() is True
    message.external_aad = b""  # type: ignore[misc]
    assert message.verify_signature() is False
    key = _cwt_public_key(public)
    assert cwt.COSE.new().decode(tagged, key, external_aad=b"aad") == b"payload"
    with pytest.raises(cwt.VerifyError):
        cwt.COSE.new().decode(tagged, key)


# ---------------------------------------------------------------------------------------
# We verify what they sign


def _claims_payload(credential: Credential) -> bytes:
    assert credential.issued is not None
    return _cbor.dumps(credential.to_claims())


def _pycose_sign1(
    issuer_key: IssuerKey, phdr: dict[Any, Any], payload: bytes, external_aad: bytes = b""
) -> Sign1Message:
    message = Sign1Message(phdr=phdr, uhdr={}, payload=payload, external_aad=external_aad)
    message.key = CoseKey.from_pem_private_key(issuer_key.to_pem().decode("ascii"))
    return message


def _cwt_private_key(issuer_key: IssuerKey) -> Any:
    return cwt.COSEKey.from_pem(issuer_key.to_pem(), kid=issuer_key.public().wire_kid)


def test_we_verify_pycose_credential(issuer_key: IssuerKey, trust: TrustStore, blob: bytes) -> None:
    credential = sample_credential()
    phdr = {ALG: PYCOSE_ALG[issuer_key.alg], KID: issuer_key.public().wire_kid}
    theirs = _pycose_sign1(issuer_key, phdr, _claims_payload(credential)).encode(tag=False)
    # pycose writes the protected header in insertion order, here the canonical one.
    assert cose.Sign1.decode(theirs).protected_bytes == cose.Sign1.decode(blob).protected_bytes
    result = verify(theirs, trust, now=NOW)
    assert result.credential == credential
    assert (result.kid, result.alg) == (issuer_key.kid, issuer_key.alg)


def test_we_verify_cwt_credential(issuer_key: IssuerKey, trust: TrustStore, blob: bytes) -> None:
    credential = sample_credential()
    key = _cwt_private_key(issuer_key)
    protected = {1: COSE_ALG[issuer_key.alg], 4: issuer_key.public().wire_kid}
    # deterministic_header sorts the header maps as RFC 8949 section 4.2.1 asks.
    encoder = cwt.COSE.new(deterministic_header=True)
    tagged = encoder.encode_and_sign(_claims_payload(credential), key, protected=protected)
    assert tagged[:1] == b"\xd2"  # python-cwt always tags; our format does not
    theirs = tagged[1:]
    assert cose.Sign1.decode(theirs).protected_bytes == cose.Sign1.decode(blob).protected_bytes
    result = verify(theirs, trust, now=NOW)
    assert result.credential == credential
    assert (result.kid, result.alg) == (issuer_key.kid, issuer_key.alg)
    with pytest.raises(MalformedCredential, match="must not be tagged"):
        verify(tagged, trust, now=NOW)


def test_we_verify_credential_with_extensions_from_pycose(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    credential = sample_credential(gender="X", tag_uid=b"\x04\x11\x22\x33\x44\x55\x66")
    phdr = {ALG: PYCOSE_ALG[issuer_key.alg], KID: issuer_key.public().wire_kid}
    theirs = _pycose_sign1(issuer_key, phdr, _claims_payload(credential)).encode(tag=False)
    assert verify(theirs, trust, now=NOW).credential == credential


@pytest.mark.parametrize("payload", [b"", b"\x00", b"not CBOR \xff", bytes(range(256)) * 40])
def test_generic_layer_verifies_their_sign1(issuer_key: IssuerKey, payload: bytes) -> None:
    public = issuer_key.public()
    phdr = {ALG: PYCOSE_ALG[issuer_key.alg]}
    from_pycose = _pycose_sign1(issuer_key, phdr, payload).encode()  # tagged by default
    assert from_pycose[:1] == b"\xd2"
    message = cose.Sign1.decode(from_pycose)
    assert (message.payload, message.alg, message.kid) == (payload, issuer_key.alg, None)
    message.verify(public.key)

    from_cwt = cwt.COSE.new().encode_and_sign(
        payload, _cwt_private_key(issuer_key), protected={1: COSE_ALG[issuer_key.alg]}
    )
    message = cose.Sign1.decode(from_cwt, tagged=True)
    assert message.payload == payload
    message.verify(public.key)


def test_generic_layer_verifies_their_external_aad(issuer_key: IssuerKey) -> None:
    public = issuer_key.public()
    phdr = {ALG: PYCOSE_ALG[issuer_key.alg]}
    signed = _pycose_sign1(issuer_key, phdr, b"payload", external_aad=b"aad")
    message = cose.Sign1.decode(signed.encode())
    message.verify(public.key, external_aad=b"aad")
    from_cwt = cwt.COSE.new().encode_and_sign(
        b"payload",
        _cwt_private_key(issuer_key),
        protected={1: COSE_ALG[issuer_key.alg]},
        external_aad=b"aad",
    )
    cose.Sign1.decode(from_cwt).verify(public.key, external_aad=b"aad")


# ---------------------------------------------------------------------------------------
# What they may also produce, and our strict verifier rightly refuses


def test_unsorted_protected_header_is_refused(issuer_key: IssuerKey, trust: TrustStore) -> None:
    # Both libraries keep the caller's header order unless told otherwise: {4: kid, 1: alg}
    # is a valid COSE message, but not deterministic CBOR, so not the one encoding of the
    # credential. Both libraries accept their own output; we do not.
    payload = _claims_payload(sample_credential())
    wire_kid = issuer_key.public().wire_kid
    phdr = {KID: wire_kid, ALG: PYCOSE_ALG[issuer_key.alg]}
    from_pycose = _pycose_sign1(issuer_key, phdr, payload).encode(tag=False)
    cwt_key = _cwt_private_key(issuer_key)
    from_cwt = cwt.COSE.new().encode_and_sign(
        payload, cwt_key, protected={4: wire_kid, 1: COSE_ALG[issuer_key.alg]}
    )
    assert cwt.COSE.new().decode(from_cwt, _cwt_public_key(issuer_key.public())) == payload
    pycose_reads = Sign1Message.from_cose_obj(cbor2.loads(from_pycose), True)
    pycose_reads.key = _pycose_public_key(issuer_key.public())
    assert pycose_reads.verify_signature() is True
    for theirs in (from_pycose, from_cwt[1:]):
        assert cbor2.loads(theirs)[0][:2] == b"\xa2\x04"  # map(2), label 4 (kid) first
        with pytest.raises(MalformedCredential, match="canonical order"):
            verify(theirs, trust, now=NOW)


def test_kid_in_unprotected_header_is_refused(issuer_key: IssuerKey, trust: TrustStore) -> None:
    # python-cwt's kid_auto_inclusion puts the kid in the UNPROTECTED header, where it
    # is not signed; the credential profile requires it in the protected header.
    payload = _claims_payload(sample_credential())
    encoder = cwt.COSE.new(
        alg_auto_inclusion=True, kid_auto_inclusion=True, deterministic_header=True
    )
    key = _cwt_private_key(issuer_key)
    tagged = encoder.encode_and_sign(payload, key)
    message = cose.Sign1.decode(tagged)
    assert message.unprotected == {4: issuer_key.public().wire_kid}
    assert message.kid is None
    with pytest.raises(MalformedCredential, match="unprotected header must be empty"):
        verify(tagged[1:], trust, now=NOW)
