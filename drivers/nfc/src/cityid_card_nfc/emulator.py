"""Emulated NFC tags and an emulated reader that nfcpy drives like real hardware.

:class:`EmulatedReader` is an nfcpy device driver (a subclass of ``nfc.clf.device.Device``):
put it under a real ``nfc.ContactlessFrontend`` and nfcpy's own code activates the
tag, identifies it (GET_VERSION), reads and writes NDEF and runs ``protect()``, frame by
frame, against :class:`EmulatedNtag` (NXP NTAG213/215/216) or :class:`EmulatedIsoDep`
(the core's card application behind ISO/IEC 14443-4).

The NTAG model follows the NXP data sheet where nfcpy or the host can tell: READ with
roll-over, FAST_READ, WRITE with one-time-programmable capability container and lock
bytes, static and dynamic lock bits, CFGLCK, GET_VERSION, READ_SIG, PWD and PACK that
read as zeros, and a NAK (any unknown or invalid command) that sends the tag to idle
until the reader wakes it again. Not modelled: password authentication (PWD_AUTH is
NAKed, as an NTAG with no password set up answers nothing useful to it either), the
UID and counter mirrors, and the block-lock bits of the dynamic lock bytes.

Faults for tests: :meth:`EmulatedNtag.remove_at_write` pulls the tag away at a chosen
WRITE (before, during or after it reaches the EEPROM), ``answer_limit`` makes a tag
stop answering, ``fault`` lets a test answer any frame itself. Nothing here logs.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any, Literal, Protocol

import nfc.clf
import nfc.clf.device

from cityid_card.card import _secp128r1, type2
from cityid_card.card.applet import CardApplication
from cityid_card.card.type2 import PAGE_SIZE, Command, Product

__all__ = [
    "TEST_ORIGINALITY_KEY",
    "EmulatedIsoDep",
    "EmulatedNtag",
    "EmulatedReader",
    "TagEmulator",
    "random_uid",
]

_NAK = b"\x00"
_ACK = bytes((type2.ACK,))
#: The emulators' "manufacturer" key for originality signatures: derived from a public
#: seed, so it proves nothing; a verifier trusts it only when told to (tests, the demo).
_TEST_ORIGINALITY_SCALAR = (
    int.from_bytes(hashlib.sha256(b"cityid-card emulated NTAG originality key").digest(), "big")
    % (_secp128r1.ORDER - 1)
    + 1
)
TEST_ORIGINALITY_KEY = _secp128r1.public_key(_TEST_ORIGINALITY_SCALAR)

Stage = Literal["before", "during", "after"]


def random_uid() -> bytes:
    """A random 7-byte UID with NXP's manufacturer code (04) in front."""
    return b"\x04" + secrets.token_bytes(6)


class TagEmulator(Protocol):
    """What the emulated reader needs from whatever is in its field."""

    #: False once the tag has left the field (it then answers nothing).
    in_field: bool

    @property
    def uid(self) -> bytes: ...

    @property
    def sens_res(self) -> bytes: ...

    @property
    def sel_res(self) -> bytes: ...

    def power_up(self) -> None:
        """The reader woke and selected the tag (anticollision is the reader's business)."""
        ...

    def power_down(self) -> None:
        """The field went off: volatile state is lost."""
        ...

    def process(self, frame: bytes) -> bytes | None:
        """Answer one frame; None means no answer at all (the reader times out)."""
        ...


class _Nak(Exception):
    """Ends an NTAG command with a NAK (internal)."""


class _InField:
    """What both emulators share: presence in the field, activation and a frame count."""

    def __init__(self) -> None:
        self.in_field = True
        self.active = False
        self.frames = 0
        #: Stop answering (leave the field) after this many frames, if set.
        self.answer_limit: int | None = None

    def power_up(self) -> None:
        self.active = self.in_field

    def _answers(self) -> bool:
        """Whether the frame arriving now is answered; counts it if so."""
        if not (self.in_field and self.active):
            return False
        if self.answer_limit is not None and self.frames >= self.answer_limit:
            self.in_field = False
            return False
        self.frames += 1
        return True


