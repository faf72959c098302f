"""Separation of duties (岗位分离): who counts as the same person.

Staff ids come from people and systems that differ in case and stray spaces (`"inv-1"`,
`"INV-1"`, `"inv-1 "`); they name the same person. Every separation rule compares ids through
`same_person`, so a change of spelling never lets one person take two roles. The ids are
recorded as given.
"""

from __future__ import annotations

from collections.abc import Iterable


def staff_key(staff_id: str) -> str:
    """The form two staff ids are compared in: trimmed and casefolded."""
    return staff_id.strip().casefold()


def same_person(first: str, second: str) -> bool:
    return staff_key(first) == staff_key(second)


def among(staff_id: str, others: Iterable[str]) -> bool:
    """Whether `staff_id` names one of `others`."""
    key = staff_key(staff_id)
    return any(staff_key(other) == key for other in others)
