"""Entropy balancing and overlap weights (evaluation.design.weighting, ebal_att, overlap_ato).

Each number is checked against an implementation that shares no code with ours:

1. **Entropy balancing, primal.** The weights minimise ``sum w log w`` subject to
   ``sum w = 1`` and the balance constraints (Hainmueller 2012, eq. 3); solved here by SLSQP
   on the weights themselves, not through the dual our Newton solver uses. Weights to
   ``PRIMAL_ATOL``.
2. **Just-identified CBPS for the ATT.** The logit whose coefficients solve the ATT balance
   conditions (Imai and Ratkovic 2014, eq. 10 with the ATT weights), solved by
   ``scipy.optimize.root`` in the covariates' own units: its odds are the entropy-balancing
   weights (Zhao and Percival 2017). To ``CBPS_RTOL``.
3. **Sandwich standard errors.** A generic M-estimation sandwich, with the estimating
   functions written out in the covariates' own units and the Jacobian taken by central
   finite differences, gives the SE of ``ebal_att`` and ``overlap_ato``. To ``SANDWICH_RTOL``.
4. **Identities.** Exact balance (entropy balancing on every term; overlap weights on every
   term of the logit, Li et al. 2018, Theorem 3); double robustness of entropy balancing
   (Zhao and Percival 2017): with an untreated outcome exactly linear in the terms it equals
   regression adjustment; overlap weights with a constant propensity score give the
   difference in means. To ``IDENTITY_ATOL``.
5. **Published implementations.** The PyPI packages' entropy-balancing and CBPS weights on
   the LaLonde NSW–PSID sample, transcribed by ``bench/reference_weighting.py``; see
   ``test_weighting_reference.py``.

Bias and coverage at 50 mentored: ``bench/montecarlo_att.py`` (figures in the README).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import expit

from evaluation.design.propensity import DesignError, fit_propensity
from evaluation.design.weighting import entropy_balance, overlap_weights
from evaluation.estimate import effects as fx
from evaluation.estimate.att import ebal_att, estimate_att, overlap_ato

PRIMAL_ATOL = 1e-7
CBPS_RTOL = 1e-8
SANDWICH_RTOL = 1e-5
IDENTITY_ATOL = 1e-9


def _sample(seed: int = 3, n_treated: int = 40, n_control: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 30 * (n_treated + n_control)
    x1, x2 = rng.normal(size=n), rng.gamma(2.0, 1.0, size=n)
    x3 = rng.binomial(1, 0.4, n)
    d = rng.random(n) < expit(-2.5 + 0.8 * x1 - 0.3 * x2 + 0.6 * x3)
    keep = np.r_[np.flatnonzero(d)[:n_treated], np.flatnonzero(~d)[:n_control]]
    x1, x2, x3, d = x1[keep], x2[keep], x3[keep], d[keep].astype(int)
    y = 1 + 2 * x1 - x2 + x3 + (2 + x1) * d + rng.normal(size=len(keep)) * (1 + 0.5 * abs(x1))
    return pd.DataFrame({"d": d, "x1": x1, "x2": x2, "x3": x3, "y": y})


COV = ["x1", "x2", "x3"]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return _sample()


@pytest.fixture(scope="module")
def fit(df):
    return fit_propensity(df, "d", COV)


def test_entropy_weights_balance_means_exactly_and_solve_the_primal(df, fit):
    d = df["d"].to_numpy()
    bal = entropy_balance(fit.design, d)
    w = bal.weights.to_numpy()[d == 0]
    xc, xt = df.loc[d == 0, COV].to_numpy(), df.loc[d == 1, COV].to_numpy()
    assert w.sum() == pytest.approx(1.0, abs=IDENTITY_ATOL)
    np.testing.assert_allclose(w @ xc, xt.mean(axis=0), atol=IDENTITY_ATOL)
    assert bal.max_imbalance < 1e-9
    # the primal problem on the weights themselves (SLSQP), from equal weights
    n0 = len(xc)
    cons = [{"type": "eq", "fun": lambda v: v.sum() - 1.0},
            {"type": "eq", "fun": lambda v: v @ xc - xt.mean(axis=0)}]  # fmt: skip
    primal = optimize.minimize(
        lambda v: np.sum(v * np.log(v)), np.full(n0, 1.0 / n0),
        jac=lambda v: np.log(v) + 1.0, constraints=cons, bounds=[(1e-12, 1.0)] * n0,
        method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000},
    )  # fmt: skip
    assert primal.success, primal.message
    np.testing.assert_allclose(w, primal.x, atol=PRIMAL_ATOL)


def test_entropy_weights_are_the_just_identified_atts_cbps(df, fit):
    d = df["d"].to_numpy()
    bal = entropy_balance(fit.design, d)
    x = np.column_stack([np.ones(len(df)), df[COV].to_numpy()])

    def balance(beta):  # sum_i (d_i - (1 - d_i) exp(x_i'beta)) x_i, raw units
        return x.T @ (d - (1 - d) * np.exp(x @ beta))

    start = np.r_[np.log(d.sum() / (1 - d).sum()), np.zeros(len(COV))]
    sol = optimize.root(balance, start, method="hybr", options={"xtol": 1e-13})
    assert sol.success, sol.message
    odds = np.exp(x @ sol.x)
    np.testing.assert_allclose(bal.odds.to_numpy(), odds, rtol=CBPS_RTOL)
    np.testing.assert_allclose(bal.pscore.to_numpy(), expit(x @ sol.x), rtol=CBPS_RTOL)


def _numerical_sandwich(psi, theta: np.ndarray, contrast: np.ndarray) -> float:
    """SE of ``contrast' theta`` from stacked estimating functions ``psi(theta) (n x k)``."""
    k = len(theta)
    jac = np.zeros((k, k))
    for j in range(k):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        jac[:, j] = (psi(up).sum(axis=0) - psi(dn).sum(axis=0)) / (2 * h)
    a = np.linalg.solve(jac.T, contrast)
    return float(np.sqrt(np.sum((psi(theta) @ a) ** 2)))


