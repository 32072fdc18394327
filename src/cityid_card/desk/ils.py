"""Hand a patron's registration to the library's system (ILS), with the patron's consent.

From what the ``library`` display policy shows of a verified card (never more), this
builds a patron record in the shape Koha takes: a row of Koha's patron import CSV
(Tools > Import patrons) and the body of Koha's REST API ``POST /api/v1/patrons``.
It carries the name and, from a generation-2 card read by a library terminal, the
card's library pseudonym as the extended patron attribute :data:`PSEUDONYM_ATTRIBUTE`
(the CSV's ``patron_attributes`` column, ``CITYID:<hex>``; the REST body's
``extended_attributes``), so a returning patron is found again without a card number
or a date of birth, plus the branch and patron category the library chooses.

The card has one name field, the name the holder chose to have printed: it goes to
``surname`` whole, because no rule splits every name into first and family names
correctly; staff can correct it in the ILS with the patron.

Nothing is written here: the caller hands the text to the ILS or to staff, and only
after the patron said yes (``consent=True``; without it ConsentRequired is raised).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cityid_card.errors import CityIDError

__all__ = [
    "KOHA_CSV_COLUMNS",
    "PSEUDONYM_ATTRIBUTE",
    "ConsentRequired",
    "IlsError",
    "KohaPatron",
    "koha_code",
    "koha_csv",
    "koha_patron",
]

#: The columns of the CSV, as Koha's patron import names them (a subset: Koha fills the rest).
KOHA_CSV_COLUMNS: Final = (
    "surname",
    "firstname",
    "branchcode",
    "categorycode",
    "patron_attributes",
)
#: The code of the extended patron attribute type that holds the library pseudonym;
#: the library creates it in Koha (Administration > Patron attribute types), unique.
PSEUDONYM_ATTRIBUTE: Final = "CITYID"
#: CSV cells a spreadsheet would run as a formula start with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class IlsError(CityIDError):
    """A patron record cannot be built: no valid card, no name shown, a bad library code."""


class ConsentRequired(IlsError):
    """The patron has not agreed to the hand-off (``consent`` was not True)."""


@dataclass(frozen=True)
class KohaPatron:
    """One patron record for Koha."""

    surname: str
    branchcode: str
    categorycode: str
    #: The library pseudonym (hex) of a generation-2 card, or None.
    pseudonym: str | None = None

    def csv_row(self) -> dict[str, str]:
        """The row of Koha's patron import CSV (see :data:`KOHA_CSV_COLUMNS`)."""
        attributes = "" if self.pseudonym is None else f"{PSEUDONYM_ATTRIBUTE}:{self.pseudonym}"
        return {
            "surname": _cell(self.surname),
            "firstname": "",
            "branchcode": self.branchcode,
            "categorycode": self.categorycode,
            "patron_attributes": attributes,
        }

    def rest_body(self) -> dict[str, Any]:
        """The JSON body of Koha's ``POST /api/v1/patrons``."""
        body: dict[str, Any] = {
            "surname": self.surname,
            "library_id": self.branchcode,
            "category_id": self.categorycode,
        }
        if self.pseudonym is not None:
            body["extended_attributes"] = [{"type": PSEUDONYM_ATTRIBUTE, "value": self.pseudonym}]
        return body


def koha_code(value: str, what: str) -> str:
    """``value`` if it is a Koha branch or category code; IlsError if not."""
    if not value or len(value) > 10 or not value.isascii() or not value.replace("_", "").isalnum():
        raise IlsError(f"the Koha {what} must be 1 to 10 letters, digits or underscores")
    return value


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def koha_patron(
    shown: Mapping[str, Any], *, branchcode: str, categorycode: str, consent: bool
) -> KohaPatron:
    """The Koha patron record for what a display policy showed of a verified card.

    ``shown`` is :meth:`~cityid_card.desk.Policy.show`'s result under a policy that
    shows the name (``library`` or ``benefits``); of it only the name and the pseudonym
    are used. Raises ConsentRequired unless ``consent`` is True, IlsError for a
    rejected card, a policy without the name, or a malformed branch or category code.
    """
    if consent is not True:
        raise ConsentRequired("the patron has not agreed to be registered with the library")
    if shown.get("valid") is not True:
        raise IlsError("only a card that verified can be handed to the library system")
    name = shown.get("name")
    if not isinstance(name, str):
        raise IlsError("the display policy does not show the name (use the library policy)")
    pseudonym = shown.get("pseudonym")
    return KohaPatron(
        surname=name,
        branchcode=koha_code(branchcode, "branch code"),
        categorycode=koha_code(categorycode, "patron category code"),
        pseudonym=pseudonym if isinstance(pseudonym, str) else None,
    )


def koha_csv(patrons: Iterable[KohaPatron]) -> str:
    """Koha's patron import CSV: a header line and one line per patron (UTF-8 text)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=KOHA_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for patron in patrons:
        writer.writerow(patron.csv_row())
    return out.getvalue()
