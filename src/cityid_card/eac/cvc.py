"""Card-verifiable certificates of BSI TR-03110-3 (appendices C and D), ECDSA P-256.

A certificate is ``7F21 { 7F4E body, 5F37 signature }``; the body holds, in this order,
``5F29`` profile identifier (00), ``42`` certification authority reference (CAR),
``7F49`` public key, ``5F20`` certificate holder reference (CHR), ``7F4C`` certificate
holder authorization template (CHAT), ``5F25`` effective date, ``5F24`` expiration date
and optionally ``65`` extensions. The signature is ECDSA with SHA-256 over the encoded
body, plain ``r || s`` (BSI TR-03111), and the public key carries the algorithm
``id-TA-ECDSA-SHA-256``. A city's PKI is a root (CVCA), one document verifier (DV) per
kind of service, and terminal certificates; the CVCA rolls its key over with link
certificates (a new CVCA certificate signed by the old key).

Parsing is strict: one encoding per certificate, everything checked before a value is
returned. Dates are calendar dates compared with an explicit ``today``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, IntFlag
from types import MappingProxyType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cityid_card.eac import tlv
from cityid_card.eac.curve import P256
from cityid_card.eac.errors import (
    CertificateChainError,
    CertificateDateError,
    CertificateSignatureError,
    EacEncodingError,
)

__all__ = [
    "ID_AT",
    "ID_SECTOR",
    "ID_TA_ECDSA_SHA_256",
    "SERVICE_RIGHTS",
    "Certificate",
    "CertificateBody",
    "Chat",
    "Rights",
    "Role",
    "TrustPoint",
    "VerifiedTerminal",
    "check_reference",
    "import_link_certificate",
    "parse_certificate",
    "sector_allowed",
    "sector_extension",
    "sign_certificate",
    "verify_chain",
    "verify_signature",
    "verify_terminal",
]

ID_TA_ECDSA_SHA_256 = "0.4.0.127.0.7.2.2.2.2.3"
"""bsi-de protocols(2) smartcard(2) ta(2) ecdsa(2) sha256(3)."""
ID_AT = "0.4.0.127.0.7.3.1.2.2"
"""Terminal type Authentication Terminal (TR-03110-4 2.2.3): the CHAT layout used here."""
ID_SECTOR = "0.4.0.127.0.7.3.1.3.2"
"""Certificate extension: terminal sector for Restricted Identification (TR-03110-3 C.3.2.1)."""

_RIGHTS_LENGTH = 5
_PROFILE_IDENTIFIER = b"\x00"


class Role(IntEnum):
    """The two most significant bits of the rights bitmap."""

    TERMINAL = 0
    DV_FOREIGN = 1
    DV_DOMESTIC = 2
    CVCA = 3


class Rights(IntFlag):
    """The Authentication Terminal rights bits (TR-03110-4 2.2.3.2) this profile uses.

    Bit 29 is RFU in TR-03110-4; the profile assigns it to the document validity
    predicate, which eID grants to every terminal without a right (see specs/eac.md).
    """

    AGE_VERIFICATION = 1 << 0
    RESTRICTED_IDENTIFICATION = 1 << 2
    READ_EXPIRY = 1 << (8 + 2)  # read DG3, date of expiry
    READ_NAME = 1 << (8 + 3)  # read DG4
    READ_DATE_OF_BIRTH = 1 << (8 + 7)  # read DG8
    READ_GENDER = 1 << (8 + 10)  # read DG11
    VALIDITY = 1 << 29


SERVICE_RIGHTS: Mapping[str, Rights] = MappingProxyType(
    {
        "library": Rights.READ_NAME | Rights.READ_EXPIRY | Rights.RESTRICTED_IDENTIFICATION,
        "transit": Rights.VALIDITY | Rights.RESTRICTED_IDENTIFICATION,
        "museum": Rights.VALIDITY | Rights.RESTRICTED_IDENTIFICATION,
        "age-check": Rights.AGE_VERIFICATION,
        "benefits": Rights.READ_NAME
        | Rights.READ_DATE_OF_BIRTH
        | Rights.READ_GENDER
        | Rights.READ_EXPIRY,
    }
)
"""The rights of each kind of service of issue 11 (specs/eac.md 6.2), for DV and terminal
certificates; the age and the sector are not rights but auxiliary data and a sector key."""

_ROLE_SHIFT = 8 * _RIGHTS_LENGTH - 2
_RIGHTS_MASK = (1 << _ROLE_SHIFT) - 1


@dataclass(frozen=True)
class Chat:
    """Certificate holder authorization template: terminal type and rights bitmap."""

    role: Role
    rights: int = 0
    """The 38 rights bits (role bits excluded); :class:`Rights` names the ones in use."""
    terminal_type: str = ID_AT

    def __post_init__(self) -> None:
        if not 0 <= self.rights <= _RIGHTS_MASK:
            raise EacEncodingError("rights bitmap outside its 38 bits")

    def encode(self) -> bytes:
        """``7F4C { 06 terminal type, 53 bitmap }``, the bitmap 5 bytes big-endian."""
        bitmap = ((int(self.role) << _ROLE_SHIFT) | self.rights).to_bytes(_RIGHTS_LENGTH, "big")
        return tlv.encode(
            0x7F4C, [tlv.encode(0x06, tlv.encode_oid(self.terminal_type)), tlv.encode(0x53, bitmap)]
        )

    @classmethod
    def decode(cls, data: bytes) -> Chat:
        """Parse an encoded ``7F4C`` CHAT (the terminal type must be Authentication Terminal)."""
        parts = tlv.fields(tlv.expect(data, 0x7F4C), [(0x06, True), (0x53, True)], "CHAT")
        terminal_type = tlv.decode_oid(parts[0x06])
        if terminal_type != ID_AT:
            raise EacEncodingError("CHAT terminal type is not Authentication Terminal")
        if len(parts[0x53]) != _RIGHTS_LENGTH:
            raise EacEncodingError("CHAT rights bitmap is not 5 bytes")
        value = int.from_bytes(parts[0x53], "big")
        return cls(Role(value >> _ROLE_SHIFT), value & _RIGHTS_MASK, terminal_type)


def _encode_date(day: date) -> bytes:
    if not 2000 <= day.year <= 2099:
        raise EacEncodingError("certificate dates lie in 2000 to 2099")
    return bytes(int(digit) for digit in day.strftime("%y%m%d"))


def _decode_date(data: bytes) -> date:
    if len(data) != 6 or any(byte > 9 for byte in data):
        raise EacEncodingError("certificate date is not six unpacked BCD digits")
    year, month, day = (data[i] * 10 + data[i + 1] for i in (0, 2, 4))
    try:
        return date(2000 + year, month, day)
    except ValueError:
        raise EacEncodingError("certificate date is not a calendar date") from None


def check_reference(reference: str) -> bytes:
    """A CAR or CHR as bytes: 1 to 16 printable ASCII characters (TR-03110-3 A.6.1)."""
    if not (1 <= len(reference) <= 16 and reference.isascii() and reference.isprintable()):
        raise EacEncodingError("certificate reference is not 1 to 16 printable characters")
    return reference.encode("ascii")


def _decode_reference(data: bytes) -> str:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise EacEncodingError("certificate reference is not printable ASCII") from None
    check_reference(text)
    return text


_DOMAIN_PARAMETERS = (
    (0x81, P256.p),
    (0x82, P256.a),
    (0x83, P256.b),
    (0x84, None),
    (0x85, P256.n),
)


def _encode_public_key(point: bytes, with_domain_parameters: bool) -> bytes:
    P256.decode_point(point)
    parts = [tlv.encode(0x06, tlv.encode_oid(ID_TA_ECDSA_SHA_256))]
    if with_domain_parameters:
        for tag, value in _DOMAIN_PARAMETERS:
            content = (
                P256.encode_point(P256.generator) if value is None else tlv.encode_unsigned(value)
            )
            parts.append(tlv.encode(tag, content))
    parts.append(tlv.encode(0x86, point))
    if with_domain_parameters:
        parts.append(tlv.encode(0x87, tlv.encode_unsigned(P256.cofactor)))
    return tlv.encode(0x7F49, parts)


def _decode_public_key(data: bytes) -> tuple[bytes, bool]:
    spec = (
        [(0x06, True)]
        + [(tag, False) for tag, _ in _DOMAIN_PARAMETERS]
        + [(0x86, True), (0x87, False)]
    )
    parts = tlv.fields(tlv.expect(data, 0x7F49), spec, "certificate public key")
    if tlv.decode_oid(parts[0x06]) != ID_TA_ECDSA_SHA_256:
        raise EacEncodingError("certificate key algorithm is not id-TA-ECDSA-SHA-256")
    present = [tag for tag in (0x81, 0x82, 0x83, 0x84, 0x85, 0x87) if tag in parts]
    if present and len(present) != 6:
        raise EacEncodingError("certificate domain parameters are incomplete")
    for tag, value in _DOMAIN_PARAMETERS if present else ():
        expected = (
            P256.encode_point(P256.generator) if value is None else tlv.encode_unsigned(value)
        )
        if parts[tag] != expected:
            raise EacEncodingError("certificate domain parameters are not P-256")
    if present and parts[0x87] != b"\x01":
        raise EacEncodingError("certificate domain parameters are not P-256")
    P256.decode_point(parts[0x86])
    return parts[0x86], bool(present)


@dataclass(frozen=True)
class CertificateBody:
    """The signed content of a card-verifiable certificate."""

    car: str
    public_key: bytes
    """The holder's P-256 public key, uncompressed."""
    chr: str
    chat: Chat
    effective: date
    expires: date
    domain_parameters: bool = False
    """Whether the key carries the curve's domain parameters (always, for a CVCA)."""
    extensions: tuple[tuple[str, bytes], ...] = ()
    """Discretionary data templates ``73 { 06 OID, content }`` as (OID, content)."""

    def encode(self) -> bytes:
        """The ``7F4E`` body, the bytes the issuer signs."""
        if self.expires < self.effective:
            raise EacEncodingError("certificate expires before it becomes effective")
        parts = [
            tlv.encode(0x5F29, _PROFILE_IDENTIFIER),
            tlv.encode(0x42, check_reference(self.car)),
            _encode_public_key(self.public_key, self.domain_parameters),
            tlv.encode(0x5F20, check_reference(self.chr)),
            self.chat.encode(),
            tlv.encode(0x5F25, _encode_date(self.effective)),
            tlv.encode(0x5F24, _encode_date(self.expires)),
        ]
        if self.extensions:
            parts.append(
                tlv.encode(
                    0x65,
                    [
                        tlv.encode(0x73, tlv.encode(0x06, tlv.encode_oid(oid)) + content)
                        for oid, content in self.extensions
                    ],
                )
            )
        return tlv.encode(0x7F4E, parts)


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate: its body, the exact bytes signed and the plain signature."""

    body: CertificateBody
    body_bytes: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    encoded: bytes = field(repr=False)

    @property
    def role(self) -> Role:
        return self.body.chat.role


def _plain_signature(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(P256.size, "big") + s.to_bytes(P256.size, "big")


def sign_certificate(body: CertificateBody, issuer_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Encode and sign ``body`` with the issuer's P-256 key; returns the ``7F21`` bytes.

    The signature is deterministic (RFC 6979), so the same body and key give the same bytes.
    """
    if not isinstance(issuer_key.curve, ec.SECP256R1):
        raise EacEncodingError("the issuer key is not a P-256 key")
    if body.chat.role is Role.CVCA and not body.domain_parameters:
        raise EacEncodingError("a CVCA certificate carries the domain parameters")
    body_bytes = body.encode()
    # Deterministic ECDSA (RFC 6979): no signing-time randomness to fail, reproducible vectors.
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    signature = _plain_signature(issuer_key.sign(body_bytes, algorithm))
    return tlv.encode(0x7F21, body_bytes + tlv.encode(0x5F37, signature))


