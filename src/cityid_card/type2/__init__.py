"""NFC Forum Type 2 tags (NXP NTAG21x), sans I/O: memory layout, NDEF, the host session.

- :mod:`.memory`: pages, the capability container, TLVs, lock bits, the tearing-safe
  write plan, originality signatures (re-exported here: ``type2.NTAG213``);
- :mod:`.ndef`: the credential as one NDEF record of the external type ``cityid.org:c``;
- :mod:`.session`: the host side that reads, verifies, writes and locks a tag over a
  :class:`~.session.TagLink`;
- :mod:`.emulator`: an emulated NTAG21x (frames in, frames out).

None of it opens a reader: a driver hands the session a link.
"""

from __future__ import annotations

from .memory import (
    ACK,
    DATA_AREA_START,
    NTAG213,
    NTAG215,
    NTAG216,
    NXP_ORIGINALITY_KEYS,
    PAGE_SIZE,
    PRODUCTS,
    CapabilityContainer,
    Command,
    LockState,
    NdefArea,
    Product,
    Tlv,
    data_area_image,
    factory_memory,
    fast_read,
    find_ndef,
    is_ack,
    lock_plan,
    lock_state,
    locked_pages,
    originality_valid,
    product_for_version,
    read,
    read_sig,
    uid_pages,
    with_data_area,
    write,
    write_plan,
)

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
    "locked_pages",
    "originality_valid",
    "product_for_version",
    "read",
    "read_sig",
    "uid_pages",
    "with_data_area",
    "write",
    "write_plan",
]
