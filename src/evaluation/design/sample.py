"""The analysis sample: pseudo starts, outcomes, exclusions and the sample flow, assembled.

:func:`build_analysis` is the first step of the design stage: it gives comparison persons
without a start month a pseudo start (:mod:`evaluation.design.pseudo_starts`), derives every
person's outcomes (:mod:`evaluation.data.outcomes`), applies the exclusion rules and counts
everybody in the sample flow (:mod:`evaluation.data.sample_flow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.calendar import month_index
from evaluation.data.outcomes import (
    DEFAULT_HORIZONS,
    DEFAULT_PRE_MONTHS,
    MENTORED,
    build_outcomes,
    check_horizons,
    person_index,
)
from evaluation.data.sample_flow import (
    exclusions,
    first_reasons,
    flow_table,
    has_monthly_rows,
    short_coverage,
)
from evaluation.design.pseudo_starts import assign_pseudo_starts


@dataclass(frozen=True)
class AnalysisData:
    """The analysis data set and how it was arrived at.

    Attributes
    ----------
    frame
        One row per analysed person: the participants' columns, the outcomes of
        :func:`~evaluation.data.outcomes.build_outcomes`, ``treated`` (1 mentored / 0
        comparison), ``pseudo_start``, ``age`` and ``years_in_sweden`` at start (start year
        minus birth / arrival year).
    flow
        The sample flow: columns ``step``, ``kind`` (see
        :data:`~evaluation.data.sample_flow.FLOW_KINDS`), ``mentored``, ``comparison``,
        ``total``, ``reason``. Within each group the ``input`` row equals the sum of the
        ``excluded`` rows plus the ``analysed`` row.
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
    horizons = check_horizons(horizons)
    parts, n_assigned = assign_pseudo_starts(
        participants,
        rng,
        monthly=monthly,
        pre_months=min_pre_months,
        post_months=max(horizons),
    )
    outcomes = build_outcomes(parts, monthly, horizons, pre_months)
    has_rows = has_monthly_rows(person_index(parts), monthly)
    group = parts["group"].to_numpy(dtype=object)
    has_start = outcomes["start_month"].notna().to_numpy()
    before = outcomes["months_before"].to_numpy(dtype=np.float64, na_value=np.nan)
    steps = exclusions(has_start, has_rows, before, min_pre_months)
    reason = first_reasons(steps, len(parts))
    analysed = reason == None  # noqa: E711 - element-wise on object array

    frame = parts.drop(columns=["start_month"]).merge(
        outcomes, on="person_id", how="left", validate="one_to_one"
    )
    frame = frame.loc[analysed].reset_index(drop=True)
    start_year = month_index(frame["start_month"]).to_numpy(dtype=np.float64) // 12
    frame["treated"] = (frame["group"].to_numpy(dtype=object) == MENTORED).astype(np.int8)
    frame["age"] = start_year - pd.to_numeric(frame["birth_year"]).to_numpy(float)
    frame["years_in_sweden"] = start_year - pd.to_numeric(frame["arrival_year"]).to_numpy(float)

    flow = flow_table(
        group, steps, analysed, parts["pseudo_start"].to_numpy() == 1, frame, horizons
    )
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
        short_coverage=short_coverage(frame, horizons),
        excluded=excluded,
        horizons=horizons,
        pre_months=int(pre_months),
        min_pre_months=int(min_pre_months),
    )
