"""An emulated card in a real PC/SC reader: the card side of vsmartcard's vpcd protocol.

vpcd is a PC/SC reader driver (Debian package ``vsmartcard-vpcd``) loaded by pcscd; it
listens on TCP port 35963 for reader "Virtual PCD 00 00", and whatever connects there is
the card in that reader. Every message is a 2-byte big-endian length and a body; a
1-byte body is a control message (00 power off, 01 power on, 02 reset, 04 send the ATR,
which vpcd also polls every ~400 ms to see whether the card is still there); any other
body is a command APDU, answered with the response APDU.

This is the card's side of a wire protocol, as ``applet.py`` is of the APDU protocol,
and like it is pure: :class:`VpcdCard` takes the bytes vpcd sent and returns the bytes
to send back. The socket loop that feeds it is :func:`cityid_card.sim_io.serve`, at the
edge; ``cityid-card sim serve`` runs it for any PC/SC client (pcsc-tools, OpenSC, a
verifier written in another language) whether or not our pcsc driver is installed.
"""

from __future__ import annotations

import functools
import operator
from typing import Protocol

__all__ = ["ATR", "VPCD_PORT", "CardLike", "VpcdCard"]

VPCD_PORT = 35963


def _atr() -> bytes:
    # TS 3B; T0 86: TD1 follows, 6 historical bytes; TD1 80: TD2 follows, T=0;
    # TD2 01: T=1; historical bytes "CITYID" (proprietary: the first is not 00,
    # 10 or 80); TCK, the XOR of T0 to the last historical byte.
    body = bytes.fromhex("868001") + b"CITYID"
    return b"\x3b" + body + bytes((functools.reduce(operator.xor, body),))


#: The emulated card's answer to reset.
ATR = _atr()
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0x00, 0x01, 0x02, 0x04


class CardLike(Protocol):
    """What vpcd can drive: an emulated card (:class:`~.applet.CardApplication`).

    ``process`` may raise CardRemoved to pull the card out of the reader.
    """

    def process(self, apdu: bytes) -> bytes: ...

    def reset(self) -> None: ...


class VpcdCard:
    """The vpcd protocol, card side, without I/O: feed it what vpcd sent, send what it returns."""

    def __init__(self, card: CardLike, atr: bytes = ATR) -> None:
        self._card = card
        self._atr = atr
        self._buffer = bytearray()

    def receive(self, data: bytes) -> bytes:
        """Take bytes from vpcd (any split); return the bytes to send back (maybe none)."""
        self._buffer += data
        out = bytearray()
        while len(self._buffer) >= 2:
            size = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + size:
                break
            body = bytes(self._buffer[2 : 2 + size])
            del self._buffer[: 2 + size]
            reply = self._message(body)
            if reply is not None:
                out += len(reply).to_bytes(2, "big") + reply
        return bytes(out)

    def _message(self, body: bytes) -> bytes | None:
        if len(body) == 1:
            if body[0] == _GET_ATR:
                return self._atr
            if body[0] in (_POWER_OFF, _POWER_ON, _RESET):
                self._card.reset()
            return None
        if not body:
            return None
        return self._card.process(body)
