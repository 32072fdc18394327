"""Fixtures of tests/eac: the curves on each point arithmetic, and the OpenPACE peer.

The OpenPACE peer is loaded once; skipped (failed under CI) when absent.
"""

from __future__ import annotations

import os
import shutil

import pytest

from cityid_card.eac import P256, Curve
from tests.conftest import native_module
from tests.eac.brainpool import BRAINPOOL_P256R1
from tests.eac.openpace import OpenPace, load

#: The library's point arithmetics: OpenSSL's EC_POINT (the C extension) and pycryptodome.
ARITHMETICS = ("c", "python")


def with_arithmetic(curve: Curve, implementation: str) -> Curve:
    """``curve`` on one arithmetic; "c" skips (fails under CITYID_CARD_REQUIRE_NATIVE=1)
    when the extension is not built, and skips when CITYID_CARD_PURE=1 keeps it out."""
    if implementation == "c":
        native_module()
    try:
        return curve.with_arithmetic(implementation)
    except ValueError as reason:  # CITYID_CARD_PURE=1
        pytest.skip(str(reason))


@pytest.fixture(scope="session", params=ARITHMETICS)
def p256(request: pytest.FixtureRequest) -> Curve:
    """P-256 on each of the library's point arithmetics."""
    return with_arithmetic(P256, str(request.param))


@pytest.fixture(scope="session", params=["python-ecdsa", "c"])
def brainpool(request: pytest.FixtureRequest) -> Curve:
    """brainpoolP256r1 (the BSI worked example's curve) on python-ecdsa's arithmetic (a
    test-only reference) and on OpenSSL's; pycryptodome does not implement the curve."""
    if request.param == "python-ecdsa":
        return BRAINPOOL_P256R1
    return with_arithmetic(BRAINPOOL_P256R1, str(request.param))


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
