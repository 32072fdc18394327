"""benchmarks/_card_estimate.py: the card-side counts it measures and the arithmetic of
its estimate (not a timing test: nothing here depends on this machine's speed)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cityid_card.eac import _sym, cvc, kdf, ta
from cityid_card.eac.curve import Curve
from cityid_card.iso7816.gen2.pki import SECTOR_ROLES
from cityid_card.iso7816.gen2.terminal import disclose
from tests.gen2.helpers import CAN, TODAY, City

REPO = Path(__file__).resolve().parents[2]
ROLES = ("library", "transit", "museum", "age-check", "benefits")


@pytest.fixture(scope="module")
def bench() -> Iterator[Any]:
    spec = importlib.util.spec_from_file_location(
        "_card_estimate", REPO / "benchmarks" / "_card_estimate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_card_estimate"] = module  # for its dataclasses
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["_card_estimate"]


@pytest.mark.parametrize("role", ROLES)
def test_the_counts_are_the_card_side_work_of_one_transaction(
    bench: ModuleType, city: City, role: str
) -> None:
    ops = bench.measure(city, role)
    plain = disclose(city.card(), city.terminal(role), CAN, today=TODAY, trust=city.trust)
    # Every APDU and byte went through the counting link.
    assert plain.facts.exchanges is not None and plain.facts.exchanges <= 20
    assert len(ops.commands) == len(ops.responses) == plain.facts.exchanges
    assert (sum(ops.commands), sum(ops.responses)) == (plain.bytes_sent, plain.bytes_received)
    # The card's products only (the terminal makes as many): PACE's mapping key and s*G
    # on the standard generator; H, the key on the mapped generator, the shared secret,
    # CA's ECDH, and RI's for a sector role.
    assert ops.keypairs == 2
    assert ops.multiplications == 4 + (role in SECTOR_ROLES)
    assert ops.scalar_multiplications == ops.keypairs + ops.multiplications
    # TA: the DV certificate (once: the card keeps its key), the terminal certificate and
    # the terminal's signature.
    assert len(ops.verifications) == 3 and all(n > 0 for n in ops.verifications)
    # Secure messaging: a MAC checked and a MAC made per protected APDU (all but EF.CardAccess,
    # MSE:Set AT and PACE's four General Authenticates), plus PACE's two tokens and CA's.
    protected = len(ops.commands) - 6
    assert len(ops.cmac) == 2 * protected + 3
    assert len(ops.aes) >= 2 * protected  # at least the IV of each command and response
    assert len(ops.sha1) == 5  # K_pi, PACE's K_Enc and K_MAC, CA's K_Enc and K_MAC
    assert len(ops.sha256) == (2 if role in SECTOR_ROLES else 0)  # RI: sector check, I_sector
    assert ops.random[0] == 16 and ops.random.count(8) == 2  # PACE nonce; TA challenge, CA nonce
    # The wrong-CAN counter is written before the token is checked, then cleared.
    assert ops.writes[:2] == [("pace_failures",), ("pace_failures",)]


def _entry_points() -> tuple[object, ...]:
    """The crypto entry points the benchmark wraps to count calls."""
    return (
        vars(Curve)["public_key"],
        vars(Curve)["ecdh_x"],
        cvc.verify_signature,
        ta.verify,
        _sym.cmac8,
        vars(kdf)["hashlib"],
    )


def test_measuring_leaves_the_crypto_entry_points_as_they_were(
    bench: ModuleType, city: City
) -> None:
    before = _entry_points()
    bench.measure(city, "transit")
    assert _entry_points() == before and vars(kdf)["hashlib"] is hashlib


def test_the_estimate_prices_each_count_with_the_published_figure(bench: ModuleType) -> None:
    ops = bench.Operations(
        commands=[5],
        responses=[2],
        keypairs=1,
        multiplications=2,
        verifications=[100],
        aes=[16, 17],
        cmac=[40],
        sha1=[10],
        sha256=[100],
        random=[8],
        writes=[("pace_failures",)],
    )
    jcop4 = next(card for card in bench.CARDS if card.name.startswith("NXP JCOP4"))
    link = next(link for link in bench.LINKS if link.name == "ISO 14443 106 kbit/s")
    result = bench.estimate(ops, jcop4, link, apdu_overhead_ms=5.0)
    # The JCOP4 file's figures, by hand: genKeyPair 26.80, ECDH 20.04, ECDSA verify 30.22;
    # AES-CBC 16 B 1.55 and 32 B 1.64 (17 bytes take the 32-byte figure); CBC-MAC 64 B
    # 1.68; SHA-1 16 B 1.72; SHA-256 128 B 4.95; random 16 B 0.88; EEPROM 2.86.
    expected = {
        "key pairs": 26.80,
        "scalar multiplications": 2 * 20.04,
        "ECDSA verifications": 30.22,
        "AES": 1.55 + 1.64,
        "CMAC": 1.68,
        "hashes": 1.72 + 4.95,
        "random": 0.88,
        "writes": 2.86,
        # (5 + 3) + (2 + 3) bytes with PCB and CRC_A, 9 bit times each, at fc/128.
        "transfer": 1000 * 13 * 9 / (13_560_000 / 128),
        "APDU overhead": 5.0,
    }
    assert result.parts == pytest.approx(expected)
    assert result.total == pytest.approx(sum(expected.values()))
    assert (result.card, result.link) == (jcop4.name, link.name)


def test_a_long_apdu_is_chained_and_a_long_input_priced_per_512_bytes(bench: ModuleType) -> None:
    t1 = next(link for link in bench.LINKS if link.name == "T=1 115.2 kbit/s")
    # 300 bytes: two T=1 blocks of 4 framing bytes each, and one R-block acknowledgement.
    assert t1.ms(300) == pytest.approx(1000 * (300 + 8 + 4) * 11 / 115_200)
    assert t1.ms(10) == pytest.approx(1000 * (10 + 4) * 11 / 115_200)
    jcop4 = bench.CARDS[0]
    assert jcop4.ms("aes_cbc", 1000) == pytest.approx(2 * 2.15)
    assert jcop4.ms("aes_cbc", 512) == 2.15 and jcop4.ms("aes_cbc", 1) == 1.55


def test_every_card_gives_every_operation_from_a_named_result_file(bench: ModuleType) -> None:
    assert len(bench.CARDS) >= 2
    for card in bench.CARDS:
        assert set(card.figures) == set(bench.OPERATIONS), card.name
        assert card.fixed.startswith("fixed/") and card.fixed.endswith(".csv")
        assert card.variable.startswith("variable/") and card.variable.endswith(".csv")
        for operation, points in card.figures.items():
            assert points and all(ms > 0 and line > 0 for _, ms, line in points), operation


def test_every_transaction_is_slower_on_the_slower_card_and_the_slower_link(
    bench: ModuleType, city: City
) -> None:
    ops = bench.measure(city, "transit")
    by_name = {link.name: link for link in bench.LINKS}
    slow_link, fast_link = by_name["ISO 14443 106 kbit/s"], by_name["ISO 14443 848 kbit/s"]
    for card in bench.CARDS:
        slow, fast = bench.estimate(ops, card, slow_link), bench.estimate(ops, card, fast_link)
        assert slow.total == pytest.approx(sum(slow.parts.values()))
        assert slow.parts["transfer"] == pytest.approx(8 * fast.parts["transfer"])
        assert {k: v for k, v in slow.parts.items() if k != "transfer"} == {
            k: v for k, v in fast.parts.items() if k != "transfer"
        }
        assert all(value > 0 for value in slow.parts.values())
    totals = [bench.estimate(ops, card, slow_link).total for card in bench.CARDS]
    jcop4 = next(i for i, card in enumerate(bench.CARDS) if card.name.startswith("NXP JCOP4"))
    assert totals[jcop4] == min(totals)


def test_the_benchmark_prints_a_range_per_role(bench: ModuleType, city: City) -> None:
    lines = bench.lines(city, ("transit", "age-check"))
    assert lines[0].startswith("on a real card (estimate:")
    assert lines[1].startswith("transit ") and lines[3].startswith("age-check ")
    for line in (lines[2], lines[4]):
        ranges = re.findall(r"(\d+\.\d\d) \.\. (\d+\.\d\d) s", line)
        assert len(ranges) == len(bench.SHOWN)
        assert all(0 < float(low) <= float(high) for low, high in ranges)
    assert "jcalgtest_results" in lines[-1] and len(lines) == 6
