"""Generate the credential test vectors in this folder from the library's own code.

Run ``python specs/vectors/make_vectors.py`` to rewrite ``credentials.json`` and
``trust.json``. The output is deterministic: the keys come from fixed seeds, ES256
signs per RFC 6979 and Ed25519 is deterministic by design, so the test suite checks
that regenerating gives exactly the checked-in files.

The module also holds ``envelope``, which builds deliberately wrong credentials
(any header, any payload bytes, correctly signed) for the negative vectors and tests.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cityid_card import Credential, IssuerKey, TrustStore, _algorithms, _cbor
from cityid_card.cose import sig_structure
from cityid_card.credential import MIN_DATE

HERE = Path(__file__).resolve().parent
NOW = "2027-06-01"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def p256_key(seed: bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 key whose scalar is ``seed`` mod (n - 1) + 1: for test vectors only."""
    return ec.derive_private_key(
        int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1()
    )


def seeded_key(alg: _algorithms.Algorithm, label: str, **window: date) -> IssuerKey:
    """A private key derived from a public seed: for test vectors only, never for cards."""
    seed = hashlib.sha256(f"cityid-card test vector key {label}".encode()).digest()
    private: _algorithms.PrivateKeyObject
    if alg == "ES256":
        private = p256_key(seed)
    else:
        private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    return IssuerKey(private, kid=label, **window)


def envelope(
    key: IssuerKey,
    payload: bytes,
    *,
    protected: Any = None,
    unprotected: bytes = b"\xa0",
    tagged: bool = False,
) -> bytes:
    """A COSE_Sign1 signed by ``key`` with any (even non-conforming) parts.

    ``protected`` is a header map or raw encoded header bytes; by default the
    profile's ``{1: alg, 4: wire kid}``. ``unprotected`` is raw CBOR.
    """
    if protected is None:
        protected = {1: _algorithms.COSE_ALGORITHM[key.alg], 4: key.public().wire_kid}
    protected_bytes = protected if isinstance(protected, bytes) else _cbor.dumps(protected)
    signature = _algorithms.sign(key._key, sig_structure(protected_bytes, payload))
    body = (
        b"\x84"
        + _cbor.dumps(protected_bytes)
        + unprotected
        + _cbor.dumps(payload)
        + _cbor.dumps(signature)
    )
    return b"\xd2" + body if tagged else body


def claims_bytes(credential: Credential) -> bytes:
    return _cbor.dumps(credential.to_claims())


def _keys() -> dict[str, IssuerKey]:
    return {
        "es256": seeded_key("ES256", "VEC-ES256-1"),
        "eddsa": seeded_key("EdDSA", "VEC-EdDSA-1"),
        "retired": seeded_key(
            "ES256",
            "VEC-ES256-RETIRED",
            valid_from=date(2020, 1, 1),
            valid_until=date(2020, 12, 31),
        ),
    }


BASE = Credential(
    name="Ana Sofia Rivera Delgado",
    date_of_birth=date(1990, 4, 12),
    issued=date(2026, 11, 21),
    expires=date(2031, 11, 20),
    status_index=4_294_967_295,
)


