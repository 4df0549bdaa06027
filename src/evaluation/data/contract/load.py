"""Read a study's input files and validate them: :func:`load_study`.

Every file is read (:func:`evaluation.data.io.read_table`) and every table checked before
anything stops: an unreadable file, a missing required table, an unknown table name and every
broken rule of every table come in one :class:`~evaluation.data.contract.rules.ContractViolationError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from evaluation.data.columns import REQUIRED_TABLES, TABLES
from evaluation.data.contract.rules import Violation
from evaluation.data.contract.validate import StudyTables, check_study, raise_if, study_tables
from evaluation.data.io import UnreadableTableError, read_table


def load_study(
    paths: Mapping[str, str | os.PathLike[str] | None],
    *,
    survey_items: Sequence[str] | None = None,
    required: Sequence[str] = REQUIRED_TABLES,
) -> StudyTables:
    """Read and validate the input tables of a study.

    Parameters
    ----------
    paths
        Table name (see :data:`TABLES`) to its file. ``participants`` and ``monthly``
        are required; an optional table that is absent or ``None`` is not given.
    survey_items
        The survey's item columns (default: every column but ``person_id`` and ``wave``).
    required
        The tables that must be given. A notebook that does not use the (register-sized)
        monthly table after the whole study was validated may leave it out:
        ``required=("participants",)``; no rule of another table depends on it.

    Returns
    -------
    StudyTables
        The normalised tables and their files.

    Raises
    ------
    ContractViolationError
        Listing every problem of every table (unreadable files included), most important
        first.
    """
    problems: list[Violation] = []
    frames: dict[str, pd.DataFrame] = {}
    files = {name: path for name, path in paths.items() if path is not None}
    for name, path in files.items():
        if name not in TABLES:
            problems.append(
                Violation(
                    str(path),
                    str(name),
                    None,
                    "unknown_table",
                    "this is not a table of the contract",
                    "one of " + ", ".join(TABLES),
                )
            )
            continue
        try:
            frames[name] = read_table(path, table=name)
        except UnreadableTableError as err:
            problems.append(
                Violation(
                    err.file, name, None, "file_unreadable", err.problem.rstrip("."), err.advice
                )
            )
    unknown = set(required) - set(REQUIRED_TABLES)
    if unknown:
        raise ValueError(f"required tables must be among {REQUIRED_TABLES}, not {sorted(unknown)}")
    for name in required:
        if name not in files:
            problems.append(
                Violation(
                    "no file given",
                    name,
                    None,
                    "table_missing",
                    "the table is required but no file was given",
                    "a file for this table",
                )
            )
    violations, checks = check_study(frames, files, survey_items)
    raise_if([*problems, *violations])
    return study_tables(checks, files)
