"""Sensitivity to unobserved confounding: the E-value and Rosenbaum bounds.

Both ask how strong a confounder the registers do not record (motivation, say) would have
to be to explain an estimate away.

* The **E-value** (VanderWeele and Ding 2017) is the minimum strength of association, on
  the risk-ratio scale, that an unmeasured confounder would need with both the treatment
  and the outcome, conditional on the measured covariates, to move the observed risk ratio
  to 1 (or to move its confidence interval to include 1). For ``RR >= 1``:
  ``E = RR + sqrt(RR (RR - 1))``; for ``RR < 1`` apply it to ``1 / RR``. For the
  confidence interval use the limit closest to 1; if the interval includes 1, ``E = 1``.
* **Rosenbaum bounds** (Rosenbaum 2002, Sections 4.3-4.4) for matched pairs with a binary
  outcome: if an unobserved factor can make one person of a pair up to ``Gamma`` times as
  likely as the other to be treated (odds), then in each *discordant* pair (one employed,
  one not) the chance that the employed one is the treated one is at most
  ``Gamma / (1 + Gamma)``. The McNemar-type statistic ``T`` (discordant pairs where the
  treated is the employed one, out of ``D``) then has the upper-bound one-sided p-value
  ``P(Binomial(D, Gamma/(1+Gamma)) >= T)``; the sensitivity value is the ``Gamma`` at
  which this bound reaches ``alpha``.

References
----------
VanderWeele, T. J. and Ding, P. (2017). Sensitivity analysis in observational research:
introducing the E-value. *Annals of Internal Medicine* 167(4), 268-274.
Ding, P. and VanderWeele, T. J. (2016). Sensitivity analysis without assumptions.
*Epidemiology* 27(3), 368-377.
Rosenbaum, P. R. (2002). *Observational Studies*, 2nd ed. Springer, ch. 4.
Keele, L. (2010). An overview of rbounds: an R package for Rosenbaum bounds sensitivity
analysis with matched data (``binarysens``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evaluation.design.matching import match_nearest


def evalue_rr(rr: float) -> float:
    """E-value of a point estimate on the risk-ratio scale (VanderWeele and Ding 2017, eq. 2).

    Parameters
    ----------
    rr
        Observed risk ratio (> 0).

    Returns
    -------
    float
        ``RR* + sqrt(RR* (RR* - 1))`` with ``RR* = max(RR, 1/RR)``.
    """
    if not rr > 0 or not math.isfinite(rr):
        raise ValueError("a risk ratio must be positive and finite")
    r = rr if rr >= 1 else 1.0 / rr
    return float(r + math.sqrt(r * (r - 1.0)))


def evalue_ci(rr: float, lo: float, hi: float) -> float:
    """E-value of the confidence limit closest to the null (1 if the interval covers 1)."""
    if not 0 < lo <= hi:
        raise ValueError("the confidence limits must satisfy 0 < lo <= hi")
    if lo <= 1 <= hi:
        return 1.0
    return evalue_rr(lo if rr >= 1 else hi)


@dataclass(frozen=True)
class EValue:
    """E-values of a risk difference on a binary outcome, converted to a risk ratio.

    Attributes
    ----------
    rd, rd_low, rd_high
        The risk difference (treated minus counterfactual) and its confidence interval.
    baseline
        The risk ``p0`` without treatment used for the conversion (for an ATT, the
        counterfactual risk of the treated the estimator implies, see :func:`evalue_att`).
    rr, rr_low, rr_high
        ``(p0 + rd) / p0`` and the same for the limits (``p0`` held fixed); a limit whose
        implied risk is not positive is set to a tiny positive ratio.
    evalue, evalue_ci
        E-value of the point estimate and of the confidence limit closest to 1.
    """

    rd: float
    rd_low: float
    rd_high: float
    baseline: float
    rr: float
    rr_low: float
    rr_high: float
    evalue: float
    evalue_ci: float


def evalue_risk_difference(rd: float, rd_low: float, rd_high: float, baseline: float) -> EValue:
    """E-values of a risk difference via the risk ratio ``RR = (p0 + RD) / p0``.

    The conversion holds the baseline risk ``p0`` fixed (for an ATT the counterfactual share
    employed among the mentored, :func:`evalue_att`), so that ``RR`` is the ratio of the
    treated to the counterfactual share; the confidence limits of ``RD`` map to limits of
    ``RR`` the same way (VanderWeele and Ding 2017, Table, "risk difference" row, use the
    risk ratio of the two risks).

    Parameters
    ----------
    rd, rd_low, rd_high
        Estimate and confidence limits of the risk difference (shares, not percent).
    baseline
        ``p0`` in (0, 1).

    Returns
    -------
    EValue
    """
    if not 0 < baseline < 1:
        raise ValueError("the baseline risk must lie strictly between 0 and 1")
    tiny = 1e-9

    def ratio(d: float) -> float:
        return max((baseline + d) / baseline, tiny)

    rr, lo, hi = ratio(rd), ratio(rd_low), ratio(rd_high)
    return EValue(
        rd=float(rd), rd_low=float(rd_low), rd_high=float(rd_high), baseline=float(baseline),
        rr=rr, rr_low=lo, rr_high=hi, evalue=evalue_rr(rr), evalue_ci=evalue_ci(rr, lo, hi),
    )  # fmt: skip


def evalue_att(rd: float, rd_low: float, rd_high: float, treated_risk: float) -> EValue:
    """E-values of an ATT on a binary outcome, against the treated's counterfactual risk.

    An ATT is ``p1 - p0`` with ``p1`` the observed risk of the treated the estimator used
    and ``p0`` the risk they would have had without treatment, which the estimator implies:
    ``p0 = p1 - ATT`` (for bias-corrected matching, the bias-corrected counterfactual, not
    the raw mean of the matched comparison persons). The risk ratio is ``RR = p1 / p0``
    (VanderWeele and Ding 2017, risk ratio of the treated's two risks); the confidence
    limits of the ATT map to ``(p0 + limit) / p0`` with ``p0`` held fixed
    (:func:`evalue_risk_difference`).

    Parameters
    ----------
    rd, rd_low, rd_high
        The ATT and its confidence limits (shares).
    treated_risk
        ``p1``: the outcome's mean among the treated the estimate is about.

    Raises
    ------
    ValueError
        If the implied counterfactual risk is not strictly between 0 and 1 (the estimate
        then leaves no room for a risk ratio).
    """
    baseline = float(treated_risk) - float(rd)
    if not 0 < baseline < 1:
        raise ValueError(
            f"the ATT implies a counterfactual risk of {baseline:.3f} for the treated "
            f"(observed risk {treated_risk:.3f} minus the estimate): no risk ratio exists"
        )
    return evalue_risk_difference(rd, rd_low, rd_high, baseline)


def treated_risk(result, sample: pd.DataFrame, outcome: str, treatment: str = "treated") -> float:
    """``p1`` of an estimate: the outcome's mean among the treated it is about.

    Matching records it (``spec["treated_mean"]``, over the matched treated); for the other
    estimators it is the mean over the treated of the estimation sample.
    """
    if "treated_mean" in result.spec:
        return float(result.spec["treated_mean"])
    rows = sample[outcome].notna() & (sample[treatment] == 1)
    return float(sample.loc[rows, outcome].mean())


@dataclass(frozen=True)
class RosenbaumBounds:
    """Rosenbaum bounds of the McNemar-type test on matched pairs with a binary outcome.

    Attributes
    ----------
    n_pairs
        Matched pairs.
    n_discordant
        Pairs in which exactly one person has the outcome.
    n_treated_only
        Discordant pairs in which it is the treated person (the statistic ``T``).
    gammas, p_upper
        A grid of ``Gamma`` and the upper bound of the one-sided p-value at each.
    p_at_1
        The p-value without hidden bias (``Gamma = 1``: the exact McNemar test, one-sided).
    alpha
        One-sided level.
    gamma_critical
        The ``Gamma`` at which ``p_upper`` reaches ``alpha``: 1.0 if the result is not
        significant even at ``Gamma = 1``; ``inf`` if it stays significant for every
        ``Gamma`` (all discordant pairs favour the treated and ``D`` is large).
    """

    n_pairs: int
    n_discordant: int
    n_treated_only: int
    gammas: np.ndarray
    p_upper: np.ndarray
    p_at_1: float
    alpha: float
    gamma_critical: float


def rosenbaum_p_upper(n_discordant: int, n_treated_only: int, gamma: float) -> float:
    """Upper bound of the one-sided p-value at ``gamma``: ``P(Bin(D, G/(1+G)) >= T)``."""
    if gamma < 1:
        raise ValueError("Gamma must be at least 1")
    if not 0 <= n_treated_only <= n_discordant:
        raise ValueError("need 0 <= T <= D")
    if n_discordant == 0:
        return 1.0
    p_plus = gamma / (1.0 + gamma)
    return float(stats.binom.sf(n_treated_only - 1, n_discordant, p_plus))


def rosenbaum_binary(
    y_treated: np.ndarray,
    y_control: np.ndarray,
    *,
    alpha: float = 0.025,
    gammas: np.ndarray | None = None,
    gamma_max: float = 1000.0,
) -> RosenbaumBounds:
    """Rosenbaum bounds for 1:1 matched pairs and a 0/1 outcome (Rosenbaum 2002, 4.3.2).

    Parameters
    ----------
    y_treated, y_control
        The outcome of the treated and of the control person of each pair (same length).
    alpha
        One-sided level (0.025 matches a two-sided 5 % test).
    gammas
        The grid for the curve (default 1 to 4 in steps of 0.05).
    gamma_max
        Upper end of the search for ``gamma_critical``.

    Returns
    -------
    RosenbaumBounds
    """
    yt = np.asarray(y_treated, dtype=float)
    yc = np.asarray(y_control, dtype=float)
    if yt.shape != yc.shape or yt.ndim != 1:
        raise ValueError("y_treated and y_control must be 1-D arrays of the same length")
    if not np.isin(yt, (0, 1)).all() or not np.isin(yc, (0, 1)).all():
        raise ValueError("the outcome must be 0/1 with no missing values")
    t = int(((yt == 1) & (yc == 0)).sum())
    d = int((yt != yc).sum())
    grid = np.round(np.arange(1.0, 4.0001, 0.05), 2) if gammas is None else np.asarray(gammas)
    p_up = np.array([rosenbaum_p_upper(d, t, g) for g in grid])
    p1 = rosenbaum_p_upper(d, t, 1.0)
    if p1 >= alpha:
        crit = 1.0
    elif rosenbaum_p_upper(d, t, gamma_max) < alpha:
        crit = float("inf")
    else:
        crit = float(optimize.brentq(
            lambda g: rosenbaum_p_upper(d, t, g) - alpha, 1.0, gamma_max, xtol=1e-10
        ))  # fmt: skip
    return RosenbaumBounds(
        n_pairs=len(yt), n_discordant=d, n_treated_only=t, gammas=grid, p_upper=p_up,
        p_at_1=p1, alpha=float(alpha), gamma_critical=crit,
    )  # fmt: skip


@dataclass(frozen=True)
class MatchedPairs:
    """Outcomes of 1:1 matched pairs (matched without replacement, so pairs are disjoint).

    Attributes
    ----------
    y_treated, y_control
        The outcome of the treated and of the control person of each pair.
    n_unmatched
        Treated persons left without a partner (caliper, exact cell).
    treated, control
        The sample's row labels of the two persons of each pair (person-level: the persons
        the counts of pairs count, for the disclosure audit).
    """

    y_treated: np.ndarray
    y_control: np.ndarray
    n_unmatched: int
    treated: np.ndarray = field(default_factory=lambda: np.array([]), repr=False, compare=False)
    control: np.ndarray = field(default_factory=lambda: np.array([]), repr=False, compare=False)

    @property
    def discordant(self) -> np.ndarray:
        """Pairs in which exactly one person has the outcome (``D`` of :func:`rosenbaum_binary`)."""
        return np.asarray(self.y_treated) != np.asarray(self.y_control)

    @property
    def treated_only(self) -> np.ndarray:
        """Discordant pairs in which the treated person has the outcome (the statistic ``T``)."""
        return (np.asarray(self.y_treated) == 1) & (np.asarray(self.y_control) == 0)


def matched_pairs(
    sample: pd.DataFrame,
    outcome: str,
    *,
    distance: pd.Series,
    caliper: float | None,
    exact: str | None,
    treatment: str = "treated",
) -> MatchedPairs:
    """Re-match 1:1 without replacement for Rosenbaum bounds.

    The study matches ``k`` neighbours with replacement, so a comparison person can sit in
    several matched sets and the sets are not independent, which Rosenbaum's pair model
    assumes. Each mentored person is therefore re-matched to one comparison person, greedily
    from the largest score down (as MatchIt), within the exact cells and caliper, on the same
    distance (the logit of the propensity score) and the same rows (outcome observed).

    Parameters
    ----------
    sample
        Rows with ``treatment``, ``outcome`` (no missing) and the exact column.
    outcome
        0/1 outcome column.
    distance
        Matching score aligned to ``sample``.
    caliper
        In SD units of the score.
    exact
        Exact-matching column or ``None``.
    treatment
        0/1 treatment column.

    Returns
    -------
    MatchedPairs
    """
    m = match_nearest(
        sample, treatment, distance=distance.loc[sample.index], k=1, replace=False,
        caliper=caliper, exact=exact,
    )  # fmt: skip
    y = sample[outcome]
    return MatchedPairs(
        y_treated=y.loc[m.pairs["treated"]].to_numpy(dtype=float),
        y_control=y.loc[m.pairs["control"]].to_numpy(dtype=float),
        n_unmatched=m.n_unmatched,
        treated=np.asarray(m.pairs["treated"]),
        control=np.asarray(m.pairs["control"]),
    )
