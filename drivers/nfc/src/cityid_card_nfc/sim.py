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
from cityid_card.iso7816.gen2.chip import EmulatedCard
from cityid_card.iso7816.isodep import EmulatedIsoDep
from cityid_card.media.errors import MediumError, NoReader
from cityid_card.media.field import TagEmulator
from cityid_card.sim_io import card_in_file
from cityid_card.type2.emulator import EmulatedNtag

from .driver import CountingFrontend, NfcConnection, NfcReader, connect_tag
from .emulator import EmulatedReader

__all__ = ["NfcSimDriver", "emulated_reader", "load_tag", "open_emulated"]

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
        raise MediumError(
            f"{os.fspath(path)} is not an {product.name} image "
            f"({product.pages * type2.PAGE_SIZE} bytes, page 0 first)"
        )
    return EmulatedNtag(product, memory, on_commit=save)


def open_emulated(
    tag: TagEmulator | None,
    *,
    reader: str = "sim",
    timeout: float = 0.0,
    max_recv: int = 262,
    kind: str | None = None,
) -> NfcConnection:
    """Put ``tag`` in a fresh emulated reader under nfcpy and activate it."""
    return connect_tag(_frontend(tag, reader, max_recv), reader, timeout=timeout, kind=kind)


def emulated_reader(
    tag: TagEmulator | None, *, name: str = "sim", max_recv: int = 262
) -> NfcReader:
    """An emulated reader kept open between taps, with ``tag`` in its field.

    Put another tag in the field with ``reader.frontend.device.tag = other``.
    """
    return NfcReader(_frontend(tag, name, max_recv), name)


def _frontend(tag: TagEmulator | None, name: str, max_recv: int) -> CountingFrontend:
    clf = CountingFrontend()
    clf.device = EmulatedReader(tag, path=name, max_recv=max_recv)
    return clf


class NfcSimDriver:
    """The emulated NFC readers of the ``sim`` scheme (see the module's description)."""

    def readers(self) -> list[ReaderInfo]:
        tags = [
            ReaderInfo(f"sim:{name}", f"emulated NXP {product.name} under nfcpy", True)
            for name, product in _TAGS.items()
        ]
        card = ReaderInfo("sim:isodep", "emulated ISO-DEP cityid-card under nfcpy", True)
        return [*tags, card]

    def _emulator(self, target: str) -> TagEmulator:
        name, _, file = target.partition(":")
        if name in _TAGS:
            product = _TAGS[name]
            return EmulatedNtag(product) if not file else load_tag(product, Path(file))
        if name == "isodep":
            if not file:
                return EmulatedIsoDep(EmulatedCard())
            return EmulatedIsoDep(card_in_file(file))
        raise NoReader(f"the nfc emulators are sim:{', sim:'.join([*_TAGS, 'isodep'])}")

    def reader(self, target: str) -> NfcReader:
        """The emulated reader ``target`` names, kept open between taps (the same tag)."""
        return emulated_reader(self._emulator(target), name=f"sim:{target}")

    def open(
        self, target: str, *, timeout: float = DEFAULT_TIMEOUT, kind: str | None = None
    ) -> NfcConnection:
        return open_emulated(
            self._emulator(target), reader=f"sim:{target}", timeout=timeout, kind=kind
        )
