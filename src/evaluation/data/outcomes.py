"""The study's outcomes, derived from the ``monthly`` contract table.

The study's outcomes are defined once, here, and computed from the ``monthly`` table
relative to each person's ``start_month`` (month 0). Everything is vectorised over
person-months (no Python loop over persons), so that a register extract of a few hundred
thousand persons and tens of millions of person-months is handled in seconds.

Definitions (``s`` = start month, ``k`` = horizon, ``P`` = ``pre_months``):

==========================  ==============================================================
``employed_m{k}``           ``employed`` in month ``s+k``; NaN if that month is not covered
``months_employed_{k}``     sum of ``employed`` over months ``s+1 .. s+k``
``earnings_{k}``            sum of ``earnings`` over months ``s+1 .. s+k`` (SEK)
``months_to_job``           first month ``t >= 1`` with ``employed = 1`` within the
                            contiguous coverage after start; if none, the number of
                            contiguously covered months after start (censored)
``job_found``               1 if a job month was seen (event), 0 if censored
``pre_employed_m{P}``       ``employed`` in month ``s-P``
``pre_employed_m1``         ``employed`` in month ``s-1``
``pre_months_employed_{P}`` sum of ``employed`` over months ``s-P .. s-1``
``pre_earnings_{P}``        sum of ``earnings`` over months ``s-P .. s-1``
``months_before``           contiguous covered months immediately before ``s``
``months_after``            contiguous covered months immediately after ``s``
==========================  ==============================================================

A window sum (``months_employed``, ``earnings``, their pre-period versions) is NaN unless
every month of its window is covered (``months_after >= k``, ``months_before >= P``):
missing coverage is never read as zero. ``months_to_job`` and ``job_found`` are NaN when
no month after start is covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.calendar import NO_MONTH, month_codes, month_label, quarter_label

#: Default follow-up horizons in months after start (CONTRACT.md).
DEFAULT_HORIZONS = (6, 12, 24)

#: Default length of the pre-period in months.
DEFAULT_PRE_MONTHS = 12

MENTORED = "mentored"
COMPARISON = "comparison"


# --- locating rows -----------------------------------------------------------------------


def person_index(participants: pd.DataFrame) -> pd.Index:
    """The participants' ``person_id`` values as an index (refused unless unique).

    Parameters
    ----------
    participants
        A table with a ``person_id`` column.

    Returns
    -------
    pandas.Index
        Object index in table order; position ``i`` is row ``i``.

    Raises
    ------
    ValueError
        ``person_id`` is not unique.
    """
    ids = pd.Index(participants["person_id"].to_numpy(dtype=object))
    if not ids.is_unique:
        raise ValueError("participants.person_id must be unique")
    return ids


def row_positions(ids: pd.Index, column: pd.Series) -> np.ndarray:
    """Position in ``ids`` of each row's person (``-1`` where unknown), as ``int32``.

    Parameters
    ----------
    ids
        From :func:`person_index`.
    column
        The ``person_id`` column of a long table (text or categorical).

    Returns
    -------
    numpy.ndarray
        ``int32``, one per row of ``column``; each distinct value is looked up once.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        uniques = pd.Index(column.cat.categories.to_numpy(dtype=object))
        codes = column.cat.codes.to_numpy()
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        uniques = pd.Index(np.asarray(uniques, dtype=object))
    if len(uniques) == 0:
        return np.full(len(codes), -1, dtype=np.int32)
    pos_u = ids.get_indexer(uniques).astype(np.int32)
    if len(codes) and codes.min() >= 0:
        return pos_u[codes]
    return np.where(codes >= 0, pos_u[np.maximum(codes, 0)], -1).astype(np.int32)


@dataclass(frozen=True)
class _Rows:
    """Monthly rows of known persons, sorted by (person position, month)."""

    person: np.ndarray  # int32 position in participants
    month: np.ndarray  # int32 month number
    employed: np.ndarray  # int8
    earnings: np.ndarray  # numeric, as stored (summed as float64)

    def take(self, index: np.ndarray) -> _Rows:
        """The rows at ``index`` (an integer or boolean array)."""
        return _Rows(
            self.person[index], self.month[index], self.employed[index], self.earnings[index]
        )


