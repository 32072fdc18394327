"""The data groups of a generation-2 card: what each file holds and how it is encoded.

Each data group is a transparent EF read by its short file identifier. Its content is
one application-class object ``6X`` (X the data group number, as eID's DG3 ``63``, DG4
``64``, DG8 ``68``, DG11 ``6B``) around one string: a UTF8String (``0C``) for the name
and the gender, a NumericString (``12``) ``YYYYMMDD`` for the dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from cityid_card.eac import tlv
from cityid_card.eac.errors import EacEncodingError

from .constants import DataGroup

__all__ = ["Holder", "decode_data_group", "encode_data_groups"]

_UTF8 = 0x0C
_NUMERIC = 0x12


@dataclass(frozen=True)
class Holder:
    """The personal data a generation-2 card holds; repr hides all of it."""

    name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    expires: date = field(repr=False)
    gender: str | None = field(default=None, repr=False)


def _date(day: date) -> bytes:
    return day.strftime("%Y%m%d").encode("ascii")


def _file(group: DataGroup, kind: int, value: bytes) -> bytes:
    return tlv.encode(0x60 + int(group), tlv.encode(kind, value))


def encode_data_groups(holder: Holder) -> dict[DataGroup, bytes]:
    """The content of each data group file for ``holder`` (no DG11 without a gender)."""
    files = {
        DataGroup.EXPIRY: _file(DataGroup.EXPIRY, _NUMERIC, _date(holder.expires)),
        DataGroup.NAME: _file(DataGroup.NAME, _UTF8, holder.name.encode("utf-8")),
        DataGroup.DATE_OF_BIRTH: _file(
            DataGroup.DATE_OF_BIRTH, _NUMERIC, _date(holder.date_of_birth)
        ),
    }
    if holder.gender is not None:
        files[DataGroup.GENDER] = _file(DataGroup.GENDER, _UTF8, holder.gender.encode("utf-8"))
    return files


def decode_data_group(group: DataGroup, content: bytes) -> str | date:
    """The value of one data group file: text for name and gender, a date for the dates."""
    inner = tlv.expect(content, 0x60 + int(group))
    if group in (DataGroup.NAME, DataGroup.GENDER):
        text = tlv.expect(inner, _UTF8)
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            raise EacEncodingError("data group text is not UTF-8") from None
    digits = tlv.expect(inner, _NUMERIC)
    if len(digits) != 8 or not digits.isdigit():
        raise EacEncodingError("data group date is not YYYYMMDD")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise EacEncodingError("data group date is not a calendar date") from None
