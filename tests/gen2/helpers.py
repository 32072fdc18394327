"""A city for the generation-2 tests: issuer, CVCA, sector keys, batch and terminals."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.drivers import SimConnection
from cityid_card.eac import P256
from cityid_card.iso7816.gen2 import (
    Batch,
    EmulatedCard,
    Holder,
    TerminalAccess,
    make_batch,
    personalize_gen2,
)
from cityid_card.iso7816.gen2.pki import SECTOR_ROLES, CityPki, make_city_pki
from cityid_card.keys import IssuerKey
from cityid_card.trust import TrustStore

TODAY = date(2027, 1, 15)
HOLDER = Holder("Ana Sofia Rivera Delgado", date(1990, 4, 12), date(2031, 11, 20), "X")
OTHER = Holder("Li Wei", date(2010, 6, 1), date(2026, 12, 31))
CAN = "500540"


def scalar(label: str) -> int:
    digest = hashlib.sha256(f"cityid-card gen2 test {label}".encode()).digest()
    return int.from_bytes(digest, "big") % (P256.n - 1) + 1


def key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(scalar(label), ec.SECP256R1())


@dataclass
class City:
    issuer: IssuerKey
    pki: CityPki
    batch: Batch
    terminals: dict[str, TerminalAccess] = field(default_factory=dict)

    @property
    def cvca_key(self) -> ec.EllipticCurvePrivateKey:
        return self.pki.cvca_key

    @property
    def cvca(self) -> bytes:
        return self.pki.cvca

    @property
    def sectors(self) -> Mapping[str, int]:
        return self.pki.sectors

    @property
    def trust(self) -> TrustStore:
        return TrustStore([self.issuer.public()])

    def terminal(self, role: str, *, age: int | None = None, today: date = TODAY) -> TerminalAccess:
        age = (21 if age is None else age) if role == "age-check" else None
        return self.pki.terminal(role, today, age=age)

    def card(self, holder: Holder = HOLDER, can: str = CAN) -> SimConnection:
        connection = SimConnection(EmulatedCard())
        personalize_gen2(connection, holder, self.batch, can=can, today=date(2026, 12, 1))
        connection.application.reset()
        return connection


def make_city() -> City:
    issuer = IssuerKey.generate("ES256", kid="CHI-2026-1")
    sectors = {role: scalar(f"sector {role}") for role in SECTOR_ROLES}
    pki = make_city_pki("USCHI", date(2026, 11, 1), cvca_key=key("cvca"), sectors=sectors)
    batch = make_batch(pki.cvca, scalar("batch chip key"), issuer)
    return City(issuer, pki, batch)
