"""What a desk knows of a checked card, whatever checked it: the one adapter, in one place.

A card reaches the desk as one of three results: a :class:`~cityid_card.verifier.VerifiedCredential`
(a QR code or a file, through :func:`~cityid_card.verify`), a
:class:`~cityid_card.media.Verification` (a tag or a version 1 card, through the medium
seam) or a :class:`~cityid_card.iso7816.gen2.Disclosure` (a generation-2 chip card,
through its terminal session). The first two carry the whole signed credential; the
third only what the terminal's role was granted, with the chip's one-bit answers.
:func:`known` turns any of them into a :class:`Known`, which is all the display
policies, the reader loop's events and the library hand-off read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from cityid_card.errors import CityIDError, Expired
from cityid_card.iso7816.gen2 import Disclosure
from cityid_card.media import Authenticity, Verification
from cityid_card.verifier import VerifiedCredential

__all__ = ["CardResult", "Known", "age_on", "known", "rejection"]

#: What the desk is handed for a card that checked out (see the module docstring).
CardResult = VerifiedCredential | Verification | Disclosure

#: The order fields are shown in.
_ORDER: Final = ("name", "date_of_birth", "gender", "expires", "pseudonym")


@dataclass(frozen=True)
class Known:
    """The fields a result knows, JSON-ready, and how it answers an age question.

    ``fields`` holds, in display order, each field the result knows (for a
    generation-2 card: each its terminal was granted): ``name``, ``gender``, the dates
    as ISO text, the ``pseudonym`` as hex. A field the card leaves empty (no gender) is
    known, with the value None. repr shows no value.
    """

    fields: Mapping[str, Any] = field(repr=False)
    #: Whether the card is valid on the day it was checked (a generation-2 card says so
    #: itself; a verified credential always is: its verification checked the dates).
    valid: bool
    authenticity: Authenticity | None
    date_of_birth: date | None = field(default=None, repr=False)
    #: A generation-2 card's one-bit answer: the age asked about, and the answer.
    age_answer: tuple[int, bool | None] | None = field(default=None, repr=False)

    def age_over(self, years: int, today: date) -> bool | None:
        """Whether the holder is ``years`` old or older on ``today``; None: not known.

        From the date of birth when the result has it; from the chip's answer when the
        chip was asked about exactly ``years``; else None (the desk cannot tell).
        """
        if self.date_of_birth is not None:
            return age_on(self.date_of_birth, today) >= years
        if self.age_answer is not None and self.age_answer[0] == years:
            return self.age_answer[1]
        return None


def known(result: CardResult) -> Known:
    """What ``result`` tells the desk (the only place that looks at which kind it is)."""
    if isinstance(result, Disclosure):
        every = {
            "name": result.name,
            "date_of_birth": _iso(result.date_of_birth),
            "gender": result.gender,
            "expires": _iso(result.expires),
            "pseudonym": None if result.pseudonym is None else result.pseudonym.hex(),
        }
        answer = None
        if "age" in result.granted and result.age is not None:
            answer = (result.age, result.age_over)
        return Known(
            {label: every[label] for label in _ORDER if label in result.granted},
            valid=result.valid,
            authenticity=result.authenticity,
            date_of_birth=result.date_of_birth if "date_of_birth" in result.granted else None,
            age_answer=answer,
        )
    credential = result.credential
    return Known(
        {
            "name": credential.name,
            "date_of_birth": credential.date_of_birth.isoformat(),
            "gender": credential.gender,
            "expires": credential.expires.isoformat(),
        },
        valid=True,
        authenticity=result.authenticity if isinstance(result, Verification) else None,
        date_of_birth=credential.date_of_birth,
    )


def rejection(result: CardResult) -> CityIDError | None:
    """The error a desk reports for a result that is not valid on its date; else None.

    A generation-2 card proves it is genuine and answers, for roles that may ask,
    whether it is valid today: a card that says no is reported as :class:`Expired`,
    as a version 1 card past its expiry date is.
    """
    if known(result).valid:
        return None
    return Expired("the chip says the card is not valid on this date")


def age_on(date_of_birth: date, today: date) -> int:
    """Whole years of age on ``today`` (a local calendar date).

    A birthday on 29 February falls on 1 March in common years: someone born on
    2004-02-29 is 20 on 2025-02-28 and 21 on 2025-03-01, the reading most age laws
    take and the one that never lets a check pass a day early.
    """
    years = today.year - date_of_birth.year
    if (today.month, today.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
