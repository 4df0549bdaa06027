"""Nearest-neighbour matching for the ATT: who is matched to whom, and with what weight.

Matching is done in a standardised space: a scalar score (by default the logit of the
propensity score) divided by its sample SD, or several covariates under the Mahalanobis or
inverse-variance metric. Neighbours come from a KD-tree (``scipy.spatial.cKDTree``) per
exact-match cell, so a pool of 500 000 controls costs one tree build per cell and a
logarithmic query per treated unit; there is no treated-by-control loop.

This module is the design side (the matched sets and their weights, blind to outcomes);
the estimate and its standard error are in :mod:`evaluation.estimate.matching`.

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
    cells
        Integer code of each row's exact-matching cell (all 0 without ``exact``), so that
        whatever is estimated from the matched sets can stay within the cells.
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
    cells: np.ndarray | None = None

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


def _nearest_1d(
    zc: np.ndarray, zt: np.ndarray, k: int, tie_tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_nearest` with ties for one coordinate, vectorised over the queries.

    On a line the units within a radius form one run of the sorted coordinates, so every
    query's set is found with two binary searches: the ``k``-th smallest squared distance
    from a window of ``2k`` sorted neighbours, then every unit within it (plus
    ``tie_tol``). Returns ``(query number, local index, squared distance)`` per selected
    unit, the same sets as :func:`_nearest` (``ties=True``).
    """
    order = np.argsort(zc, kind="stable")
    zs = zc[order]
    n = len(zs)
    kk = min(k, n)
    pos = np.searchsorted(zs, zt)
    offs = np.arange(-kk, kk)
    win = np.clip(pos[:, None] + offs[None, :], 0, n - 1)
    d2w = (zs[win] - zt[:, None]) ** 2
    # a clipped window repeats its edge unit; the k-th smallest over distinct units is
    # found by masking the repeats
    dup = np.zeros_like(win, dtype=bool)
    dup[:, 1:] = win[:, 1:] == win[:, :-1]
    d2w[dup] = np.inf
    dk2 = np.sort(d2w, axis=1)[:, kk - 1]
    radius = np.sqrt(dk2 + tie_tol) * (1 + 1e-9) + 1e-12
    lo = np.searchsorted(zs, zt - radius, side="left")
    hi = np.searchsorted(zs, zt + radius, side="right")
    counts = hi - lo
    q = np.repeat(np.arange(len(zt)), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    local = order[np.arange(counts.sum()) + starts]
    d2 = (zc[local] - zt[q]) ** 2
    keep = d2 <= dk2[q] + tie_tol
    return q[keep], local[keep], d2[keep]


def match_arrays(
    z: np.ndarray,
    d: np.ndarray,
    cells: np.ndarray,
    k: int,
    *,
    replace: bool = True,
    caliper: float | None = None,
    ties: bool = True,
    tie_tol: float = TIE_TOL,
    order: Literal["largest", "smallest", "data"] = "largest",
    scalar: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The matching of :func:`match_nearest` on arrays: standardised coordinates, 0/1, cells.

    Returns the pairs as row positions sorted by treated then control: ``(treated,
    control, weight, distance)``. Used by :func:`match_nearest` and, without building a
    frame, by randomisation tests that rematch many assignments.
    """
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
        if replace and ties and z.shape[1] == 1:
            q, loc, d2 = _nearest_1d(z[cpos, 0], z[tpos, 0], k, tie_tol)
            dd = np.sqrt(d2)
            keep = dd <= caliper if caliper is not None else np.ones(len(q), bool)
            q, loc, dd = q[keep], loc[keep], dd[keep]
            per = np.bincount(q, minlength=len(tpos))
            rows_t.append(tpos[q])
            rows_c.append(cpos[loc])
            wts.append(1.0 / per[q])
            dists.append(dd)
            continue
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
    return tp[o], cp[o], w[o], cat(dists, float)[o]


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
    tp, cp, w, dist = match_arrays(
        z, d, cells, k, replace=replace, caliper=caliper, ties=ties, tie_tol=tie_tol,
        order=order, scalar=scalar,
    )  # fmt: skip
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
        cells=cells,
    )
