"""ECDSA on secp128r1 (SEC 2) without hashing: the curve of NXP's originality signatures.

pyca/cryptography does not offer this 128-bit curve, so the few lines of arithmetic
live here; the tests check them against OpenSSL's secp128r1 both ways. Verification
handles public values only. :func:`sign` exists for tag emulators, whose test
"manufacturer" keys guard nothing: it is not constant-time and must never hold a key
that matters.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["ORDER", "public_key", "sign", "verify"]

_P = 0xFFFFFFFDFFFFFFFFFFFFFFFFFFFFFFFF
_A = 0xFFFFFFFDFFFFFFFFFFFFFFFFFFFFFFFC
_B = 0xE87579C11079F43DD824993C2CEE5ED3
_G = (0x161FF7528B899B2D0C28607CA52C5B86, 0xCF5AC8395BAFEB13C02DA292DDED7A83)
ORDER = 0xFFFFFFFE0000000075A30D1B9038A115
_SIZE = 16

Point = tuple[int, int] | None


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _P) % _P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P) % _P
    x = (slope * slope - p[0] - q[0]) % _P
    return x, (slope * (p[0] - x) - p[1]) % _P


def _multiply(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _decode_point(encoded: bytes) -> tuple[int, int] | None:
    """An uncompressed SEC 1 point (04 || X || Y) on the curve, or None."""
    if len(encoded) != 1 + 2 * _SIZE or encoded[0] != 0x04:
        return None
    x, y = int.from_bytes(encoded[1:17], "big"), int.from_bytes(encoded[17:], "big")
    if not (x < _P and y < _P) or (y * y - x * x * x - _A * x - _B) % _P:
        return None
    return x, y


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` (r || s, 16 bytes each) signs ``message`` (no hash) under ``public``.

    As NXP specifies for its originality signatures, the message itself (a tag's UID,
    shorter than the group order) is the integer ECDSA signs.
    """
    point = _decode_point(public)
    if point is None or len(signature) != 2 * _SIZE or len(message) > _SIZE:
        return False
    r, s = int.from_bytes(signature[:_SIZE], "big"), int.from_bytes(signature[_SIZE:], "big")
    if not (0 < r < ORDER and 0 < s < ORDER):
        return False
    w = pow(s, -1, ORDER)
    e = int.from_bytes(message, "big")
    result = _add(_multiply(e * w % ORDER, _G), _multiply(r * w % ORDER, point))
    return result is not None and result[0] % ORDER == r


def public_key(private: int) -> bytes:
    """The uncompressed public point of a private scalar (1 <= private < ORDER)."""
    point = _multiply(private, _G)
    assert point is not None
    return b"\x04" + point[0].to_bytes(_SIZE, "big") + point[1].to_bytes(_SIZE, "big")


def sign(private: int, message: bytes) -> bytes:
    """Sign ``message`` (no hash) with a deterministic nonce: for emulated tags only."""
    e = int.from_bytes(message, "big")
    counter = 0
    while True:
        seed = private.to_bytes(_SIZE, "big") + message + counter.to_bytes(4, "big")
        k = int.from_bytes(hmac.digest(seed, b"secp128r1 nonce", hashlib.sha256), "big") % ORDER
        counter += 1
        point = _multiply(k, _G) if k else None
        if point is None:
            continue
        r = point[0] % ORDER
        s = pow(k, -1, ORDER) * (e + r * private) % ORDER
        if r and s:
            return r.to_bytes(_SIZE, "big") + s.to_bytes(_SIZE, "big")
