"""Known-answer tests: the BSI worked example (tests/eac/worked_example.py) step by step.

The steps with point arithmetic run on each arithmetic the library has for the example's
curve, brainpoolP256r1 (the ``brainpool`` fixture of tests/eac/conftest.py): OpenSSL's
EC_POINT, which P-256 uses when the C extension is built, and python-ecdsa's, a
test-only reference. pycryptodome (P-256's arithmetic in the pure-Python twin) has no
brainpool curves; its known answers are specs/vectors/eac_vectors.json
(tests/eac/test_eac_vectors.py).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cityid_card.eac import AuthenticationFailed, EacEncodingError, ca, cvc, pace, sm, ta, tlv
from cityid_card.eac.curve import Curve
from tests.eac import worked_example as we
from tests.eac.brainpool import BRAINPOOL_P256R1 as BP

OID = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128


def key(data: bytes) -> int:
    return int.from_bytes(data, "big")


def test_nonce_encryption_both_ways() -> None:
    assert pace.encrypt_nonce(we.PASSWORD, we.NONCE) == we.NONCE_ENC
    assert pace.decrypt_nonce(we.PASSWORD, we.NONCE_ENC) == we.NONCE


def test_a_wrong_password_decrypts_another_nonce() -> None:
    assert pace.decrypt_nonce("123457", we.NONCE_ENC) != we.NONCE


def test_mapping_keys_and_the_shared_point_h(brainpool: Curve) -> None:
    assert brainpool.public_key(key(we.MAP_PCD_PRIV)) == we.MAP_PCD_PUB
    assert brainpool.public_key(key(we.MAP_PICC_PRIV)) == we.MAP_PICC_PUB
    h = brainpool.multiply(brainpool.decode_point(we.MAP_PICC_PUB), key(we.MAP_PCD_PRIV))
    assert brainpool.encode_point(h) == we.MAP_SHARED_H


def test_generic_mapping_gives_the_same_generator_on_both_sides(brainpool: Curve) -> None:
    terminal = pace.map_generator(brainpool, we.NONCE, key(we.MAP_PCD_PRIV), we.MAP_PICC_PUB)
    card = pace.map_generator(brainpool, we.NONCE, key(we.MAP_PICC_PRIV), we.MAP_PCD_PUB)
    assert terminal == card == we.MAPPED_GENERATOR


def test_ephemeral_keys_shared_secret_and_session_keys(brainpool: Curve) -> None:
    assert pace.public_key_on(brainpool, we.MAPPED_GENERATOR, key(we.PCD_PRIV)) == we.PCD_PUB
    assert pace.public_key_on(brainpool, we.MAPPED_GENERATOR, key(we.PICC_PRIV)) == we.PICC_PUB
    terminal = pace.shared_secret(brainpool, key(we.PCD_PRIV), we.PCD_PUB, we.PICC_PUB)
    card = pace.shared_secret(brainpool, key(we.PICC_PRIV), we.PICC_PUB, we.PCD_PUB)
    assert terminal == card == we.SHARED_K
    keys = pace.session_keys(we.SHARED_K)
    assert (keys.enc, keys.mac) == (we.K_ENC, we.K_MAC)


def test_authentication_tokens_both_ways() -> None:
    keys = pace.session_keys(we.SHARED_K)
    assert pace.authentication_token(keys.mac, OID, we.PICC_PUB) == we.TOKEN_PCD
    assert pace.authentication_token(keys.mac, OID, we.PCD_PUB) == we.TOKEN_PICC
    pace.verify_authentication_token(keys.mac, OID, we.PICC_PUB, we.TOKEN_PCD)
    pace.verify_authentication_token(keys.mac, OID, we.PCD_PUB, we.TOKEN_PICC)
    with pytest.raises(AuthenticationFailed):
        pace.verify_authentication_token(keys.mac, OID, we.PICC_PUB, we.TOKEN_PICC)


def test_secure_messaging_encryption_with_ssc_1() -> None:
    keys = pace.session_keys(we.SHARED_K)
    apdu = bytes([0x00, 0x22, 0x81, 0xB6, len(we.SM_D1)]) + we.SM_D1
    protected = sm.wrap_command(keys, 1, apdu)
    objects = dict(tlv.decode_all(sm.decode_apdu(protected).data))
    assert objects[0x87] == b"\x01" + we.SM_E1
    assert sm.unwrap_command(keys, 1, protected) == apdu


def test_secure_messaging_mac_with_ssc_2() -> None:
    keys = pace.session_keys(we.SHARED_K)
    assert (
        sm.wrap_response(keys, 2, b"", 0x9000) == we.SM_AD1 + b"\x8e\x08" + we.SM_A1 + b"\x90\x00"
    )
    assert sm.unwrap_response(keys, 2, we.SM_AD1 + b"\x8e\x08" + we.SM_A1 + b"\x90\x00") == (
        b"",
        0x9000,
    )


def test_chip_authentication_card_and_terminal() -> None:
    assert BP.ecdh_x(key(we.CA_PICC_PRIV), we.CA_PCD_PUB) == we.CA_SHARED_K
    keys, token = ca.card_step(BP, key(we.CA_PICC_PRIV), we.CA_PCD_PUB, we.CA_NONCE)
    assert (keys.enc, keys.mac, token) == (we.CA_K_ENC, we.CA_K_MAC, we.CA_TOKEN_PICC)
    terminal = ca.terminal_step(
        BP, key(we.CA_PCD_PRIV), we.CA_PCD_PUB, we.CA_PICC_PUB, we.CA_NONCE, we.CA_TOKEN_PICC
    )
    assert terminal == keys
    with pytest.raises(AuthenticationFailed):
        ca.terminal_step(
            BP, key(we.CA_PCD_PRIV), we.CA_PCD_PUB, we.CA_PICC_PUB, we.CA_NONCE, we.TOKEN_PICC
        )


def _terminal_key() -> ec.EllipticCurvePublicKey:
    body = tlv.expect(we.TA_TERMINAL_CERTIFICATE, 0x7F21)
    fields = tlv.decode_all(tlv.decode_one(body)[1])
    public_key = dict(tlv.decode_all(dict(fields)[0x7F49]))[0x86]
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.BrainpoolP512R1(), public_key)


def test_terminal_authentication_signature_input() -> None:
    message = ta.signature_input(
        ta.compress(BP, we.PICC_PUB), we.TA_NONCE, ta.compress(BP, we.CA_PCD_PUB)
    )
    half = len(we.TA_SIGNATURE) // 2
    signature = encode_dss_signature(key(we.TA_SIGNATURE[:half]), key(we.TA_SIGNATURE[half:]))
    _terminal_key().verify(signature, message, ec.ECDSA(hashes.SHA512()))


def test_the_profile_rejects_the_examples_sha512_brainpool_certificate() -> None:
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(we.TA_TERMINAL_CERTIFICATE)
