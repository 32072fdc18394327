"""Terminal Authentication version 2 (BSI TR-03110-2 3.3, TR-03110-3 B.11).

After PACE the terminal sends its DV and terminal certificates (PSO:Verify Certificate,
checked by :func:`cityid_card.eac.cvc.verify_chain`), then MSE:Set AT with its
certificate holder reference, the compressed ephemeral key it will use for Chip
Authentication and the auxiliary data it wants to be checked (age and validity dates);
the card answers GET CHALLENGE with an 8-byte ``r_PICC``; the terminal answers EXTERNAL
AUTHENTICATE with an ECDSA-SHA-256 signature (plain ``r || s``) over::

    ID_PICC || r_PICC || Comp(ePK_PCD) || AuxData

``ID_PICC`` is ``Comp`` of the card's ephemeral PACE key; ``Comp`` of an ECDH key is its
x-coordinate, 32 bytes with leading zeros kept (TR-03111 FE2OS); ``AuxData`` is the
``67`` object exactly as sent in MSE:Set AT, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cityid_card.eac import tlv
from cityid_card.eac.curve import P256, Curve
from cityid_card.eac.cvc import ID_TA_ECDSA_SHA_256, check_reference
from cityid_card.eac.errors import AuthenticationFailed, EacEncodingError

__all__ = [
    "CHALLENGE_LENGTH",
    "ID_DATE_OF_BIRTH",
    "ID_DATE_OF_EXPIRY",
    "auxiliary_data",
    "compress",
    "mse_set_at",
    "parse_auxiliary_data",
    "parse_mse_set_at",
    "sign",
    "signature_input",
    "verify",
]

CHALLENGE_LENGTH = 8
ID_DATE_OF_BIRTH = "0.4.0.127.0.7.3.1.4.1"
"""Auxiliary data for age verification: the latest date of birth that passes."""
ID_DATE_OF_EXPIRY = "0.4.0.127.0.7.3.1.4.2"
"""Auxiliary data for document validity: the date on which the card must be valid."""


def compress(curve: Curve, public: bytes) -> bytes:
    """``Comp(PK)`` for ECDH: the x-coordinate, ``curve.size`` bytes."""
    curve.decode_point(public)
    return public[1 : 1 + curve.size]


def signature_input(
    id_picc: bytes, challenge: bytes, compressed_ephemeral: bytes, aux_data: bytes = b""
) -> bytes:
    """``ID_PICC || r_PICC || Comp(ePK_PCD) || AuxData``: the bytes the terminal signs."""
    if len(challenge) != CHALLENGE_LENGTH:
        raise EacEncodingError("the TA challenge is 8 bytes")
    if len(id_picc) != P256.size or len(compressed_ephemeral) != P256.size:
        raise EacEncodingError("compressed keys are 32-byte x-coordinates")
    if aux_data:
        parse_auxiliary_data(aux_data)
    return id_picc + challenge + compressed_ephemeral + aux_data


def sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """Terminal: ECDSA-SHA-256 over ``message``, plain ``r || s`` (64 bytes), RFC 6979."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise EacEncodingError("the terminal key is not a P-256 key")
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)  # RFC 6979
    r, s = decode_dss_signature(private_key.sign(message, algorithm))
    return r.to_bytes(P256.size, "big") + s.to_bytes(P256.size, "big")


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Card: check the terminal's signature (raises :class:`AuthenticationFailed`)."""
    P256.decode_point(public_key)
    key = ec.EllipticCurvePublicKey.from_encoded_point(P256.pyca, public_key)
    if len(signature) != 2 * P256.size:
        raise AuthenticationFailed("terminal signature does not verify")
    r = int.from_bytes(signature[: P256.size], "big")
    s = int.from_bytes(signature[P256.size :], "big")
    if not (0 < r < P256.n and 0 < s < P256.n):
        raise AuthenticationFailed("terminal signature does not verify")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AuthenticationFailed("terminal signature does not verify") from None


def _ascii_date(day: date) -> bytes:
    return day.strftime("%Y%m%d").encode("ascii")


def auxiliary_data(date_of_birth: date | None = None, date_of_expiry: date | None = None) -> bytes:
    """``67 { 73 { 06 OID, 53 YYYYMMDD } ... }`` for age and validity checks, or ``b""``.

    ``date_of_birth``: the card passes age verification when the holder was born on or
    before it. ``date_of_expiry``: the card passes the validity check when it has not
    expired on that date.
    """
    templates = [
        tlv.encode(0x73, tlv.encode(0x06, tlv.encode_oid(oid)) + tlv.encode(0x53, _ascii_date(day)))
        for oid, day in ((ID_DATE_OF_BIRTH, date_of_birth), (ID_DATE_OF_EXPIRY, date_of_expiry))
        if day is not None
    ]
    return tlv.encode(0x67, templates) if templates else b""


def parse_auxiliary_data(data: bytes) -> Mapping[str, date]:
    """Card: the dates of a ``67`` auxiliary data object, keyed by OID (each at most once)."""
    result: dict[str, date] = {}
    for tag, template in tlv.decode_all(tlv.expect(data, 0x67)):
        if tag != 0x73:
            raise EacEncodingError("auxiliary data holds a non-template object")
        parts = tlv.fields(template, [(0x06, True), (0x53, True)], "auxiliary data")
        oid = tlv.decode_oid(parts[0x06])
        if oid not in (ID_DATE_OF_BIRTH, ID_DATE_OF_EXPIRY) or oid in result:
            raise EacEncodingError("auxiliary data names an unknown or repeated check")
        text = parts[0x53]
        if len(text) != 8 or not text.isdigit():
            raise EacEncodingError("auxiliary data date is not YYYYMMDD")
        try:
            result[oid] = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise EacEncodingError("auxiliary data date is not a calendar date") from None
    if not result:
        raise EacEncodingError("empty auxiliary data")
    return result


def mse_set_at(terminal_chr: str, compressed_ephemeral: bytes, aux_data: bytes = b"") -> bytes:
    """Data of MSE:Set AT for TA (``00 22 81 A4``): ``80 OID, 83 CHR, 91 Comp(ePK)[, 67]``."""
    if len(compressed_ephemeral) != P256.size:
        raise EacEncodingError("compressed keys are 32-byte x-coordinates")
    if aux_data:
        parse_auxiliary_data(aux_data)
    return (
        tlv.encode(0x80, tlv.encode_oid(ID_TA_ECDSA_SHA_256))
        + tlv.encode(0x83, check_reference(terminal_chr))
        + tlv.encode(0x91, compressed_ephemeral)
        + aux_data
    )


def parse_mse_set_at(data: bytes) -> tuple[str, bytes, bytes]:
    """Card: (terminal CHR, Comp(ePK_PCD), auxiliary data object or ``b""``)."""
    parts = tlv.fields(
        data, [(0x80, True), (0x83, True), (0x91, True), (0x67, False)], "MSE:Set AT"
    )
    if tlv.decode_oid(parts[0x80]) != ID_TA_ECDSA_SHA_256:
        raise EacEncodingError("MSE:Set AT names another TA algorithm")
    if len(parts[0x91]) != P256.size:
        raise EacEncodingError("compressed keys are 32-byte x-coordinates")
    try:
        chr_ = parts[0x83].decode("ascii")
    except UnicodeDecodeError:
        raise EacEncodingError("certificate reference is not ASCII") from None
    check_reference(chr_)
    aux = tlv.encode(0x67, parts[0x67]) if 0x67 in parts else b""
    if aux:
        parse_auxiliary_data(aux)
    return chr_, parts[0x91], aux