def _decode_extensions(data: bytes) -> tuple[tuple[str, bytes], ...]:
    extensions: list[tuple[str, bytes]] = []
    for tag, template in tlv.decode_all(data):
        if tag != 0x73:
            raise EacEncodingError("certificate extension is not a discretionary data template")
        oid_tag, oid, end = tlv.decode_one(template)
        if oid_tag != 0x06:
            raise EacEncodingError("certificate extension does not start with its OID")
        extensions.append((tlv.decode_oid(oid), template[end:]))
    if not extensions:
        raise EacEncodingError("empty certificate extensions")
    return tuple(extensions)


def parse_certificate(data: bytes) -> Certificate:
    """Parse one certificate strictly (raises :class:`EacEncodingError`)."""
    outer = tlv.fields(tlv.expect(data, 0x7F21), [(0x7F4E, True), (0x5F37, True)], "certificate")
    body_bytes = tlv.encode(0x7F4E, outer[0x7F4E])
    spec = [
        (0x5F29, True),
        (0x42, True),
        (0x7F49, True),
        (0x5F20, True),
        (0x7F4C, True),
        (0x5F25, True),
        (0x5F24, True),
        (0x65, False),
    ]
    parts = tlv.fields(outer[0x7F4E], spec, "certificate body")
    if parts[0x5F29] != _PROFILE_IDENTIFIER:
        raise EacEncodingError("certificate profile identifier is not 00")
    public_key, domain_parameters = _decode_public_key(tlv.encode(0x7F49, parts[0x7F49]))
    body = CertificateBody(
        car=_decode_reference(parts[0x42]),
        public_key=public_key,
        chr=_decode_reference(parts[0x5F20]),
        chat=Chat.decode(tlv.encode(0x7F4C, parts[0x7F4C])),
        effective=_decode_date(parts[0x5F25]),
        expires=_decode_date(parts[0x5F24]),
        domain_parameters=domain_parameters,
        extensions=_decode_extensions(parts[0x65]) if 0x65 in parts else (),
    )
    if body.expires < body.effective:
        raise EacEncodingError("certificate expires before it becomes effective")
    if body.chat.role is Role.CVCA and not domain_parameters:
        raise EacEncodingError("a CVCA certificate carries the domain parameters")
    if len(outer[0x5F37]) != 2 * P256.size:
        raise EacEncodingError("certificate signature is not a plain P-256 signature")
    return Certificate(body, body_bytes, outer[0x5F37], bytes(data))


