"""Generation-2 cards: the card application (emulator), its personalisation, the terminal.

- :mod:`.card`: the card application of ``specs/card-application.md`` v2, an emulated
  card (bytes in, bytes out); :mod:`.chip` a blank chip that becomes a version 1 or a
  generation-2 card;
- :mod:`.terminal`: the terminal session, sans I/O (:func:`disclose`), over the secure
  messaging processor of :mod:`.channel`;
- :mod:`.personalize`: writing a blank card; :mod:`.pki`: the city's CVCA, DVs and
  terminals; :mod:`.security`: the card security object.
"""

from __future__ import annotations

from .card import Gen2Application, Gen2State
from .chip import EmulatedCard, chip_state_from_json
from .datagroups import Holder
from .errors import AccessRefused, NotGeneration2, SecurityObjectInvalid, TerminalRefused, WrongCan
from .personalize import Batch, Gen2Personalised, make_batch, new_can, personalize_gen2
from .terminal import Disclosure, TerminalAccess, disclose

__all__ = [
    "AccessRefused",
    "Batch",
    "Disclosure",
    "EmulatedCard",
    "Gen2Application",
    "Gen2Personalised",
    "Gen2State",
    "Holder",
    "NotGeneration2",
    "SecurityObjectInvalid",
    "TerminalAccess",
    "TerminalRefused",
    "WrongCan",
    "chip_state_from_json",
    "disclose",
    "make_batch",
    "new_can",
    "personalize_gen2",
]
