"""Estimators of the average effect on the treated (ATT) on a cross-section.

Numbers happen in array functions (``naive_att``, ``regression_att``, ``ra_att``,
``ipw_att``, ``aipw_att``, ``ebal_att``, ``overlap_ato``) that return an :class:`EffectResult`; :func:`estimate_att` and
:func:`estimate_all` are the frame-level front door. Matching's matched sets come from
:mod:`evaluation.design.matching` and its estimate from :mod:`evaluation.estimate.matching`;
both are reached through the front door as ``method="matching"``.

Standard errors of RA, IPW and AIPW come from one stacked M-estimation sandwich
(Stefanski and Boos 2002) whose estimating equations include the logit score of the
propensity model and the least-squares normal equations of the outcome model, so the
estimation of both nuisance models is accounted for. No small-sample degrees-of-freedom
correction is applied (as Stata ``teffects``). Beside the sandwich, IPW and AIPW get a
weighted bootstrap that refits the propensity (and outcome) model in every draw
(:func:`weighted_bootstrap_att`, :func:`weighted_bootstrap_family`); the sandwich is a
first-order approximation, and where a few comparison persons carry most of the odds weight
the two can differ (:func:`with_bootstrap_se` states which is shown and why).

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
Rubin, D. B. (1981). The Bayesian bootstrap. *Annals of Statistics* 9(1), 130-134.
Praestgaard, J. and Wellner, J. A. (1993). Exchangeably weighted bootstraps of the general
empirical process. *Annals of Probability* 21(4), 2053-2086.
Hanley, J. A. and MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
Poisson frequencies. *Computer Methods and Programs in Biomedicine* 83(1), 57-62.
Andrews, D. W. K. (2002). Higher-order improvements of a computationally attractive k-step
bootstrap for extremum estimators. *Econometrica* 70(1), 119-162.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit
from statsmodels.regression.linear_model import OLS  # not statsmodels.api: 0.4 s less per import

from evaluation.design.matching import match_nearest
from evaluation.design.propensity import (
    DesignError,
    PropensityFit,
    design_matrix,
    fit_propensity,
    treatment_indicator,
)
from evaluation.design.weighting import entropy_balance
from evaluation.estimate.matching import matching_att
from evaluation.estimate.results import EffectResult

METHODS = ("naive", "regression", "ra", "ipw", "aipw", "matching", "ebal", "overlap")

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
    "ebal": set(),
    "overlap": set(),
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
    y: np.ndarray, d: np.ndarray, *, x_ps=None, pscore=None, z_or=None, odds=None
) -> tuple[float, float, float]:
    """Stacked M-estimation of ``m1 - m0`` (see :func:`aipw_att`); returns (att, se, ess_c).

    Parameters ``theta = (beta, gamma, m1, m0)``; estimating functions
    ``X(d - e)``, ``(1-d) Z r``, ``d (r - m1)``, ``(1-d) w (r - m0)`` with
    ``r = y - Z gamma`` (``r = y`` without an outcome model) and ``w = e / (1 - e)``
    (``w = 1`` without a propensity model). The variance is ``a' (sum psi psi') a`` with
    ``a = J^{-T} g``, ``J`` the summed Jacobian and ``g`` the gradient of ``m1 - m0``.

    With ``odds`` (``exp(X beta)`` of a balancing logit) instead of ``pscore``, beta's
    estimating function is the ATT balance condition ``X (d - (1-d) w)`` with ``w = odds``
    (just-identified CBPS for the ATT, which gives the entropy-balancing weights), and its
    Jacobian is ``-X' diag((1-d) w) X``.
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
    if x is not None and odds is not None:
        w = np.asarray(odds, float)
    elif x is not None:
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
        if odds is not None:  # balance conditions (d/dbeta of w = exp(X beta) is w X)
            psi[:, :p] = x * (d - wc)[:, None]
            jac[:p, :p] = -(x * wc[:, None]).T @ x
        else:  # logit score
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
    fit = OLS(np.asarray(y, float), xm).fit(cov_type="HC3")
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


