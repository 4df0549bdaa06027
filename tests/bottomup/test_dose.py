"""Dose: meetings counted right; the dose-response curve rises, then plateaus."""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm

from evaluation import synth
from evaluation.bottomup.dose import associations, attach, dose_curve, dose_slopes, mentoring_dose
from evaluation.estimate.montecarlo import unit_effects

OUTCOME = "months_employed_12"
KNOT = 12
MAX_SE_FROM_TRUTH = 3.0  # estimated spline slopes within 3 SE of the sample truth
LEVEL = 0.95


def _frame(study, analysis_frame):
    return attach(analysis_frame(study), mentoring_dose(study.sessions, study.mentors))


def test_meetings_and_mentor_traits_per_person():
    study = synth.generate(3, n_mentored=40, n_comparison=60)
    dose = mentoring_dose(study.sessions, study.mentors)
    mentored = study.participants.loc[study.participants["group"] == "mentored"]
    assert set(dose.index) == set(mentored["person_id"])
    assert dose["meetings"].between(5, 25).all()
    assert (
        dose["meetings"] == study.sessions.groupby("person_id").size().reindex(dose.index)
    ).all()
    assert (
        dose["mentor_id"] == mentored.set_index("person_id")["mentor_id"].reindex(dose.index)
    ).all()
    m = study.mentors.set_index("mentor_id")
    assert (dose["same_field"] == m["same_field"].reindex(dose["mentor_id"]).to_numpy()).all()
    assert np.allclose(dose["minutes_per_meeting"] * dose["meetings"], dose["minutes_total"])


def test_dose_response_rises_then_plateaus(large_study, analysis_frame, covariates):
    frame = _frame(large_study, analysis_frame)
    slopes = dose_slopes(frame, OUTCOME, covariates, "meetings", KNOT, cluster="mentor_id")
    assert slopes.rising_then_flat
    assert slopes.below["p_value"] < 1 - LEVEL and slopes.below["estimate"] > 0
    assert slopes.above["ci_low"] < 0 < slopes.above["ci_high"]
    # the sample truth: each mentored person's own effect regressed on the same spline
    effects = unit_effects(large_study, (6, 12, 24), 12)[OUTCOME]
    v = frame.set_index("person_id").loc[effects.index, "meetings"].to_numpy(float)
    design = sm.add_constant(np.column_stack([np.minimum(v, KNOT), np.maximum(v - KNOT, 0)]))
    truth = sm.OLS(effects.to_numpy(), design).fit().params
    assert truth[1] > 0 and abs(truth[2]) < truth[1] / 3  # the generator's shape itself
    for est, true in ((slopes.below, truth[1]), (slopes.above, truth[2])):
        assert abs(est["estimate"] - true) < MAX_SE_FROM_TRUTH * est["se"]
    curve = dose_curve(frame, OUTCOME, covariates, "meetings", [0, 8, 12, 16, 20, 1000],
                       min_cell=5, cluster="mentor_id")  # fmt: skip
    est = curve.bins["estimate"].to_numpy()
    assert est[0] == est.min() and est[0] < est[2:].mean()  # fewest meetings: smallest effect


def test_no_dose_slope_in_the_null_study(large_null_study, analysis_frame, covariates):
    slopes = dose_slopes(_frame(large_null_study, analysis_frame), OUTCOME, covariates, "meetings", KNOT,
                         cluster="mentor_id")  # fmt: skip
    assert slopes.below["ci_low"] < 0 < slopes.below["ci_high"]


def test_mentor_traits_without_effect_are_not_flagged(large_study, analysis_frame, covariates):
    table = associations(_frame(large_study, analysis_frame), OUTCOME, covariates,
                         {"meetings": 5, "same_field": 1, "migrant_mentor": 1},
                         cluster="mentor_id")  # fmt: skip
    assert table.loc["meetings", "p_adjusted"] < 1 - LEVEL  # the generator's dose
    assert (table.loc[["same_field", "migrant_mentor"], "p_adjusted"] > 1 - LEVEL).all()
    assert (table["p_adjusted"] >= table["p_value"]).all()


def test_small_bins_are_withheld(analysis_frame, covariates):
    study = synth.generate(5, n_mentored=30, n_comparison=300)
    frame = _frame(study, analysis_frame)
    curve = dose_curve(frame, OUTCOME, covariates, "meetings", [0, 6, 25], min_cell=8)
    n = curve.bins["n_treated"]
    assert (curve.bins["withheld"] == (n < 8)).all()
    assert curve.bins.loc[curve.bins["withheld"], "estimate"].isna().all()


def test_no_bin_with_enough_mentored_withholds_every_bin(analysis_frame, covariates):
    """A study whose mentored spread thinly over the bins: all withheld, not an error."""
    study = synth.generate(5, n_mentored=30, n_comparison=300)
    frame = _frame(study, analysis_frame)
    curve = dose_curve(frame, OUTCOME, covariates, "meetings", [0, 6, 25], min_cell=100)
    assert curve.bins["withheld"].all() and curve.bins["estimate"].isna().all()
    assert curve.bins["n_treated"].sum() > 0 and curve.se_method == ""
