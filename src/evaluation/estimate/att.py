"""Estimators of the average effect on the treated (ATT) on a cross-section.

Numbers happen in array functions (``naive_att``, ``regression_att``, ``ra_att``,
``ipw_att``, ``aipw_att``) that return an :class:`EffectResult`; :func:`estimate_att` and
:func:`estimate_all` are the frame-level front door. Matching's matched sets come from
:mod:`evaluation.design.matching` and its estimate from :mod:`evaluation.estimate.matching`;
both are reached through the front door as ``method="matching"``.

Standard errors of RA, IPW and AIPW come from one stacked M-estimation sandwich
(Stefanski and Boos 2002) whose estimating equations include the logit score of the
propensity model and the least-squares normal equations of the outcome model, so the
estimation of both nuisance models is accounted for. No small-sample degrees-of-freedom
correction is applied (as Stata ``teffects``).

Arguments shared by the array functions: ``y`` outcome and ``d`` 0/1 treatment (1-D
arrays); ``x`` outcome-model covariates (2-D, no constant needed: constant columns are
dropped and one intercept is added); ``ps_design`` and ``pscore`` the logit design and its
fitted probabilities in the same sample (``PropensityFit.design`` and ``.pscore``);
``outcome`` a label and ``level`` the confidence level. Each returns an
:class:`~evaluation.estimate.results.EffectResult` (estimand ``"ATT"``).

References
----------
Abadie, A. (2005). Semiparametric difference-in-differences estimators. *Review of
Economic Studies* 72(1), 1-19 (normalised odds weights for the ATT).
Hirano, K., Imbens, G. W. and Ridder, G. (2003). Efficient estimation of average treatment
effects using the estimated propensity score. *Econometrica* 71(4), 1161-1189.
Imbens, G. W. and Wooldridge, J. M. (2009). Recent developments in the econometrics of
program evaluation. *Journal of Economic Literature* 47(1), 5-86.
Long, J. S. and Ervin, L. H. (2000). Using heteroscedasticity consistent standard errors in
the linear regression model. *The American Statistician* 54(3), 217-224 (HC3).
Moodie, E. E. M., Saarela, O. and Stephens, D. A. (2018). A doubly robust weighting
estimator of the average treatment effect on the treated. *Stat* 7(1), e205.
Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
estimators. *Journal of Econometrics* 219(1), 101-122.
Stefanski, L. A. and Boos, D. D. (2002). The calculus of M-estimation. *The American
Statistician* 56(1), 29-38.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm

from evaluation.design.matching import match_nearest
from evaluation.design.propensity import (
    DesignError,
    PropensityFit,
    design_matrix,
    fit_propensity,
    treatment_indicator,
)
from evaluation.estimate.matching import matching_att
from evaluation.estimate.results import EffectResult

METHODS = ("naive", "regression", "ra", "ipw", "aipw", "matching")

_MATCH_OPTIONS = {
    "k", "replace", "caliper", "exact", "ties", "metric", "order", "distance", "tie_tol",
    "var_matches", "variance", "bias_adjust", "bias_sample", "se", "covariate_metric",
}  # fmt: skip
_OPTIONS = {
    "naive": {"se"},
    "regression": set(),
    "ra": set(),
    "ipw": set(),
    "aipw": set(),
    "matching": _MATCH_OPTIONS,
}


def _with_constant(x: np.ndarray | None) -> np.ndarray | None:
    """Drop constant columns, standardise the rest, prepend a constant (conditioning only)."""
    if x is None:
        return None
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    x = x[:, np.ptp(x, axis=0) > 0]
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return np.column_stack([np.ones(len(x)), x])


def _att_mestimation(
    y: np.ndarray, d: np.ndarray, *, x_ps=None, pscore=None, z_or=None
) -> tuple[float, float, float]:
    """Stacked M-estimation of ``m1 - m0`` (see :func:`aipw_att`); returns (att, se, ess_c).

    Parameters ``theta = (beta, gamma, m1, m0)``; estimating functions
    ``X(d - e)``, ``(1-d) Z r``, ``d (r - m1)``, ``(1-d) w (r - m0)`` with
    ``r = y - Z gamma`` (``r = y`` without an outcome model) and ``w = e / (1 - e)``
    (``w = 1`` without a propensity model). The variance is ``a' (sum psi psi') a`` with
    ``a = J^{-T} g``, ``J`` the summed Jacobian and ``g`` the gradient of ``m1 - m0``.
    """
    y, d = np.asarray(y, float), np.asarray(d, float)
    n, c = len(y), 1.0 - d
    x, z = _with_constant(x_ps), _with_constant(z_or)
    p = 0 if x is None else x.shape[1]
    q = 0 if z is None else z.shape[1]
    if z is not None:
        zc = z[c == 1]
        gamma = np.linalg.lstsq(zc, y[c == 1], rcond=None)[0]
        r = y - z @ gamma
    else:
        r = y
    if x is not None:
        e = np.asarray(pscore, float)
        w = e / (1.0 - e)
    else:
        w = np.ones(n)
    wc = c * w
    m1 = r[d == 1].mean()
    m0 = np.sum(wc * r) / wc.sum()
    k = p + q + 2
    psi = np.zeros((n, k))
    jac = np.zeros((k, k))
    if x is not None:
        psi[:, :p] = x * (d - e)[:, None]
        jac[:p, :p] = -(x * (e * (1 - e))[:, None]).T @ x
        jac[k - 1, :p] = (wc * (r - m0)) @ x
    if z is not None:
        psi[:, p : p + q] = z * (c * r)[:, None]
        jac[p : p + q, p : p + q] = -(z * c[:, None]).T @ z
        jac[k - 2, p : p + q] = -d @ z
        jac[k - 1, p : p + q] = -wc @ z
    psi[:, k - 2] = d * (r - m1)
    psi[:, k - 1] = wc * (r - m0)
    jac[k - 2, k - 2] = -d.sum()
    jac[k - 1, k - 1] = -wc.sum()
    g = np.zeros(k)
    g[k - 2], g[k - 1] = 1.0, -1.0
    a = np.linalg.solve(jac.T, g)
    se = float(np.sqrt(np.sum((psi @ a) ** 2)))
    wcc = w[c == 1]
    return float(m1 - m0), se, float(wcc.sum() ** 2 / (wcc**2).sum())


def _result(
    estimator: str, est: float, se: float, d: np.ndarray, se_method: str, **kw
) -> EffectResult:
    return EffectResult.from_normal(
        estimate=est,
        se=se,
        estimator=estimator,
        estimand="ATT",
        n_treated=int((d == 1).sum()),
        n_control=int((d == 0).sum()),
        se_method=se_method,
        **kw,
    )


def naive_att(
    y: np.ndarray,
    d: np.ndarray,
    *,
    se: Literal["welch", "pooled"] = "welch",
    outcome: str = "y",
    level: float = 0.95,
) -> EffectResult:
    """Difference in means, treated minus controls.

    ``se="welch"``: ``sqrt(s1^2/n1 + s0^2/n0)`` with a Welch-Satterthwaite t interval
    (Welch 1947). ``se="pooled"``: the classical equal-variance SE
    ``s_p sqrt(1/n1 + 1/n0)`` with ``n - 2`` degrees of freedom, i.e. the OLS SE of the
    coefficient on ``d`` in ``y ~ d`` (the SE printed in Dehejia and Wahba 1999, Table 3).
    """
    y, d = np.asarray(y, float), np.asarray(d, float)
    y1, y0 = y[d == 1], y[d == 0]
    n1, n0 = len(y1), len(y0)
    v1, v0 = y1.var(ddof=1), y0.var(ddof=1)
    if se == "welch":
        s = np.sqrt(v1 / n1 + v0 / n0)
        df = (v1 / n1 + v0 / n0) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
        method = "Welch (unequal variances)"
    elif se == "pooled":
        sp2 = ((n1 - 1) * v1 + (n0 - 1) * v0) / (n1 + n0 - 2)
        s, df, method = np.sqrt(sp2 * (1 / n1 + 1 / n0)), n1 + n0 - 2, "pooled (equal variances)"
    else:
        raise ValueError(f"unknown se {se!r}")
    return _result(
        "naive",
        y1.mean() - y0.mean(),
        float(s),
        d,
        method,
        df=float(df),
        outcome=outcome,
        level=level,
    )


def regression_att(
    y: np.ndarray, d: np.ndarray, x: np.ndarray, *, outcome: str = "y", level: float = 0.95
) -> EffectResult:
    """Coefficient on ``d`` in the OLS regression ``y ~ 1 + d + X`` with HC3 standard errors.

    Equals the ATT only if the effect is constant or the model is correct with a common
    slope; otherwise it is a variance-weighted average of covariate-specific effects
    (Angrist 1998), which is why :func:`ra_att` is also offered. HC3: Long and Ervin (2000);
    normal-based interval and p-value, as statsmodels' robust covariances.
    """
    xm = np.column_stack(
        [np.ones(len(y)), np.asarray(d, float), np.asarray(x, float).reshape(len(y), -1)]
    )
    fit = sm.OLS(np.asarray(y, float), xm).fit(cov_type="HC3")
    return _result(
        "regression", float(fit.params[1]), float(fit.bse[1]), np.asarray(d), "HC3",
        outcome=outcome, level=level,
    )  # fmt: skip


def ra_att(
    y: np.ndarray, d: np.ndarray, x: np.ndarray, *, outcome: str = "y", level: float = 0.95
) -> EffectResult:
    """Regression adjustment: ``ATT = mean over treated of (y - mu0(x))``.

    ``mu0`` is the OLS fit of y on ``[1, x]`` in the controls (as Stata ``teffects ra,
    atet``, whose treated-group regression averages back to the treated mean). The SE is the
    stacked M-estimation sandwich (influence function) that includes the estimation of
    ``mu0`` (Imbens and Wooldridge 2009, Section 5.3).
    """
    est, se, _ = _att_mestimation(y, d, z_or=x)
    return _result(
        "ra", est, se, np.asarray(d), "M-estimation sandwich", outcome=outcome, level=level
    )


def ipw_att(
    y: np.ndarray,
    d: np.ndarray,
    ps_design: np.ndarray,
    pscore: np.ndarray,
    *,
    outcome: str = "y",
    level: float = 0.95,
) -> EffectResult:
    """Inverse probability weighting for the ATT with normalised (Hajek) odds weights.

    ``ATT = mean_treated(y) - sum_c w_c y_c / sum_c w_c`` with ``w_c = e(x_c) / (1 -
    e(x_c))`` (Hirano, Imbens and Ridder 2003; Abadie 2005). The SE is the stacked
    sandwich of the logit score ``X(d - e)`` and the two weighted means, so the estimation
    of the propensity score is accounted for. ``pscore`` must be the logit MLE fitted on
    ``ps_design`` in this sample (``PropensityFit.pscore`` and ``.design``).
    ``ess_control`` is Kish's effective sample size of the control weights.
    """
    est, se, ess = _att_mestimation(y, d, x_ps=ps_design, pscore=pscore)
    return _result(
        "ipw", est, se, np.asarray(d), "M-estimation sandwich (estimated propensity score)",
        ess_control=ess, outcome=outcome, level=level,
    )  # fmt: skip


def aipw_att(
    y: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    ps_design: np.ndarray,
    pscore: np.ndarray,
    *,
    outcome: str = "y",
    level: float = 0.95,
) -> EffectResult:
    """Doubly robust (augmented IPW) ATT.

    ``ATT = mean_treated(y - mu0(x)) - sum_c w_c (y_c - mu0(x_c)) / sum_c w_c`` with
    ``mu0`` the OLS fit in the controls and ``w_c = e / (1 - e)`` normalised: the
    cross-section form of Sant'Anna and Zhao (2020, eq. 3.1 with the outcome in levels) and
    Moodie, Saarela and Stephens (2018). Consistent if either the outcome model or the
    propensity model is correct. Algebra: with a constant propensity score it equals
    :func:`ra_att`; with an intercept-only outcome model it equals :func:`ipw_att`. SE from
    the stacked sandwich (logit score, outcome normal equations, two weighted means).
    """
    est, se, ess = _att_mestimation(y, d, x_ps=ps_design, pscore=pscore, z_or=x)
    return _result(
        "aipw", est, se, np.asarray(d), "M-estimation sandwich (both models estimated)",
        ess_control=ess, outcome=outcome, level=level,
    )  # fmt: skip


def _covariate_matrix(
    sample: pd.DataFrame, covariates, categorical, ps: PropensityFit | None
) -> np.ndarray:
    """The outcome model's covariate matrix: the given propensity fit's own, if it is one.

    A propensity fit on the same rows with the same covariates built exactly this matrix
    (:func:`design_matrix` is deterministic), so it is reused instead of built again (on a
    register-sized pool each build costs a tenth of a second, four times per outcome).
    """
    if (
        ps is not None
        and ps.covariates == tuple(covariates)
        and ps.categorical == tuple(categorical or ())
        and ps.design.index.equals(sample.index)
    ):
        return ps.design.drop(columns="const").to_numpy()
    return design_matrix(sample, covariates, categorical=categorical).frame.to_numpy()


def _propensity_for(
    sample: pd.DataFrame, ps: PropensityFit | None, treatment: str, covariates, categorical
) -> tuple[PropensityFit, str]:
    if ps is None:
        return fit_propensity(sample, treatment, covariates, categorical=categorical), "fitted"
    if ps.treatment != treatment:
        raise DesignError(f"ps was fitted for treatment {ps.treatment!r}, not {treatment!r}")
    if ps.pscore.index.equals(sample.index):
        return ps, "given"
    if sample.index.isin(ps.pscore.index).all():
        refit = fit_propensity(sample, treatment, ps.covariates, categorical=ps.categorical)
        return refit, "refitted on the rows with an observed outcome"
    raise DesignError("ps does not cover the rows of the data; fit it on the same sample")


def estimate_att(
    df: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    method: str,
    ps: PropensityFit | None = None,
    categorical: Sequence[str] | None = None,
    level: float = 0.95,
    subgroup: str = "all",
    **options: Any,
) -> EffectResult:
    """Estimate the ATT of ``treatment`` on ``outcome`` with one method.

    Rows with a missing outcome are dropped (their number is in ``spec``); covariates must
    be complete. Methods: ``"naive"`` (difference in means, Welch; option ``se``),
    ``"regression"`` (OLS with HC3), ``"ra"``, ``"ipw"``, ``"aipw"`` (see the array
    functions of this module) and ``"matching"`` (nearest neighbours on the logit of the
    propensity score by default, Abadie-Imbens SE; options of
    :func:`~evaluation.design.matching.match_nearest` and
    :func:`~evaluation.estimate.matching.matching_att`, plus ``distance`` = ``"logit"``,
    ``"pscore"`` or ``"covariates"``). Trimming is a design decision made before this call
    (:func:`~evaluation.design.propensity.trim_common_support`).

    Parameters
    ----------
    df
        Analysis data; not modified.
    treatment, outcome
        Column names.
    covariates
        Covariates of the propensity and outcome models.
    method
        One of :data:`METHODS`.
    ps
        A propensity fit to reuse; refitted on the same covariates if the outcome drops rows.
    categorical
        Numeric columns to treat as categories.
    level
        Confidence level.
    subgroup
        Label stored in the result.
    **options
        Method options; unknown options raise ``TypeError``.

    Returns
    -------
    EffectResult
        With the full specification in ``spec``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    unknown = set(options) - _OPTIONS[method]
    if unknown:
        raise TypeError(f"unknown options for {method!r}: {sorted(unknown)}")
    if outcome not in df.columns:
        raise DesignError(f"outcome {outcome!r} not in the data")
    sample = df.loc[df[outcome].notna()]
    d = treatment_indicator(sample, treatment)
    y = sample[outcome].to_numpy(dtype=float)
    kw = {"outcome": outcome, "level": level}
    spec: dict[str, Any] = {
        "method": method,
        "treatment": treatment,
        "covariates": list(covariates),
        "categorical": list(categorical or ()),
        "n_missing_outcome_dropped": int(len(df) - len(sample)),
        "options": {k: options[k] for k in sorted(options)},
    }
    x = None
    if method in ("regression", "ra", "aipw") or (
        method == "matching" and options.get("bias_adjust")
    ):
        x = _covariate_matrix(sample, covariates, categorical, ps)
    if method == "naive":
        res = naive_att(y, d, se=options.get("se", "welch"), **kw)
    elif method == "regression":
        res = regression_att(y, d, x, **kw)
    elif method == "ra":
        res = ra_att(y, d, x, **kw)
    else:
        fit, how = _propensity_for(sample, ps, treatment, covariates, categorical)
        spec["propensity"] = {"source": how, **fit.summary_dict()}
        if method == "ipw":
            res = ipw_att(y, d, fit.design.to_numpy(), fit.pscore.to_numpy(), **kw)
        elif method == "aipw":
            res = aipw_att(y, d, x, fit.design.to_numpy(), fit.pscore.to_numpy(), **kw)
        else:
            res = _matching(sample, treatment, y, covariates, fit, x, options, kw)
    return dataclasses.replace(res, spec={**spec, **res.spec}, subgroup=subgroup)


