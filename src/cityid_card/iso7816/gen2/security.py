"""The card security object: the issuer's signature over the chip authentication key.

A COSE_Sign1 (the city's issuer key, the same keys and trust store as version 1
credentials) over the CBOR map ``{"v": 2, "ca": PK_CA}``, ``PK_CA`` the uncompressed
P-256 Chip Authentication public key. The key is shared by a batch of cards
(``specs/card-application.md`` v2 says why), and ES256 signatures are deterministic
(RFC 6979) as are Ed25519's, so every card of a batch holds the very same object: it
names no card and no holder. The protected header's content type
``application/cityid-card-security`` keeps it from ever being taken for a credential.
"""

from __future__ import annotations

from dataclasses import dataclass

from cityid_card import _cbor, cose
from cityid_card.eac.curve import P256
from cityid_card.eac.errors import EacError
from cityid_card.errors import CityIDError
from cityid_card.keys import IssuerKey
from cityid_card.trust import TrustStore

from .errors import SecurityObjectInvalid

__all__ = ["CONTENT_TYPE", "CardSecurity", "make_card_security", "parse_card_security"]

CONTENT_TYPE = "application/cityid-card-security"
_VERSION = 2


@dataclass(frozen=True)
class CardSecurity:
    """A parsed card security object: the chip key, and the issuer whose key verified it."""

    chip_key: bytes
    #: The trusted issuer key that verified the signature; None when none was asked for.
    kid: str | None


def make_card_security(issuer: IssuerKey, chip_public_key: bytes) -> bytes:
    """Sign the card security object for a batch whose chip key is ``chip_public_key``."""
    P256.decode_point(chip_public_key)
    payload = _cbor.dumps({"v": _VERSION, "ca": chip_public_key})
    return issuer.sign(payload, extra_protected={cose.HEADER_CONTENT_TYPE: CONTENT_TYPE})


def parse_card_security(data: bytes, trust: TrustStore | None) -> CardSecurity:
    """Parse the object; with ``trust``, require a trusted issuer key's signature.

    Raises :class:`SecurityObjectInvalid` for anything else.
    """
    try:
        message = cose.Sign1.decode(data, tagged=False)
        if message.protected.get(cose.HEADER_CONTENT_TYPE) != CONTENT_TYPE:
            raise SecurityObjectInvalid("the card security object has another content type")
        payload = _cbor.loads(message.payload)
        if (
            not isinstance(payload, dict)
            or set(payload) != {"v", "ca"}
            or payload["v"] != _VERSION
            or not isinstance(payload["ca"], bytes)
        ):
            raise SecurityObjectInvalid("the card security object has other fields")
        chip_key: bytes = payload["ca"]
        P256.decode_point(chip_key)
        kid = None
        if trust is not None:
            kid = _verified_by(message, trust)
    except SecurityObjectInvalid:
        raise
    except (CityIDError, EacError, ValueError):
        raise SecurityObjectInvalid("the card security object is malformed") from None
    return CardSecurity(chip_key, kid)


def _verified_by(message: cose.Sign1, trust: TrustStore) -> str:
    wire_kid = message.kid
    if wire_kid is None:
        raise SecurityObjectInvalid("the card security object names no issuer key")
    for key in trust.candidates(message.alg, wire_kid):
        try:
            message.verify(key.key)
        except CityIDError:
            continue
        return key.kid
    raise SecurityObjectInvalid("no trusted issuer key signed the card security object")
