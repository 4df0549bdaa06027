"""The ATT of a nearest-neighbour matching and its Abadie-Imbens standard errors.

The matched sets come from :func:`evaluation.design.matching.match_nearest` (the design,
blind to outcomes); this module turns them and an outcome into an estimate. The plain
(nonparametric) bootstrap is *not* offered: it is not valid for nearest-neighbour matching
with a fixed number of matches (Abadie and Imbens 2008).

References
----------
Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching estimators for
average treatment effects. *Econometrica* 74(1), 235-267.
Abadie, A. and Imbens, G. W. (2008). On the failure of the bootstrap for matching
estimators. *Econometrica* 76(6), 1537-1557.
Abadie, A. and Imbens, G. W. (2011). Bias-corrected matching estimators for average
treatment effects. *Journal of Business & Economic Statistics* 29(1), 1-11.
Abadie, A. and Imbens, G. W. (2016). Matching on the estimated propensity score.
*Econometrica* 84(2), 781-807.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from evaluation.design.matching import Matching, _nearest
from evaluation.design.propensity import DesignError
from evaluation.estimate.results import EffectResult


def _sigma2_within(
    z: np.ndarray, y: np.ndarray, group: np.ndarray, targets: np.ndarray, j: int, tie_tol: float
) -> np.ndarray:
    """AI (2006, eq. 14): ``J/(J+1) (Y_i - mean of its J same-group neighbours)^2``."""
    gpos = np.flatnonzero(group)
    if len(targets) == 0:
        return np.empty(0)
    if len(gpos) < 2:
        return np.full(len(targets), np.nan)
    local = np.searchsorted(gpos, targets)
    tree = cKDTree(z[gpos])
    nb = _nearest(tree, z[gpos], z[targets], j, ties=True, tie_tol=tie_tol, exclude=local)
    out = np.empty(len(targets))
    for i, (c, _) in enumerate(nb):
        jj = len(c)
        out[i] = jj / (jj + 1) * (y[targets[i]] - y[gpos[c]].mean()) ** 2
    return out


def matching_att(
    matching: Matching,
    y: pd.Series | np.ndarray,
    *,
    bias_covariates: pd.DataFrame | np.ndarray | None = None,
    bias_adjust: bool | None = None,
    bias_sample: Literal["matched", "all"] = "matched",
    var_matches: int = 1,
    variance: Literal["population", "sample"] = "population",
    outcome: str = "y",
    level: float = 0.95,
) -> EffectResult:
    """ATT of a nearest-neighbour matching with the Abadie-Imbens standard error.

    Point estimate: ``tau = (1/N1) sum_i [Y_i - sum_j w_ij (Y_j + mu0(X_i) - mu0(X_j))]``
    over matched treated units, where ``w_ij`` are the pair weights and ``mu0`` is zero
    without bias adjustment. With bias adjustment (Abadie and Imbens 2011) ``mu0`` is the
    linear regression of Y on the bias covariates in the controls, fitted on the matched
    controls weighted by ``K_M(j)`` (``bias_sample="matched"``, as AI 2011, Stata
    ``nnmatch``/``teffects nnmatch, biasadj()`` and R ``Matching``) or on all controls.
    Default: on for covariate matching (bias covariates = the matching covariates), off for
    a scalar score. ``teffects nnmatch`` applies it only when ``biasadj()`` is given;
    ``teffects psmatch`` has no bias adjustment.

    Variance (AI 2006, Theorem 7 and Section 4, ATT), with ``K_j = sum_i w_ij`` and
    ``KK_j = sum_i w_ij^2`` (with ``M`` matches and no ties ``K_M(j)/M`` and
    ``K_M(j)/M^2``)::

        population: [sum_i (tau_i - tau)^2 + sum_j (K_j^2 - KK_j) sigma2_j] / N1^2
        sample:     [sum_i sigma2_i + sum_j K_j^2 sigma2_j] / N1^2

    The conditional variances ``sigma2`` come from matching each unit to its
    ``var_matches = J`` nearest units of the *same* treatment group in the same space (ties
    included, exact cells ignored): ``sigma2_i = J/(J+1) (Y_i - mean of the J)^2`` (AI 2006
    eq. 14; ``teffects`` ``vce(robust, nn(J))``, whose default is J = 2; R ``Matching`` uses
    the sample variance of the J + 1 outcomes, identical for J = 1). ``var_matches=0`` gives
    R ``Matching``'s homoskedastic default (``Var.calc = 0``):
    ``sigma2 = 1/2 * weighted mean over pairs of (tau_pair - tau)^2``. A matched
    propensity score is treated as known, as in R ``Matching``; Stata ``teffects psmatch``
    instead reports the Abadie-Imbens (2016) SE adjusted for its estimation, which is not
    implemented here (it could not be validated offline; for the ATT the adjustment can go
    either way). The bootstrap is not offered (Abadie and Imbens 2008).

    Parameters
    ----------
    matching
        Output of :func:`match_nearest`.
    y
        Outcome aligned to ``matching.weights`` (no missing values).
    bias_covariates
        Covariates for the bias adjustment (rows aligned to the matching sample).
    bias_adjust
        Apply the AI (2011) bias adjustment; ``None`` = on for covariate matching only.
    bias_sample
        Fit the bias regression on the matched controls (weighted) or on all controls.
    var_matches
        J for the conditional variance; 0 for the homoskedastic version.
    variance
        ``"population"`` (PATT, default as in R Matching and teffects) or ``"sample"``
        (SATT, conditional on the covariates).
    outcome, level
        Label and confidence level of the result.

    Returns
    -------
    EffectResult
    """
    if variance not in ("population", "sample") or bias_sample not in ("matched", "all"):
        raise ValueError(f"unknown variance {variance!r} or bias_sample {bias_sample!r}")
    idx = matching.weights.index
    yv = np.asarray(y.reindex(idx) if isinstance(y, pd.Series) else y, dtype=float)
    if np.isnan(yv).any():
        raise DesignError("the outcome has missing values in the matched sample")
    tp, cp, w = matching.pair_positions
    if len(tp) == 0:
        raise DesignError("no treated unit was matched")
    n = len(yv)
    scalar = matching.coords.shape[1] == 1 and matching.metric == "sd"
    if bias_adjust is None:
        bias_adjust = not scalar
    k_j = np.bincount(cp, weights=w, minlength=n)
    kk_j = np.bincount(cp, weights=w**2, minlength=n)
    mu0 = np.zeros(n)
    if bias_adjust:
        if bias_covariates is None and scalar:
            raise DesignError("bias adjustment after score matching needs bias_covariates")
        xb = matching.coords if bias_covariates is None else np.asarray(bias_covariates, float)
        xb = xb.reshape(n, -1)
        fit = (k_j > 0) if bias_sample == "matched" else ~matching.treated
        sw = np.sqrt(k_j[fit] if bias_sample == "matched" else np.ones(int(fit.sum())))
        xw = np.column_stack([np.ones(int(fit.sum())), xb[fit]]) * sw[:, None]
        mu0 = xb @ np.linalg.lstsq(xw, yv[fit] * sw, rcond=None)[0][1:]  # min-norm if singular
    tau_pair = yv[tp] - yv[cp] - (mu0[tp] - mu0[cp])
    ut = np.unique(tp)
    tau_i = np.bincount(tp, weights=w * tau_pair, minlength=n)[ut]
    n1 = len(ut)
    att = float(tau_i.mean())
    used = np.flatnonzero(k_j > 0)
    if var_matches == 0:
        s2 = 0.5 * np.sum(w * (tau_pair - att) ** 2) / w.sum()
        s2_t, s2_c = np.full(n1, s2), np.full(len(used), s2)
    else:
        tz = matching.treated
        s2_t = _sigma2_within(matching.coords, yv, tz, ut, var_matches, matching.tie_tol)
        s2_c = _sigma2_within(matching.coords, yv, ~tz, used, var_matches, matching.tie_tol)
    v_sample = (s2_t.sum() + np.sum(k_j[used] ** 2 * s2_c)) / n1**2
    v_pop = (np.sum((tau_i - att) ** 2) + np.sum((k_j[used] ** 2 - kk_j[used]) * s2_c)) / n1**2
    v = v_pop if variance == "population" else v_sample
    wc = k_j[used]
    unadj = float(np.bincount(tp, weights=w * (yv[tp] - yv[cp]), minlength=n)[ut].mean())
    j_txt = "homoskedastic" if var_matches == 0 else f"J={var_matches}"
    return EffectResult.from_normal(
        estimate=att,
        se=float(np.sqrt(v)),
        level=level,
        outcome=outcome,
        estimator="matching",
        estimand="ATT",
        n_treated=n1,
        n_control=len(used),
        se_method=f"Abadie-Imbens (2006) {variance} variance, {j_txt}",
        ess_control=float(wc.sum() ** 2 / (wc**2).sum()),
        spec={
            **{a: getattr(matching, a) for a in ("distance", "metric", "k", "replace", "ties")},
            **{a: getattr(matching, a) for a in ("caliper", "exact")},
            "n_unmatched_treated": matching.n_unmatched,
            "bias_adjust": bool(bias_adjust),
            "bias_sample": bias_sample if bias_adjust else None,
            "estimate_unadjusted": unadj,
            "var_matches": var_matches,
            "variance": variance,
            "se_sample": float(np.sqrt(v_sample)),
            "se_population": float(np.sqrt(v_pop)),
        },
    )
