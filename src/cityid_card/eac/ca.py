"""Chip Authentication version 2 (BSI TR-03110-2 3.4, ICAO 9303-11 6.2).

The card proves it holds the private key ``SK_PICC`` whose public key the issuer signed
in the card security object, without signing anything a reader could show a third
party. The terminal sends its ephemeral key (the one whose ``Comp`` it put in TA's
MSE:Set AT) in ``7C{80 ePK_PCD}``; the card computes ``K = x(SK_PICC * ePK_PCD)``, picks an
8-byte nonce ``r``, derives ``K_Enc = KDF(K, r, 1)`` and ``K_MAC = KDF(K, r, 2)`` and answers
``7C{81 r, 82 T}`` with ``T = CMAC(K_MAC, 7F49{06 id-CA-ECDH-AES-CBC-CMAC-128, 86 ePK_PCD})``.
Secure messaging restarts with the new keys and SSC 0.
"""

from __future__ import annotations

from cityid_card.eac import tlv
from cityid_card.eac.curve import Curve
from cityid_card.eac.errors import EacEncodingError
from cityid_card.eac.kdf import kdf_enc, kdf_mac
from cityid_card.eac.pace import (
    SessionKeys,
    authentication_token,
    dynamic_authentication_data,
    parse_dynamic_authentication_data,
    verify_authentication_token,
)

__all__ = [
    "ID_CA_ECDH_AES_CBC_CMAC_128",
    "NONCE_LENGTH",
    "card_step",
    "command_data",
    "mse_set_at",
    "parse_command_data",
    "parse_response_data",
    "response_data",
    "session_keys",
    "terminal_step",
]

ID_CA_ECDH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.2.2"
NONCE_LENGTH = 8


def session_keys(shared: bytes, nonce: bytes) -> SessionKeys:
    """``K_Enc = KDF(K, r, 1)``, ``K_MAC = KDF(K, r, 2)`` (AES-128)."""
    if len(nonce) != NONCE_LENGTH:
        raise EacEncodingError("the CA nonce is 8 bytes")
    return SessionKeys(kdf_enc(shared, nonce), kdf_mac(shared, nonce))


def card_step(
    curve: Curve, static_private: int, terminal_ephemeral: bytes, nonce: bytes
) -> tuple[SessionKeys, bytes]:
    """Card: the new session keys and the token ``T_PICC`` (8 bytes)."""
    keys = session_keys(curve.ecdh_x(static_private, terminal_ephemeral), nonce)
    return keys, authentication_token(keys.mac, ID_CA_ECDH_AES_CBC_CMAC_128, terminal_ephemeral)


def terminal_step(
    curve: Curve,
    ephemeral_private: int,
    ephemeral_public: bytes,
    chip_public: bytes,
    nonce: bytes,
    token: bytes,
) -> SessionKeys:
    """Terminal: the new session keys, after checking ``T_PICC`` (the chip is genuine)."""
    keys = session_keys(curve.ecdh_x(ephemeral_private, chip_public), nonce)
    verify_authentication_token(keys.mac, ID_CA_ECDH_AES_CBC_CMAC_128, ephemeral_public, token)
    return keys


def mse_set_at(key_reference: int | None = None) -> bytes:
    """Data of MSE:Set AT for CA (``00 22 41 A4``): ``80 OID[, 84 key reference]``."""
    data = tlv.encode(0x80, tlv.encode_oid(ID_CA_ECDH_AES_CBC_CMAC_128))
    if key_reference is not None:
        data += tlv.encode(0x84, tlv.encode_unsigned(key_reference))
    return data


def command_data(terminal_ephemeral: bytes) -> bytes:
    """General Authenticate data: ``7C{80 ePK_PCD}``."""
    return dynamic_authentication_data((0x80, terminal_ephemeral))


def parse_command_data(data: bytes) -> bytes:
    """Card: ``ePK_PCD`` from ``7C{80 ...}``."""
    return parse_dynamic_authentication_data(data, (0x80,))[0x80]


def response_data(nonce: bytes, token: bytes) -> bytes:
    """Card's General Authenticate answer: ``7C{81 r, 82 T}``."""
    return dynamic_authentication_data((0x81, nonce), (0x82, token))


def parse_response_data(data: bytes) -> tuple[bytes, bytes]:
    """Terminal: (nonce, token) from ``7C{81 r, 82 T}``."""
    parts = parse_dynamic_authentication_data(data, (0x81, 0x82))
    if len(parts[0x81]) != NONCE_LENGTH or len(parts[0x82]) != 8:
        raise EacEncodingError("CA answer has a nonce or token of the wrong length")
    return parts[0x81], parts[0x82]