def ebal_att(
    y: np.ndarray,
    d: np.ndarray,
    ps_design: np.ndarray,
    odds: np.ndarray,
    *,
    outcome: str = "y",
    level: float = 0.95,
) -> EffectResult:
    """Entropy balancing (Hainmueller 2012): the ATT with weights that balance means exactly.

    ``ATT = mean_treated(y) - sum_c w_c y_c / sum_c w_c`` with ``w_c = odds_c`` from
    :func:`~evaluation.design.weighting.entropy_balance` on the terms ``ps_design``. The SE
    is the stacked sandwich whose first block is the ATT balance condition of the implied
    logit (just-identified CBPS, Imai and Ratkovic 2014), so the estimation of the weights is
    accounted for. The estimate is doubly robust in Zhao and Percival's (2017) sense: exact
    if the untreated outcome is linear in the balanced terms, or if the odds are log-linear.
    """
    est, se, ess = _att_mestimation(y, d, x_ps=ps_design, odds=odds)
    return _result(
        "ebal", est, se, np.asarray(d), "M-estimation sandwich (estimated balancing weights)",
        ess_control=ess, outcome=outcome, level=level,
    )  # fmt: skip


def overlap_ato(
    y: np.ndarray,
    d: np.ndarray,
    ps_design: np.ndarray,
    pscore: np.ndarray,
    *,
    outcome: str = "y",
    level: float = 0.95,
) -> EffectResult:
    """Overlap weights (Li, Morgan and Zaslavsky 2018): the effect in the overlap population.

    ``ATO = sum_t (1-e) y / sum_t (1-e) - sum_c e y / sum_c e``. The SE is the stacked
    sandwich of the logit score ``X(d - e)`` and the two weighted means, so the estimation of
    the propensity score is accounted for (Li et al. 2018, Section 3.3). ``pscore`` must be
    the logit MLE fitted on ``ps_design`` in this sample; the weighted means of every term of
    that model are then equal in the two groups. ``ess_control`` is Kish's effective sample
    size of the control weights; the estimand is ``"ATO"``.
    """
    y, d = np.asarray(y, float), np.asarray(d, float)
    x = _with_constant(ps_design)
    e = np.asarray(pscore, float)
    c = 1.0 - d
    w1, w0 = d * (1.0 - e), c * e
    m1, m0 = np.sum(w1 * y) / w1.sum(), np.sum(w0 * y) / w0.sum()
    p = x.shape[1]
    k = p + 2
    psi = np.column_stack([x * (d - e)[:, None], w1 * (y - m1), w0 * (y - m0)])
    jac = np.zeros((k, k))
    v = e * (1.0 - e)
    jac[:p, :p] = -(x * v[:, None]).T @ x
    jac[p, :p] = -(d * v * (y - m1)) @ x  # d(1-e)/dbeta = -e(1-e) x
    jac[p + 1, :p] = (c * v * (y - m0)) @ x  # d e/dbeta = e(1-e) x
    jac[p, p], jac[p + 1, p + 1] = -w1.sum(), -w0.sum()
    g = np.zeros(k)
    g[p], g[p + 1] = 1.0, -1.0
    a = np.linalg.solve(jac.T, g)
    se = float(np.sqrt(np.sum((psi @ a) ** 2)))
    wcc = e[d == 0]
    res = EffectResult.from_normal(
        estimate=float(m1 - m0), se=se, estimator="overlap", estimand="ATO",
        n_treated=int(d.sum()), n_control=int(c.sum()),
        se_method="M-estimation sandwich (estimated propensity score)",
        ess_control=float(wcc.sum() ** 2 / (wcc**2).sum()), outcome=outcome, level=level,
    )  # fmt: skip
    return res


#: Largest number of floats in one block of the vectorised bootstrap (draws x persons x
#: terms); about 160 MB. Blocks of draws are sized to stay below it on any pool size.
_BLOCK_FLOATS = 20_000_000

