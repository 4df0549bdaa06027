"""The study's design stage as one step: propensity, trimming, matching, balance.

Orchestration only (the numbers happen in :mod:`~evaluation.design.propensity`,
:mod:`~evaluation.design.matching` and :mod:`~evaluation.design.balance`). It sees the
covariates and the treatment, never an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.design.balance import (
    BalanceTable,
    InteractionBalance,
    balance_table,
    interaction_balance,
)
from evaluation.design.matching import Matching, match_nearest
from evaluation.design.propensity import (
    CommonSupport,
    DesignError,
    PropensityFit,
    _is_categorical,
    fit_propensity,
    trim_common_support,
)
from evaluation.design.weighting import entropy_balance, overlap_weights

#: Parameter names of the trimming rule → the rule names of :func:`trim_common_support`.
TRIMMING_RULES = {"common_support": "minmax", "crump": "crump", "none": "none"}
TREATMENT = "treated"


def matching_options(matching: Mapping[str, Any], exact: str | None) -> dict[str, Any]:
    """Translate the parameter file's ``estimation.matching`` into matcher options."""
    return {
        "k": int(matching["neighbours"]),
        "replace": bool(matching["replace"]),
        "caliper": matching["caliper"],
        "exact": exact,
    }


@dataclass(frozen=True)
class CategorySupport:
    """Persons in a covariate category that only one group has.

    A category with no mentored person (say, Swedish level 'none') gives comparison persons
    in it a propensity score of zero: they can never be matched or weighted and make the
    logit's maximum-likelihood estimate diverge (separation). They are outside common support
    and removed before the propensity model is fitted; likewise mentored persons in a
    category no comparison person has (the estimand then excludes them). Both are counted.
    """

    keep: pd.Series
    removed: pd.DataFrame  # covariate, level, group, persons

    @property
    def n_removed_treated(self) -> int:
        """Mentored persons removed."""
        return int(((~self.keep) & self._treated).sum())

    @property
    def n_removed_control(self) -> int:
        """Comparison persons removed."""
        return int(((~self.keep) & ~self._treated).sum())

    _treated: pd.Series = field(default=None, repr=False)  # type: ignore[assignment]


def _is_binary_number(col: pd.Series) -> bool:
    """A boolean or numeric 0/1 indicator.

    It enters the propensity model as one column, but a level that only one group has
    separates the groups just as a category does.
    """
    if not pd.api.types.is_numeric_dtype(col.dtype):
        return False
    return bool(np.isin(pd.unique(col.dropna()), (0, 1)).all())


def category_support(frame: pd.DataFrame, covariates: Sequence[str]) -> CategorySupport:
    """Find categories that only one group has (see class doc).

    Categorical covariates and numeric 0/1 indicators alike: a permutation draw of the
    randomisation test can leave, say, no mentored person employed in the month before
    start; the comparison persons with that value then have a propensity score of zero
    (perfect separation) and are outside support, as for a category.
    """
    treated = frame[TREATMENT] == 1
    keep = pd.Series(True, index=frame.index)
    rows = []
    for cov in covariates:
        col = frame[cov]
        if not (_is_categorical(col) or _is_binary_number(col)):
            continue
        # counts per level and group by integer codes (the permutation test calls this once
        # per draw); levels in sorted order, missing values ignored, as pd.crosstab
        codes, levels = pd.factorize(col, sort=True)
        seen = codes >= 0
        n_levels = len(levels)
        t = treated.to_numpy()
        n_treated = np.bincount(codes[seen & t], minlength=n_levels)
        n_control = np.bincount(codes[seen & ~t], minlength=n_levels)
        for code in np.flatnonzero((n_treated == 0) | (n_control == 0)):
            n_t, n_c = int(n_treated[code]), int(n_control[code])
            group = "comparison" if n_t == 0 else "mentored"
            keep &= codes != code
            rows.append(
                {"covariate": cov, "level": str(levels[code]), "group": group, "persons": n_t + n_c}
            )
    removed = pd.DataFrame(rows, columns=["covariate", "level", "group", "persons"])
    return CategorySupport(keep=keep, removed=removed, _treated=treated)


