"""Which columns of which table are checked how: the contract's tables, table by table.

:data:`TABLE_RULES` is the table that drives validation: for each contract table, the
function that applies its rules to a :class:`~evaluation.data.contract.check.TableCheck`,
the references to other tables (or to the parameters) its rules need, and the references it
gives the tables checked after it. :func:`check_table` checks one table;
:func:`check_tables` checks a whole study, each table once, in :data:`CHECK_ORDER` (so that
every reference is known before the table that needs it), and searches every column of every
table for identity numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evaluation.data.columns import required_columns
from evaluation.data.contract.check import Key, TableCheck
from evaluation.data.contract.parse import (
    PIN_ANYWHERE,
    Parsed,
    clean_text,
    parse_months,
    pin_shaped,
)
from evaluation.data.contract.rules import (
    BACKGROUNDS,
    EDUCATION_LEVELS,
    GROUPS,
    LIKERT_RANGE,
    MIN_YEAR,
    SEXES,
    SWEDISH_LEVELS,
    WAVES,
)
from evaluation.data.io import normalise_column_names


@dataclass(frozen=True)
class Refs:
    """What a table's rules need from outside it (``None``: not available, not checked).

    Attributes
    ----------
    persons
        Every ``person_id`` of participants.
    mentored
        The ``person_id`` of the mentored participants.
    mentors
        Every ``mentor_id`` of mentors.
    survey_items
        The survey's item columns, from the parameters (``None``: every column of the survey
        but ``person_id`` and ``wave``).
    periods
        The mentoring period of each mentored participant (see :func:`mentoring_periods`).
    """

    persons: pd.Index | None = None
    mentored: pd.Index | None = None
    mentors: pd.Index | None = None
    survey_items: tuple[str, ...] | None = None
    periods: pd.DataFrame | None = None


# --- the rules of each table ----------------------------------------------------------


def _participants(c: TableCheck, refs: Refs) -> None:
    c.require(required_columns("participants"))
    key = c.key("person_id", required=True)
    if key is not None:
        c.duplicates("person_id", key.codes.astype("int64"), key.codes >= 0)
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


def _monthly(c: TableCheck, refs: Refs) -> None:
    c.require(required_columns("monthly"))
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
        c.duplicates("person_id, month", combined, valid)
    c.binary("employed", required=True)
    earnings = c.number("earnings", required=True, integer=False)
    if earnings is not None:
        c.add("earnings", "non_negative", "earnings are negative", "earnings >= 0", earnings < 0)
        c.out["earnings"] = pd.Series(np.where(earnings < 0, np.nan, earnings), dtype="float64")
    if c.has("in_education"):
        c.binary("in_education", required=False)


def _survey(c: TableCheck, refs: Refs) -> None:
    items = (
        None if refs.survey_items is None else [str(i).strip().lower() for i in refs.survey_items]
    )
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
            c.duplicates("person_id, wave", combined, valid)
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


def _sessions(c: TableCheck, refs: Refs) -> None:
    c.require(required_columns("sessions"))
    key = c.key("person_id", required=True)
    mentor = c.key("mentor_id", required=True)
    date = c.month("date", required=True, day=True)
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
            )
        if date is not None and refs.periods is not None:
            _sessions_in_mentoring(c, key, date, refs.periods)
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


def _sessions_in_mentoring(c: TableCheck, key: Key, date: Parsed, periods: pd.DataFrame) -> None:
    """Sessions dated before their person's start month or after their end month."""
    at = periods.index.get_indexer(key.values)
    known = at >= 0
    pick = np.maximum(at, 0)
    start = np.where(known, periods["start"].to_numpy()[pick], -1)
    end = np.where(known, periods["end"].to_numpy()[pick], -1)
    month = date.months if date.months is not None else np.full(c.n, -1)
    # a period that ends before it starts is refused on its own (end_before_start)
    dated = known & (month >= 0) & (start >= 0) & ~((end >= 0) & (end < start))
    outside = dated & ((month < start) | ((end >= 0) & (month > end)))
    if outside.any():
        c.add(
            "date",
            "session_outside_mentoring",
            "sessions are dated outside their person's mentoring period",
            "a date from the person's start_month to their end_month (or later, when "
            "end_month is empty)",
            outside,
        )