#: Newton iterations of a bootstrap draw's propensity refit (warm start from the full-sample
#: fit: three to five suffice on the default study; a draw not converged by then is dropped
#: and counted).
_NEWTON_MAX_ITER = 30
#: Draws generated per seed block: fixed, so the weights do not depend on block sizes.
_GEN_DRAWS = 16
_NEWTON_TOL = 1e-8

#: How a bootstrap SE is described in ``se_method`` (and keyed in ``spec["se_key"]``).
BOOTSTRAP_SE_METHOD = (
    "weighted bootstrap ({draws} draws, {scheme} weights per person, propensity model "
    "refitted in every draw; SE = IQR / 1.349)"
)


@dataclasses.dataclass(frozen=True)
class BootstrapWeights:
    """Weights per person and draw for a weighted bootstrap.

    ``scheme="exponential"``: draw ``b`` gives person ``i`` the weight ``W_bi ~ Exp(1)``
    (Rubin 1981: normalised, these
    are Dirichlet(1, ..., 1) weights; Praestgaard and Wellner 1993 show that such
    exchangeably weighted bootstraps are first-order valid where the plain bootstrap is).
    Every weight is positive, so no draw loses a covariate category or a treated person and
    every propensity refit has the same support as the full-sample fit (a plain bootstrap
    draw can lose the only mentored person of a category and separate the logit).
    ``scheme="poisson"``: ``W_bi ~ Poisson(1)`` counts, the ordinary nonparametric bootstrap
    of persons (Hanley and MacGibbon 2006); a draw whose refit has no finite maximum is
    dropped and counted.

    The weights are regenerated block by block from ``entropy`` (never held whole: at a
    register-sized pool draws x persons floats would not fit), so the same person gets the
    same weight in draw ``b`` whichever outcome or estimator asks: draws of different
    outcomes are joint, as a Romano-Wolf adjustment needs.

    Attributes
    ----------
    n
        Persons (positions ``0 .. n - 1`` of the frame the weights belong to).
    draws
        Number of draws.
    entropy
        Seed of the blocks (drawn from the caller's generator by :meth:`draw`).
    """

    n: int
    draws: int
    entropy: int
    scheme: Literal["exponential", "poisson"] = "exponential"

    @classmethod
    def draw(
        cls,
        n: int,
        draws: int,
        rng: np.random.Generator,
        scheme: Literal["exponential", "poisson"] = "exponential",
    ) -> BootstrapWeights:
        """Weights for ``n`` persons and ``draws`` draws from ``rng`` (one integer taken)."""
        if draws < 2:
            raise ValueError("a bootstrap needs at least two draws")
        if scheme not in ("exponential", "poisson"):
            raise ValueError(f"unknown bootstrap weights {scheme!r}")
        return cls(int(n), int(draws), int(rng.integers(0, 2**63 - 1)), scheme)

    def blocks(self, rows: np.ndarray | None = None, width: int = 1):
        """Yield ``(first_draw, weights)`` blocks; ``weights`` has shape (draws, len(rows)).

        ``rows`` selects persons (positions); ``width`` is the number of terms per person of
        the caller's design, which sets the block size (:data:`_BLOCK_FLOATS`).
        """
        rows = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        size = max(1, min(_GEN_DRAWS, _BLOCK_FLOATS // max(1, len(rows) * max(1, width))))
        for start in range(0, self.draws, _GEN_DRAWS):
            g = np.random.default_rng([self.entropy, start])
            shape = (min(_GEN_DRAWS, self.draws - start), self.n)
            block = (g.standard_exponential(shape) if self.scheme == "exponential"
                     else g.poisson(1.0, shape).astype(float))[:, rows]  # fmt: skip
            for sub in range(0, len(block), size):
                yield start + sub, block[sub : sub + size]


@dataclasses.dataclass(frozen=True)
class WeightedBootstrap:
    """Draws of an estimator under a weighted bootstrap.

    Attributes
    ----------
    estimates
        One estimate per draw (NaN where the propensity refit did not converge).
    estimate
        The full-sample estimate (equal to the estimator's own, checked).
    se
        Robust standard deviation of the finite draws (:func:`robust_scale`).
    sd
        Their plain standard deviation (shown beside it: a few draws in which a handful of
        comparison persons take nearly all the odds weight can inflate it without bound).
    n_failed
        Draws dropped (refit not converged).
    method
        How the draws were made (for ``se_method``).
    """

    estimates: np.ndarray
    estimate: float
    se: float
    sd: float
    n_failed: int
    method: str

    @property
    def draws(self) -> int:
        """Number of draws made (failed included)."""
        return int(len(self.estimates))


def robust_scale(draws: np.ndarray) -> float:
    """Interquartile range of the draws over that of the standard normal (``IQR / 1.349``).

    The bootstrap SE of this module, as in R ``did``'s multiplier bootstrap (Callaway and
    Sant'Anna 2021): an inverse-probability-weighted estimate is a ratio whose denominator
    can come close to a few persons' weights in some draws, and the plain standard deviation
    of the draws then measures those few draws, not the spread of the estimator. NaN with
    fewer than two draws.
    """
    draws = np.asarray(draws, float)
    if len(draws) < 2:
        return float("nan")
    q75, q25 = np.quantile(draws, [0.75, 0.25])
    return float((q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25)))


def _logit_loglik(eta: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logit log likelihood of each row of ``eta`` (stable for large ``|eta|``)."""
    return np.sum(w * (d * eta - np.logaddexp(0.0, eta)), axis=1)


def _weighted_logit_draws(
    x: np.ndarray, d: np.ndarray, w: np.ndarray, beta0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logit MLE for each row of ``w`` by Newton steps from ``beta0``.

    Returns the coefficients (draws x terms) and whether each draw converged. The
    Hessians of a block are one batched matrix product, the Newton steps one batched solve
    (a k-step bootstrap iterated to convergence, Andrews 2002).
    """
    k = w.shape[0]
    beta = np.tile(beta0, (k, 1))
    done = np.zeros(k, dtype=bool)
    eta = beta @ x.T
    ll = _logit_loglik(eta, d, w)
    for _ in range(_NEWTON_MAX_ITER):
        e = expit(eta)
        grad = (w * (d - e)) @ x
        s = w * e * (1.0 - e)
        hess = np.matmul(x.T[None, :, :] * s[:, None, :], x)
        try:
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(h, g, rcond=None)[0]
                             for h, g in zip(hess, grad, strict=True)])  # fmt: skip
        step[done] = 0.0
        # step halving where a full Newton step would lower the likelihood (the logit's
        # likelihood is concave, so a short enough step along the Newton direction rises)
        scale = np.ones(k)
        for _halving in range(30):
            eta_new = (beta + scale[:, None] * step) @ x.T
            ll_new = _logit_loglik(eta_new, d, w)
            worse = ll_new < ll - 1e-12 * np.abs(ll)
            if not worse.any():
                break
            scale[worse] *= 0.5
        beta = beta + scale[:, None] * step
        eta, ll = eta_new, ll_new
        done |= np.max(np.abs(step), axis=1) < _NEWTON_TOL
        if done.all():
            break
    ok = done & np.isfinite(beta).all(axis=1)
    return beta, ok


