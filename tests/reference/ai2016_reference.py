"""A second, independent implementation of the Abadie-Imbens (2016) ATT variance.

Written straight from the paper's formulas (Abadie and Imbens 2016, *Econometrica* 84(2),
the ATET version of Theorem 2) and the estimator Stata documents for ``teffects psmatch,
atet vce(robust, nn(h))``, in the paper's notation and with explicit loops over units (no
trees, no vectorised neighbour sets, no standardised design), so that it shares no code
path with :func:`evaluation.estimate.matching.score_adjusted_variance` beyond NumPy.

    V = sigma2_t - c_t' I^{-1} c_t + (dtau_t/dtheta)' I^{-1} (dtau_t/dtheta)

    sigma2_t      = [ sum_{i: W_i=1} (tau_i - tau_t)^2 + sum_j (K_j^2 - K'_j) sigma2(X_j) ] / N1^2
    c_t           = (1/N1) sum_i f_i [ X_i (mu1_i - mu0_i - tau_t) + cov1_i + p_i/(1-p_i) cov0_i ]
    dtau_t/dtheta = (1/N1) sum_i X_i f_i [ (2 W_i - 1)(Y_i - Ybar^X_i) - tau_t ]
    I             = sum_i f_i X_i X_i'          (the logit's information, every row)

with ``f_i = p_i (1 - p_i)``; the sums run over the matched treated and the controls in
their exact cells. Neighbour sets (ties kept: every unit whose squared distance is within
``tie_tol`` of the h-th smallest), found within the unit's cell on the matching score (a
cell with too few units of an arm: the whole population):

- ``sigma2(X_j)``, ``cov_w`` for a unit of arm w: the sample variance / covariance over the
  unit and its h - 1 nearest units of its arm;
- ``mu_w`` for a unit of arm w: the mean of its h nearest other units of its arm;
- ``mu_w``, ``cov_w`` for a unit of the other arm: over its h nearest units of arm w;
- ``Ybar^X_i``: mean outcome of its M nearest units of the other arm on the covariates.

Used by ``tests/estimate/test_matching_ai2016.py``; the Stata numbers it is checked against
are in ``tests/reference/teffects_psmatch.md``.
"""

from __future__ import annotations

import numpy as np


def _nearest_with_ties(dist2: dict[int, float], h: int, tie_tol: float) -> list[int]:
    """Keys of the h smallest values, and every key tied with the h-th."""
    order = sorted(dist2, key=lambda j: (dist2[j], j))
    if not order:
        return []
    cut = dist2[order[min(h, len(order)) - 1]]
    return [j for j in order if dist2[j] <= cut + tie_tol]


def _sample_cov(a: list[np.ndarray], b: list[float]) -> np.ndarray:
    """Sample covariance (n - 1) of vectors ``a`` with numbers ``b``."""
    n = len(b)
    abar = sum(a) / n
    bbar = sum(b) / n
    return sum((ai - abar) * (bi - bbar) for ai, bi in zip(a, b, strict=True)) / (n - 1)


