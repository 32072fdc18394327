"""The nfc driver: readers nfcpy supports, NTAG21x tags and ISO-DEP cards in their field.

The only module of cityid-card, with the emulator, that imports nfcpy. Opening a
reader URI activates the first tag in the field with nfcpy's own discovery and tag
identification, and hands back one of two connections:

- :class:`Type2Connection` for an NFC Forum Type 2 tag: a
  :class:`~cityid_card.type2.session.TagLink` for the core's tag session (FAST_READ through
  nfcpy's ``transceive``, nfcpy's generic READ path for tags other than NTAG21x, and
  nfcpy's ``protect()`` to lock);
- :class:`IsoDepConnection` for an ISO-DEP (Type 4) card or phone: a plain APDU
  connection for the core's :class:`~cityid_card.iso7816.CardSession`, over nfcpy's
  ISO-DEP block protocol.

nfcpy logs every frame it exchanges at DEBUG level, tag data included: importing this
module raises the ``nfc`` loggers to INFO, so no credential byte reaches a log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import nfc.clf
import nfc.tag
import nfc.tag.tt2
import nfc.tag.tt2_nxp
import nfc.tag.tt4

import nfc
from cityid_card import type2
from cityid_card.drivers import DEFAULT_TIMEOUT, ReaderInfo, describe_kind
from cityid_card.iso7816.apdu import split_response
from cityid_card.iso7816.errors import CardProtocolError, CardRemoved
from cityid_card.media import ISO7816, TYPE2
from cityid_card.media.errors import (
    DriverError,
    NoReader,
    TransportError,
    TransportTimeout,
    UnsupportedMedium,
)
from cityid_card.type2 import Product
from cityid_card.type2.errors import TagProtocolError, TagRemoved, TagWriteError, UnsupportedTag

__all__ = [
    "CountingFrontend",
    "IsoDepConnection",
    "NfcConnection",
    "NfcDriver",
    "NfcReader",
    "Type2Connection",
    "connect_tag",
    "quiet_nfcpy_logging",
]

T = TypeVar("T")

#: Seconds nfcpy waits for a Type 2 tag's answer (a 156-byte FAST_READ takes ~15 ms).
_T2_TIMEOUT = 0.1
_PRODUCTS: dict[type, Product] = {
    nfc.tag.tt2_nxp.NTAG213: type2.NTAG213,
    nfc.tag.tt2_nxp.NTAG215: type2.NTAG215,
    nfc.tag.tt2_nxp.NTAG216: type2.NTAG216,
}
#: Readers nfcpy drives over USB, by vendor and product ID (nfc.clf.device.usb_device_map).
_USB_NAMES = {
    "pn531": "NXP PN531",
    "pn533": "NXP PN533",
    "rcs956": "Sony RC-S956",
    "rcs380": "Sony RC-S380",
    "acr122": "ACS ACR122U",
}


def quiet_nfcpy_logging() -> None:
    """Keep nfcpy's DEBUG records, which carry the bytes exchanged, out of every log."""
    for name in ("nfc", *[n for n in logging.root.manager.loggerDict if n.startswith("nfc.")]):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


quiet_nfcpy_logging()


class CountingFrontend(nfc.ContactlessFrontend):  # type: ignore[misc]  # nfcpy is untyped
    """nfcpy's ContactlessFrontend, counting the frames and bytes exchanged with tags."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.sent = 0
        self.received = 0

    def exchange(self, send_data: Any, timeout: float) -> Any:
        self.frames += 1
        self.sent += len(send_data)
        data = super().exchange(send_data, timeout)
        if data is not None:
            self.received += len(data)
        return data


def _after_one_pass() -> Callable[[], bool]:
    """A ``terminate`` callback that lets nfcpy's connect() loop run exactly once."""
    passes = iter((False,))
    return lambda: next(passes, True)


def _activate(clf: CountingFrontend, timeout: float) -> Any:
    """The first tag nfcpy activates within ``timeout`` seconds (one pass at least)."""
    deadline = time.monotonic() + timeout
    while True:
        found = clf.connect(
            rdwr={"on-connect": lambda tag: False, "iterations": 1, "beep-on-connect": False},
            terminate=_after_one_pass(),
        )
        if found is False:
            raise TransportError("the NFC reader stopped working (nfcpy reported an I/O error)")
        if found is not None:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReader("no tag or card answered in the reader's field")
        time.sleep(min(0.1, left))


