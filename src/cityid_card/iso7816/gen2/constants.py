"""The generation-2 card application's identifiers: files, objects and status words.

Normative in ``specs/card-application.md`` version 2. Pure values, shared by the card
(:mod:`.card`), its host-side personalisation (:mod:`.personalize`) and the terminal
session (:mod:`.terminal`).
"""

from __future__ import annotations

import enum
from types import MappingProxyType

from cityid_card.eac.cvc import Rights

__all__ = [
    "AID",
    "DATA_GROUPS",
    "MAX_PACE_FAILURES_BLOCK",
    "MAX_PACE_FAILURES_SUSPEND",
    "SFI_CARD_ACCESS",
    "SFI_CARD_SECURITY",
    "SW2",
    "DataGroup",
    "PutData",
]

#: The application identifier: F0 (proprietary) "CITYID" 02. The application also
#: answers at the master file, without SELECT, as an eID card does.
AID = bytes.fromhex("F043495459494402")
#: EF.CardAccess (BSI TR-03110-3 A.1.2): read without authentication, same on every card.
SFI_CARD_ACCESS = 0x1C
#: EF.CardSecurity: the issuer-signed card security object, read after TA.
SFI_CARD_SECURITY = 0x1D

#: Consecutive wrong CANs after which PACE is suspended (one attempt per power-up).
MAX_PACE_FAILURES_SUSPEND = 3
#: Consecutive wrong CANs after which PACE is blocked for good (the card is replaced).
MAX_PACE_FAILURES_BLOCK = 100


class DataGroup(enum.IntEnum):
    """The data groups (TR-03110-4 numbering) and their short file identifiers."""

    EXPIRY = 3
    NAME = 4
    DATE_OF_BIRTH = 8
    GENDER = 11


#: The right that lets a terminal read each data group (specs/eac.md 6.2).
DATA_GROUPS = MappingProxyType(
    {
        DataGroup.EXPIRY: Rights.READ_EXPIRY,
        DataGroup.NAME: Rights.READ_NAME,
        DataGroup.DATE_OF_BIRTH: Rights.READ_DATE_OF_BIRTH,
        DataGroup.GENDER: Rights.READ_GENDER,
    }
)


class PutData(enum.IntEnum):
    """P1-P2 of PUT DATA during personalisation: which object the data field carries."""

    CAN = 0x0101
    TRUST_POINT = 0x0102
    CHIP_KEY = 0x0103
    CARD_SECURITY = 0x0104
    DATA_GROUPS = 0x0105
    DATE = 0x0106


class SW2(enum.IntEnum):
    """Status words of the generation-2 application (ISO 7816-4)."""

    OK = 0x9000
    #: Every PACE failure, wrong CAN and malformed command alike; a predicate that fails.
    FAILED = 0x6300
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    CONDITIONS_NOT_SATISFIED = 0x6985
    SM_MISSING = 0x6987
    SM_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
