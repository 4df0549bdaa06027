"""Validate the input tables against the data contract and return them normalised.

The contract is ``CONTRACT.md`` (shared) and ``data/README.md``; :data:`RULES` lists every
rule this module enforces, and ``data/CONTRACT_RULES.md`` is rendered from it by
:func:`rules_markdown`. Every check is vectorised (no loop over rows), so that a register
extract of tens of millions of person-months validates in seconds.

All violations of all tables are collected before anything is raised, most important
first (identity numbers, then missing columns, duplicate keys, missing values, bad
values, unknown persons, implausible values), so one run shows everything that is wrong.
They are raised together as a :class:`ContractViolationError` (a
:class:`~evaluation.errors.ContractError`, exit code 3) whose ``violations`` attribute
holds one :class:`Violation` per rule, table and column. A value shaped like a Swedish
personal identity number is never shown, in any message or attribute.

Normalised output
-----------------
Every validator returns a new frame (the input is never modified) with a default
``RangeIndex`` in input order, the contract columns first in contract order and every
other column after them, unchanged (they may be covariates). Text columns use pandas'
default ``str`` dtype; missing text is ``NaN`` (test with ``isna()``). Harmless variants
are accepted and normalised: surrounding whitespace, upper-case category values
(``'Female'`` becomes ``'female'``), months given as ``'YYYY-MM-DD'`` (with or without a
time) or as dates (become ``'YYYY-MM'``), integral floats for integers (``1985.0``),
booleans for 0/1. Nothing ambiguous is guessed (``'2018/03'``, ``'201803'``, ``'1,5'``,
``'yes'`` are refused).

participants
    ``person_id`` str (unique); ``group`` str in {mentored, comparison}; ``start_month``,
    ``end_month`` str ``'YYYY-MM'`` or missing; ``birth_year``, ``arrival_year`` Int64;
    ``sex``, ``education``, ``swedish_level`` str from their allowed sets;
    ``origin_region`` str; ``municipality``, ``mentor_id`` str or missing. The optional
    columns ``end_month``, ``municipality`` and ``mentor_id`` are added (all missing) when
    absent.
monthly
    ``person_id`` str, ``month`` str ``'YYYY-MM'`` ((person_id, month) unique),
    ``employed`` int8 0/1, ``earnings`` float64 >= 0, ``in_education`` Int8 0/1 or
    missing if the column is present.
survey
    ``person_id`` str, ``wave`` str in {baseline, follow_up} ((person_id, wave) unique),
    one float64 column per item with values 1..5 or ``NaN``. Every column other than
    ``person_id`` and ``wave`` is an item, unless a list of items is given: then those
    must be present and the other columns are kept unchanged.
sessions
    ``person_id`` str (a mentored participant), ``mentor_id`` str, ``date`` str
    ``'YYYY-MM-DD'``, ``minutes`` int64 > 0.
mentors
    ``mentor_id`` str (unique), ``background`` str in {native, migrant}, ``same_field``
    int8 0/1.

Row numbers in messages count data rows from 1: row 1 is the first row after the header
(line 2 of a CSV file, row 2 of an Excel sheet).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.data.io import (
    UnreadableTableError,
    as_text,
    normalise_column_names,
    read_table,
)
from evaluation.errors import ContractError

#: The tables of the contract, in the order they are reported.
TABLES = ("participants", "monthly", "survey", "sessions", "mentors")
#: Tables a study cannot run without.
REQUIRED_TABLES = ("participants", "monthly")

GROUPS = ("mentored", "comparison")
SEXES = ("female", "male")
EDUCATION_LEVELS = ("primary_or_less", "secondary", "post_secondary", "unknown")
SWEDISH_LEVELS = ("none", "sfi_started", "sfi_completed", "fluent")
WAVES = ("baseline", "follow_up")
BACKGROUNDS = ("native", "migrant")
#: Answers of a survey item (Likert scale), inclusive.
LIKERT_RANGE = (1, 5)
#: Earliest plausible birth or arrival year; the latest is the current year.
MIN_YEAR = 1900
#: Offending rows shown per rule (duplicates: rows of the first few duplicated keys).
SHOW_ROWS = 5
#: Violations written out in one message; the rest are in ``error.violations``.
MAX_REPORTED = 40

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

_PIN = r"^(?P<century>\d{2})?(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})[-+ ]?(?P<serial>\d{4})$"
_PIN_SHAPE = r"\d{6}(?:\d{2})?[-+ ]?\d{4}"
_PIN_ANYWHERE = re.compile(r"(?<!\d)\d{6}(?:\d{2})?[-+ ]?\d{4}(?!\d)")
_MONTH = r"^(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)?$"
_DATE = r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_IN_MEMORY = "in memory"


# --- rules and violations ------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One rule of the data contract.

    Parameters
    ----------
    id
        Stable identifier, used in :attr:`Violation.rule` and in tests.
    severity
        Order of reporting: 0 (the file itself) to 7 (implausible values).
    applies
        The tables and columns it is checked on.
    title
        What the rule requires, in one line.
    todo
        What the data owner should do when it is broken.
    """

    id: str
    severity: int
    applies: str
    title: str
    todo: str


