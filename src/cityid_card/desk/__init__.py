"""At the desk and the gate: display policies, a reader loop, a local verification service.

:mod:`.policy` decides what a venue sees of a verified card (:mod:`.result` reads any
kind of result); :func:`watch` (:mod:`.loop`) yields an event when a card comes into a
reader and when it leaves, reading sealed NFC tags and generation-2 cards with what
staff scan from the card face (:mod:`.faces`); :mod:`.refresh`
keeps status lists current; :mod:`.ils` makes a library patron record, with consent.
The service (``cityid-card serve``, :mod:`.service` and the staff page in ``static/``)
needs the ``desk`` extra (``pip install "cityid-card[desk]"``) and is not imported here.

Unlike the core, this package is an edge: the loop polls readers, the refresher reads
folders and fetches URLs, the service listens on a socket.
"""

from __future__ import annotations

from .faces import Can, FaceBox, FaceSource, NotACan, NotAFaceCode, NotASealKey, SealKey
from .loop import (
    Arrival,
    CanRequired,
    FaceScanRequired,
    ReaderEvent,
    Removal,
    SealKeyRequired,
    TerminalRequired,
    event_json,
    watch,
)
from .policy import (
    DEFAULT_POLICY,
    POLICIES,
    Policy,
    PolicyError,
    PolicyMismatch,
    age_on,
    get_policy,
    policy_for_role,
)
from .result import CardResult, Known, known

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "Arrival",
    "Can",
    "CanRequired",
    "CardResult",
    "FaceBox",
    "FaceScanRequired",
    "FaceSource",
    "Known",
    "NotACan",
    "NotAFaceCode",
    "NotASealKey",
    "Policy",
    "PolicyError",
    "PolicyMismatch",
    "ReaderEvent",
    "Removal",
    "SealKey",
    "SealKeyRequired",
    "TerminalRequired",
    "age_on",
    "event_json",
    "get_policy",
    "known",
    "policy_for_role",
    "watch",
]
