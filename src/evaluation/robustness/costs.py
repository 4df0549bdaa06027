"""Was it worth it: cost per participant, per additional person in work, and break-even.

Simple cost-effectiveness arithmetic (Levin and McEwan 2001; Card, Kluve and Weber 2018 on
why active labour-market programmes must be judged by their net effect, not gross
placements):

* cost per participant ``c = budget / participants``;
* additional persons in work at the horizon ``= ATT x participants``, so the cost per
  additional person in work is ``c / ATT``. Its interval comes from the effect's
  confidence interval ``[lo, hi]``: ``[c / hi, c / lo]`` when ``0 < lo``. When the interval
  includes zero the upper end is unbounded (no effect at all is consistent with the data,
  and the cost per additional person can be arbitrarily large); when the estimate itself is
  not positive there is no additional person to divide by and no cost per additional person
  is defined. A negative "cost" is never reported.
* break-even: the effect on the share in work (sustained for ``duration_months``) at which
  the gains equal the cost per participant, under stated assumptions, each a parameter:
  participants' gross earnings per month in work (the earnings view), and the public
  finances' gain per month in work (taxes and contributions on those earnings plus benefits
  no longer paid: the public-budget view). Undiscounted (horizons of a year or two).

References
----------
Levin, H. M. and McEwan, P. J. (2001). *Cost-Effectiveness Analysis: Methods and
Applications*, 2nd ed. Sage.
Card, D., Kluve, J. and Weber, A. (2018). What works? A meta analysis of recent active
labor market program evaluations. *Journal of the European Economic Association* 16(3),
894-931.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CostPerOutcome:
    """Cost per additional person in work, with an interval from the effect's CI.

    Attributes
    ----------
    cost_per_participant
        ``budget / participants``.
    additional_persons, additional_low, additional_high
        ``effect x participants`` and the same for the CI limits (may be negative).
    cost, cost_low, cost_high
        Cost per additional person in work and its interval; ``None`` where undefined
        (``cost`` when the effect is not positive) or unbounded (``cost_high`` when the
        interval reaches zero or below).
    status
        ``"bounded"`` (the CI excludes zero from below), ``"unbounded"`` (positive
        estimate, CI includes zero) or ``"undefined"`` (estimate not positive).
    """

    cost_per_participant: float
    additional_persons: float
    additional_low: float
    additional_high: float
    cost: float | None
    cost_low: float | None
    cost_high: float | None
    status: Literal["bounded", "unbounded", "undefined"]


def cost_per_participant(budget: float, participants: int) -> float:
    """``budget / participants``."""
    if budget < 0 or participants < 1:
        raise ValueError("the budget must be >= 0 and participants >= 1")
    return float(budget) / int(participants)


def cost_per_additional(
    budget: float, participants: int, effect: float, ci_low: float, ci_high: float
) -> CostPerOutcome:
    """Cost per additional person in work (see the module docstring for the interval).

    Parameters
    ----------
    budget
        Total cost of the programme.
    participants
        Persons served.
    effect, ci_low, ci_high
        ATT on the share in work and its confidence interval (shares, not percent).

    Returns
    -------
    CostPerOutcome
    """
    if not ci_low <= effect <= ci_high or not all(map(math.isfinite, (effect, ci_low, ci_high))):
        raise ValueError("need finite ci_low <= effect <= ci_high")
    c = cost_per_participant(budget, participants)
    n = int(participants)
    if effect <= 0:
        cost = lo = hi = None
        status = "undefined"
    elif ci_low <= 0:
        cost, lo, hi = c / effect, c / ci_high, None
        status = "unbounded"
    else:
        cost, lo, hi = c / effect, c / ci_high, c / ci_low
        status = "bounded"
    return CostPerOutcome(
        cost_per_participant=c, additional_persons=effect * n, additional_low=ci_low * n,
        additional_high=ci_high * n, cost=cost, cost_low=lo, cost_high=hi, status=status,
    )  # fmt: skip


@dataclass(frozen=True)
class BreakEven:
    """The effect on the share in work at which gains equal the cost per participant.

    Attributes
    ----------
    cost_per_participant
        What each participant cost.
    gain_per_month_earnings, gain_per_month_public
        Gain per additional person-month in work: gross earnings; public finances
        (``tax_share x earnings + benefit_saved``).
    duration_months
        How long the effect on the share in work is assumed to last.
    effect_earnings, effect_public
        Break-even effects (shares): ``cost / (duration x gain)``.
    """

    cost_per_participant: float
    gain_per_month_earnings: float
    gain_per_month_public: float
    duration_months: int
    effect_earnings: float
    effect_public: float


def break_even(
    cost: float,
    *,
    monthly_earnings: float,
    tax_share: float,
    benefit_saved_per_month: float,
    duration_months: int,
) -> BreakEven:
    """Break-even effects under stated assumptions (undiscounted).

    Parameters
    ----------
    cost
        Cost per participant.
    monthly_earnings
        Gross earnings of a person in work per month.
    tax_share
        Share of gross earnings that returns to the public purse (income tax and social
        contributions).
    benefit_saved_per_month
        Benefits no longer paid per month in work.
    duration_months
        Months over which the effect on the share in work lasts.

    Returns
    -------
    BreakEven
    """
    if monthly_earnings <= 0 or duration_months < 1 or not 0 <= tax_share <= 1:
        raise ValueError("need monthly_earnings > 0, duration_months >= 1, tax_share in [0, 1]")
    if benefit_saved_per_month < 0 or cost < 0:
        raise ValueError("costs and benefits saved must be non-negative")
    public = tax_share * monthly_earnings + benefit_saved_per_month
    return BreakEven(
        cost_per_participant=float(cost),
        gain_per_month_earnings=float(monthly_earnings),
        gain_per_month_public=float(public),
        duration_months=int(duration_months),
        effect_earnings=float(cost / (duration_months * monthly_earnings)),
        effect_public=float(cost / (duration_months * public)) if public > 0 else float("inf"),
    )
