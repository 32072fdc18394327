"""The error branches that the protocol tests do not reach: each raises its typed error."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac import (
    P256,
    CertificateChainError,
    CertificateSignatureError,
    Curve,
    EacEncodingError,
    InvalidPoint,
    SecureMessagingError,
    ca,
    cvc,
    kdf,
    pace,
    sm,
    ta,
    tlv,
)
from cityid_card.eac._sym import aes_cbc_decrypt, aes_cbc_encrypt, cmac8, pad, unpad
from cityid_card.eac.security_infos import CardAccess
from tests.eac.pki import make_pki

KEYS = pace.session_keys(bytes(32))


def test_kdf_for_longer_aes_keys_uses_sha256() -> None:
    secret, nonce = bytes(range(32)), b"12345678"
    expected = hashlib.sha256(secret + nonce + (2).to_bytes(4, "big")).digest()
    assert kdf.kdf_mac(secret, nonce, key_length=32) == expected
    assert kdf.kdf_enc(secret, key_length=24) == hashlib.sha256(secret + b"\0\0\0\1").digest()[:24]
    with pytest.raises(EacEncodingError):
        kdf.kdf(secret, 1, key_length=20)


def test_random_scalars_are_private_keys() -> None:
    scalars = {P256.random_scalar() for _ in range(20)}
    assert len(scalars) == 20 and all(0 < k < P256.n for k in scalars)


def test_a_zero_nonce_or_a_short_one_cannot_map(p256: Curve) -> None:
    peer = p256.public_key(5)
    with pytest.raises(InvalidPoint):
        pace.map_generator(p256, bytes(16), 3, peer)
    with pytest.raises(EacEncodingError):
        pace.map_generator(p256, bytes(15), 3, peer)


def test_products_that_are_the_identity_are_refused(p256: Curve) -> None:
    g = p256.generator
    with pytest.raises(InvalidPoint):
        p256.multiply(g, p256.n)
    with pytest.raises(InvalidPoint):
        p256.add(g, (g[0], p256.p - g[1]))


def test_symmetric_helpers_refuse_partial_blocks_and_bad_padding() -> None:
    with pytest.raises(EacEncodingError):
        aes_cbc_encrypt(bytes(16), bytes(15))
    with pytest.raises(EacEncodingError):
        aes_cbc_decrypt(bytes(16), bytes(17))
    for bad in [bytes(16), b"\x01" * 16, b"\x80" + bytes(16)]:
        with pytest.raises(EacEncodingError):
            unpad(bad)


def test_secure_messaging_edge_cases() -> None:
    with pytest.raises(EacEncodingError):
        sm.encode_apdu(sm.Apdu(0, 0xB0, 0, 0, ne=65537))
    with pytest.raises(EacEncodingError):
        sm.wrap_command(KEYS, 2**128, bytes.fromhex("00b0000000"))
    with pytest.raises(EacEncodingError):
        sm.wrap_response(KEYS, 2, b"", 0x10000)
    # A cryptogram whose plaintext padding is wrong: MAC fine, content not.
    cryptogram = aes_cbc_encrypt(KEYS.enc, bytes(16), _iv(3))
    objects = tlv.encode(0x87, b"\x01" + cryptogram)
    for bad_objects in (
        objects,
        tlv.encode(0x87, b"\x02" + cryptogram),
        tlv.encode(0x97, b"\x00\x00\x00"),
    ):
        command = bytes.fromhex("0cd60000") + _with_mac(bytes.fromhex("0cd60000"), bad_objects, 3)
        with pytest.raises(SecureMessagingError) as caught:
            sm.unwrap_command(KEYS, 3, command)
        assert caught.value.status_word == 0x6988
    response = _response_with_mac(
        tlv.encode(0x87, b"\x02" + cryptogram) + bytes.fromhex("99029000"), 4
    )
    with pytest.raises(SecureMessagingError):
        sm.unwrap_response(KEYS, 4, response)
    odd = sm.wrap_response(KEYS, 6, b"", 0x9000)
    assert sm.unwrap_response(KEYS, 6, odd) == (b"", 0x9000)


def _iv(ssc: int) -> bytes:
    return aes_cbc_encrypt(KEYS.enc, ssc.to_bytes(16, "big"))


def _with_mac(header: bytes, objects: bytes, ssc: int) -> bytes:
    mac = cmac8(KEYS.mac, ssc.to_bytes(16, "big") + pad(pad(header) + objects))
    body = objects + tlv.encode(0x8E, mac)
    return bytes([len(body)]) + body + b"\x00"


def _response_with_mac(objects: bytes, ssc: int) -> bytes:
    mac = cmac8(KEYS.mac, ssc.to_bytes(16, "big") + pad(objects))
    return objects + tlv.encode(0x8E, mac) + b"\x90\x00"


def test_a_response_with_do85_decrypts() -> None:
    cryptogram = aes_cbc_encrypt(KEYS.enc, pad(b"odd"), _iv(8))
    response = _response_with_mac(tlv.encode(0x85, cryptogram) + bytes.fromhex("99029000"), 8)
    assert sm.unwrap_response(KEYS, 8, response) == (b"odd", 0x9000)


def test_ta_and_ca_refuse_wrong_sizes_and_keys() -> None:
    with pytest.raises(EacEncodingError):
        ta.sign(ec.generate_private_key(ec.SECP384R1()), b"message")
    with pytest.raises(EacEncodingError):
        ta.mse_set_at("TERMINAL", bytes(31))
    data = ta.mse_set_at("TERMINAL", bytes(32)).replace(
        b"\x91\x20" + bytes(32), b"\x91\x1f" + bytes(31)
    )
    with pytest.raises(EacEncodingError):
        ta.parse_mse_set_at(data)
    with pytest.raises(EacEncodingError):
        ca.parse_response_data(ca.response_data(bytes(7), bytes(8)))


def _info(*parts: bytes) -> bytes:
    return tlv.encode(0x30, list(parts))


def _oid(dotted: str) -> bytes:
    return tlv.encode(0x06, tlv.encode_oid(dotted))


def _card_access(*infos: bytes) -> bytes:
    return tlv.encode(0x31, sorted(infos))


PACE_INFO = _info(
    _oid(pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128), bytes.fromhex("020102"), bytes.fromhex("02010c")
)
TA_INFO = _info(_oid("0.4.0.127.0.7.2.2.2"), bytes.fromhex("020102"))
CA_INFO = _info(_oid(ca.ID_CA_ECDH_AES_CBC_CMAC_128), bytes.fromhex("020102"))
DOMAIN = _info(_oid("0.4.0.127.0.7.1.2"), bytes.fromhex("02010c"))
CA_DOMAIN = _info(_oid("0.4.0.127.0.7.2.2.3.2"), DOMAIN)


@pytest.mark.parametrize(
    "infos",
    [
        (
            _info(
                _oid(pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128),
                bytes.fromhex("020102"),
                bytes.fromhex("0202000c"),  # 12 with a superfluous leading zero byte
            ),
            TA_INFO,
            CA_INFO,
            CA_DOMAIN,
        ),
        (
            PACE_INFO.replace(bytes.fromhex("02010c"), bytes.fromhex("0201f4")),
            TA_INFO,
            CA_INFO,
            CA_DOMAIN,
        ),
        (PACE_INFO, TA_INFO, CA_INFO, CA_DOMAIN, _info(bytes.fromhex("020101"))),
        (
            PACE_INFO,
            TA_INFO,
            CA_INFO,
            _info(_oid("0.4.0.127.0.7.2.2.3.2"), bytes.fromhex("020101")),
        ),
        (
            PACE_INFO,
            TA_INFO,
            CA_INFO,
            _info(_oid("0.4.0.127.0.7.2.2.3.2"), _info(_oid("1.2.3"), bytes.fromhex("02010c"))),
        ),
        (
            PACE_INFO,
            TA_INFO,
            CA_INFO.replace(bytes.fromhex("020102"), bytes.fromhex("0401ff")),
            CA_DOMAIN,
        ),
        (PACE_INFO, TA_INFO, _info(_oid(ca.ID_CA_ECDH_AES_CBC_CMAC_128)), CA_DOMAIN),
        (
            PACE_INFO.replace(bytes.fromhex("02010c"), bytes.fromhex("02010d")),
            TA_INFO,
            CA_INFO,
            CA_DOMAIN,
        ),
    ],
)
def test_ef_card_access_field_errors(infos: tuple[bytes, ...]) -> None:
    with pytest.raises(EacEncodingError):
        CardAccess.decode(_card_access(*infos))


def test_ef_card_access_built_by_hand_matches_the_encoder() -> None:
    assert _card_access(PACE_INFO, TA_INFO, CA_INFO, CA_DOMAIN) == CardAccess().encode()


def test_certificate_error_branches() -> None:
    pki = make_pki()
    body = cvc.parse_certificate(pki.terminal).body
    with pytest.raises(EacEncodingError):
        cvc.Chat.decode(tlv.encode(0x7F4C, [_oid(cvc.ID_AT), tlv.encode(0x53, bytes(4))]))
    with pytest.raises(EacEncodingError):
        cvc.sign_certificate(body, ec.generate_private_key(ec.SECP384R1()))
    for extensions in [(("1.2.3", b""),)]:
        built = cvc.sign_certificate(replace(body, extensions=extensions), pki.dv_key)
        assert cvc.parse_certificate(built).body.extensions == extensions
    outer = dict(tlv.decode_all(tlv.expect(pki.terminal, 0x7F21)))
    fields = tlv.decode_all(outer[0x7F4E])
    for bad_extension in (tlv.encode(0x74, b""), tlv.encode(0x73, tlv.encode(0x80, b"")), b""):
        rebuilt = b"".join(tlv.encode(t, v) for t, v in fields) + tlv.encode(0x65, bad_extension)
        data = tlv.encode(0x7F21, tlv.encode(0x7F4E, rebuilt) + tlv.encode(0x5F37, outer[0x5F37]))
        with pytest.raises(EacEncodingError):
            cvc.parse_certificate(data)
    # A CVCA key with only some domain parameters, or another generator.
    cvca_fields = tlv.decode_all(dict(tlv.decode_all(tlv.expect(pki.cvca, 0x7F21)))[0x7F4E])
    key = tlv.decode_all(dict(cvca_fields)[0x7F49])
    for edit in ("drop 0x81", "other generator", "other cofactor"):
        parts = []
        for tag, value in key:
            if edit == "drop 0x81" and tag == 0x81:
                continue
            if edit == "other generator" and tag == 0x84:
                value = P256.public_key(2)
            if edit == "other cofactor" and tag == 0x87:
                value = b"\x02"
            parts.append(tlv.encode(tag, value))
        rebuilt = b"".join(
            tlv.encode(t, b"".join(parts) if t == 0x7F49 else v) for t, v in cvca_fields
        )
        data = tlv.encode(0x7F21, tlv.encode(0x7F4E, rebuilt) + tlv.encode(0x5F37, bytes(64)))
        with pytest.raises(EacEncodingError):
            cvc.parse_certificate(data)
    zero_signature = cvc.parse_certificate(pki.terminal[:-64] + bytes(64))
    with pytest.raises(CertificateSignatureError):
        cvc.verify_signature(zero_signature, cvc.parse_certificate(pki.dv).body.public_key)
    with pytest.raises(CertificateChainError):
        cvc.TrustPoint.from_certificate(cvc.parse_certificate(pki.dv))
    with pytest.raises(EacEncodingError):
        cvc.sector_extension()
    bad_sector = ((cvc.ID_SECTOR, tlv.encode(0x80, bytes(31))),)
    pki2 = make_pki(extensions=bad_sector, label="sector")
    trust = cvc.TrustPoint.from_certificate(cvc.parse_certificate(pki2.cvca))
    with pytest.raises(EacEncodingError):
        cvc.verify_chain(trust, [pki2.dv, pki2.terminal], date(2027, 1, 15))


def test_tlv_value_errors() -> None:
    with pytest.raises(EacEncodingError):
        tlv.encode_unsigned(-1)
    with pytest.raises(EacEncodingError):
        tlv.encode_unsigned(256, 1)
    with pytest.raises(EacEncodingError):
        tlv.fields(bytes.fromhex("81008000"), [(0x80, False), (0x81, False)], "x")