_PIN_TODO = (
    "the data must be pseudonymised before they reach the study: replace every identity "
    "number by a study key (for example P000123), keep the key file with the data owner, "
    "and export again. The values are never shown"
)
_RULE_LIST = (
    Rule("table_missing", 0, "participants, monthly",
         "the table is given", "add the table's file to the parameter file"),
    Rule("unknown_table", 0, "table names",
         "only tables of the contract are given", f"use the table names {', '.join(TABLES)}"),
    Rule("file_unreadable", 0, "every file",
         "the file exists and can be read in its format (CSV UTF-8 comma-separated, Parquet, "
         "xlsx, Stata .dta, SPSS .sav)", "see the problem; export the file again"),
    Rule("personal_identity_number", 1, "person_id of every table; mentor_id; any other "
         "text or whole-number column",
         "no identifier is shaped like a Swedish personnummer or samordningsnummer "
         "(YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDD-NNNN, YYYYMMDDNNNN with a "
         "plausible date; samordningsnummer: day + 60)", _PIN_TODO),
    Rule("duplicate_column_names", 2, "every table",
         "column names are unique after lower-casing and stripping",
         "rename or drop one of the columns"),
    Rule("required_column", 2, "every table (survey: the items named in the parameters)",
         "every required column is present",
         "add the column, named as in the contract (case and surrounding spaces do not "
         "matter)"),
    Rule("empty_table", 2, "participants, monthly",
         "the table has at least one data row", "check that the right file was exported"),
    Rule("duplicate_key", 3, "participants.person_id; monthly (person_id, month); survey "
         "(person_id, wave); mentors.mentor_id",
         "one row per key", "keep one row per key; the rows shown share a key"),
    Rule("required_value", 4, "required columns",
         "required values are not empty", "fill the value, or drop the row if it is unusable"),
    Rule("start_month_for_mentored", 4, "participants.start_month",
         "every mentored participant has a start_month",
         "give the month mentoring started (YYYY-MM)"),
    Rule("category", 5, "participants.group, sex, education, swedish_level; survey.wave; "
         "mentors.background",
         "values are from the allowed set (case and surrounding spaces do not matter)",
         "recode the values to the allowed set"),
    Rule("month_format", 5, "participants.start_month, end_month; monthly.month",
         "months are YYYY-MM (a date YYYY-MM-DD is accepted and cut to its month)",
         "write months as YYYY-MM, for example 2018-03"),
    Rule("date_format", 5, "sessions.date",
         "dates are valid YYYY-MM-DD dates", "write dates as YYYY-MM-DD, for example 2018-03-15"),
    Rule("integer", 5, "participants.birth_year, arrival_year; sessions.minutes; 0/1 columns; "
         "survey items",
         "whole numbers", "write whole numbers without decimals, units or thousands separators"),
    Rule("number", 5, "monthly.earnings",
         "finite numbers with a decimal point and no thousands separator",
         "write plain numbers such as 12500.50"),
    Rule("binary_0_1", 5, "monthly.employed, in_education; mentors.same_field",
         "values are 0 or 1", "recode to 0 (no) and 1 (yes)"),
    Rule("likert_1_5", 5, "survey items",
         "answers are 1 to 5, or empty when not answered",
         "recode answers to 1..5; leave 'don't know' and non-response empty"),
    Rule("non_negative", 5, "monthly.earnings",
         "earnings are >= 0", "earnings are gross labour earnings in SEK; check the sign"),
    Rule("positive", 5, "sessions.minutes",
         "minutes are > 0", "drop sessions that did not take place"),
    Rule("unknown_person", 6, "monthly, survey, sessions: person_id",
         "every person is in participants", "add the person to participants or drop the rows"),
    Rule("session_not_mentored", 6, "sessions.person_id",
         "sessions belong to mentored participants",
         "check the person's group or the session record"),
    Rule("unknown_mentor", 6, "participants.mentor_id, sessions.mentor_id (when mentors is given)",
         "every mentor is in mentors", "add the mentor to mentors or correct the mentor_id"),
    Rule("year_range", 7, "participants.birth_year, arrival_year",
         f"years are from {MIN_YEAR} to the current year", "check the year; write four digits"),
    Rule("arrival_before_birth", 7, "participants.birth_year, arrival_year",
         "arrival_year is not before birth_year", "check both years"),
    Rule("end_before_start", 7, "participants.start_month, end_month",
         "end_month is not before start_month", "check both months"),
    Rule("mentored_only", 7, "participants.end_month, mentor_id",
         "end_month and mentor_id are given only for mentored participants",
         "check the person's group, or empty the value"),
)  # fmt: skip

#: Every rule enforced, by id.
RULES: dict[str, Rule] = {rule.id: rule for rule in _RULE_LIST}


@dataclass(frozen=True)
class Violation:
    """One broken rule in one column of one table.

    Parameters
    ----------
    file
        The file as given (``"(in-memory table)"`` for a frame validated directly).
    table
        The contract table.
    column
        The column, or columns joined by ``", "`` for a composite key; ``None`` for the
        table as a whole.
    rule
        The :attr:`Rule.id` broken (see :data:`RULES`).
    problem
        What is wrong, in one sentence.
    expected
        What was expected.
    rows
        The first few offending rows, 1-based data row numbers (first data row = 1).
    values
        The offending values at ``rows`` as shown, ``None`` where withheld (identity
        numbers).
    count
        Number of offending rows (0 for a problem with the table or column itself).
    """

    file: str
    table: str
    column: str | None
    rule: str
    problem: str
    expected: str
    rows: tuple[int, ...] = ()
    values: tuple[str | None, ...] = ()
    count: int = 0

    @property
    def severity(self) -> int:
        """Order of importance (0 = most important), from the rule."""
        return RULES[self.rule].severity

    def describe(self) -> str:
        """The violation as a few lines of text for a user."""
        where = f"{self.table} ({self.file})"
        if self.column is not None:
            label = "columns" if ", " in self.column else "column"
            where += f", {label} {self.column}"
        lines = [f"{where}: {self.problem} [rule {self.rule}]."]
        if self.count:
            if self.values:
                shown = [
                    f"{r} (value not shown)" if v is None else f"{r} ({v})"
                    for r, v in zip(self.rows, self.values, strict=True)
                ]
            else:
                shown = [str(r) for r in self.rows]
            first = f", first {len(self.rows)} shown" if self.count > len(self.rows) else ""
            lines.append(f"   Rows ({self.count}{first}): {', '.join(shown)}.")
        lines.append(f"   Expected: {self.expected}. What to do: {RULES[self.rule].todo}.")
        return "\n".join(lines)


