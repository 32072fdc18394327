"""Restricted Identification (BSI TR-03110-2 3.5), ECDH with SHA-256.

A sector (one kind of service: the library, transit) has a key pair; the city keeps
``SK_sector`` and puts ``PK_sector`` in the terminal certificates of that sector (as a
hash, :func:`cityid_card.eac.cvc.sector_extension`). The card holds a private key
``SK_ID``. The pseudonym of the card in the sector is::

    I_sector = SHA-256(x(SK_ID * PK_sector))      (32 bytes, x with leading zeros kept)

the same for one card and one sector every time, unlinkable across sectors without
``SK_ID``. The terminal sends ``7C{A0{06 id-RI-ECDH-SHA-256, 86 PK_sector}}`` after TA and
CA; the card answers ``7C{81 I_sector}``.
"""

from __future__ import annotations

import hashlib

from cityid_card.eac import tlv
from cityid_card.eac.curve import Curve
from cityid_card.eac.errors import EacEncodingError
from cityid_card.eac.pace import dynamic_authentication_data, parse_dynamic_authentication_data

__all__ = [
    "ID_RI_ECDH_SHA_256",
    "command_data",
    "mse_set_at",
    "parse_command_data",
    "parse_response_data",
    "response_data",
    "sector_identifier",
    "sector_public_key_object",
]

ID_RI_ECDH_SHA_256 = "0.4.0.127.0.7.2.2.5.2.3"


def sector_identifier(curve: Curve, id_private: int, sector_public: bytes) -> bytes:
    """Card: ``I_sector = SHA-256(x(SK_ID * PK_sector))``."""
    return hashlib.sha256(curve.ecdh_x(id_private, sector_public)).digest()


def _key_content(sector_public: bytes) -> bytes:
    return tlv.encode(0x06, tlv.encode_oid(ID_RI_ECDH_SHA_256)) + tlv.encode(0x86, sector_public)


def sector_public_key_object(sector_public: bytes) -> bytes:
    """``7F49{06 id-RI-ECDH-SHA-256, 86 PK_sector}``: what a terminal certificate hashes."""
    return tlv.encode(0x7F49, _key_content(sector_public))


def command_data(sector_public: bytes) -> bytes:
    """General Authenticate data for RI: ``7C{A0{06 OID, 86 PK_sector}}``."""
    return dynamic_authentication_data((0xA0, _key_content(sector_public)))


def parse_command_data(curve: Curve, data: bytes) -> bytes:
    """Card: ``PK_sector`` from the RI command (validated as a point of ``curve``)."""
    content = parse_dynamic_authentication_data(data, (0xA0,))[0xA0]
    parts = tlv.fields(content, [(0x06, True), (0x86, True)], "RI sector key")
    if tlv.decode_oid(parts[0x06]) != ID_RI_ECDH_SHA_256:
        raise EacEncodingError("RI command names another algorithm")
    curve.decode_point(parts[0x86])
    return parts[0x86]


def mse_set_at(key_reference: int = 1) -> bytes:
    """Data of MSE:Set AT for RI (``00 22 41 A4``): ``80 OID, 84 key reference of SK_ID``."""
    return tlv.encode(0x80, tlv.encode_oid(ID_RI_ECDH_SHA_256)) + tlv.encode(
        0x84, tlv.encode_unsigned(key_reference)
    )


def response_data(identifier: bytes) -> bytes:
    """Card's answer: ``7C{81 I_sector}``."""
    return dynamic_authentication_data((0x81, identifier))


def parse_response_data(data: bytes) -> bytes:
    """Terminal: the 32-byte sector identifier."""
    identifier = parse_dynamic_authentication_data(data, (0x81,))[0x81]
    if len(identifier) != 32:
        raise EacEncodingError("sector identifier is not 32 bytes")
    return identifier
