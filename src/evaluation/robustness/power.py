"""Ex-ante power: the minimum detectable effect (MDE) of a two-group comparison.

The MDE is the smallest true difference in means that a two-sided test at level ``alpha``
detects with probability ``power``, for the numbers of mentored and (effective) comparison
persons the study actually has, and an outcome standard deviation taken from the
*pre-period* (before anyone was mentored), never from the estimated effect: post-hoc
("observed") power is a transformation of the p-value and says nothing new (Hoenig and
Heisey 2001).

With ``n1`` treated, ``n0`` controls and outcome SD ``sigma`` (equal in both groups) the
standard error of the difference in means is ``se = sigma * sqrt(1/n1 + 1/n0) *
sqrt(deff)``, and the power of the two-sided z-test against a true difference ``delta`` is

    power(delta) = Phi(delta / se - z) + Phi(-delta / se - z),   z = Phi^{-1}(1 - alpha/2)

(both rejection regions counted, as ``statsmodels.stats.power.NormalIndPower``). The MDE
solves ``power(MDE) = power``; it is close to the familiar ``(z_{1-alpha/2} + z_{power})
* se`` (Bloom 1995), which ignores the far tail.

Matching with ``k`` neighbours and replacement: the matching estimator's control mean is a
weighted mean of the matched controls with weights ``K_j / k`` (``K_j`` the number of times
control ``j`` is used), so its variance is ``sigma^2 sum_j w_j^2 / n1^2 = sigma^2 / ESS``
with ``ESS`` Kish's effective number of controls. Use ``n0 = ESS`` and ``deff = 1``; the
design effect of the reuse, relative to ``k`` distinct controls per treated, is
:func:`matching_design_effect`.

References
----------
Bloom, H. S. (1995). Minimum detectable effects: a simple way to report the statistical
power of experimental designs. *Evaluation Review* 19(5), 547-556.
Hoenig, J. M. and Heisey, D. M. (2001). The abuse of power: the pervasive fallacy of power
calculations for data analysis. *The American Statistician* 55(1), 19-24.
Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching estimators for
average treatment effects. *Econometrica* 74(1), 235-267 (the ``K_M(j)`` weights).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats


@dataclass(frozen=True)
class MDEResult:
    """The minimum detectable effect of one comparison.

    Attributes
    ----------
    mde
        Minimum detectable difference in means, in outcome units (for a 0/1 outcome: a
        share; multiply by 100 for percentage points).
    mde_standardised
        ``mde / sigma`` (Cohen's d; what ``statsmodels`` solves for).
    se
        Standard error of the difference under the stated design.
    sigma
        Outcome standard deviation used.
    n_treated, n_control
        Group sizes used (``n_control`` may be an effective size, hence a float).
    design_effect
        Variance inflation applied (1: none).
    alpha, power
        Two-sided test level and target power.
    """

    mde: float
    mde_standardised: float
    se: float
    sigma: float
    n_treated: float
    n_control: float
    design_effect: float
    alpha: float
    power: float


def _critical(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    return float(stats.norm.isf(alpha / 2))


def difference_se(
    sigma: float, n_treated: float, n_control: float, design_effect: float = 1.0
) -> float:
    """Standard error of a difference in means: ``sigma sqrt(1/n1 + 1/n0) sqrt(deff)``."""
    if sigma < 0 or n_treated <= 0 or n_control <= 0 or design_effect <= 0:
        raise ValueError("sigma must be >= 0, group sizes and the design effect > 0")
    return float(sigma * math.sqrt(1.0 / n_treated + 1.0 / n_control) * math.sqrt(design_effect))


def power_at(effect: float | np.ndarray, se: float, alpha: float = 0.05) -> float | np.ndarray:
    """Power of the two-sided z-test with standard error ``se`` against true ``effect``.

    Parameters
    ----------
    effect
        True difference(s) in outcome units.
    se
        Standard error of the estimated difference.
    alpha
        Two-sided level.

    Returns
    -------
    float or numpy.ndarray
        ``Phi(effect/se - z) + Phi(-effect/se - z)`` (both tails, as statsmodels).
    """
    z = _critical(alpha)
    ratio = np.asarray(effect, dtype=float) / se
    out = stats.norm.cdf(ratio - z) + stats.norm.cdf(-ratio - z)
    return float(out) if np.ndim(out) == 0 else out


def minimum_detectable_effect(
    sigma: float,
    n_treated: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.80,
    design_effect: float = 1.0,
) -> MDEResult:
    """Minimum detectable effect of a two-sided z-test of a difference in means.

    Parameters
    ----------
    sigma
        Outcome standard deviation (ex ante: from the pre-period; for a share ``p``,
        ``sqrt(p (1 - p))``).
    n_treated, n_control
        Group sizes (for matching: matched treated and the effective number of controls).
    alpha
        Two-sided level.
    power
        Target power, in ``(alpha/2, 1)``.
    design_effect
        Variance inflation (e.g. clustering); 1 for none.

    Returns
    -------
    MDEResult
        ``mde`` solves ``power_at(mde, se, alpha) = power`` exactly (Brent's method).
    """
    if not alpha / 2 < power < 1:
        raise ValueError("power must lie between alpha/2 and 1")
    se = difference_se(sigma, n_treated, n_control, design_effect)
    if se == 0:
        mde = 0.0
    else:
        z = _critical(alpha)
        hi = (z + float(stats.norm.ppf(power)) + 1.0) * se
        mde = float(optimize.brentq(lambda d: power_at(d, se, alpha) - power, 0.0, hi, xtol=1e-12))
    return MDEResult(
        mde=mde,
        mde_standardised=mde / sigma if sigma > 0 else float("nan"),
        se=se,
        sigma=float(sigma),
        n_treated=float(n_treated),
        n_control=float(n_control),
        design_effect=float(design_effect),
        alpha=float(alpha),
        power=float(power),
    )


def binary_sd(p: float) -> float:
    """Standard deviation ``sqrt(p (1 - p))`` of a 0/1 outcome with mean ``p``."""
    if not 0 <= p <= 1:
        raise ValueError("a share must lie in [0, 1]")
    return float(math.sqrt(p * (1.0 - p)))


def kish_ess(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of non-negative weights."""
    w = np.asarray(weights, dtype=float)
    w = w[w > 0]
    if len(w) == 0:
        raise ValueError("no positive weight")
    return float(w.sum() ** 2 / (w**2).sum())


def matching_design_effect(n_treated: float, ess_control: float, k: int) -> float:
    """Variance of a k-neighbour matching contrast relative to k distinct controls each.

    ``(1/n1 + 1/ESS) / (1/n1 + 1/(k n1))``: 1 when no control is reused, above 1 with
    reuse (the price of matching with replacement).
    """
    if n_treated <= 0 or ess_control <= 0 or k < 1:
        raise ValueError("group sizes must be positive and k >= 1")
    return float((1 / n_treated + 1 / ess_control) / (1 / n_treated + 1 / (k * n_treated)))


@dataclass(frozen=True)
class MatchedPower:
    """The ex-ante MDE of the matched comparison at each horizon (:func:`matched_mde`).

    Attributes
    ----------
    table
        Index ``horizon``; ``pre_month`` (the month before start whose employment gives the
        spread, negative), ``pre_share`` (its share employed, the mean of the matched mentored's
        and their matches' weighted share), ``sd``, ``mde`` and ``se``.
    by_horizon
        The :class:`MDEResult` of each horizon.
    n_treated
        Matched mentored persons (positive matching weight).
    ess_control
        Kish's effective number of matched comparison persons.
    design_effect
        :func:`matching_design_effect` of the reuse of comparison persons.
    treated, control
        Row masks of the sample: matched mentored, matched comparison persons.
    observed
        Per horizon, the rows whose pre-period month is observed (the shares rest on them).
    """

    table: pd.DataFrame
    by_horizon: dict[int, MDEResult]
    n_treated: int
    ess_control: float
    design_effect: float
    treated: np.ndarray = field(repr=False, compare=False)
    control: np.ndarray = field(repr=False, compare=False)
    observed: Mapping[int, np.ndarray] = field(repr=False, compare=False)


def matched_mde(
    treated: np.ndarray,
    weights: np.ndarray,
    pre_employed: Mapping[int, np.ndarray],
    horizons: Sequence[int],
    pre_months: int,
    *,
    neighbours: int,
    alpha: float = 0.05,
    power: float = 0.80,
) -> MatchedPower:
    """Minimum detectable effect of the matched comparison, with the spread from the pre-period.

    For horizon ``h`` the outcome's standard deviation is ``sqrt(p (1 - p))`` of the share
    ``p`` employed in month ``start - min(h, pre_months)``, before anyone was mentored:
    the mean of the matched mentored's share and their matches' share weighted by the
    matching weights. The group sizes are the matched mentored and Kish's effective number of
    matched comparison persons (:func:`kish_ess`; a comparison person reused by several
    mentored counts less); no gain from covariate adjustment is assumed (conservative).

    Parameters
    ----------
    treated
        0/1 (or bool) treatment of each row of the analysis sample.
    weights
        Matching weights of the rows (0: not matched).
    pre_employed
        Month ``m`` before start -> 0/1 employment of each row in that month (NaN: not
        observed), for every ``m = min(h, pre_months)`` of the horizons.
    horizons
        Months after start.
    pre_months
        The study's pre-period (``outcomes.pre_months``).
    neighbours
        Comparison persons matched to each mentored person (for the design effect).
    alpha, power
        Two-sided level and target power.

    Returns
    -------
    MatchedPower
    """
    d = np.asarray(treated) == 1
    w = np.asarray(weights, dtype=float)
    t_rows, c_rows = (w > 0) & d, (w > 0) & ~d
    n1 = int(t_rows.sum())
    ess = kish_ess(w[~d])
    deff = matching_design_effect(n1, ess, neighbours)
    rows, results, observed = [], {}, {}
    for h in horizons:
        m = min(int(h), int(pre_months))
        y = np.asarray(pre_employed[m], dtype=float)
        ok = ~np.isnan(y)
        p_t = np.average(y[ok & t_rows])
        p_c = np.average(y[ok & c_rows], weights=w[ok & c_rows])
        share = 0.5 * (p_t + p_c)
        mde = minimum_detectable_effect(binary_sd(share), n1, ess, alpha=alpha, power=power)
        results[int(h)] = mde
        observed[int(h)] = ok
        rows.append({"horizon": int(h), "pre_month": -m, "pre_share": share, "sd": mde.sigma,
                     "mde": mde.mde, "se": mde.se})  # fmt: skip
    return MatchedPower(
        table=pd.DataFrame(rows).set_index("horizon"), by_horizon=results, n_treated=n1,
        ess_control=ess, design_effect=deff, treated=t_rows, control=c_rows, observed=observed,
    )  # fmt: skip
