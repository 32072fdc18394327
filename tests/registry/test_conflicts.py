"""A transaction the database breaks off for another one's sake is run again, not lost."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import exc as sa_exc

from cityid_card.registry import RegistryError
from cityid_card.registry import _store as store


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("ERROR: deadlock detected ... Ana María Quispe")
        self.sqlstate = sqlstate


def _failing(sqlstate: str, failures: int) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    @store._retry_on_conflict
    def operation() -> str:
        calls.append(1)
        with store._db_errors("cannot revoke"):
            if len(calls) <= failures:
                raise sa_exc.OperationalError("UPDATE cards ...", {}, _DriverError(sqlstate))
        return "done"

    return calls, operation


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialisation_failure_is_run_again(
    sqlstate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    calls, operation = _failing(sqlstate, failures=3)
    assert operation() == "done"
    assert len(calls) == 4


def test_a_conflict_that_never_clears_is_a_registry_error_that_quotes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    calls, operation = _failing("40P01", failures=100)
    with pytest.raises(RegistryError) as raised:
        operation()
    assert len(calls) == store._CONFLICT_ATTEMPTS
    assert "Ana" not in str(raised.value) and "UPDATE" not in str(raised.value)


def test_other_database_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    calls, operation = _failing("23505", failures=100)  # unique_violation: a real refusal
    with pytest.raises(RegistryError, match="unreachable or busy"):
        operation()
    assert len(calls) == 1


def test_every_changing_operation_retries() -> None:
    changing = (
        "add_key", "issue", "reserve", "attach_holder", "set_state", "revoke_holder",
        "replace", "purge", "status_list", "lease", "receive_pool", "reclaim", "sync",
        "import_files",
    )  # fmt: skip
    for name in changing:
        assert hasattr(getattr(store.Registry, name), "__wrapped__"), name