class EmulatedNtag(_InField):
    """An NXP NTAG213, NTAG215 or NTAG216: its whole memory, page 0 first.

    ``memory`` defaults to a factory-new tag with ``uid`` (random if not given);
    ``on_commit`` is called with the whole memory after every write that changed it
    (to keep an image file). The originality signature is made with ``signing_key``
    (a secp128r1 scalar), by default the emulators' public test key.
    """

    def __init__(
        self,
        product: Product,
        memory: bytes | None = None,
        *,
        uid: bytes | None = None,
        on_commit: Callable[[bytes], None] | None = None,
        signing_key: int = _TEST_ORIGINALITY_SCALAR,
    ) -> None:
        if memory is None:
            memory = type2.factory_memory(product, uid or random_uid())
        if len(memory) != product.pages * PAGE_SIZE:
            raise ValueError(f"an {product.name} image is {product.pages * PAGE_SIZE} bytes")
        super().__init__()
        self.product = product
        self.memory = bytearray(memory)
        self.on_commit = on_commit
        self.signature = _secp128r1.sign(signing_key, self.uid)
        self.writes = 0
        #: A test's own answer to a frame: bytes to send, or None to answer normally.
        self.fault: Callable[[bytes], bytes | None] | None = None
        self._removal: tuple[int, Stage] | None = None

    @property
    def uid(self) -> bytes:
        return bytes(self.memory[0:3] + self.memory[4:8])

    @property
    def sens_res(self) -> bytes:
        return b"\x44\x00"

    @property
    def sel_res(self) -> bytes:
        return b"\x00"

    def power_down(self) -> None:
        self.active = False

    def remove_at_write(self, index: int, stage: Stage) -> None:
        """Leave the field at the ``index``-th WRITE from now (0 is the next).

        ``before``: the page is not written; ``during``: the EEPROM write is torn, the
        page keeps its first two bytes new and its last two old; ``after``: the page is
        written but the ACK never reaches the reader.
        """
        self._removal = (self.writes + index, stage)

    def insert(self) -> None:
        """Put the tag back into the field (idle, as after power-up)."""
        self.in_field = True
        self.active = False
        self._removal = None
        self.answer_limit = None

    def process(self, frame: bytes) -> bytes | None:
        if not self._answers():
            return None
        if self.fault is not None:
            answer = self.fault(frame)
            if answer is not None:
                return answer
        try:
            return self._dispatch(frame)
        except _Nak:
            self.active = False  # a NAK sends an NTAG to idle: the reader must wake it
            return _NAK

    def _dispatch(self, frame: bytes) -> bytes | None:
        if not frame:
            raise _Nak
        command, arguments = frame[0], frame[1:]
        last = self.product.pages - 1
        if command == Command.READ and len(arguments) == 1:
            if arguments[0] > last:
                raise _Nak
            return b"".join(self._page((arguments[0] + i) % (last + 1)) for i in range(4))
        if command == Command.FAST_READ and len(arguments) == 2:
            first, end = arguments
            if not first <= end <= last:
                raise _Nak
            return b"".join(self._page(page) for page in range(first, end + 1))
        if command == Command.WRITE and len(arguments) == 1 + PAGE_SIZE:
            return self._write(arguments[0], bytes(arguments[1:]))
        if command == Command.GET_VERSION and not arguments:
            return self.product.version
        if command == Command.READ_SIG and arguments == b"\x00":
            return self.signature
        raise _Nak

    def _page(self, page: int) -> bytes:
        if page >= self.product.config_page + 2:  # PWD and PACK always read as zeros
            return bytes(PAGE_SIZE)
        return bytes(self.memory[page * PAGE_SIZE : (page + 1) * PAGE_SIZE])

    def _locked(self, page: int) -> bool:
        product = self.product
        if page < 2 or page >= product.pages:
            return True
        if page in (product.config_page, product.config_page + 1):
            access = self.memory[(product.config_page + 1) * PAGE_SIZE]
            return bool(access & 0x40)  # CFGLCK
        if page > product.last_data_page:
            return False
        dynamic_at = product.dynamic_lock_page * PAGE_SIZE
        locked = type2.locked_pages(
            product, bytes(self.memory[10:12]), bytes(self.memory[dynamic_at : dynamic_at + 3])
        )
        return page in locked

    def _new_page(self, page: int, data: bytes) -> bytes:
        """What ``page`` holds after WRITE ``data``: OTP bits OR, read-only bytes kept."""
        old = self._page(page) if page < self.product.config_page + 2 else bytes(PAGE_SIZE)
        if page == 2:
            frozen = 0
            block = self.memory[10]
            if block & 0x01:
                frozen |= 0x0008
            if block & 0x02:
                frozen |= 0x03F0
            if block & 0x04:
                frozen |= 0xFC00
            bits = int.from_bytes(old[2:4], "little")
            bits |= int.from_bytes(data[2:4], "little") & ~frozen
            return old[:2] + (bits & 0xFFFF).to_bytes(2, "little")
        if page == 3:
            return bytes(a | b for a, b in zip(old, data, strict=True))
        if page == self.product.dynamic_lock_page:
            return bytes(a | b for a, b in zip(old[:3], data[:3], strict=True)) + old[3:]
        return data

    def _write(self, page: int, data: bytes) -> bytes | None:
        if self._locked(page):
            raise _Nak
        index = self.writes
        self.writes += 1
        stage = None
        if self._removal is not None and self._removal[0] == index:
            stage = self._removal[1]
            self.in_field = self.active = False
        if stage == "before":
            return None
        new = self._new_page(page, data)
        if stage == "during":
            new = new[:2] + self._page(page)[2:]
        start = page * PAGE_SIZE
        if self.memory[start : start + PAGE_SIZE] != new:
            self.memory[start : start + PAGE_SIZE] = new
            if self.on_commit is not None:
                self.on_commit(bytes(self.memory))
        return None if stage else _ACK


