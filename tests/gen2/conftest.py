from __future__ import annotations

import pytest

from tests.gen2.helpers import City, make_city


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()


from tests.card.conftest import pcsc, pcsc_stack  # noqa: E402,F401  (the PC/SC stack fixtures)
from tests.eac.conftest import openpace  # noqa: E402,F401  (the OpenPACE peer, test-only)
