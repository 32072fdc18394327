"""An emulated NXP NTAG213, NTAG215 or NTAG216: frames in, frames out, no I/O.

The model follows the NXP data sheet where a reader or the host can tell: READ with
roll-over, FAST_READ, WRITE with one-time-programmable capability container and lock
bytes, static and dynamic lock bits, CFGLCK, GET_VERSION, READ_SIG, PWD and PACK that
read as zeros, and a NAK (any unknown or invalid command) that sends the tag to idle
until the reader wakes it again. Not modelled: password authentication (PWD_AUTH is
NAKed, as an NTAG with no password set up answers nothing useful to it either), the
UID and counter mirrors, and the block-lock bits of the dynamic lock bytes.

Faults for tests: :meth:`EmulatedNtag.remove_at_write` pulls the tag away at a chosen
WRITE (before, during or after it reaches the EEPROM), ``answer_limit`` makes a tag
stop answering, ``fault`` lets a test answer any frame itself. Nothing here logs.

The nfc driver puts it under nfcpy (``cityid_card_nfc.emulator.EmulatedReader``);
:class:`EmulatedTagLink` hands it to the core's tag session directly, without nfcpy.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Literal

from cityid_card.media import TYPE2
from cityid_card.media.field import InField
from cityid_card.type2.errors import TagRemoved, TagWriteError

from . import _secp128r1
from . import memory as type2
from .memory import CC_PAGE, PAGE_SIZE, Command, Product

__all__ = [
    "TEST_ORIGINALITY_KEY",
    "EmulatedNtag",
    "EmulatedTagLink",
    "Stage",
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


class _Nak(Exception):
    """Ends an NTAG command with a NAK (internal)."""


class EmulatedNtag(InField):
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


class EmulatedTagLink:
    """A :class:`~cityid_card.type2.session.TagLink` straight to an emulated tag, no reader.

    The core's tag session, media and write order run against :class:`EmulatedNtag`
    without nfcpy: activation is a power-up and a GET_VERSION (counted as frames, as a
    reader's identification would be), the generic path is READ, and :meth:`protect`
    writes :func:`~cityid_card.type2.memory.lock_plan`. A link of kind ``type2``.
    """

    kind = TYPE2

    def __init__(
        self, tag: EmulatedNtag, *, reader: str = "emulated", max_response: int = 262
    ) -> None:
        self.tag = tag
        self._reader = reader
        self._max_response = max_response
        self._frames = 0
        tag.power_up()
        self._product = type2.product_for_version(self.command(bytes((Command.GET_VERSION,))))

    @property
    def reader(self) -> str:
        return self._reader

    @property
    def uid(self) -> bytes:
        return self.tag.uid

    @property
    def product(self) -> Product | None:
        return self._product

    @property
    def max_response(self) -> int:
        return self._max_response

    @property
    def frames(self) -> int:
        return self._frames

    def command(self, frame: bytes) -> bytes:
        self._frames += 1
        answer = self.tag.process(frame)
        if answer is None:
            raise TagRemoved("the tag stopped answering: it left the field")
        if len(answer) == 1 and answer[0] != type2.ACK:
            self.tag.power_up()  # a NAK sends the tag to idle: wake and select it again
        return answer

    def read_generic(self, start: int, stop: int) -> bytes:
        data = b""
        for page in range(start // PAGE_SIZE, (stop + PAGE_SIZE - 1) // PAGE_SIZE, 4):
            data += self.command(type2.read(page))
        offset = start - start // PAGE_SIZE * PAGE_SIZE
        return data[offset : offset + stop - start]

    def protect(self) -> None:
        product = self._product
        if product is None:
            raise TagWriteError("only an NTAG21x is locked by this link")
        page3 = self.command(type2.read(CC_PAGE))[:PAGE_SIZE]
        access = self.command(type2.read(product.config_page + 1))[:PAGE_SIZE]
        for page, data in type2.lock_plan(product, page3, access):
            if not type2.is_ack(self.command(type2.write(page, data))):
                raise TagWriteError("the tag refused to be locked")

    def close(self) -> None:
        self.tag.power_down()
