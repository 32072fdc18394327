"""Fixtures of tests/gen2: a city, and the OpenPACE peer of tests/eac.

The PC/SC test of generation-2 cards is tests/card/test_gen2_pcsc.py, beside the other
PC/SC tests, so that they share one pcscd.
"""

from __future__ import annotations

import pytest

from cityid_card.eac import P256
from cityid_card.iso7816.gen2 import card, terminal
from tests.eac.conftest import ARITHMETICS, cvc_tools, openpace, with_arithmetic
from tests.gen2.helpers import City, make_city

__all__ = ["arithmetic", "city", "cvc_tools", "openpace"]


@pytest.fixture(params=ARITHMETICS)
def arithmetic(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The card's and the terminal's PACE on each point arithmetic, for one test (the
    two modules of the package whose PACE steps do point arithmetic)."""
    curve = with_arithmetic(P256, str(request.param))
    for module in (card, terminal):
        monkeypatch.setattr(module, "P256", curve)
    return str(request.param)


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()
