"""Inverse-variance meta-analysis of site effects: fixed effect, random effects, heterogeneity.

Every function takes the site estimates ``y`` and their sampling variances ``v`` (squared
standard errors) and returns a small frozen dataclass. The formulas:

* **Fixed effect** (common effect): weights ``w_i = 1 / v_i``; ``mu = sum(w y) / sum(w)``,
  ``se = sqrt(1 / sum(w))``, normal interval.
* **Cochran's Q** ``= sum(w (y - mu_FE)^2)`` on ``k - 1`` degrees of freedom;
  ``H^2 = Q / (k - 1)``; ``I^2 = max(0, (Q - (k - 1)) / Q)`` (Higgins and Thompson 2002).
* **Between-site variance tau^2**:

  - DerSimonian and Laird (1986): ``max(0, (Q - (k - 1)) / (W - sum(w^2) / W))``;
  - Paule and Mandel (1982): the ``tau^2 >= 0`` at which the generalised Q with weights
    ``1 / (v + tau^2)`` equals ``k - 1`` (solved by bracketing; 0 if Q <= k - 1);
  - REML (Viechtbauer 2005, eq. 12): the fixed point of
    ``tau^2 = sum(w^2 ((y - mu)^2 - v)) / sum(w^2) + 1 / sum(w)`` with ``w = 1 / (v + tau^2)``,
    truncated at 0.

* **Random effects**: weights ``1 / (v + tau^2)``; ``se = sqrt(1 / sum(w))`` and a normal
  interval, or with the **Hartung-Knapp** (Sidik-Jonkman) adjustment
  ``se_HK^2 = sum(w (y - mu)^2) / ((k - 1) sum(w))`` and a t interval on ``k - 1`` degrees of
  freedom (Hartung and Knapp 2001; IntHout, Ioannidis and Borm 2014). Not truncated, as in
  statsmodels' ``combine_effects``.
* **Prediction interval** for the effect at a new site (Higgins, Thompson and Spiegelhalter
  2009): ``mu +/- t_{k-2} sqrt(tau^2 + se^2)``, defined for ``k >= 3``.
* **Leave one site out**: the same random-effects analysis without each site in turn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, stats

Tau2Method = Literal["dersimonian_laird", "paule_mandel", "reml"]
TAU2_METHODS: tuple[Tau2Method, ...] = ("dersimonian_laird", "paule_mandel", "reml")

#: Convergence tolerance (absolute, on tau^2) of the iterative tau^2 estimators.
TAU2_TOL = 1e-12
#: Iterations allowed to the REML fixed point.
REML_MAXITER = 10_000


@dataclass(frozen=True)
class Pooled:
    """One pooled estimate with its inference.

    Attributes
    ----------
    model
        ``"fixed"``, ``"random"`` or ``"random_hk"`` (Hartung-Knapp).
    tau2_method
        How tau^2 was estimated (``None`` for the fixed-effect model).
    estimate, se, ci_low, ci_high, p_value
        The pooled effect, its standard error, interval at ``level`` and two-sided p-value.
    df
        Degrees of freedom of the t reference distribution (``None``: normal).
    tau2
        The between-site variance used in the weights (0 for the fixed-effect model).
    level
        Confidence level.
    """

    model: str
    tau2_method: str | None
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    df: int | None
    tau2: float
    level: float


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q and the measures built on it."""

    q: float
    df: int
    p_value: float
    h2: float
    i2: float


@dataclass(frozen=True)
class MetaAnalysis:
    """A whole meta-analysis of ``k`` site estimates.

    Attributes
    ----------
    names
        Site names, in input order.
    fixed, random, random_hk
        Fixed effect; random effects (normal interval); random effects with Hartung-Knapp.
    heterogeneity
        Q, I^2, H^2.
    tau2
        tau^2 by every method (``dersimonian_laird``, ``paule_mandel``, ``reml``).
    tau2_method
        The method used for ``random`` and ``random_hk``.
    prediction_low, prediction_high
        Prediction interval for a new site (``None`` if ``k < 3``).
    weights_fixed, weights_random
        Relative weights (summing to 1) of each site.
    """

    names: tuple[str, ...]
    fixed: Pooled
    random: Pooled
    random_hk: Pooled
    heterogeneity: Heterogeneity
    tau2: dict[str, float]
    tau2_method: str
    prediction_low: float | None
    prediction_high: float | None
    weights_fixed: tuple[float, ...]
    weights_random: tuple[float, ...]

    @property
    def k(self) -> int:
        """Number of sites."""
        return len(self.names)

    @property
    def tau(self) -> float:
        """Square root of the tau^2 used."""
        return math.sqrt(self.random.tau2)


def _arrays(y: Sequence[float], v: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=np.float64)
    v_arr = np.asarray(v, dtype=np.float64)
    if y_arr.ndim != 1 or y_arr.shape != v_arr.shape:
        raise ValueError("effects and variances must be 1-D and of the same length")
    if len(y_arr) < 1:
        raise ValueError("at least one site estimate is needed")
    if not (np.all(np.isfinite(y_arr)) and np.all(np.isfinite(v_arr)) and np.all(v_arr > 0)):
        raise ValueError("effects must be finite and variances finite and positive")
    return y_arr, v_arr


