"""How many months of register data each person has around their start (reported, not refused).

CONTRACT.md asks for at least 12 months before each start and the follow-up horizons after
it; persons whose coverage is short are reported by :func:`coverage_by_person` and
:func:`coverage_summary`, never dropped here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.calendar import NO_MONTH, month_index, month_label


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
            "first_month": _labels(first),
            "last_month": _labels(last),
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


def _labels(index: np.ndarray) -> np.ndarray:
    """Float month numbers (NaN: missing) as 'YYYY-MM' labels (``None``: missing)."""
    return month_label(np.where(np.isnan(index), NO_MONTH, index).astype("int64"))
