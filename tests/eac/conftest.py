"""The OpenPACE peer for tests/eac: loaded once; skipped (failed under CI) when absent."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.eac.openpace import OpenPace, load


def _missing(what: str) -> None:
    reason = f"{what} is not installed (./scripts/test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the OpenPACE peer must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def openpace() -> OpenPace:
    lib = load()
    if lib is None:
        _missing("libeac (Debian libeac3)")
    assert lib is not None
    return OpenPace(lib)


@pytest.fixture(scope="session")
def cvc_tools() -> tuple[str, str]:
    create, show = shutil.which("cvc-create"), shutil.which("cvc-print")
    if create is None or show is None:
        _missing("cvc-create/cvc-print (Debian openpace)")
    assert create is not None and show is not None
    return create, show
