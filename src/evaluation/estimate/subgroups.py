"""Pre-registered subgroups: the headline estimate within each level, and whether it differs.

Each subgroup is estimated on its own persons: the propensity model, the matching (or
weighting) and the outcome model are fitted within the level, with the subgroup's variable
dropped from the covariates (it is constant there), and a level with fewer than ``min_cell``
mentored or comparison persons, or whose design cannot be estimated (the propensity model
separates the groups within it, or no balancing weights exist), is not estimated. The levels' estimates therefore rest on
disjoint, independently sampled persons, and the test of equal effects across the levels of
one variable is Cochran's Q (the homogeneity test of a fixed-effect meta-analysis):

``Q = sum_g w_g (theta_g - theta_w)^2``, ``w_g = 1 / se_g^2``, ``theta_w = sum w_g theta_g /
sum w_g``, referred to chi-squared with ``G - 1`` degrees of freedom (for two levels it is the
square of the z statistic of their difference, as :func:`~evaluation.estimate.effects.
sex_difference`). Its level holds asymptotically; with ten or so mentored per level it is
checked by simulation in ``bench/subgroup_heterogeneity.py``. The p-values of the variables
are adjusted together by Holm's step-down method (family-wise error), since the variables are
pre-registered as one family.

References
----------
Cochran, W. G. (1954). The combination of estimates from different experiments.
*Biometrics* 10(1), 101-129.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
Journal of Statistics* 6(2), 65-70.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evaluation.design.propensity import DesignError
from evaluation.errors import EvaluationError
from evaluation.estimate.att import estimate_all
from evaluation.estimate.effects import TREATMENT, EffectsSpec, supported, withheld_reason
from evaluation.estimate.results import EffectResult

#: Most levels a subgroup variable may have (more is not a pre-registered subgroup).
MAX_LEVELS = 12


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q test that the effect is the same in every estimated level of a variable.

    Attributes
    ----------
    variable, outcome, estimator
        What was compared.
    levels
        The levels whose estimates entered the test (withheld levels do not).
    statistic, df, p_value
        Q, its degrees of freedom (levels - 1) and the chi-squared p-value.
    p_holm
        ``p_value`` adjusted by Holm's method over every variable tested.
    """

    variable: str
    outcome: str
    estimator: str
    levels: tuple[str, ...]
    statistic: float
    df: int
    p_value: float
    p_holm: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**self.__dict__, "levels": list(self.levels)}


@dataclass(frozen=True)
class Subgroups:
    """The subgroup estimates, the tests, and what was not estimated and why.

    ``withheld`` holds every level not estimated (label → reason); ``unsolved`` names those
    among them whose design has no solution (the rest are too small).
    """

    results: list[EffectResult]
    tests: list[Heterogeneity]
    withheld: dict[str, str] = field(default_factory=dict)
    unsolved: frozenset[str] = frozenset()


def levels_of(data: pd.DataFrame, variable: str) -> list[str]:
    """The levels of a subgroup variable, sorted; refuses a variable that is not categorical.

    Raises
    ------
    EvaluationError
        The variable is not a column, or has more than :data:`MAX_LEVELS` levels.
    """
    if variable not in data.columns:
        raise EvaluationError(
            f"estimation.subgroups names {variable!r}, which is not a column of the analysis "
            "data; name one of design.covariates"
        )
    levels = sorted(data[variable].dropna().astype(str).unique())
    if len(levels) > MAX_LEVELS:
        raise EvaluationError(
            f"estimation.subgroups: {variable!r} has {len(levels)} levels (at most "
            f"{MAX_LEVELS}); a subgroup variable is categorical, e.g. education or sex: "
            "for a number, add a categorical version of it to the data and name that"
        )
    return levels


def subgroup_effects(
    data: pd.DataFrame,
    outcome: str,
    spec: EffectsSpec,
    variables: Sequence[str],
    *,
    min_cell: int,
) -> Subgroups:
    """The headline estimator on one outcome within every level of every variable, and Q.

    Parameters
    ----------
    data
        The analysis sample (:func:`~evaluation.estimate.effects.analysis_sample`).
    outcome
        The outcome (the headline's).
    spec
        The effects specification; its headline estimator is used.
    variables
        Pre-registered subgroup variables (categorical columns of ``data``).
    min_cell
        A level with fewer mentored or comparison persons is not estimated.
    """
    results: list[EffectResult] = []
    withheld: dict[str, str] = {}
    unsolved: set[str] = set()
    tests: list[Heterogeneity] = []
    for var in variables:
        covs = [c for c in spec.covariates if c != var]
        values = data[var].astype(str)
        found: list[EffectResult] = []
        for level in levels_of(data, var):
            label = f"{var}={level}"
            sub = supported(data.loc[values.eq(level) & data[outcome].notna()], covs)
            n_t, n_c = int((sub[TREATMENT] == 1).sum()), int((sub[TREATMENT] == 0).sum())
            if n_t < min_cell or n_c < min_cell:
                withheld[label] = f"fewer than {min_cell} persons in a group"
                continue
            lost: dict[tuple[str, str], str] = {}
            try:
                got = estimate_all(
                    sub, TREATMENT, [outcome], covs, [spec.headline_estimator],
                    options=spec.options(), level=spec.level, subgroup=label, failed=lost,
                )  # fmt: skip
            except DesignError as exc:  # e.g. the propensity model separates within the level
                withheld[label] = f"the design cannot be estimated within the subgroup: {exc}"
                unsolved.add(label)
                continue
            if lost:  # the estimator's own step has no solution in this level
                withheld[label] = next(iter(lost.values()))
                unsolved.add(label)
                continue
            (r,) = got
            why = withheld_reason(r, min_cell)
            if why or not (np.isfinite(r.se) and r.se > 0):
                withheld[label] = why or "no standard error"
                continue
            found.append(r)
        results += found
        if len(found) >= 2:
            tests.append(cochran_q(found, var))
    return Subgroups(results=results, tests=holm(tests), withheld=withheld,
                     unsolved=frozenset(unsolved))  # fmt: skip


def cochran_q(results: Sequence[EffectResult], variable: str) -> Heterogeneity:
    """Cochran's Q across independent estimates of one outcome and estimator."""
    theta = np.array([r.estimate for r in results])
    w = 1.0 / np.array([r.se for r in results]) ** 2
    pooled = float(np.sum(w * theta) / w.sum())
    q = float(np.sum(w * (theta - pooled) ** 2))
    df = len(results) - 1
    return Heterogeneity(
        variable=variable, outcome=results[0].outcome, estimator=results[0].estimator,
        levels=tuple(r.subgroup.split("=", 1)[1] for r in results), statistic=q, df=df,
        p_value=float(stats.chi2.sf(q, df)),
    )  # fmt: skip


def holm(tests: Sequence[Heterogeneity]) -> list[Heterogeneity]:
    """The tests with ``p_holm``: Holm's adjustment over all of them (statsmodels)."""
    if not tests:
        return []
    adjusted = multipletests([t.p_value for t in tests], method="holm")[1]
    return [replace(t, p_holm=float(p)) for t, p in zip(tests, adjusted, strict=True)]
