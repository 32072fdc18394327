"""An emulated chip that becomes a version 1 or a generation-2 card at personalisation.

A blank card answers both applications: SELECT of the version 1 AID reaches the
version 1 application (:class:`~cityid_card.iso7816.applet.CardApplication`), SELECT of
the generation-2 AID the generation-2 one (:class:`.card.Gen2Application`). The first
change either makes decides what the card is for good; from then on the other
application is gone, and a generation-2 card answers at the master file, without
SELECT, as an eID card does. It *is* a ``CardApplication``, so every driver and test
that drives a version 1 emulated card drives this one unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from cityid_card.iso7816.apdu import AID as V1_AID
from cityid_card.iso7816.applet import CardApplication, CardState
from cityid_card.media.errors import MediumError

from .card import STATE_FORMAT, Gen2Application, Gen2State, Rng
from .constants import AID

__all__ = ["ChipState", "EmulatedCard", "chip_state_from_json"]

ChipState = CardState | Gen2State


def chip_state_from_json(document: Any) -> ChipState:
    """A version 1 or a generation-2 state, by the ``format`` the document names."""
    if isinstance(document, dict) and document.get("format") == STATE_FORMAT:
        return Gen2State.from_json(document)
    if not isinstance(document, dict):
        raise MediumError("not an emulated card state file")
    return CardState.from_json(document)


class EmulatedCard(CardApplication):
    """A blank emulated chip, or the card it was personalised as (see the module docstring).

    ``on_commit`` sees every new state, of either generation.
    """

    def __init__(
        self,
        state: ChipState | None = None,
        *,
        on_commit: Callable[[ChipState], None] | None = None,
        rng: Rng = secrets.token_bytes,
    ) -> None:
        self._chip_commit = on_commit
        v1_state = state if isinstance(state, CardState) else None
        super().__init__(v1_state, on_commit=self._v1_committed)
        gen2_state = state if isinstance(state, Gen2State) else None
        self._gen2 = Gen2Application(gen2_state, on_commit=self._gen2_committed, rng=rng)
        if gen2_state is not None and not gen2_state.blank:
            self._generation = 2
        elif v1_state is not None and v1_state != CardState():
            self._generation = 1
        else:
            self._generation = 0
        self._v1_selected = False

    @property
    def generation(self) -> int:
        """1 or 2 once personalised; 0 while blank."""
        return self._generation

    @property
    def chip_state(self) -> ChipState:
        """The persistent state of the application the card is (a version 1 one if blank)."""
        return self._gen2.state if self._generation == 2 else self.state

    @property
    def gen2(self) -> Gen2Application:
        return self._gen2

    def _v1_committed(self, state: CardState) -> None:
        self._generation = 1
        if self._chip_commit is not None:
            self._chip_commit(state)

    def _gen2_committed(self, state: Gen2State) -> None:
        self._generation = 2
        if self._chip_commit is not None:
            self._chip_commit(state)

    def reset(self) -> None:
        super().reset()
        self._gen2.reset()
        self._v1_selected = False

    def _to_v1(self, apdu: bytes) -> bool:
        if self._generation:
            return self._generation == 1
        if len(apdu) >= 5 and apdu[1] == 0xA4 and apdu[0] == 0x00:
            data = apdu[5 : 5 + apdu[4]]
            if data == V1_AID:
                self._v1_selected = True
            elif data == AID:
                self._v1_selected = False
        return self._v1_selected

    def process(self, apdu: bytes) -> bytes:
        if self._to_v1(apdu):
            return super().process(apdu)
        return self._gen2.process(apdu)

    def tear(self, apdu: bytes) -> None:
        if self._to_v1(apdu):
            super().tear(apdu)
        else:
            self._gen2.tear(apdu)
            super().reset()
