"""The errors of the issuance station: its applicants file and its records.

Messages name the row, the column or key by its number, or the line: never a value,
and never a column or key as written, since an applicants file is nothing but personal
data and a header cell may hold a value (a file exported without its header).
"""

from __future__ import annotations

from cityid_card.errors import CityIDError

__all__ = ["ApplicantError", "InvalidApplicantField", "RecordsError", "UnknownApplicantField"]


class ApplicantError(CityIDError):
    """An applicants file cannot be used for a batch; raised before any card is touched.

    ``row`` is the applicant's number in the file (1 for the first; None when the file
    as a whole is wrong), ``column`` the number of the CSV column or of the JSON key to
    blame (from 1, in the order of the header or the object), and ``field`` the
    applicant field to blame when it is one of the four the format allows.
    """

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.row = row
        self.field = field
        self.column = column


class UnknownApplicantField(ApplicantError):
    """A column or key no applicant may have: an address, a phone number, a status index."""


class InvalidApplicantField(ApplicantError):
    """An applicant's field is missing, or holds a value the format does not allow."""


class RecordsError(CityIDError):
    """The issuance records file cannot be read, locked or appended to (the line, not its data)."""
