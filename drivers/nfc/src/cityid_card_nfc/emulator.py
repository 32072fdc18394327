"""An emulated reader that nfcpy drives like real hardware.

:class:`EmulatedReader` is an nfcpy device driver (a subclass of ``nfc.clf.device.Device``):
put it under a real ``nfc.ContactlessFrontend`` and nfcpy's own code activates the
tag, identifies it (GET_VERSION), reads and writes NDEF and runs ``protect()``, frame by
frame, against an emulated NTAG21x or an emulated ISO-DEP card.

The emulators themselves are the core's, pure and usable without nfcpy:
:class:`cityid_card.type2.emulator.EmulatedNtag` and
:class:`cityid_card.iso7816.isodep.EmulatedIsoDep`; this module is only the nfcpy
device seam. Nothing here logs.
"""

from __future__ import annotations

from typing import Any

import nfc.clf
import nfc.clf.device

from cityid_card.media.field import TagEmulator

__all__ = ["EmulatedReader"]


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
