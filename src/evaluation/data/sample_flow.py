"""Who is analysed and who is not, and why: the exclusion rules and the sample-flow table.

A participant is analysed unless one of the exclusion rules applies; the first rule that
applies is the person's reason. In order:

1. no start month, and no pseudo start could be drawn (comparison persons only: a
   mentored person without a start month breaks the data contract);
2. no row in the monthly table;
3. fewer than ``min_pre_months`` contiguous covered months immediately before the start
   month (``months_before`` of :func:`~evaluation.data.outcomes.build_outcomes`), so that
   pre-period history cannot be measured.

The sample-flow table counts, by group, the persons in, each exclusion, the analysed and
(as notes, not exclusions) the pseudo starts assigned and the analysed whose coverage ends
before each horizon. Within each group ``input = sum(excluded) + analysed`` (checked).

The same rules tell, when the input tables are validated and before any notebook runs,
how many mentored persons the analysis will have (:func:`analysable`): mentored persons
need no pseudo start, so their exclusions depend on the data alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.data.outcomes import (
    COMPARISON,
    MENTORED,
    build_outcomes,
    person_index,
    row_positions,
)

#: Sample-flow row kinds; ``input = sum(excluded) + analysed`` within each group.
FLOW_KINDS = ("input", "note", "excluded", "analysed")


@dataclass(frozen=True)
class Exclusion:
    """One exclusion rule applied to every participant.

    Attributes
    ----------
    step
        The rule as a row label of the sample flow (``"excluded: ..."``).
    mask
        Boolean per participant: the rule applies (whether or not an earlier one did).
    reason
        The rule in words, for the flow's ``reason`` column.
    """

    step: str
    mask: np.ndarray
    reason: str


def has_monthly_rows(ids: pd.Index, monthly: pd.DataFrame) -> np.ndarray:
    """Whether each person of ``ids`` has at least one row in ``monthly``.

    Parameters
    ----------
    ids
        Participants' ``person_id`` (see :func:`~evaluation.data.outcomes.person_index`).
    monthly
        The monthly table (``person_id`` column).

    Returns
    -------
    numpy.ndarray
        Boolean, one per person of ``ids``.
    """
    person = row_positions(ids, monthly["person_id"])
    return np.bincount(person[person >= 0], minlength=len(ids)) > 0


def exclusions(
    has_start: np.ndarray,
    has_rows: np.ndarray,
    months_before: np.ndarray,
    min_pre_months: int,
) -> tuple[Exclusion, ...]:
    """The exclusion rules, in order (see the module docstring).

    Parameters
    ----------
    has_start
        The person has a start month (own or pseudo).
    has_rows
        The person has monthly rows (:func:`has_monthly_rows`).
    months_before
        Contiguous covered months before start (float, NaN without a start month).
    min_pre_months
        Fewest months of pre-period coverage an analysed person needs.

    Returns
    -------
    tuple of Exclusion
        The three rules, each with its mask over all persons.
    """
    return (
        Exclusion(
            "excluded: no start month and no pseudo start possible",
            ~has_start,
            "no start month, and no mentored start month at which the person's monthly "
            "records exist to draw a pseudo start from",
        ),
        Exclusion(
            "excluded: no monthly records",
            has_start & ~has_rows,
            "the person has no row in the monthly table",
        ),
        Exclusion(
            f"excluded: fewer than {min_pre_months} months of coverage before start",
            has_start & has_rows & ~(months_before >= min_pre_months),
            f"fewer than {min_pre_months} contiguous covered months immediately before the "
            "start month, so pre-period history cannot be measured",
        ),
    )


def first_reasons(steps: Sequence[Exclusion], n: int) -> np.ndarray:
    """Each person's first exclusion (its ``step``), ``None`` for the analysed.

    Parameters
    ----------
    steps
        From :func:`exclusions`.
    n
        Number of persons.

    Returns
    -------
    numpy.ndarray
        Object array of step labels or ``None``.
    """
    reason = np.full(n, None, dtype=object)
    for step in steps:
        reason[step.mask & (reason == None)] = step.step  # noqa: E711 - element-wise
    return reason


def flow_table(
    group: np.ndarray,
    steps: Sequence[Exclusion],
    analysed: np.ndarray,
    pseudo: np.ndarray,
    frame: pd.DataFrame,
    horizons: tuple[int, ...],
) -> pd.DataFrame:
    """The sample-flow table: persons in, pseudo starts, each exclusion, analysed, notes.

    Parameters
    ----------
    group
        Each participant's group (``mentored`` / ``comparison``).
    steps
        The exclusion rules (:func:`exclusions`); a person counts under the first that applies.
    analysed
        Boolean per participant.
    pseudo
        Boolean per participant: a pseudo start was assigned.
    frame
        The analysis data (one row per analysed person, with ``treated`` and ``months_after``).
    horizons
        The follow-up horizons (a note row each: coverage ends before it).

    Returns
    -------
    pandas.DataFrame
        Columns ``step``, ``kind`` (see :data:`FLOW_KINDS`), ``mentored``, ``comparison``,
        ``total``, ``reason``.
    """
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
    for step in steps:
        rows.append(row(step.step, "excluded", step.mask & ~excluded_so_far, step.reason))
        excluded_so_far |= step.mask
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


def short_coverage(frame: pd.DataFrame, horizons: tuple[int, ...]) -> pd.DataFrame:
    """Analysed persons whose coverage after start ends before each horizon, by group.

    Parameters
    ----------
    frame
        The analysis data (``treated``, ``months_after``).
    horizons
        The follow-up horizons.

    Returns
    -------
    pandas.DataFrame
        Index ``horizon``; columns ``mentored``, ``comparison``, ``total``.
    """
    after = frame["months_after"].to_numpy(dtype=np.float64, na_value=np.nan)
    treated = frame["treated"].to_numpy() == 1
    data = {"mentored": [], "comparison": [], "total": []}
    for k in horizons:
        short = after < k
        data["mentored"].append(int((short & treated).sum()))
        data["comparison"].append(int((short & ~treated).sum()))
        data["total"].append(int(short.sum()))
    return pd.DataFrame(data, index=pd.Index(horizons, name="horizon"))


# --- what the data can give the design ----------------------------------------------------


@dataclass(frozen=True)
class SampleRule:
    """What the design needs of the data, checked when the input tables are validated.

    Attributes
    ----------
    min_mentored
        Fewest mentored persons who can be analysed (``design.min_mentored``).
    min_pre_months
        Months of coverage before start an analysed person needs (``outcomes.min_pre_months``).
    """

    min_mentored: int
    min_pre_months: int


@dataclass(frozen=True)
class Analysable:
    """Who can be analysed, as far as the data alone tell (before pseudo starts and the design).

    Attributes
    ----------
    mentored, comparison
        Boolean per participant: the person's group.
    no_rows
        Boolean per participant: no row in the monthly table.
    short
        Boolean per participant: mentored, with monthly rows, but fewer than
        ``min_pre_months`` contiguous covered months immediately before the start month.
    min_pre_months
        The rule applied.
    """

    mentored: np.ndarray
    comparison: np.ndarray
    no_rows: np.ndarray
    short: np.ndarray
    min_pre_months: int

    @property
    def mentored_usable(self) -> np.ndarray:
        """Boolean per participant: a mentored person the analysis will have."""
        return self.mentored & ~self.no_rows & ~self.short

    @property
    def comparison_with_rows(self) -> np.ndarray:
        """Boolean per participant: a comparison person with monthly rows (who may be analysed)."""
        return self.comparison & ~self.no_rows


def analysable(
    participants: pd.DataFrame, monthly: pd.DataFrame, min_pre_months: int
) -> Analysable:
    """Apply the exclusion rules to the mentored; find the comparison persons with monthly rows.

    A mentored person has a start month (the contract requires it), so whether they are
    analysed depends on the data alone: the rules of :func:`exclusions`, as
    :func:`~evaluation.design.sample.build_analysis` applies them. A comparison person may
    still get a pseudo start in the design stage, so for them only the monthly rows are
    known here.

    Parameters
    ----------
    participants, monthly
        Validated contract tables. Not modified.
    min_pre_months
        Fewest months of pre-period coverage an analysed person needs.

    Returns
    -------
    Analysable
        Per participant, in table order.
    """
    ids = person_index(participants)
    person = row_positions(ids, monthly["person_id"])  # the one pass over the long table
    rows = np.bincount(person[person >= 0], minlength=len(ids)) > 0
    group = participants["group"].to_numpy(dtype=object)
    mentored = group == MENTORED
    before = np.full(len(ids), np.nan)
    if mentored.any():
        own = participants.loc[mentored, ["person_id", "start_month"]]
        theirs = monthly.loc[(person >= 0) & mentored[np.maximum(person, 0)]]
        coverage = build_outcomes(own, theirs, horizons=(1,), pre_months=1)
        before[mentored] = coverage["months_before"].to_numpy(dtype=np.float64, na_value=np.nan)
    has_start = participants["start_month"].notna().to_numpy()
    steps = exclusions(has_start, rows, before, min_pre_months)
    short = mentored & steps[2].mask & ~steps[1].mask & ~steps[0].mask
    return Analysable(mentored, group == COMPARISON, ~rows, short, int(min_pre_months))