def _matching(sample, treatment, y, covariates, fit, x, options, kw) -> EffectResult:
    opts = dict(options)
    dist = opts.pop("distance", "logit")
    distance = {"logit": fit.linear_predictor, "pscore": fit.pscore}.get(dist, list(covariates))
    if dist not in ("logit", "pscore", "covariates"):
        raise ValueError(f"unknown matching distance {dist!r}")
    mkeys = ("k", "replace", "caliper", "exact", "ties", "metric", "order", "tie_tol")
    m = match_nearest(
        sample, treatment, distance=distance, **{k: opts.pop(k) for k in mkeys if k in opts}
    )
    score = {"propensity": fit} if dist in ("logit", "pscore") else {}
    return matching_att(m, y, bias_covariates=x, **score, **opts, **kw)


def estimate_all(
    df: pd.DataFrame,
    treatment: str,
    outcomes: Sequence[str],
    covariates: Sequence[str],
    methods: Sequence[str] = METHODS,
    *,
    ps: PropensityFit | None = None,
    categorical: Sequence[str] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    level: float = 0.95,
    subgroup: str = "all",
) -> list[EffectResult]:
    """Run :func:`estimate_att` for every outcome and method (outcomes outer, methods inner).

    The propensity score is fitted once per analysis sample (the rows with the outcome
    observed) and shared by the propensity-based methods. ``options`` maps a method name to
    its options.

    Returns
    -------
    list of EffectResult
    """
    options = options or {}
    cache: dict[bytes, PropensityFit] = {}
    out = []
    for outcome in outcomes:
        rows = df[outcome].notna()
        key = rows.to_numpy().tobytes()
        fit = ps
        if any(m in ("ipw", "aipw", "matching") for m in methods):
            if key not in cache:
                cache[key], _ = _propensity_for(
                    df.loc[rows], ps, treatment, covariates, categorical
                )
            fit = cache[key]
        for method in methods:
            out.append(
                estimate_att(
                    df,
                    treatment=treatment,
                    outcome=outcome,
                    covariates=covariates,
                    method=method,
                    ps=fit,
                    categorical=categorical,
                    level=level,
                    subgroup=subgroup,
                    **options.get(method, {}),
                )  # fmt: skip
            )
    return out