def _mentors(c: TableCheck, refs: Refs) -> None:
    c.require(required_columns("mentors"))
    key = c.key("mentor_id", required=True)
    if key is not None:
        c.duplicates("mentor_id", key.codes.astype("int64"), key.codes >= 0)
    c.category("background", BACKGROUNDS)
    c.binary("same_field", required=True)


# --- identity numbers in any column ----------------------------------------------------


#: Columns checked elsewhere: the identifiers (as keys) and the months (by their format).
_PIN_CHECKED = frozenset({"person_id", "mentor_id", "month", "start_month", "end_month"})


def refuse_identity_numbers_elsewhere(check: TableCheck) -> None:
    """Identity numbers in any other column (an extra column, a note, a number column).

    The identifiers are refused as keys (:meth:`TableCheck.key`); an identity number can also
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
            PIN_ANYWHERE.pattern
        )
        flat = [(i, piece) for i, pieces in enumerate(found) for piece in (pieces or [])]
        if not flat:
            continue
        shaped = pin_shaped(pd.Index([piece for _, piece in flat], dtype="str"))
        bad = np.zeros(len(uniques), dtype=bool)
        bad[[i for (i, _), hit in zip(flat, shaped, strict=True) if hit]] = True
        check.refuse_identity_numbers(
            column, codes, bad,
            "values contain something shaped like a Swedish personal identity number "
            "(personnummer or samordningsnummer)",
            "no identity numbers anywhere in the data (drop the column or pseudonymise)",
        )  # fmt: skip


# --- references ----------------------------------------------------------------------


def ids_of_frame(
    frame: pd.DataFrame | None, column: str = "person_id", *, group: str | None = None
) -> pd.Index | None:
    """Distinct identifiers of a (normalised or raw) frame, optionally of one group."""
    if frame is None:
        return None
    frame = frame.set_axis(normalise_column_names(frame.columns), axis=1)
    if column not in frame.columns:
        return None
    values = clean_text(frame[column])
    if group is not None:
        if "group" not in frame.columns:
            return None
        values = values[(clean_text(frame["group"]).str.lower() == group).to_numpy()]
    return pd.Index(values.dropna().unique(), dtype="str")


def mentoring_periods(participants: pd.DataFrame | None) -> pd.DataFrame | None:
    """Each mentored participant's start and end month (``None`` without the columns).

    Parameters
    ----------
    participants
        The participants table, raw or normalised (months that do not parse are missing).

    Returns
    -------
    pandas.DataFrame or None
        Index ``person_id`` (unique, the first row of a repeated one); columns
        ``start_month`` and ``end_month`` (``'YYYY-MM'`` or missing) and ``start``, ``end``
        (month numbers, -1 where missing).
    """
    if participants is None:
        return None
    frame = participants.set_axis(normalise_column_names(participants.columns), axis=1)
    needed = ("person_id", "group", "start_month")
    if any(name not in frame.columns for name in needed) or frame.columns.duplicated().any():
        return None
    mentored = (clean_text(frame["group"]).str.lower() == "mentored").to_numpy()
    ids = clean_text(frame["person_id"])[mentored]
    start = parse_months(frame["start_month"][mentored], day_required=False)
    if "end_month" in frame.columns:
        end = parse_months(frame["end_month"][mentored], day_required=False)
        end_values, end_months = end.values.to_numpy(dtype=object), end.months
    else:
        end_values, end_months = np.full(len(ids), None, dtype=object), np.full(len(ids), -1)
    periods = pd.DataFrame(
        {
            "start_month": start.values.to_numpy(dtype=object),
            "end_month": end_values,
            "start": start.months,
            "end": end_months,
        },
        index=pd.Index(ids.to_numpy(dtype=object), dtype="str", name="person_id"),
    )
    valid = periods.index.notna() & ~periods.index.duplicated()
    return periods.loc[valid]


def ids_of_check(check: TableCheck, column: str) -> pd.Index | None:
    """Distinct valid values of a checked key column (``None`` if the column is absent)."""
    values = check.out.get(column)
    return None if values is None else pd.Index(values.dropna().unique(), dtype="str")


# --- the table that drives validation ------------------------------------------------


@dataclass(frozen=True)
class TableRules:
    """How one contract table is checked.

    Attributes
    ----------
    apply
        Applies the table's rules to its :class:`TableCheck` (given the references).
    needs
        The references its rules use: ``"participants"`` (persons and the mentored),
        ``"mentors"``, ``"items"`` (the survey items).
    gives
        The references it provides to the tables checked after it (from its valid values).
    """

    apply: Callable[[TableCheck, Refs], None]
    needs: tuple[str, ...] = ()
    gives: Callable[[TableCheck, Refs], Refs] | None = None


def _gives_mentors(check: TableCheck, refs: Refs) -> Refs:
    return replace(refs, mentors=ids_of_check(check, "mentor_id"))


def _gives_persons(check: TableCheck, refs: Refs) -> Refs:
    persons = ids_of_check(check, "person_id")
    mentored = refs.mentored
    if persons is not None and "group" in check.out:
        is_mentored = (check.out["group"] == "mentored").to_numpy(dtype=bool)
        mentored = pd.Index(check.out["person_id"][is_mentored].dropna().unique(), dtype="str")
    periods = mentoring_periods(pd.DataFrame(check.out)) if check.out else None
    return replace(refs, persons=persons, mentored=mentored, periods=periods)


#: Every contract table's rules (see :class:`TableRules`).
TABLE_RULES: dict[str, TableRules] = {
    "participants": TableRules(_participants, needs=("mentors",), gives=_gives_persons),
    "monthly": TableRules(_monthly, needs=("participants",)),
    "survey": TableRules(_survey, needs=("participants", "items")),
    "sessions": TableRules(_sessions, needs=("participants", "mentors")),
    "mentors": TableRules(_mentors, gives=_gives_mentors),
}

#: The order a study's tables are checked in: every reference before the tables needing it.
CHECK_ORDER = ("mentors", "participants", "monthly", "survey", "sessions")


def check_table(table: str, frame: pd.DataFrame, file: str, refs: Refs) -> TableCheck:
    """Apply the rules of one contract table to a frame as read.

    Parameters
    ----------
    table
        A contract table (see :data:`TABLE_RULES`).
    frame
        The table as read. Not modified.
    file
        Its file, for messages.
    refs
        The references its rules need; a reference that is ``None`` is not checked.

    Returns
    -------
    TableCheck
        The violations found and the normalised columns.
    """
    check = TableCheck(table, file, frame)
    TABLE_RULES[table].apply(check, refs)
    return check


def check_tables(
    frames: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    survey_items: Sequence[str] | None,
) -> dict[str, TableCheck]:
    """Check every given contract table, with the references between them.

    Parameters
    ----------
    frames
        Contract table name to its frame as read (only the tables given).
    files
        Each table's file, for messages.
    survey_items
        The survey's item columns (``None``: every column but ``person_id`` and ``wave``).

    Returns
    -------
    dict of str to TableCheck
        One check per given table, in :data:`CHECK_ORDER`; identity numbers in any column
        are among each check's violations.
    """
    refs = Refs(survey_items=None if survey_items is None else tuple(survey_items))
    checks: dict[str, TableCheck] = {}
    for table in CHECK_ORDER:
        if table not in frames:
            continue
        checks[table] = check_table(table, frames[table], files[table], refs)
        gives = TABLE_RULES[table].gives
        if gives is not None:
            refs = gives(checks[table], refs)
    for check in checks.values():
        refuse_identity_numbers_elsewhere(check)
    return checks
