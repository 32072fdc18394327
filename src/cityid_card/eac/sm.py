"""Secure messaging with AES (ICAO Doc 9303-11 section 9.8, BSI TR-03110-3 F).

Pure functions over APDU bytes. The caller keeps the send sequence counter (SSC): it
starts at 0 after PACE (or after Chip Authentication, with the new keys), and is
incremented before each command and before each response, by both sides; each function
takes the value to use. For a command with SSC ``i`` the response uses ``i + 1``.

Command ``CLA INS P1 P2 [Lc data] [Le]`` becomes ``CLA|0C INS P1 P2 Lc' DO'87' DO'97'
DO'8E' 00``: ``DO'87' = 87 L 01 || AES-CBC(K_Enc, IV, pad(data))`` (``85`` without the
``01`` for an odd INS), ``IV = AES(K_Enc, SSC)``, ``DO'97' = 97 L Le``, ``DO'8E' = 8E 08
CMAC(K_MAC, SSC || pad(pad(header) || DO'87' || DO'97'))`` truncated to 8 bytes. A
response becomes ``DO'87' DO'99' DO'8E' SW1 SW2`` with ``DO'99' = 99 02 SW1 SW2`` and
the MAC over ``SSC || pad(DO'87' || DO'99')``. Padding is ISO/IEC 9797-1 method 2.

:class:`TerminalChannel` and :class:`CardChannel` keep the counter for each side and
close (forget the keys) on the first failure, as the session must end then.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cityid_card.eac import tlv
from cityid_card.eac._sym import (
    BLOCK,
    MAC_LENGTH,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    aes_ecb_block,
    cmac8,
    pad,
    unpad,
)
from cityid_card.eac.errors import EacEncodingError, SecureMessagingError
from cityid_card.eac.pace import SessionKeys

__all__ = [
    "SW_SM_DATA_OBJECTS_INCORRECT",
    "SW_SM_DATA_OBJECTS_MISSING",
    "Apdu",
    "CardChannel",
    "TerminalChannel",
    "decode_apdu",
    "encode_apdu",
    "unwrap_command",
    "unwrap_response",
    "wrap_command",
    "wrap_response",
]

SW_SM_DATA_OBJECTS_MISSING = 0x6987
SW_SM_DATA_OBJECTS_INCORRECT = 0x6988
_SSC_MAX = (1 << (8 * BLOCK)) - 1


@dataclass(frozen=True)
class Apdu:
    """A command APDU: header, data and Ne (``None`` when there is no Le field)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool = False
    """Whether the lengths use the extended encoding (set when decoding)."""


