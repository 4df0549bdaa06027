"""What the pooling notebook hands to the report: effects, numbers and tables of the pooling.

Small functions that turn a :class:`~evaluation.pooling.pool.PooledOutcome` into the
registry's forms (effect entries, a JSON number, frames); no statistics happen here.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import pandas as pd

from evaluation.estimate.results import EffectResult
from evaluation.pooling import meta
from evaluation.pooling.compare import SiteBundle
from evaluation.pooling.pool import PooledOutcome

#: Names of the tau^2 methods in tables.
TAU2_LABELS = {
    "dersimonian_laird": "DerSimonian-Laird",
    "paule_mandel": "Paule-Mandel",
    "reml": "REML",
}


def _n(value: Any) -> int:
    """A site's sample size as shown in its bundle; 0 where hidden ('..', secondary suppression)."""
    return int(value) if isinstance(value, Integral) else 0


def _total(values: Any) -> int:
    """The sites' sample sizes added up; 0 if any is hidden (a sum would be too small)."""
    vals = list(values)
    return int(sum(vals)) if all(isinstance(v, Integral) for v in vals) else 0


def _pooled_effect(po: PooledOutcome, estimator: str, which: str) -> EffectResult:
    res = po.result
    p = {"pooled": res.random_hk, "pooled_random": res.random, "pooled_fixed": res.fixed}[which]
    how = {
        "pooled": f"random effects, Hartung-Knapp (t, {res.k - 1} df), tau^2 "
        f"{TAU2_LABELS[res.tau2_method]}",
        "pooled_random": f"random effects (normal), tau^2 {TAU2_LABELS[res.tau2_method]}",
        "pooled_fixed": "fixed effect (inverse variance, normal)",
    }[which]
    return EffectResult(
        outcome=po.outcome, estimator=estimator, estimand="ATT", estimate=p.estimate, se=p.se,
        ci_low=p.ci_low, ci_high=p.ci_high, p_value=p.p_value,
        n_treated=_total(po.sites["n_treated"]), n_control=_total(po.sites["n_control"]),
        se_method=how, level=p.level, subgroup=which,
        spec={"sites": list(res.names), "tau2": p.tau2},
    )  # fmt: skip


def effect_results(po: PooledOutcome, estimator: str) -> list[EffectResult]:
    """Each site's estimate (in the common unit; subgroup ``site:<key>``) and the pooled ones."""
    out = []
    for row in po.sites.itertuples(index=False):
        out.append(EffectResult.from_normal(
            estimate=row.estimate, se=row.se, level=po.result.fixed.level,
            outcome=po.outcome, estimator=estimator, estimand="ATT",
            n_treated=_n(row.n_treated), n_control=_n(row.n_control),
            se_method=f"site estimate x {row.factor:.6g} (to the common currency)"
            if row.factor != 1 else "site estimate", subgroup=f"site:{row.key}",
        ))  # fmt: skip
    return out + [_pooled_effect(po, estimator, w) for w in ("pooled", "pooled_random",
                                                              "pooled_fixed")]  # fmt: skip


def _pooled_dict(p: Any, outcome: str) -> dict[str, Any]:
    return {"outcome": outcome, "estimate": p.estimate, "se": p.se, "ci_low": p.ci_low,
            "ci_high": p.ci_high, "p_value": p.p_value, "df": p.df}  # fmt: skip


#: The widest possible effect on a share (probability units): from all to none and back.
SHARE_BOUND = 1.0


def _prediction(po: PooledOutcome) -> dict[str, Any] | None:
    """The prediction interval for a new site; for a share cut at the possible range.

    With few sites the t quantile on ``k - 2`` degrees of freedom is large (12.7 at 95 % for
    three sites), so the interval for an effect on a share can run past +/-100 percentage
    points, where no effect can lie; it is then cut there and marked ``bounded``.
    """
    res = po.result
    if res.prediction_low is None:
        return None
    low, high, bounded = _cut(res.prediction_low, res.prediction_high, po.unit)
    return {"outcome": po.outcome, "ci_low": low, "ci_high": high, "bounded": bool(bounded),
            "df": res.k - 2, "unbounded_low": res.prediction_low,
            "unbounded_high": res.prediction_high}  # fmt: skip


def _cut(low: float, high: float, unit: str) -> tuple[float, float, bool]:
    """An interval on a share cut at +/-100 percentage points, and whether it was cut."""
    if unit != "share":
        return low, high, False
    cut = low < -SHARE_BOUND or high > SHARE_BOUND
    return max(low, -SHARE_BOUND), min(high, SHARE_BOUND), bool(cut)


