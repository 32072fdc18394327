"""brainpoolP256r1 for the BSI worked example, with python-ecdsa's arithmetic (tests only).

The profile's curve is P-256, whose arithmetic comes from OpenSSL's EC_POINT (the C
extension) or pycryptodome (the pure-Python twin); the worked example of BSI (carried in
OpenPACE's src/eactest.c) is on brainpoolP256r1 (RFC 5639), which pycryptodome does not
implement. The library's functions take any :class:`~cityid_card.eac.curve.Curve`, so
the known-answer tests run them on this one, with python-ecdsa's arithmetic here and
with OpenSSL's (``Curve.with_arithmetic("c")``).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from ecdsa.curves import BRAINPOOLP256r1
from ecdsa.ellipticcurve import INFINITY
from ecdsa.ellipticcurve import Point as EcdsaPoint

from cityid_card.eac.curve import Curve, Point

_CURVE = BRAINPOOLP256r1.curve


class _EcdsaArithmetic:
    def multiply(self, point: Point, scalar: int) -> Point | None:
        result = EcdsaPoint(_CURVE, point[0], point[1]) * scalar
        return None if result == INFINITY else (int(result.x()), int(result.y()))

    def add(self, left: Point, right: Point) -> Point | None:
        result = EcdsaPoint(_CURVE, left[0], left[1]) + EcdsaPoint(_CURVE, right[0], right[1])
        return None if result == INFINITY else (int(result.x()), int(result.y()))

    def multiply_add(self, point: Point, scalar: int, addend: Point) -> Point | None:
        product = EcdsaPoint(_CURVE, point[0], point[1]) * scalar
        result = product + EcdsaPoint(_CURVE, addend[0], addend[1])
        return None if result == INFINITY else (int(result.x()), int(result.y()))


BRAINPOOL_P256R1 = Curve(
    name="brainpoolP256r1",
    p=int(_CURVE.p()),
    a=int(_CURVE.a()),
    b=int(_CURVE.b()),
    gx=int(BRAINPOOLP256r1.generator.x()),
    gy=int(BRAINPOOLP256r1.generator.y()),
    n=int(BRAINPOOLP256r1.order),
    cofactor=1,
    parameter_id=13,
    pyca=ec.BrainpoolP256R1(),
    arithmetic=_EcdsaArithmetic(),
)