def build() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (credentials.json, trust.json) as JSON-ready objects."""
    keys = _keys()
    es256, eddsa = keys["es256"], keys["eddsa"]
    untrusted = seeded_key("ES256", "VEC-ES256-UNTRUSTED")
    retired_unwindowed = seeded_key("ES256", "VEC-ES256-RETIRED")  # same key, no issuing check
    base_claims = BASE.to_claims()
    vectors: list[tuple[str, str, bytes, str | None, Credential | None]] = []

    def valid(vector_id: str, text: str, key: IssuerKey, credential: Credential) -> None:
        vectors.append((vector_id, text, key.issue(credential), None, credential))

    def invalid(vector_id: str, text: str, blob: bytes, error: str) -> None:
        vectors.append((vector_id, text, blob, error, None))

    valid(
        "es256-worst-case-size", "24-character name, largest status index: 120 bytes", es256, BASE
    )
    valid("eddsa-worst-case-size", "the same claims signed with Ed25519: 120 bytes", eddsa, BASE)
    valid("es256-gender", "with self-designated gender", es256, replace(BASE, gender="X"))
    valid(
        "eddsa-unicode-name",
        "name with non-ASCII letters (NFC), free-text gender",
        eddsa,
        replace(BASE, name="Zoë Ñúñez 李小龍", gender="Two-Spirit", status_index=0),
    )
    valid(
        "es256-extensions",
        "card key and tag UID extensions, no gender (null placeholder)",
        es256,
        replace(
            BASE, card_key=bytes([2]) + bytes(range(32)), tag_uid=bytes.fromhex("04a1b2c3d4e5f6")
        ),
    )
    valid(
        "es256-date-bounds",
        "earliest date of birth the format can hold, expiry on the verification date",
        es256,
        replace(BASE, date_of_birth=MIN_DATE, expires=date(2027, 6, 1)),
    )

    invalid(
        "expired",
        "expired the day before the verification date",
        es256.issue(replace(BASE, issued=date(2022, 1, 1), expires=date(2027, 5, 31))),
        "Expired",
    )
    invalid(
        "not-yet-valid",
        "issued the day after the verification date",
        es256.issue(replace(BASE, issued=date(2027, 6, 2))),
        "NotYetValid",
    )
    invalid(
        "key-not-valid",
        "signed by a key whose issuing window ended in 2020",
        retired_unwindowed.issue(BASE),
        "KeyNotValid",
    )
    invalid(
        "unknown-issuer",
        "signed by a key that is not in the trust store",
        untrusted.issue(BASE),
        "UnknownIssuer",
    )
    flipped = bytearray(es256.issue(BASE))
    flipped[-1] ^= 0x01
    invalid("bad-signature", "last bit of the signature flipped", bytes(flipped), "BadSignature")
    invalid(
        "unsupported-algorithm",
        "protected header names ES384 (-35)",
        envelope(es256, claims_bytes(BASE), protected={1: -35, 4: es256.public().wire_kid}),
        "UnsupportedAlgorithm",
    )
    invalid(
        "tagged",
        "COSE tag 18 in front (the profile is untagged)",
        envelope(es256, claims_bytes(BASE), tagged=True),
        "MalformedCredential",
    )
    invalid(
        "kid-in-unprotected",
        "key id in the unprotected header",
        envelope(
            es256,
            claims_bytes(BASE),
            protected={1: -7},
            unprotected=_cbor.dumps({4: es256.public().wire_kid}),
        ),
        "MalformedCredential",
    )
    invalid(
        "protected-extra-header",
        "content type in the protected header",
        envelope(es256, claims_bytes(BASE), protected={1: -7, 3: 60, 4: es256.public().wire_kid}),
        "MalformedCredential",
    )
    invalid(
        "protected-unsorted",
        "protected header keys out of order",
        envelope(
            es256,
            claims_bytes(BASE),
            protected=b"\xa2\x04\x42" + es256.public().wire_kid + b"\x01\x26",
        ),
        "MalformedCredential",
    )
    invalid(
        "payload-non-shortest-int",
        "status index encoded with a longer head than needed",
        envelope(es256, claims_bytes(replace(BASE, status_index=7))[:-1] + b"\x18\x07"),
        "MalformedCredential",
    )
    invalid(
        "payload-indefinite-array",
        "claims as an indefinite-length array",
        envelope(es256, b"\x9f" + claims_bytes(BASE)[1:] + b"\xff"),
        "MalformedCredential",
    )
    invalid(
        "trailing-byte",
        "a byte after the COSE_Sign1",
        es256.issue(BASE) + b"\x00",
        "MalformedCredential",
    )
    invalid(
        "unknown-claim",
        "a ninth claim (e.g. an address) after the defined ones",
        envelope(es256, _cbor.dumps([*base_claims, "X", {2: b"\x04" * 7}, "221B Baker St"])),
        "UnknownClaim",
    )
    invalid(
        "unknown-extension",
        "an extension label the format does not define",
        envelope(es256, _cbor.dumps([*base_claims, None, {9: b"\x00"}])),
        "UnknownClaim",
    )
    invalid(
        "version-2",
        "format version 2",
        envelope(es256, _cbor.dumps([2, *base_claims[1:]])),
        "UnsupportedVersion",
    )
    invalid(
        "trailing-null-gender",
        "null gender with no extensions after it",
        envelope(es256, _cbor.dumps([*base_claims, None])),
        "MalformedCredential",
    )
    invalid(
        "name-not-nfc",
        "name in decomposed form (NFD)",
        envelope(es256, _cbor.dumps([1, "Zoe\u0308", *base_claims[2:]])),
        "InvalidClaim",
    )
    invalid(
        "name-control-character",
        "newline inside the name",
        envelope(es256, _cbor.dumps([1, "Ana\nRivera", *base_claims[2:]])),
        "InvalidClaim",
    )

    trust = TrustStore(key.public() for key in keys.values())
    entries = []
    for vector_id, text, blob, error, credential in vectors:
        entry: dict[str, Any] = {
            "id": vector_id,
            "description": text,
            "hex": blob.hex(),
            "bytes": len(blob),
            "now": NOW,
        }
        if error is None:
            assert credential is not None
            entry["expected"] = {"valid": True, "claims": claims_json(credential)}
        else:
            entry["expected"] = {"valid": False, "error": error}
        entries.append(entry)
    credentials = {
        "description": "cityid-card credential format v1 test vectors (specs/credential.md). "
        "Verify each 'hex' against trust.json at 'now'; the private keys are derived "
        "from public seeds and must never sign real cards.",
        "keys": [
            {"kid": key.kid, "alg": key.alg, "private_key_pem": key.to_pem().decode()}
            for key in (*keys.values(), untrusted)
        ],
        "vectors": entries,
    }
    return credentials, trust.to_jwks()


def claims_json(credential: Credential) -> dict[str, Any]:
    """Every claim in the credential's field order, dates as YYYY-MM-DD and bytes as hex."""
    values = {field.name: getattr(credential, field.name) for field in fields(credential)}
    return {
        name: value.isoformat() if isinstance(value, date) else
        value.hex() if isinstance(value, bytes) else value
        for name, value in values.items()
    }  # fmt: skip


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    credentials, trust = build()
    (HERE / "credentials.json").write_text(dump(credentials), encoding="utf-8")
    (HERE / "trust.json").write_text(dump(trust), encoding="utf-8")
    print(f"wrote {len(credentials['vectors'])} vectors to {HERE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
