"""Placebo tests: the study's own estimators where the true effect is zero by construction.

Two families (DoWhy calls them refutations; Imbens and Wooldridge 2009, Section 6.2, call
them tests of unconfoundedness with pseudo-outcomes):

* **Pre-period outcomes.** Employment in month ``s - m`` and earnings over months
  ``s - m .. s - 1`` (default ``m = 6``), which mentoring that starts in month ``s`` cannot
  have changed. They are not themselves in the propensity model, but they are parts of the
  12-month pre-period totals that are (``pre_months_employed_12``, ``pre_earnings_12``):
  the test asks whether balancing the yearly totals also balanced the recent half-year,
  where the classic pre-programme dip (Ashenfelter 1978) would show. A weak test, kept
  because it needs no extra coverage.
* **A fake start** ``shift`` months before the real one (default 12). Every person's start
  is moved back, and the whole design (pre-period covariates from the ``P`` months before
  the fake start, calendar quarter, propensity score, trimming, matching) and every
  estimator are rerun on outcomes at horizons up to ``shift`` after the fake start, all of
  which lie before the real start. The propensity model never sees these outcomes. A
  horizon equal to ``shift`` is the real start month (mentoring begins during it; the
  synthetic generator has no effect there, real data might show lock-in). Education and
  Swedish level are recorded at the real start and may have changed since the fake one.

The estimates are relabelled (``estimator = "placebo_<kind>_<estimator>"``) so that they
cannot be mistaken for the study's effects in ``results.json``.

References
----------
Ashenfelter, O. (1978). Estimating the effect of training programs on earnings. *Review of
Economics and Statistics* 60(1), 47-57.
Imbens, G. W. and Wooldridge, J. M. (2009). Recent developments in the econometrics of
program evaluation. *Journal of Economic Literature* 47(1), 5-86.
Heckman, J. J. and Hotz, V. J. (1989). Choosing among alternative nonexperimental methods
for estimating the impact of social programs. *JASA* 84(408), 862-874 (pre-programme tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.calendar import month_index, month_label
from evaluation.config import outcome_names
from evaluation.data.outcomes import build_outcomes
from evaluation.design import study_design
from evaluation.estimate import effects as fx
from evaluation.estimate.results import EffectResult

#: Person attributes carried from the analysis data to the fake-start data (not time-bound).
PERSON_COLUMNS = (
    "person_id", "group", "treated", "sex", "education", "swedish_level", "origin_region",
    "birth_year", "arrival_year", "municipality",
)  # fmt: skip


def relabel(
    results: Sequence[EffectResult], kind: str, estimand: str, outcome_prefix: str = ""
) -> list[EffectResult]:
    """Mark estimates as placebo estimates: ``estimator -> placebo_<kind>_<estimator>``.

    ``outcome_prefix`` is put before the outcome's name where it would otherwise be the name
    of one of the study's own outcomes (``employed_m6`` after a fake start is not the study's
    ``employed_m6``).
    """
    return [
        dataclasses.replace(
            r,
            outcome=f"{outcome_prefix}{r.outcome}",
            estimator=f"placebo_{kind}_{r.estimator}",
            estimand=estimand.format(outcome=r.outcome),
            spec={**r.spec, "placebo": kind},
        )
        for r in results
    ]


def pre_period_outcomes(frame: pd.DataFrame, monthly: pd.DataFrame, months: int) -> pd.DataFrame:
    """Employment at ``s - months`` and earnings over ``s - months .. s - 1``, per person.

    Parameters
    ----------
    frame
        Analysis data with ``person_id`` and ``start_month`` (real or pseudo start).
    monthly
        The contract monthly table.
    months
        How far back (``m``).

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``pre_employed_m{m}``, ``pre_earnings_{m}`` (NaN where the months are
        not covered), in the order of ``frame``.
    """
    got = build_outcomes(frame[["person_id", "start_month"]], monthly, (1,), int(months))
    cols = [f"pre_employed_m{months}", f"pre_earnings_{months}"]
    return got[["person_id", *cols]]


@dataclass(frozen=True)
class FakeStart:
    """The analysis data rebuilt around a fake start ``shift`` months before the real one.

    Attributes
    ----------
    frame
        One row per person with complete fake-start pre-period: person attributes, the
        fake ``start_month`` and ``start_quarter``, ``age`` and ``years_in_sweden`` at the
        fake start, the pre-period covariates and the outcomes at ``horizons`` counted from
        the fake start.
    shift, horizons, pre_months
        The settings.
    n_dropped_treated, n_dropped_control
        Persons without ``pre_months`` covered months before the fake start (left out).
    dropped_treated, dropped_control
        Their ids (what the two counts count; person-level, for the disclosure audit).
    """

    frame: pd.DataFrame
    shift: int
    horizons: tuple[int, ...]
    pre_months: int
    n_dropped_treated: int
    n_dropped_control: int
    dropped_treated: np.ndarray = field(default_factory=lambda: np.array([], dtype=str),
                                        repr=False, compare=False)  # fmt: skip
    dropped_control: np.ndarray = field(default_factory=lambda: np.array([], dtype=str),
                                        repr=False, compare=False)  # fmt: skip


def fake_start_data(
    frame: pd.DataFrame,
    monthly: pd.DataFrame,
    *,
    shift: int,
    horizons: Sequence[int],
    pre_months: int,
) -> FakeStart:
    """Move every start ``shift`` months back and rebuild covariates and outcomes.

    Parameters
    ----------
    frame
        The analysis data (``AnalysisData.frame``: person attributes, ``start_month``,
        ``treated``). Not modified.
    monthly
        The contract monthly table.
    shift
        Months to move the start back (> 0).
    horizons
        Horizons after the fake start; each must be at most ``shift`` (so that every
        outcome lies before the real start).
    pre_months
        Length of the pre-period for the covariates (as the study's ``outcomes.pre_months``).

    Returns
    -------
    FakeStart
    """
    horizons = tuple(sorted(int(h) for h in horizons))
    if shift < 1 or not horizons or horizons[0] < 1 or horizons[-1] > shift:
        raise ValueError("need shift >= 1 and placebo horizons between 1 and shift")
    people = frame[[c for c in PERSON_COLUMNS if c in frame.columns]].copy()
    fake = month_index(frame["start_month"]).to_numpy(dtype=np.int64) - int(shift)
    people["start_month"] = month_label(fake)
    built = build_outcomes(people[["person_id", "start_month"]], monthly, horizons, pre_months)
    keep_cols = ["person_id", "start_quarter", "months_before", *outcome_names(list(horizons))]
    keep_cols += [f"pre_employed_m{pre_months}", "pre_employed_m1",
                  f"pre_months_employed_{pre_months}", f"pre_earnings_{pre_months}"]  # fmt: skip
    out = people.merge(built[keep_cols], on="person_id", how="left", validate="one_to_one")
    year = fake // 12
    out["age"] = year - pd.to_numeric(out["birth_year"]).to_numpy(float)
    out["years_in_sweden"] = year - pd.to_numeric(out["arrival_year"]).to_numpy(float)
    covered = out["months_before"].to_numpy(dtype=float, na_value=np.nan) >= pre_months
    treated = out["treated"].to_numpy() == 1
    ids = out["person_id"].astype(str).to_numpy()
    return FakeStart(
        frame=out.loc[covered].reset_index(drop=True),
        shift=int(shift),
        horizons=horizons,
        pre_months=int(pre_months),
        n_dropped_treated=int((~covered & treated).sum()),
        n_dropped_control=int((~covered & ~treated).sum()),
        dropped_treated=ids[~covered & treated],
        dropped_control=ids[~covered & ~treated],
    )


def fake_start_effects(
    fake: FakeStart,
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    *,
    failed: dict[tuple[str, str], str] | None = None,
) -> list[EffectResult]:
    """The whole design and every estimator on the fake-start data (placebo ``fake_start``).

    Parameters
    ----------
    fake
        Output of :func:`fake_start_data`.
    design, estimation
        The parameter file's sections (covariates, exact cell, trimming, matching, estimators).
    failed
        As :func:`~evaluation.estimate.effects.estimate_study`: estimators with no solution.

    Returns
    -------
    list of EffectResult
        Estimators relabelled ``placebo_fake_start_<estimator>``, outcomes
        ``fake_start_<outcome>``.
    """
    outcomes = outcome_names(list(fake.horizons))
    covs = fake.frame.drop(columns=outcomes)
    dsg = study_design(
        covs, covariates=design["covariates"], design=design, matching=estimation["matching"]
    )
    data = fx.analysis_sample(covs, fake.frame[["person_id", *outcomes]], dsg.hand_over())
    spec = fx.EffectsSpec.from_params(design, estimation)
    results = fx.estimate_study(data, outcomes, spec, failed=failed)
    return relabel(
        results, "fake_start",
        f"placebo ATT of a fake start {fake.shift} months before the real one on {{outcome}} "
        "counted from the fake start (before the real start; true value 0)",
        outcome_prefix="fake_start_",
    )  # fmt: skip


def pre_period_effects(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    spec: fx.EffectsSpec,
    *,
    failed: dict[tuple[str, str], str] | None = None,
) -> list[EffectResult]:
    """Every estimator on pre-period outcomes of the study's own sample (placebo ``pre``).

    Parameters
    ----------
    data
        The study's analysis sample (as the effects notebook builds it) with the pre-period
        outcome columns added (:func:`pre_period_outcomes`).
    outcomes
        The pre-period outcome columns.
    spec
        The study's :class:`~evaluation.estimate.effects.EffectsSpec`.
    failed
        As :func:`~evaluation.estimate.effects.estimate_study`: estimators with no solution.

    Returns
    -------
    list of EffectResult
        Estimators relabelled ``placebo_pre_<estimator>``.
    """
    clash = set(outcomes) & set(spec.covariates)
    if clash:
        raise ValueError(f"placebo outcomes {sorted(clash)} are covariates of the model")
    results = fx.estimate_study(data, list(outcomes), spec, failed=failed)
    return relabel(
        results, "pre",
        "placebo ATT on {outcome}, measured before the start (true value 0)",
    )  # fmt: skip
