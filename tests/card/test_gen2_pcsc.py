"""The generation-2 command line over real pcscd + vsmartcard-vpcd: personalise, every role.

Here, beside the other PC/SC tests, so that it shares their one pcscd (tests/card/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.gen2.test_cli import GRANTED, city, personalize, verify

from .pcsc_stack import PcscStack

__all__ = ["city"]


def test_over_pcscd_and_vpcd(
    pcsc: PcscStack, city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "served.json"
    serve = subprocess.Popen(
        [sys.executable, "-m", "cityid_card", "sim", "serve", "--vpcd", "127.0.0.1:35963",
         "--state", str(state)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        assert "emulated card" in serve.stdout.readline()
        pcsc.wait_for_card(present=True)
        status, out, err = run_cli(capsys, *personalize(city, "pcsc", "--can", "246810"))
        assert status == 0, err
        for role, keys in GRANTED.items():
            status, out, err = run_cli(capsys, *verify(city, "pcsc:0", "246810", role))
            assert status == 0, out + err
            assert set(json.loads(out)) == keys
        status, out, _ = run_cli(capsys, *verify(city, "pcsc:0", "000000", "library"))
        assert status == 1 and "Ana" not in out
    finally:
        serve.terminate()
        serve.wait(10)
        pcsc.wait_for_card(present=False)
