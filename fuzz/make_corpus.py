"""Write the fuzzers' seed corpora (fuzz/corpus/, fuzz/corpus-ec/) from the spec's test vectors.

Run ``.venv/bin/python fuzz/make_corpus.py``; the output is deterministic. Seeds of
fuzz_verify: every credential of specs/vectors/credentials.json (positive and negative)
and its payload (claims) alone, truncations of one credential, and a few Darkyenus CBOR
cases. All of them are test data: no real person's name is in them. Seeds of fuzz_ec
(its input layout is in fuzz/fuzz_ec.c): points of both curves, raw and as scalars,
with edge scalars (0, 1, n - 1, n) and points with a leading zero coordinate.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cityid_card import CredentialError, cose

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
EC_CORPUS = ROOT / "fuzz" / "corpus-ec"
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
    ec_seeds()


def ec_seeds() -> None:
    """fuzz_ec's seeds: header (curve, flags), point or scalar, scalar, addend or scalar."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from cityid_card.eac import P256

    shutil.rmtree(EC_CORPUS, ignore_errors=True)
    EC_CORPUS.mkdir(parents=True)
    raw_point, addend, raw_addend, odd = 1, 2, 4, 8
    n = P256.n
    brainpool_g = (
        ec.derive_private_key(1, ec.BrainpoolP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    zero_x = next(k for k in range(1, 100_000) if P256.public_key(k)[1] == 0)
    zero_y = next(k for k in range(1, 100_000) if P256.public_key(k)[33] == 0)

    def scalar(value: int) -> bytes:
        return value.to_bytes(32, "big")

    seeds = {
        "p256-derived": bytes([0, 0]) + scalar(5) + scalar(7),
        "p256-derived-sum": bytes([0, addend]) + scalar(5) + scalar(7) + scalar(9),
        "p256-identity-sum": bytes([0, addend]) + scalar(5) + scalar(n - 1) + scalar(5),
        "p256-order": bytes([0, 0]) + scalar(5) + scalar(n),
        "p256-zero": bytes([0, addend]) + scalar(5) + scalar(0) + scalar(3),
        "p256-raw-g": bytes([0, raw_point]) + P256.public_key(1) + scalar(n - 2),
        "p256-raw-zero-x": bytes([0, raw_point | addend | raw_addend])
        + P256.public_key(zero_x)
        + scalar(3)
        + P256.public_key(zero_y),
        "p256-odd-scalar": bytes([0, odd]) + scalar(5) + bytes([31]) + scalar(7),
        "brainpool-derived-sum": bytes([1, addend]) + scalar(11) + scalar(13) + scalar(17),
        "brainpool-raw-g": bytes([1, raw_point]) + brainpool_g + scalar(2),
        "p256-point-on-brainpool": bytes([1, raw_point]) + P256.public_key(1) + scalar(2),
        "unknown-curve": bytes([0xFF, 0]) + scalar(1) + scalar(1),
    }
    for name, seed in seeds.items():
        (EC_CORPUS / f"{name}.bin").write_bytes(seed)
    print(f"{len(seeds)} seeds in {EC_CORPUS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
