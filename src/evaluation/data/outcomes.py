"""Analysis data from the contract tables: outcomes, pseudo starts and the sample flow.

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

#: Default follow-up horizons in months after start (CONTRACT.md).
DEFAULT_HORIZONS = (6, 12, 24)

#: Default length of the pre-period in months.
DEFAULT_PRE_MONTHS = 12

MENTORED = "mentored"
COMPARISON = "comparison"

_MONTH_PATTERN = r"\d{4}-(?:0[1-9]|1[0-2])"
_NO_MONTH = -1

#: Sample-flow row kinds; ``input = sum(excluded) + analysed`` within each group.
FLOW_KINDS = ("input", "note", "excluded", "analysed")


# --- months ------------------------------------------------------------------------------


def month_index(s: pd.Series | Sequence[str] | np.ndarray) -> pd.Series:
    """Turn ``'YYYY-MM'`` labels into integer month numbers ``year * 12 + month - 1``.

    Parameters
    ----------
    s
        Month labels (text, categorical or object); missing values are allowed.

    Returns
    -------
    pandas.Series
        Nullable ``Int32``; missing where the input is missing. Same index as ``s`` if it
        is a Series.

    Raises
    ------
    ValueError
        A non-missing value is not of the form ``YYYY-MM``.

    Notes
    -----
    Parsing is done once per distinct label and broadcast with the factorisation codes,
    so tens of millions of rows cost about one hashing pass.
    """
    codes = _month_codes(s)
    index = s.index if isinstance(s, pd.Series) else None
    values = pd.arrays.IntegerArray(codes, codes == _NO_MONTH)
    return pd.Series(values, index=index, name=getattr(s, "name", None))


def month_label(index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Turn integer month numbers (see :func:`month_index`) back into ``'YYYY-MM'``.

    Parameters
    ----------
    index
        Month numbers; negative values mean missing.

    Returns
    -------
    numpy.ndarray
        Object array of labels, ``None`` where missing.
    """
    return _label_months(index, lambda u: f"{u // 12:04d}-{u % 12 + 1:02d}")


