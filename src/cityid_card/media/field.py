"""A tag or card in an emulated reader's field: what every contactless emulator shares.

Pure: no reader library, no I/O. A driver's emulated reader (the nfc driver's, under
nfcpy) powers an emulator up when it selects it and hands it one frame at a time;
:class:`TagEmulator` is all it needs, :class:`InField` the presence, activation and
frame count the emulators of :mod:`cityid_card.type2.emulator` and
:mod:`cityid_card.iso7816.isodep` share.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["InField", "TagEmulator"]


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


class InField:
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
