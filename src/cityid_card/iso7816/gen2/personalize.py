"""Personalising a generation-2 card, host side: the city's batch, the holder, the CAN.

Sans-I/O over a connection, as :func:`cityid_card.iso7816.personalize` for version 1.
The card must be blank (life cycle INITIALISATION): the objects go in with PUT DATA,
the card makes its Restricted Identification key itself, and ACTIVATE FILE closes
personalisation for good. Then PACE with the CAN proves the card took the CAN.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from cityid_card import qr
from cityid_card.eac import tlv
from cityid_card.eac.errors import EacError
from cityid_card.eac.sm import Apdu, encode_apdu
from cityid_card.iso7816.errors import ApplicationNotFound, CardLocked, CardProtocolError
from cityid_card.keys import IssuerKey
from cityid_card.media.errors import PersonalizationError

from .channel import LinkProcessor
from .constants import AID, SW2, PutData
from .datagroups import Holder, encode_data_groups
from .security import make_card_security
from .terminal import Rng, pace_with_can, read_card_access

if TYPE_CHECKING:
    from cityid_card.drivers import Connection

__all__ = ["Batch", "Gen2Personalised", "make_batch", "new_can", "personalize_gen2"]


@dataclass(frozen=True)
class Batch:
    """What every card of a batch holds alike: the city root, the chip key, its signed object."""

    trust_point: bytes = field(repr=False)
    chip_key: int = field(repr=False)
    card_security: bytes = field(repr=False)


def make_batch(trust_point: bytes, chip_key: int, issuer: IssuerKey) -> Batch:
    """The batch for ``chip_key``, its card security object signed by ``issuer``."""
    from cityid_card.eac import P256

    return Batch(trust_point, chip_key, make_card_security(issuer, P256.public_key(chip_key)))


@dataclass(frozen=True)
class Gen2Personalised:
    """A personalised generation-2 card: its CAN, the RI public key, what it cost."""

    can: str = field(repr=False)
    #: PK_ID: what the city keeps to compute a sector's revocation list entries.
    id_public_key: bytes = field(repr=False)
    apdus: int = 0


def new_can() -> str:
    """A random 6-digit CAN."""
    return f"{secrets.randbelow(10**6):06d}"


def personalize_gen2(
    connection: Connection,
    holder: Holder,
    batch: Batch,
    *,
    can: str,
    today: date,
    rng: Rng = secrets.token_bytes,
) -> Gen2Personalised:
    """Write a blank card as a generation-2 card for ``holder``; check PACE with the CAN.

    ``today`` is the card's first estimate of the date. Raises CardLocked if the card
    is not blank, ApplicationNotFound if it has no generation-2 application.
    """
    if not qr.is_can(can):
        raise ValueError("a CAN is 6 digits")
    link = LinkProcessor(connection)
    select = encode_apdu(Apdu(0x00, 0xA4, 0x04, 0x0C, AID))
    _, sw = link.send(select)
    if sw in (SW2.SM_MISSING, SW2.SM_INCORRECT):  # an earlier secure channel, now closed
        _, sw = link.send(select)
    if sw != SW2.OK:
        raise ApplicationNotFound(
            f"the card has no generation-2 application (SELECT answered {sw:04X})", sw=sw,
            command="SELECT",
        )  # fmt: skip
    groups = b"".join(content for _, content in sorted(encode_data_groups(holder).items()))
    objects = [
        (PutData.CAN, can.encode("ascii")),
        (PutData.TRUST_POINT, batch.trust_point),
        (PutData.CHIP_KEY, batch.chip_key.to_bytes(32, "big")),
        (PutData.CARD_SECURITY, batch.card_security),
        (PutData.DATA_GROUPS, groups),
        (PutData.DATE, today.strftime("%Y%m%d").encode("ascii")),
    ]
    for tag, value in objects:
        _, sw = link.send(encode_apdu(Apdu(0x00, 0xDA, tag >> 8, tag & 0xFF, value)))
        if sw == SW2.SECURITY_STATUS_NOT_SATISFIED and tag == PutData.CAN:
            raise CardLocked("the card is personalised already: it is refused, not overwritten")
        if sw != SW2.OK:
            raise PersonalizationError(
                f"the card refused PUT DATA {int(tag):04X} (status {sw:04X})", medium="chip_card"
            )
    data, sw = link.send(encode_apdu(Apdu(0x00, 0x47, 0x80, 0x00, ne=256)))
    if sw != SW2.OK:
        raise PersonalizationError(
            f"the card did not make its key (status {sw:04X})", medium="chip_card"
        )
    try:
        id_public = tlv.fields(tlv.expect(data, 0x7F49), [(0x86, True)], "public key")[0x86]
    except EacError:
        raise CardProtocolError("the card's public key is not a 7F49 template") from None
    _, sw = link.send(encode_apdu(Apdu(0x00, 0x44, 0x00, 0x00)))
    if sw != SW2.OK:
        raise PersonalizationError(
            f"the card refused ACTIVATE FILE (status {sw:04X})", medium="chip_card"
        )
    read_card_access(link)
    pace_with_can(link, can, rng)  # the card took the CAN: PACE with it works
    return Gen2Personalised(can, id_public, link.apdus)