class NfcConnection:
    """What both kinds of NFC connection share: the reader, the UID, the frame count.

    Closing it ends this tap; the frontend is closed too only if the connection owns it
    (opened by :meth:`NfcDriver.open`), not if an :class:`NfcReader` kept open lent it.
    """

    #: The link kind (``type2`` or ``iso7816``), set by each subclass.
    kind: str

    def __init__(
        self, clf: CountingFrontend, tag: Any, reader: str, *, owns_frontend: bool = True
    ) -> None:
        self._clf = clf
        self._tag = tag
        self._reader = reader
        self._owns_frontend = owns_frontend
        self._closed = False

    @property
    def reader(self) -> str:
        return self._reader

    @property
    def uid(self) -> bytes:
        """The UID (NFCID1) the tag or card answered anticollision with."""
        return bytes(self._tag.identifier)

    @property
    def frames(self) -> int:
        """Frames exchanged with the tag since the reader was opened, activation included."""
        return int(self._clf.frames)

    @property
    def bytes_moved(self) -> tuple[int, int]:
        """Bytes sent to and received from the tag so far."""
        return int(self._clf.sent), int(self._clf.received)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._owns_frontend:
                self._clf.close()


class Type2Connection(NfcConnection):
    """An NFC Forum Type 2 tag in the field: the TagLink the core's tag session uses."""

    kind = TYPE2

    def __init__(
        self, clf: CountingFrontend, tag: Any, reader: str, *, owns_frontend: bool = True
    ) -> None:
        super().__init__(clf, tag, reader, owns_frontend=owns_frontend)
        self._product = _PRODUCTS.get(type(tag))
        self._memory = nfc.tag.tt2.Type2TagMemoryReader(tag)
        self._max_response = int(clf.max_recv_data_size)

    @property
    def product(self) -> Product | None:
        return self._product

    @property
    def nfcpy_product(self) -> str:
        """nfcpy's name for the tag (e.g. "NXP NTAG213", "Mifare Ultralight (MF01CU1)")."""
        return str(self._tag.product)

    @property
    def max_response(self) -> int:
        return self._max_response

    def _call(self, doing: str, function: Callable[[], T]) -> T:
        if self._closed:
            raise TransportError("the connection is closed")
        try:
            return function()
        except nfc.tag.tt2.Type2TagCommandError as error:
            if error.errno == nfc.tag.TIMEOUT_ERROR:
                raise TagRemoved(f"the tag stopped answering while {doing}") from None
            raise TagProtocolError(
                f"the tag's answer was unusable while {doing} (nfcpy: {error})"
            ) from None
        except nfc.clf.CommunicationError as error:
            raise TagRemoved(
                f"the tag stopped answering while {doing} ({type(error).__name__})"
            ) from None
        except OSError as error:
            raise TransportError(
                f"the NFC reader failed while {doing} ({error.strerror})"
            ) from None

    def command(self, frame: bytes) -> bytes:
        answer = bytes(
            self._call(
                "exchanging a command", lambda: self._tag.transceive(frame, timeout=_T2_TIMEOUT)
            )
        )
        if len(answer) == 1 and answer[0] != type2.ACK:
            self._wake()
        return answer

    def _wake(self) -> None:
        """After a NAK the tag is idle: select it again by its UID, as nfcpy's read() does."""
        target = self._tag.target
        target.sel_req = target.sdd_res[:]
        # nfcpy keeps the target privately; its own Type2Tag.read() re-senses the same way.
        self._tag._target = self._call("waking the tag", lambda: self._clf.sense(target))
        if self._tag.target is None:
            raise TagRemoved("the tag did not wake up again after refusing a command")

    def read_generic(self, start: int, stop: int) -> bytes:
        return bytes(self._call("reading memory", lambda: self._memory[start:stop]))

    def protect(self) -> None:
        if self._call("locking the tag", lambda: self._tag.protect()) is not True:
            raise TagWriteError("the tag refused to be locked")


class IsoDepConnection(NfcConnection):
    """An ISO-DEP card or phone in the field: APDUs over nfcpy's ISO/IEC 14443-4."""

    kind = ISO7816

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._closed:
            raise TransportError("the connection is closed")
        try:
            response = self._tag.transceive(bytearray(apdu))
        except nfc.tag.tt4.Type4TagCommandError as error:
            if error.errno == nfc.tag.TIMEOUT_ERROR:
                raise CardRemoved("the card stopped answering: it left the field") from None
            raise CardProtocolError(
                f"the card broke the ISO-DEP protocol (nfcpy: {error})"
            ) from None
        except nfc.clf.TimeoutError:
            raise TransportTimeout("the card did not answer in time") from None
        except nfc.clf.CommunicationError as error:
            raise CardRemoved(f"the card stopped answering ({type(error).__name__})") from None
        except OSError as error:
            raise TransportError(f"the NFC reader failed ({error.strerror})") from None
        if response is None:
            raise CardRemoved("the card answered nothing: it left the field")
        return split_response(bytes(response))


