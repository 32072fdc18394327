"""The city's terminal PKI for generation-2 cards: CVCA, document verifiers, terminals.

Pure: keys and dates come in, certificates (TR-03110-3 encoding, :mod:`cityid_card.eac.cvc`)
come out; ``cityid-card pki`` keeps them in files. One document verifier per kind of
service (role), one sector key pair per service that gets pseudonyms, so that the
pseudonyms of two services never match. The roles and their rights are those of
issue 11 (:data:`ROLES`); age-check terminals carry the age they check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac import P256, cvc, ri
from cityid_card.eac.cvc import Chat, Rights, Role
from cityid_card.eac.errors import EacEncodingError

from .terminal import TerminalAccess

__all__ = [
    "ALL_RIGHTS",
    "CVCA_DAYS",
    "DV_DAYS",
    "ROLES",
    "SECTOR_ROLES",
    "TERMINAL_DAYS",
    "CityPki",
    "TerminalChain",
    "link_certificate",
    "make_city_pki",
    "make_cvca",
    "make_terminal",
    "public_point",
    "references",
    "role_rights",
]

#: The rights of each role (specs/eac.md 6.2, issue 11).
ROLES: Mapping[str, Rights] = cvc.SERVICE_RIGHTS
#: The roles that learn a pseudonym, each in its own sector.
SECTOR_ROLES = tuple(
    role for role, rights in ROLES.items() if rights & Rights.RESTRICTED_IDENTIFICATION
)
ALL_RIGHTS = Rights(0)
for _rights in ROLES.values():
    ALL_RIGHTS |= _rights
ALL_RIGHTS |= Rights.VALIDITY

#: How long each certificate is valid: the CVCA three years, a DV one year, a terminal
#: 30 days (a stolen terminal stops working within a month; an age-check terminal can
#: ask about the days of its window only, specs/card-application.md v2 section 7).
CVCA_DAYS = 3 * 365
DV_DAYS = 365
TERMINAL_DAYS = 30

_MNEMONICS = {
    "library": "LIB",
    "transit": "TRN",
    "museum": "MUS",
    "age-check": "AGE",
    "benefits": "BEN",
}


def role_rights(role: str) -> Rights:
    """The rights of ``role``; EacEncodingError for an unknown role."""
    try:
        return ROLES[role]
    except KeyError:
        raise EacEncodingError("unknown role: " + ", ".join(ROLES) + " are known") from None


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The uncompressed P-256 public key of ``key``."""
    return P256.public_key(key.private_numbers().private_value)


def references(holder: str, role: str, sequence: int) -> tuple[str, str]:
    """The CHRs of the DV and the terminal of ``role``: ``holder`` + mnemonic + number."""
    mnemonic = _MNEMONICS[role]
    number = f"{sequence:05d}"
    return f"{holder}DV{mnemonic}{number}"[:16], f"{holder}{mnemonic}T{number}"[:16]


def make_cvca(
    key: ec.EllipticCurvePrivateKey, chr_: str, today: date, days: int = CVCA_DAYS
) -> bytes:
    """The self-signed CVCA certificate of the city root (all rights of the profile)."""
    return cvc.sign_certificate(_cvca_body(chr_, key, chr_, today, days), key)


def link_certificate(
    old_key: ec.EllipticCurvePrivateKey,
    old_chr: str,
    new_key: ec.EllipticCurvePrivateKey,
    new_chr: str,
    today: date,
    days: int = CVCA_DAYS,
) -> tuple[bytes, bytes]:
    """A CVCA rollover: (the link certificate signed by the old key, the new self-signed one)."""
    link = cvc.sign_certificate(_cvca_body(old_chr, new_key, new_chr, today, days), old_key)
    return link, make_cvca(new_key, new_chr, today, days)


def _cvca_body(
    authority: str, key: ec.EllipticCurvePrivateKey, holder: str, today: date, days: int
) -> cvc.CertificateBody:
    """A CVCA certificate's body for ``key``, issued by the root named ``authority``."""
    return cvc.CertificateBody(
        authority,
        public_point(key),
        holder,
        Chat(Role.CVCA, int(ALL_RIGHTS)),
        today,
        today + timedelta(days=days),
        domain_parameters=True,
    )


@dataclass(frozen=True)
class TerminalChain:
    """A DV and a terminal certificate for one role, with the terminal's private key."""

    role: str
    dv_certificate: bytes = field(repr=False)
    terminal_certificate: bytes = field(repr=False)
    terminal_key: ec.EllipticCurvePrivateKey = field(repr=False)
    dv_key: ec.EllipticCurvePrivateKey = field(repr=False)


