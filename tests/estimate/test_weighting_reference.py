"""Entropy balancing and just-identified CBPS against published implementations (LaLonde PSID).

Reference numbers: ``bench/reference_weighting.py`` (its docstring gives the environment and
the commands), run on the NSW treated (185) against PSID-1 (2 490), X = age, educ, black,
hisp, married, nodegree, re74, re75 (first moments), outcome re78; transcribed below to 12
significant digits. The packages cannot share the study's environment (``balance`` needs
numpy < 2), so their numbers are transcribed, not recomputed here.

* ``ebal`` 1.0.0 (``PCA=False``) and the exact dual: weights, ATT, multipliers.
* ``empirical-calibration`` 0.12 (Google; entropy objective): its root finder stops at about
  9 digits, hence its own tolerance.
* ``cbps`` 0.2.1, just-identified ATT CBPS solved exactly, with the package's probability clip
  (1e-6, as R's CBPS) switched off: its coefficients are the entropy-balancing logit's
  (Zhao and Percival 2017). With the clip on (R's default), 555 controls sit at the clip and
  the weights move by up to 1.5e-6, which ``CLIPPED_ATOL`` allows and no less.
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.design.weighting import entropy_balance, standardised_terms
from evaluation.estimate import benchmark as b
from evaluation.estimate.att import estimate_att

COVARIATES = ["age", "educ", "black", "hisp", "married", "nodegree", "re74", "re75"]
EXACT_RTOL = 1e-9  # roots of the same equations, transcribed to 12 digits
CALIBRATION_RTOL = 1e-8  # empirical-calibration's fsolve: about 9 digits
CLIPPED_ATOL = 2e-6  # cbps with R's 1e-6 clip: max |w - w_ebal| = 1.46e-6

#: bench/reference_weighting.py (ebal 1.0.0, empirical-calibration 0.12, cbps 0.2.1).
REFERENCE = {
    "n_treated": 185,
    "n_control": 2490,
    "ebal": {
        "att": 2058.09905171, "ess": 43.215311591, "max_w": 0.0541333586858, "argmax_w": 325,
        "w_first5": [0.000947821886805, 0.00497844885253, 0.024971704803, 0.000947821886805,
                     0.0290359560423],
        "lambda": [-0.0753957747554, 0.0288981946373, 2.17880832822, 1.87311958571,
                   -1.38643768462, 0.604352922441, -0.000162128700348, -0.000259430135057],
    },
    "empirical_calibration": {
        "att": 2058.09905244, "ess": 43.2153115637, "max_w": 0.0541333587234,
        "w_first5": [0.00094782188772, 0.00497844885676, 0.024971704829, 0.00094782188772,
                     0.0290359560723],
    },
    "cbps_exact_noclip": {
        "att": 2058.09905171,
        "coef": [0.889651627121, -0.0753957747554, 0.0288981946372, 2.17880832822, 1.87311958571,
                 -1.38643768462, 0.604352922441, -0.000162128700348, -0.000259430135057],
    },
    "cbps_exact": {
        "att": 2058.11341719,
        "w_first5": [0.000947827323078, 0.00497865927788, 0.0249723886292, 0.000947827323078,
                     0.0290368475949],
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def psid():
    df = b.load_nsw_psid()
    d = df["treat"].to_numpy()
    assert (d == 1).sum() == REFERENCE["n_treated"] and (d == 0).sum() == REFERENCE["n_control"]
    design = df[COVARIATES].astype(float)
    bal = entropy_balance(design, d)
    w = bal.weights.to_numpy()[d == 0]
    y = df["re78"].to_numpy()
    att = y[d == 1].mean() - w @ y[d == 0]
    return df, design, d, bal, w, att


def test_entropy_balancing_equals_ebal_and_its_multipliers(psid):
    df, design, d, bal, w, att = psid
    ref = REFERENCE["ebal"]
    assert att == pytest.approx(ref["att"], rel=EXACT_RTOL)
    np.testing.assert_allclose(w[:5], ref["w_first5"], rtol=EXACT_RTOL)
    assert int(np.argmax(w)) == ref["argmax_w"]
    assert w.max() == pytest.approx(ref["max_w"], rel=EXACT_RTOL)
    assert bal.ess_control == pytest.approx(ref["ess"], rel=EXACT_RTOL)
    # our multipliers are on standardised terms: divide by each term's SD for the raw scale
    _, terms = standardised_terms(design)
    sd = design[list(terms)].to_numpy().std(axis=0)
    np.testing.assert_allclose(bal.coefficients[1:] / sd, ref["lambda"], rtol=1e-7)


def test_entropy_balancing_equals_empirical_calibration(psid):
    *_, bal, w, att = psid
    ref = REFERENCE["empirical_calibration"]
    assert att == pytest.approx(ref["att"], rel=CALIBRATION_RTOL)
    np.testing.assert_allclose(w[:5], ref["w_first5"], rtol=CALIBRATION_RTOL)
    assert bal.ess_control == pytest.approx(ref["ess"], rel=CALIBRATION_RTOL)


def test_the_implied_logit_is_cbps_just_identified(psid):
    df, design, d, bal, w, att = psid
    ref = REFERENCE["cbps_exact_noclip"]
    x = np.column_stack([np.ones(len(df)), design.to_numpy()])
    coef = np.linalg.lstsq(x, np.log(bal.odds.to_numpy()), rcond=None)[0]  # raw-unit logit
    np.testing.assert_allclose(coef, ref["coef"], rtol=1e-7)
    assert att == pytest.approx(ref["att"], rel=EXACT_RTOL)
    # R's default clip moves the weights by at most 1.5e-6, and no further
    np.testing.assert_allclose(w[:5], REFERENCE["cbps_exact"]["w_first5"], atol=CLIPPED_ATOL)


def test_the_front_door_gives_the_reference_att(psid):
    df, *_ = psid
    res = estimate_att(df, treatment="treat", outcome="re78", covariates=COVARIATES,
                       method="ebal")  # fmt: skip
    assert res.estimate == pytest.approx(REFERENCE["ebal"]["att"], rel=EXACT_RTOL)
    assert res.ess_control == pytest.approx(REFERENCE["ebal"]["ess"], rel=EXACT_RTOL)
