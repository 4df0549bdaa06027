"""What the participants report: agreement with each item, profiles, change over time.

Every function takes answers or scores of the mentored and returns disclosure-ready numbers:
counts pass :func:`~evaluation.disclosure.rules.protect_counts`, and a statistic resting on
fewer than ``min_cell`` persons is withheld.

References
----------
Kerby, D. S. (2014). The simple difference formula: an approach to teaching nonparametric
correlation. *Comprehensive Psychology* 3, 11.IT.3.1 (matched-pairs rank-biserial r).
Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative science.
*Frontiers in Psychology* 4, 863 (Cohen's d_z for paired designs).
Wilcoxon, F. (1945). Individual comparisons by ranking methods. *Biometrics Bulletin* 1(6),
80-83.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.disclosure.rules import TOTAL, protect_counts

#: Three answer groups shown in distributions (five groups would rest on too few persons).
ANSWER_GROUPS = {"disagree": (1, 2), "neutral": (3,), "agree": (4, 5)}


def agreement(
    coded: pd.DataFrame, items: Sequence[str], factor_of: Mapping[str, str], *,
    agree_min: int, min_cell: int,
) -> pd.DataFrame:  # fmt: skip
    """Share agreeing (answer ≥ ``agree_min`` after reverse coding) with each item, ranked.

    After reverse coding, agreeing means reporting *more* of the factor: for a barrier item
    worded the other way round ("my credentials are recognised"), answering 1 or 2 counts as
    reporting the barrier.

    Parameters
    ----------
    coded
        Reverse-coded answers (NaN where not answered); not modified.
    items
        Items to rank.
    factor_of
        Item → factor.
    agree_min
        Lowest answer that counts as agreeing.
    min_cell
        Disclosure threshold: the counts of agreeing and not agreeing are protected, and the
        share is withheld where either is suppressed.

    Returns
    -------
    pandas.DataFrame
        Index: item; ``factor``, ``n`` (answered), ``agree`` and ``not_agree`` (as shown:
        a number or a suppression label), ``share`` (NaN where withheld), ``rank`` (1 = most
        agreed, among the shares shown). Sorted by rank, withheld last (item order).
    """
    answered = coded[list(items)].notna().sum()
    agree = (coded[list(items)] >= agree_min).sum()
    counts = pd.DataFrame({"agree": agree, "not_agree": answered - agree})
    counts[TOTAL] = answered
    shown = protect_counts(counts.astype("int64"), min_cell).table
    ok = shown["agree"].str.isdigit() & shown["not_agree"].str.isdigit()
    share = (agree / answered).where(ok)
    out = pd.DataFrame({"factor": pd.Series(factor_of).reindex(list(items)),
                        "n": shown[TOTAL], "agree": shown["agree"],
                        "not_agree": shown["not_agree"], "share": share})  # fmt: skip
    out["rank"] = out["share"].rank(ascending=False, method="first")
    order = out.assign(_o=np.arange(len(out))).sort_values(["rank", "_o"], na_position="last")
    out = order.drop(columns="_o")
    out.index.name = "item"
    return out


def answer_groups(
    coded: pd.DataFrame, items: Sequence[str], *, min_cell: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shares of each item's answers in the groups of :data:`ANSWER_GROUPS`, protected.

    Parameters
    ----------
    coded
        Reverse-coded answers; not modified.
    items
        Items.
    min_cell
        Disclosure threshold.

    Returns
    -------
    shares : pandas.DataFrame
        Items × groups: the share of the item's answers; NaN where the count is suppressed
        (primary or secondary), so no bar rests on fewer than ``min_cell`` persons.
    hidden : pandas.Series
        Per item: the share of answers in suppressed cells together (drawn as one grey
        "not shown" segment; it rests on at least ``min_cell`` persons or on none).
    """
    counts = pd.DataFrame(
        {g: coded[list(items)].isin(v).sum() for g, v in ANSWER_GROUPS.items()}
    ).astype("int64")
    counts[TOTAL] = counts.sum(axis=1)
    shown = protect_counts(counts, min_cell).table.drop(columns=TOTAL)
    body = counts.drop(columns=TOTAL)
    shares = body.div(counts[TOTAL], axis=0).astype(float)
    mask = ~shown.map(str.isdigit)
    hidden = shares.where(mask).sum(axis=1)
    return shares.mask(mask), hidden


