"""The command APDUs of PACE, TA, CA and RI (BSI TR-03110-3 appendix B, ICAO 9303-11).

Plain APDUs as bytes; after PACE the terminal protects each with
:func:`cityid_card.eac.sm.wrap_command`. Short lengths where they fit, extended ones
otherwise (a CVCA link certificate with domain parameters exceeds 255 bytes).
"""

from __future__ import annotations

from cityid_card.eac import tlv
from cityid_card.eac.cvc import check_reference
from cityid_card.eac.errors import EacEncodingError
from cityid_card.eac.sm import Apdu, encode_apdu

__all__ = [
    "external_authenticate",
    "general_authenticate",
    "get_challenge",
    "mse_set_at",
    "mse_set_dst",
    "pso_verify_certificate",
    "verify_auxiliary_data",
]

# MSE:Set AT P1-P2 per protocol (TR-03110-3 B.14.1): C1 A4 for PACE (mutual
# authentication), 81 A4 for TA (external authentication), 41 A4 for CA and RI
# (internal authentication).
MSE_PACE = 0xC1
MSE_TA = 0x81
MSE_CA_RI = 0x41


def mse_set_at(p1: int, data: bytes) -> bytes:
    """MSE:Set AT ``00 22 P1 A4`` with the protocol's data objects (no Le)."""
    if p1 not in (MSE_PACE, MSE_TA, MSE_CA_RI):
        raise EacEncodingError("P1 of MSE:Set AT is C1 (PACE), 81 (TA) or 41 (CA, RI)")
    return encode_apdu(Apdu(0x00, 0x22, p1, 0xA4, data))


def general_authenticate(data: bytes, last: bool = True) -> bytes:
    """General Authenticate ``00 86 00 00`` with ``7C`` data and Le 00.

    Every PACE step but the last is command-chained (CLA ``10``); CA and RI are one step.
    """
    return encode_apdu(Apdu(0x00 if last else 0x10, 0x86, 0x00, 0x00, data, 256))


def mse_set_dst(car: str) -> bytes:
    """MSE:Set DST ``00 22 81 B6 {83 CAR}``: which public key verifies the next certificate."""
    return encode_apdu(Apdu(0x00, 0x22, 0x81, 0xB6, tlv.encode(0x83, check_reference(car))))


def pso_verify_certificate(certificate: bytes) -> bytes:
    """PSO:Verify Certificate ``00 2A 00 BE``: the certificate's body and signature.

    The data field is the content of the ``7F21`` object (``7F4E ... 5F37 ...``).
    """
    return encode_apdu(Apdu(0x00, 0x2A, 0x00, 0xBE, tlv.expect(certificate, 0x7F21)))


def get_challenge() -> bytes:
    """GET CHALLENGE ``00 84 00 00 08``: the card's 8-byte ``r_PICC`` for TA."""
    return encode_apdu(Apdu(0x00, 0x84, 0x00, 0x00, ne=8))


def external_authenticate(signature: bytes) -> bytes:
    """EXTERNAL AUTHENTICATE ``00 82 00 00``: the terminal's TA signature."""
    return encode_apdu(Apdu(0x00, 0x82, 0x00, 0x00, signature))


def verify_auxiliary_data(oid: str) -> bytes:
    """VERIFY ``00 20 80 00 {06 OID}``: check authenticated auxiliary data (age, validity).

    The card answers ``9000`` when the check passes and ``6300`` when it fails.
    """
    return encode_apdu(Apdu(0x00, 0x20, 0x80, 0x00, tlv.encode(0x06, tlv.encode_oid(oid))))
