"""Validate tables already in memory: one table-driven validator, and the whole study.

:func:`validate_table` validates any contract table; what differs between the tables (their
rules, the references to other tables they need) is in
:data:`~evaluation.data.contract.tables.TABLE_RULES`. ``validate_participants``,
``validate_monthly``, ``validate_survey``, ``validate_sessions`` and ``validate_mentors`` are
:func:`validate_table` bound to one table (:func:`functools.partial`). :func:`validate_study`
validates every table with the links between them and raises once, with everything wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from evaluation.data.columns import REQUIRED_TABLES, TABLES, column_order
from evaluation.data.contract.check import TableCheck
from evaluation.data.contract.rules import IN_MEMORY, ContractViolationError, Violation
from evaluation.data.contract.sample import sample_violations
from evaluation.data.contract.tables import (
    TABLE_RULES,
    Refs,
    check_table,
    check_tables,
    ids_of_frame,
    mentoring_periods,
)
from evaluation.data.sample_flow import SampleRule, analysable


def file_label(file: str | os.PathLike[str] | None) -> str:
    """A table's file as named in messages (:data:`IN_MEMORY` for a frame without one)."""
    return IN_MEMORY if file is None else str(file)


def raise_if(violations: Sequence[Violation], notes: Sequence[str] = ()) -> None:
    """Raise :class:`ContractViolationError` with the violations, if there are any."""
    if violations:
        raise ContractViolationError(violations, notes)


# --- one table -------------------------------------------------------------------------


