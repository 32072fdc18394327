"""specs/vectors/card_apdus.json: the emulator's traces, regenerated and replayed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cityid_card import TrustStore, verify
from cityid_card.iso7816.apdu import AUTH_CONTEXT, SW
from tests.conftest import NOW, VECTORS, load_generator

generator = load_generator("card_apdus")
CHECKED_IN: dict[str, Any] = json.loads((VECTORS / "card_apdus.json").read_text("utf-8"))
TRACES = {trace["id"]: trace for trace in CHECKED_IN["traces"]}


def test_regenerating_gives_the_checked_in_file() -> None:
    assert generator.dump(generator.build()) == (VECTORS / "card_apdus.json").read_text("utf-8")


def test_the_error_cases_cover_every_status_word_of_the_spec() -> None:
    seen = {
        int(step["response"][-4:], 16) for case in CHECKED_IN["errors"] for step in case["steps"]
    }
    seen |= {
        int(step["response"][-4:], 16) for trace in CHECKED_IN["traces"] for step in trace["steps"]
    }
    assert set(SW) - {SW.NO_PRECISE_DIAGNOSIS} <= seen
    assert {0x6C46, 0x6C40} <= seen


@pytest.mark.parametrize("trace_id", ["personalise", "verify"])
def test_the_traced_credential_verifies_and_the_signature_checks_out(trace_id: str) -> None:
    trace = TRACES[trace_id]
    blob = bytes.fromhex(trace["credential"])
    verified = verify(blob, TrustStore.load(VECTORS / "trust.json"), now=NOW)
    assert verified.credential.card_key == bytes.fromhex(trace["card_key"])
    auth = next(s for s in trace["steps"] if s["command"].startswith("00880000"))
    challenge = bytes.fromhex(auth["command"])[5:37]
    signature = bytes.fromhex(auth["response"])[:-2]
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), bytes.fromhex(trace["card_key"])
    )
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), AUTH_CONTEXT + challenge, ec.ECDSA(hashes.SHA256()))


def test_the_personalisation_trace_reports_both_life_cycle_states() -> None:
    selects = [s for s in TRACES["personalise"]["steps"] if s["command"].startswith("00A4")]
    assert [s["response"] for s in selects] == ["6F038A01039000", "6F038A01059000"]
    assert len(TRACES["verify"]["steps"]) == 3