def test_ebal_se_is_the_m_estimation_sandwich(df, fit):
    d, y = df["d"].to_numpy(float), df["y"].to_numpy(float)
    bal = entropy_balance(fit.design, d)
    res = ebal_att(y, d, fit.design.to_numpy(), bal.odds.to_numpy())
    x = np.column_stack([np.ones(len(df)), df[COV].to_numpy()])
    beta = np.linalg.lstsq(x, np.log(bal.odds.to_numpy()), rcond=None)[0]
    w = np.exp(x @ beta) * (1 - d)
    m1, m0 = y[d == 1].mean(), np.sum(w * y) / w.sum()
    assert res.estimate == pytest.approx(m1 - m0, abs=IDENTITY_ATOL)

    def psi(theta):
        b, a1, a0 = theta[: x.shape[1]], theta[-2], theta[-1]
        wc = (1 - d) * np.exp(x @ b)
        return np.column_stack([x * (d - wc)[:, None], d * (y - a1), wc * (y - a0)])

    g = np.r_[np.zeros(x.shape[1]), 1.0, -1.0]
    se = _numerical_sandwich(psi, np.r_[beta, m1, m0], g)
    assert res.se == pytest.approx(se, rel=SANDWICH_RTOL)
    assert res.estimand == "ATT" and fx.se_label_key(res) == "sandwich_bal"


def test_overlap_se_is_the_m_estimation_sandwich(df, fit):
    d, y = df["d"].to_numpy(float), df["y"].to_numpy(float)
    res = overlap_ato(y, d, fit.design.to_numpy(), fit.pscore.to_numpy())
    x = fit.design.to_numpy()
    beta = fit.params.to_numpy()

    def psi(theta):
        b, a1, a0 = theta[: x.shape[1]], theta[-2], theta[-1]
        e = expit(x @ b)
        return np.column_stack([x * (d - e)[:, None], d * (1 - e) * (y - a1),
                                (1 - d) * e * (y - a0)])  # fmt: skip

    e = fit.pscore.to_numpy()
    m1 = np.sum(d * (1 - e) * y) / np.sum(d * (1 - e))
    m0 = np.sum((1 - d) * e * y) / np.sum((1 - d) * e)
    assert res.estimate == pytest.approx(m1 - m0, abs=IDENTITY_ATOL)
    g = np.r_[np.zeros(x.shape[1]), 1.0, -1.0]
    assert res.se == pytest.approx(_numerical_sandwich(psi, np.r_[beta, m1, m0], g),
                                   rel=SANDWICH_RTOL)  # fmt: skip
    assert res.estimand == "ATO" and fx.se_label_key(res) == "sandwich_ps"


