"""APDU processors: the layers between a card application's session and the connection.

In the style of yubikit's ``ApduProcessor``: a processor sends one command APDU and
returns the final response data and status word, and each layer wraps the one below
it. The host session (:class:`~.session.CardSession`) talks to the outermost layer and
never sees what is below, so a secure channel (secure messaging, ISO 7816-4 section
10) becomes one more processor wrapped around the chain, without a change to the
application code:

    ConnectionProcessor(connection)      encodes, transmits, counts the APDUs
    ChainedResponseProcessor(...)        61XX: GET RESPONSE; 6CXX: the same command again
    (a secure messaging processor)       later: wraps commands, unwraps answers

Pure: a connection is handed in, nothing is opened here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from cityid_card.iso7816.errors import CardProtocolError

from . import apdu
from .apdu import CommandApdu

if TYPE_CHECKING:
    from cityid_card.drivers import Connection

__all__ = [
    "MAX_GET_RESPONSE",
    "ApduProcessor",
    "ChainedResponseProcessor",
    "ConnectionProcessor",
]

#: GET RESPONSE rounds followed (61XX) before calling the card broken.
MAX_GET_RESPONSE = 8


class ApduProcessor(Protocol):
    """One layer of the chain: send a command, return the response data and status word."""

    def send(self, command: CommandApdu) -> tuple[bytes, int]: ...


class ConnectionProcessor:
    """The innermost layer: encode the command, transmit it, check the answer's shape.

    ``apdus`` counts the command APDUs that went to the card, repeats and GET
    RESPONSE included.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.apdus = 0

    def send(self, command: CommandApdu) -> tuple[bytes, int]:
        self.apdus += 1
        data, sw = self._connection.transmit(command.encode())
        if not isinstance(data, bytes) or not isinstance(sw, int) or not 0 <= sw <= 0xFFFF:
            raise CardProtocolError("the connection returned something other than data and SW")
        return data, sw


class ChainedResponseProcessor:
    """ISO 7816-4 response chaining, for T=0 cards and readers that pass 61XX and 6CXX on.

    6CXX: the card wants the same command with Le = XX, which is sent once. 61XX: more
    bytes wait, fetched with GET RESPONSE until the card answers another status word;
    more than ``max_rounds`` rounds, or more than ``max_bytes`` in all, is a card that
    chains forever (CardProtocolError).
    """

    def __init__(
        self, inner: ApduProcessor, *, max_rounds: int = MAX_GET_RESPONSE, max_bytes: int = 1024
    ) -> None:
        self._inner = inner
        self._max_rounds = max_rounds
        self._max_bytes = max_bytes

    def send(self, command: CommandApdu) -> tuple[bytes, int]:
        data, sw = self._inner.send(command)
        if sw >> 8 == 0x6C and command.le is not None:
            data, sw = self._inner.send(replace(command, le=sw & 0xFF or 256))
        rounds = 0
        while sw >> 8 == 0x61:
            rounds += 1
            if rounds > self._max_rounds or len(data) > self._max_bytes:
                raise CardProtocolError("the card's answer never ends (61XX)")
            more, sw = self._inner.send(apdu.get_response(sw & 0xFF or 256))
            data += more
        return data, sw
