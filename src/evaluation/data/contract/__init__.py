"""Validate the input tables against the data contract and return them normalised.

The contract is ``CONTRACT.md`` (shared) and ``data/README.md``; :data:`RULES` lists every
rule this package enforces, and ``data/CONTRACT_RULES.md`` is rendered from it by
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
``'yes'`` are refused). What a site's export writes otherwise is mapped when it is read
(:mod:`evaluation.data.io`): the parameter file's ``columns`` and ``recode`` maps, decimal
commas, and a month column whose every value is ``YYYYMM``.

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

Modules, one concern each
-------------------------
``rules``
    The allowed values; the rule table; violations and the error (the tables and their
    columns are declared in :mod:`evaluation.data.columns`, which the readers share).
``parse``
    Vectorised parsing of text, keys, months, dates and numbers; identity-number shapes.
``check``
    :class:`~evaluation.data.contract.check.TableCheck`: checks one table's columns.
``tables``
    Which columns of which table are checked how (``TABLE_RULES``), and in which order.
``validate``
    :func:`validate_table` (one table-driven validator) and :func:`validate_study`.
``load``
    :func:`load_study`: read the files, then validate.
``coverage``
    Months of register data around each start (reported, not refused).
``docs``
    ``data/CONTRACT_RULES.md`` rendered from the rule table.
"""

from evaluation.data.columns import COLUMNS, REQUIRED_TABLES, TABLES
from evaluation.data.contract.coverage import coverage_by_person, coverage_summary
from evaluation.data.contract.docs import rules_markdown
from evaluation.data.contract.load import load_study
from evaluation.data.contract.rules import (
    BACKGROUNDS,
    EDUCATION_LEVELS,
    GROUPS,
    LIKERT_RANGE,
    MAX_REPORTED,
    MIN_YEAR,
    RULES,
    SEXES,
    SHOW_ROWS,
    SWEDISH_LEVELS,
    WAVES,
    ContractViolationError,
    Rule,
    Violation,
)
from evaluation.data.contract.validate import (
    StudyTables,
    validate_mentors,
    validate_monthly,
    validate_participants,
    validate_sessions,
    validate_study,
    validate_survey,
    validate_table,
)

__all__ = [
    "BACKGROUNDS",
    "COLUMNS",
    "EDUCATION_LEVELS",
    "GROUPS",
    "LIKERT_RANGE",
    "MAX_REPORTED",
    "MIN_YEAR",
    "REQUIRED_TABLES",
    "RULES",
    "SEXES",
    "SHOW_ROWS",
    "SWEDISH_LEVELS",
    "TABLES",
    "WAVES",
    "ContractViolationError",
    "Rule",
    "StudyTables",
    "Violation",
    "coverage_by_person",
    "coverage_summary",
    "load_study",
    "rules_markdown",
    "validate_mentors",
    "validate_monthly",
    "validate_participants",
    "validate_sessions",
    "validate_study",
    "validate_survey",
    "validate_table",
]