class ContractViolationError(ContractError):
    """Input tables break the data contract; ``violations`` lists every problem.

    Parameters
    ----------
    violations
        The violations, in any order; they are sorted most important first.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        rank = {name: i for i, name in enumerate(TABLES)}
        self.violations: tuple[Violation, ...] = tuple(
            sorted(violations, key=lambda v: (v.severity, rank.get(v.table, len(rank))))
        )
        super().__init__(_format(self.violations))

    def __reduce__(self) -> tuple[type, tuple[tuple[Violation, ...]]]:
        return type(self), (self.violations,)


def _format(violations: Sequence[Violation]) -> str:
    tables = sorted(
        {v.table for v in violations}, key=lambda t: TABLES.index(t) if t in TABLES else 99
    )
    head = (
        f"The input data break the data contract (data/README.md, rules in data/CONTRACT_RULES.md): "
        f"{len(violations)} problem{'s' if len(violations) != 1 else ''} in "
        f"{', '.join(tables)}. Row numbers count data rows from 1 (the "
        f"first row after the header)."
    )
    body = [f"{i}. {v.describe()}" for i, v in enumerate(violations[:MAX_REPORTED], start=1)]
    if len(violations) > MAX_REPORTED:
        body.append(
            f"... and {len(violations) - MAX_REPORTED} more problems (all are listed in the "
            "error's 'violations' attribute)."
        )
    return "\n".join([head, *body])


def rules_markdown() -> str:
    """The list of rules as a Markdown section (source of ``data/CONTRACT_RULES.md``).

    Returns
    -------
    str
        A Markdown section: how violations are reported, one table row per rule (most
        important first) and an example message produced by the validator itself.
    """
    lines = [
        "## Contract rules and their messages",
        "",
        "Generated by `evaluation.data.contract.rules_markdown()` from the rules the "
        "validator enforces (`RULES`); do not edit by hand.",
        "",
        "All tables are read and checked before anything stops, and every violation is "
        "reported in one error (exit code 3), most important first. Each names the table, "
        "its file, the column and the rule, then the number of offending rows with the "
        f"first {SHOW_ROWS} row numbers and their values (for duplicated keys: the rows "
        "that share a key), then what was expected and what to do. Row numbers count data "
        "rows from 1, the first row after the header (line 2 of a CSV file, row 2 of an "
        "Excel sheet). A value shaped like a personal identity number is never shown. "
        f"At most {MAX_REPORTED} violations are written out; the error's `violations` "
        "attribute holds all of them.",
        "",
        "| order | rule id | checked on | requirement | what to do |",
        "|---|---|---|---|---|",
    ]
    for rule in sorted(_RULE_LIST, key=lambda r: r.severity):
        lines.append(
            f"| {rule.severity} | `{rule.id}` | {rule.applies} | {rule.title} | {rule.todo}. |"
        )
    lines += [
        "",
        "Example (a participants file with three problems):",
        "",
        "```text",
        _example(),
        "```",
    ]
    return "\n".join(lines) + "\n"


def _example() -> str:
    frame = pd.DataFrame(
        {
            "person_id": ["P0001", "19850101-1234", "P0003"],
            "group": ["mentored", "comparison", "mentored"],
            "start_month": ["2018-03", "2018/04", None],
        }
    )
    check = _check_participants(frame, "data/raw/participants.csv", _Refs())
    kept = [v for v in check.violations if v.rule != "required_column"]
    return str(ContractViolationError(kept))


# --- vectorised parsing --------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """A parsed column: normalised values, numbers (month index for months) and masks."""

    values: pd.Series
    numbers: np.ndarray
    missing: np.ndarray
    bad: np.ndarray
    months: np.ndarray | None = None  # int64 month index, -1 where missing or bad


def _text(series: pd.Series) -> pd.Series:
    """Text with surrounding whitespace stripped; empty is missing."""
    values = as_text(series.reset_index(drop=True)).str.strip()
    return values.where(values != "").astype("str")


def _factorized_text(series: pd.Series) -> tuple[np.ndarray, pd.Index, bool]:
    """Codes (-1 for missing) and distinct values of a text column, after stripping.

    Only the distinct values are stripped, so a key column of millions of rows costs one
    factorisation. The flag is true when stripping changed nothing.
    """
    raw_codes, raw_uniques = pd.factorize(series.reset_index(drop=True))
    stripped = _text(pd.Series(raw_uniques, dtype=object))
    norm_codes, uniques = pd.factorize(stripped)
    if len(uniques) == len(raw_uniques) and (norm_codes == np.arange(len(norm_codes))).all():
        clean = bool(
            (stripped.to_numpy(dtype=object) == np.asarray(raw_uniques, dtype=object)).all()
        )
        return raw_codes, pd.Index(uniques, dtype="str"), clean  # no remapping needed
    # Code -1 (missing) picks the appended -1: one pass over the rows.
    return np.append(norm_codes, -1)[raw_codes], pd.Index(uniques, dtype="str"), False


def _take(uniques: pd.Index | pd.Series, codes: np.ndarray) -> pd.Series:
    """Values at ``codes`` (missing where -1), as a ``str`` Series."""
    array = pd.array(np.asarray(uniques, dtype=object), dtype="str")
    return pd.Series(array.take(codes, allow_fill=True), dtype="str")


def _display(value: object) -> str | None:
    """A value as shown in a message; ``None`` for an identity-number-shaped value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "empty"
    text = str(value).strip()
    if _PIN_ANYWHERE.search(text):  # conservative: any identity-number-like digits
        return None
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _display_row(shown: pd.Series | pd.DataFrame, row: int) -> str | None:
    if isinstance(shown, pd.Series):
        return _display(shown.iloc[row])
    parts = [(name, _display(shown[name].iloc[row])) for name in shown.columns]
    if all(v is None for _, v in parts):
        return None
    return ", ".join(f"{name} {'(not shown)' if v is None else v}" for name, v in parts)


def _pin_shaped(values: pd.Series | pd.Index) -> np.ndarray:
    """True where a text value is a plausible Swedish personnummer or samordningsnummer.

    Shapes YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDD-NNNN and YYYYMMDDNNNN (a space
    as separator too), where the month is 1..12 and the day exists in that month, or is
    the day + 60 (samordningsnummer); with a century, the year is 1800 to this year. The
    check digit is not required, so a mistyped number is refused as well.
    """
    values = pd.Series(np.asarray(values, dtype=object), dtype="str")
    candidates = values.str.fullmatch(_PIN_SHAPE).to_numpy(dtype=bool, na_value=False)
    result = np.zeros(len(values), dtype=bool)
    if not candidates.any():
        return result
    parts = values[candidates].str.extract(_PIN)
    century = pd.to_numeric(parts["century"]).to_numpy(dtype="float64", na_value=np.nan)
    yy = parts["yy"].astype("int64").to_numpy()
    mm = parts["mm"].astype("int64").to_numpy()
    dd = parts["dd"].astype("int64").to_numpy()
    dd = np.where(dd > 60, dd - 60, dd)
    has_century = ~np.isnan(century)
    # Without a century, 29 February is plausible whenever yy is divisible by 4 (2000 leap).
    year = np.where(has_century, np.nan_to_num(century) * 100 + yy, 2000 + yy).astype("int64")
    year_ok = ~has_century | ((year >= 1800) & (year <= dt.date.today().year))
    in_month = (mm >= 1) & (mm <= 12) & (dd >= 1) & (dd <= _days_in_month(year, mm))
    result[candidates] = year_ok & in_month
    return result


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    month = np.asarray(month, dtype="int64")
    year = np.asarray(year, dtype="int64")
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return days[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)


def _months(series: pd.Series, *, day_required: bool) -> _Parsed:
    """Months as 'YYYY-MM' (or dates as 'YYYY-MM-DD'); ``numbers`` is the month index.

    Parsed on the distinct values only: a column of millions of rows with a few hundred
    distinct months costs one factorisation.
    """
    series = series.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(
        series.dtype, pd.PeriodDtype
    ):
        series = as_text(series)
    codes, uniques, clean = _factorized_text(series)
    text = pd.Series(uniques, dtype="str")
    parts = text.str.extract(_DATE if day_required else _MONTH)
    year = pd.to_numeric(parts["y"]).to_numpy(dtype="float64", na_value=np.nan)
    month = pd.to_numeric(parts["m"]).to_numpy(dtype="float64", na_value=np.nan)
    day = pd.to_numeric(parts["d"]).to_numpy(dtype="float64", na_value=np.nan)
    ok = ~np.isnan(year) & (month >= 1) & (month <= 12)
    with_day = ok & ~np.isnan(day)
    if with_day.any():
        ok[with_day] = (day[with_day] >= 1) & (
            day[with_day] <= _days_in_month(year[with_day], month[with_day])
        )
    labels = text.str.slice(0, 10 if day_required else 7).where(ok)
    index = np.where(ok, np.nan_to_num(year) * 12 + np.nan_to_num(month) - 1, np.nan)
    # Code -1 (missing) picks the appended last element: NaN, not bad.
    numbers = np.append(index, np.nan)[codes]
    months = np.append(np.where(ok, np.nan_to_num(index), -1).astype("int64"), -1)[codes]
    bad = np.append(~ok & text.notna().to_numpy(), False)[codes]
    if clean and ok.all() and series.dtype == "str" and (labels == text).all():
        values = series  # already normalised: no copy
    else:
        values = _take(labels, codes)
    return _Parsed(values, numbers, codes < 0, bad, months)


