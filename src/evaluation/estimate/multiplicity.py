"""Multiple outcomes: Romano-Wolf step-down p-values from the joint bootstrap of a family.

The report quotes the headline estimator on several outcomes and horizons (employed at 6, 12
and 24 months, months employed, earnings). Read one at a time, each p-value holds its level;
read as a family, the chance that at least one of them is "significant" by luck alone (the
family-wise error rate, FWER) is larger. Romano and Wolf (2005, 2016) control the FWER with
a step-down procedure on the joint bootstrap distribution of the studentised estimates, so
the dependence between the outcomes (the same persons, overlapping horizons) is used rather
than assumed away as in Bonferroni or Holm.

Where the joint draws come from:

* **IPW and AIPW**: the weighted bootstrap of :mod:`evaluation.estimate.att`, one set of
  person weights for every outcome, propensity and outcome models refitted in every draw.
* **Matching**: the bootstrap of persons is not valid for nearest-neighbour matching with a
  fixed number of matches (Abadie and Imbens 2008), so the matching itself is *not*
  redone. Instead the estimator's first-order decomposition (Abadie and Imbens 2006,
  Theorem 1) is perturbed: ``tau - tau0`` is a sum over matched mentored persons of
  ``tau_i - tau`` (their matched differences, bias-adjusted) plus a sum over comparison
  persons used more than once of ``sqrt(K_j^2 - KK_j) e_j`` (the reuse of a comparison
  person, ``e_j`` the signed within-group residual whose square is Abadie and Imbens'
  conditional variance estimate). A draw multiplies each person's term by ``W_i - 1``
  (the same person weights ``W`` for all outcomes), so the draws are joint across outcomes
  and their variance is, in expectation over the multipliers, exactly the Abadie-Imbens
  (2006) population variance of :func:`~evaluation.design.matching.matching_att` (checked
  in the tests). The matches and the bias regression are held fixed, so the estimation of
  the propensity score is not part of the draws (as in Abadie and Imbens 2006). A plain
  reweighting of the estimator's sum over persons (Otsu and Rai 2017) needs a consistent
  outcome regression; with the linear bias regression it counted the regression's misfit
  twice and gave SEs up to twice the Abadie-Imbens ones on the default study, so it is not
  used.

Studentisation uses each estimate's bootstrap scale (IQR / 1.349 of its draws, as the SEs of
:func:`~evaluation.estimate.att.weighted_bootstrap_att`), so the adjusted p-values come with
the single-test bootstrap p-values of the same draws, and an adjusted p-value is never below
its own single-test one.

References
----------
Romano, J. P. and Wolf, M. (2005). Stepwise multiple testing as formalized data snooping.
*Econometrica* 73(4), 1237-1282.
Romano, J. P. and Wolf, M. (2016). Efficient computation of adjusted p-values for
resampling-based stepdown multiple testing. *Statistics & Probability Letters* 113, 38-40.
Clarke, D., Romano, J. P. and Wolf, M. (2020). The Romano-Wolf multiple-hypothesis
correction in Stata. *Stata Journal* 20(4), 812-843.
Otsu, T. and Rai, Y. (2017). Bootstrap inference of matching estimators for average
treatment effects. *Journal of the American Statistical Association* 112(520), 1720-1732.
Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching estimators for
average treatment effects. *Econometrica* 74(1), 235-267.
Abadie, A. and Imbens, G. W. (2008). On the failure of the bootstrap for matching
estimators. *Econometrica* 76(6), 1537-1557.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from evaluation.design.matching import match_nearest
from evaluation.design.propensity import fit_propensity
from evaluation.design.study import TREATMENT
from evaluation.estimate.att import BootstrapWeights, covariate_matrix, robust_scale

#: A matching linear representation must reproduce the matching estimate to this (absolute,
#: relative to the outcome's scale): it is the same sum in another order.
REPRESENTATION_RTOL = 1e-9


@dataclass(frozen=True)
class RomanoWolf:
    """Romano-Wolf step-down adjusted p-values of a family of estimates.

    Attributes
    ----------
    table
        One row per hypothesis (index: its name): ``estimate``, ``se_bootstrap``,
        ``t`` (``|estimate| / se_bootstrap``), ``p_bootstrap`` (single test, same draws) and
        ``p_romano_wolf`` (adjusted for the family).
    draws
        Bootstrap draws used (draws failed in any member of the family are dropped jointly).
    method
        How the joint draws were made.
    """

    table: pd.DataFrame
    draws: int
    method: str


def romano_wolf(
    estimates: Sequence[float] | np.ndarray,
    draws: np.ndarray,
    names: Sequence[str],
    *,
    se: Sequence[float] | np.ndarray | None = None,
    method: str = "",
) -> RomanoWolf:
    """Romano-Wolf step-down p-values for ``H_k: theta_k = 0``, two-sided.

    With ``t_k = |theta_k| / s_k`` and bootstrap ``t*_bk = |theta*_bk - theta_k| / s_k``,
    hypotheses are ordered by ``t`` from the largest; the ``j``-th gets
    ``p_j = (1 + #{b: max_{l >= j} t*_bl >= t_j}) / (B + 1)`` (the maximum over the
    hypotheses not yet rejected), and the adjusted p-values are made monotone,
    ``p_(j) = max(p_(j), p_(j-1))`` (Romano and Wolf 2016, Algorithm 4.1; Stata ``rwolf``).

    Parameters
    ----------
    estimates
        The ``K`` estimates.
    draws
        Their joint bootstrap draws, shape ``(B, K)``; a row with a NaN (a failed draw of
        any member) is dropped.
    names
        ``K`` labels.
    se
        Scales ``s_k``; ``None``: each column's IQR / 1.349.
    method
        Description of the draws, kept in the result.

    Returns
    -------
    RomanoWolf
    """
    est = np.asarray(estimates, float)
    draws = np.asarray(draws, float).reshape(-1, len(est))
    draws = draws[np.isfinite(draws).all(axis=1)]
    b = len(draws)
    if b < 2:
        raise ValueError("Romano-Wolf needs at least two finite joint draws")
    s = (np.array([robust_scale(draws[:, k]) for k in range(len(est))])
         if se is None else np.asarray(se, float))  # fmt: skip
    t = np.abs(est) / s
    tb = np.abs(draws - est) / s
    single = (1 + (tb >= t).sum(axis=0)) / (b + 1)
    order = np.argsort(-t, kind="stable")
    adjusted = np.empty(len(est))
    running = 0.0
    for j, k in enumerate(order):
        worst = tb[:, order[j:]].max(axis=1)
        running = max(running, (1 + np.sum(worst >= t[k])) / (b + 1))
        adjusted[k] = running
    table = pd.DataFrame(
        {"estimate": est, "se_bootstrap": s, "t": t, "p_bootstrap": single,
         "p_romano_wolf": adjusted},
        index=pd.Index(list(names), name="hypothesis"),
    )  # fmt: skip
    return RomanoWolf(table=table, draws=int(b), method=method)


@dataclass(frozen=True)
class LinearRepresentation:
    """A matching estimate's first-order decomposition (see the module docstring).

    Attributes
    ----------
    treated
        Row positions of the matched mentored persons.
    tau_i
        Their matched differences (bias-adjusted), in the order of ``treated``.
    control
        Row positions of the comparison persons used.
    reuse
        ``sqrt(K_j^2 - KK_j) e_j`` of each, in the order of ``control``.
    estimate
        ``tau_i.mean()``: the matching estimate.
    """

    treated: np.ndarray
    tau_i: np.ndarray
    control: np.ndarray
    reuse: np.ndarray
    estimate: float

    @property
    def variance(self) -> float:
        """The multiplier draws' variance: the Abadie-Imbens (2006) population variance."""
        n1 = len(self.tau_i)
        return float((np.sum((self.tau_i - self.estimate) ** 2) + np.sum(self.reuse**2)) / n1**2)


