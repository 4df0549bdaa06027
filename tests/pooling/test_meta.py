"""Meta-analysis: a hand-worked three-site example and statsmodels' ``combine_effects``.

Tolerances:

* ``HAND``: 1e-10 absolute. The hand-worked numbers below are exact fractions (or one
  t quantile), so only floating-point rounding separates them.
* ``SM_CLOSED``: 1e-10 relative for statsmodels' closed forms (fixed effect, DerSimonian-
  Laird, Hartung-Knapp, Q, I^2): the same formulas, evaluated in a different order.
* ``SM_PM``: 1e-8 relative for Paule-Mandel, which statsmodels iterates (we pass
  ``atol=1e-8`` on its estimating equation; at 1e-10 its last step can land a rounding error
  below k - 1 and it then returns 0, measured on two of these inputs) and we solve by
  bracketing to 1e-12 in tau^2. ``SM_PM_DEFAULT``: 1e-5 relative against statsmodels'
  default ``atol=1e-5`` (measured differences up to 1.6e-6).
* ``REML``: 1e-7 absolute in tau^2 between our fixed point and a direct bounded maximisation
  of the restricted likelihood written out in this file (scipy's ``xatol=1e-11``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from evaluation.pooling import meta

HAND = 1e-10
SM_CLOSED = 1e-10
SM_PM = 1e-8
SM_PM_DEFAULT = 1e-5
REML = 1e-7

# --- the hand-worked example --------------------------------------------------------------
# y = (0.0, 0.4, 0.2), v = (0.01, 0.01, 0.0025)  ->  w = 1/v = (100, 100, 400), W = 600
# FE: mu = (0 + 40 + 80) / 600 = 0.2; se = sqrt(1/600)
# Q = 100 (0.2)^2 + 100 (0.2)^2 + 400 (0)^2 = 8 on 2 df; H^2 = 4; I^2 = (8 - 2) / 8 = 0.75
# DL: C = 600 - (100^2 + 100^2 + 400^2) / 600 = 600 - 300 = 300; tau^2 = (8 - 2) / 300 = 0.02
# RE (DL): w* = 1/(0.03), 1/(0.03), 1/(0.0225) = 33.33.., 33.33.., 44.44..; sum = 111.11..
#          mu = 0.2 (the two outer sites are symmetric about 0.2); se^2 = 1/111.11.. = 0.009
#          relative weights 0.3, 0.3, 0.4
# HK:      sum w* (y - mu)^2 = 2 * 33.33.. * 0.04 = 2.6667; se^2 = 2.6667 / (2 * 111.11..) = 0.012
#          interval mu +/- t(0.975, 2) sqrt(0.012)
# PM: by symmetry mu = 0.2 for every tau^2, so 2 * 0.04 / (0.01 + tau^2) = 2 -> tau^2 = 0.03
# Prediction (DL): mu +/- t(0.975, 1) sqrt(0.02 + 0.009)
# Leave out site a: y = (0.4, 0.2), w = (100, 400): mu_FE = 120/500 = 0.24,
#          Q = 100 (0.16)^2 + 400 (0.04)^2 = 3.2, C = 500 - 170000/500 = 160,
#          tau^2 = (3.2 - 1) / 160 = 0.01375; w* = 1/0.02375, 1/0.01625;
#          mu = (0.4/0.02375 + 0.2/0.01625) / (1/0.02375 + 1/0.01625) = 0.28125
# Leave out site c: y = (0, 0.4), w = (100, 100): Q = 8, C = 100, tau^2 = 0.07, mu = 0.2
Y = [0.0, 0.4, 0.2]
V = [0.01, 0.01, 0.0025]
NAMES = ["a", "b", "c"]


def test_hand_worked_fixed_effect_and_heterogeneity():
    res = meta.meta_analysis(Y, V, NAMES, tau2_method="dersimonian_laird")
    assert res.fixed.estimate == pytest.approx(0.2, abs=HAND)
    assert res.fixed.se == pytest.approx(math.sqrt(1 / 600), abs=HAND)
    assert res.heterogeneity.q == pytest.approx(8.0, abs=HAND)
    assert res.heterogeneity.df == 2
    assert res.heterogeneity.h2 == pytest.approx(4.0, abs=HAND)
    assert res.heterogeneity.i2 == pytest.approx(0.75, abs=HAND)
    assert res.heterogeneity.p_value == pytest.approx(math.exp(-4.0), abs=HAND)  # chi2(2): e^-q/2
    np.testing.assert_allclose(res.weights_fixed, [1 / 6, 1 / 6, 2 / 3], atol=HAND)


def test_hand_worked_random_effects_dl_and_hartung_knapp():
    res = meta.meta_analysis(Y, V, NAMES, tau2_method="dersimonian_laird")
    assert res.tau2["dersimonian_laird"] == pytest.approx(0.02, abs=HAND)
    assert res.random.estimate == pytest.approx(0.2, abs=HAND)
    assert res.random.se == pytest.approx(math.sqrt(0.009), abs=HAND)
    np.testing.assert_allclose(res.weights_random, [0.3, 0.3, 0.4], atol=HAND)
    t2 = stats.t.isf(0.025, 2)
    assert res.random_hk.se == pytest.approx(math.sqrt(0.012), abs=HAND)
    assert res.random_hk.df == 2
    assert res.random_hk.ci_low == pytest.approx(0.2 - t2 * math.sqrt(0.012), abs=HAND)
    assert res.random_hk.ci_high == pytest.approx(0.2 + t2 * math.sqrt(0.012), abs=HAND)
    t1 = stats.t.isf(0.025, 1)
    assert res.prediction_low == pytest.approx(0.2 - t1 * math.sqrt(0.029), abs=HAND)
    assert res.prediction_high == pytest.approx(0.2 + t1 * math.sqrt(0.029), abs=HAND)


def test_hand_worked_paule_mandel():
    assert meta.tau2_paule_mandel(Y, V) == pytest.approx(0.03, abs=HAND)


def test_hand_worked_leave_one_out():
    loo = {r.left_out: r for r in meta.leave_one_out(Y, V, NAMES, tau2_method="dersimonian_laird")}
    assert loo["a"].tau2 == pytest.approx(0.01375, abs=HAND)
    assert loo["a"].estimate == pytest.approx(0.28125, abs=HAND)
    assert loo["b"].estimate == pytest.approx(0.2 - 0.08125, abs=HAND)  # mirror image of a
    assert loo["c"].tau2 == pytest.approx(0.07, abs=HAND)
    assert loo["c"].estimate == pytest.approx(0.2, abs=HAND)
    assert loo["c"].i2 == pytest.approx((8 - 1) / 8, abs=HAND)


def _reml_loglik_independent(t, y, v):
    """The restricted log-likelihood, written out here independently of the module."""
    y, v = np.asarray(y), np.asarray(v)
    w = 1 / (v + t)
    mu = np.sum(w * y) / np.sum(w)
    return -0.5 * (np.sum(np.log(v + t)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_reml_maximises_the_restricted_likelihood(seed):
    rng = np.random.default_rng(seed)
    k = 3 + seed
    v = rng.uniform(0.002, 0.02, k)
    y = rng.normal(0.1, 0.1, k) + rng.normal(0, np.sqrt(v))
    direct = optimize.minimize_scalar(
        lambda t: -_reml_loglik_independent(t, y, v),
        bounds=(0.0, 1.0),
        method="bounded",
        options={"xatol": 1e-11},
    ).x
    assert meta.tau2_reml(y, v) == pytest.approx(direct, abs=REML)
    assert meta.reml_loglik(meta.tau2_reml(y, v), y, v) == pytest.approx(
        _reml_loglik_independent(meta.tau2_reml(y, v), y, v), abs=1e-12
    )
    # the hand example too: REML sits between DL (0.02) and PM (0.03) there
    hand = optimize.minimize_scalar(lambda t: -_reml_loglik_independent(t, Y, V),
                                    bounds=(0.0, 1.0), method="bounded",
                                    options={"xatol": 1e-11}).x  # fmt: skip
    assert meta.tau2_reml(Y, V) == pytest.approx(hand, abs=REML)
    assert 0.02 < meta.tau2_reml(Y, V) < 0.03


def _heterogeneous_inputs(seed):
    rng = np.random.default_rng(seed)
    k = 3 + seed % 6
    v = rng.uniform(0.001, 0.01, k)
    y = rng.normal(0.1, 0.15, k)  # between-site sd well above the within-site sds
    return y, v


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_statsmodels_dl_and_hksj(seed):
    y, v = _heterogeneous_inputs(seed)
    sm = combine_effects(y, v, method_re="chi2", use_t=True)
    assert sm.q > len(y) - 1  # statsmodels does not truncate tau^2 or I^2 at 0: keep Q > df
    ours = meta.meta_analysis(y, v, tau2_method="dersimonian_laird")
    np.testing.assert_allclose(ours.fixed.estimate, sm.mean_effect_fe, rtol=SM_CLOSED)
    np.testing.assert_allclose(ours.fixed.se, sm.sd_eff_w_fe, rtol=SM_CLOSED)
    np.testing.assert_allclose(ours.heterogeneity.q, sm.q, rtol=SM_CLOSED)
    np.testing.assert_allclose(ours.heterogeneity.i2, sm.i2, rtol=SM_CLOSED)
    np.testing.assert_allclose(ours.tau2["dersimonian_laird"], sm.tau2, rtol=SM_CLOSED)
    np.testing.assert_allclose(ours.random.estimate, sm.mean_effect_re, rtol=SM_CLOSED)
    np.testing.assert_allclose(ours.random.se, sm.sd_eff_w_re, rtol=SM_CLOSED)
    _, ci_re, _, ci_re_hksj = sm.conf_int(alpha=0.05, use_t=True)
    np.testing.assert_allclose(ours.random_hk.se, sm.sd_eff_w_re_hksj, rtol=SM_CLOSED)
    np.testing.assert_allclose([ours.random_hk.ci_low, ours.random_hk.ci_high], ci_re_hksj,
                               rtol=SM_CLOSED)  # fmt: skip
    _, ci_re_normal, _, _ = sm.conf_int(alpha=0.05, use_t=False)
    np.testing.assert_allclose([ours.random.ci_low, ours.random.ci_high], ci_re_normal,
                               rtol=SM_CLOSED)  # fmt: skip
    np.testing.assert_allclose(ours.weights_random, sm.weights_rel_re, rtol=SM_CLOSED)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_statsmodels_paule_mandel(seed):
    y, v = _heterogeneous_inputs(seed)
    sm = combine_effects(y, v, method_re="iterated", use_t=True, atol=1e-8, maxiter=1000)
    ours = meta.meta_analysis(y, v, tau2_method="paule_mandel")
    sm_default = combine_effects(y, v, method_re="iterated", use_t=True)
    np.testing.assert_allclose(ours.tau2["paule_mandel"], sm_default.tau2, rtol=SM_PM_DEFAULT)
    np.testing.assert_allclose(ours.tau2["paule_mandel"], sm.tau2, rtol=SM_PM)
    np.testing.assert_allclose(ours.random.estimate, sm.mean_effect_re, rtol=SM_PM)
    np.testing.assert_allclose(ours.random.se, sm.sd_eff_w_re, rtol=SM_PM)
    _, _, _, ci_hksj = sm.conf_int(alpha=0.05, use_t=True)
    np.testing.assert_allclose([ours.random_hk.ci_low, ours.random_hk.ci_high], ci_hksj,
                               rtol=SM_PM)  # fmt: skip
    # at the Paule-Mandel tau^2 the generalised Q equals k - 1, so the HK scale is 1
    np.testing.assert_allclose(ours.random_hk.se, ours.random.se, rtol=SM_PM)


def test_homogeneous_sites_give_zero_tau2_and_the_fixed_effect():
    y = [0.10, 0.11, 0.09, 0.10]
    v = [0.01, 0.02, 0.015, 0.01]
    res = meta.meta_analysis(y, v)
    assert res.heterogeneity.q < 3
    assert res.heterogeneity.i2 == 0.0
    assert res.tau2 == {"dersimonian_laird": 0.0, "paule_mandel": 0.0, "reml": 0.0}
    assert res.random.estimate == pytest.approx(res.fixed.estimate, abs=HAND)
    assert res.random.se == pytest.approx(res.fixed.se, abs=HAND)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        meta.meta_analysis([0.1], [0.01])
    with pytest.raises(ValueError, match="positive"):
        meta.meta_analysis([0.1, 0.2], [0.01, 0.0])
    with pytest.raises(ValueError, match="tau2_method"):
        meta.meta_analysis([0.1, 0.2], [0.01, 0.02], tau2_method="ml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="three sites"):
        meta.leave_one_out([0.1, 0.2], [0.01, 0.02], ["a", "b"])
    assert meta.prediction_interval(0.1, 0.05, 0.01, 2) is None


def test_the_forest_plot_speaks_the_report_language():
    """Swedish report, Swedish figure: the pooled rows and the axis are labelled in sv."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from evaluation.pooling import meta as m
    from evaluation.pooling.figures import forest_plot
    from evaluation.pooling.pool import PooledOutcome

    y, v = np.array([0.10, 0.0, 0.25]), np.array([0.004, 0.003, 0.005])
    rows = pd.DataFrame({"site": ["A", "B", "C"], "estimate": y, "se": np.sqrt(v),
                         "ci_low": y - 0.1, "ci_high": y + 0.1})  # fmt: skip
    res = m.meta_analysis(y, v, ["a", "b", "c"], tau2_method="paule_mandel", level=0.95)
    po = PooledOutcome("employed_m12", "share", rows, res, [])
    for lang, words in (("sv", ["Fix effekt", "Prediktionsintervall", "procentenheter",
                                "i arbete 12 månader efter start"]),
                        ("en", ["Fixed effect", "Prediction interval", "percentage points",
                                "employed 12 months after start"])):  # fmt: skip
        fig = forest_plot(po, "EUR", lang)
        ax = fig.axes[0]
        text = " ".join(t.get_text() for t in ax.get_yticklabels()) + ax.get_xlabel()
        for w in words:
            assert w in text, (lang, w, text)