def quarter_label(index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Turn integer month numbers into calendar quarters such as ``'2018Q2'``.

    Parameters
    ----------
    index
        Month numbers (see :func:`month_index`); negative values mean missing.

    Returns
    -------
    numpy.ndarray
        Object array of labels, ``None`` where missing.
    """
    return _label_months(index, lambda u: f"{u // 12:04d}Q{u % 12 // 3 + 1}")


def _label_months(index: Sequence[int] | np.ndarray, label) -> np.ndarray:
    """Label month numbers (each distinct month formatted once); ``None`` where negative."""
    idx = np.asarray(index, dtype=np.int64)
    out = np.full(idx.shape, None, dtype=object)
    valid = idx >= 0
    if valid.any():
        uniq, inverse = np.unique(idx[valid], return_inverse=True)
        out[valid] = np.array([label(int(u)) for u in uniq], dtype=object)[inverse]
    return out


def _month_codes(s: pd.Series | Sequence[str] | np.ndarray) -> np.ndarray:
    """Month numbers as ``int32`` with ``-1`` for missing (internal form of month_index)."""
    ser = s if isinstance(s, pd.Series) else pd.Series(np.asarray(s, dtype=object))
    codes, uniques = pd.factorize(ser, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.full(len(codes), _NO_MONTH, dtype=np.int32)
    text = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.strip()
    ok = text.str.fullmatch(_MONTH_PATTERN).to_numpy(dtype=bool)
    if not ok.all():
        bad = text[~ok].head(3).tolist()
        raise ValueError(f"month values must look like 'YYYY-MM'; found {bad}")
    values = (
        text.str.slice(0, 4).astype(np.int32) * 12 + text.str.slice(5, 7).astype(np.int32) - 1
    ).to_numpy(dtype=np.int32)
    if codes.min() >= 0:
        return values[codes]
    out = np.full(len(codes), _NO_MONTH, dtype=np.int32)
    valid = codes >= 0
    out[valid] = values[codes[valid]]
    return out


# --- locating rows -----------------------------------------------------------------------


def _person_index(participants: pd.DataFrame) -> pd.Index:
    ids = pd.Index(participants["person_id"].to_numpy(dtype=object))
    if not ids.is_unique:
        raise ValueError("participants.person_id must be unique")
    return ids


def _row_positions(ids: pd.Index, column: pd.Series) -> np.ndarray:
    """Position in ``ids`` of each row's person (``-1`` where unknown), as ``int32``."""
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
    person = _row_positions(ids, monthly["person_id"])
    month = _month_codes(monthly["month"])
    employed = monthly["employed"].to_numpy(dtype=np.int8, na_value=0)
    earnings = monthly["earnings"].to_numpy()
    if earnings.dtype.kind not in "iuf":
        earnings = monthly["earnings"].to_numpy(dtype=np.float64, na_value=np.nan)
    rows = _Rows(person, month, employed, earnings)
    keep = (person >= 0) & (month != _NO_MONTH)
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
    horizons = _check_horizons(horizons)
    if int(pre_months) < 1:
        raise ValueError("pre_months must be a positive integer")
    pre_months = int(pre_months)
    ids = _person_index(participants)
    n = len(ids)
    start = _month_codes(participants["start_month"])
    has_start = start != _NO_MONTH
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


def _check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
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


# --- pseudo starts -----------------------------------------------------------------------


def assign_pseudo_starts(
    participants: pd.DataFrame,
    rng: np.random.Generator | int,
    *,
    monthly: pd.DataFrame | None = None,
    pre_months: int = DEFAULT_PRE_MONTHS,
    post_months: int = 0,
) -> tuple[pd.DataFrame, int]:
    """Give comparison persons without a start month a pseudo start month.

    The rule (documented in ``data/README.md``): each comparison person whose
    ``start_month`` is empty draws one month from the empirical distribution of the
    mentored persons' start months (each distinct month weighted by the number of
    mentored persons starting in it). When ``monthly`` is given the draw is restricted,
    in this order of preference, to

    1. the mentored start months ``m`` for which the person's monthly rows cover every
       month ``m - pre_months .. m + post_months``;
    2. failing that, the mentored start months at which the person has a monthly row;
    3. failing that, no pseudo start is assigned (the start stays empty and the person
       is later excluded with the reason "no start month and no pseudo start possible").

    Persons are processed in ``person_id`` order with one uniform draw each from ``rng``,
    so the result does not depend on the row order of ``participants``. Mentored persons
    and comparison persons with a start month are never changed.

    Parameters
    ----------
    participants
        Contract table (``person_id``, ``group``, ``start_month``). Not modified.
    rng
        A :class:`numpy.random.Generator`, or a seed for ``numpy.random.default_rng``.
    monthly
        Optional contract ``monthly`` table to restrict draws to covered months.
    pre_months, post_months
        Coverage window required around a candidate month for preference 1.

    Returns
    -------
    participants : pandas.DataFrame
        A copy with ``start_month`` filled where a pseudo start was assigned and a new
        column ``pseudo_start`` (``int8``: 1 where assigned).
    n_assigned : int
        Number of pseudo starts assigned.
    """
    rng = np.random.default_rng(rng)
    out = participants.copy()
    start = _month_codes(out["start_month"])
    group = out["group"].to_numpy(dtype=object)
    pseudo = np.zeros(len(out), dtype=np.int8)
    need = np.flatnonzero((group == COMPARISON) & (start == _NO_MONTH))
    mentored_starts = start[(group == MENTORED) & (start != _NO_MONTH)]
    if len(need) == 0 or len(mentored_starts) == 0:
        out["pseudo_start"] = pseudo
        return out, 0
    candidates, weight = np.unique(mentored_starts, return_counts=True)
    person_ids = out["person_id"].to_numpy(dtype=object).astype(str)
    need = need[np.argsort(person_ids[need], kind="stable")]
    eligible = np.ones((len(need), len(candidates)), dtype=bool)
    if monthly is not None:
        eligible = _eligible_months(
            _person_index(out), need, monthly, candidates, pre_months, post_months
        )
    w = eligible * weight.astype(np.float64)
    total = w.sum(axis=1)
    cum = np.cumsum(w, axis=1)
    u = rng.random(len(need))
    choice = np.minimum((cum <= (u * total)[:, None]).sum(axis=1), len(candidates) - 1)
    ok = total > 0
    start[need[ok]] = candidates[choice[ok]]
    pseudo[need[ok]] = 1
    dtype = out["start_month"].dtype
    if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_string_dtype(dtype):
        dtype = "str"
    out["start_month"] = pd.array(month_label(start), dtype=dtype)
    out["pseudo_start"] = pseudo
    return out, int(ok.sum())


def _eligible_months(
    ids: pd.Index,
    need: np.ndarray,
    monthly: pd.DataFrame,
    candidates: np.ndarray,
    pre_months: int,
    post_months: int,
) -> np.ndarray:
    """Preference 1 (full window covered), else 2 (month covered), per person x month."""
    sub = np.full(len(ids), -1, dtype=np.int64)
    sub[need] = np.arange(len(need))
    person = _row_positions(ids, monthly["person_id"])
    month = _month_codes(monthly["month"])
    keep = (person >= 0) & (month != _NO_MONTH)
    s = np.where(keep, sub[np.maximum(person, 0)], -1)
    keep &= s >= 0
    s, month = s[keep], month[keep]
    full = np.zeros((len(need), len(candidates)), dtype=bool)
    at = np.zeros_like(full)
    width = pre_months + post_months + 1
    for j, c in enumerate(candidates):  # loop over distinct start months, not persons
        window = (month >= c - pre_months) & (month <= c + post_months)
        full[:, j] = np.bincount(s[window], minlength=len(need)) >= width
        at[:, j] = np.bincount(s[month == c], minlength=len(need)) > 0
    return np.where(full.any(axis=1)[:, None], full, at)


# --- analysis data -----------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisData:
    """The analysis data set and how it was arrived at.

    Attributes
    ----------
    frame
        One row per analysed person: the participants' columns, the outcomes of
        :func:`build_outcomes`, ``treated`` (1 mentored / 0 comparison), ``pseudo_start``,
        ``age`` and ``years_in_sweden`` at start (start year minus birth / arrival year).
    flow
        The sample flow: columns ``step``, ``kind`` (see :data:`FLOW_KINDS`),
        ``mentored``, ``comparison``, ``total``, ``reason``. Within each group the
        ``input`` row equals the sum of the ``excluded`` rows plus the ``analysed`` row.
    n_pseudo_starts
        Comparison persons given a pseudo start (:func:`assign_pseudo_starts`).
    short_coverage
        Analysed persons whose coverage after start ends before each horizon (their
        outcomes at that horizon are NaN): index ``horizon``, columns ``mentored``,
        ``comparison``, ``total``. Reported, not dropped.
    excluded
        ``person_id``, ``group`` and ``reason`` of every excluded person.
    horizons, pre_months, min_pre_months
        The settings used.
    """

    frame: pd.DataFrame
    flow: pd.DataFrame
    n_pseudo_starts: int
    short_coverage: pd.DataFrame
    excluded: pd.DataFrame
    horizons: tuple[int, ...]
    pre_months: int
    min_pre_months: int


def build_analysis(
    participants: pd.DataFrame,
    monthly: pd.DataFrame,
    *,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    pre_months: int = DEFAULT_PRE_MONTHS,
    min_pre_months: int = DEFAULT_PRE_MONTHS,
    rng: np.random.Generator | int,
) -> AnalysisData:
    """Assemble the analysis data: pseudo starts, outcomes, exclusions and sample flow.

    Parameters
    ----------
    participants, monthly
        Validated contract tables. Not modified.
    horizons
        Follow-up horizons in months.
    pre_months
        Length of the pre-period for the pre-period covariates.
    min_pre_months
        Persons with fewer contiguous covered months before start are excluded.
    rng
        Generator (or seed) for the pseudo-start draws.

    Returns
    -------
    AnalysisData
        The analysed persons and the accounting of everybody else.
    """
    horizons = _check_horizons(horizons)
    parts, n_assigned = assign_pseudo_starts(
        participants,
        rng,
        monthly=monthly,
        pre_months=min_pre_months,
        post_months=max(horizons),
    )
    outcomes = build_outcomes(parts, monthly, horizons, pre_months)
    ids = _person_index(parts)
    person = _row_positions(ids, monthly["person_id"])
    has_rows = np.bincount(person[person >= 0], minlength=len(ids)) > 0
    group = parts["group"].to_numpy(dtype=object)
    has_start = outcomes["start_month"].notna().to_numpy()
    before = outcomes["months_before"].to_numpy(dtype=np.float64, na_value=np.nan)

    reason = np.full(len(parts), None, dtype=object)
    steps = [
        (
            "excluded: no start month and no pseudo start possible",
            ~has_start,
            "no start month, and no mentored start month at which the person's monthly "
            "records exist to draw a pseudo start from",
        ),
        (
            "excluded: no monthly records",
            has_start & ~has_rows,
            "the person has no row in the monthly table",
        ),
        (
            f"excluded: fewer than {min_pre_months} months of coverage before start",
            has_start & has_rows & ~(before >= min_pre_months),
            f"fewer than {min_pre_months} contiguous covered months immediately before the "
            "start month, so pre-period history cannot be measured",
        ),
    ]
    for label, mask, _ in steps:
        reason[mask & (reason == None)] = label  # noqa: E711 - element-wise on object array
    analysed = reason == None  # noqa: E711

    frame = parts.drop(columns=["start_month"]).merge(
        outcomes, on="person_id", how="left", validate="one_to_one"
    )
    frame = frame.loc[analysed].reset_index(drop=True)
    start_year = month_index(frame["start_month"]).to_numpy(dtype=np.float64) // 12
    frame["treated"] = (frame["group"].to_numpy(dtype=object) == MENTORED).astype(np.int8)
    frame["age"] = start_year - pd.to_numeric(frame["birth_year"]).to_numpy(float)
    frame["years_in_sweden"] = start_year - pd.to_numeric(frame["arrival_year"]).to_numpy(float)

    flow = _flow_table(
        group, steps, analysed, parts["pseudo_start"].to_numpy() == 1, frame, horizons
    )
    short = _short_coverage(frame, horizons)
    excluded = pd.DataFrame(
        {
            "person_id": parts["person_id"].to_numpy()[~analysed],
            "group": group[~analysed],
            "reason": reason[~analysed],
        }
    )
    return AnalysisData(
        frame=frame,
        flow=flow,
        n_pseudo_starts=n_assigned,
        short_coverage=short,
        excluded=excluded,
        horizons=horizons,
        pre_months=int(pre_months),
        min_pre_months=int(min_pre_months),
    )


def _flow_table(
    group: np.ndarray,
    steps: list[tuple[str, np.ndarray, str]],
    analysed: np.ndarray,
    pseudo: np.ndarray,
    frame: pd.DataFrame,
    horizons: tuple[int, ...],
) -> pd.DataFrame:
    mentored = group == MENTORED

    def row(step: str, kind: str, mask: np.ndarray, reason: str) -> dict[str, object]:
        m = int((mask & mentored).sum())
        c = int((mask & ~mentored).sum())
        return {
            "step": step,
            "kind": kind,
            "mentored": m,
            "comparison": c,
            "total": m + c,
            "reason": reason,
        }

    everyone = np.ones(len(group), dtype=bool)
    rows = [
        row("persons in participants", "input", everyone, "all rows of the participants table"),
        row(
            "pseudo start assigned",
            "note",
            pseudo,
            "comparison persons without start month given a pseudo start (not an exclusion)",
        ),
    ]
    excluded_so_far = np.zeros(len(group), dtype=bool)
    for label, mask, reason in steps:
        rows.append(row(label, "excluded", mask & ~excluded_so_far, reason))
        excluded_so_far |= mask
    rows.append(row("analysed", "analysed", analysed, "persons in the analysis data"))
    treated = frame["treated"].to_numpy() == 1
    for k in horizons:
        short = frame["months_after"].to_numpy(dtype=np.float64, na_value=np.nan) < k
        rows.append(
            {
                "step": f"analysed, coverage ends before month {k}",
                "kind": "note",
                "mentored": int((short & treated).sum()),
                "comparison": int((short & ~treated).sum()),
                "total": int(short.sum()),
                "reason": f"kept; outcomes at horizon {k} are missing for them",
            }
        )
    flow = pd.DataFrame(rows)
    for col in ("mentored", "comparison"):
        kinds = flow["kind"]
        total_in = flow.loc[kinds == "input", col].sum()
        accounted = flow.loc[kinds.isin(["excluded", "analysed"]), col].sum()
        assert total_in == accounted, f"sample flow does not add up for {col}"
    return flow


def _short_coverage(frame: pd.DataFrame, horizons: tuple[int, ...]) -> pd.DataFrame:
    after = frame["months_after"].to_numpy(dtype=np.float64, na_value=np.nan)
    treated = frame["treated"].to_numpy() == 1
    data = {"mentored": [], "comparison": [], "total": []}
    for k in horizons:
        short = after < k
        data["mentored"].append(int((short & treated).sum()))
        data["comparison"].append(int((short & ~treated).sum()))
        data["total"].append(int(short.sum()))
    return pd.DataFrame(data, index=pd.Index(horizons, name="horizon"))


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
    ids = _person_index(participants)
    start = _month_codes(participants["start_month"])
    treated = (participants["group"].to_numpy(dtype=object) == MENTORED).astype(np.int8)
    person = _row_positions(ids, monthly["person_id"])
    month = _month_codes(monthly["month"])
    pos = np.maximum(person, 0)
    keep = (person >= 0) & (start[pos] != _NO_MONTH) & (month != _NO_MONTH)
    out = monthly.loc[keep].copy()
    out["rel_month"] = (month[keep] - start[pos[keep]]).astype(np.int16)
    out["treated"] = treated[pos[keep]]
    return out