def _weighted_mean(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * y) / np.sum(w))


def _pooled(
    model: str,
    tau2_method: str | None,
    estimate: float,
    se: float,
    df: int | None,
    tau2: float,
    level: float,
) -> Pooled:
    dist = stats.norm if df is None else stats.t(df)
    crit = float(dist.isf((1 - level) / 2))
    z = estimate / se
    p = float(2 * dist.sf(abs(z)))
    return Pooled(model, tau2_method, estimate, se, estimate - crit * se, estimate + crit * se,
                  p, df, tau2, level)  # fmt: skip


def fixed_effect(y: Sequence[float], v: Sequence[float], *, level: float = 0.95) -> Pooled:
    """Inverse-variance fixed-effect (common-effect) estimate."""
    y_arr, v_arr = _arrays(y, v)
    w = 1.0 / v_arr
    mu = _weighted_mean(y_arr, w)
    return _pooled("fixed", None, mu, math.sqrt(1.0 / w.sum()), None, 0.0, level)


def cochran_q(y: Sequence[float], v: Sequence[float]) -> Heterogeneity:
    """Cochran's Q with its chi-square p-value, H^2 and I^2 (Higgins and Thompson 2002)."""
    y_arr, v_arr = _arrays(y, v)
    k = len(y_arr)
    if k < 2:
        raise ValueError("heterogeneity needs at least two sites")
    w = 1.0 / v_arr
    q = float(np.sum(w * (y_arr - _weighted_mean(y_arr, w)) ** 2))
    df = k - 1
    h2 = q / df
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return Heterogeneity(q=q, df=df, p_value=float(stats.chi2.sf(q, df)), h2=h2, i2=i2)


def tau2_dersimonian_laird(y: Sequence[float], v: Sequence[float]) -> float:
    """DerSimonian-Laird moment estimate of tau^2 (truncated at 0)."""
    y_arr, v_arr = _arrays(y, v)
    het = cochran_q(y_arr, v_arr)
    w = 1.0 / v_arr
    c = w.sum() - np.sum(w**2) / w.sum()
    return max(0.0, (het.q - het.df) / float(c))