def hk_narrower(po: PooledOutcome) -> list[dict[str, Any]]:
    """Where the Hartung-Knapp interval is narrower than the normal random-effects one.

    Checked for all sites and for each leave-one-out set; ``left_out`` is ``None`` for all.
    """
    y = po.sites["estimate"].to_numpy()
    v = po.sites["se"].to_numpy() ** 2
    keys = po.sites["key"].tolist()
    cases: list[tuple[str | None, Any]] = [(None, po.result)]
    if len(y) >= 3:
        for i, key in enumerate(keys):
            keep = [j for j in range(len(y)) if j != i]
            cases.append((key, meta.meta_analysis(y[keep], v[keep], tau2_method=po.result.tau2_method,
                                                  level=po.result.fixed.level)))  # fmt: skip
    out = []
    for left_out, res in cases:
        hk = res.random_hk.ci_high - res.random_hk.ci_low
        normal = res.random.ci_high - res.random.ci_low
        if hk < normal:
            site = (
                None
                if left_out is None
                else po.sites.loc[po.sites["key"] == left_out, "site"].iloc[0]
            )
            out.append({"outcome": po.outcome, "left_out": left_out, "site": site,
                        "hk_width": hk, "normal_width": normal})  # fmt: skip
    return out


def _loo(lo: Any, po: PooledOutcome) -> dict[str, Any]:
    low, high, bounded = _cut(lo.ci_low, lo.ci_high, po.unit)
    return {"left_out": lo.left_out, "outcome": po.outcome, "estimate": lo.estimate,
            "se": lo.se, "ci_low": low, "ci_high": high, "bounded": bounded,
            "unbounded_low": lo.ci_low, "unbounded_high": lo.ci_high, "tau2": lo.tau2,
            "i2": lo.i2}  # fmt: skip


def pooled_number(po: PooledOutcome) -> dict[str, Any]:
    """Everything the report says about one pooled outcome, as one JSON value."""
    res = po.result
    het = res.heterogeneity
    out: dict[str, Any] = {
        "outcome": po.outcome,
        "unit": po.unit,
        "k": res.k,
        "fixed": _pooled_dict(res.fixed, po.outcome),
        "random": _pooled_dict(res.random, po.outcome),
        "random_hk": _pooled_dict(res.random_hk, po.outcome),
        "q": het.q,
        "q_df": het.df,
        "q_p": het.p_value,
        "i2": het.i2,
        "h2": het.h2,
        "tau2_method": res.tau2_method,
        "tau2": res.random.tau2,
        "tau": res.tau,
        "tau2_all": res.tau2,
        "prediction": _prediction(po),
        "sites": [
            {"key": r.key, "site": r.site, "currency": r.currency, "factor": r.factor,
             "outcome": po.outcome, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
             "ci_high": r.ci_high, "weight_fixed": wf, "weight_random": wr}
            for r, wf, wr in zip(po.sites.itertuples(index=False), res.weights_fixed,
                                 res.weights_random, strict=True)
        ],
        "leave_one_out": [_loo(lo, po) for lo in po.leave_one_out],
        "hk_narrower": hk_narrower(po),
    }  # fmt: skip
    return out


def _smd(balance: Any) -> float | str | None:
    """A balance summary's largest |SMD| (3 decimals), or its withheld label as exported."""
    if balance is None or isinstance(balance.max_abs_smd, str):
        return None if balance is None else balance.max_abs_smd
    return round(balance.max_abs_smd, 3)


def site_table(sites: list[SiteBundle]) -> pd.DataFrame:
    """One row per site: country, currency, price year, counts (as suppressed) and balance."""
    rows = []
    for s in sites:
        b = s.bundle
        matched = b.balance.get("matched")
        weighted = b.balance.get("weighted")
        rows.append({
            "site": b.site.site, "country": b.site.country, "currency": b.site.currency,
            "price_year": b.price_year, "n_mentored": b.counts.get("n_mentored"),
            "n_comparison": b.counts.get("n_comparison"), "n_matched": b.counts.get("n_matched"),
            "max_smd_matched": _smd(matched), "max_smd_weighted": _smd(weighted),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("site")


def tau2_table(po: PooledOutcome) -> pd.DataFrame:
    """tau^2 by estimator and the random-effects (Hartung-Knapp) estimate each gives."""
    y = po.sites["estimate"].to_numpy()
    v = po.sites["se"].to_numpy() ** 2
    rows = []
    for method in meta.TAU2_METHODS:
        t2 = po.result.tau2[method]
        hk = meta.random_effects(y, v, t2, tau2_method=method, hartung_knapp=True,
                                 level=po.result.fixed.level)  # fmt: skip
        rows.append({"method": TAU2_LABELS[method], "tau2": t2, "estimate": hk.estimate,
                     "ci_low": hk.ci_low, "ci_high": hk.ci_high})  # fmt: skip
    return pd.DataFrame(rows).set_index("method")


def leave_one_out_table(po: PooledOutcome) -> pd.DataFrame:
    """The pooled (Hartung-Knapp) estimate without each site (a share's interval cut at +/-1).

    ``bounded`` marks an interval cut at the possible range of an effect on a share.
    """
    rows = []
    for lo in po.leave_one_out:
        d = _loo(lo, po)
        rows.append({k: d[k] for k in ("left_out", "estimate", "ci_low", "ci_high", "bounded",
                                       "tau2", "i2")})  # fmt: skip
    return pd.DataFrame(rows).set_index("left_out")
