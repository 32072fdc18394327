"""Resuming: which applicants a batch issues, given the records of earlier runs.

Applicants are matched to records on name and date of birth. Two applicants of one
file with the same name and date of birth are told apart by count: with k records for
them, the first k such rows are done. If they differ in gender or expiry and only some
of them have records, which ones is unknowable: those rows are skipped as
``ambiguous``, to be settled by a person, rather than risk a second card for someone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from .applicants import Applicant
from .records import Record

__all__ = ["BatchPlan", "plan_batch"]


@dataclass(frozen=True)
class BatchPlan:
    """Which applicants a batch issues, given the records of earlier runs (by row)."""

    to_issue: tuple[Applicant, ...]
    already_issued: tuple[int, ...]
    ambiguous: tuple[int, ...]


def plan_batch(applicants: Sequence[Applicant], records: Iterable[Record]) -> BatchPlan:
    """Skip the applicants the records already hold (see the module's description)."""
    done = Counter((record.name, record.date_of_birth) for record in records)
    groups: defaultdict[tuple[str, date], list[Applicant]] = defaultdict(list)
    for applicant in applicants:
        groups[applicant.name, applicant.date_of_birth].append(applicant)
    skipped: set[int] = set()
    ambiguous: set[int] = set()
    for key, group in groups.items():
        issued = done.get(key, 0)
        if issued >= len(group):
            skipped.update(applicant.row for applicant in group)
        elif issued and len({(a.gender, a.expires) for a in group}) == 1:
            skipped.update(applicant.row for applicant in group[:issued])
        elif issued:
            ambiguous.update(applicant.row for applicant in group)
    return BatchPlan(
        to_issue=tuple(a for a in applicants if a.row not in skipped | ambiguous),
        already_issued=tuple(a.row for a in applicants if a.row in skipped),
        ambiguous=tuple(a.row for a in applicants if a.row in ambiguous),
    )