def test_overlap_weights_balance_every_logit_term_exactly(df, fit):
    d = df["d"].to_numpy()
    w = overlap_weights(fit.pscore, d).to_numpy()
    x = df[COV].to_numpy()
    mt = (w[d == 1] @ x[d == 1]) / w[d == 1].sum()
    mc = (w[d == 0] @ x[d == 0]) / w[d == 0].sum()
    np.testing.assert_allclose(mt, mc, atol=1e-8)  # the logit's own convergence tolerance


def test_entropy_balancing_is_exact_when_the_untreated_outcome_is_linear(df):
    """Zhao and Percival (2017): weights that balance x make a linear mu0 drop out."""
    d = df["d"].to_numpy()
    y = 3.0 + df[COV].to_numpy() @ np.array([1.5, -0.7, 2.0])
    y = np.where(d == 1, y + 2.0 + df["x1"].to_numpy(), y)  # no noise among the controls
    frame = df.assign(y=y)
    kw = {"treatment": "d", "outcome": "y", "covariates": COV}
    ebal = estimate_att(frame, method="ebal", **kw)
    ra = estimate_att(frame, method="ra", **kw)
    assert ebal.estimate == pytest.approx(ra.estimate, abs=IDENTITY_ATOL)
    assert ebal.estimate == pytest.approx(np.mean(2.0 + df.loc[d == 1, "x1"]), abs=1e-8)


def test_overlap_with_a_constant_score_is_the_difference_in_means(df):
    d, y = df["d"].to_numpy(float), df["y"].to_numpy(float)
    e = np.full(len(d), d.mean())
    res = overlap_ato(y, d, np.ones((len(d), 1)), e)
    assert res.estimate == pytest.approx(y[d == 1].mean() - y[d == 0].mean(), abs=IDENTITY_ATOL)


def test_front_door_records_the_balancing_and_counts_every_person(df):
    frame = df.assign(person_id=[f"p{i}" for i in range(len(df))])
    res = estimate_att(frame, treatment="d", outcome="y", covariates=COV, method="ebal")
    assert res.spec["balancing"]["terms"] == COV
    assert res.spec["balancing"]["max_imbalance_sd"] < 1e-9
    assert res.n_treated == 40 and res.n_control == 160
    assert len(res.persons[0]) == 40 and len(res.persons[1]) == 160
    assert 1 < res.ess_control < 160


def test_infeasible_balance_is_refused_naming_the_term():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    d = np.r_[np.ones(20), np.zeros(40)].astype(int)
    x[d == 1, 1] = x[d == 0, 1].max() + 1 + rng.random(20)  # treated beyond every control
    design = pd.DataFrame({"const": 1.0, "a": x[:, 0], "beyond": x[:, 1]})
    with pytest.raises(DesignError, match=r"on beyond.*estimation\.estimators"):
        entropy_balance(design, d)
    with pytest.raises(DesignError, match="both mentored and comparison"):
        entropy_balance(design, np.zeros(60, dtype=int))


def test_same_data_same_weights(df, fit):
    a = entropy_balance(fit.design, df["d"].to_numpy())
    b = entropy_balance(fit.design.copy(), df["d"].to_numpy().copy())
    assert a.weights.equals(b.weights)


def test_a_study_without_balancing_weights_loses_ebal_not_the_run():
    """Feasible logit, infeasible entropy balancing (the treated mean beyond every control)."""
    x = np.r_[np.tile([0.0, 1.0], 30), [0.5, 2.0, 2.0, 0.6, 0.4, 0.9]]
    d = np.r_[np.zeros(60), np.ones(6)].astype(int)
    data = pd.DataFrame({fx.TREATMENT: d, "x": x, "y": x + d})
    spec = fx.EffectsSpec(covariates=("x",), exact=None, estimators=("naive", "ebal", "ipw"),
                          matching={}, headline_estimator="ipw", headline_outcome="y")  # fmt: skip
    failed: dict = {}
    got = fx.estimate_study(data, ["y"], spec, failed=failed)
    assert [r.estimator for r in got] == ["naive", "ipw"]
    assert list(failed) == [("y", "ebal")] and "estimation.estimators" in failed[("y", "ebal")]
    with pytest.raises(DesignError, match="entropy balancing"):
        fx.estimate_study(data, ["y"], spec)  # without 'failed': raised, as before
    headline_ebal = fx.EffectsSpec(covariates=("x",), exact=None, estimators=("naive", "ebal"),
                                   matching={}, headline_estimator="ebal", headline_outcome="y")  # fmt: skip
    with pytest.raises(DesignError, match="entropy balancing"):
        fx.estimate_study(data, ["y"], headline_ebal, failed={})  # the headline's: always