def _generalised_q(t: float, y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / (v + t)
    return float(np.sum(w * (y - _weighted_mean(y, w)) ** 2))


def tau2_paule_mandel(y: Sequence[float], v: Sequence[float]) -> float:
    """Paule-Mandel estimate: the tau^2 at which the generalised Q equals ``k - 1``."""
    y_arr, v_arr = _arrays(y, v)
    df = len(y_arr) - 1
    if df < 1:
        raise ValueError("tau^2 needs at least two sites")
    if _generalised_q(0.0, y_arr, v_arr) <= df:
        return 0.0
    # Q(t) decreases in t: find an upper bound, then the root
    hi = max(float(np.var(y_arr, ddof=1)), float(v_arr.max()), 1e-12)
    while _generalised_q(hi, y_arr, v_arr) > df:
        hi *= 2.0
    return float(
        optimize.brentq(
            lambda t: _generalised_q(t, y_arr, v_arr) - df,
            0.0,
            hi,
            xtol=TAU2_TOL,
            rtol=1e-14,
            maxiter=500,
        )  # fmt: skip
    )


def tau2_reml(y: Sequence[float], v: Sequence[float]) -> float:
    """Restricted maximum-likelihood estimate of tau^2 (Viechtbauer 2005, fixed point).

    Starts at the DerSimonian-Laird value and iterates until tau^2 moves by less than
    ``TAU2_TOL``; raises if it does not converge within ``REML_MAXITER`` steps.
    """
    y_arr, v_arr = _arrays(y, v)
    if len(y_arr) < 2:
        raise ValueError("tau^2 needs at least two sites")
    t = tau2_dersimonian_laird(y_arr, v_arr)
    for _ in range(REML_MAXITER):
        w = 1.0 / (v_arr + t)
        mu = _weighted_mean(y_arr, w)
        new = float(np.sum(w**2 * ((y_arr - mu) ** 2 - v_arr)) / np.sum(w**2) + 1.0 / w.sum())
        new = max(0.0, new)
        if abs(new - t) < TAU2_TOL:
            return new
        t = new
    raise ValueError(f"REML estimate of tau^2 did not converge in {REML_MAXITER} iterations")


def reml_loglik(tau2: float, y: Sequence[float], v: Sequence[float]) -> float:
    """The restricted log-likelihood of the random-effects model at ``tau2`` (up to a constant)."""
    y_arr, v_arr = _arrays(y, v)
    w = 1.0 / (v_arr + tau2)
    mu = _weighted_mean(y_arr, w)
    return float(
        -0.5 * np.sum(np.log(v_arr + tau2))
        - 0.5 * math.log(w.sum())
        - 0.5 * np.sum(w * (y_arr - mu) ** 2)
    )


TAU2_ESTIMATORS = {
    "dersimonian_laird": tau2_dersimonian_laird,
    "paule_mandel": tau2_paule_mandel,
    "reml": tau2_reml,
}


def random_effects(
    y: Sequence[float],
    v: Sequence[float],
    tau2: float,
    *,
    tau2_method: str,
    hartung_knapp: bool = False,
    level: float = 0.95,
) -> Pooled:
    """Inverse-variance random-effects estimate for a given tau^2 (optionally Hartung-Knapp)."""
    y_arr, v_arr = _arrays(y, v)
    k = len(y_arr)
    w = 1.0 / (v_arr + tau2)
    mu = _weighted_mean(y_arr, w)
    if not hartung_knapp:
        return _pooled("random", tau2_method, mu, math.sqrt(1.0 / w.sum()), None, tau2, level)
    if k < 2:
        raise ValueError("the Hartung-Knapp adjustment needs at least two sites")
    var_hk = float(np.sum(w * (y_arr - mu) ** 2) / ((k - 1) * w.sum()))
    if var_hk <= 0.0:
        # identical site estimates: the Hartung-Knapp variance is zero (an interval of no
        # width, a division by zero in the test). Knapp and Hartung's (2003) ad hoc floor,
        # applied only here: the ordinary random-effects variance, still with t(k - 1).
        var_hk = float(1.0 / w.sum())
    return _pooled("random_hk", tau2_method, mu, math.sqrt(var_hk), k - 1, tau2, level)


def prediction_interval(
    estimate: float, se: float, tau2: float, k: int, *, level: float = 0.95
) -> tuple[float, float] | None:
    """Interval for the true effect at a new site (Higgins et al. 2009); ``None`` if ``k < 3``."""
    if k < 3:
        return None
    half = float(stats.t.isf((1 - level) / 2, k - 2)) * math.sqrt(tau2 + se**2)
    return estimate - half, estimate + half


def meta_analysis(
    y: Sequence[float],
    v: Sequence[float],
    names: Sequence[str] | None = None,
    *,
    tau2_method: Tau2Method = "paule_mandel",
    level: float = 0.95,
) -> MetaAnalysis:
    """Fixed-effect and random-effects meta-analysis of ``k >= 2`` site estimates.

    Parameters
    ----------
    y, v
        Site estimates and their sampling variances (squared standard errors).
    names
        Site names (default ``site1``, ``site2``, ...).
    tau2_method
        tau^2 estimator of the random-effects model (all three are reported in ``tau2``).
    level
        Confidence level of the intervals.
    """
    y_arr, v_arr = _arrays(y, v)
    k = len(y_arr)
    if k < 2:
        raise ValueError("a meta-analysis needs at least two sites")
    if tau2_method not in TAU2_ESTIMATORS:
        raise ValueError(f"tau2_method must be one of {TAU2_METHODS}, got {tau2_method!r}")
    labels = tuple(names) if names is not None else tuple(f"site{i + 1}" for i in range(k))
    if len(labels) != k:
        raise ValueError("one name per site is needed")
    tau2_all = {m: f(y_arr, v_arr) for m, f in TAU2_ESTIMATORS.items()}
    tau2 = tau2_all[tau2_method]
    fe = fixed_effect(y_arr, v_arr, level=level)
    re = random_effects(y_arr, v_arr, tau2, tau2_method=tau2_method, level=level)
    hk = random_effects(y_arr, v_arr, tau2, tau2_method=tau2_method, hartung_knapp=True,
                        level=level)  # fmt: skip
    pi = prediction_interval(re.estimate, re.se, tau2, k, level=level)
    w_fe = 1.0 / v_arr
    w_re = 1.0 / (v_arr + tau2)
    return MetaAnalysis(
        names=labels,
        fixed=fe,
        random=re,
        random_hk=hk,
        heterogeneity=cochran_q(y_arr, v_arr),
        tau2=tau2_all,
        tau2_method=tau2_method,
        prediction_low=None if pi is None else pi[0],
        prediction_high=None if pi is None else pi[1],
        weights_fixed=tuple(float(x) for x in w_fe / w_fe.sum()),
        weights_random=tuple(float(x) for x in w_re / w_re.sum()),
    )


@dataclass(frozen=True)
class LeaveOneOut:
    """The random-effects (Hartung-Knapp) estimate without one site."""

    left_out: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    i2: float


def leave_one_out(
    y: Sequence[float],
    v: Sequence[float],
    names: Sequence[str],
    *,
    tau2_method: Tau2Method = "paule_mandel",
    level: float = 0.95,
) -> list[LeaveOneOut]:
    """Leave each site out in turn (needs ``k >= 3``, so that two sites remain)."""
    y_arr, v_arr = _arrays(y, v)
    if len(y_arr) < 3:
        raise ValueError("leaving one site out needs at least three sites")
    out = []
    for i, name in enumerate(names):
        keep = np.arange(len(y_arr)) != i
        res = meta_analysis(y_arr[keep], v_arr[keep], tau2_method=tau2_method, level=level)
        hk = res.random_hk
        out.append(LeaveOneOut(name, hk.estimate, hk.se, hk.ci_low, hk.ci_high, hk.tau2,
                               res.heterogeneity.i2))  # fmt: skip
    return out
