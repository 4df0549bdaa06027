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
  redone. Instead the estimator's linear representation is reweighted (Otsu and Rai 2017):
  ``tau = sum_i xi_i / N1`` with ``xi_i = Y_i - mu0(X_i)`` for a matched mentored person
  and ``xi_j = -K_j (Y_j - mu0(X_j))`` for a comparison person used ``K_j`` times (``mu0``
  the bias-adjustment regression, zero without it), and a draw is
  ``sum_i W_i xi_i / sum_i W_i m_i`` (``m_i`` = 1 for a matched mentored person) with the
  same person weights ``W`` for all outcomes. Otsu and Rai show that this weighted bootstrap
  of the linear representation is valid where the bootstrap of the matching is not. The
  matches and ``mu0`` are held fixed, so the estimation of the propensity score is not part
  of the draws (as in Abadie and Imbens 2006).

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
Abadie, A. and Imbens, G. W. (2008). On the failure of the bootstrap for matching
estimators. *Econometrica* 76(6), 1537-1557.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    """A matching estimate as a sum over persons (see the module docstring).

    Attributes
    ----------
    xi
        Each person's term ``xi_i`` (zero for persons the matching does not use).
    matched
        1 for a matched mentored person, else 0 (``N1 = matched.sum()``).
    estimate
        ``xi.sum() / matched.sum()``: the matching estimate.
    """

    xi: np.ndarray
    matched: np.ndarray
    estimate: float


def matching_representation(
    sample: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    options: Mapping[str, object],
) -> LinearRepresentation:
    """The linear representation of the study's matching estimate on one outcome.

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
    fit = fit_propensity(sample, TREATMENT, list(covariates))
    mkeys = ("k", "replace", "caliper", "exact", "ties", "metric", "order", "tie_tol")
    m = match_nearest(sample, TREATMENT, distance=fit.linear_predictor,
                      **{k: opts[k] for k in mkeys if k in opts})  # fmt: skip
    y = sample[outcome].to_numpy(dtype=float)
    n = len(y)
    tp, cp, w = m.pair_positions
    k_j = np.bincount(cp, weights=w, minlength=n)
    mu0 = np.zeros(n)
    if opts.get("bias_adjust"):
        xb = covariate_matrix(sample, covariates, None, fit)
        used = k_j > 0
        sw = np.sqrt(k_j[used])
        xw = np.column_stack([np.ones(int(used.sum())), xb[used]]) * sw[:, None]
        mu0 = xb @ np.linalg.lstsq(xw, y[used] * sw, rcond=None)[0][1:]
    matched = np.zeros(n)
    matched[np.unique(tp)] = 1.0
    xi = matched * (y - mu0) - k_j * (y - mu0)
    return LinearRepresentation(xi=xi, matched=matched, estimate=float(xi.sum() / matched.sum()))


def representation_draws(
    rep: LinearRepresentation, weights: BootstrapWeights, rows: np.ndarray
) -> np.ndarray:
    """Weighted-bootstrap draws ``sum W xi / sum W m`` of a linear representation.

    ``rows`` are the sample's persons' positions among ``weights.n``; one value per draw.
    """
    out = np.empty(weights.draws)
    for start, w in weights.blocks(rows):
        out[start : start + len(w)] = (w @ rep.xi) / (w @ rep.matched)
    return out