_KINDS = {nfc.tag.tt2.Type2Tag: TYPE2, nfc.tag.tt4.Type4Tag: ISO7816}


def _link_kind(tag: Any) -> str | None:
    """The link kind of an activated nfcpy tag: type2, iso7816, or None (another type)."""
    return next((kind for cls, kind in _KINDS.items() if isinstance(tag, cls)), None)


def _wrap(
    clf: CountingFrontend, tag: Any, reader: str, kind: str | None, *, owns_frontend: bool
) -> NfcConnection:
    found = _link_kind(tag)
    if found is None:
        raise UnsupportedTag(
            f"the tag in {reader} is an {tag.type}: only Type 2 tags and ISO-DEP cards are read"
        )
    if kind is not None and found != kind:
        raise UnsupportedMedium(
            f"the reader holds {describe_kind(found)}, not {describe_kind(kind)}"
        )
    if found == TYPE2:
        return Type2Connection(clf, tag, reader, owns_frontend=owns_frontend)
    return IsoDepConnection(clf, tag, reader, owns_frontend=owns_frontend)


def connect_tag(
    clf: CountingFrontend, reader: str, *, timeout: float, kind: str | None = None
) -> NfcConnection:
    """Activate the tag in ``clf``'s field and wrap it, owning ``clf``; close it on failure."""
    quiet_nfcpy_logging()
    try:
        return _wrap(clf, _activate(clf, timeout), reader, kind, owns_frontend=True)
    except BaseException:
        clf.close()
        raise


class NfcReader:
    """An NFC reader kept open between taps: one nfcpy frontend, one connection per tap.

    :meth:`open_connection` waits for the next tag or card in the field; closing that
    connection ends the tap and leaves the frontend open for the next. Close the reader
    when done. A gate or a desk keeps one, instead of opening the USB device per tap.
    """

    def __init__(self, clf: CountingFrontend, name: str) -> None:
        self._clf = clf
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def frontend(self) -> CountingFrontend:
        """The nfcpy frontend, the same for every tap (its counters run on)."""
        return self._clf

    def open_connection(
        self, *, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> NfcConnection:
        """The tag or card in the field, as a link of ``kind`` if given."""
        quiet_nfcpy_logging()
        return _wrap(
            self._clf, _activate(self._clf, timeout), self._name, kind, owns_frontend=False
        )

    def close(self) -> None:
        self._clf.close()


def _open_frontend(path: str) -> CountingFrontend:
    clf = CountingFrontend()
    try:
        opened = clf.open(path)
    except OSError as error:
        raise DriverError(
            f"nfcpy cannot open the reader at {path!r} ({error.strerror or error})"
        ) from None
    except Exception as error:  # nfcpy raises plain exceptions for bad paths
        raise NoReader(f"nfcpy cannot open {path!r} ({type(error).__name__})") from None
    if not opened:
        raise NoReader(f"nfcpy found no NFC reader at {path!r}")
    return clf


class NfcDriver:
    """The ``nfc`` driver: ``nfc:<nfcpy path>``, e.g. ``nfc:usb``, ``nfc:tty:USB0:pn532``.

    The target is nfcpy's device path (``usb``, ``usb:054c:06c3``, ``usb:001:023``,
    ``tty:AMA0:pn532``, ``udp``); empty means ``usb``, the first USB reader.
    """

    def readers(self) -> list[ReaderInfo]:
        from nfc.clf import device, transport

        try:
            found = transport.USB.find("usb") or []
        except Exception as error:  # libusb missing or no USB access: say which
            raise DriverError(
                f"nfcpy cannot look for USB readers ({type(error).__name__}: {error})"
            ) from None
        readers = []
        for vid, pid, bus, dev in found:
            module = device.usb_device_map.get((vid, pid))
            if module is not None:
                path = f"usb:{bus:03}:{dev:03}"
                readers.append(ReaderInfo(f"nfc:{path}", _USB_NAMES.get(module, module), False))
        return readers

    def reader(self, target: str) -> NfcReader:
        """The reader at nfcpy path ``target``, kept open between taps."""
        path = target or "usb"
        return NfcReader(_open_frontend(path), f"nfc:{path}")

    def open(
        self, target: str, *, timeout: float = DEFAULT_TIMEOUT, kind: str | None = None
    ) -> NfcConnection:
        path = target or "usb"
        return connect_tag(_open_frontend(path), f"nfc:{path}", timeout=timeout, kind=kind)
