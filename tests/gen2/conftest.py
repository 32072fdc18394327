"""Fixtures of tests/gen2: a city, and the OpenPACE peer of tests/eac.

The PC/SC test of generation-2 cards is tests/card/test_gen2_pcsc.py, beside the other
PC/SC tests, so that they share one pcscd.
"""

from __future__ import annotations

import pytest

from tests.eac.conftest import cvc_tools, openpace
from tests.gen2.helpers import City, make_city

__all__ = ["city", "cvc_tools", "openpace"]


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()
