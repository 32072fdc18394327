"""The sealed tag record: the credential under AES-128-GCM, with the key on the card face.

An NTAG21x answers any reader in range, and its only protections (a fixed UID, a 32-bit
password sent in clear) protect nothing (``specs/ndef-mapping.md`` section 11). So a
tag written by this library holds, by default, the credential *sealed*: encrypted
under a random 16-byte key that exists only in the QR code printed on the card face
(``specs/qr.md``, the ``CIDS1:`` form). A tap alone reads ciphertext; a verifier who
sees the card reads the key from its face. The payload of the ``cityid.org:s`` record::

    01 || nonce (12 random bytes) || AES-128-GCM(key, nonce, padded, aad="cityid.org:s" 01)
    padded = length (2 bytes, big-endian) || credential || zeros, to 224 or 480 bytes

Every credential up to 222 bytes (all real ones) seals to 253 bytes, so sealed tags
differ only in their ciphertext, which is uniformly random to anyone without the key.
Pure functions, no I/O; AES-GCM is pyca/cryptography's.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import SealError

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "PADDED_SIZES",
    "SEALED_RECORD_TYPE",
    "SEAL_VERSION",
    "new_key",
    "seal",
    "sealed_size",
    "unseal",
]

#: The record type of a sealed credential: an NFC Forum external type beside ``cityid.org:c``.
SEALED_RECORD_TYPE = b"cityid.org:s"
#: The first payload byte: the version of this sealing.
SEAL_VERSION = 1
#: AES-128: the key is printed in the face's QR code, so it is kept short.
KEY_SIZE = 16
#: AES-GCM's 96-bit nonce, random for every seal (a key may seal more than once).
NONCE_SIZE = 12
_TAG_SIZE = 16
_LENGTH_SIZE = 2
#: The sizes the plaintext is padded to: 224 keeps the record in NDEF's short form
#: (a 253-byte payload); 480 takes the largest credential of the format (315 bytes).
PADDED_SIZES = (224, 480)
_AAD = SEALED_RECORD_TYPE + bytes((SEAL_VERSION,))


def new_key() -> bytes:
    """A fresh random sealing key (16 bytes from the operating system's CSPRNG)."""
    return secrets.token_bytes(KEY_SIZE)


def _padded_size(credential_size: int) -> int:
    for size in PADDED_SIZES:
        if credential_size + _LENGTH_SIZE <= size:
            return size
    raise ValueError(f"a sealed credential is at most {PADDED_SIZES[-1] - _LENGTH_SIZE} bytes")


def sealed_size(credential_size: int) -> int:
    """The payload size of the sealed record for a credential of ``credential_size`` bytes."""
    return 1 + NONCE_SIZE + _padded_size(credential_size) + _TAG_SIZE


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise SealError(f"a sealing key is {KEY_SIZE} bytes")


def seal(credential: bytes, key: bytes, *, nonce: bytes | None = None) -> bytes:
    """The sealed record's payload for ``credential`` under ``key``.

    ``nonce`` is for test vectors only; by default a fresh random one is drawn, so
    sealing the same credential twice gives unrelated bytes.
    """
    _check_key(key)
    if not credential:
        raise ValueError("a credential is at least 1 byte")
    size = _padded_size(len(credential))
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"an AES-GCM nonce here is {NONCE_SIZE} bytes")
    padded = len(credential).to_bytes(_LENGTH_SIZE, "big") + credential
    padded += bytes(size - len(padded))
    return bytes((SEAL_VERSION,)) + nonce + AESGCM(key).encrypt(nonce, padded, _AAD)


def unseal(payload: bytes, key: bytes) -> bytes:
    """The credential in a sealed record's payload; raise SealError if it does not open.

    The payload must be of one of the padded sizes and open under ``key`` (the GCM tag
    authenticates it), the padding must be zeros, and the size the smallest that holds
    the credential (one encoding per credential). The message never says which
    check failed beyond that, and never quotes the bytes.
    """
    _check_key(key)
    sizes = {1 + NONCE_SIZE + size + _TAG_SIZE: size for size in PADDED_SIZES}
    if len(payload) not in sizes or payload[0] != SEAL_VERSION:
        raise SealError("the tag's sealed record is not of a version and size this library reads")
    nonce, body = payload[1 : 1 + NONCE_SIZE], payload[1 + NONCE_SIZE :]
    try:
        padded = AESGCM(key).decrypt(nonce, body, _AAD)
    except InvalidTag:
        raise SealError(
            "the tag's sealed record does not open with this key (the QR code of another "
            "card, or a damaged tag)"
        ) from None
    length = int.from_bytes(padded[:_LENGTH_SIZE], "big")
    end = _LENGTH_SIZE + length
    if length == 0 or end > len(padded) or any(padded[end:]):
        raise SealError("the tag's sealed record opens, but its padding is malformed")
    if _padded_size(length) != len(padded):
        raise SealError(
            "the tag's sealed record is padded to a larger size than its credential needs"
        )
    return padded[_LENGTH_SIZE:end]
