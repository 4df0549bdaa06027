import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation.design.propensity import (
    DesignError,
    PerfectSeparationError,
    design_matrix,
    fit_propensity,
    trim_common_support,
)

COEF_TOL = 1e-6  # our standardised Newton fit vs statsmodels on the raw design
PS_TOL = 1e-9
NULL_TOL = 1e-8  # statsmodels' numerically refitted null model vs the closed form


def sample(seed: int = 3, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    edu = rng.choice(["primary_or_less", "secondary", "post_secondary"], size=n)
    x = rng.normal(size=n)
    earn = rng.gamma(2.0, 50_000.0, size=n)
    lin = -1.0 + 0.8 * x - 0.000004 * earn + 0.5 * (edu == "secondary")
    d = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    return pd.DataFrame(
        {"d": d, "x": x, "earn": earn, "earn2": earn**2, "edu": edu, "q": rng.integers(1, 4, n)},
        index=pd.Index(np.arange(1000, 1000 + n), name="person"),
    )


def test_fit_matches_statsmodels_on_the_raw_design():
    df = sample()
    before = df.copy()
    fit = fit_propensity(df, "d", ["x", "earn", "earn2", "edu"], categorical=["q"])
    assert df.equals(before)
    # reference level = first level in sorted order
    assert fit.reference_levels == {"edu": "post_secondary"}
    assert list(fit.design.columns) == [
        "const",
        "x",
        "earn",
        "earn2",
        "edu=primary_or_less",
        "edu=secondary",
    ]
    ref = sm.Logit(df["d"].to_numpy(float), fit.design.to_numpy()).fit(disp=False, maxiter=200)
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params, rtol=COEF_TOL, atol=1e-14)
    np.testing.assert_allclose(fit.pscore.to_numpy(), ref.predict(), atol=PS_TOL)
    np.testing.assert_allclose(fit.bse.to_numpy(), ref.bse, rtol=1e-5)
    assert fit.llf == pytest.approx(ref.llf, rel=1e-12)
    # the null log-likelihood is the intercept-only MLE in closed form; statsmodels refits
    # the null model numerically, so it agrees to its optimiser's tolerance only
    d = df["d"].to_numpy(float)
    p_bar = d.mean()
    closed = len(d) * (p_bar * np.log(p_bar) + (1 - p_bar) * np.log(1 - p_bar))
    assert fit.llnull == pytest.approx(closed, rel=1e-12)
    assert fit.llnull == pytest.approx(ref.llnull, rel=NULL_TOL)
    assert fit.pseudo_r2 == pytest.approx(ref.prsquared, rel=NULL_TOL)
    assert fit.pscore.index.equals(df.index)
    np.testing.assert_allclose(1 / (1 + np.exp(-fit.linear_predictor)), fit.pscore, atol=1e-15)
    assert fit.summary_dict()["n_params"] == 6


def test_categorical_numeric_and_dropped_terms():
    df = sample().assign(const5=5.0, x_copy=lambda f: 2 * f["x"] + 1)
    dm = design_matrix(df, ["x", "q", "const5", "x_copy"], categorical=["q"])
    assert dm.reference_levels == {"q": "1"}
    assert list(dm.frame.columns) == ["x", "q=2", "q=3"]
    assert ("const5", "zero variance") in dm.dropped and ("x_copy", "collinear") in dm.dropped
    assert set(dm.binary) == {"q=2", "q=3"}


def test_missing_covariate_raises_a_clear_error():
    df = sample()
    df.loc[df.index[3], "x"] = np.nan
    with pytest.raises(DesignError, match="missing values"):
        fit_propensity(df, "d", ["x"])


def test_separation_is_reported_with_the_culprit():
    df = sample()
    df["region"] = np.where(df["d"] == 1, "north", np.where(df.index % 2 == 0, "south", "north"))
    with pytest.raises(PerfectSeparationError, match="region=south occurs only among controls"):
        fit_propensity(df, "d", ["x", "region"])
    df2 = sample()
    df2["z"] = df2["d"] * 3.0 + df2["x"] * 0.01  # separates completely
    with pytest.raises(PerfectSeparationError):
        fit_propensity(df2, "d", ["z"])


def test_trimming_rules():
    ps = pd.Series([0.05, 0.2, 0.5, 0.95, 0.01, 0.3, 0.6, 0.92], index=list("abcdefgh"))
    d = pd.Series([1, 1, 1, 1, 0, 0, 0, 0], index=ps.index)
    mm = trim_common_support(ps, d)
    # controls below min treated (0.05): f... e=0.01 dropped; treated above max control 0.92: d
    assert mm.keep[~mm.keep].index.tolist() == ["d", "e"]
    assert (mm.n_trimmed_treated, mm.n_trimmed_control) == (1, 1)
    assert (mm.low, mm.high) == (0.05, 0.92)
    cr = trim_common_support(ps, d, rule="crump")
    assert cr.keep[~cr.keep].index.tolist() == ["a", "d", "e", "h"]
    assert (cr.n_trimmed_treated, cr.n_trimmed_control) == (2, 2)
    assert trim_common_support(ps, d, rule="none").keep.all()


def test_a_singular_information_matrix_is_a_design_error(monkeypatch):
    """statsmodels raises LinAlgError when the Hessian is singular (seen in a subgroup of the
    subgroup Monte Carlo); the caller must get the design's own error, which a subgroup
    withholds and a run reports, not a linear-algebra traceback."""
    import evaluation.design.propensity as prop

    def singular(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(prop.Logit, "fit", singular)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"d": (rng.random(100) < 0.3).astype(int), "x": rng.normal(size=100)})
    with pytest.raises(prop.PerfectSeparationError, match="singular information matrix"):
        prop.fit_propensity(df, "d", ["x"])
