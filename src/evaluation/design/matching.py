"""Nearest-neighbour matching for the ATT, with Abadie-Imbens inference.

Matching is done in a standardised space: a scalar score (by default the logit of the
propensity score) divided by its sample SD, or several covariates under the Mahalanobis or
inverse-variance metric. Neighbours come from a KD-tree (``scipy.spatial.cKDTree``) per
exact-match cell, so a pool of 500 000 controls costs one tree build per cell and a
logarithmic query per treated unit; there is no treated-by-control loop.

The plain (nonparametric) bootstrap is *not* offered: it is not valid for nearest-neighbour
matching with a fixed number of matches (Abadie and Imbens 2008). Inference uses the
Abadie-Imbens (2006) variance estimator instead.

References
----------
Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching estimators for
average treatment effects. *Econometrica* 74(1), 235-267.
Abadie, A. and Imbens, G. W. (2008). On the failure of the bootstrap for matching
estimators. *Econometrica* 76(6), 1537-1557.
Abadie, A. and Imbens, G. W. (2011). Bias-corrected matching estimators for average
treatment effects. *Journal of Business & Economic Statistics* 29(1), 1-11.
Abadie, A., Drukker, D., Herr, J. L. and Imbens, G. W. (2004). Implementing matching
estimators for average treatment effects in Stata. *Stata Journal* 4(3), 290-311.
Sekhon, J. S. (2011). Multivariate and propensity score matching software with automated
balance optimization: the Matching package for R. *J. Statistical Software* 42(7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from evaluation.design.propensity import DesignError, design_matrix, treatment_indicator
from evaluation.estimate.results import EffectResult

#: Two squared standardised distances closer than this are ties (R Matching uses 1e-5).
TIE_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class Matching:
    """Matched sets from nearest-neighbour matching (estimand: ATT).

    Attributes
    ----------
    pairs
        One row per (treated, control) link: ``treated`` and ``control`` (index labels),
        ``weight`` (``1 / number of matches of that treated unit``) and ``distance`` (in
        standardised units).
    weights
        Matched-sample weights aligned to the data: 1 for a matched treated unit, 0 for an
        unmatched one, and for a control the sum of its pair weights (``K_M(j) / M`` of
        Abadie and Imbens 2006). Use them for balance tables and later event studies.
    n_treated, n_matched, n_unmatched
        Treated units in the data, matched, and left unmatched (caliper or empty cell).
    n_controls_used
        Distinct controls used at least once.
    k, replace, ties, caliper, exact, metric, distance
        The specification; ``caliper`` is in SD units of the distance.
    coords
        The standardised matching space (rows aligned to ``weights``), kept for the
        within-group matching of the variance estimator.
    treated
        Boolean treatment indicator aligned to ``weights``.
    """

    pairs: pd.DataFrame
    weights: pd.Series
    n_treated: int
    n_matched: int
    n_unmatched: int
    n_controls_used: int
    k: int
    replace: bool
    ties: bool
    caliper: float | None
    exact: str | None
    metric: str
    distance: str
    coords: np.ndarray
    treated: np.ndarray
    tie_tol: float = TIE_TOL

    @property
    def pair_positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row positions of treated and control in each pair, and the pair weights."""
        idx = self.weights.index
        return (
            idx.get_indexer(self.pairs["treated"]),
            idx.get_indexer(self.pairs["control"]),
            self.pairs["weight"].to_numpy(),
        )


def _space(df: pd.DataFrame, distance, metric: str) -> tuple[np.ndarray, str, bool]:
    """Standardised coordinates: 1-D score / SD, or covariates under the metric."""
    if isinstance(distance, pd.Series):
        x = distance.reindex(df.index).to_numpy(dtype=float)[:, None]
        name = str(distance.name or "score")
    elif isinstance(distance, str):
        x, name = df[distance].to_numpy(dtype=float)[:, None], distance
    else:
        x, name = design_matrix(df, list(distance)).frame.to_numpy(), "+".join(distance)
    if np.isnan(x).any():
        raise DesignError("the matching distance has missing values")
    x = x - x.mean(axis=0)
    if (x.std(axis=0) == 0).any():
        raise DesignError("a matching variable has zero variance in this sample")
    if x.shape[1] == 1 or metric == "ivar":
        return x / x.std(axis=0, ddof=1), name, x.shape[1] == 1
    if metric == "euclidean":
        return x, name, False
    if metric == "mahalanobis":
        chol = np.linalg.cholesky(np.cov(x, rowvar=False))
        return np.linalg.solve(chol, x.T).T, name, False
    raise ValueError(f"unknown metric {metric!r}")