def verify_signature(certificate: Certificate, issuer_public_key: bytes) -> None:
    """Check the certificate's signature under the issuer's public key (uncompressed)."""
    P256.decode_point(issuer_public_key)
    key = ec.EllipticCurvePublicKey.from_encoded_point(P256.pyca, issuer_public_key)
    r = int.from_bytes(certificate.signature[: P256.size], "big")
    s = int.from_bytes(certificate.signature[P256.size :], "big")
    if not (0 < r < P256.n and 0 < s < P256.n):
        raise CertificateSignatureError("certificate signature does not verify")
    try:
        key.verify(encode_dss_signature(r, s), certificate.body_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CertificateSignatureError("certificate signature does not verify") from None


@dataclass(frozen=True)
class TrustPoint:
    """What a card stores of its root: the CVCA's reference, key, rights and expiry."""

    chr: str
    public_key: bytes
    chat: Chat
    expires: date

    @classmethod
    def from_certificate(cls, certificate: Certificate) -> TrustPoint:
        """The trust point of a CVCA certificate (self-signed or link)."""
        if certificate.role is not Role.CVCA:
            raise CertificateChainError("a trust point comes from a CVCA certificate")
        body = certificate.body
        return cls(body.chr, body.public_key, body.chat, body.expires)


@dataclass(frozen=True)
class VerifiedTerminal:
    """The result of a verified chain: the terminal's key and its effective rights."""

    chr: str
    public_key: bytes
    rights: int
    """The AND of the rights of the CVCA, the DV and the terminal certificate."""
    sector_hashes: tuple[bytes, ...]
    """SHA-256 hashes of the sector public keys the terminal may use for RI."""


def _check_dates(certificate: Certificate, today: date) -> None:
    if today < certificate.body.effective:
        raise CertificateDateError("certificate is not yet effective")
    if today > certificate.body.expires:
        raise CertificateDateError("certificate has expired")


def import_link_certificate(trust_point: TrustPoint, data: bytes) -> TrustPoint:
    """Card: verify a CVCA link certificate against the current trust point; the new one.

    The link certificate's CAR must name the current trust point and its signature must
    verify under the current CVCA key. Its dates are not compared with today: a card
    that missed rollovers catches up with expired link certificates (TR-03110-3 2.5).
    """
    certificate = parse_certificate(data)
    if certificate.role is not Role.CVCA:
        raise CertificateChainError("a link certificate is a CVCA certificate")
    if certificate.body.car != trust_point.chr:
        raise CertificateChainError("link certificate does not name the current trust point")
    verify_signature(certificate, trust_point.public_key)
    return TrustPoint.from_certificate(certificate)


def verify_chain(
    trust_point: TrustPoint, certificates: Sequence[bytes], today: date
) -> VerifiedTerminal:
    """Card: verify ``[DV certificate, terminal certificate]`` under the trust point.

    Each certificate's CAR must name its issuer, its signature must verify under the
    issuer's key, it must be effective and not expired on ``today``, and the roles must
    run CVCA -> DV -> terminal. Link certificates go through
    :func:`import_link_certificate` first.
    """
    if len(certificates) != 2:
        raise CertificateChainError("a chain is a DV certificate and a terminal certificate")
    dv = parse_certificate(certificates[0])
    if dv.role in (Role.DV_DOMESTIC, Role.DV_FOREIGN) and dv.body.car == trust_point.chr:
        verify_signature(dv, trust_point.public_key)
    return verify_terminal(trust_point, dv, certificates[1], today)


def verify_terminal(
    trust_point: TrustPoint, dv: Certificate, terminal_certificate: bytes, today: date
) -> VerifiedTerminal:
    """Card: the second step of :func:`verify_chain`, for a DV certificate whose signature
    the card checked when it received it (PSO:VERIFY CERTIFICATE takes one at a time):
    the roles, names and dates of both, and the terminal certificate's signature.
    """
    if today > trust_point.expires:
        raise CertificateDateError("the trust point has expired")
    terminal = parse_certificate(terminal_certificate)
    if dv.role not in (Role.DV_DOMESTIC, Role.DV_FOREIGN) or terminal.role is not Role.TERMINAL:
        raise CertificateChainError("certificate roles do not run CVCA, DV, terminal")
    if dv.body.car != trust_point.chr or terminal.body.car != dv.body.chr:
        raise CertificateChainError("certificate does not name its issuer")
    verify_signature(terminal, dv.body.public_key)
    for certificate in (dv, terminal):
        _check_dates(certificate, today)
    rights = trust_point.chat.rights & dv.body.chat.rights & terminal.body.chat.rights
    return VerifiedTerminal(
        terminal.body.chr, terminal.body.public_key, rights, _sector_hashes(terminal)
    )


def sector_extension(*sector_public_key_objects: bytes) -> tuple[str, bytes]:
    """The terminal sector extension: ``80``/``81`` SHA-256 of sector public key objects."""
    if not 1 <= len(sector_public_key_objects) <= 2:
        raise EacEncodingError("a terminal names one or two sector public keys")
    content = b"".join(
        tlv.encode(0x80 + index, hashlib.sha256(key).digest())
        for index, key in enumerate(sector_public_key_objects)
    )
    return (ID_SECTOR, content)


def _sector_hashes(certificate: Certificate) -> tuple[bytes, ...]:
    for oid, content in certificate.body.extensions:
        if oid == ID_SECTOR:
            parts = tlv.fields(content, [(0x80, True), (0x81, False)], "sector extension")
            hashes_ = tuple(parts[tag] for tag in (0x80, 0x81) if tag in parts)
            if any(len(value) != 32 for value in hashes_):
                raise EacEncodingError("sector hash is not SHA-256")
            return hashes_
    return ()


def sector_allowed(terminal: VerifiedTerminal, sector_public_key_object: bytes) -> bool:
    """Whether the terminal's certificate names this sector key (constant-time compare)."""
    digest = hashlib.sha256(sector_public_key_object).digest()
    return any(hmac.compare_digest(digest, allowed) for allowed in terminal.sector_hashes)
