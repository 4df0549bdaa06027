"""Read a study's input files and validate them: :func:`load_study`.

Every file is read (:func:`evaluation.data.io.read_table`) and every table checked before
anything stops: an unreadable file, a missing required table, an unknown table name and every
broken rule of every table come in one :class:`~evaluation.data.contract.rules.ContractViolationError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from evaluation.data.columns import REQUIRED_TABLES, TABLES
from evaluation.data.contract.rules import ContractViolationError, Violation
from evaluation.data.contract.validate import (
    StudyTables,
    check_study,
    raise_if,
    read_note,
    study_tables,
)
from evaluation.data.io import TableSource, UnreadableTableError, read_source
from evaluation.data.sample_flow import SampleRule


def load_study(
    paths: Mapping[str, TableSource | Mapping[str, Any] | str | os.PathLike[str] | None],
    *,
    survey_items: Sequence[str] | None = None,
    required: Sequence[str] = REQUIRED_TABLES,
    sample: SampleRule | None = None,
) -> StudyTables:
    """Read and validate the input tables of a study.

    Parameters
    ----------
    paths
        Table name (see :data:`TABLES`) to its file, or to its file and reading options
        (a :class:`~evaluation.data.io.TableSource` or a mapping ``{path: ..., sheet: ...}``,
        as the parameter file's ``data`` section gives them). ``participants`` and
        ``monthly`` are required; an optional table that is absent or ``None`` is not given.
    survey_items
        The survey's item columns (default: every column but ``person_id`` and ``wave``). A
        study passes the items of ``bottomup.factors``; other columns of the survey are then
        kept and not used, and :attr:`StudyTables.notes` says so.
    required
        The tables that must be given. A notebook that does not use the (register-sized)
        monthly table after the whole study was validated may leave it out:
        ``required=("participants",)``; no rule of another table depends on it.
    sample
        What the design needs of the data (rule ``too_few_analysable``: enough mentored
        persons who can be analysed), checked when every table meets the contract and
        monthly is given; ``None``: not checked.

    Returns
    -------
    StudyTables
        The normalised tables, their files, the sheet of each table read from a workbook and
        the notes for the validation output (first how each file was read and mapped: its
        CSV dialect, column map, recodes and month form).

    Raises
    ------
    ContractViolationError
        Listing every problem of every table (unreadable files included), most important
        first; its notes name the sheet of each table read from a workbook.
    """
    problems: list[Violation] = []
    frames: dict[str, pd.DataFrame] = {}
    sheets: dict[str, tuple[str, str]] = {}
    given = {name: spec for name, spec in paths.items() if spec is not None}
    files: dict[str, str] = {}
    mapped: list[str] = []  # how each file was read and mapped (dialect, columns, recodes)
    for name, spec in given.items():
        if name not in TABLES:
            problems.append(
                Violation(
                    str(spec),
                    str(name),
                    None,
                    "unknown_table",
                    "this is not a table of the contract",
                    "one of " + ", ".join(TABLES),
                )
            )
            continue
        source = TableSource.of(spec)
        files[name] = str(source.path)
        try:
            read = read_source(source, table=name)
        except UnreadableTableError as err:
            problems.append(
                Violation(
                    err.file, name, None, "file_unreadable", err.problem.rstrip("."), err.advice
                )
            )
            continue
        frames[name] = read.frame
        mapped.extend(read.notes)
        if read.sheet is not None:
            sheets[name] = (read.sheet, read.why or "")
    unknown = set(required) - set(REQUIRED_TABLES)
    if unknown:
        raise ValueError(f"required tables must be among {REQUIRED_TABLES}, not {sorted(unknown)}")
    for name in required:
        if name not in given:
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
    notes = [*mapped, *(read_note(name, files[name], *sheet) for name, sheet in sheets.items())]
    raise_if([*problems, *violations], notes)
    try:
        study = study_tables(checks, files, sheets=sheets, sample=sample)
    except ContractViolationError as err:  # the design's needs: say which sheets were read
        raise ContractViolationError(err.violations, notes) from None
    return replace(study, notes=(*mapped, *study.notes))
