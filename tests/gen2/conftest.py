from __future__ import annotations

import pytest

from tests.gen2.helpers import City, make_city


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()
