"""PACE on P-256: whole runs of the library's terminal against its card, and bad input.

The tests that take ``p256`` run on each point arithmetic (tests/eac/conftest.py).
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityid_card.eac import (
    P256,
    AuthenticationFailed,
    Curve,
    EacEncodingError,
    InvalidPoint,
    pace,
)
from tests.eac.flows import Randomness, has_leading_zero_coordinate, run_pace

RUNS = 10_000


def random_can(rng: random.Random) -> str:
    return f"{rng.randrange(1_000_000):06d}"


def test_a_run_agrees_on_keys_and_exchanges_the_icao_data_objects(p256: Curve) -> None:
    t = run_pace("123456", "123456", Randomness.draw(random.Random(1)), p256)
    assert t.terminal_keys == t.card_keys
    assert [m[:3] for m in t.messages[1:]] == [
        b"\x7c\x12\x80",
        b"\x7c\x43\x81",
        b"\x7c\x43\x82",
        b"\x7c\x43\x83",
        b"\x7c\x43\x84",
        b"\x7c\x0a\x85",
        b"\x7c\x0a\x86",
    ]
    assert t.messages[0] == b"\x7c\x00"


def test_a_wrong_can_fails_at_the_cards_token_check(p256: Curve) -> None:
    with pytest.raises(AuthenticationFailed):
        run_pace("123456", "654321", Randomness.draw(random.Random(2)), p256)


def test_ten_thousand_runs_with_random_cans_and_keys() -> None:
    """10,000 runs on the default arithmetic: zero failures, and leading-zero coordinates
    among them (the other tests here run on both arithmetics)."""
    rng = random.Random(20261205)
    leading_zero_runs = failures = 0
    start = time.perf_counter()
    for _ in range(RUNS):
        can = random_can(rng)
        try:
            t = run_pace(can, can, Randomness.draw(rng))
        except Exception:  # counted, then asserted zero
            failures += 1
            continue
        if t.terminal_keys != t.card_keys:
            failures += 1
        leading_zero_runs += any(has_leading_zero_coordinate(p) for p in t.points)
    elapsed = time.perf_counter() - start
    assert failures == 0
    assert leading_zero_runs > 100, leading_zero_runs  # about 10,000 * 10/256
    print(
        f"{RUNS} PACE runs in {elapsed:.1f} s, {leading_zero_runs} with a leading-zero coordinate"
    )


def test_a_leading_zero_x_keeps_its_32_bytes(p256: Curve) -> None:
    private = next(k for k in range(1, 100_000) if p256.public_key(k)[1] == 0)
    public = p256.public_key(private)
    assert len(public) == 65 and public[1] == 0
    rng = random.Random(3)
    r = Randomness.draw(rng)
    t = run_pace(
        "000000", "000000", Randomness(r.nonce, private, r.map_picc, r.eph_pcd, r.eph_picc), p256
    )
    assert t.points[0] == public
    assert t.terminal_keys == t.card_keys


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x04" + bytes(64),
        b"\x02" + bytes(32),
        P256.public_key(5)[:-1],
        b"\x03" + P256.public_key(5)[1:],
        b"\x04" + P256.p.to_bytes(32, "big") + P256.public_key(5)[33:],
        P256.public_key(5)[:-1] + bytes([P256.public_key(5)[-1] ^ 1]),
    ],
)
def test_points_off_the_curve_are_rejected(bad: bytes, p256: Curve) -> None:
    with pytest.raises(InvalidPoint):
        pace.map_generator(p256, bytes(16), 7, bad)
    with pytest.raises(InvalidPoint):
        pace.shared_secret(p256, 7, p256.public_key(7), bad)


def test_the_peer_echoing_our_own_key_is_rejected(p256: Curve) -> None:
    own = p256.public_key(9)
    with pytest.raises(InvalidPoint):
        pace.shared_secret(p256, 9, own, own)


def test_a_mapping_that_gives_the_identity_is_rejected(p256: Curve) -> None:
    # H = -s*G makes s*G + H the identity: a malicious peer cannot force that unnoticed.
    s = int.from_bytes(b"\x01" * 16, "big")
    minus_sg = p256.encode_point(p256.multiply(p256.generator, p256.n - s))
    with pytest.raises(InvalidPoint):
        pace.map_generator(p256, b"\x01" * 16, 1, minus_sg)


@pytest.mark.parametrize("scalar", [0, P256.n, -1])
def test_private_keys_outside_the_group_order_are_rejected(scalar: int) -> None:
    with pytest.raises(InvalidPoint):
        P256.public_key(scalar)


def test_nonce_lengths_and_passwords_are_checked() -> None:
    with pytest.raises(EacEncodingError):
        pace.encrypt_nonce("123456", bytes(15))
    with pytest.raises(EacEncodingError):
        pace.decrypt_nonce("123456", bytes(32))
    for bad in ["12a456", "", "١٢٣٤٥٦", "12 456"]:
        with pytest.raises(EacEncodingError) as caught:
            pace.encrypt_nonce(bad, bytes(16))
        assert bad not in str(caught.value) or not bad


def test_session_keys_hide_themselves_in_repr() -> None:
    keys = pace.session_keys(bytes(32))
    assert keys.enc.hex() not in repr(keys) and "hidden" in repr(keys)


def test_mse_set_at_and_dynamic_authentication_data() -> None:
    assert pace.mse_set_at(pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128) == bytes.fromhex(
        "800a04007f00070202040202830102"
    )
    data = pace.dynamic_authentication_data((0x85, bytes(8)))
    assert pace.parse_dynamic_authentication_data(data, (0x85,)) == {0x85: bytes(8)}
    for bad in [data + b"\x00", b"\x7c\x02\x86\x00", b"\x7d" + data[1:]]:
        with pytest.raises(EacEncodingError):
            pace.parse_dynamic_authentication_data(bad, (0x85,))


@pytest.mark.parametrize("edge", [1, 2, P256.n - 1, P256.n - 2])
def test_edge_private_keys_run(edge: int, p256: Curve) -> None:
    nonce = random.Random(edge % 1000).randbytes(16)
    t = run_pace("123456", "123456", Randomness(nonce, edge, p256.n - edge, edge, 7), p256)
    assert t.terminal_keys == t.card_keys


def test_the_last_answer_may_name_the_trust_points() -> None:
    answer = pace.dynamic_authentication_data(
        (0x86, bytes(8)), (0x87, b"USCHICVCA00002"), (0x88, b"USCHICVCA00001")
    )
    parts = pace.parse_dynamic_authentication_data(answer, (0x86,), (0x87, 0x88))
    assert parts[0x87] == b"USCHICVCA00002" and parts[0x88] == b"USCHICVCA00001"
    assert pace.parse_dynamic_authentication_data(
        pace.dynamic_authentication_data((0x86, bytes(8))), (0x86,), (0x87, 0x88)
    ) == {0x86: bytes(8)}


@settings(max_examples=200, deadline=None)
@given(
    terminal_can=st.from_regex(r"[0-9]{6}", fullmatch=True),
    other_can=st.from_regex(r"[0-9]{6}", fullmatch=True),
    same=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_property_pace_agrees_exactly_when_the_cans_match(
    p256: Curve, terminal_can: str, other_can: str, same: bool, seed: int
) -> None:
    card_can = terminal_can if same else other_can
    r = Randomness.draw(random.Random(seed))
    if terminal_can == card_can:
        t = run_pace(terminal_can, card_can, r, p256)
        assert t.terminal_keys == t.card_keys
    else:
        with pytest.raises(AuthenticationFailed):
            run_pace(terminal_can, card_can, r, p256)
