"""PACE with Generic Mapping on ECDH (ICAO Doc 9303-11 section 4.4, BSI TR-03110-2 3.2).

Each step is a pure function from bytes to bytes, for the terminal (PCD) and the card
(PICC); randomness comes in as arguments, so every step has known-answer tests. The
profile's protocol is ``id-PACE-ECDH-GM-AES-CBC-CMAC-128`` on P-256 with the 6-digit
CAN as password. A run, with the General Authenticate data objects of each step:

1. card: ``z = encrypt_nonce(CAN, s)`` for a random 16-byte ``s``; sends ``7C{80 z}``;
   terminal: ``s = decrypt_nonce(CAN, z)``.
2. both: a mapping key pair on the standard generator; terminal sends ``7C{81 PK}``,
   card answers ``7C{82 PK}``; both compute ``G' = map_generator(...)`` = s*G + H with
   H = SK_map * PK_map(peer).
3. both: an ephemeral key pair on G' (``public_key_on``); terminal sends ``7C{83 PK}``,
   card answers ``7C{84 PK}``; both compute ``K = shared_secret(...)`` and
   ``session_keys(K)``.
4. terminal sends ``7C{85 T_PCD}``, card answers ``7C{86 T_PICC}``, each token a CMAC
   over the other side's ephemeral public key (``authentication_token``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cityid_card.eac import tlv
from cityid_card.eac._sym import BLOCK, aes_cbc_decrypt, aes_cbc_encrypt, cmac8
from cityid_card.eac.curve import Curve
from cityid_card.eac.errors import AuthenticationFailed, EacEncodingError, InvalidPoint
from cityid_card.eac.kdf import kdf_enc, kdf_mac, kdf_pi

__all__ = [
    "ID_PACE_ECDH_GM_AES_CBC_CMAC_128",
    "PASSWORD_CAN",
    "PASSWORD_PIN",
    "SessionKeys",
    "authentication_token",
    "decrypt_nonce",
    "dynamic_authentication_data",
    "encrypt_nonce",
    "map_generator",
    "mse_set_at",
    "parse_dynamic_authentication_data",
    "public_key_data_object",
    "public_key_on",
    "session_keys",
    "shared_secret",
    "verify_authentication_token",
]

ID_PACE_ECDH_GM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.2.2"
"""bsi-de protocols(2) smartcard(2) pace(4) ecdh-GM(2) aes-cbc-cmac-128(2)."""

PASSWORD_CAN = 0x02
"""Password reference of the CAN in MSE:Set AT (ICAO 9303-11: 01 MRZ, 02 CAN, 03 PIN, 04 PUK)."""
PASSWORD_PIN = 0x03

NONCE_LENGTH = BLOCK


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """The secure messaging keys K_Enc and K_MAC (AES-128); repr hides them."""

    enc: bytes
    mac: bytes

    def __repr__(self) -> str:
        return "SessionKeys(<hidden>)"


def encrypt_nonce(password: str, nonce: bytes) -> bytes:
    """Card: ``z = E(K_pi, s)``, AES-128-CBC with a zero IV over the 16-byte nonce."""
    if len(nonce) != NONCE_LENGTH:
        raise EacEncodingError("the PACE nonce is one AES block")
    return aes_cbc_encrypt(kdf_pi(password), nonce)


def decrypt_nonce(password: str, encrypted: bytes) -> bytes:
    """Terminal: ``s = D(K_pi, z)``. A wrong CAN gives a different nonce, found only later."""
    if len(encrypted) != NONCE_LENGTH:
        raise EacEncodingError("the encrypted PACE nonce is one AES block")
    return aes_cbc_decrypt(kdf_pi(password), encrypted)


def map_generator(curve: Curve, nonce: bytes, own_private: int, peer_public: bytes) -> bytes:
    """Generic Mapping: the encoded ephemeral generator ``G' = s*G + SK_map * PK_map(peer)``.

    ``own_private`` is this side's mapping key (its public key ``curve.public_key(own_private)``
    went to the peer); ``peer_public`` the peer's mapping public key, validated here.
    """
    if len(nonce) != NONCE_LENGTH:
        raise EacEncodingError("the PACE nonce is one AES block")
    peer = curve.decode_point(peer_public)
    s = int.from_bytes(nonce, "big")
    if s == 0:  # s*G would be the identity (probability 2^-128)
        raise InvalidPoint("the PACE nonce is zero")
    # s < 2^128 < n; s*G on the standard generator is pyca/cryptography's fixed-base product.
    # H = SK_map * PK_map(peer) is never the identity: the peer key is a point of the
    # prime-order group (cofactor 1) and SK_map is in [1, n-1]. G' = H + s*G is checked.
    s_g = curve.decode_point(curve.public_key(s))
    return curve.encode_point(curve.multiply_add(peer, curve.check_scalar(own_private), s_g))


def public_key_on(curve: Curve, generator: bytes, private: int) -> bytes:
    """The encoded public key ``private * G'`` on the mapped generator."""
    point = curve.decode_point(generator)
    return curve.encode_point(curve.multiply(point, curve.check_scalar(private)))


