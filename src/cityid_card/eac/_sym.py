"""AES-CBC and AES-CMAC (pyca/cryptography), the ciphers of every EAC step."""

from __future__ import annotations

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cityid_card.eac.errors import EacEncodingError

BLOCK = 16
MAC_LENGTH = 8
_ZERO_IV = bytes(BLOCK)


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    """AES-CBC without padding: ``data`` must be whole blocks."""
    if len(data) % BLOCK:
        raise EacEncodingError("AES input is not a whole number of blocks")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    """AES-CBC decryption without padding removal."""
    if not data or len(data) % BLOCK:
        raise EacEncodingError("AES ciphertext is not a whole number of blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def aes_ecb_block(key: bytes, block: bytes) -> bytes:
    """One AES block (the secure messaging IV: E(K_Enc, SSC))."""
    return aes_cbc_encrypt(key, block)


def cmac8(key: bytes, data: bytes) -> bytes:
    """AES-CMAC truncated to its first 8 bytes (ICAO 9303-11 9.8.6.2)."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:MAC_LENGTH]


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: ``80`` then zeros to a whole block."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % BLOCK)


def unpad(data: bytes) -> bytes:
    """Remove padding method 2; raises :class:`EacEncodingError` when it is malformed."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= BLOCK:
        raise EacEncodingError("malformed ISO/IEC 9797-1 padding")
    return stripped[:-1]