def _numbers(series: pd.Series, *, integer: bool) -> _Parsed:
    """Numbers as float64 (NaN where missing or bad); ``values`` is the same as a Series."""
    series = series.reset_index(drop=True)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biu":  # no missing values
        values = series.to_numpy().astype("float64")
        none = np.zeros(len(values), dtype=bool)
        return _Parsed(pd.Series(values), values, none, none)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        bad = np.isinf(values)
    else:
        text = _text(series)
        missing = text.isna().to_numpy()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = (np.isnan(values) & ~missing) | np.isinf(values)
    if integer:
        with np.errstate(invalid="ignore"):
            bad |= np.isfinite(values) & (np.floor(values) != values)
    if bad.any():
        values = np.where(bad, np.nan, values)
    return _Parsed(pd.Series(values), values, missing, bad)


def _duplicated(key: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """All rows whose int64 key occurs more than once among the valid rows.

    Fast paths: strictly increasing keys (an extract sorted by key) need no hashing, and
    a sort finds that there are no duplicates at all before any row is marked.
    """
    sub = key[valid]
    dup = np.zeros(len(key), dtype=bool)
    if len(sub) < 2 or bool((sub[1:] > sub[:-1]).all()):
        return dup
    ordered = np.sort(sub)
    if not (ordered[1:] == ordered[:-1]).any():
        return dup
    dup[valid] = pd.Series(sub).duplicated(keep=False).to_numpy()
    return dup


def month_index(months: pd.Series) -> pd.Series:
    """Months 'YYYY-MM' as consecutive integers (``year * 12 + month - 1``).

    Parameters
    ----------
    months
        Validated months (``'YYYY-MM'``, missing allowed).

    Returns
    -------
    pandas.Series
        ``Int64``, same index; missing where the month is missing or malformed. The
        difference of two indices is the number of months between them.
    """
    parsed = _months(months, day_required=False)
    return pd.Series(parsed.numbers, index=months.index).astype("Int64")


def _month_label(index: np.ndarray) -> pd.Series:
    """Month indices back to 'YYYY-MM' (missing where NaN)."""
    present = ~np.isnan(index)
    whole = np.where(present, index, 0).astype("int64")
    year = pd.Series(whole // 12).astype("str").str.zfill(4)
    month = pd.Series(whole % 12 + 1).astype("str").str.zfill(2)
    return (year + "-" + month).where(present).astype("str")


# --- the checker: one table ----------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    """An identifier column: values, codes into the distinct values (-1: missing)."""

    values: pd.Series
    codes: np.ndarray
    uniques: pd.Index


@dataclass
class _Refs:
    """Keys of the other tables for referential checks (``None``: not available)."""

    persons: pd.Index | None = None
    mentored: pd.Index | None = None
    mentors: pd.Index | None = None


class _Check:
    """Collects the violations and the normalised columns of one table."""

    def __init__(self, table: str, file: str, frame: pd.DataFrame) -> None:
        self.table = table
        self.file = file
        self.violations: list[Violation] = []
        raw = frame.reset_index(drop=True)
        raw.columns = normalise_column_names(frame.columns)
        for name in raw.columns[raw.columns.duplicated()].unique():
            self.add(
                name,
                "duplicate_column_names",
                f"{int((raw.columns == name).sum())} columns have this name after "
                "lower-casing and stripping",
                "one column per name",
            )
        self.raw = raw.loc[:, ~raw.columns.duplicated()] if self.violations else raw
        self.n = len(raw)
        self.out: dict[str, pd.Series] = {}
        self.items: list[str] = []  # survey only

    def add(
        self,
        column: str | None,
        rule: str,
        problem: str,
        expected: str,
        mask: np.ndarray | None = None,
        *,
        rows: np.ndarray | None = None,
        shown: pd.Series | pd.DataFrame | None = None,
        values: bool = True,
    ) -> None:
        """Record a violation of ``rule``.

        Offending rows are given by ``mask``, or by ``rows`` in display order; neither means
        a problem with the column itself. Values are taken from ``shown`` (default: the raw
        column) unless ``values`` is false; identity-number-shaped values are withheld.
        """
        picked = np.array([], dtype=np.int64)
        count = 0
        if rows is not None or mask is not None:
            positions = np.asarray(rows) if rows is not None else np.flatnonzero(mask)
            count = len(positions)
            if count == 0:
                return
            picked = positions[: 2 * SHOW_ROWS if rule == "duplicate_key" else SHOW_ROWS]
        shown_values: tuple[str | None, ...] = ()
        if values and len(picked):
            source = shown if shown is not None else self.raw[column]
            shown_values = tuple(_display_row(source, int(r)) for r in picked)
        self.violations.append(
            Violation(
                file=self.file,
                table=self.table,
                column=column,
                rule=rule,
                problem=problem,
                expected=expected,
                rows=tuple(int(r) + 1 for r in picked),
                values=shown_values,
                count=count,
            )
        )

    def require(self, names: Sequence[str]) -> None:
        """Required columns present; participants and monthly not empty."""
        found = ", ".join(map(str, self.raw.columns[:20]))
        if self.raw.shape[1] > 20:
            found += ", ..."
        for name in names:
            if name not in self.raw.columns:
                self.add(
                    name,
                    "required_column",
                    "the column is missing",
                    f"a column {name!r} (columns found: {found or 'none'})",
                )
        if self.n == 0 and self.table in REQUIRED_TABLES:
            self.add(None, "empty_table", "the table has no data rows", "at least one row")

    def has(self, name: str) -> bool:
        return name in self.raw.columns

    def required(self, name: str, missing: np.ndarray) -> None:
        self.add(
            name,
            "required_value",
            "required values are empty",
            "a value in every row",
            missing,
            values=False,
        )

    def key(self, name: str, *, required: bool) -> _Key | None:
        """An identifier column: stripped text, refused if shaped like an identity number.

        Returns the values and their codes (-1 where missing), for key and reference checks.
        """
        if not self.has(name):
            return None
        raw = self.raw[name]
        codes, uniques, clean = _factorized_text(raw)
        if required:
            self.required(name, codes < 0)
        self.refuse_identity_numbers(
            name, codes, _pin_shaped(uniques),
            "values are shaped like a Swedish personal identity number (personnummer or "
            "samordningsnummer)",
            "a pseudonymous key that is not an identity number",
        )  # fmt: skip
        self.out[name] = raw if clean and raw.dtype == "str" else _take(uniques, codes)
        return _Key(self.out[name], codes, uniques)

    def refuse_identity_numbers(
        self, name: str, codes: np.ndarray, bad: np.ndarray, problem: str, expected: str
    ) -> None:
        """Refuse the rows whose value holds an identity number; the values are never shown.

        ``codes`` maps each row to its distinct value (-1: missing), ``bad`` flags the
        distinct values.
        """
        if bad.any():
            self.add(name, "personal_identity_number", problem, expected,
                     (codes >= 0) & bad[np.maximum(codes, 0)], values=False)  # fmt: skip

    def text(self, name: str, *, required: bool) -> None:
        if self.has(name):
            values = _text(self.raw[name])
            if required:
                self.required(name, values.isna().to_numpy())
            self.out[name] = values

    def category(self, name: str, allowed: Sequence[str]) -> pd.Series | None:
        if not self.has(name):
            return None
        text = _text(self.raw[name])
        values = text.str.lower()
        self.required(name, text.isna().to_numpy())
        bad = (text.notna() & ~values.isin(allowed)).to_numpy()
        self.add(
            name,
            "category",
            "values are not in the allowed set",
            "one of " + ", ".join(allowed),
            bad,
        )
        self.out[name] = values.where(~bad)
        return self.out[name]

    def month(self, name: str, *, required: bool, day: bool = False) -> _Parsed | None:
        if not self.has(name):
            return None
        parsed = _months(self.raw[name], day_required=day)
        if required:
            self.required(name, parsed.missing)
        if day:
            self.add(
                name, "date_format", "values are not valid dates", "a date YYYY-MM-DD", parsed.bad
            )
        else:
            self.add(
                name,
                "month_format",
                "values are not valid months",
                "a month YYYY-MM (or a date YYYY-MM-DD)",
                parsed.bad,
            )
        self.out[name] = parsed.values
        return parsed

    def number(self, name: str, *, required: bool, integer: bool) -> np.ndarray | None:
        """Parsed numbers (NaN where missing or malformed); not stored in ``out``."""
        if not self.has(name):
            return None
        parsed = _numbers(self.raw[name], integer=integer)
        if required:
            self.required(name, parsed.missing)
        if integer:
            self.add(name, "integer", "values are not whole numbers", "a whole number", parsed.bad)
        else:
            self.add(
                name, "number", "values are not numbers", "a number, such as 12500.5", parsed.bad
            )
        return parsed.numbers

    def binary(self, name: str, *, required: bool) -> None:
        raw = self.raw.get(name)
        if raw is not None and isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biu":
            # Fast path for a register extract: integers, nothing missing.
            array = raw.to_numpy()
            bad = (array != 0) & (array != 1)
            if not bad.any():
                integers = array.astype("int8", copy=False)
                self.out[name] = pd.Series(
                    integers if required else pd.arrays.IntegerArray(integers, array != array)
                )
                return
        values = self.number(name, required=required, integer=True)
        if values is None:
            return
        bad = ~np.isnan(values) & (values != 0) & (values != 1)
        self.add(name, "binary_0_1", "values are not 0 or 1", "0 or 1", bad)
        missing = np.isnan(values) | bad
        integers = np.where(missing, 0, values).astype("int8")
        if required and not missing.any():
            self.out[name] = pd.Series(integers)
        else:
            self.out[name] = pd.Series(pd.arrays.IntegerArray(integers, missing))

    def duplicates(
        self, column: str, key: np.ndarray, valid: np.ndarray, shown: pd.Series | pd.DataFrame
    ) -> None:
        """Rows that share an int64 ``key`` (rows not ``valid`` do not take part)."""
        dup = _duplicated(key, valid)
        if dup.any():
            rows = np.flatnonzero(dup)
            rows = rows[np.argsort(pd.factorize(key[rows])[0], kind="stable")]
            label = f"({column})" if ", " in column else column
            self.add(
                column,
                "duplicate_key",
                f"the same {label} occurs in more than one row",
                f"one row per {label}",
                rows=rows,
                shown=shown,
            )

    def known(
        self,
        name: str,
        codes: np.ndarray,
        uniques: pd.Index,
        reference: pd.Index | None,
        rule: str,
        problem: str,
        expected: str,
    ) -> None:
        """Values (given by their codes into the distinct values) that are in ``reference``."""
        if reference is None:
            return
        unknown = reference.get_indexer(uniques) < 0  # reference is unique; faster than isin
        if unknown.any():
            mask = (codes >= 0) & unknown[np.maximum(codes, 0)]
            distinct = int(unknown.sum())
            problem = f"{problem} ({distinct} distinct value{'s' if distinct > 1 else ''})"
            self.add(name, rule, problem, expected, mask, shown=self.out[name])

    def frame(self, order: Sequence[str]) -> pd.DataFrame:
        """Contract columns in ``order`` (those present), then every other column unchanged."""
        data = {name: self.out[name] for name in order if name in self.out}
        data.update({name: self.out[name] for name in self.out if name not in data})
        for name in self.raw.columns:
            if name not in data:
                data[name] = self.raw[name]
        return pd.DataFrame(data, index=pd.RangeIndex(self.n), copy=False)


def _ids(
    frame: pd.DataFrame | None, column: str = "person_id", *, group: str | None = None
) -> pd.Index | None:
    """Distinct identifiers of a (normalised or raw) frame, optionally of one group."""
    if frame is None:
        return None
    frame = frame.set_axis(normalise_column_names(frame.columns), axis=1)
    if column not in frame.columns:
        return None
    values = _text(frame[column])
    if group is not None:
        if "group" not in frame.columns:
            return None
        values = values[(_text(frame["group"]).str.lower() == group).to_numpy()]
    return pd.Index(values.dropna().unique(), dtype="str")


# --- the tables ----------------------------------------------------------------------


def _order(table: str) -> list[str]:
    return [name for name, _ in COLUMNS[table]]


def _required(table: str) -> list[str]:
    return [name for name, required in COLUMNS[table] if required]


def _check_participants(frame: pd.DataFrame, file: str, refs: _Refs) -> _Check:
    c = _Check("participants", file, frame)
    c.require(_required("participants"))
    key = c.key("person_id", required=True)
    if key is not None:
        c.duplicates("person_id", key.codes.astype("int64"), key.codes >= 0, key.values)
    group = c.category("group", GROUPS)
    mentored = np.zeros(c.n, dtype=bool)
    comparison = np.zeros(c.n, dtype=bool)
    if group is not None:
        mentored = (group == "mentored").to_numpy(dtype=bool)
        comparison = (group == "comparison").to_numpy(dtype=bool)
    start = c.month("start_month", required=False)
    if start is not None:
        c.add(
            "start_month",
            "start_month_for_mentored",
            "mentored participants have no start_month",
            "a start_month for every mentored participant",
            mentored & start.missing,
            values=False,
        )
    end = c.month("end_month", required=False)
    if end is not None:
        c.add(
            "end_month",
            "mentored_only",
            "comparison participants have an end_month",
            "no end_month for comparison participants",
            comparison & ~end.missing,
        )
        if start is not None:
            c.add(
                "start_month, end_month",
                "end_before_start",
                "end_month is before start_month",
                "end_month on or after start_month",
                end.numbers < start.numbers,
                shown=pd.DataFrame({"start_month": start.values, "end_month": end.values}),
            )
    this_year = dt.date.today().year
    years = {}
    for name in ("birth_year", "arrival_year"):
        values = c.number(name, required=True, integer=True)
        if values is None:
            continue
        implausible = (values < MIN_YEAR) | (values > this_year)
        c.add(
            name,
            "year_range",
            "years are implausible",
            f"a year from {MIN_YEAR} to {this_year}",
            implausible,
        )
        years[name] = np.where(implausible, np.nan, values)
        c.out[name] = pd.Series(years[name]).astype("Int64")
    if len(years) == 2:
        c.add(
            "birth_year, arrival_year",
            "arrival_before_birth",
            "arrival_year is before birth_year",
            "arrival_year on or after birth_year",
            years["arrival_year"] < years["birth_year"],
            shown=c.raw[["birth_year", "arrival_year"]],
        )
    c.category("sex", SEXES)
    c.text("origin_region", required=True)
    c.category("education", EDUCATION_LEVELS)
    c.category("swedish_level", SWEDISH_LEVELS)
    c.text("municipality", required=False)
    mentor = c.key("mentor_id", required=False)
    if mentor is not None:
        c.add(
            "mentor_id",
            "mentored_only",
            "comparison participants have a mentor_id",
            "no mentor_id for comparison participants",
            comparison & (mentor.codes >= 0),
        )
        c.known(
            "mentor_id",
            mentor.codes,
            mentor.uniques,
            refs.mentors,
            "unknown_mentor",
            "mentor_id is not in mentors",
            "a mentor_id listed in mentors",
        )
    for name in ("end_month", "municipality", "mentor_id"):
        c.out.setdefault(name, pd.Series(np.nan, index=pd.RangeIndex(c.n), dtype="str"))
    return c


def _check_monthly(frame: pd.DataFrame, file: str, refs: _Refs) -> _Check:
    c = _Check("monthly", file, frame)
    c.require(_required("monthly"))
    key = c.key("person_id", required=True)
    if key is not None:
        c.known(
            "person_id",
            key.codes,
            key.uniques,
            refs.persons,
            "unknown_person",
            "person_id is not in participants",
            "a person_id listed in participants",
        )
    month = c.month("month", required=True)
    if key is not None and month is not None:
        valid = (key.codes >= 0) & (month.months >= 0)
        # Month index < 12 * 10_000: one int64 per (person, month) without hashing strings.
        combined = key.codes.astype("int64") * 120_000 + month.months
        c.duplicates(
            "person_id, month",
            combined,
            valid,
            pd.DataFrame({"person_id": key.values, "month": month.values}),
        )
    c.binary("employed", required=True)
    earnings = c.number("earnings", required=True, integer=False)
    if earnings is not None:
        c.add("earnings", "non_negative", "earnings are negative", "earnings >= 0", earnings < 0)
        c.out["earnings"] = pd.Series(np.where(earnings < 0, np.nan, earnings), dtype="float64")
    if c.has("in_education"):
        c.binary("in_education", required=False)
    return c


def _check_survey(
    frame: pd.DataFrame, file: str, refs: _Refs, items: Sequence[str] | None
) -> _Check:
    c = _Check("survey", file, frame)
    items = None if items is None else [str(i).strip().lower() for i in items]
    c.require(["person_id", "wave", *(items or [])])
    key = c.key("person_id", required=True)
    wave = c.category("wave", WAVES)
    if key is not None:
        c.known(
            "person_id",
            key.codes,
            key.uniques,
            refs.persons,
            "unknown_person",
            "person_id is not in participants",
            "a person_id listed in participants",
        )
        if wave is not None:
            wave_code = pd.Series(wave).map({w: i for i, w in enumerate(WAVES)})
            wave_code = wave_code.to_numpy(dtype="float64", na_value=np.nan)
            valid = (key.codes >= 0) & ~np.isnan(wave_code)
            combined = key.codes.astype("int64") * 2 + np.nan_to_num(wave_code).astype("int64")
            c.duplicates(
                "person_id, wave",
                combined,
                valid,
                pd.DataFrame({"person_id": key.values, "wave": wave}),
            )
    names = (
        items if items is not None else [n for n in c.raw.columns if n not in ("person_id", "wave")]
    )
    if items is None and not names:
        c.add(
            None,
            "required_column",
            "there are no item columns",
            "one column per survey item after person_id and wave",
        )
    c.items = [name for name in names if c.has(name)]
    low, high = LIKERT_RANGE
    for name in names:
        values = c.number(name, required=False, integer=True)
        if values is None:
            continue
        outside = (values < low) | (values > high)
        c.add(
            name,
            "likert_1_5",
            f"answers are outside {low} to {high}",
            f"a whole number from {low} to {high}, or empty",
            outside,
        )
        c.out[name] = pd.Series(np.where(outside, np.nan, values), dtype="float64")
    return c


def _check_sessions(frame: pd.DataFrame, file: str, refs: _Refs) -> _Check:
    c = _Check("sessions", file, frame)
    c.require(_required("sessions"))
    key = c.key("person_id", required=True)
    mentor = c.key("mentor_id", required=True)
    c.month("date", required=True, day=True)
    minutes = c.number("minutes", required=True, integer=True)
    if minutes is not None:
        c.add("minutes", "positive", "minutes are not positive", "minutes > 0", minutes <= 0)
        ok = minutes > 0
        c.out["minutes"] = (
            pd.Series(minutes.astype("int64"))
            if ok.all()
            else pd.Series(np.where(ok, minutes, np.nan)).astype("Int64")
        )
    if key is not None:
        c.known(
            "person_id",
            key.codes,
            key.uniques,
            refs.persons,
            "unknown_person",
            "person_id is not in participants",
            "a person_id listed in participants",
        )
        if refs.persons is not None and refs.mentored is not None:
            ids = key.values
            other_group = (refs.persons.get_indexer(ids) >= 0) & (
                refs.mentored.get_indexer(ids) < 0
            )
            c.add(
                "person_id",
                "session_not_mentored",
                "sessions belong to participants who are not in the mentored group",
                "a mentored participant",
                other_group,
                shown=ids,
            )
    if mentor is not None:
        c.known(
            "mentor_id",
            mentor.codes,
            mentor.uniques,
            refs.mentors,
            "unknown_mentor",
            "mentor_id is not in mentors",
            "a mentor_id listed in mentors",
        )
    return c


def _check_mentors(frame: pd.DataFrame, file: str, refs: _Refs) -> _Check:
    c = _Check("mentors", file, frame)
    c.require(_required("mentors"))
    key = c.key("mentor_id", required=True)
    if key is not None:
        c.duplicates("mentor_id", key.codes.astype("int64"), key.codes >= 0, key.values)
    c.category("background", BACKGROUNDS)
    c.binary("same_field", required=True)
    return c


def _raise_if(violations: Sequence[Violation]) -> None:
    if violations:
        raise ContractViolationError(violations)


# --- public validators ---------------------------------------------------------------


def _file(file: str | os.PathLike[str] | None) -> str:
    return _IN_MEMORY if file is None else str(file)


def validate_participants(
    df: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
    mentors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Validate and normalise the participants table.

    Parameters
    ----------
    df
        The table as read (see :func:`evaluation.data.io.read_table`). Not modified.
    file
        The file it came from, for messages.
    mentors
        The mentors table, if any: every ``mentor_id`` must be listed there.

    Returns
    -------
    pandas.DataFrame
        The normalised table (see the module docstring).

    Raises
    ------
    ContractViolationError
        Listing every violation.
    """
    check = _check_participants(df, _file(file), _Refs(mentors=_ids(mentors, "mentor_id")))
    _raise_if(check.violations)
    return check.frame(_order("participants"))


def validate_monthly(
    df: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
    participants: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Validate and normalise the monthly table.

    Parameters
    ----------
    df
        The table as read. Not modified.
    file
        The file it came from, for messages.
    participants
        The participants table, if any: every ``person_id`` must be listed there.

    Returns
    -------
    pandas.DataFrame
        The normalised table (see the module docstring).

    Raises
    ------
    ContractViolationError
        Listing every violation.
    """
    check = _check_monthly(df, _file(file), _Refs(persons=_ids(participants)))
    _raise_if(check.violations)
    return check.frame(_order("monthly"))


def validate_survey(
    df: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
    participants: pd.DataFrame | None = None,
    items: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate and normalise the survey table.

    Parameters
    ----------
    df
        The table as read. Not modified.
    file
        The file it came from, for messages.
    participants
        The participants table, if any: every ``person_id`` must be listed there.
    items
        The item columns; by default every column other than ``person_id`` and ``wave``.

    Returns
    -------
    pandas.DataFrame
        The normalised table (see the module docstring).

    Raises
    ------
    ContractViolationError
        Listing every violation.
    """
    check = _check_survey(df, _file(file), _Refs(persons=_ids(participants)), items)
    _raise_if(check.violations)
    return check.frame(["person_id", "wave"])


def validate_sessions(
    df: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
    participants: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Validate and normalise the sessions table.

    Parameters
    ----------
    df
        The table as read. Not modified.
    file
        The file it came from, for messages.
    participants
        The participants table, if any: every ``person_id`` must be a mentored participant.
    mentors
        The mentors table, if any: every ``mentor_id`` must be listed there.

    Returns
    -------
    pandas.DataFrame
        The normalised table (see the module docstring).

    Raises
    ------
    ContractViolationError
        Listing every violation.
    """
    refs = _Refs(
        persons=_ids(participants),
        mentored=_ids(participants, group="mentored"),
        mentors=_ids(mentors, "mentor_id"),
    )
    check = _check_sessions(df, _file(file), refs)
    _raise_if(check.violations)
    return check.frame(_order("sessions"))


def validate_mentors(
    df: pd.DataFrame, *, file: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Validate and normalise the mentors table.

    Parameters
    ----------
    df
        The table as read. Not modified.
    file
        The file it came from, for messages.

    Returns
    -------
    pandas.DataFrame
        The normalised table (see the module docstring).

    Raises
    ------
    ContractViolationError
        Listing every violation.
    """
    check = _check_mentors(df, _file(file), _Refs())
    _raise_if(check.violations)
    return check.frame(_order("mentors"))


# --- the whole study -----------------------------------------------------------------


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
        The survey's item columns (float64, 1..5 or NaN), in file order.
    """

    participants: pd.DataFrame
    monthly: pd.DataFrame | None
    survey: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    mentors: pd.DataFrame | None = None
    sources: dict[str, Path] = field(default_factory=dict)
    survey_items: tuple[str, ...] = ()

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
            contract = {*_order(name), *self.survey_items}
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
        The survey's item columns (default: every column but ``person_id`` and ``wave``).

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
    violations, checks = _check_study(tables, files, survey_items)
    for name in REQUIRED_TABLES:
        if tables.get(name) is None:
            violations.append(
                Violation(
                    _file(files.get(name)),
                    name,
                    None,
                    "table_missing",
                    "the table is required but was not given",
                    "a table",
                )
            )
    _raise_if(violations)
    return _tables(checks, files)


def _tables(
    checks: Mapping[str, _Check], files: Mapping[str, str | os.PathLike[str]]
) -> StudyTables:
    frames = {name: check.frame(_order(name)) for name, check in checks.items() if name != "survey"}
    if "survey" in checks:
        frames["survey"] = checks["survey"].frame(["person_id", "wave"])
    return StudyTables(
        participants=frames["participants"],
        monthly=frames.get("monthly"),
        survey=frames.get("survey"),
        sessions=frames.get("sessions"),
        mentors=frames.get("mentors"),
        sources={name: Path(files[name]) for name in checks if name in files},
        survey_items=tuple(getattr(checks.get("survey"), "items", ())),
    )


def _check_study(
    tables: Mapping[str, pd.DataFrame | None],
    files: Mapping[str, object],
    survey_items: Sequence[str] | None,
) -> tuple[list[Violation], dict[str, _Check]]:
    violations: list[Violation] = []
    for name in tables:
        if name not in TABLES:
            violations.append(
                Violation(
                    _file(files.get(name)),
                    str(name),
                    None,
                    "unknown_table",
                    "this is not a table of the contract",
                    "one of " + ", ".join(TABLES),
                )
            )
    given = {name: tables[name] for name in TABLES if tables.get(name) is not None}
    where = {name: _file(files.get(name)) for name in TABLES}  # type: ignore[arg-type]
    checks: dict[str, _Check] = {}
    refs = _Refs()
    if "mentors" in given:
        checks["mentors"] = _check_mentors(given["mentors"], where["mentors"], refs)
        refs.mentors = _ids_of(checks["mentors"], "mentor_id")
    if "participants" in given:
        checks["participants"] = _check_participants(
            given["participants"], where["participants"], refs
        )
        participants = checks["participants"]
        refs.persons = _ids_of(participants, "person_id")
        if refs.persons is not None and "group" in participants.out:
            mentored = (participants.out["group"] == "mentored").to_numpy(dtype=bool)
            refs.mentored = pd.Index(
                participants.out["person_id"][mentored].dropna().unique(), dtype="str"
            )
    if "monthly" in given:
        checks["monthly"] = _check_monthly(given["monthly"], where["monthly"], refs)
    if "survey" in given:
        checks["survey"] = _check_survey(given["survey"], where["survey"], refs, survey_items)
    if "sessions" in given:
        checks["sessions"] = _check_sessions(given["sessions"], where["sessions"], refs)
    for check in checks.values():
        _refuse_identity_numbers_elsewhere(check)
        violations.extend(check.violations)
    return violations, checks


#: Columns checked elsewhere: the identifiers (as keys) and the months (by their format).
_PIN_CHECKED = frozenset({"person_id", "mentor_id", "month", "start_month", "end_month"})


def _refuse_identity_numbers_elsewhere(check: _Check) -> None:
    """Identity numbers in any other column (an extra column, a note, a number column).

    The identifiers are refused as keys (:meth:`_Check.key`); an identity number can also
    arrive in a column the contract does not know (a note, a copied register field) or as a
    10/12-digit whole number. Every text and integer column is searched, by its distinct
    values, for a plausible personnummer or samordningsnummer anywhere in the value.
    """
    for column in check.raw.columns:
        if column in _PIN_CHECKED:
            continue
        raw = check.raw[column]
        if pd.api.types.is_integer_dtype(raw.dtype) or pd.api.types.is_float_dtype(raw.dtype):
            whole = pd.to_numeric(raw, errors="coerce").astype("float64")
            big = (whole.abs() >= 1e9) & (whole == np.floor(whole))
            if not big.any():
                continue
            text = whole.where(big).astype("Int64").astype("str")
        elif pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object:
            text = raw.astype("str")
        else:
            continue
        codes, uniques = pd.factorize(text.reset_index(drop=True))
        if not len(uniques):
            continue
        found = pd.Series(np.asarray(uniques, dtype=object), dtype="str").str.findall(
            _PIN_ANYWHERE.pattern
        )
        flat = [(i, piece) for i, pieces in enumerate(found) for piece in (pieces or [])]
        if not flat:
            continue
        shaped = _pin_shaped(pd.Index([piece for _, piece in flat], dtype="str"))
        bad = np.zeros(len(uniques), dtype=bool)
        bad[[i for (i, _), hit in zip(flat, shaped, strict=True) if hit]] = True
        check.refuse_identity_numbers(
            column, codes, bad,
            "values contain something shaped like a Swedish personal identity number "
            "(personnummer or samordningsnummer)",
            "no identity numbers anywhere in the data (drop the column or pseudonymise)",
        )  # fmt: skip


def _ids_of(check: _Check, column: str) -> pd.Index | None:
    values = check.out.get(column)
    return None if values is None else pd.Index(values.dropna().unique(), dtype="str")


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
    violations, checks = _check_study(frames, files, survey_items)
    _raise_if([*problems, *violations])
    return _tables(checks, files)


# --- coverage ------------------------------------------------------------------------


def coverage_by_person(
    participants: pd.DataFrame,
    monthly: pd.DataFrame,
    *,
    months_before: int = 12,
    months_after: int = 24,
) -> pd.DataFrame:
    """Months of register data each person has before and after their start.

    CONTRACT.md asks for at least 12 months before each start and the follow-up horizons
    after it. Short coverage is reported here, never an error, and nobody is dropped.

    Parameters
    ----------
    participants, monthly
        Validated tables (see :func:`validate_participants`, :func:`validate_monthly`).
    months_before
        Months needed before the start month (the pre-period).
    months_after
        Months needed after the start month (the longest follow-up horizon).

    Returns
    -------
    pandas.DataFrame
        One row per participant with a ``start_month``, in participants order:
        ``person_id``, ``group``, ``start_month``, ``first_month``, ``last_month``,
        ``months_before`` (months observed among the ``months_before`` months before the
        start), ``months_after`` (observed among months 1..``months_after`` after it),
        ``short_before``, ``short_after`` (fewer than needed) and ``short`` (either).
    """
    people = participants.loc[participants["start_month"].notna().to_numpy(dtype=bool)]
    start = month_index(people["start_month"]).to_numpy(dtype="float64", na_value=np.nan)
    # Factorise the (long) monthly ids once; look up only their distinct values.
    codes, uniques = pd.factorize(monthly["person_id"].reset_index(drop=True))
    lookup = pd.Index(people["person_id"].to_numpy(), dtype="str").get_indexer(
        pd.Index(uniques, dtype="str")
    )
    position = np.where(codes >= 0, lookup[np.maximum(codes, 0)] if len(lookup) else -1, -1)
    observed = month_index(monthly["month"]).to_numpy(dtype="float64", na_value=np.nan)
    keep = (position >= 0) & ~np.isnan(observed)
    position, observed = position[keep], observed[keep]
    offset = observed - start[position]
    n = len(people)
    before = np.bincount(position, weights=(offset < 0) & (offset >= -months_before), minlength=n)
    after = np.bincount(position, weights=(offset >= 1) & (offset <= months_after), minlength=n)
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, position, observed)
    np.maximum.at(last, position, observed)
    first[np.isinf(first)] = np.nan
    last[np.isinf(last)] = np.nan
    out = pd.DataFrame(
        {
            "person_id": people["person_id"].to_numpy(),
            "group": people["group"].to_numpy(),
            "start_month": people["start_month"].to_numpy(),
            "first_month": _month_label(first).to_numpy(),
            "last_month": _month_label(last).to_numpy(),
            "months_before": before.astype("int64"),
            "months_after": after.astype("int64"),
        }
    )
    out = out.astype(
        {c: "str" for c in ("person_id", "group", "start_month", "first_month", "last_month")}
    )
    out["short_before"] = out["months_before"] < months_before
    out["short_after"] = out["months_after"] < months_after
    out["short"] = out["short_before"] | out["short_after"]
    return out


def coverage_summary(coverage: pd.DataFrame) -> pd.DataFrame:
    """Persons with short coverage, by group (for the validation report).

    Parameters
    ----------
    coverage
        The output of :func:`coverage_by_person`.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``persons``, ``short_before``, ``short_after``, ``short``.
    """
    return (
        coverage.groupby("group", sort=True)[["short_before", "short_after", "short"]]
        .sum()
        .astype("int64")
        .assign(persons=coverage.groupby("group", sort=True).size())
        .reset_index()[["group", "persons", "short_before", "short_after", "short"]]
    )
