"""Pseudo start months for comparison persons without one: a design decision, seeded.

The contract lets a comparison person's ``start_month`` (the month from which they count as
eligible) be empty. Outcomes are measured relative to a start month, so such a person needs
one to be compared at all; :func:`assign_pseudo_starts` draws it from the mentored persons'
start months by a documented, seeded rule (``data/README.md``), and the sample flow reports
how many were assigned. This is a choice of the design (like matching on calendar time), not
a property of the data, and lives here for that reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.calendar import NO_MONTH, month_codes, month_label
from evaluation.data.outcomes import (
    COMPARISON,
    DEFAULT_PRE_MONTHS,
    MENTORED,
    person_index,
    row_positions,
)


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
    start = month_codes(out["start_month"])
    group = out["group"].to_numpy(dtype=object)
    pseudo = np.zeros(len(out), dtype=np.int8)
    need = np.flatnonzero((group == COMPARISON) & (start == NO_MONTH))
    mentored_starts = start[(group == MENTORED) & (start != NO_MONTH)]
    if len(need) == 0 or len(mentored_starts) == 0:
        out["pseudo_start"] = pseudo
        return out, 0
    candidates, weight = np.unique(mentored_starts, return_counts=True)
    person_ids = out["person_id"].to_numpy(dtype=object).astype(str)
    need = need[np.argsort(person_ids[need], kind="stable")]
    eligible = np.ones((len(need), len(candidates)), dtype=bool)
    if monthly is not None:
        eligible = _eligible_months(
            person_index(out), need, monthly, candidates, pre_months, post_months
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
    person = row_positions(ids, monthly["person_id"])
    month = month_codes(monthly["month"])
    keep = (person >= 0) & (month != NO_MONTH)
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
