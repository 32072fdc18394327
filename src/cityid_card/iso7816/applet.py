"""The reference card application: an emulated contact card, ``process(apdu) -> response``.

It implements ``specs/card-application.md`` and nothing more, so that tests, demos and
drivers can talk to a card without hardware, and so that a Java Card implementation has
something to be compared with APDU by APDU (``specs/vectors/card_apdus.json``).

Pure: APDUs in, responses out, no file or clock (:mod:`cityid_card.sim_io` keeps a
state in a file). The persistent state (what a card keeps in EEPROM) is a
:class:`CardState`; every
command that changes it commits a whole new state at once, as a Java Card transaction
would. :meth:`CardApplication.tear` simulates the worst a card without atomic writes
can do when it loses power in the middle of UPDATE BINARY.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cityid_card.iso7816.errors import CardProtocolError
from cityid_card.media.errors import MediumError

from .apdu import (
    AID,
    AUTH_CHALLENGE_SIZE,
    AUTH_CONTEXT,
    CREDENTIAL_SFI,
    PUBLIC_KEY_TEMPLATE_SIZE,
    SW,
    CommandApdu,
    Ins,
    Lifecycle,
    encode_response,
)

__all__ = ["EF_CAPACITY", "CardApplication", "CardState"]

#: Bytes the credential EF can hold; the spec asks for at least 512.
EF_CAPACITY = 512
_STATE_FORMAT = "cityid-card emulated card"
_SCALAR_SIZE = 32

KeyFactory = Callable[[], ec.EllipticCurvePrivateKey]


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class CardState:
    """What the card keeps across power cycles: life cycle, private key, credential EF."""

    lifecycle: Lifecycle = Lifecycle.INITIALISATION
    #: The card key's private scalar (32 bytes), None until GENERATE ASYMMETRIC KEY PAIR.
    card_key: bytes | None = None
    #: The data bytes of the credential EF (its size is their number).
    ef: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _STATE_FORMAT,
            "lifecycle": self.lifecycle.name.lower(),
            "card_key": None if self.card_key is None else self.card_key.hex(),
            "ef": self.ef.hex(),
        }

    @classmethod
    def from_json(cls, document: Any) -> CardState:
        """Load a state written by :meth:`to_json`; raise MediumError if it is not one."""
        try:
            if document["format"] != _STATE_FORMAT:
                raise ValueError
            key = document["card_key"]
            state = cls(
                lifecycle=Lifecycle[document["lifecycle"].upper()],
                card_key=None if key is None else bytes.fromhex(key),
                ef=bytes.fromhex(document["ef"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MediumError("not an emulated card state file") from None
        if (state.card_key is not None and len(state.card_key) != _SCALAR_SIZE) or len(
            state.ef
        ) > EF_CAPACITY:
            raise MediumError("the emulated card state file holds a field of the wrong size")
        return state


class _Refusal(Exception):
    """Ends a command with an error status word (internal to the applet)."""

    def __init__(self, sw: int) -> None:
        self.sw = sw


class CardApplication:
    """The cityid-card application on an emulated card.

    ``state`` is the persistent state to start from (a blank card by default);
    ``on_commit`` is called with each new state, e.g. to save it to a file;
    ``key_factory`` makes the card key (seeded in test vectors, random otherwise).
    """

    def __init__(
        self,
        state: CardState | None = None,
        *,
        on_commit: Callable[[CardState], None] | None = None,
        key_factory: KeyFactory = _new_key,
    ) -> None:
        self._state = state or CardState()
        self._on_commit = on_commit
        self._key_factory = key_factory
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._selected = False
        self._current_ef = False

    @property
    def state(self) -> CardState:
        return self._state

    def reset(self) -> None:
        """Power off and on (or a warm reset): volatile state is lost, EEPROM is kept."""
        self._selected = False
        self._current_ef = False

    def process(self, apdu: bytes) -> bytes:
        """Process one command APDU and return the response APDU (data and status word)."""
        try:
            command = CommandApdu.decode(apdu)
        except CardProtocolError:
            return encode_response(b"", SW.WRONG_LENGTH)
        try:
            data = self._dispatch(command)
        except _Refusal as refusal:
            return encode_response(b"", refusal.sw)
        if command.le is None or len(data) == command.le:
            return encode_response(data, SW.OK)
        if command.ins == Ins.READ_BINARY:
            return encode_response(data, SW.END_OF_FILE)
        return encode_response(data, SW.OK)

    def tear(self, apdu: bytes) -> None:
        """Lose power while processing ``apdu``, as a card without atomic writes could.

        An UPDATE BINARY that would succeed persists only the first half of its data;
        any other command has no effect. The card then has no power: see :meth:`reset`.
        """
        try:
            command = CommandApdu.decode(apdu)
            if command.ins == Ins.UPDATE_BINARY and command.cla == 0:
                self._dispatch(replace(command, data=command.data[: len(command.data) // 2]))
        except (CardProtocolError, _Refusal):
            pass
        self.reset()

    def _commit(self, state: CardState) -> None:
        self._state = state
        self._key = None
        if self._on_commit is not None:
            self._on_commit(state)

    def _dispatch(self, command: CommandApdu) -> bytes:
        # Checks run in the order the spec fixes: CLA, INS, selection, then per command
        # P1-P2, the lengths (Lc, Le) and last the card's state.
        cla = command.cla
        if cla != 0x00:
            if cla & 0xE0 == 0x00:  # the first interindustry class, with its bits set
                if cla & 0x10:
                    raise _Refusal(SW.CHAINING_NOT_SUPPORTED)
                if cla & 0x0C:
                    raise _Refusal(SW.SECURE_MESSAGING_NOT_SUPPORTED)
                raise _Refusal(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
            if cla & 0xC0 == 0x40:  # the further interindustry class: channels 4 to 19
                raise _Refusal(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
            raise _Refusal(SW.CLA_NOT_SUPPORTED)
        handler = self._HANDLERS.get(command.ins)
        if handler is None or (command.ins != Ins.SELECT and not self._selected):
            raise _Refusal(SW.INS_NOT_SUPPORTED)
        data = handler(self, command)
        if command.le is not None and len(data) > command.le:
            raise _Refusal(0x6C00 | len(data))
        return data

    def _select(self, command: CommandApdu) -> bytes:
        self._selected = False
        self._current_ef = False
        if command.p1 != 0x04 or command.p2 not in (0x00, 0x0C):
            raise _Refusal(SW.INCORRECT_P1P2)
        if not command.data:
            raise _Refusal(SW.WRONG_LENGTH)
        if command.data != AID:
            raise _Refusal(SW.FILE_NOT_FOUND)
        self._selected = True
        if command.p2 == 0x0C or command.le is None:
            return b""
        return bytes((0x6F, 0x03, 0x8A, 0x01, self._state.lifecycle))

    @staticmethod
    def _address(command: CommandApdu) -> tuple[int, bool]:
        """P1-P2 of READ and UPDATE BINARY: (offset, whether the SFI named the EF)."""
        if command.p1 & 0x80:
            if command.p1 & 0x60:
                raise _Refusal(SW.INCORRECT_P1P2)
            if command.p1 & 0x1F != CREDENTIAL_SFI:
                raise _Refusal(SW.FILE_NOT_FOUND)
            return command.p2, True
        return (command.p1 << 8) | command.p2, False

    def _make_current(self, by_sfi: bool) -> None:
        if by_sfi:
            self._current_ef = True
        elif not self._current_ef:
            raise _Refusal(SW.NO_CURRENT_EF)

    def _read_binary(self, command: CommandApdu) -> bytes:
        offset, by_sfi = self._address(command)
        if command.data or command.le is None:
            raise _Refusal(SW.WRONG_LENGTH)
        self._make_current(by_sfi)
        ef = self._state.ef
        if offset >= len(ef):
            raise _Refusal(SW.WRONG_P1P2)
        return ef[offset : offset + command.le]

    def _update_binary(self, command: CommandApdu) -> bytes:
        offset, by_sfi = self._address(command)
        if not command.data or command.le is not None:
            raise _Refusal(SW.WRONG_LENGTH)
        self._make_current(by_sfi)
        state = self._state
        if state.lifecycle == Lifecycle.OPERATIONAL:
            raise _Refusal(SW.SECURITY_STATUS_NOT_SATISFIED)
        if state.card_key is None:
            raise _Refusal(SW.CONDITIONS_NOT_SATISFIED)
        if offset > len(state.ef):
            raise _Refusal(SW.WRONG_P1P2)
        end = offset + len(command.data)
        if end > EF_CAPACITY:
            raise _Refusal(SW.NOT_ENOUGH_MEMORY)
        self._commit(replace(state, ef=state.ef[:offset] + command.data + state.ef[end:]))
        return b""

    def _generate_key_pair(self, command: CommandApdu) -> bytes:
        if command.p1 != 0x80 or command.p2 != 0x00:
            raise _Refusal(SW.INCORRECT_P1P2)
        if command.data or command.le is None:
            raise _Refusal(SW.WRONG_LENGTH)
        if command.le < PUBLIC_KEY_TEMPLATE_SIZE:  # before the key changes, not after
            raise _Refusal(0x6C00 | PUBLIC_KEY_TEMPLATE_SIZE)
        if self._state.lifecycle == Lifecycle.OPERATIONAL:
            raise _Refusal(SW.CONDITIONS_NOT_SATISFIED)
        key = self._key_factory()
        scalar = key.private_numbers().private_value.to_bytes(_SCALAR_SIZE, "big")
        # A new key erases the credential: a card never holds a credential next to a
        # key it was not issued for, nor any part of an earlier credential.
        self._commit(replace(self._state, card_key=scalar, ef=b""))
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b"\x7f\x49\x43\x86\x41" + point

    def _internal_authenticate(self, command: CommandApdu) -> bytes:
        if command.p1 != 0x00 or command.p2 != 0x00:
            raise _Refusal(SW.INCORRECT_P1P2)
        if len(command.data) != AUTH_CHALLENGE_SIZE or command.le is None:
            raise _Refusal(SW.WRONG_LENGTH)
        key = self._private_key()
        if key is None:
            raise _Refusal(SW.REFERENCED_DATA_NOT_FOUND)
        der = key.sign(
            AUTH_CONTEXT + command.data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        )
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def _activate(self, command: CommandApdu) -> bytes:
        if command.p1 != 0x00 or command.p2 != 0x00:
            raise _Refusal(SW.INCORRECT_P1P2)
        if command.data or command.le is not None:
            raise _Refusal(SW.WRONG_LENGTH)
        state = self._state
        if state.lifecycle == Lifecycle.OPERATIONAL:
            return b""
        if state.card_key is None or not state.ef:
            raise _Refusal(SW.CONDITIONS_NOT_SATISFIED)
        self._commit(replace(state, lifecycle=Lifecycle.OPERATIONAL))
        return b""

    def _private_key(self) -> ec.EllipticCurvePrivateKey | None:
        if self._key is None and self._state.card_key is not None:
            scalar = int.from_bytes(self._state.card_key, "big")
            self._key = ec.derive_private_key(scalar, ec.SECP256R1())
        return self._key

    _HANDLERS: ClassVar[dict[int, Callable[[CardApplication, CommandApdu], bytes]]] = {
        Ins.SELECT: _select,
        Ins.READ_BINARY: _read_binary,
        Ins.UPDATE_BINARY: _update_binary,
        Ins.GENERATE_ASYMMETRIC_KEY_PAIR: _generate_key_pair,
        Ins.INTERNAL_AUTHENTICATE: _internal_authenticate,
        Ins.ACTIVATE_FILE: _activate,
    }