@dataclass(frozen=True, eq=False)
class StudyDesign:
    """The outcome-blind design of the study.

    Attributes
    ----------
    propensity_all
        The logit fitted on everyone inside category support: the overlap plot and the
        trimming rule use it.
    propensity
        The logit re-fitted on the trimmed sample (as recommended after trimming, Crump et
        al. 2009): matching and weighting use it, and so do the effect estimators, which fit
        the same model on the same rows.
    support
        The trimming rule's decision.
    sample
        The analysis sample after trimming (index as the input frame).
    matching
        Nearest-neighbour matching on the trimmed sample.
    ipw_weights
        ATT odds weights on the trimmed sample (1 for treated, ``e/(1-e)`` for controls).
    sample_weights
        The weights of each weighted balance sample: ``matched``, ``weighted`` (the odds
        weights), ``entropy`` (entropy balancing; absent when no weights balance the terms)
        and ``overlap`` (``1 - e`` for treated, ``e`` for controls).
    balance
        Balance tables: ``before`` (all persons), ``trimmed``, then one per weighted sample.
    interactions
        Balance of the squares and pairwise products of the terms, for the same samples.
    """

    propensity_all: PropensityFit
    propensity: PropensityFit
    category_support: CategorySupport
    support: CommonSupport
    sample: pd.DataFrame
    matching: Matching
    ipw_weights: pd.Series
    sample_weights: dict[str, pd.Series]
    balance: dict[str, BalanceTable]
    interactions: dict[str, InteractionBalance]
    covariates: tuple[str, ...]
    person_id: pd.Series

    def balance_frame(self) -> pd.DataFrame:
        """SMD and KS statistic of each sample, and variance ratios, by term."""
        out = pd.DataFrame({f"smd_{k}": b.table["smd"] for k, b in self.balance.items()})
        for k, b in self.balance.items():
            out[f"ks_{k}"] = b.table["ks"]
        out["var_ratio_before"] = self.balance["before"].table["var_ratio"]
        out["var_ratio_matched"] = self.balance["matched"].table["var_ratio"]
        out.index.name = "term"
        return out

    def hand_over(self) -> pd.DataFrame:
        """Per-person design decisions for the effects notebook (scratch only)."""
        keep = self.support.keep.reindex(self.person_id.index, fill_value=False)
        out = pd.DataFrame({"person_id": self.person_id})
        out["pscore"] = self.propensity.pscore.reindex(out.index)
        out["logit"] = self.propensity.linear_predictor.reindex(out.index)
        out["keep"] = keep.astype(bool)
        out["match_weight"] = self.matching.weights.reindex(out.index).fillna(0.0)
        out["ipw_weight"] = self.ipw_weights.reindex(out.index).fillna(0.0)
        return out


def _balancing_weights(fit: PropensityFit, d: np.ndarray) -> dict[str, pd.Series]:
    """Entropy-balancing and overlap weights of the design sample, by balance sample name.

    Entropy balancing is left out when no weights balance the terms (the estimator of that
    name then says why, if it was asked for); the other samples do not depend on it.
    """
    out: dict[str, pd.Series] = {}
    try:
        ebal = entropy_balance(fit.design, d)
    except DesignError:
        pass
    else:
        out["entropy"] = pd.Series(np.where(d == 1, 1.0, ebal.odds.to_numpy()),
                                   index=fit.design.index, name="ebal_weight")  # fmt: skip
    out["overlap"] = overlap_weights(fit.pscore, d)
    return out


def study_design(
    frame: pd.DataFrame,
    *,
    covariates: Sequence[str],
    design: Mapping[str, Any],
    matching: Mapping[str, Any],
) -> StudyDesign:
    """Fit the propensity score, trim, match and tabulate balance.

    Parameters
    ----------
    frame
        One row per person with ``treated`` and the covariates (no outcomes needed).
    covariates
        Propensity-score covariates.
    design
        The parameter file's ``design`` section (``exact``, ``trimming``,
        ``balance_threshold``).
    matching
        The parameter file's ``estimation.matching`` section.
    """
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise DesignError(
            f"design.covariates names {missing}, which are not columns of the analysis data. "
            f"Available: {sorted(frame.columns)}"
        )
    incomplete = [c for c in covariates if frame[c].isna().any()]
    if incomplete:
        raise DesignError(
            f"covariates {incomplete} have missing values; the propensity model needs complete "
            "covariates (recode missing as a category, e.g. education 'unknown')."
        )
    threshold = float(design["balance_threshold"])
    cat_support = category_support(frame, covariates)
    inside = frame.loc[cat_support.keep.to_numpy()]
    fit_all = fit_propensity(inside, TREATMENT, covariates)
    support = trim_common_support(
        fit_all.pscore, inside[TREATMENT], rule=TRIMMING_RULES[design["trimming"]]
    )
    sample = inside.loc[support.keep.to_numpy()]
    fit = fit_propensity(sample, TREATMENT, covariates)
    m = match_nearest(
        sample,
        TREATMENT,
        distance=fit.linear_predictor.loc[sample.index],
        **matching_options(matching, design.get("exact")),
    )
    e = fit.pscore.loc[sample.index].to_numpy()
    d = sample[TREATMENT].to_numpy()
    ipw = pd.Series(np.where(d == 1, 1.0, e / (1.0 - e)), index=sample.index, name="ipw_weight")
    if not fit.design.index.equals(sample.index):
        raise RuntimeError("the propensity design's rows are not the sample's (a bug)")
    weights = {"matched": m.weights, "weighted": ipw, **_balancing_weights(fit, d)}
    balance = {
        "before": balance_table(frame, TREATMENT, covariates, threshold=threshold),
        "trimmed": balance_table(sample, TREATMENT, covariates, threshold=threshold),
        **{name: balance_table(sample, TREATMENT, covariates, weights=w, threshold=threshold)
           for name, w in weights.items()},
    }  # fmt: skip
    rows = {"before": frame, **{name: sample for name in balance if name != "before"}}
    interactions = {
        name: interaction_balance(rows[name], TREATMENT, covariates,
                                  weights=weights.get(name), threshold=threshold)
        for name in balance
    }  # fmt: skip
    return StudyDesign(
        propensity_all=fit_all,
        propensity=fit,
        category_support=cat_support,
        support=support,
        sample=sample,
        matching=m,
        ipw_weights=ipw,
        sample_weights=weights,
        balance=balance,
        interactions=interactions,
        covariates=tuple(covariates),
        person_id=frame["person_id"],
    )