def collapse_small(values: pd.Series, min_cell: int, other: str = "other") -> pd.Series:
    """Merge categories with fewer than ``min_cell`` persons into ``other``.

    If ``other`` itself then has fewer than ``min_cell`` persons it is merged into the
    smallest remaining category (repeated), so that every group shown rests on at least
    ``min_cell`` persons or the whole variable is a single group.
    """
    v = values.astype("string").fillna("missing").astype(object)
    counts = v.value_counts()
    small = [c for c in counts.index if counts[c] < min_cell]
    if small:
        v = v.where(~v.isin(small), other)
    counts = v.value_counts()
    while len(counts) > 1 and counts.min() < min_cell:
        tiny = counts.idxmin()
        target = counts.drop(tiny).idxmin()
        merged = f"{target} + {tiny}" if tiny != other else f"{target} + {other}"
        v = v.where(~v.isin([tiny, target]), merged)
        counts = v.value_counts()
    return v


def profile_by(
    scores: pd.DataFrame, groups: pd.Series, *, min_cell: int, decimals: int = 2
) -> pd.DataFrame:
    """Mean (SD) and n of each factor score by group; statistics on < ``min_cell`` withheld.

    Parameters
    ----------
    scores
        Factor scores (one column per factor).
    groups
        Group of each person (aligned with ``scores``); small groups should be collapsed
        first (:func:`collapse_small`).
    min_cell
        Disclosure threshold.
    decimals
        Rounding.

    Returns
    -------
    pandas.DataFrame
        Index: factor; columns ``<group>: mean``, ``<group>: sd``, ``<group>: n`` (floats;
        NaN where withheld) for every group in sorted order.
    """
    out = {}
    for g in sorted(groups.dropna().unique()):
        sub = scores.loc[groups == g]
        n = sub.notna().sum()
        ok = n >= min_cell
        out[f"{g}: mean"] = sub.mean().where(ok).round(decimals)
        out[f"{g}: sd"] = sub.std(ddof=1).where(ok).round(decimals)
        out[f"{g}: n"] = n.where(ok).astype(float)
    frame = pd.DataFrame(out)
    frame.index.name = "factor"
    return frame


@dataclass(frozen=True)
class PairedChange:
    """Change of one score from baseline to follow-up among persons with both.

    Attributes
    ----------
    n
        Persons with both scores.
    mean_baseline, mean_follow_up, mean_change, sd_change
        Means and the SD of the change (``ddof = 1``).
    t, t_p
        Paired t statistic and its two-sided p-value (Student 1908).
    w, w_p
        Wilcoxon signed-rank statistic (zero changes dropped, Wilcoxon 1945) and p-value.
    d_z
        Cohen's d_z = mean change / SD of change (Lakens 2013).
    r_rb
        Matched-pairs rank-biserial correlation (Kerby 2014), in [-1, 1].
    """

    n: int
    mean_baseline: float
    mean_follow_up: float
    mean_change: float
    sd_change: float
    t: float
    t_p: float
    w: float
    w_p: float
    d_z: float
    r_rb: float


def paired_change(baseline: pd.Series, follow_up: pd.Series) -> PairedChange:
    """Paired t and Wilcoxon tests and effect sizes for one score (aligned by person).

    Parameters
    ----------
    baseline, follow_up
        Scores indexed by person; persons without both are left out.

    Returns
    -------
    PairedChange
    """
    pair = pd.concat([baseline.rename("b"), follow_up.rename("f")], axis=1, join="inner").dropna()
    b, f = pair["b"].to_numpy(float), pair["f"].to_numpy(float)
    diff = f - b
    t = stats.ttest_rel(f, b)
    nz = diff[diff != 0]
    if len(nz) > 0:
        w = stats.wilcoxon(nz)
        ranks = stats.rankdata(np.abs(nz))
        r_rb = float((ranks[nz > 0].sum() - ranks[nz < 0].sum()) / ranks.sum())
        w_stat, w_p = float(w.statistic), float(w.pvalue)
    else:
        w_stat, w_p, r_rb = 0.0, 1.0, 0.0
    sd = float(diff.std(ddof=1))
    return PairedChange(
        n=len(diff), mean_baseline=float(b.mean()), mean_follow_up=float(f.mean()),
        mean_change=float(diff.mean()), sd_change=sd, t=float(t.statistic),
        t_p=float(t.pvalue), w=w_stat, w_p=w_p,
        d_z=float(diff.mean() / sd) if sd > 0 else float("nan"), r_rb=r_rb,
    )  # fmt: skip
