"""A test PKI: a city CVCA, a DV and a terminal, with keys derived from public seeds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac import P256, cvc
from cityid_card.eac.cvc import Chat, Rights, Role

EFFECTIVE = date(2026, 12, 1)
TODAY = date(2027, 1, 15)
ALL_RIGHTS = int(
    Rights.AGE_VERIFICATION
    | Rights.RESTRICTED_IDENTIFICATION
    | Rights.READ_EXPIRY
    | Rights.READ_NAME
    | Rights.READ_DATE_OF_BIRTH
    | Rights.READ_GENDER
    | Rights.VALIDITY
)
LIBRARY = int(Rights.READ_NAME | Rights.READ_EXPIRY | Rights.RESTRICTED_IDENTIFICATION)


def seeded_key(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from a public seed: for tests only."""
    seed = int.from_bytes(hashlib.sha256(f"cityid-card eac test key {label}".encode()).digest())
    return ec.derive_private_key(seed % (P256.n - 1) + 1, ec.SECP256R1())


def public(key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    return P256.encode_point((numbers.x, numbers.y))


@dataclass(frozen=True)
class Pki:
    cvca_key: ec.EllipticCurvePrivateKey
    cvca: bytes
    dv_key: ec.EllipticCurvePrivateKey
    dv: bytes
    terminal_key: ec.EllipticCurvePrivateKey
    terminal: bytes


def cvca_certificate(
    key: ec.EllipticCurvePrivateKey,
    chr_: str,
    signer: ec.EllipticCurvePrivateKey | None = None,
    car: str | None = None,
    effective: date = EFFECTIVE,
    expires: date = date(2030, 12, 1),
) -> bytes:
    """A self-signed CVCA certificate, or a link certificate when ``signer`` is the old key."""
    body = cvc.CertificateBody(
        car=car or chr_,
        public_key=public(key),
        chr=chr_,
        chat=Chat(Role.CVCA, ALL_RIGHTS),
        effective=effective,
        expires=expires,
        domain_parameters=True,
    )
    return cvc.sign_certificate(body, signer or key)


def make_pki(
    terminal_rights: int = LIBRARY,
    dv_rights: int = ALL_RIGHTS,
    terminal_expires: date = date(2027, 3, 1),
    extensions: tuple[tuple[str, bytes], ...] = (),
    label: str = "",
) -> Pki:
    cvca_key, dv_key, terminal_key = (seeded_key(f"{n}{label}") for n in ("cvca", "dv", "t"))
    cvca = cvca_certificate(cvca_key, "USCHICVCA00001")
    dv = cvc.sign_certificate(
        cvc.CertificateBody(
            "USCHICVCA00001",
            public(dv_key),
            "USCHIDVLIB00001",
            Chat(Role.DV_DOMESTIC, dv_rights),
            EFFECTIVE,
            date(2028, 12, 1),
        ),
        cvca_key,
    )
    terminal = cvc.sign_certificate(
        cvc.CertificateBody(
            "USCHIDVLIB00001",
            public(terminal_key),
            "USCHILIBDSK00001",
            Chat(Role.TERMINAL, terminal_rights),
            EFFECTIVE,
            terminal_expires,
            extensions=extensions,
        ),
        dv_key,
    )
    return Pki(cvca_key, cvca, dv_key, dv, terminal_key, terminal)
