"""Moderation: the factor the generator ties to the effect is the one flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from evaluation import synth
from evaluation.bottomup.instrument import load_instrument
from evaluation.bottomup.moderation import adjust_pvalues, moderation_by_factors, modified_att
from evaluation.bottomup.scales import factor_scores
from evaluation.design.propensity import design_matrix
from evaluation.estimate.att import regression_att

OUTCOME = "months_employed_12"
RTOL = 1e-10  # the same OLS fitted two ways


def _frame(study, analysis_frame):
    ins = load_instrument()
    factors = {f: its for f, its in ins.factors().items() if f not in synth.FOLLOW_UP_ONLY}
    base = study.survey.loc[study.survey["wave"] == "baseline"].set_index("person_id")
    scores = factor_scores(base[list(synth.SURVEY_ITEMS)], factors, ins.reverse()).scores
    return analysis_frame(study).join(scores, on="person_id"), list(factors)


def test_common_att_equals_the_regression_estimator(large_study, analysis_frame, covariates):
    frame = analysis_frame(large_study)
    data = frame.loc[frame[OUTCOME].notna()]
    x = design_matrix(data, covariates).frame.to_numpy()
    y, d = data[OUTCOME].to_numpy(float), data["treated"].to_numpy()
    fit = modified_att(y, d, x, np.ones((len(y), 1)), names=["att"])
    ref = regression_att(y, d, x)
    assert_allclose(fit.terms.loc["att", ["estimate", "se"]].to_numpy(float),
                    [ref.estimate, ref.se], rtol=RTOL)  # fmt: skip


def test_network_is_flagged_and_nothing_else(large_study, analysis_frame, covariates):
    frame, factors = _frame(large_study, analysis_frame)
    before = frame.copy()
    mod = moderation_by_factors(frame, OUTCOME, covariates, factors, correction="holm")
    pd.testing.assert_frame_equal(frame, before)
    assert mod.flagged == ["network"]
    assert mod.table.loc["network", "estimate"] > 0  # the generator: +30 % per SD
    assert mod.att_at_mean["estimate"] > 0
    assert (mod.table["p_adjusted"] >= mod.table["p_value"]).all()
    # split-sample ATTs: above the median network score larger than at or below it
    split = {r.subgroup: r for r in mod.split}
    assert split["network=above_median"].estimate > split["network=at_or_below_median"].estimate
    assert len(mod.split) == 2 * len(factors)


def test_no_factor_is_flagged_in_the_null_study(large_null_study, analysis_frame, covariates):
    frame, factors = _frame(large_null_study, analysis_frame)
    mod = moderation_by_factors(frame, OUTCOME, covariates, factors)
    assert mod.flagged == []


def test_holm_adjustment_by_hand():
    # Holm: sorted p (0.01, 0.02, 0.04) times (3, 2, 1), made monotone: 0.03, 0.04, 0.04
    assert_allclose(adjust_pvalues([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    assert_allclose(adjust_pvalues([0.04, 0.01], "none"), [0.04, 0.01])