def _within_residual(z: np.ndarray, y: np.ndarray, group: np.ndarray, targets: np.ndarray,
                     tie_tol: float) -> np.ndarray:  # fmt: skip
    """Signed ``sqrt(J/(J+1)) (Y_j - mean of its nearest same-group units)``, ties included.

    Its square is Abadie and Imbens' (2006, eq. 14) conditional variance estimate with
    ``J = 1`` (more than one neighbour only in a tie), as ``matching_att`` uses by default.
    """
    gpos = np.flatnonzero(group)
    out = np.zeros(len(targets))
    if len(gpos) < 2:
        return np.full(len(targets), np.nan)
    tree = cKDTree(z[gpos])
    dist, _ = tree.query(z[targets], k=2)
    radius = np.sqrt(np.asarray(dist)[:, 1] ** 2 + tie_tol) * (1 + 1e-9) + 1e-12
    local = np.searchsorted(gpos, targets)
    for i, cand in enumerate(tree.query_ball_point(z[targets], radius)):
        c = np.asarray(cand, dtype=np.intp)
        c = c[c != local[i]]
        d2 = ((z[gpos[c]] - z[targets[i]]) ** 2).sum(axis=1)
        c = c[d2 <= d2.min() + tie_tol]
        j = len(c)
        out[i] = np.sqrt(j / (j + 1)) * (y[targets[i]] - y[gpos[c]].mean())
    return out


