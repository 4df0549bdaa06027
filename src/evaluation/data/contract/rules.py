"""The rules of the data contract, the violations they report and the error that carries them.

:data:`RULES` is the one table of every rule the validator enforces (its id, its order of
reporting, where it applies, what it requires and what to do); ``data/CONTRACT_RULES.md`` is
rendered from it (:mod:`evaluation.data.contract.docs`). The contract's tables, columns and
allowed values are declared here too, so that every other module reads them from one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evaluation.data.columns import TABLES
from evaluation.errors import ContractError

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

#: How a table validated in memory (no file) is named in messages.
IN_MEMORY = "in memory"


# --- rules and violations ------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One rule of the data contract.

    Parameters
    ----------
    id
        Stable identifier, used in :attr:`Violation.rule` and in tests.
    severity
        Order of reporting: 0 (the file itself) to 7 (implausible values); 8 for what the
        design needs of valid tables.
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
    Rule("session_outside_mentoring", 7, "sessions.date, with participants.start_month, "
         "end_month",
         "a session is dated in its person's mentoring period: not before the month of "
         "start_month, not after the month of end_month (when it is given)",
         "check the session's date, or the person's start_month and end_month (start_month "
         "is the month mentoring started: a session before it means it started earlier)"),
    Rule("too_few_analysable", 8, "participants with monthly (checked when every other rule "
         "holds)",
         "at least design.min_mentored mentored persons (default 10) can be analysed: they "
         "have monthly rows and outcomes.min_pre_months months of coverage immediately "
         "before their start month; and comparison persons have monthly rows",
         "check that the monthly extract holds these persons (person_id as in participants) "
         "and the months before each start_month; with fewer mentored persons than that, "
         "this design cannot estimate an effect"),
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
    notes
        How the tables were read (the Excel sheet of a workbook), written after the
        violations: row numbers count rows of that sheet.
    """

    def __init__(self, violations: Sequence[Violation], notes: Sequence[str] = ()) -> None:
        rank = {name: i for i, name in enumerate(TABLES)}
        self.violations: tuple[Violation, ...] = tuple(
            sorted(violations, key=lambda v: (v.severity, rank.get(v.table, len(rank))))
        )
        self.notes: tuple[str, ...] = tuple(notes)
        super().__init__(_format(self.violations, self.notes))

    def __reduce__(self) -> tuple[type, tuple[tuple[Violation, ...], tuple[str, ...]]]:
        return type(self), (self.violations, self.notes)


def _format(violations: Sequence[Violation], notes: Sequence[str] = ()) -> str:
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
    return "\n".join([head, *body, *(f"Note: {note}" for note in notes)])
