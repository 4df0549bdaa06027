"""The Abadie-Imbens (2016) standard error of propensity-score matching.

Checked two ways (``tests/reference/teffects_psmatch.md`` has the numbers and sources):

1. against Stata 18's ``teffects psmatch (re78) (treat <x>), atet`` on the MatchIt LaLonde
   sample (``tests/reference/lalonde_matchit.csv``): Stata prints seven significant digits,
   so agreement is to the printed digit, about 5e-7 relative;
2. against a second implementation written from the paper's formulas with explicit loops
   (``tests/reference/ai2016_reference.py``), on the same LaLonde sample and on a sample
   shaped like the study's (exact cells, caliper, four neighbours, bias correction), to
   floating-point precision.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from evaluation.design.matching import match_nearest
from evaluation.design.propensity import fit_propensity
from evaluation.estimate.att import estimate_att
from evaluation.estimate.matching import matching_att

REF = Path(__file__).parents[1] / "reference"
_spec = importlib.util.spec_from_file_location("ai2016_reference", REF / "ai2016_reference.py")
_ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ref)

#: Stata prints seven significant digits: half a unit of the last is at most 5e-7 relative.
STATA_PRINT_RTOL = 1e-6
#: Two implementations of the same formulas: floating-point rounding only.
SECOND_IMPLEMENTATION_RTOL = 1e-10
#: Stata decides ties by exact equality of distances.
STATA_TIE_TOL = 0.0

DISCRETE = ["age", "educ", "black", "hispanic", "married", "nodegree"]
FULL = DISCRETE + ["re74", "re75"]
# Stata 18, teffects psmatch (re78) (treat <covariates>), atet  [logit, nneighbor(1),
# vce(robust, nn(2))]: ATET and its standard error as printed
STATA_ATET = {"discrete": (1209.718, 1261.376), "full": (1968.8, 1126.321)}
COVARIATES = {"discrete": DISCRETE, "full": FULL}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(REF / "lalonde_matchit.csv")


def _teffects_psmatch(
    df: pd.DataFrame, covariates: list[str], metric: str = "euclidean", tie_tol=STATA_TIE_TOL
):
    fit = fit_propensity(df, "treat", covariates)
    m = match_nearest(df, "treat", distance=fit.pscore, k=1, tie_tol=tie_tol)
    r = matching_att(
        m, df["re78"], bias_adjust=False, se="ai2016", propensity=fit, covariate_metric=metric
    )
    return fit, m, r


@pytest.mark.parametrize("spec", list(STATA_ATET))
def test_matches_stata_teffects_psmatch_atet(lalonde, spec):
    _, _, r = _teffects_psmatch(lalonde, COVARIATES[spec])
    est, se = STATA_ATET[spec]
    assert r.estimate == pytest.approx(est, rel=STATA_PRINT_RTOL)
    assert r.se == pytest.approx(se, rel=STATA_PRINT_RTOL)
    assert r.se_method.startswith("Abadie-Imbens (2016)")
    # the adjustment is a real change here (the unadjusted SE differs in the third digit)
    assert abs(r.spec["se_ai2016_base"] - r.se) > 1e-3 * r.se


def _reference(m, fit, y, tau, *, metric: str) -> dict[str, float]:
    tp, cp, w = m.pair_positions
    matches: dict[int, dict[int, float]] = {}
    for t, c, wt in zip(tp, cp, w, strict=True):
        matches.setdefault(int(t), {})[int(c)] = float(wt)
    ut = np.unique(tp)
    return _ref.ai2016_att_variance(
        y=np.asarray(y, float),
        w=m.treated.astype(int),
        design=fit.design.to_numpy(),
        p=fit.pscore.to_numpy(),
        score=m.coords[:, 0],
        cells=m.cells,
        matches=matches,
        tau={int(u): float(t) for u, t in zip(ut, tau, strict=True)},
        m=m.k,
        h=2,
        covariate_distance=metric,
        tie_tol=m.tie_tol,
    )


def _tau_unadjusted(m, y) -> np.ndarray:
    tp, cp, w = m.pair_positions
    y = np.asarray(y, float)
    return np.bincount(tp, weights=w * (y[tp] - y[cp]), minlength=len(y))[np.unique(tp)]


@pytest.mark.parametrize("spec", list(STATA_ATET))
@pytest.mark.parametrize("metric", ["euclidean", "mahalanobis"])
def test_second_implementation_lalonde(lalonde, spec, metric):
    # a tolerance, not exact equality: two formulas for one Mahalanobis distance differ in
    # the last bit, which would decide exact ties differently
    fit, m, r = _teffects_psmatch(lalonde, COVARIATES[spec], metric, tie_tol=1e-9)
    ref = _reference(m, fit, lalonde["re78"], _tau_unadjusted(m, lalonde["re78"]), metric=metric)
    assert r.se**2 == pytest.approx(ref["variance"], rel=SECOND_IMPLEMENTATION_RTOL)
    assert r.spec["ai2016_c_v_c"] == pytest.approx(ref["c_v_c"], rel=SECOND_IMPLEMENTATION_RTOL)
    assert r.spec["ai2016_d_v_d"] == pytest.approx(ref["d_v_d"], rel=SECOND_IMPLEMENTATION_RTOL)


def study_like_sample(seed: int = 7, n_t: int = 60, n_c: int = 900) -> pd.DataFrame:
    """Fifty-odd treated among many controls, start quarters, a binary outcome."""
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    edu = rng.choice(["a", "b", "c"], size=n)
    quarter = rng.integers(0, 6, size=n)
    lin = -2.8 + 0.8 * x1 - 0.5 * x2 + 0.6 * (edu == "c")
    d = np.zeros(n, int)
    d[np.argsort(-(lin + rng.logistic(size=n)))[:n_t]] = 1
    p0 = expit(-0.4 + 0.7 * x1 + 0.3 * x2 + 0.2 * quarter)
    y = (rng.random(n) < np.clip(p0 + 0.1 * d, 0, 1)).astype(float)
    return pd.DataFrame({"treated": d, "x1": x1, "x2": x2, "edu": edu, "quarter": quarter,
                         "y": y})  # fmt: skip


@pytest.mark.parametrize("seed", [7, 8])
def test_second_implementation_study_design(seed):
    """Exact cells, a caliper that leaves treated unmatched, k = 4, bias correction."""
    df = study_like_sample(seed)
    cov = ["x1", "x2", "edu"]
    r = estimate_att(
        df, treatment="treated", outcome="y", covariates=cov, method="matching",
        k=4, caliper=0.2, exact="quarter", bias_adjust=True, se="ai2016",
    )  # fmt: skip
    assert r.spec["n_unmatched_treated"] > 0  # the caliper bites
    assert r.se_method.startswith("Abadie-Imbens (2016)")
    fit = fit_propensity(df, "treated", cov)
    m = match_nearest(df, "treated", distance=fit.linear_predictor, k=4, caliper=0.2,
                      exact="quarter")  # fmt: skip
    x = fit.design.drop(columns="const").to_numpy()
    r2 = matching_att(m, df["y"], bias_covariates=x, bias_adjust=True, se="ai2016",
                      propensity=fit)  # fmt: skip
    assert r2.se == r.se and r2.estimate == r.estimate
    # bias-corrected per-unit effects, recomputed here from the pairs
    tp, cp, w = m.pair_positions
    ctrl = m.weights.to_numpy() > 0
    ctrl &= ~m.treated
    xw = (
        np.column_stack([np.ones(ctrl.sum()), x[ctrl]])
        * np.sqrt(m.weights.to_numpy()[ctrl])[:, None]
    )
    beta = np.linalg.lstsq(xw, df["y"].to_numpy()[ctrl] * np.sqrt(m.weights.to_numpy()[ctrl]),
                           rcond=None)[0]  # fmt: skip
    mu0 = x @ beta[1:]
    yv = df["y"].to_numpy()
    tau = np.bincount(tp, weights=w * (yv[tp] - yv[cp] - mu0[tp] + mu0[cp]), minlength=len(yv))
    tau = tau[np.unique(tp)]
    assert tau.mean() == pytest.approx(r.estimate, rel=1e-12)
    ref = _reference(m, fit, yv, tau, metric="mahalanobis")
    assert r.se**2 == pytest.approx(ref["variance"], rel=SECOND_IMPLEMENTATION_RTOL)
    assert r.spec["se_ai2016_base"] ** 2 == pytest.approx(
        ref["sigma2_t"], rel=SECOND_IMPLEMENTATION_RTOL
    )


def test_ai2016_refused_where_it_does_not_apply(lalonde):
    fit = fit_propensity(lalonde, "treat", FULL)
    m = match_nearest(lalonde, "treat", distance=fit.pscore)
    with pytest.raises(ValueError, match="estimated propensity score"):
        matching_att(m, lalonde["re78"], se="ai2016")  # no propensity fit
    with pytest.raises(ValueError, match="estimated propensity score"):
        matching_att(m, lalonde["re78"], se="ai2016", propensity=fit, variance="sample")
    with pytest.raises(ValueError, match="unknown matching se"):
        matching_att(m, lalonde["re78"], se="bootstrap")


def test_ai2006_is_unchanged_by_the_new_option(lalonde):
    fit, m, r16 = _teffects_psmatch(lalonde, FULL)
    r06 = matching_att(m, lalonde["re78"], bias_adjust=False)
    assert r06.se == r16.spec["se_ai2006"]
    assert r06.se_method.startswith("Abadie-Imbens (2006)")
    assert r06.estimate == r16.estimate


def test_negative_adjusted_variance_falls_back_to_ai2006_and_says_so(lalonde, monkeypatch):
    import dataclasses

    import evaluation.estimate.matching as mod

    real = mod.score_adjusted_variance

    def negative(*args, **kwargs):
        adj = real(*args, **kwargs)
        return dataclasses.replace(adj, variance=-1.0, se=float("nan"))

    monkeypatch.setattr(mod, "score_adjusted_variance", negative)
    fit, m, r = _teffects_psmatch(lalonde, FULL)
    assert r.se == r.spec["se_ai2006"] and np.isfinite(r.se)
    assert r.se_method.startswith("Abadie-Imbens (2006)")
    assert "negative variance" in r.se_method
