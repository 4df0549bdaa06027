"""The contract's tables and their columns: the vocabulary the readers and the checker share.

The readers (:mod:`evaluation.data.io`) use it to find a table's sheet in a workbook, the
checker (:mod:`evaluation.data.contract`) to check each table. It imports nothing.
"""

from __future__ import annotations

#: The tables of the contract, in the order they are reported.
TABLES = ("participants", "monthly", "survey", "sessions", "mentors")
#: Tables a study cannot run without.
REQUIRED_TABLES = ("participants", "monthly")

#: Contract columns of each table, in output order: (name, required).
COLUMNS: dict[str, tuple[tuple[str, bool], ...]] = {
    "participants": (
        ("person_id", True),
        ("group", True),
        ("start_month", True),
        ("end_month", False),
        ("birth_year", True),
        ("sex", True),
        ("origin_region", True),
        ("arrival_year", True),
        ("education", True),
        ("swedish_level", True),
        ("municipality", False),
        ("mentor_id", False),
    ),
    "monthly": (
        ("person_id", True),
        ("month", True),
        ("employed", True),
        ("earnings", True),
        ("in_education", False),
    ),
    "survey": (("person_id", True), ("wave", True)),
    "sessions": (("person_id", True), ("mentor_id", True), ("date", True), ("minutes", True)),
    "mentors": (("mentor_id", True), ("background", True), ("same_field", True)),
}


def column_order(table: str) -> list[str]:
    """The contract columns of ``table``, in output order."""
    return [name for name, _ in COLUMNS[table]]


def required_columns(table: str) -> list[str]:
    """The contract columns of ``table`` that must be present."""
    return [name for name, required in COLUMNS[table] if required]
