"""Elliptic-curve domain parameters, point encoding and point arithmetic.

The profile uses NIST P-256 (secp256r1, PACE standardized domain parameter 12). A point
travels as the uncompressed encoding ``04 || X || Y`` (each coordinate exactly 32 bytes,
leading zero bytes kept) and every received point is checked: coordinates below p, on
the curve, not the identity. Arithmetic on arbitrary points (Generic Mapping needs
``s*G + H``) comes from pycryptodome; key agreement, signatures and keys on the standard
generator from pyca/cryptography.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

# Documented as Crypto.PublicKey.ECC.EccPoint; the module re-exports it without __all__.
from Crypto.PublicKey.ECC import EccPoint  # type: ignore[attr-defined]
from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac.errors import InvalidPoint

__all__ = ["P256", "Curve", "Point", "PointArithmetic"]

Point = tuple[int, int]
"""An affine point (x, y); the identity is never a value of this type."""


class PointArithmetic(Protocol):
    """Group operations on affine points; ``None`` stands for the identity."""

    def multiply(self, point: Point, scalar: int) -> Point | None:
        """``scalar * point``; the scalar may be secret."""
        ...

    def add(self, left: Point, right: Point) -> Point | None:
        """``left + right``."""
        ...

    def multiply_add(self, point: Point, scalar: int, addend: Point) -> Point | None:
        """``scalar * point + addend``; the scalar may be secret."""
        ...


class _Pycryptodome:
    """pycryptodome's C arithmetic for one of its named curves (secret scalars blinded)."""

    def __init__(self, name: str) -> None:
        self._name = name
        # Compared in C; kept so that an identity check builds no new point.
        self._identity = EccPoint(0, 0, name)

    def _affine(self, point: EccPoint) -> Point | None:
        return None if point == self._identity else point.xy

    def multiply(self, point: Point, scalar: int) -> Point | None:
        return self._affine(EccPoint(point[0], point[1], self._name) * scalar)

    def add(self, left: Point, right: Point) -> Point | None:
        sum_ = EccPoint(left[0], left[1], self._name) + EccPoint(right[0], right[1], self._name)
        return self._affine(sum_)

    def multiply_add(self, point: Point, scalar: int, addend: Point) -> Point | None:
        product = EccPoint(point[0], point[1], self._name) * scalar
        return self._affine(product + EccPoint(addend[0], addend[1], self._name))


@dataclass(frozen=True)
class Curve:
    """Short Weierstrass domain parameters y^2 = x^3 + a*x + b over GF(p), with arithmetic."""

    name: str
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    cofactor: int
    parameter_id: int
    """The standardized domain parameter ID of BSI TR-03110-3 / ICAO 9303-11 (P-256: 12)."""
    pyca: ec.EllipticCurve
    arithmetic: PointArithmetic

    @property
    def size(self) -> int:
        """Length in bytes of a coordinate and of a private key."""
        return (self.p.bit_length() + 7) // 8

    @property
    def generator(self) -> Point:
        return (self.gx, self.gy)

    def encode_point(self, point: Point) -> bytes:
        """The uncompressed encoding ``04 || X || Y``, coordinates left-padded with zeros."""
        return b"\x04" + point[0].to_bytes(self.size, "big") + point[1].to_bytes(self.size, "big")

    def decode_point(self, data: bytes) -> Point:
        """Parse and validate an uncompressed point (raises :class:`InvalidPoint`)."""
        if len(data) != 1 + 2 * self.size or data[0] != 0x04:
            raise InvalidPoint("public key is not an uncompressed point of the curve")
        x = int.from_bytes(data[1 : 1 + self.size], "big")
        y = int.from_bytes(data[1 + self.size :], "big")
        if x >= self.p or y >= self.p or (y * y - (x * x * x + self.a * x + self.b)) % self.p:
            raise InvalidPoint("public key is not a point of the curve")
        return (x, y)

    def multiply(self, point: Point, scalar: int) -> Point:
        """``scalar * point``; raises :class:`InvalidPoint` when the result is the identity."""
        result = self.arithmetic.multiply(point, scalar % self.n)
        if result is None:
            raise InvalidPoint("point arithmetic gave the identity")
        return result

    def add(self, left: Point, right: Point) -> Point:
        """``left + right``; raises :class:`InvalidPoint` when the result is the identity."""
        result = self.arithmetic.add(left, right)
        if result is None:
            raise InvalidPoint("point arithmetic gave the identity")
        return result

    def multiply_add(self, point: Point, scalar: int, addend: Point) -> Point:
        """``scalar * point + addend``; :class:`InvalidPoint` when it is the identity."""
        result = self.arithmetic.multiply_add(point, scalar % self.n, addend)
        if result is None:
            raise InvalidPoint("point arithmetic gave the identity")
        return result

    def random_scalar(self) -> int:
        """A uniformly random private key in [1, n-1] from the operating system."""
        return 1 + secrets.randbelow(self.n - 1)

    def check_scalar(self, scalar: int) -> int:
        """``scalar`` when it is a valid private key, otherwise :class:`InvalidPoint`."""
        if not 0 < scalar < self.n:
            raise InvalidPoint("private key outside [1, n-1]")
        return scalar

    def public_key(self, private: int) -> bytes:
        """The encoded public key ``private * G`` on the standard generator."""
        key = ec.derive_private_key(self.check_scalar(private), self.pyca)
        numbers = key.public_key().public_numbers()
        return self.encode_point((numbers.x, numbers.y))

    def ecdh_x(self, private: int, peer: bytes) -> bytes:
        """The x-coordinate of ``private * peer`` (``size`` bytes): ECDH by pyca/cryptography.

        Any generator works: the product depends only on the scalar and the peer point.
        """
        self.decode_point(peer)
        key = ec.derive_private_key(self.check_scalar(private), self.pyca)
        public = ec.EllipticCurvePublicKey.from_encoded_point(self.pyca, peer)
        return key.exchange(ec.ECDH(), public)


P256 = Curve(
    name="secp256r1",
    p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    cofactor=1,
    parameter_id=12,
    pyca=ec.SECP256R1(),
    arithmetic=_Pycryptodome("p256"),
)
"""NIST P-256 (FIPS 186-4 D.1.2.3, SEC 2 secp256r1): the curve of this profile."""
