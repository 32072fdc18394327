"""A contactless chip card: the card application behind ISO/IEC 14443-4 (ISO-DEP).

Pure, frames in and frames out: the nfc driver's emulated reader puts it under nfcpy,
whose ISO-DEP initiator then speaks the block protocol to it.
"""

from __future__ import annotations

import secrets

from cityid_card.media.field import InField

from .applet import CardApplication

__all__ = ["EmulatedIsoDep"]


class EmulatedIsoDep(InField):
    """A contactless chip card: the core's card application behind ISO/IEC 14443-4.

    It answers RATS with an ATS (FSCI 8: frames of 256 bytes, FWI 8: about 77 ms) and
    speaks the block protocol nfcpy's ISO-DEP initiator uses: I-blocks with command
    and response chaining, R(ACK) and R(NAK), S(DESELECT). No CID, no NAD. The UID is
    random per power-up session unless given, as on most cards and phones.
    """

    _ATS = bytes((0x05, 0x78, 0x80, 0x81, 0x02))

    def __init__(self, application: CardApplication, *, uid: bytes | None = None) -> None:
        super().__init__()
        self.application = application
        self._uid = uid or b"\x08" + secrets.token_bytes(3)
        self._fsd = 256
        self._protocol = False
        self._command = b""
        self._pending = b""
        self._last: bytes | None = None

    @property
    def uid(self) -> bytes:
        return self._uid

    @property
    def sens_res(self) -> bytes:
        return b"\x04\x00" if len(self._uid) == 4 else b"\x44\x00"

    @property
    def sel_res(self) -> bytes:
        return b"\x20"

    def power_down(self) -> None:
        self.active = self._protocol = False
        self._command = self._pending = b""
        self._last = None
        self.application.reset()

    def process(self, frame: bytes) -> bytes | None:
        if not frame or not self._answers():
            return None
        pcb = frame[0]
        if not self._protocol:
            if pcb != 0xE0 or len(frame) != 2:
                return None
            self._fsd = (16, 24, 32, 40, 48, 64, 96, 128, 256)[min(frame[1] >> 4, 8)]
            self._protocol = True
            return self._ATS
        block = pcb & 0x01
        if pcb & 0xE2 == 0x02 and not pcb & 0x0C:  # I-block without CID or NAD
            if pcb & 0x10:
                self._command += frame[1:]
                return self._send(bytes((0xA2 | block,)))
            apdu, self._command = self._command + frame[1:], b""
            self._pending = self.application.process(apdu)
            return self._next_block(block)
        if pcb & 0xE6 == 0xA2:  # R-block
            if not pcb & 0x10 and self._pending:  # R(ACK): the next part of a chained answer
                return self._next_block(block)
            if self._last is not None and self._last[0] & 0x01 == block:
                return self._last
            return self._send(bytes((0xA2 | (self._last[0] & 0x01 if self._last else 1),)))
        if pcb == 0xC2:  # S(DESELECT): the card halts until it is woken again
            self.active = self._protocol = False
            return b"\xc2"
        return None

    def _next_block(self, block: int) -> bytes:
        room = self._fsd - 3  # PCB and CRC
        part, self._pending = self._pending[:room], self._pending[room:]
        pcb = (0x12 if self._pending else 0x02) | block
        return self._send(bytes((pcb,)) + part)

    def _send(self, block: bytes) -> bytes:
        self._last = block
        return block