def _nearest(
    tree: cKDTree,
    pts: np.ndarray,
    q: np.ndarray,
    k: int,
    *,
    ties: bool,
    tie_tol: float,
    exclude: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query row, the k nearest tree points (all ties if ``ties``).

    Returns ``(local index, squared distance)`` per query, sorted by distance then index;
    ``exclude[i]`` is a local index to leave out for query ``i`` (the unit itself).
    """
    n = len(pts)
    extra = 0 if exclude is None else 1
    kk = min(k + extra, n)
    dist, _ = tree.query(q, k=kk)
    dk = np.asarray(dist).reshape(len(q), -1)[:, -1]
    radius = np.sqrt(dk**2 + tie_tol) * (1 + 1e-9) + 1e-12
    balls = tree.query_ball_point(q, radius)
    out = []
    for i, cand in enumerate(balls):
        c = np.asarray(cand, dtype=np.intp)
        if exclude is not None:
            c = c[c != exclude[i]]
        d2 = ((pts[c] - q[i]) ** 2).sum(axis=1)
        o = np.lexsort((c, d2))
        c, d2 = c[o], d2[o]
        m = min(k, len(c))
        if m == 0:
            out.append((c, d2))
            continue
        sel = d2 <= d2[m - 1] + tie_tol if ties else np.arange(len(c)) < m
        out.append((c[sel], d2[sel]))
    return out


def _greedy(
    tree: cKDTree, pts: np.ndarray, q: np.ndarray, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Matching without replacement, greedy in the order of ``q``; ties by row order."""
    used = np.zeros(len(pts), dtype=bool)
    out = []
    for qi in q:
        m = min(len(pts), k + int(used.sum()))
        while True:
            dist, idx = tree.query(qi, k=m)
            idx, dist = np.atleast_1d(idx), np.atleast_1d(dist)
            free = ~used[idx]
            if free.sum() >= k or m == len(pts):
                break
            m = min(len(pts), 2 * m)
        if free.sum() == 0:
            out.append((np.empty(0, np.intp), np.empty(0)))
            continue
        r = dist[free][min(k, int(free.sum())) - 1]
        c = np.asarray(tree.query_ball_point(qi, r * (1 + 1e-9) + 1e-12), dtype=np.intp)
        c = c[~used[c]]
        d2 = ((pts[c] - qi) ** 2).sum(axis=1)
        o = np.lexsort((c, d2))[:k]
        used[c[o]] = True
        out.append((c[o], d2[o]))
    return out


def match_nearest(
    df: pd.DataFrame,
    treatment: str,
    *,
    distance: str | Sequence[str] | pd.Series,
    k: int = 1,
    replace: bool = True,
    caliper: float | None = None,
    exact: str | None = None,
    ties: bool = True,
    metric: Literal["mahalanobis", "ivar", "euclidean"] = "mahalanobis",
    order: Literal["largest", "smallest", "data"] | None = None,
    tie_tol: float = TIE_TOL,
) -> Matching:
    """Match each treated unit to its ``k`` nearest controls (ATT).

    Distances are Euclidean in a standardised space: a scalar ``distance`` (a column name
    or a Series such as ``PropensityFit.linear_predictor``, the logit of the propensity
    score) is divided by its sample SD, so ``caliper`` is in SD units of that score
    (Austin 2011 suggests 0.2 SD of the logit); several covariates use the Mahalanobis
    metric (inverse sample covariance, as Stata ``teffects nnmatch``) or ``"ivar"`` (inverse
    variances, R ``Matching``'s ``Weight = 1``), and the caliper applies to that distance.

    With replacement (default), controls may be reused and, with ``ties=True``, every
    control as close as the k-th nearest (squared distances within ``tie_tol``) is kept,
    each with weight ``1 / #matches`` (Abadie and Imbens 2006; ``teffects``; R
    ``Matching``). With ``ties=False`` exactly k are kept, ties broken by row order.
    Without replacement, treated units are matched greedily in ``order`` (default: largest
    score first for a scalar score, as MatchIt; row order for covariates), exactly k each,
    ties broken by row order. ``exact`` names a column (e.g. the start quarter): matches are
    only made within its cells; a treated unit whose cell has no control stays unmatched.

    Parameters
    ----------
    df
        The sample; not modified.
    treatment
        0/1 treatment column.
    distance
        Score column/Series, or a list of covariates.
    k
        Matches per treated unit.
    replace
        Match with replacement.
    caliper
        Maximum distance in SD units (``None``: no caliper).
    exact
        Column to match exactly on.
    ties
        Keep all tied controls (with replacement only).
    metric
        Metric for several covariates.
    order
        Greedy order without replacement.
    tie_tol
        Tolerance on squared standardised distances defining a tie.

    Returns
    -------
    Matching
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    if not df.index.is_unique:
        raise DesignError("the data index must be unique (one row per person)")
    d = treatment_indicator(df, treatment) == 1
    z, name, scalar = _space(df, distance, metric)
    if exact is not None and df[exact].isna().any():
        raise DesignError(f"exact-matching column {exact!r} has missing values")
    cells = np.zeros(len(df), np.intp) if exact is None else pd.factorize(df[exact], sort=True)[0]
    order = order or ("largest" if scalar else "data")
    by_cell = np.argsort(cells, kind="stable")
    groups = np.split(by_cell, np.flatnonzero(np.diff(cells[by_cell])) + 1)
    rows_t, rows_c, wts, dists = [], [], [], []
    for g in groups:
        tpos, cpos = g[d[g]], g[~d[g]]
        if len(cpos) == 0 or len(tpos) == 0:
            continue
        if not replace and order != "data":
            key = z[tpos, 0] if scalar else np.arange(len(tpos))
            tpos = tpos[np.argsort(-key if order == "largest" else key, kind="stable")]
        tree = cKDTree(z[cpos])
        found = (
            _nearest(tree, z[cpos], z[tpos], k, ties=ties, tie_tol=tie_tol)
            if replace
            else _greedy(tree, z[cpos], z[tpos], k)
        )
        for t, (c, d2) in zip(tpos, found, strict=True):
            dd = np.sqrt(d2)
            keep = dd <= caliper if caliper is not None else np.ones(len(c), bool)
            if keep.any():
                rows_t.append(np.full(keep.sum(), t))
                rows_c.append(cpos[c[keep]])
                wts.append(np.full(keep.sum(), 1.0 / keep.sum()))
                dists.append(dd[keep])
    cat = lambda parts, dt: np.concatenate(parts) if parts else np.empty(0, dt)  # noqa: E731
    tp, cp, w = cat(rows_t, np.intp), cat(rows_c, np.intp), cat(wts, float)
    o = np.lexsort((cp, tp))
    tp, cp, w, dist = tp[o], cp[o], w[o], cat(dists, float)[o]
    weights = np.bincount(cp, weights=w, minlength=len(df))
    weights[np.unique(tp)] = 1.0
    pairs = pd.DataFrame(
        {"treated": df.index[tp], "control": df.index[cp], "weight": w, "distance": dist}
    )
    n_matched = len(np.unique(tp))
    return Matching(
        pairs=pairs,
        weights=pd.Series(weights, index=df.index, name="match_weight"),
        n_treated=int(d.sum()),
        n_matched=n_matched,
        n_unmatched=int(d.sum()) - n_matched,
        n_controls_used=len(np.unique(cp)),
        k=k,
        replace=replace,
        ties=ties if replace else False,
        caliper=caliper,
        exact=exact,
        metric="sd" if scalar else metric,
        distance=name,
        coords=z,
        treated=d,
        tie_tol=tie_tol,
    )


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