def _sorted_rows(ids: pd.Index, monthly: pd.DataFrame) -> _Rows:
    person = row_positions(ids, monthly["person_id"])
    month = month_codes(monthly["month"])
    employed = monthly["employed"].to_numpy(dtype=np.int8, na_value=0)
    earnings = monthly["earnings"].to_numpy()
    if earnings.dtype.kind not in "iuf":
        earnings = monthly["earnings"].to_numpy(dtype=np.float64, na_value=np.nan)
    rows = _Rows(person, month, employed, earnings)
    keep = (person >= 0) & (month != NO_MONTH)
    if not keep.all():
        rows = rows.take(keep)
    if len(rows.person) > 1:
        step = np.diff(rows.person)
        later = np.diff(rows.month) > 0
        if not np.all((step > 0) | ((step == 0) & later)):
            rows = rows.take(np.lexsort((rows.month, rows.person)))
            same = (np.diff(rows.person) == 0) & (np.diff(rows.month) == 0)
            if same.any():
                raise ValueError("monthly has more than one row for a person and month")
    return rows


# --- outcomes ----------------------------------------------------------------------------


def build_outcomes(
    participants: pd.DataFrame,
    monthly: pd.DataFrame,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    pre_months: int = DEFAULT_PRE_MONTHS,
) -> pd.DataFrame:
    """Derive each person's outcomes and pre-period covariates from the monthly panel.

    Parameters
    ----------
    participants
        Contract table with at least ``person_id`` (unique) and ``start_month``
        (``'YYYY-MM'`` or missing). Persons without a start month get missing outcomes.
    monthly
        Contract table with ``person_id``, ``month``, ``employed`` (0/1) and ``earnings``;
        at most one row per person and month. Rows of unknown persons are ignored.
    horizons
        Follow-up horizons ``k`` in months after start (positive integers).
    pre_months
        Length ``P`` of the pre-period (positive integer).

    Returns
    -------
    pandas.DataFrame
        One row per participant, in the order of ``participants`` (``RangeIndex``), with
        ``person_id``, ``start_month``, ``start_quarter``, ``months_before``,
        ``months_after`` (nullable ``Int32``) and the float outcome columns defined in
        the module docstring. Window outcomes are NaN when the window is not covered.
    """
    horizons = check_horizons(horizons)
    if int(pre_months) < 1:
        raise ValueError("pre_months must be a positive integer")
    pre_months = int(pre_months)
    ids = person_index(participants)
    n = len(ids)
    start = month_codes(participants["start_month"])
    has_start = start != NO_MONTH
    rows = _sorted_rows(ids, monthly)
    keep = has_start[rows.person]
    if not keep.all():
        rows = rows.take(keep)
    p, emp, earn = rows.person, rows.employed, rows.earnings
    rel = rows.month - start[p]
    before, after = _coverage(p, rows.month, rel, start, n)

    def at(offset: int) -> np.ndarray:
        out = np.full(n, np.nan)
        hit = rel == offset
        out[p[hit]] = emp[hit]
        return out

    def window_sum(values: np.ndarray, lo: int, hi: int, covered: np.ndarray) -> np.ndarray:
        hit = (rel >= lo) & (rel <= hi)
        out = np.bincount(p[hit], weights=values[hit].astype(np.float64), minlength=n)
        out = out.astype(np.float64, copy=False)  # bincount of nothing is int64
        out[~covered] = np.nan
        return out

    columns: dict[str, object] = {
        "person_id": participants["person_id"].reset_index(drop=True),
        "start_month": pd.array(month_label(start), dtype="string"),
        "start_quarter": pd.array(quarter_label(start), dtype="string"),
        "months_before": pd.arrays.IntegerArray(before, ~has_start),
        "months_after": pd.arrays.IntegerArray(after, ~has_start),
    }
    for k in horizons:
        covered = has_start & (after >= k)
        columns[f"employed_m{k}"] = at(k)
        columns[f"months_employed_{k}"] = window_sum(emp, 1, k, covered)
        columns[f"earnings_{k}"] = window_sum(earn, 1, k, covered)
    columns["months_to_job"], columns["job_found"] = _time_to_job(p, rel, emp, after, has_start)
    pre_covered = has_start & (before >= pre_months)
    columns[f"pre_employed_m{pre_months}"] = at(-pre_months)
    columns["pre_employed_m1"] = at(-1)
    columns[f"pre_months_employed_{pre_months}"] = window_sum(emp, -pre_months, -1, pre_covered)
    columns[f"pre_earnings_{pre_months}"] = window_sum(earn, -pre_months, -1, pre_covered)
    return pd.DataFrame(columns)


