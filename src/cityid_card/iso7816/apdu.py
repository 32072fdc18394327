"""APDUs of the card application: ISO 7816-4 short APDUs, status words, the command set.

Pure functions and values, no I/O: the host session (``session.py``) and the card
emulator (``applet.py``) both build on this module, and ``specs/card-application.md``
is its normative description. Only short APDUs exist here (Lc up to 255, Le up to 256):
the credential is about 120 bytes, and every reader and card supports short APDUs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cityid_card.iso7816.errors import CardProtocolError

__all__ = [
    "AID",
    "AUTH_CHALLENGE_SIZE",
    "AUTH_CONTEXT",
    "AUTH_SIGNATURE_SIZE",
    "CREDENTIAL_SFI",
    "PUBLIC_KEY_TEMPLATE_SIZE",
    "SW",
    "CommandApdu",
    "Ins",
    "Lifecycle",
    "activate",
    "describe_sw",
    "encode_response",
    "generate_key_pair",
    "get_response",
    "internal_authenticate",
    "read_binary",
    "select_application",
    "split_response",
    "update_binary",
]

#: The application identifier: F0 (proprietary, unregistered) "CITYID" 01.
AID = bytes.fromhex("F043495459494401")
#: Short file identifier of the transparent EF that holds the credential.
CREDENTIAL_SFI = 0x01
#: Prefix of the message the card signs in INTERNAL AUTHENTICATE (19 ASCII bytes).
AUTH_CONTEXT = b"cityid-card-auth-v1"
AUTH_CHALLENGE_SIZE = 32
#: ECDSA P-256 signature as r || s, 32 bytes each.
AUTH_SIGNATURE_SIZE = 64
#: 7F49 43 { 86 41 04 || X || Y }: the GENERATE ASYMMETRIC KEY PAIR answer.
PUBLIC_KEY_TEMPLATE_SIZE = 70
#: Largest Lc of a short APDU, and largest Ne (Le = 00).
MAX_LC = 255
MAX_NE = 256


class Ins(enum.IntEnum):
    """Instruction bytes of the card application (ISO 7816-4, 7816-8, 7816-9)."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    UPDATE_BINARY = 0xD6
    GENERATE_ASYMMETRIC_KEY_PAIR = 0x47
    INTERNAL_AUTHENTICATE = 0x88
    ACTIVATE_FILE = 0x44
    GET_RESPONSE = 0xC0


class Lifecycle(enum.IntEnum):
    """Life cycle status byte (ISO 7816-4 tag 8A) the application reports on SELECT."""

    #: Personalisation: key generation and writing are allowed.
    INITIALISATION = 0x03
    #: Locked: read and authenticate only, for good.
    OPERATIONAL = 0x05


class SW(enum.IntEnum):
    """The status words the card application answers, named as in ISO 7816-4."""

    OK = 0x9000
    END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    CHAINING_NOT_SUPPORTED = 0x6884
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    FILE_NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


