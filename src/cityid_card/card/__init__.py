"""Contact smartcards, sans I/O: the card application's APDUs, its host session, its emulator.

- :mod:`.apdu`: ISO 7816-4 short APDUs, status words and the application's commands;
- :mod:`.session`: the host side (:func:`verify_card`, :func:`personalize`, :func:`read_card`);
- :mod:`.applet`: the reference card application, an emulated card;
- :mod:`.vpcd`: that emulated card as a card in a PC/SC reader, through vsmartcard's vpcd.

None of it opens a reader: a session is handed a :class:`~cityid_card.drivers.Connection`.
"""

from __future__ import annotations

from .applet import CardApplication, CardState
from .session import (
    Authenticity,
    CardInfo,
    CardSession,
    CardVerification,
    personalize,
    read_card,
    verify_card,
)

__all__ = [
    "Authenticity",
    "CardApplication",
    "CardInfo",
    "CardSession",
    "CardState",
    "CardVerification",
    "personalize",
    "read_card",
    "verify_card",
]
