"""Cinelli-Hazlett sensitivity of the regression estimate (evaluation.robustness.omitted).

Two independent checks:

1. **Least squares identities.** With the confounder observed, the regression that adds it
   gives the estimate and (classical) standard error the formulas give from the two partial
   R² values computed from the data: an identity (Cinelli and Hazlett 2020, eqs. 11-12), held
   to 1e-9 relative. The robustness values do what they say: a confounder of strength RV_q on
   both partial R² takes the estimate to (1 - q) times itself; one of strength RV_{q,alpha}
   leaves it exactly at the edge of significance.
2. **Reference implementation.** PySensemakr 0.0.8 (the Python port of R's sensemakr; it
   gives R's published Darfur output, checked by the script) on the LaLonde NSW experimental
   sample (``causaldata.nsw_mixtape``, n = 445): statistics and the benchmark bounds for re75
   and educ at kd = ky = 1, 2, 3, transcribed from ``bench/reference_sensemakr.py``. Held to
   1e-8 relative (the transcription keeps 12 significant digits). One difference by design:
   PySensemakr's bounds take the interval's t quantile at df, ours at df - 1 (the residual df
   of the regression that adds the confounder, as check 1 shows); the test says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from causaldata import nsw_mixtape
from scipy import stats
from statsmodels.regression.linear_model import OLS

from evaluation.robustness import omitted as om

IDENTITY_RTOL = 1e-9
REFERENCE_RTOL = 1e-8
#: PySensemakr 0.0.8 on re78 ~ treat + age + educ + black + hisp + marr + nodegree + re74 +
#: re75 (bench/reference_sensemakr.py). Bounds: r2dz_x, r2yz_dx, adjusted estimate, se, t,
#: lower and upper limit of the 95 % interval.
LALONDE = {
    "bounds_educ": [
        (
            0.00226689164735,
            0.00699277762776,
            1623.24655711,
            637.901263124,
            2.54466741319,
            369.49472818,
            2876.99838603,
        ),
        (
            0.00453378329469,
            0.0139856992808,
            1570.02909893,
            636.374537481,
            2.46714632102,
            319.277946097,
            2820.78025177,
        ),
        (
            0.00680067494204,
            0.0209787658226,
            1516.68962551,
            634.837098819,
            2.3891004926,
            268.960204477,
            2764.41904654,
        ),
    ],
    "bounds_re75": [
        (
            0.00456749680056,
            0.000351909985489,
            1659.41569036,
            640.769913784,
            2.58972160625,
            400.025722404,
            2918.80565832,
        ),
        (
            0.00913499360111,
            0.000703849456453,
            1642.41010779,
            642.131998607,
            2.55774530993,
            380.343054148,
            2904.47716143,
        ),
        (
            0.0137024904017,
            0.00105581877188,
            1625.32505296,
            643.503766062,
            2.52574287623,
            360.561883079,
            2890.08822284,
        ),
    ],
    "df": 435,
    "estimate": 1676.3426254026253,
    "r2yd_x": 0.015589888603560819,
    "rv_q": 0.11817476170303445,
    "rv_qa": 0.031007680749603757,
    "se": 638.6820148981517,
    "t": 2.62469051311856,
}
COVARIATES = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde():
    nsw = nsw_mixtape.load_pandas().data
    return om.omitted_sensitivity(nsw["re78"], nsw["treat"], nsw[COVARIATES],
                                  benchmarks=["re75", "educ"], multiples=[1, 2, 3])  # fmt: skip


def test_lalonde_statistics_are_sensemakrs(lalonde):
    for name in ("estimate", "se", "t", "r2yd_x", "rv_q", "rv_qa"):
        assert getattr(lalonde, name) == pytest.approx(LALONDE[name], rel=REFERENCE_RTOL), name
    assert lalonde.df == LALONDE["df"]


@pytest.mark.parametrize("bench", ["re75", "educ"])
def test_lalonde_benchmark_bounds_are_sensemakrs(lalonde, bench):
    got = lalonde.bounds.loc[lalonde.bounds["benchmark"] == bench]
    cols = ["r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_se", "adjusted_t",
            "adjusted_low", "adjusted_high"]  # fmt: skip
    assert got["kd"].tolist() == [1.0, 2.0, 3.0]
    ref = np.array(LALONDE[f"bounds_{bench}"])
    np.testing.assert_allclose(got[cols[:5]].to_numpy(), ref[:, :5], rtol=REFERENCE_RTOL)
    # the interval: PySensemakr takes the t quantile at df, we at df - 1, the residual df of
    # the regression that adds the confounder (whose own interval it then is; see
    # test_adding_the_confounder_gives_what_the_formulas_say)
    est, se = ref[:, 2], ref[:, 3]
    np.testing.assert_allclose(ref[:, 5:], np.column_stack(
        [est - stats.t.ppf(0.975, LALONDE["df"]) * se, est + stats.t.ppf(0.975, LALONDE["df"]) * se]
    ), rtol=REFERENCE_RTOL)  # fmt: skip
    crit = stats.t.ppf(0.975, LALONDE["df"] - 1)
    np.testing.assert_allclose(got[["adjusted_low", "adjusted_high"]].to_numpy(),
                               np.column_stack([est - crit * se, est + crit * se]),
                               rtol=REFERENCE_RTOL)  # fmt: skip


def _confounded(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    z = 0.5 * x[:, 0] + rng.normal(size=n)
    d = (0.4 * x[:, 1] + 0.6 * z + rng.normal(size=n) > 0).astype(float)
    y = 0.3 * d + x @ [0.2, -0.1, 0.3] + 0.8 * z + rng.normal(size=n)
    return y, d, pd.DataFrame(x, columns=["x1", "x2", "x3"]), z


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adding_the_confounder_gives_what_the_formulas_say(seed):
    y, d, x, z = _confounded(seed)
    short = om.omitted_sensitivity(y, d, x)
    ones = np.ones((len(y), 1))
    full = OLS(y, np.column_stack([ones, d, x, z])).fit()
    # the two partial R² of z, from the data (t statistics of z in the two full regressions)
    r2yz_dx = om.partial_r2(full.tvalues[-1], full.df_resid)
    dz = OLS(d, np.column_stack([ones, x, z])).fit()
    r2dz_x = om.partial_r2(dz.tvalues[-1], dz.df_resid)
    est, se, *_ = om.adjusted(short.estimate, short.se, short.df, r2dz_x, r2yz_dx, alpha=0.05)
    short_fit = OLS(y, np.column_stack([ones, d, x])).fit()
    assert short.estimate == pytest.approx(short_fit.params[1], rel=IDENTITY_RTOL)
    assert short.se == pytest.approx(short_fit.bse[1], rel=IDENTITY_RTOL)
    # the confounder pushes the estimate up here: adding it brings it down, by the bias
    assert full.params[1] < short.estimate
    assert est == pytest.approx(full.params[1], rel=IDENTITY_RTOL)
    assert se == pytest.approx(full.bse[1], rel=IDENTITY_RTOL)
    *_, low, high = om.adjusted(short.estimate, short.se, short.df, r2dz_x, r2yz_dx, alpha=0.05)
    np.testing.assert_allclose([low, high], full.conf_int(0.05)[1], rtol=IDENTITY_RTOL)


def test_robustness_values_do_what_they_say():
    y, d, x, _ = _confounded(7)
    s = om.omitted_sensitivity(y, d, x, q=1.0, alpha=0.05)
    est, *_ = om.adjusted(s.estimate, s.se, s.df, s.rv_q, s.rv_q, alpha=0.05)
    assert est == pytest.approx(0.0, abs=1e-10 * abs(s.estimate))
    half = om.robustness_value(s.t, s.df, q=0.5)
    est, *_ = om.adjusted(s.estimate, s.se, s.df, half, half, alpha=0.05)
    assert est == pytest.approx(0.5 * s.estimate, rel=1e-9)
    _, _, _, low, _ = om.adjusted(s.estimate, s.se, s.df, s.rv_qa, s.rv_qa, alpha=0.05)
    assert low == pytest.approx(0.0, abs=1e-9 * abs(s.estimate))
    assert 0 < s.rv_qa < s.rv_q < 1
    # an insignificant estimate has RV_{q,alpha} = 0; the strength needed is never negative
    assert om.robustness_value(1.0, 100, alpha=0.05) == 0.0


def test_a_benchmark_must_be_a_regressor():
    y, d, x, _ = _confounded(1)
    with pytest.raises(KeyError, match="pre_months"):
        om.omitted_sensitivity(y, d, x, benchmarks=["pre_months_employed_12"])