_MEANINGS = {
    0x9000: "normal processing",
    0x6281: "part of returned data may be corrupted",
    0x6282: "end of file reached before reading Ne bytes",
    0x6400: "execution error, non-volatile memory unchanged",
    0x6581: "memory failure",
    0x6700: "wrong length",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6884: "command chaining not supported",
    0x6981: "command incompatible with file structure",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6A80: "incorrect parameters in the command data field",
    0x6A81: "function not supported",
    0x6A82: "file or application not found",
    0x6A84: "not enough memory space in the file",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data or reference data not found",
    0x6B00: "wrong parameters P1-P2 (offset outside the EF)",
    0x6D00: "instruction code not supported or invalid",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


def describe_sw(sw: int) -> str:
    """The ISO 7816-4 meaning of a status word, for messages: ``"6A82 (file or ...)"``."""
    meaning = _MEANINGS.get(sw)
    if meaning is None:
        high, low = sw >> 8, sw & 0xFF
        if high == 0x61:
            meaning = f"{low or 256} more response bytes available"
        elif high == 0x6C:
            meaning = f"wrong Le field, {low or 256} bytes available"
        elif high == 0x63 and low & 0xF0 == 0xC0:
            meaning = f"verification failed, {low & 0x0F} tries left"
        elif high in (0x62, 0x63):
            meaning = "warning, non-volatile memory " + ("unchanged" if high == 0x62 else "changed")
        elif high in (0x64, 0x65, 0x66):
            meaning = "execution error"
        elif high in (0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6D, 0x6E, 0x6F):
            meaning = "checking error"
        else:
            meaning = "not an ISO 7816-4 status word"
    return f"{sw:04X} ({meaning})"


@dataclass(frozen=True)
class CommandApdu:
    """A short command APDU. ``le`` is Ne, the most response bytes expected (1 to 256).

    None means the command expects no response data (no Le field); Ne = 256 is
    encoded as Le = 00.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        if not all(0 <= value <= 0xFF for value in (self.cla, self.ins, self.p1, self.p2)):
            raise ValueError("CLA, INS, P1 and P2 are single bytes")
        if len(self.data) > MAX_LC:
            raise ValueError("a short APDU carries at most 255 data bytes")
        if self.le is not None and not 1 <= self.le <= MAX_NE:
            raise ValueError("Ne must be 1 to 256")

    def encode(self) -> bytes:
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        body = bytes((len(self.data),)) + self.data if self.data else b""
        trailer = b"" if self.le is None else bytes((self.le & 0xFF,))
        return header + body + trailer

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        """Parse a short command APDU (ISO 7816-4 cases 1 to 4); raise CardProtocolError."""
        raw = bytes(raw)
        if len(raw) < 4:
            raise CardProtocolError("a command APDU needs at least the 4-byte header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or MAX_NE)
        if body[0] == 0:
            raise CardProtocolError("extended-length APDUs are not supported")
        lc = body[0]
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, body[1:-1], le=body[-1] or MAX_NE)
        raise CardProtocolError("the APDU's length does not match its Lc field")


def split_response(raw: bytes) -> tuple[bytes, int]:
    """Split a response APDU into its data and status word; raise CardProtocolError."""
    if len(raw) < 2:
        raise CardProtocolError("a response APDU needs at least the 2-byte status word")
    return bytes(raw[:-2]), int.from_bytes(raw[-2:], "big")


def encode_response(data: bytes, sw: int) -> bytes:
    return bytes(data) + sw.to_bytes(2, "big")


# The commands of the card application, as the host sends them.


def select_application(*, fci: bool = True) -> CommandApdu:
    """SELECT by DF name (the AID); with ``fci`` the card answers its life cycle status."""
    if fci:
        return CommandApdu(0x00, Ins.SELECT, 0x04, 0x00, AID, le=MAX_NE)
    return CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C, AID)


def _file_reference(offset: int, sfi: bool) -> tuple[int, int]:
    if sfi:
        if not 0 <= offset <= 0xFF:
            raise ValueError("addressing by SFI reaches offsets 0 to 255 only")
        return 0x80 | CREDENTIAL_SFI, offset
    if not 0 <= offset <= 0x7FFF:
        raise ValueError("an offset in the current EF is 0 to 32767")
    return offset >> 8, offset & 0xFF


def read_binary(offset: int, ne: int = MAX_NE, *, sfi: bool = False) -> CommandApdu:
    """READ BINARY of the credential EF by SFI (offset up to 255) or of the current EF."""
    p1, p2 = _file_reference(offset, sfi)
    return CommandApdu(0x00, Ins.READ_BINARY, p1, p2, le=ne)


def update_binary(offset: int, data: bytes, *, sfi: bool = False) -> CommandApdu:
    """UPDATE BINARY of the credential EF by SFI (offset up to 255) or of the current EF."""
    p1, p2 = _file_reference(offset, sfi)
    return CommandApdu(0x00, Ins.UPDATE_BINARY, p1, p2, data)


def generate_key_pair() -> CommandApdu:
    """GENERATE ASYMMETRIC KEY PAIR: a new P-256 card key; the answer is its public key."""
    return CommandApdu(0x00, Ins.GENERATE_ASYMMETRIC_KEY_PAIR, 0x80, 0x00, le=MAX_NE)


def internal_authenticate(challenge: bytes) -> CommandApdu:
    """INTERNAL AUTHENTICATE: the card signs AUTH_CONTEXT || challenge with its key."""
    if len(challenge) != AUTH_CHALLENGE_SIZE:
        raise ValueError("the challenge is 32 bytes")
    return CommandApdu(0x00, Ins.INTERNAL_AUTHENTICATE, 0x00, 0x00, challenge, le=MAX_NE)


def activate() -> CommandApdu:
    """ACTIVATE FILE of the application: the one-way lock that ends personalisation."""
    return CommandApdu(0x00, Ins.ACTIVATE_FILE, 0x00, 0x00)


def get_response(ne: int) -> CommandApdu:
    """GET RESPONSE, for the rest of an answer a T=0 card announced with 61XX."""
    return CommandApdu(0x00, Ins.GET_RESPONSE, 0x00, 0x00, le=ne)
