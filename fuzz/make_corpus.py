"""Write the fuzzer's seed corpus (fuzz/corpus/) from the spec's test vectors.

Run ``.venv/bin/python fuzz/make_corpus.py``; the output is deterministic. Seeds: every
credential of specs/vectors/credentials.json (positive and negative) and its payload
(claims) alone, truncations of one credential, and a few Darkyenus CBOR cases. All of
them are test data: no real person's name is in them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cityid_card import CredentialError, cose

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
DARKYENUS = ROOT / "tests" / "vectors" / "cbor" / "rfc8949_vectors_darkyenus.json"
TRUNCATIONS = (0, 1, 4, 9, 10, 12, 13, 40, 54, 55, 56, 119)
DARKYENUS_CASES = 24


def main() -> None:
    shutil.rmtree(CORPUS, ignore_errors=True)
    CORPUS.mkdir(parents=True)
    vectors = json.loads((ROOT / "specs/vectors/credentials.json").read_text("utf-8"))
    for vector in vectors["vectors"]:
        blob = bytes.fromhex(vector["hex"])
        (CORPUS / f"vector-{vector['id']}.cbor").write_bytes(blob)
        try:
            payload = cose.Sign1.decode(blob, tagged=False).payload
        except CredentialError:
            continue
        (CORPUS / f"claims-{vector['id']}.cbor").write_bytes(payload)
    reference = bytes.fromhex(vectors["vectors"][0]["hex"])
    for size in TRUNCATIONS:
        (CORPUS / f"truncated-{size:03d}.cbor").write_bytes(reference[:size])
    cases = json.loads(DARKYENUS.read_text("utf-8"))
    invalid = [c for c in cases if "invalid" in c["flags"]]
    valid = [c for c in cases if "valid" in c["flags"]]
    step = len(invalid) // DARKYENUS_CASES
    for number, case in enumerate(invalid[::step][:DARKYENUS_CASES] + valid[::8]):
        (CORPUS / f"darkyenus-{number:02d}.cbor").write_bytes(bytes.fromhex(case["hex"]))
    print(f"{len(list(CORPUS.iterdir()))} seeds in {CORPUS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
