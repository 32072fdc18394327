"""Fixtures for the card tests: cards, scripted connections and the real PC/SC stack.

The PC/SC tests run pyscard -> pcscd -> vsmartcard-vpcd -> our emulator: the
``pcsc`` fixture starts that stack (``pcsc_stack.py``) once per session. Under CI (CI=true) a stack that cannot start fails the run;
elsewhere those tests skip, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cityid_card import IssuerKey, TrustStore

from .pcsc_stack import PcscStack, Unavailable


class ScriptedConnection:
    """A connection that answers from a script: a card that says whatever a test needs."""

    def __init__(self, answers: list[tuple[bytes, int]]) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        if not self.answers:
            raise AssertionError("the session sent more commands than the script answers")
        return self.answers.pop(0)


@pytest.fixture(scope="session")
def pcsc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscStack]:
    stack = PcscStack(tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    try:
        stack.start()
    except Unavailable as reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the PC/SC stack must run in CI: {reason}")
        pytest.skip(f"no PC/SC stack here: {reason}")
    yield stack
    stack.stop()


@pytest.fixture
def pcsc(pcsc_stack: PcscStack) -> PcscStack:
    """The running PC/SC stack (restarted if a test stopped pcscd)."""
    if not pcsc_stack.running():
        pcsc_stack.start()
    return pcsc_stack


@pytest.fixture
def es256_key() -> IssuerKey:
    return IssuerKey.generate("ES256", kid="CHI-2026-CARD")


@pytest.fixture
def card_trust(es256_key: IssuerKey) -> TrustStore:
    return TrustStore([es256_key.public()])
