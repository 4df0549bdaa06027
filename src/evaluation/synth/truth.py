"""The truth: the exact ATT of every outcome from both potential-outcome panels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from evaluation.calendar import month_index, month_label
from evaluation.data.outcomes import COMPARISON, MENTORED, build_outcomes
from evaluation.synth.labour import Panel
from evaluation.synth.spec import GENERATOR_VERSION, MENTORING, EffectSpec, SiteSpec


def compute_truth(
    *,
    seed: int,
    participants: pd.DataFrame,
    monthly: pd.DataFrame,
    panel: Panel,
    treated: np.ndarray,
    people: Mapping[str, np.ndarray],
    expected_m: np.ndarray,
    rows_m: np.ndarray,
    effect: EffectSpec,
    site: SiteSpec,
    horizons: tuple[int, ...],
    pre_months: int,
) -> dict[str, Any]:
    """The exact ATT from both potential-outcome panels, with the study's definitions."""
    m_rows = np.flatnonzero(treated)  # identifier order
    mentored = participants.iloc[m_rows].reset_index(drop=True)
    outcome_1 = _outcomes_from(mentored, panel, m_rows, 1, site, horizons, pre_months)
    outcome_0 = _outcomes_from(mentored, panel, m_rows, 0, site, horizons, pre_months)
    names = [c for c in outcome_1.columns if outcome_1[c].dtype.kind == "f"]
    diff = outcome_1[names] - outcome_0[names]
    female = mentored["sex"].to_numpy(dtype=object) == "female"

    observed = build_outcomes(participants, monthly, horizons, pre_months)
    is_m = treated
    naive = {c: float(observed.loc[is_m, c].mean() - observed.loc[~is_m, c].mean()) for c in names}
    att = {c: float(diff[c].mean()) for c in names}

    rel = site.rel_months
    d_emp = panel.employed_1[m_rows].astype(np.int32) - panel.employed_0[m_rows]
    d_earn = panel.earnings_1[m_rows].astype(np.int64) - panel.earnings_0[m_rows]
    order_m = np.argsort(rows_m)  # expected_m is in draw order; m_rows is sorted rows_m
    expected = expected_m[order_m]
    path = [
        {"rel_month": int(r), "employed": float(a), "earnings": float(b), "expected": float(c)}
        for r, a, b, c in zip(
            rel, d_emp.mean(axis=0), d_earn.mean(axis=0), expected.mean(axis=0), strict=True
        )
    ]
    comparison = ~is_m & observed["start_month"].notna().to_numpy()
    return {
        "generator": "evaluation.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "estimand": "ATT: mean over the mentored of outcome(Y1) - outcome(Y0), outcomes "
        "as defined by evaluation.data.outcomes.build_outcomes",
        "horizons": list(horizons),
        "pre_months": pre_months,
        "n_mentored": int(is_m.sum()),
        "n_comparison": int((~is_m).sum()),
        "n_comparison_without_start": int(participants["start_month"].isna().sum()),
        "n_mentored_by_sex": {"female": int(female.sum()), "male": int((~female).sum())},
        "att": att,
        "att_by_sex": {
            "female": {c: float(diff.loc[female, c].mean()) for c in names},
            "male": {c: float(diff.loc[~female, c].mean()) for c in names},
        },
        "effect_path": path,
        "population": _population(effect),
        "naive": naive,
        "naive_bias": {c: naive[c] - att[c] for c in names},
        "comparison_employed_m12": float(observed.loc[comparison, "employed_m12"].mean()),
        "selection": _selection_summary(participants, observed, people, is_m),
        "effect_spec": asdict(effect),
        "site": _jsonable(asdict(site)),
    }


def _outcomes_from(
    persons: pd.DataFrame,
    panel: Panel,
    rows: np.ndarray,
    arm: int,
    site: SiteSpec,
    horizons: tuple[int, ...],
    pre_months: int,
) -> pd.DataFrame:
    """``build_outcomes`` on one arm's potential panel for the given persons."""
    t = len(site.rel_months)
    start = month_index(persons["start_month"]).to_numpy(dtype=np.int32)
    months = (start[:, None] + site.rel_months[None, :]).ravel()
    employed = panel.employed_1 if arm else panel.employed_0
    earnings = panel.earnings_1 if arm else panel.earnings_0
    frame = pd.DataFrame(
        {
            "person_id": np.repeat(persons["person_id"].to_numpy(dtype=object), t),
            "month": month_label(months),
            "employed": employed[rows].ravel(),
            "earnings": earnings[rows].ravel(),
        }
    )
    return build_outcomes(persons, frame, horizons, pre_months)


def _population(effect: EffectSpec) -> dict[str, Any]:
    lo, hi = MENTORING["meetings"]
    meetings = np.arange(lo, hi + 1)
    return {
        "scale": "probability of employment in a month (0.10 = 10 percentage points)",
        "effect_women": effect.effect_women,
        "effect_men": effect.effect_men,
        "onset_month": effect.onset,
        "lock_in": 0.0 if effect.null else effect.lock_in,
        "lock_in_months": [1, effect.onset - 1],
        "dose_multiplier_by_meetings": {
            int(k): float(v) for k, v in zip(meetings, effect.dose(meetings), strict=True)
        },
        "network_slope": 0.0 if effect.null else effect.network_slope,
        "earnings": "follow employment: earnings_1 - earnings_0 = (Y1 - Y0) x the common "
        "monthly pay draw",
        "selection_on_unobservables": False,
    }


def _selection_summary(
    participants: pd.DataFrame,
    observed: pd.DataFrame,
    people: Mapping[str, np.ndarray],
    is_m: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Group means of the covariates that drive selection (documents the imbalance)."""
    start_year = people["start"] // 12
    values = {
        "female": people["female"].astype(float),
        "post_secondary": (people["education"] == 2).astype(float),
        "primary_or_less": (people["education"] == 0).astype(float),
        "sfi_completed_or_fluent": (people["swedish"] >= 2).astype(float),
        "years_in_sweden_at_start": (start_year - people["arrival_year"]).astype(float),
        "age_at_start": people["age"].astype(float),
        "pre_employed_m12": observed["pre_employed_m12"].to_numpy(),
        "pre_months_employed_12": observed["pre_months_employed_12"].to_numpy(),
    }
    return {
        name: {
            MENTORED: float(np.nanmean(v[is_m])),
            COMPARISON: float(np.nanmean(v[~is_m])),
        }
        for name, v in values.items()
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