def check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    """Follow-up horizons as a tuple of distinct positive integers (else ``ValueError``)."""
    out = tuple(int(k) for k in horizons)
    if not out or min(out) < 1 or len(set(out)) != len(out):
        raise ValueError(f"horizons must be distinct positive integers, got {horizons!r}")
    return out


def _coverage(
    p: np.ndarray, month: np.ndarray, rel: np.ndarray, start: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous covered months just before and just after each person's start."""
    before = np.zeros(n, dtype=np.int32)
    after = np.zeros(n, dtype=np.int32)
    if len(p) == 0:
        return before, after
    new_run = np.ones(len(p), dtype=bool)
    new_run[1:] = (p[1:] != p[:-1]) | (month[1:] != month[:-1] + 1)
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:] - 1, len(p) - 1)
    del new_run
    hit = np.flatnonzero(rel == 1)
    run = np.searchsorted(run_start, hit, side="right") - 1
    after[p[hit]] = month[run_end[run]] - start[p[hit]]
    hit = np.flatnonzero(rel == -1)
    run = np.searchsorted(run_start, hit, side="right") - 1
    before[p[hit]] = start[p[hit]] - month[run_start[run]]
    return before, after


def _time_to_job(
    p: np.ndarray, rel: np.ndarray, emp: np.ndarray, after: np.ndarray, has_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First employed month after start within coverage, else censored at coverage end."""
    n = len(after)
    months = np.where(has_start, after, np.nan).astype(np.float64)
    found = np.where(has_start, 0.0, np.nan)
    hit = (rel >= 1) & (rel <= after[p]) & (emp == 1)
    hp = p[hit]
    if len(hp):
        first = np.ones(len(hp), dtype=bool)
        first[1:] = hp[1:] != hp[:-1]
        months[hp[first]] = rel[hit][first]
        found[hp[first]] = 1.0
    undefined = ~has_start | (after == 0)
    months[undefined] = np.nan
    found[undefined] = np.nan
    assert len(months) == n
    return months, found


# --- event-study panel -------------------------------------------------------------------


def panel_relative(participants: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """The monthly panel with each row's month relative to the person's start.

    Parameters
    ----------
    participants
        Contract table with ``person_id``, ``group`` and ``start_month`` (typically after
        :func:`assign_pseudo_starts`, or ``AnalysisData.frame``). Not modified.
    monthly
        Contract monthly table. Not modified.

    Returns
    -------
    pandas.DataFrame
        The rows of ``monthly`` whose person is in ``participants`` with a start month, in
        their original order, with two added columns: ``rel_month`` (``int16``, month
        minus start month; 0 is the start month) and ``treated`` (``int8``).
    """
    ids = person_index(participants)
    start = month_codes(participants["start_month"])
    treated = (participants["group"].to_numpy(dtype=object) == MENTORED).astype(np.int8)
    person = row_positions(ids, monthly["person_id"])
    month = month_codes(monthly["month"])
    pos = np.maximum(person, 0)
    keep = (person >= 0) & (start[pos] != NO_MONTH) & (month != NO_MONTH)
    out = monthly.loc[keep].copy()
    out["rel_month"] = (month[keep] - start[pos[keep]]).astype(np.int16)
    out["treated"] = treated[pos[keep]]
    return out