class EmulatedIsoDep(_InField):
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


class EmulatedReader(nfc.clf.device.Device):  # type: ignore[misc]  # nfcpy is untyped
    """An nfcpy device driver whose field holds one emulated tag (or none).

    ``max_send`` and ``max_recv`` default to a PN533 reader's (nfcpy's pn533 driver):
    what the host may ask for in one frame. Counts frames and bytes each way.
    """

    def __init__(
        self,
        tag: TagEmulator | None = None,
        *,
        path: str = "sim",
        max_send: int = 263,
        max_recv: int = 262,
    ) -> None:
        # nfcpy's Device.__init__ only raises NotImplementedError: not called on purpose.
        self.tag = tag
        self._path = path
        self._vendor_name = "cityid-card"
        self._device_name = "emulated NFC reader"
        self._chipset_name = "emulator"
        self.max_send = max_send
        self.max_recv = max_recv
        self.frames = 0
        self.sent = 0
        self.received = 0
        self.senses = 0

    def close(self) -> None:
        self.mute()

    def mute(self) -> None:
        if self.tag is not None:
            self.tag.power_down()

    def sense_tta(self, target: Any) -> Any:
        if target.brty != "106A":
            raise nfc.clf.UnsupportedTargetError(f"the emulated reader has no {target.brty}")
        self.senses += 1
        tag = self.tag
        if tag is None or not tag.in_field:
            return None
        if target.sel_req and bytes(target.sel_req) != tag.uid:
            return None
        tag.power_up()
        return nfc.clf.RemoteTarget(
            "106A",
            sens_res=bytearray(tag.sens_res),
            sdd_res=bytearray(tag.uid),
            sel_res=bytearray(tag.sel_res),
        )

    def sense_ttb(self, target: Any) -> Any:
        return None  # no Type B card is ever in this field

    def sense_ttf(self, target: Any) -> Any:
        return None  # nor a FeliCa card

    def sense_dep(self, target: Any) -> Any:
        return None

    def _no_card_emulation(self, target: Any, timeout: float) -> Any:
        raise nfc.clf.UnsupportedTargetError("the emulated reader does not emulate cards")

    listen_tta = listen_ttb = listen_ttf = listen_dep = _no_card_emulation

    def send_cmd_recv_rsp(self, target: Any, data: Any, timeout: float) -> Any:
        self.frames += 1
        self.sent += len(data)
        tag = self.tag
        answer = tag.process(bytes(data)) if tag is not None and tag.in_field else None
        if answer is None:
            raise nfc.clf.TimeoutError("the tag did not answer")
        self.received += len(answer)
        return bytearray(answer)

    def send_rsp_recv_cmd(self, target: Any, data: Any, timeout: float | None = None) -> Any:
        raise nfc.clf.UnsupportedTargetError("the emulated reader does not emulate cards")

    def get_max_send_data_size(self, target: Any) -> int:
        return self.max_send

    def get_max_recv_data_size(self, target: Any) -> int:
        return self.max_recv
