"""Issuing speed: cards per minute signed with a key in SoftHSM2 and with a key in memory.

Run: ``.venv/bin/python benchmarks/issue.py [--cards N]`` (``./scripts/test`` sets up
.venv and installs SoftHSM2). It makes a throwaway SoftHSM2 token in a temporary
folder, a P-256 and an Ed25519 key inside it and the same two in memory, then times N
calls of ``IssuerKey.issue`` (claims encoding, signing, for a token key the check of
each signature under its public key) for each. Writing cards is not included: that is
the card drivers' part. Each figure is the best of three runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from cityid_card import Credential, IssuerKey
from cityid_card.hsm import DEFAULT_MODULE

PIN = "benchmark-pin"


def make_token(folder: Path) -> None:
    """A throwaway SoftHSM2 token labelled "bench" in ``folder``, for this process."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(DEFAULT_MODULE).is_file():
        raise SystemExit("SoftHSM2 is missing: apt-get install softhsm2 (./scripts/test does)")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(  # noqa: S603 - softhsm2-util from PATH, fixed arguments
        [util, "--init-token", "--free", "--label", "bench", "--so-pin", PIN, "--pin", PIN],
        check=True,
        capture_output=True,
    )


def _cards_per_minute(key: IssuerKey, cards: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for index in range(cards):
            key.issue(
                Credential(
                    name="Ana Sofia Rivera Delgado",
                    date_of_birth=date(1990, 4, 12),
                    issued=date(2026, 11, 21),
                    expires=date(2031, 11, 20),
                    status_index=index,
                )
            )
        best = min(best, time.perf_counter() - start)
    return cards / best * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=1000, help="issues per timing (default 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        make_token(Path(folder))
        print(f"{'key':<28} {'cards per minute':>17} {'ms per card':>12}")
        for alg in ("ES256", "EdDSA"):
            local = IssuerKey.generate(alg)
            with IssuerKey.generate_in_token(
                f"pkcs11:token=bench;object=bench-{alg}", alg, pin=PIN
            ) as token:
                for label, key in ((f"{alg} in memory", local), (f"{alg} in SoftHSM2", token)):
                    rate = _cards_per_minute(key, args.cards)
                    print(f"{label:<28} {rate:>17,.0f} {60_000 / rate:>12.3f}")


if __name__ == "__main__":
    main()