def validate_table(
    table: str,
    df: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
    participants: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
    items: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate and normalise one contract table.

    Parameters
    ----------
    table
        The contract table (one of :data:`~evaluation.data.contract.rules.TABLES`).
    df
        The table as read (see :func:`evaluation.data.io.read_table`). Not modified.
    file
        The file it came from, for messages.
    participants
        The participants table, if any (monthly, survey, sessions): every ``person_id``
        must be listed there; a session's person must be mentored.
    mentors
        The mentors table, if any (participants, sessions): every ``mentor_id`` must be
        listed there.
    items
        The survey's item columns (survey only); by default every column other than
        ``person_id`` and ``wave``.

    Returns
    -------
    pandas.DataFrame
        The normalised table (see :mod:`evaluation.data.contract`).

    Raises
    ------
    ContractViolationError
        Listing every violation.
    ValueError
        ``table`` is not a contract table.
    TypeError
        A reference is given that the table's rules do not use.
    """
    if table not in TABLE_RULES:
        raise ValueError(f"{table!r} is not a contract table ({', '.join(TABLES)})")
    given = {"participants": participants, "mentors": mentors, "items": items}
    unused = [name for name, value in given.items() if value is not None]
    unused = [name for name in unused if name not in TABLE_RULES[table].needs]
    if unused:
        raise TypeError(f"the {table} table's rules use no {', '.join(unused)}")
    refs = Refs(
        persons=ids_of_frame(participants),
        mentored=ids_of_frame(participants, group="mentored"),
        mentors=ids_of_frame(mentors, "mentor_id"),
        survey_items=None if items is None else tuple(items),
        periods=mentoring_periods(participants),
    )
    check = check_table(table, df, file_label(file), refs)
    raise_if(check.violations)
    return check.frame(column_order(table))


validate_participants = partial(validate_table, "participants")
validate_monthly = partial(validate_table, "monthly")
validate_survey = partial(validate_table, "survey")
validate_sessions = partial(validate_table, "sessions")
validate_mentors = partial(validate_table, "mentors")


# --- the whole study -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StudyTables:
    """The validated, normalised input tables of one study.

    Parameters
    ----------
    participants, monthly
        Required tables (``monthly`` is ``None`` only when the caller of
        :func:`load_study` left it out on purpose).
    survey, sessions, mentors
        Optional tables; ``None`` when not given.
    sources
        The file of each table given (empty for tables validated in memory).
    survey_items
        The survey's item columns (float64, 1..5 or NaN): those given, in their order, or
        without a list every column but ``person_id`` and ``wave``, in file order.
    sheets
        The Excel sheet each table from a workbook was read from.
    notes
        What the validation output should say besides the summary: the sheet read from a
        workbook and why, survey columns kept and not used, how many mentored persons can
        be analysed.
    """

    participants: pd.DataFrame
    monthly: pd.DataFrame | None
    survey: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    mentors: pd.DataFrame | None = None
    sources: dict[str, Path] = field(default_factory=dict)
    survey_items: tuple[str, ...] = ()
    sheets: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """One row per contract table: file, rows, columns, extra columns and status.

        Returns
        -------
        pandas.DataFrame
            Columns ``table``, ``file``, ``rows``, ``columns``, ``extra_columns`` (the
            columns beyond the contract, kept as possible covariates) and ``status``
            (``"valid"`` or ``"not given"``).
        """
        records = []
        for name in TABLES:
            frame = getattr(self, name)
            source = self.sources.get(name)
            if frame is None:
                records.append((name, "", pd.NA, pd.NA, "", "not given"))
                continue
            contract = {*column_order(name), *self.survey_items}
            extras = [c for c in frame.columns if c not in contract]
            records.append(
                (
                    name,
                    "" if source is None else str(source),
                    len(frame),
                    frame.shape[1],
                    ", ".join(map(str, extras)),
                    "valid",
                )
            )
        out = pd.DataFrame.from_records(
            records, columns=["table", "file", "rows", "columns", "extra_columns", "status"]
        )
        return out.astype({"rows": "Int64", "columns": "Int64"})


def validate_study(
    tables: Mapping[str, pd.DataFrame | None],
    *,
    files: Mapping[str, str | os.PathLike[str]] | None = None,
    survey_items: Sequence[str] | None = None,
    sample: SampleRule | None = None,
) -> StudyTables:
    """Validate every table and the links between them; raise once, with everything wrong.

    Parameters
    ----------
    tables
        Table name (see :data:`TABLES`) to its frame as read; ``None`` or absent for an
        optional table that is not given.
    files
        The file of each table, for messages and :attr:`StudyTables.sources`.
    survey_items
        The survey's item columns (default: every column but ``person_id`` and ``wave``);
        other columns of the survey are kept and not used.
    sample
        What the design needs of the data (rule ``too_few_analysable``), checked when every
        table meets the contract; ``None``: not checked.

    Returns
    -------
    StudyTables
        The normalised tables.

    Raises
    ------
    ContractViolationError
        Listing every violation of every table, most important first.
    """
    files = dict(files or {})
    violations, checks = check_study(tables, files, survey_items)
    for name in REQUIRED_TABLES:
        if tables.get(name) is None:
            violations.append(
                Violation(
                    file_label(files.get(name)),
                    name,
                    None,
                    "table_missing",
                    "the table is required but was not given",
                    "a table",
                )
            )
    raise_if(violations)
    return study_tables(checks, files, sample=sample)


def check_study(
    tables: Mapping[str, pd.DataFrame | None],
    files: Mapping[str, object],
    survey_items: Sequence[str] | None,
) -> tuple[list[Violation], dict[str, TableCheck]]:
    """Every violation of the given tables (unknown table names included) and their checks.

    Parameters
    ----------
    tables
        Table name to its frame as read; ``None`` for a table not given.
    files
        The file of each table, for messages.
    survey_items
        The survey's item columns (``None``: every column but ``person_id`` and ``wave``).

    Returns
    -------
    violations : list of Violation
        Unknown table names first, then each table's, in the order checked.
    checks : dict of str to TableCheck
        One per given contract table.
    """
    violations: list[Violation] = []
    for name in tables:
        if name not in TABLES:
            violations.append(
                Violation(
                    file_label(files.get(name)),  # type: ignore[arg-type]
                    str(name),
                    None,
                    "unknown_table",
                    "this is not a table of the contract",
                    "one of " + ", ".join(TABLES),
                )
            )
    given = {name: tables[name] for name in TABLES if tables.get(name) is not None}
    where = {name: file_label(files.get(name)) for name in given}  # type: ignore[arg-type]
    checks = check_tables(given, where, survey_items)  # type: ignore[arg-type]
    for check in checks.values():
        violations.extend(check.violations)
    return violations, checks


def study_tables(
    checks: Mapping[str, TableCheck],
    files: Mapping[str, str | os.PathLike[str]],
    *,
    sheets: Mapping[str, tuple[str, str]] | None = None,
    sample: SampleRule | None = None,
) -> StudyTables:
    """The normalised tables of a study whose checks found no violation.

    Parameters
    ----------
    checks
        One check per table given, none with a violation.
    files
        The file of each table.
    sheets
        Table to (sheet, why) for each table read from an Excel workbook.
    sample
        What the design needs of the data; checked here (``None``: not checked).

    Raises
    ------
    ContractViolationError
        Rule ``too_few_analysable``: the tables cannot carry the design.
    """
    frames = {name: check.frame(column_order(name)) for name, check in checks.items()}
    sheets = dict(sheets or {})
    notes = [read_note(name, files[name], *sheets[name]) for name in checks if name in sheets]
    items = tuple(getattr(checks.get("survey"), "items", ()))
    if "survey" in frames:
        unused = [c for c in frames["survey"].columns if c not in ("person_id", "wave", *items)]
        if unused:
            notes.append(
                f"survey: the column{'s' if len(unused) > 1 else ''} {', '.join(unused)} "
                f"{'are' if len(unused) > 1 else 'is'} kept and not used (not among the survey "
                "items of the parameters, bottomup.factors)."
            )
    if sample is not None and frames.get("monthly") is not None:
        where = {name: file_label(files.get(name)) for name in ("participants", "monthly")}
        usable = analysable(frames["participants"], frames["monthly"], sample.min_pre_months)
        raise_if(sample_violations(usable, sample, where))
        notes.append(
            f"participants: {int(usable.mentored_usable.sum())} of the "
            f"{int(usable.mentored.sum())} mentored persons can be analysed (at least "
            f"{sample.min_mentored} needed, design.min_mentored)."
        )
    return StudyTables(
        participants=frames["participants"],
        monthly=frames.get("monthly"),
        survey=frames.get("survey"),
        sessions=frames.get("sessions"),
        mentors=frames.get("mentors"),
        sources={name: Path(files[name]) for name in checks if name in files},
        survey_items=items,
        sheets={name: sheet for name, (sheet, _) in sheets.items() if name in checks},
        notes=tuple(notes),
    )


def read_note(table: str, file: str | os.PathLike[str], sheet: str, why: str) -> str:
    """How a table was read from a workbook, for the validation output and its errors."""
    return f"{table}: read from sheet {sheet!r} of {Path(file).name} ({why})."