@dataclass(frozen=True)
class ComparisonSubsample:
    """Every mentored person and a simple random sample of the comparison pool.

    Analyses that are repeated many times (a permutation test, a specification curve,
    placebo designs) or that need the whole person-month panel (the weighted event study,
    the staggered DiD, TWFE) would otherwise scale with a register-sized pool. They use this
    sample instead. It is drawn once, in the design stage, from the treatment labels and a
    seeded generator only (never an outcome), so:

    * estimators stay consistent: each comparison person is in it with the same probability
      ``fraction``, and weights meant for the whole pool become ``weight / fraction``
      (Horvitz-Thompson) on the sampled comparison persons;
    * the headline's randomisation test on it is as valid as on the whole pool: the test draws
      assignments from a logit propensity score (an assumption, not a design fact); keeping
      every mentored person and a simple random sample of the others multiplies everyone's
      odds of being mentored by the same factor, which the logit's constant absorbs, so the
      mechanism keeps its form within the sampled set and the subsample adds no error of its
      own (checked by simulation: ``bench/subsample_precision.py``,
      tests/design/test_subsample.py).

    The cap applies to the comparison pool before trimming, so fewer comparison persons than
    the cap may remain in a trimmed analysis.

    Attributes
    ----------
    mask
        Per person (in the order given): in the subsample.
    fraction
        Sampling fraction of comparison persons (1.0 when the pool is used whole).
    n_pool, n_drawn
        Comparison persons in the pool and in the subsample.
    max_comparison
        The cap from the parameters (``design.subsample_comparison``).
    """

    mask: np.ndarray
    fraction: float
    n_pool: int
    n_drawn: int
    max_comparison: int

    @property
    def used(self) -> bool:
        """Whether the pool was larger than the cap (so a sample, not everyone)."""
        return self.n_drawn < self.n_pool

    def weights(self, treated: np.ndarray) -> np.ndarray:
        """Design weights: 1 for the mentored, ``1/fraction`` for sampled comparison, else 0."""
        t = np.asarray(treated).astype(bool)
        return np.where(self.mask, np.where(t, 1.0, 1.0 / self.fraction), 0.0)

    def summary(self) -> dict[str, Any]:
        """For results.json."""
        return {"max_comparison": self.max_comparison, "n_pool": self.n_pool,
                "n_drawn": self.n_drawn, "fraction": self.fraction, "used": self.used}  # fmt: skip


def comparison_subsample(
    treated: np.ndarray | pd.Series, max_comparison: int, rng: np.random.Generator
) -> ComparisonSubsample:
    """Draw :class:`ComparisonSubsample`: all mentored, at most ``max_comparison`` others.

    Parameters
    ----------
    treated
        0/1 (or boolean) per person, in a fixed order (the hand-over's row order).
    max_comparison
        Largest number of comparison persons; a pool no larger is taken whole and ``rng``
        is not used.
    rng
        ``evaluation.rng.stream(seed, "comparison_subsample")``.
    """
    if max_comparison < 1:
        raise ValueError("max_comparison must be positive")
    t = np.asarray(treated).astype(bool)
    pool = np.flatnonzero(~t)
    mask = t.copy()
    if len(pool) <= max_comparison:
        mask[pool] = True
        drawn = len(pool)
    else:
        mask[np.sort(rng.choice(pool, size=max_comparison, replace=False))] = True
        drawn = max_comparison
    fraction = drawn / len(pool) if len(pool) else 1.0
    return ComparisonSubsample(mask=mask, fraction=float(fraction), n_pool=int(len(pool)),
                               n_drawn=int(drawn), max_comparison=int(max_comparison))  # fmt: skip
