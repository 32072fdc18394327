"""Batch personalisation speed: cards per minute for a batch, SoftHSM2 key against a key file.

Run: ``.venv/bin/python benchmarks/batch.py [--applicants 100] [--repeat 3]``
(``./scripts/test`` sets up .venv and installs SoftHSM2 and the nfc driver). It makes a
throwaway SoftHSM2 token in a temporary folder with a P-256 key inside, and a P-256 key
in a PEM file, then runs :func:`cityid_card.station.run_batch` for the applicants on each
emulated reader with each key, as ``cityid-card batch`` does: the reader's cards
(:class:`~cityid_card.station.ReaderCards`), a status registry and a records file in the
temporary folder, and for every card a status index taken and the registry
saved, the card personalised (chip cards: key pair, credential, read back, verified,
chip authenticated; tags: credential bound to the UID, sealed under a fresh key, the
default, read back, opened and verified), locked, and its record appended and synced.

The emulators answer at once, so the figures are the station's own work (signing,
checking, the files it syncs): the ceiling that a real reader and card lower. Each
figure is the best of --repeat runs; the ratio compares the SoftHSM2 run with the
key-file run on the same reader, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from issue import PIN, make_token  # benchmarks/issue.py: the same throwaway token

from cityid_card import IssuerKey, StatusRegistry, load_key
from cityid_card.station import (
    Applicant,
    BatchOptions,
    LocalClock,
    ReaderCards,
    RecordsFile,
    RegistryFile,
    run_batch,
)

TODAY = date(2027, 6, 1)
READERS = (
    ("contact card", "sim:card"),
    ("NFC tag (NTAG215)", "sim:ntag215"),
    ("contactless card (ISO-DEP)", "sim:isodep"),
)


class FixedDay(LocalClock):
    """The machine's monotonic clock, on the benchmark's fixed issue date."""

    def today(self) -> date:
        return TODAY


@dataclass(frozen=True)
class Row:
    """Cards per minute for one reader and one key."""

    medium: str
    reader: str
    key: str
    cards_per_minute: float
    #: Against the key-file run on the same reader.
    ratio: float


def applicants(count: int) -> list[Applicant]:
    """Made-up applicants, with names and birthdays as long as real ones."""
    return [
        Applicant(
            row,
            f"Benchmark Applicant Number {row:05d}",
            date(1970, 1, 1) + timedelta(days=row * 7),
            date(2032, 5, 31),
        )
        for row in range(1, count + 1)
    ]


def cards_per_minute(
    key: IssuerKey, reader: str, people: list[Applicant], folder: Path, repeat: int
) -> float:
    """The best rate of ``repeat`` batches, each with a new registry and records file."""
    best = float("inf")
    for attempt in range(repeat):
        station = Path(tempfile.mkdtemp(prefix=f"{attempt}-", dir=folder))
        registry = station / "registry.json"
        StatusRegistry.for_key(key, 2**16).save(registry)
        clock = FixedDay()
        start = time.perf_counter()
        with RecordsFile(station / "issued.jsonl") as records:
            result = run_batch(
                people,
                key,
                ReaderCards(reader),
                clock=clock,
                sleep=time.sleep,
                records=records,
                indexes=RegistryFile(registry, key),
                options=BatchOptions(lock=True, wait=0),
            )
        elapsed = time.perf_counter() - start
        if not result.ok:
            raise SystemExit(f"the batch on {reader} did not finish: {result}")
        best = min(best, elapsed)
    return len(people) / best * 60


def run(
    file_key: IssuerKey, token_key: IssuerKey, count: int, repeat: int, folder: Path
) -> list[Row]:
    """Every reader with the key file, then with the SoftHSM2 key."""
    people = applicants(count)
    rows = []
    for medium, reader in READERS:
        cards_per_minute(file_key, reader, people[:1], folder, 1)  # imports, caches: not timed
        base = cards_per_minute(file_key, reader, people, folder, repeat)
        token = cards_per_minute(token_key, reader, people, folder, repeat)
        rows.append(Row(medium, reader, "ES256, PEM file", base, 1.0))
        rows.append(Row(medium, reader, "ES256, SoftHSM2", token, token / base))
    return rows


def table(rows: list[Row], count: int) -> str:
    lines = [
        f"Batches of {count} applicants, each card locked; best of the runs.",
        "",
        "| medium | reader | key | cards per minute | ms per card | vs PEM file |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.medium} | `{row.reader}` | {row.key} | {row.cards_per_minute:,.0f} | "
            f"{60_000 / row.cards_per_minute:.2f} | {row.ratio:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applicants", type=int, default=100, help="cards per batch (100)")
    parser.add_argument("--repeat", type=int, default=3, help="batches per figure (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_token(folder)
        pem = folder / "issuer.pem"
        pem.write_bytes(IssuerKey.generate("ES256").to_pem())
        file_key = load_key(pem)  # read back, as a station reads its key file
        with IssuerKey.generate_in_token(
            "pkcs11:token=bench;object=batch", "ES256", pin=PIN
        ) as token_key:
            rows = run(file_key, token_key, args.applicants, args.repeat, folder)
    print(table(rows, args.applicants))


if __name__ == "__main__":
    main()
