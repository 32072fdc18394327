"""The point arithmetics of P-256: OpenSSL's EC_POINT (the C extension) and pycryptodome.

Each unit test runs on both (the ``p256`` fixture); the property tests run both on the
same random input and demand the same answer, identity (``None``) and rejection
(:class:`InvalidPoint`) included, with pyca/cryptography's keys on the standard
generator as the reference products. The C binding's own argument checks are at the
end: they run in scripts/sanitize's ASan + UBSan pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from types import ModuleType

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cityid_card.eac import P256, Curve, InvalidPoint
from cityid_card.eac.curve import DEFAULT_ARITHMETIC, Point, PointArithmetic
from tests.conftest import native_module
from tests.eac.conftest import with_arithmetic

N, P = P256.n, P256.p
G = P256.generator


def on_generator(scalar: int) -> Point | None:
    """``scalar * G`` by pyca/cryptography (the reference), None for the identity."""
    scalar %= N
    return None if scalar == 0 else P256.decode_point(P256.public_key(scalar))


def negate(point: Point) -> Point:
    return (point[0], (P - point[1]) % P)


@cache
def small_x_point() -> Point:
    """A point with x < 2^224, so that x + p still fits in 32 bytes."""
    for x in range(1, 100):
        rhs = (x**3 + P256.a * x + P256.b) % P
        y = pow(rhs, (P + 1) // 4, P)  # p = 3 mod 4
        if y * y % P == rhs:
            return (x, y)
    raise AssertionError("no small x")  # pragma: no cover


@cache
def leading_zero_scalars() -> tuple[int, int]:
    """Scalars k whose k*G has a zero first byte of x, and of y."""
    x = next(k for k in range(1, 100_000) if P256.public_key(k)[1] == 0)
    y = next(k for k in range(1, 100_000) if P256.public_key(k)[33] == 0)
    return x, y


Pair = tuple[PointArithmetic, PointArithmetic]


@pytest.fixture(scope="module")
def both() -> Pair:
    """(OpenSSL's, pycryptodome's); skips when the C extension is not here."""
    return with_arithmetic(P256, "c").arithmetic, with_arithmetic(P256, "python").arithmetic


def invalid_points() -> list[Point]:
    gx, gy = G
    sx, sy = small_x_point()
    return [
        (0, 0),  # pycryptodome's identity
        (gx, gy ^ 1),  # off the curve
        (gx, gy + P),  # y >= p, 2^256 and above
        (sx + P, sy),  # x >= p, the same point modulo p
        (P, 0),
        (-gx, gy),
        (gx, -gy),
        (2**256 + gx, gy),
    ]


# ------------------------------------------------------------------------------------
# Unit tests, on each arithmetic


def test_products_match_pycas_keys_on_the_generator(p256: Curve) -> None:
    for k in (1, 2, 3, 2**128 + 5, N - 2, N - 1):
        assert p256.multiply(G, k) == on_generator(k)
        assert p256.arithmetic.multiply(G, k) == on_generator(k)


def test_scalars_are_reduced_modulo_the_order(p256: Curve) -> None:
    point = on_generator(7)
    assert point is not None
    assert p256.multiply(point, N + 3) == on_generator(21)
    assert p256.multiply_add(point, 2 * N + 1, G) == on_generator(8)


def test_identity_results_are_none_in_the_arithmetic_and_refused_by_the_curve(
    p256: Curve,
) -> None:
    point = on_generator(12345)
    assert point is not None
    arithmetic = p256.arithmetic
    assert arithmetic.multiply(point, 0) is None
    assert arithmetic.multiply(point, N) is None
    assert arithmetic.multiply_add(point, N - 1, point) is None
    assert arithmetic.multiply_add(point, 0, point) == point
    assert arithmetic.add(point, negate(point)) is None
    calls: list[Callable[[], object]] = [
        lambda: p256.multiply(point, N),
        lambda: p256.multiply_add(point, N - 1, point),
        lambda: p256.add(point, negate(point)),
    ]
    for call in calls:
        with pytest.raises(InvalidPoint):
            call()


def test_doubling_and_adding(p256: Curve) -> None:
    point = on_generator(5)
    assert point is not None
    assert p256.add(point, point) == on_generator(10)
    assert p256.add(point, G) == on_generator(6)
    assert p256.multiply_add(point, 3, point) == on_generator(20)


def test_leading_zero_coordinates_are_kept(p256: Curve) -> None:
    for k in leading_zero_scalars():
        expected = P256.public_key(k)
        # k = (k - 1) + 1: the product and the sum both end on the leading-zero point.
        assert p256.encode_point(p256.multiply(G, k)) == expected
        assert p256.encode_point(p256.multiply_add(G, k - 1, G)) == expected
        point = P256.decode_point(expected)
        assert p256.multiply(point, 1) == point


@pytest.mark.parametrize("index", range(len(invalid_points())))
def test_points_that_are_not_on_the_curve_are_refused(p256: Curve, index: int) -> None:
    bad = invalid_points()[index]
    arithmetic = p256.arithmetic
    calls: list[Callable[[], object]] = [
        lambda: arithmetic.multiply(bad, 3),
        lambda: arithmetic.multiply_add(bad, 3, G),
        lambda: arithmetic.multiply_add(G, 3, bad),
        lambda: arithmetic.add(bad, G),
        lambda: arithmetic.add(G, bad),
    ]
    for call in calls:
        with pytest.raises(InvalidPoint):
            call()


def test_the_default_arithmetic_follows_the_verifier_engine() -> None:
    import cityid_card

    assert cityid_card.implementation == DEFAULT_ARITHMETIC
    assert type(P256.arithmetic) is type(P256.with_arithmetic(DEFAULT_ARITHMETIC).arithmetic)
    with pytest.raises(ValueError, match="no 'rust' point arithmetic"):
        P256.with_arithmetic("rust")


# ------------------------------------------------------------------------------------
# Both arithmetics on the same input


edge_scalars = st.sampled_from([0, 1, 2, N - 2, N - 1, N, N + 1, 2**256 - 1])
scalars = st.one_of(edge_scalars, st.integers(0, 2**256 - 1))


def _agree(both: Pair, call: str, *args: object) -> Point | None:
    """Run one method on both arithmetics: same point or identity, or both refuse."""
    answers: list[tuple[str, Point | None]] = []
    for arithmetic in both:
        try:
            answers.append(("ok", getattr(arithmetic, call)(*args)))
        except InvalidPoint:
            answers.append(("refused", None))
    assert answers[0] == answers[1], call
    return answers[0][1]


@settings(max_examples=300, deadline=None)
@given(a=st.integers(1, N - 1), k=scalars, b=st.integers(1, N - 1), form=st.integers(0, 3))
@example(a=7, k=N - 1, b=7, form=0)  # k*P + P = identity
@example(a=7, k=1, b=N - 7, form=0)  # P + (-P) = identity
@example(a=7, k=0, b=9, form=0)  # 0*P + Q = Q
@example(a=3, k=N, b=3, form=1)  # n*P = identity
def test_both_arithmetics_agree_on_valid_points(
    both: Pair, a: int, k: int, b: int, form: int
) -> None:
    if form == 2:  # leading-zero coordinates in the input
        a = leading_zero_scalars()[a % 2]
    point, addend = on_generator(a), on_generator(b)
    assert point is not None and addend is not None
    if form == 3:  # the sum hits the identity: addend = -(k*P)
        product = on_generator(a * k)
        if product is not None:
            addend, b = negate(product), -a * k
    assert _agree(both, "multiply", point, k) == on_generator(a * k)
    assert _agree(both, "multiply_add", point, k, addend) == on_generator(a * k + b)
    assert _agree(both, "add", point, addend) == on_generator(a + b)


valid_or_not = st.one_of(
    st.sampled_from(invalid_points()),
    st.tuples(st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1)),
    st.integers(1, N - 1).map(lambda a: on_generator(a) or G),
    st.integers(1, N - 1).map(lambda a: ((p := on_generator(a) or G)[0], p[1] + P)),
)


@settings(max_examples=300, deadline=None)
@given(point=valid_or_not, other=valid_or_not, k=scalars)
def test_both_arithmetics_refuse_the_same_points(
    both: Pair, point: Point, other: Point, k: int
) -> None:
    _agree(both, "multiply", point, k)
    _agree(both, "multiply_add", point, k, other)
    _agree(both, "add", point, other)


# ------------------------------------------------------------------------------------
# The C binding itself (cityid_card._native.ec_mul_add, ec_add)


@pytest.fixture(scope="module")
def native() -> ModuleType:
    return native_module()


def _encoded(point: Point) -> bytes:
    return P256.encode_point(point)


def test_the_binding_uses_the_generator_when_no_point_is_given(native: ModuleType) -> None:
    for k in (1, 2, N - 1):
        scalar = k.to_bytes(32, "big")
        assert native.ec_mul_add("secp256r1", None, scalar, None) == P256.public_key(k)
    assert native.ec_mul_add("secp256r1", None, bytes(32), None) is None
    assert native.ec_mul_add("secp256r1", None, bytes(32), _encoded(G)) == _encoded(G)


@pytest.mark.parametrize(
    ("point", "scalar", "addend", "error"),
    [
        (b"", bytes(31) + b"\x01", None, ValueError),
        (b"\x00", bytes(31) + b"\x01", None, ValueError),  # OpenSSL's identity encoding
        (P256.public_key(5)[:33], bytes(31) + b"\x01", None, ValueError),
        (b"\x02" + P256.public_key(5)[1:33], bytes(31) + b"\x01", None, ValueError),
        (b"\x06" + P256.public_key(5)[1:], bytes(31) + b"\x01", None, ValueError),  # hybrid
        (P256.public_key(5) + b"\x00", bytes(31) + b"\x01", None, ValueError),
        (P256.public_key(5), bytes(31), None, ValueError),
        (P256.public_key(5), bytes(33), None, ValueError),
        (P256.public_key(5), b"", None, ValueError),
        (P256.public_key(5), bytes(32), b"\x04" + bytes(64), ValueError),
        (P256.public_key(5), bytes(32), b"\x00", ValueError),
        (bytearray(P256.public_key(5)), bytes(32), None, TypeError),
        (P256.public_key(5), 1, None, TypeError),
        (P256.public_key(5), bytes(32), "point", TypeError),
    ],
)
def test_the_binding_refuses_bad_arguments(
    native: ModuleType, point: object, scalar: object, addend: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        native.ec_mul_add("secp256r1", point, scalar, addend)


def test_the_binding_refuses_bad_curves_and_arities(native: ModuleType) -> None:
    g, one = _encoded(G), (1).to_bytes(32, "big")
    with pytest.raises(ValueError, match="no arithmetic for this curve"):
        native.ec_mul_add("secp384r1", g, one, None)
    with pytest.raises(TypeError):
        native.ec_mul_add(b"secp256r1", g, one, None)
    with pytest.raises(TypeError):
        native.ec_mul_add("secp256r1", g, one)
    with pytest.raises(TypeError):
        native.ec_add("secp256r1", g)
    with pytest.raises(TypeError):
        native.ec_add("secp256r1", g, None)
    with pytest.raises(ValueError, match="not an uncompressed point"):
        native.ec_add("secp256r1", g, g[:-1])
    # A brainpoolP256r1 point is not one of P-256 (and the reverse).
    brainpool_g = native.ec_mul_add("brainpoolP256r1", None, one, None)
    with pytest.raises(ValueError, match="not an uncompressed point"):
        native.ec_add("secp256r1", brainpool_g, g)
    with pytest.raises(ValueError, match="not an uncompressed point"):
        native.ec_add("brainpoolP256r1", g, brainpool_g)


def test_the_binding_gives_the_same_products_from_many_threads(native: ModuleType) -> None:
    """ec_mul_add releases the GIL: concurrent calls share only the read-only groups."""
    inputs = [(on_generator(a), a * 7919) for a in range(2, 34)]
    expected = [on_generator(a * k) for a, k in [(a, a * 7919) for a in range(2, 34)]]
    results: list[list[bytes | None]] = []

    def work() -> None:
        results.append(
            [
                native.ec_mul_add("secp256r1", _encoded(p), k.to_bytes(32, "big"), None)
                for p, k in inputs
                if p is not None
            ]
        )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    want = [None if e is None else _encoded(e) for e in expected]
    assert results == [want] * 4
