"""The emulated NFC readers: ``sim:ntag213|ntag215|ntag216[:IMAGEFILE]``, ``sim:isodep[:STATEFILE]``.

Each is an :class:`~cityid_card_nfc.emulator.EmulatedReader` under a real nfcpy
``ContactlessFrontend``, so the connection is the same kind the ``nfc`` driver returns
for a real reader and everything above the device driver is nfcpy's own code.

An IMAGEFILE holds the tag's whole memory as raw bytes, page 0 first (180 bytes for an
NTAG213, 540 for an NTAG215, 924 for an NTAG216): a file that does not exist is a new
tag with a random UID, saved at once; every write is saved. A STATEFILE is the emulated
card's state, the same file ``sim:card:STATEFILE`` uses: one card, contact and
contactless.
"""

from __future__ import annotations

import os
from pathlib import Path

from cityid_card import type2
from cityid_card._files import write_atomically
from cityid_card.drivers import DEFAULT_TIMEOUT, ReaderInfo
from cityid_card.errors import CardError, NoReader
from cityid_card.iso7816.applet import CardApplication, CardState
from cityid_card.iso7816.isodep import EmulatedIsoDep
from cityid_card.media.field import TagEmulator
from cityid_card.type2.emulator import EmulatedNtag

from .driver import CountingFrontend, NfcConnection, connect_tag
from .emulator import EmulatedReader

__all__ = ["NfcSimDriver", "load_tag", "open_emulated"]

_TAGS = {product.name.lower(): product for product in type2.PRODUCTS}


def load_tag(product: type2.Product, path: Path) -> EmulatedNtag:
    """An emulated tag kept in the image file ``path`` (created, with a new UID, if missing)."""

    def save(memory: bytes) -> None:
        write_atomically(path, memory, mode=0o600)  # a tag image holds a credential

    try:
        memory = path.read_bytes()
    except FileNotFoundError:
        tag = EmulatedNtag(product, on_commit=save)
        save(bytes(tag.memory))
        return tag
    if len(memory) != product.pages * type2.PAGE_SIZE:
        raise CardError(
            f"{os.fspath(path)} is not an {product.name} image "
            f"({product.pages * type2.PAGE_SIZE} bytes, page 0 first)"
        )
    return EmulatedNtag(product, memory, on_commit=save)


def open_emulated(
    tag: TagEmulator, *, reader: str = "sim", timeout: float = 0.0, max_recv: int = 262
) -> NfcConnection:
    """Put ``tag`` in a fresh emulated reader under nfcpy and activate it."""
    clf = CountingFrontend()
    clf.device = EmulatedReader(tag, path=reader, max_recv=max_recv)
    return connect_tag(clf, reader, timeout=timeout)


class NfcSimDriver:
    """The emulated NFC readers of the ``sim`` scheme (see the module's description)."""

    def readers(self) -> list[ReaderInfo]:
        tags = [
            ReaderInfo(f"sim:{name}", f"emulated NXP {product.name} under nfcpy", True)
            for name, product in _TAGS.items()
        ]
        card = ReaderInfo("sim:isodep", "emulated ISO-DEP cityid-card under nfcpy", True)
        return [*tags, card]

    def open(self, target: str, *, timeout: float = DEFAULT_TIMEOUT) -> NfcConnection:
        name, _, file = target.partition(":")
        reader = f"sim:{target}"
        if name in _TAGS:
            product = _TAGS[name]
            tag = EmulatedNtag(product) if not file else load_tag(product, Path(file))
            return open_emulated(tag, reader=reader, timeout=timeout)
        if name == "isodep":
            if not file:
                return open_emulated(
                    EmulatedIsoDep(CardApplication()), reader=reader, timeout=timeout
                )
            path = Path(file)
            application = CardApplication(CardState.load(path), on_commit=lambda s: s.save(path))
            return open_emulated(EmulatedIsoDep(application), reader=reader, timeout=timeout)
        raise NoReader(f"the nfc emulators are sim:{', sim:'.join([*_TAGS, 'isodep'])}")
