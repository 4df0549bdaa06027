"""Exploratory factor analysis of the survey items, beside the intended mapping.

The items' correlation matrix (pairwise deletion) is factored with statsmodels' ``Factor``
(maximum likelihood by default, principal axis as an option) and rotated (promax by
default: the factors are expected to correlate). Each extracted factor is then labelled with
the intended factor it fits best (the assignment that maximises the summed absolute loadings
of each intended factor's items, Kuhn 1955) and turned so that its intended items load
positively, so that the loadings can be read beside the mapping of the instrument.

References
----------
Fabrigar, L. R., Wegener, D. T., MacCallum, R. C. and Strahan, E. J. (1999). Evaluating the
use of exploratory factor analysis in psychological research. *Psychological Methods* 4(3),
272-299.
Hendrickson, A. E. and White, P. O. (1964). Promax: a quick method for rotation to oblique
simple structure. *British Journal of Statistical Psychology* 17(1), 65-70.
Kuhn, H. W. (1955). The Hungarian method for the assignment problem. *Naval Research
Logistics Quarterly* 2(1-2), 83-97.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from statsmodels.multivariate.factor import Factor


@dataclass(frozen=True)
class FactorAnalysis:
    """Rotated loadings of an exploratory factor analysis, labelled by the intended factors.

    Attributes
    ----------
    loadings
        Items × factors (columns named after the intended factor each matches best).
    intended
        Item → the factor the instrument says it measures.
    communality
        Per item: the share of its variance the factors explain.
    n
        Persons behind the correlations (the fewest answering any item pair).
    rotation, method
        As passed to statsmodels.
    """

    loadings: pd.DataFrame
    intended: pd.Series
    communality: pd.Series
    n: int
    rotation: str
    method: str

    @property
    def primary(self) -> pd.Series:
        """Item → the factor on which it loads most (by absolute loading)."""
        return self.loadings.abs().idxmax(axis=1)

    @property
    def agreement(self) -> float:
        """Share of items whose largest loading is on their intended factor."""
        return float((self.primary == self.intended.reindex(self.primary.index)).mean())

    def table(self, decimals: int = 2) -> pd.DataFrame:
        """Loadings rounded, with the intended factor and the communality beside them."""
        out = self.loadings.round(decimals)
        out.insert(0, "intended", self.intended.reindex(out.index))
        out["communality"] = self.communality.round(decimals)
        return out


def exploratory_factors(
    items: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    *,
    rotation: str = "promax",
    method: str = "ml",
) -> FactorAnalysis:
    """Exploratory factor analysis with as many factors as the mapping names.

    Parameters
    ----------
    items
        One column per item, reverse-coded (NaN where not answered); not modified. Only the
        items named in ``factors`` are used.
    factors
        Intended factor → items; its length is the number of factors extracted.
    rotation
        A rotation statsmodels knows (``"promax"``, ``"varimax"``, ``"oblimin"``, ...).
    method
        ``"ml"`` (maximum likelihood) or ``"pa"`` (principal axis).

    Returns
    -------
    FactorAnalysis
    """
    names = [i for its in factors.values() for i in its]
    x = items[names].astype("float64")
    corr = x.corr(min_periods=3)
    if corr.isna().to_numpy().any():
        raise ValueError("an item pair has too few joint answers for a correlation")
    joint = x.notna().astype(int)
    n = int((joint.T @ joint).to_numpy().min())
    k = len(factors)
    model = Factor(corr=corr.to_numpy(), n_factor=k, method=method, nobs=n,
                   endog_names=names)  # fmt: skip
    fit = model.fit()
    if rotation and k > 1:
        fit.rotate(rotation)
    raw = np.asarray(fit.loadings, dtype=float)
    intended = pd.Series({i: f for f, its in factors.items() for i in its})
    labels = list(factors)
    # score[f, c]: summed absolute loading of factor f's items on extracted column c
    score = np.array([[np.abs(raw[[names.index(i) for i in factors[f]], c]).sum()
                       for c in range(k)] for f in labels])  # fmt: skip
    rows, cols = linear_sum_assignment(-score)
    order = [int(cols[list(rows).index(j)]) for j in range(k)]
    loadings = raw[:, order].copy()
    for j, f in enumerate(labels):
        idx = [names.index(i) for i in factors[f]]
        if loadings[idx, j].sum() < 0:
            loadings[:, j] *= -1
    frame = pd.DataFrame(loadings, index=names, columns=labels)
    return FactorAnalysis(
        loadings=frame,
        intended=intended,
        communality=pd.Series(np.asarray(fit.communality, float), index=names),
        n=n,
        rotation=rotation,
        method=method,
    )