def make_terminal(
    cvca_key: ec.EllipticCurvePrivateKey,
    cvca_chr: str,
    role: str,
    today: date,
    *,
    holder: str,
    sequence: int = 1,
    sector_public_key: bytes | None = None,
    dv_key: ec.EllipticCurvePrivateKey | None = None,
    terminal_key: ec.EllipticCurvePrivateKey | None = None,
    terminal_days: int = TERMINAL_DAYS,
) -> TerminalChain:
    """A DV certificate for ``role`` under the CVCA and a terminal certificate under it.

    A role with restricted identification needs its sector's public key, named in the
    terminal certificate (the card answers no other sector).
    """
    rights = role_rights(role)
    if bool(rights & Rights.RESTRICTED_IDENTIFICATION) != (sector_public_key is not None):
        raise EacEncodingError("a sector key is given exactly for the roles with pseudonyms")
    dv_key = dv_key or ec.generate_private_key(ec.SECP256R1())
    terminal_key = terminal_key or ec.generate_private_key(ec.SECP256R1())
    dv_chr, terminal_chr = references(holder, role, sequence)
    dv_body = cvc.CertificateBody(
        cvca_chr,
        public_point(dv_key),
        dv_chr,
        Chat(Role.DV_DOMESTIC, int(rights)),
        today,
        today + timedelta(days=DV_DAYS),
    )
    extensions = (
        (cvc.sector_extension(ri.sector_public_key_object(sector_public_key)),)
        if sector_public_key is not None
        else ()
    )
    terminal_body = cvc.CertificateBody(
        dv_chr,
        public_point(terminal_key),
        terminal_chr,
        Chat(Role.TERMINAL, int(rights)),
        today,
        today + timedelta(days=terminal_days),
        extensions=extensions,
    )
    return TerminalChain(
        role,
        cvc.sign_certificate(dv_body, cvca_key),
        cvc.sign_certificate(terminal_body, dv_key),
        terminal_key,
        dv_key,
    )


@dataclass(frozen=True)
class CityPki:
    """A city's terminal PKI in memory: the CVCA's key and certificate, the sector keys.

    ``cityid-card pki`` keeps the same in a directory; the demo and the tests keep it
    here. :meth:`terminal` certifies a terminal for a role under it.
    """

    holder: str
    cvca_chr: str
    cvca_key: ec.EllipticCurvePrivateKey = field(repr=False)
    cvca: bytes = field(repr=False)
    #: The private scalar of each role with pseudonyms (:data:`SECTOR_ROLES`).
    sectors: Mapping[str, int] = field(repr=False)

    def sector_public_key(self, role: str) -> bytes | None:
        """The public key of ``role``'s sector; None for a role without pseudonyms."""
        sector = self.sectors.get(role)
        return None if sector is None else P256.public_key(sector)

    def terminal(
        self,
        role: str,
        today: date,
        *,
        age: int | None = None,
        sequence: int = 1,
        link_certificates: tuple[bytes, ...] = (),
    ) -> TerminalAccess:
        """A fresh DV and terminal for ``role`` (:func:`make_terminal`), as a terminal holds them.

        ``age`` is the age an age-check terminal asks about: given exactly for the roles
        with the age verification right (EacEncodingError otherwise).
        """
        checks_age = bool(role_rights(role) & Rights.AGE_VERIFICATION)
        if checks_age != (age is not None):
            raise EacEncodingError("an age is given exactly for the roles that check an age")
        sector_public = self.sector_public_key(role)
        chain = make_terminal(
            self.cvca_key,
            self.cvca_chr,
            role,
            today,
            holder=self.holder,
            sequence=sequence,
            sector_public_key=sector_public,
        )
        return TerminalAccess(
            role,
            chain.dv_certificate,
            chain.terminal_certificate,
            chain.terminal_key,
            sector_public_key=sector_public,
            age=age,
            link_certificates=link_certificates,
        )


def make_city_pki(
    holder: str,
    today: date,
    *,
    cvca_key: ec.EllipticCurvePrivateKey | None = None,
    sectors: Mapping[str, int] | None = None,
) -> CityPki:
    """A city root ``<holder>CVCA00001`` effective ``today``, fresh keys unless given.

    ``holder`` is the country code and city mnemonic of the certificate references
    (e.g. ``USCHI``); the sector keys, if given, cover every role of :data:`SECTOR_ROLES`.
    """
    cvca_key = cvca_key or ec.generate_private_key(ec.SECP256R1())
    if sectors is None:
        sectors = {role: P256.random_scalar() for role in SECTOR_ROLES}
    if set(sectors) != set(SECTOR_ROLES):
        raise EacEncodingError("a sector key is given for each role with pseudonyms")
    chr_ = f"{holder}CVCA00001"
    return CityPki(holder, chr_, cvca_key, make_cvca(cvca_key, chr_, today), dict(sectors))
