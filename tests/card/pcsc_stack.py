"""The real PC/SC stack for tests and benchmarks: pcscd with vsmartcard's vpcd reader.

pyscard -> pcscd -> vsmartcard-vpcd -> our emulator, served over vpcd's socket by
:func:`cityid_card.sim_io.serve`. :class:`PcscStack` starts ``pcscd --foreground``
(there is no systemd) and stops it by PID, and puts cards into the vpcd reader.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cityid_card.drivers import ReaderInfo, load_driver
from cityid_card.iso7816 import CardApplication
from cityid_card.iso7816.vpcd import CardLike
from cityid_card.media.errors import MediumError
from cityid_card.sim_io import serve

VPCD_READER = "Virtual PCD 00 00"
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
#: Seconds a start or a card insertion may take (vpcd polls for the card every ~400 ms).
STARTUP = 15.0


class FaultyCard:
    """An emulated card that can be pulled out, hang or babble at a chosen command."""

    def __init__(self, application: CardApplication | None = None) -> None:
        self.application = application or CardApplication()
        self.fault: Callable[[bytes], bytes | None] | None = None
        self.release = threading.Event()

    def process(self, apdu: bytes) -> bytes:
        if self.fault is not None:
            answer = self.fault(apdu)
            if answer is not None:
                return answer
        return self.application.process(apdu)

    def reset(self) -> None:
        self.application.reset()


class Unavailable(Exception):
    """The PC/SC stack cannot run on this machine; the message says why."""


def _pcsc_readers() -> list[ReaderInfo]:
    return load_driver("pcsc").readers()


class PcscStack:
    """pcscd with the vpcd reader, started and stopped by this process."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        pcscd = shutil.which("pcscd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if pcscd is None:
            raise Unavailable("pcscd is not installed (Debian package pcscd)")
        if not VPCD_CONF.exists():
            raise Unavailable("the vpcd reader is not installed (Debian package vsmartcard-vpcd)")
        try:
            load_driver("pcsc")
        except MediumError as error:
            raise Unavailable(f"the pcsc driver is not installed: {error}") from None
        with contextlib.suppress(MediumError):
            _pcsc_readers()
            raise Unavailable("another pcscd is running; stop it to run the PC/SC tests")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [pcscd, "--foreground"], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"pcscd exited with status {self.process.returncode}")
            with contextlib.suppress(MediumError):
                if any(reader.name == VPCD_READER for reader in _pcsc_readers()):
                    return
            time.sleep(0.05)
        self.stop()
        raise Unavailable("pcscd started but shows no vpcd reader")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_card(self, present: bool) -> None:
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            with contextlib.suppress(MediumError):
                readers = {reader.name: reader for reader in _pcsc_readers()}
                if readers[VPCD_READER].card_present == present:
                    return
            time.sleep(0.02)
        raise AssertionError(f"the vpcd reader never showed the card {'in' if present else 'out'}")

    @contextlib.contextmanager
    def card(self, card: CardLike) -> Iterator[threading.Thread]:
        """Put ``card`` into the vpcd reader for the ``with`` block, then pull it out."""
        stop = threading.Event()
        thread = threading.Thread(target=serve, args=(card,), kwargs={"stop": stop}, daemon=True)
        thread.start()
        try:
            self.wait_for_card(present=True)
            yield thread
        finally:
            if isinstance(card, FaultyCard):
                card.fault = None
                card.release.set()
            stop.set()
            thread.join(10)
            if self.running():
                self.wait_for_card(present=False)
