"""Errors of the generation-2 card application, host side: each a card error of the seam.

Messages name the step and the status word, never a CAN, a key or a byte the card sent.
"""

from __future__ import annotations

from cityid_card.iso7816.errors import CardAuthenticationError, CardProtocolError

__all__ = [
    "AccessRefused",
    "NotGeneration2",
    "SecurityObjectInvalid",
    "TerminalRefused",
    "WrongCan",
]


class WrongCan(CardAuthenticationError):
    """PACE failed: the CAN is wrong, or the card refuses PACE for now (throttled).

    The card answers both, and a malformed command, with the same status word, so the
    terminal cannot tell them apart either.
    """


class TerminalRefused(CardAuthenticationError):
    """The card refused the terminal's certificates or signature (Terminal Authentication)."""


class SecurityObjectInvalid(CardAuthenticationError):
    """The card security object is malformed, or no trusted issuer key signed it, or the
    chip did not prove it holds the key that object certifies: the card may be a copy."""


class AccessRefused(CardProtocolError):
    """The card refused a command the terminal's rights entitle it to."""


class NotGeneration2(CardProtocolError):
    """The card does not answer as a generation-2 card (no EF.CardAccess)."""