def test_the_prediction_interval_of_a_share_is_cut_at_the_possible_range():
    """Three sites, t on one degree of freedom: the 95 % prediction interval for a share runs
    past +/-1 (100 pp); the report's interval is cut there and marked, the raw one kept."""
    import pandas as pd

    from evaluation.pooling import meta as m
    from evaluation.pooling.pool import PooledOutcome
    from evaluation.pooling.report import _prediction

    y, v = np.array([0.128, -0.014, 0.226]), np.array([0.077, 0.052, 0.071]) ** 2
    res = m.meta_analysis(y, v, ["a", "b", "c"], tau2_method="paule_mandel", level=0.95)
    assert res.prediction_low < -1 and res.prediction_high > 1  # as in the demonstration
    rows = pd.DataFrame({"site": list("ABC"), "estimate": y, "se": np.sqrt(v)})
    share = _prediction(PooledOutcome("employed_m12", "share", rows, res, []))
    assert share["bounded"] is True and (share["ci_low"], share["ci_high"]) == (-1.0, 1.0)
    assert share["unbounded_low"] == res.prediction_low and share["df"] == 1
    months = _prediction(PooledOutcome("months_employed_12", "months", rows, res, []))
    assert months["bounded"] is False and months["ci_low"] == res.prediction_low
    narrow = m.meta_analysis(y / 20, v / 400, ["a", "b", "c"], tau2_method="paule_mandel")
    kept = _prediction(PooledOutcome("employed_m12", "share", rows, narrow, []))
    assert kept["bounded"] is False and kept["ci_high"] == narrow.prediction_high


def test_identical_site_estimates_do_not_break_hartung_knapp():
    """Equal estimates give a zero Hartung-Knapp variance; the ordinary random-effects
    variance is used instead (Knapp-Hartung's floor), with t on k - 1 df."""
    from scipy import stats

    from evaluation.pooling import meta as m

    y, v = np.array([0.1, 0.1, 0.1]), np.array([0.01, 0.02, 0.04])
    res = m.meta_analysis(y, v, ["a", "b", "c"], tau2_method="paule_mandel", level=0.95)
    w = 1 / v  # tau^2 is 0 here
    se = math.sqrt(1 / w.sum())
    hk = res.random_hk
    assert hk.estimate == pytest.approx(0.1) and hk.se == pytest.approx(se, rel=1e-12)
    assert hk.ci_high - hk.estimate == pytest.approx(stats.t(2).isf(0.025) * se, rel=1e-12)
    loo = m.leave_one_out(y, v, ["a", "b", "c"], tau2_method="paule_mandel")
    assert all(math.isfinite(x.ci_low) for x in loo)
