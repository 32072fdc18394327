"""Display policies per venue: what a desk or a gate shows of a verified card.

A verification result holds everything the card carries: name, date of birth, gender,
dates and the status index. A venue needs far less. A :class:`Policy` turns a result
into exactly the fields that venue may see, as a JSON-ready dict with ``valid`` and the
allowed keys, and a rejection into ``valid: false`` and the error's type name, nothing
personal. No policy ever shows the status index (a tracking identifier).

=============  ===========================================================
policy         fields
=============  ===========================================================
``library``    ``name``, ``expires``, ``pseudonym`` (the default of the CLI and the service)
``museum``     ``pseudonym``
``transit``    nothing but ``valid``
``age-check``  ``age_over_N`` (N = 21 unless given: ``age-check:18``)
``benefits``   ``name``, ``date_of_birth``, ``gender``, ``expires``
=============  ===========================================================

A ``pseudonym`` is the venue pseudonym of a generation-2 chip card (hex); version 1
cards have none. For a QR code or an NFC tag the host reads every field and the policy
only filters what it shows; a generation-2 chip card enforces its roles itself and
never sends the fields a role may not read, and the policy shows what it allows of
what the chip granted (docs/verifying.md, "Display policies").

Pure functions: the date an age is computed on is an argument (the edge passes the
desk computer's local calendar date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from cityid_card.errors import CityIDError

from .result import CardResult, age_on, known, rejection

__all__ = [
    "DEFAULT_AGE",
    "DEFAULT_POLICY",
    "FIELDS",
    "POLICIES",
    "Policy",
    "PolicyError",
    "PolicyMismatch",
    "Shown",
    "age_on",
    "get_policy",
    "policy_for_role",
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


class PolicyMismatch(PolicyError):
    """The display policy asks for more than the terminal's role may learn (or another age)."""


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

    def show(self, result: CardResult, today: date) -> Shown:
        """The fields of a checked ``result`` this policy allows, ``today`` the local date.

        ``result`` is any result the desk gets (:data:`~cityid_card.desk.result.CardResult`):
        the fields shown are those the policy allows AND the result knows; a
        generation-2 card knows only what its terminal was granted. ``pseudonym`` (hex)
        comes only from a generation-2 card. A generation-2 card that says it is not
        valid on its date shows as :meth:`reject` of Expired.
        """
        facts = known(result)
        error = rejection(result)
        if error is not None:
            return self.reject(error)
        shown: Shown = {"valid": True}
        for label, value in facts.fields.items():
            if label in self.fields:
                shown[label] = value
        if self.min_age is not None:
            shown[f"age_over_{self.min_age}"] = facts.age_over(self.min_age, today)
        return shown

    def reject(self, error: BaseException) -> Shown:
        """What a rejection shows under any policy: ``valid: false`` and the error's name."""
        return {"valid": False, "error": type(error).__name__}


_POLICIES: Mapping[str, frozenset[str]] = {
    "library": frozenset({"name", "expires", "pseudonym"}),
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


def policy_for_role(role: str, age: int | None, spec: str | None = None) -> Policy:
    """The policy of a desk whose generation-2 terminal has ``role`` (and checks ``age``).

    Without ``spec`` the policy is the role's own (``age-check:N`` for an age-check
    terminal of age N). With ``spec`` that policy, if it names the role: a library
    terminal cannot serve a benefits display, an age-check display must ask the age the
    terminal asks. Raises PolicyError for a bad ``spec``, PolicyMismatch for another role.
    """
    own = f"{role}:{age}" if role == "age-check" and age is not None else role
    policy = get_policy(own if spec is None else spec)
    if policy.name != role or policy.min_age != (age if role == "age-check" else None):
        raise PolicyMismatch(
            f"the display policy {policy.name} does not match the terminal's role {role}"
            + (f" (age {age})" if role == "age-check" else "")
            + ": use a terminal certificate of the policy's role, or leave --policy out"
        )
    return policy