def matching_representation(
    sample: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    options: Mapping[str, object],
) -> LinearRepresentation:
    """The first-order decomposition of the study's matching estimate on one outcome.

    Repeats what :func:`~evaluation.estimate.att.estimate_att` does for
    ``method="matching"`` with the effects notebook's options (propensity logit on
    ``covariates``, nearest neighbours on its linear predictor, bias adjustment on the
    covariates fitted on the matched comparison persons weighted by ``K_j``), and keeps the
    per-person terms. ``sample`` is the outcome's estimation sample (rows with the outcome,
    inside category support); not modified.
    """
    opts = dict(options)
    if opts.pop("distance", "logit") != "logit" or opts.pop("bias_sample", "matched") != "matched":
        raise ValueError("the linear representation follows the study's matching: logit "
                         "distance, bias regression on the matched controls")  # fmt: skip
    if opts.get("var_matches", 1) != 1:
        raise ValueError("the decomposition uses Abadie-Imbens residuals with one match (J=1)")
    fit = fit_propensity(sample, TREATMENT, list(covariates))
    mkeys = ("k", "replace", "caliper", "exact", "ties", "metric", "order", "tie_tol")
    m = match_nearest(sample, TREATMENT, distance=fit.linear_predictor,
                      **{k: opts[k] for k in mkeys if k in opts})  # fmt: skip
    y = sample[outcome].to_numpy(dtype=float)
    n = len(y)
    tp, cp, w = m.pair_positions
    k_j = np.bincount(cp, weights=w, minlength=n)
    kk_j = np.bincount(cp, weights=w**2, minlength=n)
    mu0 = np.zeros(n)
    if opts.get("bias_adjust"):
        xb = covariate_matrix(sample, covariates, None, fit)
        used = k_j > 0
        sw = np.sqrt(k_j[used])
        xw = np.column_stack([np.ones(int(used.sum())), xb[used]]) * sw[:, None]
        mu0 = xb @ np.linalg.lstsq(xw, y[used] * sw, rcond=None)[0][1:]
    ut = np.unique(tp)
    tau_i = np.bincount(tp, weights=w * (y[tp] - y[cp] - (mu0[tp] - mu0[cp])), minlength=n)[ut]
    used = np.flatnonzero(k_j > 0)
    e = _within_residual(m.coords, y, ~m.treated, used, m.tie_tol)
    reuse = np.sqrt(np.clip(k_j[used] ** 2 - kk_j[used], 0.0, None)) * e
    return LinearRepresentation(treated=ut, tau_i=tau_i, control=used, reuse=reuse,
                                estimate=float(tau_i.mean()))  # fmt: skip


def representation_draws(
    rep: LinearRepresentation, weights: BootstrapWeights, rows: np.ndarray
) -> np.ndarray:
    """Multiplier draws ``tau + (sum_i V_i (tau_i - tau) + sum_j V_j reuse_j) / N1``.

    ``V = W - 1`` from the person weights (mean 0, variance 1), so that the draws of every
    outcome use the same multiplier for the same person; ``rows`` are the sample's persons'
    positions among ``weights.n``. One value per draw.
    """
    rows = np.asarray(rows, dtype=np.int64)
    n1 = len(rep.tau_i)
    out = np.empty(weights.draws)
    pick = np.concatenate([rows[rep.treated], rows[rep.control]])
    terms = np.concatenate([rep.tau_i - rep.estimate, rep.reuse])
    for start, w in weights.blocks(pick):
        out[start : start + len(w)] = rep.estimate + ((w - 1.0) @ terms) / n1
    return out
