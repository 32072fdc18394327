"""NFC Forum Type 2 tag memory, sans I/O: NXP NTAG213/215/216, TLVs, lock bits, write order.

Pure functions and values; ``specs/ndef-mapping.md`` is the normative description. The
host session that talks to a tag through a driver is :mod:`.tag`; the tag emulators of
the nfc driver package build on the same tables and functions.

Memory is addressed in bytes from page 0 (4 bytes a page). The data area starts at
byte 16 (page 4); its size is the capability container's (page 3). Readers walk the TLV
blocks of the data area strictly: every TLV must end inside the data area, so a walk
always ends, and every way a tag can lie raises a :class:`~cityid_card.errors.TagError`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cityid_card.type2.errors import (
    BlankTag,
    CapabilityContainerError,
    NdefLengthError,
    TagCapacityError,
    TlvError,
)

from . import _secp128r1

__all__ = [
    "ACK",
    "DATA_AREA_START",
    "NTAG213",
    "NTAG215",
    "NTAG216",
    "NXP_ORIGINALITY_KEYS",
    "PAGE_SIZE",
    "PRODUCTS",
    "CapabilityContainer",
    "Command",
    "LockState",
    "NdefArea",
    "Product",
    "Tlv",
    "data_area_image",
    "factory_memory",
    "fast_read",
    "find_ndef",
    "is_ack",
    "lock_plan",
    "lock_state",
    "originality_valid",
    "product_for_version",
    "read",
    "read_sig",
    "uid_pages",
    "with_data_area",
    "write",
    "write_plan",
]

PAGE_SIZE = 4
#: Byte offset of the data area (page 4); pages 0 to 2 hold the UID and static lock bytes.
DATA_AREA_START = 16
CC_PAGE = 3
#: The 4-bit ACK a tag answers to WRITE (sent as one byte by readers); anything else is a NAK.
ACK = 0x0A
#: NXP's public key for NTAG21x originality signatures (application note AN11350).
NXP_ORIGINALITY_KEYS = (
    bytes.fromhex("04494E1A386D3D3CFE3DC10E5DE68A499B1C202DB5B132393E89ED19FE5BE8BC61"),
)
_CC_MAGIC = 0xE1
_CC_VERSION = 0x10


class Command(enum.IntEnum):
    """The Type 2 and NTAG21x commands the host and the emulators use."""

    GET_VERSION = 0x60
    READ = 0x30
    FAST_READ = 0x3A
    WRITE = 0xA2
    READ_SIG = 0x3C


class Tlv(enum.IntEnum):
    """TLV block types of the Type 2 data area (NFC Forum Type 2 Tag, section 2.3)."""

    NULL = 0x00
    LOCK_CONTROL = 0x01
    MEMORY_CONTROL = 0x02
    NDEF = 0x03
    PROPRIETARY = 0xFD
    TERMINATOR = 0xFE


@dataclass(frozen=True)
class Product:
    """An NTAG21x chip: its GET_VERSION answer and memory map (NXP data sheet, section 8.5)."""

    name: str
    version: bytes
    #: Total pages, configuration pages included.
    pages: int
    #: User memory in bytes: pages 4 up to the dynamic lock bytes.
    user_memory: int
    #: Data area size the factory capability container announces (a multiple of 8).
    cc_size: int
    #: Pages one dynamic lock bit locks.
    pages_per_lock_bit: int

    @property
    def last_data_page(self) -> int:
        return 3 + self.user_memory // PAGE_SIZE

    @property
    def dynamic_lock_page(self) -> int:
        return self.last_data_page + 1

    @property
    def config_page(self) -> int:
        """CFG0 (MIRROR, RFU, MIRROR_PAGE, AUTH0); CFG1 (ACCESS) follows, then PWD and PACK."""
        return self.dynamic_lock_page + 1

    @property
    def capability_container(self) -> CapabilityContainer:
        return CapabilityContainer(_CC_VERSION, self.cc_size, 0x00)


NTAG213 = Product("NTAG213", bytes.fromhex("0004040201000F03"), 45, 144, 144, 2)
NTAG215 = Product("NTAG215", bytes.fromhex("0004040201001103"), 135, 504, 496, 16)
NTAG216 = Product("NTAG216", bytes.fromhex("0004040201001303"), 231, 888, 872, 16)
PRODUCTS = (NTAG213, NTAG215, NTAG216)


def product_for_version(version: bytes) -> Product | None:
    """The product a GET_VERSION answer names, or None for any other chip."""
    return next((p for p in PRODUCTS if p.version == version), None)


# Commands, as the host sends them.


def read(page: int) -> bytes:
    """READ: 16 bytes from ``page`` (4 pages, rolling over to page 0 at the end)."""
    return bytes((Command.READ, page))


def fast_read(first: int, last: int) -> bytes:
    """FAST_READ: pages ``first`` to ``last`` inclusive in one answer (NTAG21x)."""
    if not 0 <= first <= last <= 0xFF:
        raise ValueError("FAST_READ reads pages first..last within 0..255")
    return bytes((Command.FAST_READ, first, last))


def write(page: int, data: bytes) -> bytes:
    """WRITE: 4 bytes to ``page``."""
    if len(data) != PAGE_SIZE or not 0 <= page <= 0xFF:
        raise ValueError("WRITE stores 4 bytes in one page")
    return bytes((Command.WRITE, page)) + data


def read_sig() -> bytes:
    """READ_SIG: the 32-byte originality signature (NTAG21x)."""
    return bytes((Command.READ_SIG, 0x00))


def is_ack(answer: bytes) -> bool:
    return len(answer) == 1 and answer[0] == ACK


# The capability container.


@dataclass(frozen=True)
class CapabilityContainer:
    """Page 3: NDEF magic number, mapping version, data area size, access conditions."""

    version: int
    #: Data area size in bytes (the CC holds it divided by 8).
    size: int
    access: int

    @classmethod
    def parse(cls, page: bytes) -> CapabilityContainer:
        """Read page 3; raise CapabilityContainerError unless it describes readable NDEF."""
        if len(page) != PAGE_SIZE:
            raise CapabilityContainerError("the capability container is not one page")
        if page[0] != _CC_MAGIC:
            raise CapabilityContainerError(
                "the tag has no NDEF capability container (page 3 lacks the magic number E1)"
            )
        if page[1] >> 4 != 1:
            raise CapabilityContainerError(
                f"the capability container names mapping version {page[1] >> 4}.{page[1] & 15}"
                " (this reader knows 1.x)"
            )
        if not page[2]:
            raise CapabilityContainerError("the capability container announces no data area")
        if page[3] >> 4:
            raise CapabilityContainerError(
                "the capability container forbids reading without a proprietary procedure"
            )
        return cls(page[1], page[2] * 8, page[3])

    @property
    def writable(self) -> bool:
        return self.access & 0x0F == 0

    @property
    def read_only(self) -> bool:
        return self.access & 0x0F == 0x0F

    def encode(self) -> bytes:
        return bytes((_CC_MAGIC, self.version, self.size // 8, self.access))


# The TLV walk.


@dataclass(frozen=True)
class NdefArea:
    """Where the NDEF message TLV is: its offset and the offsets of its value bytes."""

    tlv_offset: int
    #: Memory offsets of the message bytes in order (reserved bytes skipped).
    positions: tuple[int, ...]

    @property
    def length(self) -> int:
        return len(self.positions)


def _control_range(kind: int, value: bytes) -> range:
    """The bytes a Lock or Memory Control TLV reserves (Type 2 Tag, sections 2.3.2, 2.3.3)."""
    page, offset = value[0] >> 4, value[0] & 0x0F
    size = value[1] or 256
    if kind == Tlv.LOCK_CONTROL:  # a number of lock bits, not bytes
        size = (size + 7) // 8
    bytes_per_page = 2 ** (value[2] & 0x0F)
    start = page * bytes_per_page + offset
    return range(start, start + size)


def find_ndef(fetch: Callable[[int, int], bytes], size: int) -> NdefArea:
    """Walk the TLVs of a data area of ``size`` bytes; return the first NDEF message TLV.

    ``fetch(start, stop)`` returns memory bytes by offset (fetching them as needed).
    Raises BlankTag if a Terminator TLV or the end of the data area comes first, or the
    NDEF TLV is empty; NdefLengthError if its length runs past the data area; TlvError
    for a TLV that runs past it or a control TLV of the wrong size.
    """
    end = DATA_AREA_START + size
    reserved: set[int] = set()

    def positions(start: int, count: int, what: str) -> tuple[list[int], int]:
        found: list[int] = []
        offset = start
        while len(found) < count:
            if offset >= end:
                error = NdefLengthError if what == "NDEF message" else TlvError
                raise error(f"the {what} TLV at byte {tlv_offset} runs past the data area")
            if offset not in reserved:
                found.append(offset)
            offset += 1
        return found, offset

    def byte_at(offset: int) -> int:
        return fetch(offset, offset + 1)[0]

    offset = DATA_AREA_START
    while offset < end:
        if offset in reserved:
            offset += 1
            continue
        tlv_offset, kind = offset, byte_at(offset)
        if kind == Tlv.NULL:
            offset += 1
            continue
        if kind == Tlv.TERMINATOR:
            raise BlankTag("the tag holds no NDEF message (a Terminator TLV comes first)")
        what = "NDEF message" if kind == Tlv.NDEF else f"type {kind:02X}"
        (length_at,), offset = positions(offset + 1, 1, what)
        length = byte_at(length_at)
        if length == 0xFF:
            spots, offset = positions(offset, 2, what)
            length = (byte_at(spots[0]) << 8) | byte_at(spots[1])
            if length < 0xFF:
                raise TlvError(f"the {what} TLV at byte {tlv_offset} uses a long length for less")
        value, offset = positions(offset, length, what)
        if kind == Tlv.NDEF:
            if not value:
                raise BlankTag("the tag holds an empty NDEF message")
            return NdefArea(tlv_offset, tuple(value))
        if kind in (Tlv.LOCK_CONTROL, Tlv.MEMORY_CONTROL):
            if length != 3:
                raise TlvError(f"the control TLV at byte {tlv_offset} is not 3 bytes long")
            data = bytes(byte_at(spot) for spot in value)
            reserved.update(_control_range(kind, data))
    raise BlankTag("the tag holds no NDEF message")


# Building a data area, and the order in which to write it.


def data_area_image(message: bytes, size: int) -> bytes:
    """The data area holding ``message``: its NDEF TLV at byte 16, a Terminator if room, zeros.

    No Lock Control TLV: the NTAG21x dynamic lock bytes sit where the Type 2 Tag
    specification puts them by default, right after the data area. Raises
    TagCapacityError if the message does not fit.
    """
    header = bytes((Tlv.NDEF, len(message))) if len(message) < 0xFF else b"\x03\xff"
    if len(message) >= 0xFF:
        header += len(message).to_bytes(2, "big")
    tlv = header + message
    if len(tlv) > size:
        raise TagCapacityError(
            f"the credential needs {len(tlv)} bytes of the data area; the tag has {size}"
        )
    if len(tlv) < size:
        tlv += bytes((Tlv.TERMINATOR,))
    return tlv + bytes(size - len(tlv))


def _pages(area: bytes) -> list[bytes]:
    return [area[i : i + PAGE_SIZE] for i in range(0, len(area), PAGE_SIZE)]


def write_plan(current: bytes, target: bytes) -> list[tuple[int, bytes]]:
    """The page writes that turn data area ``current`` into ``target``, in tearing-safe order.

    1. page 4 with the NDEF TLV's length zeroed, unless the area already begins ``03 00``
       (from then on the tag reads as blank); also when page 4 itself stays the same, as
       it does for a renewal or any credential of the same length: the pages after it
       change, and a tear among them would otherwise splice two credentials;
    2. every other page that differs, in ascending order (the new message, its
       Terminator and zeros over whatever was there before);
    3. page 4 with the real length, last.

    A tag pulled away after any of these writes reads as the old credential (before
    step 1), as blank, or as the new one (after step 3): never as other data. A target
    equal to ``current`` needs no write at all.
    """
    if len(current) != len(target) or len(target) % PAGE_SIZE or len(target) < PAGE_SIZE:
        raise ValueError("both data areas must be the same whole number of pages")
    old, new = _pages(current), _pages(target)
    first_page = DATA_AREA_START // PAGE_SIZE
    rest = [(first_page + i, new[i]) for i in range(1, len(new)) if old[i] != new[i]]
    if not rest and old[0] == new[0]:
        return []
    plan: list[tuple[int, bytes]] = []
    if old[0][:2] != b"\x03\x00":
        plan.append((first_page, b"\x03\x00" + new[0][2:]))
    plan += rest
    plan.append((first_page, new[0]))
    return plan


# Lock bits.


@dataclass(frozen=True)
class LockState:
    """What pages 2, 3 and the dynamic lock bytes say about write protection."""

    capability_container_read_only: bool
    #: Pages whose lock bit is set (page 3 and data pages).
    locked_pages: frozenset[int]
    #: Whether the dynamic lock bytes were read (False: only pages 2 and 3 are known).
    dynamic_known: bool

    def locked(self, product: Product) -> bool | None:
        """True if the tag is read-only for good; None if the unread dynamic bytes decide."""
        if not self.capability_container_read_only:
            return False
        if not set(range(CC_PAGE, 16)) <= self.locked_pages:
            return False
        if not self.dynamic_known:
            return None
        return set(range(16, product.last_data_page + 1)) <= self.locked_pages


def locked_pages(product: Product, static: bytes, dynamic: bytes | None) -> frozenset[int]:
    """Pages whose static (page 2, bytes 2-3) or dynamic lock bit is set."""
    pages: set[int] = set()
    bits = int.from_bytes(static[:2], "little")
    if bits & 0x08:
        pages.add(CC_PAGE)
    pages.update(page for page in range(4, 16) if bits >> page & 1)
    if dynamic is not None:
        dynamic_bits = int.from_bytes(dynamic[:2], "little")
        step = product.pages_per_lock_bit
        for bit, first in enumerate(range(16, product.last_data_page + 1, step)):
            if dynamic_bits >> bit & 1:
                pages.update(range(first, min(first + step, product.last_data_page + 1)))
    return frozenset(pages)


def lock_state(product: Product, page2: bytes, page3: bytes, dynamic: bytes | None) -> LockState:
    """The lock state of pages 2 and 3 and, if read, the dynamic lock bytes."""
    return LockState(
        page3[0] == _CC_MAGIC and page3[3] & 0x0F == 0x0F,
        locked_pages(product, page2[2:4], dynamic),
        dynamic is not None,
    )


def lock_plan(product: Product, page3: bytes, access: bytes) -> list[tuple[int, bytes]]:
    """The page writes that make an NTAG21x read-only for good (the data sheet's order).

    ``page3`` is the capability container and ``access`` the ACCESS page (CFG1) as read.
    1. the CC's write access to ``F`` (read-only), if it is an NDEF CC;
    2. every static lock bit (page 2, bytes 2 and 3);
    3. every dynamic lock bit (the page after the data area);
    4. CFGLCK in ACCESS, so the configuration pages are frozen too.
    The same writes nfcpy's ``protect()`` makes, so both lock a tag alike.
    """
    plan: list[tuple[int, bytes]] = []
    if page3[0] == _CC_MAGIC and page3[1] >> 4 == 1:
        plan.append((CC_PAGE, page3[:3] + b"\x0f"))
    plan.append((2, b"\x00\x00\xff\xff"))
    plan.append((product.dynamic_lock_page, b"\xff\xff\xff\x00"))
    if not access[0] & 0x40:
        plan.append((product.config_page + 1, bytes((access[0] | 0x40,)) + access[1:4]))
    return plan


# Originality signatures.


def originality_valid(
    uid: bytes, signature: bytes, keys: Iterable[bytes] = NXP_ORIGINALITY_KEYS
) -> bool:
    """True if ``signature`` (READ_SIG's 32 bytes) is a manufacturer's over ``uid``."""
    return any(_secp128r1.verify(key, uid, signature) for key in keys)


# Whole memory images (the emulators' and the test vectors').


def uid_pages(uid: bytes) -> bytes:
    """Pages 0 and 1 and the first two bytes of page 2: a 7-byte UID with its check bytes."""
    if len(uid) != 7:
        raise ValueError("an NTAG21x UID is 7 bytes")
    bcc0 = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
    bcc1 = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
    return uid[:3] + bytes((bcc0,)) + uid[3:] + bytes((bcc1, 0x48))


def factory_memory(product: Product, uid: bytes) -> bytes:
    """The whole memory of a new tag, as NXP ships it (data sheet, section 8.5)."""
    memory = bytearray(product.pages * PAGE_SIZE)
    memory[0:10] = uid_pages(uid)
    memory[12:16] = product.capability_container.encode()
    if product is NTAG213:
        memory[16:24] = bytes.fromhex("0103A00C340300FE")
    else:
        memory[16:19] = bytes.fromhex("0300FE")
    config = product.config_page * PAGE_SIZE
    memory[config - 4 : config] = bytes.fromhex("000000BD")
    memory[config : config + 16] = bytes.fromhex("040000FF00050000FFFFFFFF00000000")
    return bytes(memory)


def with_data_area(memory: bytes, area: bytes) -> bytes:
    """``memory`` with its data area (from byte 16) replaced by ``area``."""
    return memory[:DATA_AREA_START] + area + memory[DATA_AREA_START + len(area) :]