def logit_refits(
    ps_design: np.ndarray, d: np.ndarray, pscore: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Refit the propensity logit with each row of person weights ``w`` (draws x persons).

    Newton steps from the fit whose fitted probabilities are ``pscore`` (recovered exactly
    from its linear predictor), as in :func:`weighted_bootstrap_att`. Returns the refitted
    odds ``e / (1 - e)`` (draws x persons) and whether each draw converged.
    """
    x = _with_constant(ps_design)
    beta0 = np.linalg.lstsq(x, logit(np.asarray(pscore, float)), rcond=None)[0]
    beta, ok = _weighted_logit_draws(x, np.asarray(d, float), w, beta0)
    with np.errstate(over="ignore"):
        return np.exp(beta @ x.T), ok


def _bootstrap_draws(
    ys: np.ndarray,
    d: np.ndarray,
    x_ps: np.ndarray,
    pscore: np.ndarray,
    z_or: np.ndarray | None,
    weights: BootstrapWeights,
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw IPW (``z_or`` None) or AIPW estimates of each column of ``ys``.

    Returns draws x outcomes (one propensity refit per draw, shared by all columns) and the
    full-sample estimates.
    """
    ys, d = np.asarray(ys, float).reshape(len(d), -1), np.asarray(d, float)
    c = 1.0 - d
    x = _with_constant(x_ps)
    z = _with_constant(z_or)
    # the full-sample logit on the standardised design: the same fitted values as the
    # caller's fit (an affine reparametrisation), recovered exactly from its linear predictor
    beta0 = np.linalg.lstsq(x, logit(np.asarray(pscore, float)), rcond=None)[0]
    out = np.empty((weights.draws, ys.shape[1]))
    width = x.shape[1] + (0 if z is None else z.shape[1]) + ys.shape[1]
    for start, w in weights.blocks(rows, width=width):
        beta, ok = _weighted_logit_draws(x, d, w, beta0)
        with np.errstate(over="ignore"):
            odds = np.exp(beta @ x.T)
        if z is not None:
            wc = w * c
            gram = np.matmul(z.T[None, :, :] * wc[:, None, :], z)
            rhs = np.einsum("kn,nq,nm->kqm", wc, z, ys)
            try:
                gamma = np.linalg.solve(gram, rhs)
            except np.linalg.LinAlgError:  # a category without weight in a Poisson draw
                gamma = np.stack([np.linalg.lstsq(g, h, rcond=None)[0]
                                  for g, h in zip(gram, rhs, strict=True)])  # fmt: skip
            r = ys[None, :, :] - np.einsum("nq,kqm->knm", z, gamma)
        else:
            r = np.broadcast_to(ys, (len(w), *ys.shape))
        with np.errstate(all="ignore"):  # a failed draw's overflow becomes NaN, dropped
            m1 = np.einsum("kn,knm->km", w * d, r) / np.sum(w * d, axis=1)[:, None]
            wo = w * c * odds
            m0 = np.einsum("kn,knm->km", wo, r) / np.sum(wo, axis=1)[:, None]
        att = m1 - m0
        out[start : start + len(w)] = np.where(ok[:, None] & np.isfinite(att), att, np.nan)
    full = np.array([_att_mestimation(ys[:, j], d, x_ps=x_ps, pscore=pscore, z_or=z_or)[0]
                     for j in range(ys.shape[1])])  # fmt: skip
    return out, full


def _summary(est: np.ndarray, full: float, weights: BootstrapWeights) -> WeightedBootstrap:
    ok = np.isfinite(est)
    return WeightedBootstrap(
        estimates=est,
        estimate=float(full),
        se=robust_scale(est[ok]),
        sd=float(np.std(est[ok], ddof=1)) if ok.sum() > 1 else float("nan"),
        n_failed=int((~ok).sum()),
        method=BOOTSTRAP_SE_METHOD.format(draws=weights.draws, scheme=weights.scheme),
    )


def weighted_bootstrap_family(
    ys: np.ndarray,
    d: np.ndarray,
    ps_design: np.ndarray,
    pscore: np.ndarray,
    weights: BootstrapWeights,
    *,
    x: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> list[WeightedBootstrap]:
    """:func:`weighted_bootstrap_att` of several outcomes on the same persons at once.

    ``ys`` has one column per outcome (no missing values); the propensity refit (and the
    outcome model's Gram matrices) of each draw are shared by the columns, so the draws are
    joint and cost little more than one outcome's. One result per column.
    """
    ys = np.asarray(ys, float).reshape(len(d), -1)
    rows = np.arange(len(ys)) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) != len(ys) or (len(rows) and (rows.min() < 0 or rows.max() >= weights.n)):
        raise ValueError("rows must give each person's position among the weights' persons")
    est, full = _bootstrap_draws(ys, d, ps_design, pscore, x, weights, rows)
    return [_summary(est[:, j], full[j], weights) for j in range(ys.shape[1])]


def weighted_bootstrap_att(
    y: np.ndarray,
    d: np.ndarray,
    ps_design: np.ndarray,
    pscore: np.ndarray,
    weights: BootstrapWeights,
    *,
    x: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> WeightedBootstrap:
    """Weighted (Bayesian) bootstrap of :func:`ipw_att` or, with ``x``, :func:`aipw_att`.

    In every draw the propensity logit is refitted by weighted maximum likelihood (Newton
    from the full-sample fit), the odds weights are recomputed from it, the outcome model of
    the AIPW estimator is refitted by weighted least squares in the controls, and the
    estimator is recomputed with the draw's person weights. So the estimation of the weights
    is part of every draw, and nothing is linearised: where the stacked sandwich (a first-
    order approximation) understates the variance, for example when a few comparison persons
    carry most of the odds weight, the bootstrap shows it. On LaLonde's PSID-1 comparison
    (trimmed) the sandwich SEs of IPW and AIPW are 821 and 793, the bootstrap's about 14 %
    larger (``tests/estimate/test_att_bootstrap.py``).

    Parameters
    ----------
    y, d, ps_design, pscore
        As for :func:`ipw_att` (``pscore`` the logit MLE on ``ps_design`` in this sample).
    weights
        The draws' person weights (:class:`BootstrapWeights`), shared by every estimate that
        should be jointly resampled.
    x
        Outcome-model covariates: AIPW; ``None``: IPW.
    rows
        Positions of this sample's persons among the ``weights.n`` persons (``None``: all,
        in order).

    Returns
    -------
    WeightedBootstrap
    """
    return weighted_bootstrap_family(
        np.asarray(y, float)[:, None], d, ps_design, pscore, weights, x=x, rows=rows
    )[0]


def with_bootstrap_se(
    result: EffectResult, boot: WeightedBootstrap, *, use_when_ratio_above: float
) -> EffectResult:
    """The result with the bootstrap SE beside the sandwich, and the SE the rule picks.

    The bootstrap SE replaces the sandwich SE (and the Wald interval and p-value follow it)
    when ``boot.se / result.se > use_when_ratio_above``: the sandwich is then understating
    the sampling variance by more than the margin. A bootstrap SE smaller than the sandwich
    keeps the sandwich (the larger of two valid first-order approximations). Both SEs and
    the ratio are kept in ``spec``; ``spec["se_key"]`` says which is shown
    (``"bootstrap_ps"`` or ``"sandwich_ps"``).

    Raises
    ------
    ValueError
        If the bootstrap belongs to another estimate (its full-sample estimate differs).
    """
    if not np.isclose(boot.estimate, result.estimate, rtol=1e-9, atol=1e-9 * (1 + abs(result.se))):
        raise ValueError("the bootstrap was made for another estimate")
    ratio = boot.se / result.se if result.se > 0 else float("nan")
    use = bool(np.isfinite(ratio) and ratio > use_when_ratio_above)
    extra = {
        "se_sandwich": result.se,
        "se_bootstrap": boot.se,
        "sd_bootstrap": boot.sd,
        "se_ratio_bootstrap_to_sandwich": ratio,
        "bootstrap_draws": boot.draws,
        "bootstrap_failed": boot.n_failed,
        "bootstrap_used_when_ratio_above": float(use_when_ratio_above),
        "se_key": "bootstrap_ps" if use else "sandwich_ps",
    }
    if not use:
        return dataclasses.replace(result, spec={**result.spec, **extra})
    fresh = EffectResult.from_normal(
        estimate=result.estimate, se=boot.se, level=result.level, outcome=result.outcome,
        estimator=result.estimator, estimand=result.estimand, n_treated=result.n_treated,
        n_control=result.n_control, se_method=boot.method, ess_control=result.ess_control,
        subgroup=result.subgroup, persons=result.persons, spec_persons=result.spec_persons,
    )  # fmt: skip
    return dataclasses.replace(fresh, spec={**result.spec, **extra})


def covariate_matrix(
    sample: pd.DataFrame, covariates, categorical, ps: PropensityFit | None
) -> np.ndarray:
    """The outcome model's covariate matrix: the given propensity fit's own, if it is one.

    ``sample`` the estimation rows, ``covariates`` and ``categorical`` as for
    :func:`estimate_att`, ``ps`` a propensity fit or ``None``.

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
    ``"regression"`` (OLS with HC3), ``"ra"``, ``"ipw"``, ``"aipw"``, ``"ebal"`` (entropy
    balancing on the propensity model's terms), ``"overlap"`` (overlap weights; estimand
    ATO) (see the array functions of this module) and ``"matching"`` (nearest neighbours on the logit of the
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
    x, fit = None, None
    if method in ("regression", "ra", "aipw") or (
        method == "matching" and options.get("bias_adjust")
    ):
        x = covariate_matrix(sample, covariates, categorical, ps)
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
        elif method == "ebal":
            bal = entropy_balance(fit.design, d)
            spec["balancing"] = {"terms": list(bal.terms), "iterations": bal.iterations,
                                 "max_imbalance_sd": bal.max_imbalance}  # fmt: skip
            res = ebal_att(y, d, fit.design.to_numpy(), bal.odds.to_numpy(), **kw)
        elif method == "overlap":
            res = overlap_ato(y, d, fit.design.to_numpy(), fit.pscore.to_numpy(), **kw)
        else:
            res, used = _matching(sample, treatment, y, covariates, fit, x, options, kw)
    if "person_id" in sample.columns:  # whom n_treated, n_control and spec's counts count
        ids = sample["person_id"].astype(str).to_numpy()
        rows = used.to_numpy() if method == "matching" else np.ones(len(sample), dtype=bool)
        persons = (ids[rows & (d == 1)], ids[rows & (d == 0)])
        dropped = df.loc[df[outcome].isna(), "person_id"].astype(str).to_numpy()
        if len(np.unique(ids)) != len(ids) or len(np.unique(dropped)) != len(dropped):
            raise DesignError("person_id repeats in the analysis data: one row per person")
        counted = {("n_missing_outcome_dropped",): dropped}
        if fit is not None:  # the rows the propensity model was fitted on
            on = sample.index.isin(fit.pscore.index)
            if int(on.sum()) != spec["propensity"].get("n_obs"):
                raise RuntimeError("the propensity model's n_obs is not its rows (a bug)")
            counted[("propensity", "n_obs")] = ids[on]
            counted[("propensity", "n_treated")] = ids[on & (d == 1)]
        if method == "matching":
            counted[("n_unmatched_treated",)] = ids[~rows & (d == 1)]
        res = dataclasses.replace(res, persons=persons, spec_persons=counted)
    return dataclasses.replace(res, spec={**spec, **res.spec}, subgroup=subgroup)


def _matching(sample, treatment, y, covariates, fit, x, options, kw
              ) -> tuple[EffectResult, pd.Series]:  # fmt: skip
    """The matching estimate, and which rows it uses (a positive matching weight)."""
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
    used = m.weights.reindex(sample.index).fillna(0.0) > 0
    return matching_att(m, y, bias_covariates=x, **score, **opts, **kw), used


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
    failed: dict[tuple[str, str], str] | None = None,
) -> list[EffectResult]:
    """Run :func:`estimate_att` for every outcome and method (outcomes outer, methods inner).

    The propensity score is fitted once per analysis sample (the rows with the outcome
    observed) and shared by the propensity-based methods. ``options`` maps a method name to
    its options. With ``failed`` (a dict), a method whose own step has no solution on a sample
    (a :class:`DesignError` of the method, e.g. no entropy-balancing weights exist) is left
    out and its reason kept under ``(outcome, method)``; without it, the error is raised. A
    failure shared by every method (the propensity model) is always raised.

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
        if any(m in ("ipw", "aipw", "ebal", "overlap", "matching") for m in methods):
            if key not in cache:
                cache[key], _ = _propensity_for(
                    df.loc[rows], ps, treatment, covariates, categorical
                )
            fit = cache[key]
        for method in methods:
            try:
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
            except DesignError as exc:
                if failed is None:
                    raise
                failed[(outcome, method)] = str(exc)
    return out
