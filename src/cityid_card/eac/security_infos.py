"""EF.CardAccess: the SecurityInfos that tell a terminal which protocols the card runs.

BSI TR-03110-3 A.1.1 / ICAO 9303-11 9.2: a DER ``SET OF SecurityInfo``, each a ``SEQUENCE
{ protocol OBJECT IDENTIFIER, ... }``. The profile's card carries the same EF.CardAccess
on every card (nothing in it identifies one card):

- ``PACEInfo { id-PACE-ECDH-GM-AES-CBC-CMAC-128, version 2, parameterId 12 }``
- ``TerminalAuthenticationInfo { id-TA, version 2 }``
- ``ChipAuthenticationInfo { id-CA-ECDH-AES-CBC-CMAC-128, version 2, keyId }``
- ``ChipAuthenticationDomainParameterInfo { id-CA-ECDH, { standardizedDomainParameters,
  12 }, keyId }``

A terminal ignores SecurityInfos it does not know (they must still be well-formed DER).
"""

from __future__ import annotations

from dataclasses import dataclass

from cityid_card.eac import tlv
from cityid_card.eac.ca import ID_CA_ECDH_AES_CBC_CMAC_128
from cityid_card.eac.errors import EacEncodingError
from cityid_card.eac.pace import ID_PACE_ECDH_GM_AES_CBC_CMAC_128

__all__ = ["ID_CA_ECDH", "ID_TA", "STANDARDIZED_DOMAIN_PARAMETERS", "CardAccess"]

ID_TA = "0.4.0.127.0.7.2.2.2"
ID_CA_ECDH = "0.4.0.127.0.7.2.2.3.2"
ID_PACE = "0.4.0.127.0.7.2.2.4"
STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"
_P256 = 12


def _integer(value: int) -> bytes:
    return tlv.encode(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _decode_integer(content: bytes) -> int:
    if not content or (len(content) > 1 and content[0] == 0 and content[1] < 0x80):
        raise EacEncodingError("INTEGER is not minimal DER")
    if content[0] & 0x80:
        raise EacEncodingError("negative INTEGER in a SecurityInfo")
    return int.from_bytes(content, "big")


def _oid(dotted: str) -> bytes:
    return tlv.encode(0x06, tlv.encode_oid(dotted))


@dataclass(frozen=True)
class CardAccess:
    """The profile's EF.CardAccess; only the CA key identifier varies (between batches)."""

    ca_key_id: int | None = None

    def encode(self) -> bytes:
        """The DER ``SET OF SecurityInfo``, elements in DER order."""
        key_id = [] if self.ca_key_id is None else [_integer(self.ca_key_id)]
        domain = tlv.encode(0x30, [_oid(STANDARDIZED_DOMAIN_PARAMETERS), _integer(_P256)])
        infos = [
            tlv.encode(
                0x30, [_oid(ID_PACE_ECDH_GM_AES_CBC_CMAC_128), _integer(2), _integer(_P256)]
            ),
            tlv.encode(0x30, [_oid(ID_TA), _integer(2)]),
            tlv.encode(0x30, [_oid(ID_CA_ECDH_AES_CBC_CMAC_128), _integer(2), *key_id]),
            tlv.encode(0x30, [_oid(ID_CA_ECDH), domain, *key_id]),
        ]
        return tlv.encode(0x31, sorted(infos))  # DER: SET OF in order of the encodings

    @classmethod
    def decode(cls, data: bytes) -> CardAccess:
        """Parse EF.CardAccess; require exactly this profile's PACE, TA and CA entries.

        Unknown SecurityInfos are skipped; the profile's own must each appear once, with
        version 2 and P-256 (12), and the two CA entries must name the same key.
        """
        infos = [value for _, value in _sequences(tlv.expect(data, 0x31))]
        found: dict[str, list[bytes]] = {}
        for info in infos:
            tag, oid_content, end = tlv.decode_one(info)
            if tag != 0x06:
                raise EacEncodingError("SecurityInfo does not start with its protocol")
            found.setdefault(tlv.decode_oid(oid_content), []).append(info[end:])
        pace = _once(found, ID_PACE_ECDH_GM_AES_CBC_CMAC_128, "PACEInfo")
        pace_fields = _integers(pace, 2)
        ta = _integers(_once(found, ID_TA, "TerminalAuthenticationInfo"), 1)
        ca_info = _integers(
            _once(found, ID_CA_ECDH_AES_CBC_CMAC_128, "ChipAuthenticationInfo"), 1, 2
        )
        domain = _once(found, ID_CA_ECDH, "ChipAuthenticationDomainParameterInfo")
        tag, algorithm, end = tlv.decode_one(domain)
        if tag != 0x30:
            raise EacEncodingError("ChipAuthenticationDomainParameterInfo lacks its parameters")
        domain_key = _integers(domain[end:], 0, 1)
        tag, oid_content, end = tlv.decode_one(algorithm)
        if tag != 0x06 or tlv.decode_oid(oid_content) != STANDARDIZED_DOMAIN_PARAMETERS:
            raise EacEncodingError("CA domain parameters are not standardized ones")
        (parameter_id,) = _integers(algorithm[end:], 1)
        if pace_fields[0] != 2 or ca_info[0] != 2 or ta[0] != 2:
            raise EacEncodingError("SecurityInfo version is not 2")
        if pace_fields[1] != _P256 or parameter_id != _P256:
            raise EacEncodingError("domain parameters are not P-256 (12)")
        ca_key = ca_info[1] if len(ca_info) > 1 else None
        if (domain_key[0] if domain_key else None) != ca_key:
            raise EacEncodingError("CA key identifiers disagree")
        return cls(ca_key_id=ca_key)


def _sequences(data: bytes) -> list[tuple[int, bytes]]:
    objects = tlv.decode_all(data)
    if any(tag != 0x30 for tag, _ in objects):
        raise EacEncodingError("SecurityInfos holds something other than a SEQUENCE")
    encodings = [tlv.encode(tag, value) for tag, value in objects]
    if encodings != sorted(encodings):
        raise EacEncodingError("SecurityInfos is not in DER order")
    return objects


def _once(found: dict[str, list[bytes]], oid: str, what: str) -> bytes:
    entries = found.get(oid, [])
    if len(entries) != 1:
        raise EacEncodingError(f"EF.CardAccess needs exactly one {what}")
    return entries[0]


def _integers(data: bytes, minimum: int, maximum: int | None = None) -> list[int]:
    objects = tlv.decode_all(data)
    if any(tag != 0x02 for tag, _ in objects):
        raise EacEncodingError("SecurityInfo field is not an INTEGER")
    if not minimum <= len(objects) <= (minimum if maximum is None else maximum):
        raise EacEncodingError("SecurityInfo has the wrong number of fields")
    return [_decode_integer(value) for _, value in objects]
