"""Chip cards, contact and contactless (ISO-DEP), sans I/O: ISO 7816-4 APDUs and the card application.

- :mod:`.apdu`: ISO 7816-4 short APDUs, status words and the application's commands;
- :mod:`.session`: the host side (:func:`verify_card`, :func:`personalize`, :func:`read_card`);
- :mod:`.applet`: the reference card application, an emulated card (bytes in, bytes out);
- :mod:`.isodep`: that card behind ISO/IEC 14443-4, as a contactless reader sees it;
- :mod:`.vpcd`: that card's side of vsmartcard's vpcd protocol, without the socket.

None of it opens a reader: a session is handed a :class:`~cityid_card.drivers.Connection`.
"""

from __future__ import annotations

from .applet import CardApplication, CardState
from .session import (
    CardInfo,
    CardSession,
    personalize,
    read_card,
    verify_card,
)

__all__ = [
    "CardApplication",
    "CardInfo",
    "CardSession",
    "CardState",
    "personalize",
    "read_card",
    "verify_card",
]
