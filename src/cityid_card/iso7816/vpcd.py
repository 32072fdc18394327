"""An emulated card in a real PC/SC reader: the card side of vsmartcard's vpcd protocol.

vpcd is a PC/SC reader driver (Debian package ``vsmartcard-vpcd``) loaded by pcscd; it
listens on TCP port 35963 for reader "Virtual PCD 00 00", and whatever connects there is
the card in that reader. Every message is a 2-byte big-endian length and a body; a
1-byte body is a control message (00 power off, 01 power on, 02 reset, 04 send the ATR,
which vpcd also polls every ~400 ms to see whether the card is still there); any other
body is a command APDU, answered with the response APDU.

This lives in the core, not in ``drivers/pcsc``: it needs no pyscard (sockets and the
emulator only), ``cityid-card sim serve`` must work for any PC/SC client (pcsc-tools,
OpenSC, a verifier written in another language) whether or not our driver is installed,
and it is the card's side of a wire protocol, as ``applet.py`` is of the APDU protocol.
:class:`VpcdCard` is the protocol without I/O; :func:`serve` is the one socket loop.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import socket
import threading
from typing import Protocol

from cityid_card.errors import CardRemoved, DriverError, TransportError

__all__ = ["ATR", "VPCD_PORT", "CardLike", "VpcdCard", "serve"]

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


def _check_loopback(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise DriverError(f"cannot resolve the vpcd host {host!r}") from None
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            # The link is plaintext and unauthenticated, and the card it carries has
            # no transport key: it must not leave the machine.
            raise DriverError("the emulated card connects to a vpcd on this machine only")


def serve(
    card: CardLike,
    host: str = "127.0.0.1",
    port: int = VPCD_PORT,
    *,
    stop: threading.Event | None = None,
    connect_timeout: float = 5.0,
) -> None:
    """Put ``card`` into the vpcd reader at ``host:port`` until vpcd hangs up or ``stop`` is set.

    The card is "removed" (the socket closed) when the loop ends, also when the card
    raises CardRemoved. ``host`` must be a loopback address.
    """
    _check_loopback(host, port)
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as error:
        raise TransportError(
            f"no vpcd listens on {host}:{port} ({error.strerror or type(error).__name__}); "
            "is pcscd running with vsmartcard-vpcd installed?"
        ) from None
    protocol = VpcdCard(card)
    quickack = getattr(socket, "TCP_QUICKACK", None)
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(0.1)
        try:
            while stop is None or not stop.is_set():
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                if quickack is not None:
                    # vpcd writes the length and the body in two sends; without an
                    # immediate ACK, Nagle on its side and delayed ACK on ours cost
                    # ~40 ms per APDU. Linux clears the flag again, so set it each time.
                    sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                reply = protocol.receive(chunk)
                if reply:
                    sock.sendall(reply)
        except (CardRemoved, ConnectionError, TimeoutError):
            pass  # the card was pulled out, or vpcd went away: either way it is over
        finally:
            card.reset()
