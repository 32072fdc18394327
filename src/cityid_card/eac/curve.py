"""Elliptic-curve domain parameters, point encoding and point arithmetic.

The profile uses NIST P-256 (secp256r1, PACE standardized domain parameter 12). A point
travels as the uncompressed encoding ``04 || X || Y`` (each coordinate exactly 32 bytes,
leading zero bytes kept) and every received point is checked: coordinates below p, on
the curve, not the identity. Arithmetic on arbitrary points (Generic Mapping needs
``s*G + H``, then a key on the mapped generator) comes from OpenSSL's ``EC_POINT``
through the C extension (``cityid_card._native``, ec.c), or from pycryptodome in the
pure-Python twin; key agreement, signatures and keys on the standard generator from
pyca/cryptography.

The arithmetic follows the verifier's engine: the C one when the extension is built
and the process did not start with ``CITYID_CARD_PURE=1`` (which the package's
``__init__`` reads and hands to the verifier before this module is imported), else
pycryptodome's. :meth:`Curve.with_arithmetic` picks one for a curve explicitly.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Documented as Crypto.PublicKey.ECC.EccPoint; the module re-exports it without __all__.
from Crypto.PublicKey.ECC import EccPoint  # type: ignore[attr-defined]
from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card import verifier
from cityid_card.eac.errors import InvalidPoint

__all__ = ["DEFAULT_ARITHMETIC", "P256", "Curve", "Point", "PointArithmetic"]

Point = tuple[int, int]
"""An affine point (x, y); the identity is never a value of this type."""


class PointArithmetic(Protocol):
    """Group operations on affine points; ``None`` stands for the identity.

    A point that is not one of the curve's (coordinates outside [0, p) or off the curve)
    raises :class:`InvalidPoint`; scalars are in [0, 2^256).
    """

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
    """pycryptodome's C arithmetic for one of its named curves (secret scalars blinded).

    It reads (0, 0) as the identity and reduces coordinates modulo p; both are refused
    here first, as OpenSSL refuses them.
    """

    def __init__(self, name: str, p: int) -> None:
        self._name = name
        self._p = p
        # Compared in C; kept so that an identity check builds no new point.
        self._identity = EccPoint(0, 0, name)

    def _point(self, point: Point) -> EccPoint:
        x, y = point
        if not (0 <= x < self._p and 0 <= y < self._p) or x == y == 0:
            raise InvalidPoint("not a point of the curve")
        try:
            return EccPoint(x, y, self._name)
        except ValueError:
            raise InvalidPoint("not a point of the curve") from None

    def _affine(self, point: EccPoint) -> Point | None:
        return None if point == self._identity else point.xy

    def multiply(self, point: Point, scalar: int) -> Point | None:
        return self._affine(self._point(point) * scalar)

    def add(self, left: Point, right: Point) -> Point | None:
        return self._affine(self._point(left) + self._point(right))

    def multiply_add(self, point: Point, scalar: int, addend: Point) -> Point | None:
        return self._affine(self._point(point) * scalar + self._point(addend))


_SIZE = 32  # bytes of a coordinate and of a scalar, on the curves the C extension knows


class _OpenSSL:
    """OpenSSL's EC_POINT through the C extension (``cityid_card._native``, ec.c).

    P-256 and brainpoolP256r1; OpenSSL checks every point (coordinates below p, on the
    curve), runs the products in constant time and clears the secret scalar.
    """

    def __init__(self, name: str, p: int) -> None:
        from cityid_card._native import ec_add, ec_mul_add

        del p  # OpenSSL knows the curve by its name
        self._name = name
        self._mul_add = ec_mul_add
        self._add = ec_add

    @staticmethod
    def _encode(point: Point) -> bytes:
        try:
            return b"\x04" + point[0].to_bytes(_SIZE, "big") + point[1].to_bytes(_SIZE, "big")
        except OverflowError:  # negative, or 2^256 and above
            raise InvalidPoint("not a point of the curve") from None

    @staticmethod
    def _decode(encoded: bytes | None) -> Point | None:
        if encoded is None:
            return None
        return int.from_bytes(encoded[1 : 1 + _SIZE], "big"), int.from_bytes(
            encoded[1 + _SIZE :], "big"
        )

    def _run(self, point: Point, scalar: int, addend: Point | None) -> Point | None:
        encoded_addend = None if addend is None else self._encode(addend)
        try:
            result = self._mul_add(
                self._name, self._encode(point), scalar.to_bytes(_SIZE, "big"), encoded_addend
            )
        except ValueError:
            raise InvalidPoint("not a point of the curve") from None
        return self._decode(result)

    def multiply(self, point: Point, scalar: int) -> Point | None:
        return self._run(point, scalar, None)

    def add(self, left: Point, right: Point) -> Point | None:
        try:
            return self._decode(self._add(self._name, self._encode(left), self._encode(right)))
        except ValueError:
            raise InvalidPoint("not a point of the curve") from None

    def multiply_add(self, point: Point, scalar: int, addend: Point) -> Point | None:
        return self._run(point, scalar, addend)


_ArithmeticFactory = Callable[[str, int], PointArithmetic]
"""Builds a curve's arithmetic from its name (``Curve.name``) and field prime."""


def _load_arithmetics() -> dict[str, _ArithmeticFactory]:
    arithmetics: dict[str, _ArithmeticFactory] = {"python": _Pycryptodome}
    # The verifier's choice: "c" only when the extension imported and CITYID_CARD_PURE=1
    # did not keep it out (the package's __init__ has run before any eac module loads).
    if verifier.DEFAULT_IMPLEMENTATION != "c":
        return arithmetics
    return {"c": _OpenSSL, **arithmetics}


_ARITHMETICS = _load_arithmetics()
#: The point arithmetic of :data:`P256`: "c" (OpenSSL's EC_POINT through the C
#: extension) or "python" (pycryptodome), chosen as the verifier's engine is.
DEFAULT_ARITHMETIC: str = next(iter(_ARITHMETICS))


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

    def with_arithmetic(self, implementation: str) -> Curve:
        """This curve with the point arithmetic of ``implementation`` ("c" or "python")."""
        factory = _ARITHMETICS.get(implementation)
        if factory is None:
            available = ", ".join(_ARITHMETICS)
            raise ValueError(
                f"no {implementation!r} point arithmetic here (available: {available})"
            )
        return dataclasses.replace(self, arithmetic=factory(self.name, self.p))

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


_P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF

P256 = Curve(
    name="secp256r1",
    p=_P256_P,
    a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    cofactor=1,
    parameter_id=12,
    pyca=ec.SECP256R1(),
    arithmetic=_ARITHMETICS[DEFAULT_ARITHMETIC]("secp256r1", _P256_P),
)
"""NIST P-256 (FIPS 186-4 D.1.2.3, SEC 2 secp256r1): the curve of this profile."""
