"""Display policies per venue: what a desk or a gate shows of a verified card.

A verification result holds everything the card carries: name, date of birth, gender,
dates and the status index. A venue needs far less. A :class:`Policy` turns a result
into exactly the fields that venue may see, as a JSON-ready dict with ``valid`` and the
allowed keys, and a rejection into ``valid: false`` and the error's type name, nothing
personal. No policy ever shows the status index (a tracking identifier).

=============  ===========================================================
policy         fields
=============  ===========================================================
``library``    ``name``, ``expires`` (the default of the CLI and the service)
``museum``     ``pseudonym`` (the venue pseudonym of a generation-2 card)
``transit``    nothing but ``valid``
``age-check``  ``age_over_N`` (N = 21 unless given: ``age-check:18``)
``benefits``   ``name``, ``date_of_birth``, ``gender``, ``expires``
=============  ===========================================================

For a QR code or an NFC tag the host reads every field and the policy only filters what
it shows; a generation-2 chip card enforces its roles itself and never sends the
fields a role may not read (docs/verifying.md, "Display policies").

Pure functions: the date an age is computed on is an argument (the edge passes the
desk computer's local calendar date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Protocol

from cityid_card.credential import Credential
from cityid_card.errors import CityIDError

__all__ = [
    "DEFAULT_AGE",
    "DEFAULT_POLICY",
    "FIELDS",
    "POLICIES",
    "Policy",
    "PolicyError",
    "Shown",
    "age_on",
    "get_policy",
]

#: The age an ``age-check`` without a number checks for.
DEFAULT_AGE: Final = 21
#: The policy of ``cityid-card watch`` and ``cityid-card serve`` unless --policy says otherwise.
DEFAULT_POLICY: Final = "library"
#: Every field any policy may show, besides ``valid`` and the age answer ``age_over_N``.
FIELDS: Final = frozenset({"name", "date_of_birth", "gender", "expires", "pseudonym"})
_MAX_AGE = 150

#: What a policy returns: ``valid`` and the fields it allows, JSON-ready.
Shown = dict[str, Any]


class PolicyError(CityIDError):
    """A display policy name that does not exist, or an age-check age out of range."""


class _Result(Protocol):
    """What a policy reads: a verification result (of a file, a QR code, a tag or a card)."""

    @property
    def credential(self) -> Credential: ...


@dataclass(frozen=True)
class Policy:
    """A venue's display policy: which fields it shows; for an age check, the age."""

    name: str
    fields: frozenset[str]
    #: For ``age-check``: the age the holder must have reached; None for the others.
    min_age: int | None = None

    @property
    def keys(self) -> frozenset[str]:
        """Every key :meth:`show` may return."""
        age = set() if self.min_age is None else {f"age_over_{self.min_age}"}
        return frozenset({"valid", *self.fields, *age})

    def show(self, result: _Result, today: date) -> Shown:
        """The fields of a verified ``result`` this policy allows, ``today`` the local date.

        ``pseudonym`` is present only when the result carries one (a generation-2 card's
        venue pseudonym, as bytes in its ``pseudonym`` attribute), as hex.
        """
        credential = result.credential
        shown: Shown = {"valid": True}
        if "name" in self.fields:
            shown["name"] = credential.name
        if "date_of_birth" in self.fields:
            shown["date_of_birth"] = credential.date_of_birth.isoformat()
        if "gender" in self.fields:
            shown["gender"] = credential.gender
        if "expires" in self.fields:
            shown["expires"] = credential.expires.isoformat()
        if "pseudonym" in self.fields:
            pseudonym = getattr(result, "pseudonym", None)
            if isinstance(pseudonym, bytes | bytearray):
                shown["pseudonym"] = bytes(pseudonym).hex()
        if self.min_age is not None:
            old_enough = age_on(credential.date_of_birth, today) >= self.min_age
            shown[f"age_over_{self.min_age}"] = old_enough
        return shown

    def reject(self, error: BaseException) -> Shown:
        """What a rejection shows under any policy: ``valid: false`` and the error's name."""
        return {"valid": False, "error": type(error).__name__}


_POLICIES: Mapping[str, frozenset[str]] = {
    "library": frozenset({"name", "expires"}),
    "museum": frozenset({"pseudonym"}),
    "transit": frozenset(),
    "age-check": frozenset(),
    "benefits": frozenset({"name", "date_of_birth", "gender", "expires"}),
}
#: The policy names (``age-check`` also as ``age-check:N``).
POLICIES: Final = tuple(_POLICIES)


def get_policy(spec: str = DEFAULT_POLICY) -> Policy:
    """The policy ``spec`` names: a name of :data:`POLICIES`, or ``age-check:N``.

    Raises PolicyError for an unknown name or an age outside 1 to 150.
    """
    name, colon, age_text = spec.partition(":")
    if name not in _POLICIES or (colon and name != "age-check"):
        raise PolicyError(
            f"no such display policy (the policies are {', '.join(POLICIES)}, age-check:N)"
        )
    if name != "age-check":
        return Policy(name, _POLICIES[name])
    age = DEFAULT_AGE
    if colon:
        if not age_text.isascii() or not age_text.isdigit() or len(age_text) > 3:
            raise PolicyError("age-check:N takes a whole number of years, e.g. age-check:18")
        age = int(age_text)
    if not 1 <= age <= _MAX_AGE:
        raise PolicyError(f"age-check:N takes an age from 1 to {_MAX_AGE}")
    return Policy(name, _POLICIES[name], age)


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