def ai2016_att_variance(
    *,
    y: np.ndarray,
    w: np.ndarray,
    design: np.ndarray,
    p: np.ndarray,
    score: np.ndarray,
    cells: np.ndarray,
    matches: dict[int, dict[int, float]],
    tau: dict[int, float],
    m: int,
    h: int,
    covariate_distance: str,
    tie_tol: float,
) -> dict[str, float]:
    """The variance and its parts.

    Parameters
    ----------
    y, w, p
        Outcome, 0/1 treatment, fitted propensity score (every row of the logit fit).
    design
        The logit design ``X`` with its constant (every row).
    score
        The score units were matched on (one number per row).
    cells
        Exact-matching cell per row.
    matches
        For each matched treated row, ``{control row: weight}`` (weights sum to one).
    tau
        For each matched treated row, its effect estimate ``tau_i``.
    m
        Matches per treated unit (``M``).
    h
        Units per neighbour set (``J + 1``).
    covariate_distance
        ``"euclidean"`` or ``"mahalanobis"`` for ``Ybar^X``.
    tie_tol
        Tolerance on squared distances.
    """
    n = len(y)
    n1 = len(matches)
    tau_t = sum(tau.values()) / n1
    treated_cells = {cells[i] for i in matches}
    pop = [i for i in range(n) if i in matches or (w[i] == 0 and cells[i] in treated_cells)]
    arm = {1: [i for i in pop if w[i] == 1], 0: [i for i in pop if w[i] == 0]}

    def candidates(i: int, g: int, need: int, exclude: int | None) -> list[int]:
        same = [j for j in arm[g] if cells[j] == cells[i] and j != exclude]
        return same if len(same) >= need else [j for j in arm[g] if j != exclude]

    def score_set(i: int, g: int, *, self_in: bool) -> list[int]:
        if self_in and w[i] == g:
            cand = candidates(i, g, h, None)
        else:
            cand = candidates(i, g, h, i)
        return _nearest_with_ties({j: (score[j] - score[i]) ** 2 for j in cand}, h, tie_tol)

    xcov = design[:, 1:]
    if covariate_distance == "mahalanobis":
        s_inv = np.linalg.inv(np.cov(xcov, rowvar=False))

        def d2x(i: int, j: int) -> float:
            diff = xcov[i] - xcov[j]
            return float(diff @ s_inv @ diff)
    else:

        def d2x(i: int, j: int) -> float:
            return float(np.sum((xcov[i] - xcov[j]) ** 2))

    # K_j and K'_j: how often each control is used, and the sum of its squared weights
    k_use: dict[int, float] = {}
    k_sq: dict[int, float] = {}
    for ctrl in matches.values():
        for j, wt in ctrl.items():
            k_use[j] = k_use.get(j, 0.0) + wt
            k_sq[j] = k_sq.get(j, 0.0) + wt**2

    sigma2_t = sum((tau[i] - tau_t) ** 2 for i in matches)
    for j in k_use:
        s = score_set(j, 0, self_in=True)
        sigma2_t += (k_use[j] ** 2 - k_sq[j]) * float(np.var([y[u] for u in s], ddof=1))
    sigma2_t /= n1**2

    k = design.shape[1]
    c_t = np.zeros(k)
    dtau = np.zeros(k)
    for i in pop:
        f_i = p[i] * (1 - p[i])
        mu = {}
        cov = {}
        for g in (1, 0):
            mean_set = score_set(i, g, self_in=False)
            mu[g] = float(np.mean([y[u] for u in mean_set]))
            cov_set = score_set(i, g, self_in=True)
            cov[g] = _sample_cov([design[u] for u in cov_set], [y[u] for u in cov_set])
        c_t += f_i * (design[i] * (mu[1] - mu[0] - tau_t) + cov[1] + p[i] / (1 - p[i]) * cov[0])
        other = 1 - w[i]
        cand = [j for j in arm[other] if cells[j] == cells[i]]
        if len(cand) < m:
            cand = arm[other]
        near = _nearest_with_ties({j: d2x(i, j) for j in cand}, m, tie_tol)
        ybar_x = float(np.mean([y[u] for u in near]))
        dtau += design[i] * f_i * ((2 * w[i] - 1) * (y[i] - ybar_x) - tau_t)
    c_t /= n1
    dtau /= n1

    scale = np.abs(design).max(axis=0)
    xs = design / scale
    info_s = sum(p[i] * (1 - p[i]) * np.outer(xs[i], xs[i]) for i in range(n))
    c_s, d_s = c_t / scale, dtau / scale  # X = Xs diag(scale): c_X' I_X^-1 c_X = c_s' I_s^-1 c_s
    c_v_c = float(c_s @ np.linalg.solve(info_s, c_s))
    d_v_d = float(d_s @ np.linalg.solve(info_s, d_s))
    variance = sigma2_t - c_v_c + d_v_d
    return {"variance": variance, "sigma2_t": sigma2_t, "c_v_c": c_v_c, "d_v_d": d_v_d}
