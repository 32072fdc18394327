"""benchmarks/desk.py: its measurements run and count what they claim to (a few taps each)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from cityid_card import IssuerKey, TrustStore, Verifier, qr
from tests.conftest import REPO


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("desk_bench", REPO / "benchmarks" / "desk.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["desk_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_measures_each_tap_and_request() -> None:
    bench = _benchmark()
    issuer = IssuerKey.generate("ES256", kid="CHI-2026-1")
    verifier = Verifier(TrustStore([issuer.public()]), cache_size=0)
    for make in bench.media(issuer).values():
        assert len(bench.tap_in_process(make(), verifier, 3)) == 3
        assert len(bench.tap_through_loop(make(), verifier, 3)) == 3  # one arrival per tap
        assert len(bench.tap_through_service(make(), verifier, 2)) == 2
    field, face = bench.sealed_ntag215(issuer)
    assert len(bench.sealed_in_process(field, verifier, face, 2)) == 2
    assert len(bench.sealed_through_loop(field, verifier, face, 3)) == 3  # valid reads only
    field, city, terminal = bench.gen2_museum()
    assert len(bench.gen2_in_process(field, city, terminal, 2)) == 2
    assert len(bench.gen2_through_loop(field, city, terminal, 3)) == 3  # valid reads only
    text = qr.encode(issuer.issue(bench.CREDENTIAL))
    samples = bench.qr_through_service(verifier, text, 5)
    assert len(samples) == 5
    p50, p99 = bench.percentiles(samples)
    assert 0 < p50 <= p99
