"""Fixtures of tests/gen2: a city, and the PC/SC stack and OpenPACE peer of tests/card, tests/eac."""

from __future__ import annotations

import pytest

from tests.card.conftest import pcsc, pcsc_stack
from tests.eac.conftest import cvc_tools, openpace
from tests.gen2.helpers import City, make_city

__all__ = ["city", "cvc_tools", "openpace", "pcsc", "pcsc_stack"]


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()
