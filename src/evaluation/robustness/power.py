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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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


def difference_se(sigma: float, n_treated: float, n_control: float, design_effect: float = 1.0) -> float:
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
