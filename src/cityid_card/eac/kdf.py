"""Key derivation of ICAO Doc 9303-11 section 9.7.1 (BSI TR-03110-3 A.2.3).

``KDF(K, r, c) = H(K || r || c)``, truncated to the key length, where ``c`` is a 32-bit
big-endian counter: 1 for the encryption key, 2 for the MAC key, 3 for the key that
encrypts the PACE nonce. H is SHA-1 for AES-128 and SHA-256 for AES-192 and AES-256.
The optional nonce ``r`` is Chip Authentication's.
"""

from __future__ import annotations

import hashlib

from cityid_card.eac.errors import EacEncodingError

__all__ = ["ENC", "MAC", "PI", "kdf", "kdf_enc", "kdf_mac", "kdf_pi", "password_bytes"]

ENC = 1
MAC = 2
PI = 3


def kdf(secret: bytes, counter: int, nonce: bytes = b"", key_length: int = 16) -> bytes:
    """``KDF(secret, nonce, counter)`` for an AES key of ``key_length`` bytes."""
    if key_length == 16:
        # ICAO 9303-11 mandates SHA-1 here; K is a full-entropy shared secret.
        digest = hashlib.sha1(secret + nonce + counter.to_bytes(4, "big"))  # noqa: S324
    elif key_length in (24, 32):
        digest = hashlib.sha256(secret + nonce + counter.to_bytes(4, "big"))
    else:
        raise EacEncodingError("AES key length must be 16, 24 or 32 bytes")
    return digest.digest()[:key_length]


def kdf_enc(secret: bytes, nonce: bytes = b"", key_length: int = 16) -> bytes:
    """K_Enc = KDF(secret, nonce, 1)."""
    return kdf(secret, ENC, nonce, key_length)


def kdf_mac(secret: bytes, nonce: bytes = b"", key_length: int = 16) -> bytes:
    """K_MAC = KDF(secret, nonce, 2)."""
    return kdf(secret, MAC, nonce, key_length)


def password_bytes(password: str) -> bytes:
    """f(pi) for a CAN or PIN: its digits as ASCII (ICAO 9303-11 9.7.3).

    The profile's password is the 6-digit Card Access Number printed on the card.
    """
    if not (password.isascii() and password.isdigit() and 4 <= len(password) <= 12):
        raise EacEncodingError("a CAN or PIN is 4 to 12 decimal digits")
    return password.encode("ascii")


def kdf_pi(password: str, key_length: int = 16) -> bytes:
    """K_pi = KDF(f(pi), 3): the key that encrypts the PACE nonce."""
    return kdf(password_bytes(password), PI, b"", key_length)
