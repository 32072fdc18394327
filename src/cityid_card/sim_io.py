"""The emulated cards' edge: their state files and the vpcd socket.

The emulators are pure (bytes in, bytes out: :mod:`cityid_card.iso7816.applet`,
:mod:`cityid_card.iso7816.vpcd`); this is the one small module that does their file
and socket I/O, for the ``sim:card:STATEFILE`` reader, ``cityid-card sim serve``, the
nfc driver's ``sim:isodep:STATEFILE`` and the test suite's PC/SC stack.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
from pathlib import Path

from cityid_card import _json
from cityid_card._files import write_atomically
from cityid_card.errors import JSONInputError
from cityid_card.iso7816.applet import CardState
from cityid_card.iso7816.errors import CardRemoved
from cityid_card.iso7816.gen2.chip import ChipState, EmulatedCard, chip_state_from_json
from cityid_card.iso7816.vpcd import VPCD_PORT, CardLike, VpcdCard
from cityid_card.media.errors import DriverError, MediumError, TransportError

__all__ = ["card_in_file", "load_card_state", "load_chip_state", "save_card_state", "serve"]


def load_card_state(path: str | os.PathLike[str]) -> CardState:
    """Read an emulated card's state file; a file that does not exist is a blank card."""
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        return CardState()
    try:
        return CardState.from_json(_json.loads(text))
    except JSONInputError as error:
        raise MediumError(f"not an emulated card state file: {error}") from None


def load_chip_state(path: str | os.PathLike[str]) -> ChipState:
    """Read an emulated card's state file, version 1 or generation 2; none is a blank card."""
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        return CardState()
    try:
        return chip_state_from_json(_json.loads(text))
    except JSONInputError as error:
        raise MediumError(f"not an emulated card state file: {error}") from None


def save_card_state(state: ChipState, path: str | os.PathLike[str]) -> None:
    """Replace the state file atomically; owner-only, as it holds a private key."""
    write_atomically(Path(path), json.dumps(state.to_json(), indent=2) + "\n", mode=0o600)


def card_in_file(path: str | os.PathLike[str]) -> EmulatedCard:
    """The emulated card kept in the state file ``path``: loaded now, saved at every change.

    A blank card becomes a version 1 or a generation-2 card when it is personalised.
    """
    return EmulatedCard(load_chip_state(path), on_commit=lambda s: save_card_state(s, path))


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