def shared_secret(curve: Curve, own_private: int, own_public: bytes, peer_public: bytes) -> bytes:
    """``K = x(SK * PK(peer))``, ``curve.size`` bytes, leading zeros kept.

    Rejects a peer key equal to this side's own (ICAO 9303-11 4.4.3.3.2: the terminal
    MUST check it; the card does too).
    """
    if hmac.compare_digest(own_public, peer_public):
        raise InvalidPoint("the peer's ephemeral public key equals this side's own")
    return curve.ecdh_x(own_private, peer_public)


def session_keys(shared: bytes) -> SessionKeys:
    """K_Enc = KDF(K, 1) and K_MAC = KDF(K, 2) for AES-128."""
    return SessionKeys(kdf_enc(shared), kdf_mac(shared))


def public_key_data_object(oid: str, public: bytes) -> bytes:
    """``7F49 { 06 OID, 86 point }``: the input of the authentication token (ECDH keys)."""
    return tlv.encode(0x7F49, [tlv.encode(0x06, tlv.encode_oid(oid)), tlv.encode(0x86, public)])


def authentication_token(mac_key: bytes, oid: str, peer_public: bytes) -> bytes:
    """``T = CMAC(K_MAC, PK-DO(peer's ephemeral key))``, 8 bytes."""
    return cmac8(mac_key, public_key_data_object(oid, peer_public))


def verify_authentication_token(mac_key: bytes, oid: str, own_public: bytes, token: bytes) -> None:
    """Check the peer's token over this side's own ephemeral public key."""
    expected = authentication_token(mac_key, oid, own_public)
    if len(token) != len(expected) or not hmac.compare_digest(expected, token):
        raise AuthenticationFailed("authentication token does not verify")


def mse_set_at(oid: str, password_reference: int = PASSWORD_CAN, chat: bytes = b"") -> bytes:
    """The data field of MSE:Set AT for PACE (``00 22 C1 A4``): ``80 OID, 83 ref[, 7F4C]``."""
    parts = [tlv.encode(0x80, tlv.encode_oid(oid)), tlv.encode(0x83, bytes([password_reference]))]
    return b"".join(parts) + chat


def dynamic_authentication_data(*objects: tuple[int, bytes]) -> bytes:
    """``7C { tag value ... }``: the data field of a General Authenticate command or answer."""
    return tlv.encode(0x7C, [tlv.encode(tag, value) for tag, value in objects])


def parse_dynamic_authentication_data(
    data: bytes, required: tuple[int, ...], optional: tuple[int, ...] = ()
) -> dict[int, bytes]:
    """Parse ``7C { ... }`` with exactly the ``required`` tags (then ``optional`` ones) in order."""
    inner = tlv.expect(data, 0x7C)
    spec = [(tag, True) for tag in required] + [(tag, False) for tag in optional]
    return tlv.fields(inner, spec, "dynamic authentication data")
