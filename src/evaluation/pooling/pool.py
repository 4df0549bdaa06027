"""Pool the sites: read and check the bundles, convert money, meta-analyse every outcome.

:func:`load_sites` is the gate of a pooling run (every bundle checked, the sites checked for
comparability); :func:`pool_outcome` turns the sites' estimates of one outcome into a
:class:`PooledOutcome` (site rows in the common unit, the meta-analysis, leave-one-out).
The runner calls :func:`load_sites` before any notebook starts, so that a refused bundle
stops the run with its own message; the notebook calls it again to get the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.errors import ContractError, ParamsError
from evaluation.pooling import meta
from evaluation.pooling.bundle import outcome_unit, read_bundle
from evaluation.pooling.compare import SiteBundle, check_comparable, money_factor


def check_money(sites: list[SiteBundle], params: Any) -> None:
    """Refuse a site whose money cannot be converted with the pooling parameters' rates.

    Each site's currency needs an exchange rate (currency.exchange_rates) and, if its price
    year is not the target's, consumer price indices of both years (currency.price_index).
    Only checked when a money outcome is pooled.

    Raises
    ------
    ContractError
        Naming the bundle file, the site, the field (site.currency or price_year) and the
        parameter entry to add.
    """
    money = [o for o in params.pooling.outcomes if outcome_unit(o) == "money"]
    if not money:
        return
    cur = params.currency
    for s in sites:
        b = s.bundle
        try:
            money_factor(b.site.currency, b.price_year, target=cur.target,
                         target_year=cur.price_year, exchange_rates=cur.exchange_rates,
                         price_index=cur.price_index)  # fmt: skip
        except ParamsError as exc:
            rate_missing = (
                b.site.currency != cur.target and b.site.currency not in cur.exchange_rates
            )
            field = (f"site.currency is {b.site.currency!r}" if rate_missing
                     else f"price_year is {b.price_year}")  # fmt: skip
            raise ContractError(
                f"{s.label}: field {field}, which the pooling parameters cannot convert to "
                f"{cur.target} at {cur.price_year} prices (needed for {', '.join(money)}): "
                f"{exc}\nOr leave the money outcomes out of pooling.outcomes."
            ) from None


def load_sites(params: Any) -> list[SiteBundle]:
    """Read and check every site's bundle named in pooling parameters (``PoolingParams``).

    Raises
    ------
    ParamsError, ContractError, DisclosureError
        A bundle missing, unreadable, not the schema, disclosive, not comparable, or its
        money in a currency or price year the parameters cannot convert.
    """
    sites = []
    for i, site in enumerate(params.sites):
        key = site.key
        path = Path(site.bundle)
        if not path.is_file():
            raise ParamsError(
                f"sites[{i}].bundle (site {key}): file not found: {path}. Give the bundle the site wrote with "
                "`evaluation export RUN_FOLDER` (relative paths are relative to the parameter "
                "file's folder)."
            )
        bundle = read_bundle(path, min_cell=params.disclosure.min_cell)
        sites.append(SiteBundle(key, path, bundle))
    check_comparable(sites, params.pooling.outcomes, params.pooling.estimator,
                     params.pooling.level)  # fmt: skip
    check_money(sites, params)
    return sites


@dataclass(frozen=True)
class PooledOutcome:
    """One pooled outcome.

    Attributes
    ----------
    outcome, unit
        The outcome and its unit (``share``, ``months``, ``money``).
    sites
        One row per site: key, site, country, currency, factor (to the common unit),
        estimate, se, ci_low, ci_high (converted), n_treated, n_control.
    result
        The meta-analysis.
    leave_one_out
        Without each site in turn (empty if fewer than three sites).
    """

    outcome: str
    unit: str
    sites: pd.DataFrame
    result: meta.MetaAnalysis
    leave_one_out: list[meta.LeaveOneOut]


def site_rows(sites: list[SiteBundle], outcome: str, params: Any) -> pd.DataFrame:
    """The sites' estimates of one outcome, money converted to the common currency and year."""
    cur = params.currency
    rows = []
    for s in sites:
        b = s.bundle
        e = b.effect(outcome, params.pooling.estimator)
        assert e is not None  # check_comparable made sure
        factor = 1.0
        if outcome_unit(outcome) == "money":
            factor = money_factor(
                b.site.currency, b.price_year, target=cur.target, target_year=cur.price_year,
                exchange_rates=cur.exchange_rates, price_index=cur.price_index, source=s.label,
            )  # fmt: skip
        rows.append({
            "key": s.key, "site": b.site.site, "country": b.site.country,
            "currency": b.site.currency, "price_year": b.price_year, "factor": factor,
            "estimate": e.estimate * factor, "se": e.se * factor,
            "ci_low": e.ci_low * factor, "ci_high": e.ci_high * factor,
            "n_treated": e.n_treated, "n_control": e.n_control,
        })  # fmt: skip
    return pd.DataFrame(rows)


def pool_outcome(sites: list[SiteBundle], outcome: str, params: Any) -> PooledOutcome:
    """Meta-analyse the sites' estimates of one outcome (see :mod:`evaluation.pooling.meta`)."""
    rows = site_rows(sites, outcome, params)
    y = rows["estimate"].to_numpy()
    v = rows["se"].to_numpy() ** 2
    names = rows["key"].tolist()
    method = params.pooling.tau2_method
    level = params.pooling.level
    res = meta.meta_analysis(y, v, names, tau2_method=method, level=level)
    loo = meta.leave_one_out(y, v, names, tau2_method=method, level=level) if len(y) >= 3 else []
    return PooledOutcome(outcome, outcome_unit(outcome), rows, res, loo)


def size_weighted_truth(
    params: Any, outcome: str, factors: dict[str, float]
) -> dict[str, Any] | None:
    """Synthetic demonstration: the sites' true ATTs and their mean weighted by size.

    Each site's true ATT comes from its ``truth.json``, the weights are its numbers of
    mentored; ``None`` unless every site names a truth file that holds the outcome.

    ``factors`` (site key -> factor) converts money exactly as the site's estimate was.
    """
    if any(s.truth is None for s in params.sites):
        return None
    per_site, weights = {}, {}
    for site in params.sites:
        key = site.key
        truth = json.loads(Path(site.truth).read_text("utf-8"))
        if outcome not in truth.get("att", {}):
            return None
        per_site[key] = float(truth["att"][outcome]) * float(factors[key])
        weights[key] = int(truth["n_mentored"])
    total = sum(weights.values())
    pooled = sum(per_site[k] * weights[k] for k in per_site) / total
    return {"sites": per_site, "n_mentored": weights, "size_weighted": pooled}