def decode_apdu(apdu: bytes) -> Apdu:
    """Parse a command APDU (ISO/IEC 7816-4 5.1: cases 1 to 4, short or extended)."""
    if len(apdu) < 4:
        raise EacEncodingError("command APDU shorter than its header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Apdu(cla, ins, p1, p2)
    if len(body) == 1:
        return Apdu(cla, ins, p1, p2, ne=body[0] or 256)
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return Apdu(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return Apdu(cla, ins, p1, p2, body[1:-1], body[-1] or 256)
        raise EacEncodingError("command APDU length fields do not match its size")
    if len(body) == 3:
        return Apdu(cla, ins, p1, p2, ne=int.from_bytes(body[1:], "big") or 65536, extended=True)
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0 or len(body) < 3 + lc:
        raise EacEncodingError("command APDU length fields do not match its size")
    data, rest = body[3 : 3 + lc], body[3 + lc :]
    if not rest:
        return Apdu(cla, ins, p1, p2, data, extended=True)
    if len(rest) == 2:
        ne = int.from_bytes(rest, "big") or 65536
        return Apdu(cla, ins, p1, p2, data, ne, extended=True)
    raise EacEncodingError("command APDU length fields do not match its size")


def encode_apdu(command: Apdu) -> bytes:
    """Encode a command APDU, with short lengths when they suffice."""
    header = bytes([command.cla, command.ins, command.p1, command.p2])
    ne = command.ne
    if len(command.data) > 65535 or (ne is not None and not 0 < ne <= 65536):
        raise EacEncodingError("command APDU lengths out of range")
    extended = command.extended or len(command.data) > 255 or (ne is not None and ne > 256)
    if not extended:
        lc = bytes([len(command.data)]) + command.data if command.data else b""
        le = b"" if ne is None else bytes([ne % 256])
        return header + lc + le
    out = header + b"\x00"
    if command.data:
        out += len(command.data).to_bytes(2, "big") + command.data
    if ne is not None:
        out += (ne % 65536).to_bytes(2, "big")
    return out


def _ssc(ssc: int) -> bytes:
    if not 0 <= ssc <= _SSC_MAX:
        raise EacEncodingError("send sequence counter out of range")
    return ssc.to_bytes(BLOCK, "big")


def _encrypt(keys: SessionKeys, ssc: int, data: bytes) -> bytes:
    return aes_cbc_encrypt(keys.enc, pad(data), aes_ecb_block(keys.enc, _ssc(ssc)))


def _decrypt(keys: SessionKeys, ssc: int, cryptogram: bytes) -> bytes:
    try:
        return unpad(aes_cbc_decrypt(keys.enc, cryptogram, aes_ecb_block(keys.enc, _ssc(ssc))))
    except EacEncodingError:
        raise SecureMessagingError(
            "secure messaging cryptogram is malformed", SW_SM_DATA_OBJECTS_INCORRECT
        ) from None


def _mac(keys: SessionKeys, ssc: int, data: bytes) -> bytes:
    return cmac8(keys.mac, _ssc(ssc) + pad(data))


def _encode_ne(ne: int, extended: bool) -> bytes:
    return (ne % 65536).to_bytes(2, "big") if extended else bytes([ne % 256])


def wrap_command(keys: SessionKeys, ssc: int, apdu: bytes) -> bytes:
    """Terminal: protect a plain command APDU with send sequence counter ``ssc``."""
    command = decode_apdu(apdu)
    if command.cla & 0x80 or command.cla & 0x0C:
        raise EacEncodingError("secure messaging needs an interindustry CLA without SM bits")
    cla = command.cla | 0x0C
    objects = b""
    if command.data:
        cryptogram = _encrypt(keys, ssc, command.data)
        if command.ins & 1:
            objects += tlv.encode(0x85, cryptogram)
        else:
            objects += tlv.encode(0x87, b"\x01" + cryptogram)
    if command.ne is not None:
        objects += tlv.encode(0x97, _encode_ne(command.ne, command.extended))
    header = bytes([cla, command.ins, command.p1, command.p2])
    mac = _mac(keys, ssc, pad(header) + objects)
    body = objects + tlv.encode(0x8E, mac)
    extended = command.extended or len(body) > 255
    return encode_apdu(
        Apdu(cla, command.ins, command.p1, command.p2, body, 65536 if extended else 256, extended)
    )


def _incorrect(message: str) -> SecureMessagingError:
    return SecureMessagingError(message, SW_SM_DATA_OBJECTS_INCORRECT)


def unwrap_command(keys: SessionKeys, ssc: int, protected: bytes) -> bytes:
    """Card: verify and decrypt a protected command APDU; returns the plain APDU bytes.

    Raises :class:`SecureMessagingError` whose ``status_word`` is the card's answer.
    """
    try:
        command = decode_apdu(protected)
    except EacEncodingError:
        raise _incorrect("protected command APDU is malformed") from None
    if command.cla & 0x80 or command.cla & 0x0C != 0x0C:
        raise SecureMessagingError(
            "command is not protected by secure messaging", SW_SM_DATA_OBJECTS_MISSING
        )
    try:
        found = tlv.decode_all(command.data)
    except EacEncodingError:
        raise _incorrect("secure messaging data objects are malformed") from None
    tags = [tag for tag, _ in found]
    if not tags or tags[-1] != 0x8E:
        raise SecureMessagingError("no MAC data object", SW_SM_DATA_OBJECTS_MISSING)
    allowed = [
        [],
        [0x97],
        [0x85 if command.ins & 1 else 0x87],
        [0x85 if command.ins & 1 else 0x87, 0x97],
    ]
    if tags[:-1] not in allowed:
        raise _incorrect("unexpected secure messaging data objects")
    values = dict(found)
    mac_input = pad(protected[:4]) + command.data[: len(command.data) - 2 - MAC_LENGTH]
    if len(values[0x8E]) != MAC_LENGTH or not hmac.compare_digest(
        _mac(keys, ssc, mac_input), values[0x8E]
    ):
        raise _incorrect("secure messaging MAC does not verify")
    data = b""
    if 0x87 in values:
        if values[0x87][:1] != b"\x01":
            raise _incorrect("unknown padding indicator")
        data = _decrypt(keys, ssc, values[0x87][1:])
    elif 0x85 in values:
        data = _decrypt(keys, ssc, values[0x85])
    ne = None
    le = values.get(0x97, b"")
    if len(le) == 1:
        ne = le[0] or 256
    elif len(le) == 2:
        ne = int.from_bytes(le, "big") or 65536
    elif 0x97 in values:
        raise _incorrect("malformed expected length object")
    plain = Apdu(
        command.cla & ~0x0C & 0xFF, command.ins, command.p1, command.p2, data, ne, len(le) == 2
    )
    return encode_apdu(plain)


def wrap_response(keys: SessionKeys, ssc: int, data: bytes, sw: int) -> bytes:
    """Card: protect response data and status word with send sequence counter ``ssc``."""
    if not 0 <= sw <= 0xFFFF:
        raise EacEncodingError("status word out of range")
    status = sw.to_bytes(2, "big")
    objects = tlv.encode(0x87, b"\x01" + _encrypt(keys, ssc, data)) if data else b""
    objects += tlv.encode(0x99, status)
    return objects + tlv.encode(0x8E, _mac(keys, ssc, objects)) + status


def unwrap_response(keys: SessionKeys, ssc: int, response: bytes) -> tuple[bytes, int]:
    """Terminal: verify and decrypt a protected response; returns (data, status word)."""
    if len(response) < 2:
        raise _incorrect("response shorter than its status word")
    body, status = response[:-2], response[-2:]
    if not body:
        raise SecureMessagingError(
            "response carries no secure messaging data objects", SW_SM_DATA_OBJECTS_MISSING
        )
    try:
        found = tlv.decode_all(body)
    except EacEncodingError:
        raise _incorrect("secure messaging data objects are malformed") from None
    tags = [tag for tag, _ in found]
    if tags not in ([0x99, 0x8E], [0x87, 0x99, 0x8E], [0x85, 0x99, 0x8E]):
        raise SecureMessagingError(
            "secure messaging data objects missing or misplaced", SW_SM_DATA_OBJECTS_MISSING
        )
    values = dict(found)
    if len(values[0x8E]) != MAC_LENGTH or not hmac.compare_digest(
        _mac(keys, ssc, body[: len(body) - 2 - MAC_LENGTH]), values[0x8E]
    ):
        raise _incorrect("secure messaging MAC does not verify")
    if values[0x99] != status:
        raise _incorrect("protected status word differs from the trailer")
    data = b""
    if 0x87 in values:
        if values[0x87][:1] != b"\x01":
            raise _incorrect("unknown padding indicator")
        data = _decrypt(keys, ssc, values[0x87][1:])
    elif 0x85 in values:
        data = _decrypt(keys, ssc, values[0x85])
    return data, int.from_bytes(status, "big")


class _Channel:
    def __init__(self, keys: SessionKeys) -> None:
        self._keys: SessionKeys | None = keys
        self._ssc = 0

    @property
    def ssc(self) -> int:
        """The send sequence counter's last value (0 before the first message)."""
        return self._ssc

    @property
    def open(self) -> bool:
        """False once a message failed: the keys are gone and the session is over."""
        return self._keys is not None

    def _next(self) -> tuple[SessionKeys, int]:
        if self._keys is None:
            raise SecureMessagingError("the secure channel is closed", SW_SM_DATA_OBJECTS_MISSING)
        self._ssc += 1
        return self._keys, self._ssc

    def close(self) -> None:
        """Forget the keys (after an error, or at the end of the session)."""
        self._keys = None


class TerminalChannel(_Channel):
    """The terminal's side of secure messaging: keeps the SSC; any failure closes it.

    After PACE, and again (a new channel) after Chip Authentication with its keys.
    """

    def protect(self, apdu: bytes) -> bytes:
        """The protected form of a plain command APDU."""
        keys, ssc = self._next()
        try:
            return wrap_command(keys, ssc, apdu)
        except EacEncodingError:
            self._ssc -= 1  # nothing was sent: the counters stay in step
            raise

    def unprotect(self, response: bytes) -> tuple[bytes, int]:
        """Data and status word of the card's protected answer to the last command."""
        keys, ssc = self._next()
        try:
            return unwrap_response(keys, ssc, response)
        except SecureMessagingError:
            self.close()
            raise


class CardChannel(_Channel):
    """The card's side of secure messaging: keeps the SSC; any failure closes it."""

    def unprotect(self, protected: bytes) -> bytes:
        """The plain command; a :class:`SecureMessagingError` carries the status word to send."""
        keys, ssc = self._next()
        try:
            return unwrap_command(keys, ssc, protected)
        except SecureMessagingError:
            self.close()
            raise

    def protect(self, data: bytes, sw: int) -> bytes:
        """The protected answer to the command just unprotected."""
        keys, ssc = self._next()
        return wrap_response(keys, ssc, data, sw)
