"""Can these sites be pooled? Comparability checks and money in one currency and price year.

Sites are pooled only if they estimated the same thing the same way: the same bundle schema,
study version (the evaluation package that ran them), estimand, outcome definitions
(horizons, pre-period, coverage rule, unit of each pooled outcome) and confidence level, and
each holds the pooled estimator's estimate of every pooled outcome. The first site is the
reference; a difference is refused with the bundle file, the site, the field, both values and
what to do.

Money outcomes are moved to one currency and price year: first within the site's currency
from its price year to the target price year with the consumer price index given in the
parameters, then converted at the target currency's exchange rate of the target price year.
A factor multiplies the estimate, its standard error and interval alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ContractError, ParamsError
from evaluation.pooling.bundle import Bundle, outcome_unit


@dataclass(frozen=True)
class SiteBundle:
    """A checked bundle with the key it has in the parameters and its file."""

    key: str
    path: Path
    bundle: Bundle

    @property
    def label(self) -> str:
        """How messages name the site."""
        return f"{self.path} (site '{self.bundle.site.site}')"


def _refuse(site: SiteBundle, ref: SiteBundle, field: str, got: Any, want: Any, todo: str) -> None:
    raise ContractError(
        f"{site.label}: field {field} is {got!r}, but the reference site "
        f"'{ref.bundle.site.site}' ({ref.path}) has {want!r}. Sites can be pooled only if they "
        f"{todo}."
    )


def check_comparable(
    sites: Sequence[SiteBundle], outcomes: Sequence[str], estimator: str, level: float
) -> None:
    """Refuse sites that did not estimate the same thing the same way (see module docstring).

    Raises
    ------
    ContractError
        Naming the bundle file, the site, the field and both values.
    """
    if len(sites) < 2:
        raise ContractError("pooling needs at least two site bundles")
    ref = sites[0]
    r = ref.bundle
    for s in sites:
        b = s.bundle
        if b.study_version != r.study_version:
            _refuse(
                s,
                ref,
                "study_version",
                b.study_version,
                r.study_version,
                "ran the same version of the study (re-run the site with it and export)",
            )
        if b.estimand != r.estimand:
            _refuse(s, ref, "estimand", b.estimand, r.estimand, "estimate the same estimand")
        d, rd = b.outcome_definitions, r.outcome_definitions
        for field in ("horizons", "pre_months", "min_pre_months"):
            if getattr(d, field) != getattr(rd, field):
                _refuse(s, ref, f"outcome_definitions.{field}", getattr(d, field),
                        getattr(rd, field), "define the outcomes the same way (the parameter "
                        "file's outcomes section)")  # fmt: skip
        for outcome in outcomes:
            want = outcome_unit(outcome)
            got = d.units.get(outcome)
            if got is None:
                raise ContractError(
                    f"{s.label}: field outcome_definitions.units has no outcome '{outcome}', "
                    f"which the pooling parameters (pooling.outcomes) ask for; the site's "
                    f"outcomes are {sorted(d.units)}."
                )
            if got != want or rd.units.get(outcome) != want:
                _refuse(
                    s,
                    ref,
                    f"outcome_definitions.units.{outcome}",
                    got,
                    rd.units.get(outcome),
                    f"measure {outcome} in the same unit ({want})",
                )
            e = b.effect(outcome, estimator)
            if e is None:
                raise ContractError(
                    f"{s.label}: field effects holds no {estimator} estimate of {outcome} "
                    f"(withheld: {b.withheld_effects or 'none'}). Choose another "
                    "pooling.estimator or leave the outcome out of pooling.outcomes."
                )
            if abs(e.level - level) > 1e-9:
                raise ContractError(
                    f"{s.label}: field effects ({estimator} on {outcome}).level is {e.level}, "
                    f"but pooling.level is {level}. Sites must report the same confidence level."
                )
    keys = [s.bundle.site.site for s in sites]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ContractError(f"the same site is given twice (site.site {dup}): give each once.")


def money_factor(
    currency: str,
    price_year: int,
    *,
    target: str,
    target_year: int,
    exchange_rates: Mapping[str, float],
    price_index: Mapping[str, Mapping[int, float]],
    source: str = "",
) -> float:
    """The factor that turns an amount in ``currency`` at ``price_year`` prices into ``target``.

    ``factor = CPI_c(target_year) / CPI_c(price_year) * rate_c``, with ``rate_c`` the target
    units per unit of ``c`` (1 for the target itself). The price index is needed only when
    the years differ.

    Raises
    ------
    ParamsError
        A rate or index entry the conversion needs is missing from the parameters.
    """
    where = f" (needed by {source})" if source else ""
    if currency == target:
        rate = 1.0
    elif currency in exchange_rates:
        rate = float(exchange_rates[currency])
    else:
        raise ParamsError(
            f"currency.exchange_rates has no rate for {currency}{where}: add "
            f"'{currency}: <{target} per 1 {currency} in {target_year}>' to the pooling parameters."
        )
    if price_year == target_year:
        return rate
    index = price_index.get(currency, {})
    missing = [y for y in (price_year, target_year) if y not in index]
    if missing:
        raise ParamsError(
            f"currency.price_index.{currency} has no value for {missing}{where}: amounts in "
            f"{currency} at {price_year} prices must be moved to {target_year} prices; add the "
            "consumer price index of those years."
        )
    return float(index[target_year]) / float(index[price_year]) * rate
