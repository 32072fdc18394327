"""Fixtures shared by the test suite."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cityid_card import Credential, IssuerKey, TrustStore, keyfiles

#: SoftHSM2's PKCS#11 module (cityid_card.hsm.DEFAULT_MODULE; not imported here, so the
#: tests that need no token run without python-pkcs11).
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

REPO = Path(__file__).resolve().parent.parent
#: Public test vectors kept in the repository (tests/vectors/SOURCES names their origins).
PUBLIC_VECTORS = REPO / "tests" / "vectors"
ALGORITHMS = ("ES256", "EdDSA")
#: A moment at which the sample credentials are valid.
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


VECTORS = REPO / "specs" / "vectors"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``cityid-card ARGV`` in this process: its exit status, stdout and stderr."""
    from cityid_card.cli import main

    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def load_generator(name: str) -> ModuleType:
    """A vector generator script of specs/vectors/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, VECTORS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: specs/vectors/make_vectors.py, whose ``envelope`` signs deliberately wrong credentials.
vector_generator = load_generator("make_vectors")


def signed_envelope(key: IssuerKey, payload: bytes, protected: Any = None, **parts: Any) -> bytes:
    """A correctly signed COSE_Sign1 with any protected header, unprotected header and payload."""
    return bytes(vector_generator.envelope(key, payload, protected=protected, **parts))


def load_vector_json(relative: str) -> Any:
    """A public test vector file of tests/vectors/, parsed."""
    return json.loads((PUBLIC_VECTORS / relative).read_text(encoding="utf-8"))


def sample_credential(**changes: Any) -> Credential:
    fields: dict[str, Any] = {
        "name": "Ana Sofia Rivera Delgado",
        "date_of_birth": date(1990, 4, 12),
        "issued": date(2026, 11, 21),
        "expires": date(2031, 11, 20),
        "status_index": 4711,
    }
    fields.update(changes)
    return Credential(**fields)


@pytest.fixture(params=ALGORITHMS)
def alg(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def issuer_key(alg: str) -> IssuerKey:
    return IssuerKey.generate(alg, kid=f"CHI-2026-{alg}")  # type: ignore[arg-type]


@pytest.fixture
def trust(issuer_key: IssuerKey) -> TrustStore:
    return TrustStore([issuer_key.public()])


@pytest.fixture
def blob(issuer_key: IssuerKey) -> bytes:
    return issuer_key.issue(sample_credential())


# ---------------------------------------------------------------------------------------
# SoftHSM2: a real PKCS#11 token in software, for the tests that sign in a token.

TOKEN = "cityid-test"
PIN = "8364-2291"
SO_PIN = "so-7730-1184"
OTHER_TOKEN = "second-token"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """SOFTHSM2_CONF for the session: two initialised tokens in a temporary folder."""
    import pkcs11

    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).is_file():
        pytest.fail("SoftHSM2 is missing: ./scripts/test installs it (Debian package softhsm2)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        patch.delenv(keyfiles.PIN_ENV, raising=False)
        patch.delenv(keyfiles.MODULE_ENV, raising=False)
        for label in (TOKEN, OTHER_TOKEN):
            subprocess.run(
                [util, "--init-token", "--free", "--label", label, "--so-pin", SO_PIN,
                 "--pin", PIN],
                check=True, capture_output=True,
            )  # fmt: skip
        # Tokens made by softhsm2-util appear to a module loaded before them only
        # after it is initialised again.
        pkcs11.lib(SOFTHSM_MODULE).reinitialize()
        yield conf
    pkcs11.lib(SOFTHSM_MODULE).reinitialize()


# ---------------------------------------------------------------------------------------
# The two verifier engines: tests that take ``engine_impl`` run against both twins.
#
# Every other test that verifies a credential does so through the default engine, the
# C one when it is built. Those tests carry the ``verifies`` marker, and scripts/test
# runs them a second time with CITYID_CARD_PURE=1 and --engine=python, so that both
# twins pass them all. A module is marked when it verifies credentials through the
# library (verify, Verifier, the CLI, cards, tags, batches, the desk service): the
# modules below and everything under tests/card/, tests/nfc/ and tests/desk/. The
# engine tests (test_engine*.py, test_dates.py) pick both engines themselves and are
# not marked.

VERIFYING_MODULES = frozenset(
    {
        "test_verifier.py",
        "test_status.py",
        "test_vectors.py",
        "test_cose.py",
        "test_cli.py",
        "test_cli_batch.py",
        "test_cli_usability.py",
        "test_batch.py",
        "test_qr.py",
        "test_face.py",
        "test_interop.py",
        "test_hsm.py",
    }
)
VERIFYING_FOLDERS = frozenset({"card", "nfc", "desk"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=("c", "python"),
        default=None,
        help="the engine the default verifier must be in this run (scripts/test's passes)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "verifies: verifies credentials through the default engine (run on both)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = REPO / "tests"
    for item in items:
        if tests not in item.path.parents:
            continue
        relative = item.path.relative_to(tests).parts
        if relative[0] in VERIFYING_FOLDERS or relative[-1] in VERIFYING_MODULES:
            item.add_marker(pytest.mark.verifies)


def pytest_sessionstart(session: pytest.Session) -> None:
    """A pass that names its engine and runs another one stops before any test."""
    import cityid_card

    expected = session.config.getoption("--engine")
    if expected is not None and cityid_card.implementation != expected:
        raise pytest.UsageError(
            f"--engine={expected}, but the default engine is {cityid_card.implementation}"
            " (CITYID_CARD_PURE=1 selects python; the C engine must be built for c)"
        )


ENGINE_IMPLEMENTATIONS = ("python", "c")


def native_import_error() -> str | None:
    """Why ``cityid_card._native`` does not import (the real ImportError), or None."""
    try:
        import cityid_card._native  # noqa: F401
    except ImportError as error:
        return f"{type(error).__name__}: {error}"
    return None


def native_module() -> ModuleType:
    """The C engine's module; skips the test when it is not built, or fails the test
    when CITYID_CARD_REQUIRE_NATIVE=1 (CI), where a missing C engine is a build error."""
    import os

    error = native_import_error()
    if error is not None:
        if os.environ.get("CITYID_CARD_REQUIRE_NATIVE") == "1":
            pytest.fail(f"CITYID_CARD_REQUIRE_NATIVE=1 but the C engine is missing: {error}")
        pytest.skip(f"the C engine is not built: {error}")
    import cityid_card._native

    return cityid_card._native


def engine_factory(implementation: str) -> Any:
    """The Engine class of one twin (``verifier.Engine`` protocol)."""
    if implementation == "c":
        return native_module().Engine
    from cityid_card.verifier import _PythonEngine

    return _PythonEngine


@pytest.fixture(params=ENGINE_IMPLEMENTATIONS)
def engine_impl(request: pytest.FixtureRequest) -> str:
    """The implementation's name; the "c" runs skip (with the import error) when not built."""
    name = str(request.param)
    if name == "c":
        native_module()
    return name
