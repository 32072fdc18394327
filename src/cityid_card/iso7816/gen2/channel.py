"""The terminal's APDU chain for a generation-2 card: the link, then secure messaging.

As :mod:`cityid_card.iso7816.processors`, in the style of yubikit's ``ApduProcessor``:
each layer sends one command APDU and returns the response data and status word, and
the secure channel is one more layer wrapped around the link once PACE has made its
keys. The session code above sends plain APDUs and never sees secure messaging. These
layers carry encoded APDUs (bytes), short or extended: a terminal certificate under
secure messaging exceeds a short APDU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from cityid_card.eac import SessionKeys
from cityid_card.eac.errors import EacError
from cityid_card.eac.sm import TerminalChannel
from cityid_card.iso7816.errors import CardProtocolError

if TYPE_CHECKING:
    from cityid_card.drivers import Connection

__all__ = ["ByteProcessor", "LinkProcessor", "SecureMessagingProcessor"]


class ByteProcessor(Protocol):
    """One layer: send an encoded command APDU, return the response data and status word."""

    def send(self, apdu: bytes) -> tuple[bytes, int]: ...


class LinkProcessor:
    """The innermost layer: transmit over the connection; count APDUs and bytes each way."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.apdus = 0
        self.sent = 0
        self.received = 0

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        self.apdus += 1
        self.sent += len(apdu)
        data, sw = self._connection.transmit(apdu)
        if not isinstance(data, bytes) or not isinstance(sw, int) or not 0 <= sw <= 0xFFFF:
            raise CardProtocolError("the connection returned something other than data and SW")
        self.received += len(data) + 2
        return data, sw


class SecureMessagingProcessor:
    """Secure messaging (ICAO 9303-11 9.8) around an inner layer.

    Every command is protected and every answer checked and decrypted; an answer that is
    not protected, or does not verify, ends the session (CardProtocolError). After Chip
    Authentication :meth:`restart` puts the new keys in, with the counter at 0.
    """

    def __init__(self, inner: ByteProcessor, keys: SessionKeys) -> None:
        self._inner = inner
        self._channel = TerminalChannel(keys)

    def restart(self, keys: SessionKeys) -> None:
        """Continue with new keys (after Chip Authentication), SSC 0."""
        self._channel.close()
        self._channel = TerminalChannel(keys)

    def close(self) -> None:
        """Forget the keys."""
        self._channel.close()

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            protected = self._channel.protect(apdu)
        except EacError:
            raise CardProtocolError("a command could not be protected") from None
        data, sw = self._inner.send(protected)
        try:
            return self._channel.unprotect(data + sw.to_bytes(2, "big"))
        except EacError:
            self._channel.close()
            raise CardProtocolError(
                f"the card's answer is not under secure messaging (status {sw:04X}): "
                "the session is over"
            ) from None
