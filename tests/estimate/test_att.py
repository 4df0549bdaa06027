"""Algebraic checks of the ATT estimators against statsmodels and against each other."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from evaluation.design.propensity import DesignError, fit_propensity
from evaluation.estimate.att import (
    aipw_att,
    estimate_all,
    estimate_att,
    ipw_att,
    naive_att,
    ra_att,
)

EXACT = 1e-9  # identities that hold algebraically (floating-point only)
SE_EXACT = 1e-9


def data(seed: int = 11, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    grp = rng.choice(["a", "b", "c"], size=n)
    lin = -1.5 + 0.7 * x1 - 0.4 * x2 + 0.3 * (grp == "b")
    d = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = 2 + x1 + 0.5 * x2 + 1.0 * d + 0.5 * d * x1 + rng.normal(size=n)
    return pd.DataFrame({"d": d, "x1": x1, "x2": x2, "grp": grp, "y": y})


COV = ["x1", "x2", "grp"]


def test_naive_welch_and_pooled_match_scipy_and_ols():
    df = data()
    r = naive_att(df["y"], df["d"])
    t = stats.ttest_ind(df.y[df.d == 1], df.y[df.d == 0], equal_var=False)
    assert r.estimate / r.se == pytest.approx(t.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(t.pvalue, rel=1e-10)
    pooled = naive_att(df["y"], df["d"], se="pooled")
    ols = sm.OLS(df["y"], sm.add_constant(df["d"].astype(float))).fit()
    assert pooled.se == pytest.approx(ols.bse["d"], rel=1e-12)
    assert pooled.p_value == pytest.approx(ols.pvalues["d"], rel=1e-10)


def test_regression_equals_statsmodels_ols_hc3():
    df = data()
    fit = sm.OLS.from_formula("y ~ d + x1 + x2 + C(grp)", data=df).fit(cov_type="HC3")
    r = estimate_att(df, treatment="d", outcome="y", covariates=COV, method="regression")
    assert r.estimate == pytest.approx(fit.params["d"], rel=1e-12)
    assert r.se == pytest.approx(fit.bse["d"], rel=1e-10)
    assert r.p_value == pytest.approx(fit.pvalues["d"], rel=1e-8)
    lo, hi = fit.conf_int().loc["d"]
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo, rel=1e-10), pytest.approx(hi, rel=1e-10))


def test_ipw_point_estimate_equals_wls_with_att_weights():
    df = data()
    ps = fit_propensity(df, "d", COV)
    e = ps.pscore.to_numpy()
    w = np.where(df["d"] == 1, 1.0, e / (1 - e))
    wls = sm.WLS(df["y"], sm.add_constant(df["d"].astype(float)), weights=w).fit()
    r = estimate_att(df, treatment="d", outcome="y", covariates=COV, method="ipw", ps=ps)
    assert r.estimate == pytest.approx(wls.params["d"], rel=1e-12)
    wc = w[df["d"] == 0]
    assert r.ess_control == pytest.approx(wc.sum() ** 2 / (wc**2).sum(), rel=1e-12)


def test_ra_equals_mean_of_treated_minus_control_fit():
    df = data()
    ctrl = df[df.d == 0]
    fit = sm.OLS.from_formula("y ~ x1 + x2 + C(grp)", data=ctrl).fit()
    treated = df[df.d == 1]
    expected = (treated["y"] - fit.predict(treated)).mean()
    r = estimate_att(df, treatment="d", outcome="y", covariates=COV, method="ra")
    assert r.estimate == pytest.approx(expected, rel=1e-12)


def test_aipw_identities():
    df = data()
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    x = df[["x1", "x2"]].to_numpy()
    # (1) constant propensity score (intercept-only logit): AIPW == RA, estimate and SE
    const = np.ones((len(y), 1))
    e0 = np.full(len(y), d.mean())
    a1, r1 = aipw_att(y, d, x, const, e0), ra_att(y, d, x)
    assert a1.estimate == pytest.approx(r1.estimate, abs=EXACT)
    assert a1.se == pytest.approx(r1.se, abs=SE_EXACT)
    # (2) intercept-only outcome model: AIPW == IPW, estimate and SE
    ps = fit_propensity(df, "d", COV)
    xd, e = ps.design.to_numpy(), ps.pscore.to_numpy()
    a2, i2 = aipw_att(y, d, np.empty((len(y), 0)), xd, e), ipw_att(y, d, xd, e)
    assert a2.estimate == pytest.approx(i2.estimate, abs=EXACT)
    assert a2.se == pytest.approx(i2.se, abs=SE_EXACT)
    # (3) both constant: everything collapses to the difference in means
    n = naive_att(y, d)
    a3 = aipw_att(y, d, np.empty((len(y), 0)), const, e0)
    assert a3.estimate == pytest.approx(n.estimate, abs=EXACT)


def test_ipw_sandwich_matches_a_numerical_jacobian():
    """The analytic stacked sandwich equals one built from finite-difference derivatives."""
    df = data(n=300)
    ps = fit_propensity(df, "d", ["x1", "x2"])
    x, d, y = ps.design.to_numpy(), df["d"].to_numpy(float), df["y"].to_numpy()
    b = ps.params.to_numpy()
    e = 1 / (1 + np.exp(-x @ b))
    m1 = y[d == 1].mean()
    o = e / (1 - e)
    m0 = np.sum((1 - d) * o * y) / np.sum((1 - d) * o)
    theta = np.r_[b, m1, m0]

    def psi(th):
        bb, a1, a0 = th[:-2], th[-2], th[-1]
        ee = 1 / (1 + np.exp(-x @ bb))
        oo = ee / (1 - ee)
        return np.column_stack([x * (d - ee)[:, None], d * (y - a1), (1 - d) * oo * (y - a0)])

    k = len(theta)
    jac = np.empty((k, k))
    for j in range(k):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        jac[:, j] = (psi(up).sum(0) - psi(dn).sum(0)) / (2 * h)
    p0 = psi(theta)
    jinv = np.linalg.inv(jac)
    v = jinv @ (p0.T @ p0) @ jinv.T
    g = np.zeros(k)
    g[-2], g[-1] = 1, -1
    r = ipw_att(y, d, x, ps.pscore.to_numpy())
    assert r.estimate == pytest.approx(m1 - m0, rel=1e-12)
    assert r.se == pytest.approx(np.sqrt(g @ v @ g), rel=1e-6)


def test_front_door_drops_missing_outcomes_and_records_the_spec():
    df = data()
    df.loc[[3, 10, 20], "y"] = np.nan
    before = df.copy()
    r = estimate_att(df, treatment="d", outcome="y", covariates=COV, method="aipw")
    assert df.equals(before)
    assert r.n_treated + r.n_control == len(df) - 3
    assert r.spec["n_missing_outcome_dropped"] == 3
    assert r.spec["propensity"]["n_obs"] == len(df) - 3
    ps_full = fit_propensity(df, "d", COV)
    r2 = estimate_att(df, treatment="d", outcome="y", covariates=COV, method="ipw", ps=ps_full)
    assert r2.spec["propensity"]["source"].startswith("refitted")
    with pytest.raises(TypeError):
        estimate_att(df, treatment="d", outcome="y", covariates=COV, method="ipw", caliper=0.2)
    with pytest.raises(ValueError):
        estimate_att(df, treatment="d", outcome="y", covariates=COV, method="psm")
    with pytest.raises(DesignError):
        estimate_att(df, treatment="d", outcome="nope", covariates=COV, method="naive")


def test_estimate_all_runs_every_method_and_is_deterministic():
    df = data().assign(y2=lambda f: f["y"] ** 2)
    res = estimate_all(df, "d", ["y", "y2"], COV, options={"matching": {"k": 2}})
    assert [(r.outcome, r.estimator) for r in res][:6] == [
        ("y", m) for m in ("naive", "regression", "ra", "ipw", "aipw", "matching")
    ]
    assert len(res) == 16
    assert res[5].spec["k"] == 2 and res[5].spec["options"] == {"k": 2}
    again = estimate_all(df, "d", ["y", "y2"], COV, options={"matching": {"k": 2}})
    assert [r.to_dict() for r in res] == [r.to_dict() for r in again]


def test_a_propensity_fit_on_the_same_rows_lends_its_covariate_matrix_exactly():
    """estimate_att reuses the given propensity fit's design matrix for the outcome model
    (same rows, same covariates); the numbers must be those of building it anew."""
    df = data()
    df.loc[df.index[::7], "y"] = np.nan  # the outcome drops rows: the fit must not be reused
    whole = fit_propensity(df, "d", COV)
    observed = fit_propensity(df.loc[df["y"].notna()], "d", COV)
    for method, opts in (("regression", {}), ("ra", {}), ("aipw", {}),
                         ("matching", {"k": 2, "bias_adjust": True})):  # fmt: skip
        fresh = estimate_att(df, treatment="d", outcome="y", covariates=COV, method=method, **opts)
        for ps in (whole, observed):
            lent = estimate_att(df, treatment="d", outcome="y", covariates=COV, method=method,
                                ps=ps, **opts)  # fmt: skip
            assert lent.estimate == fresh.estimate and lent.se == fresh.se, method
    # another covariate set: its own matrix, not the fit's
    fewer = estimate_att(
        df, treatment="d", outcome="y", covariates=["x1"], method="ra", ps=observed
    )
    alone = estimate_att(df, treatment="d", outcome="y", covariates=["x1"], method="ra")
    assert fewer.estimate == alone.estimate


def test_an_estimate_knows_whom_its_sample_sizes_count():
    """The private persons of an effect are exactly those n_treated and n_control count."""
    from evaluation.estimate.att import estimate_att

    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(1.5 - x))).astype(int)
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "d": d, "x": x,
                       "y": np.where(np.arange(n) % 17 == 0, np.nan, x + d)})  # fmt: skip
    for method, opts in (("naive", {}), ("ipw", {}), ("matching", {"k": 1, "caliper": 0.05})):
        res = estimate_att(df, treatment="d", outcome="y", covariates=["x"], method=method, **opts)
        treated, control = res.persons
        assert (len(treated), len(control)) == (res.n_treated, res.n_control), method
        observed = set(df.loc[df["y"].notna(), "person_id"])
        assert set(treated) <= observed and set(control) <= observed
        assert "persons" not in res.to_dict()
