"""Scales: reverse coding, reliability (Cronbach's alpha) and factor scores.

Reliability follows Cronbach (1951) computed from the items' covariance matrix with
pairwise deletion (as ``psych::alpha`` in R, ``use = "pairwise"``), so that a person who
skipped one item still counts for the others. The item-rest correlation ("corrected item-
total correlation", ``r.drop`` in psych) and alpha if the item is dropped come from the same
matrix.

References
----------
Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
*Psychometrika* 16(3), 297-334.
Revelle, W. (2024). *psych: Procedures for Psychological, Psychometric, and Personality
Research*, function ``alpha``. Northwestern University.
Newman, D. A. (2014). Missing data: five practical guidelines. *Organizational Research
Methods* 17(4), 372-411 (person-mean imputation within a scale when at least half the items
are answered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

LIKERT = (1, 5)
#: Conventional least alpha for comparing groups (Nunnally, J. C. 1978. *Psychometric Theory*,
#: 2nd ed., McGraw-Hill, p. 245); quoted in the report, not used to drop scales.
ALPHA_ACCEPTABLE = 0.7


def reverse_code(answers: pd.DataFrame, reverse: Sequence[str], scale: tuple[int, int] = LIKERT):
    """Answers with the reverse-coded items turned round (``low + high - answer``).

    Parameters
    ----------
    answers
        One column per item (1..5, NaN where not answered); not modified.
    reverse
        Items to reverse; those not in ``answers`` are ignored.
    scale
        Lowest and highest answer.

    Returns
    -------
    pandas.DataFrame
        A new frame, float64.
    """
    out = answers.astype("float64").copy()
    cols = [c for c in reverse if c in out.columns]
    out[cols] = scale[0] + scale[1] - out[cols]
    return out


@dataclass(frozen=True)
class Reliability:
    """Cronbach's alpha of one scale, with item statistics.

    Attributes
    ----------
    alpha
        Cronbach's alpha.
    k
        Number of items.
    n
        Persons with at least two answered items of the scale.
    item_rest
        Per item: correlation of the item with the sum of the other items.
    alpha_if_dropped
        Per item: alpha of the scale without the item (NaN for a two-item scale).
    """

    alpha: float
    k: int
    n: int
    item_rest: pd.Series
    alpha_if_dropped: pd.Series


def _alpha_from_cov(cov: np.ndarray) -> float:
    k = cov.shape[0]
    if k < 2:
        return float("nan")
    return float(k / (k - 1) * (1.0 - np.trace(cov) / cov.sum()))


def cronbach_alpha(items: pd.DataFrame) -> Reliability:
    """Cronbach's alpha, item-rest correlations and alpha if an item is dropped.

    ``alpha = k / (k - 1) * (1 - sum_j var_j / var(sum))`` with ``var(sum)`` the sum of all
    entries of the item covariance matrix (pairwise deletion, ``ddof = 1``). The item-rest
    correlation of item ``j`` is ``(sum_l C_jl - C_jj) / sqrt(C_jj * S_-j)`` with ``S_-j`` the
    sum of the covariance matrix without row and column ``j``.

    Parameters
    ----------
    items
        One column per item, already reverse-coded (NaN where not answered).

    Returns
    -------
    Reliability
    """
    x = items.astype("float64")
    cov = x.cov(min_periods=2).to_numpy()
    if np.isnan(cov).any():
        raise ValueError("an item pair has fewer than two joint answers: alpha is undefined")
    k = cov.shape[0]
    names = list(x.columns)
    rest, dropped = {}, {}
    for j, name in enumerate(names):
        keep = [i for i in range(k) if i != j]
        sub = cov[np.ix_(keep, keep)]
        rest[name] = float((cov[j].sum() - cov[j, j]) / np.sqrt(cov[j, j] * sub.sum()))
        dropped[name] = _alpha_from_cov(sub)
    n = int((x.notna().sum(axis=1) >= 2).sum())
    return Reliability(
        alpha=_alpha_from_cov(cov),
        k=k,
        n=n,
        item_rest=pd.Series(rest, name="item_rest"),
        alpha_if_dropped=pd.Series(dropped, name="alpha_if_dropped"),
    )


@dataclass(frozen=True)
class Scores:
    """Factor scores of persons.

    Attributes
    ----------
    scores
        One column per factor (mean of the answered items after reverse coding; NaN where
        fewer than ``min_answered`` of the items were answered), index as the answers.
    n_scored
        Per factor: persons with a score.
    n_incomplete
        Per factor: persons scored from only part of the items.
    min_answered
        The rule: the least share of a factor's items that must be answered.
    incomplete
        Persons × factors: ``True`` where the person is scored from only part of the
        factor's items (the persons ``n_incomplete`` counts), index as ``scores``.
    """

    scores: pd.DataFrame
    n_scored: pd.Series
    n_incomplete: pd.Series
    min_answered: float
    incomplete: pd.DataFrame | None = None


def factor_scores(
    answers: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    reverse: Sequence[str],
    *,
    min_answered: float = 0.5,
) -> Scores:
    """Score each factor as the mean of its answered items, after reverse coding.

    A person gets a score for a factor if at least ``min_answered`` of the factor's items are
    answered (default one half: the person-mean rule of Newman 2014); otherwise the score is
    missing. Scores are on the answer scale (1..5, higher = more of the factor).

    Parameters
    ----------
    answers
        One column per item (1..5 or NaN); not modified.
    factors
        Factor → items.
    reverse
        Reverse-coded items.
    min_answered
        Share of a factor's items that must be answered (0 < share <= 1).

    Returns
    -------
    Scores
    """
    if not 0 < min_answered <= 1:
        raise ValueError("min_answered is a share in (0, 1]")
    coded = reverse_code(answers, reverse)
    cols, n_scored, part = {}, {}, {}
    for factor, items in factors.items():
        block = coded[list(items)]
        answered = block.notna().sum(axis=1)
        enough = answered >= min_answered * len(items) - 1e-9
        cols[factor] = block.mean(axis=1).where(enough & (answered > 0))
        n_scored[factor] = int(cols[factor].notna().sum())
        part[factor] = enough & (answered > 0) & (answered < len(items))
    incomplete = pd.DataFrame(part, index=answers.index, columns=list(factors), dtype=bool)
    return Scores(
        scores=pd.DataFrame(cols, index=answers.index),
        n_scored=pd.Series(n_scored),
        n_incomplete=incomplete.sum().astype(int),
        min_answered=float(min_answered),
        incomplete=incomplete,
    )


def standardise(values: pd.Series) -> pd.Series:
    """``(x - mean) / sd`` (``ddof = 1``) over the non-missing values."""
    return (values - values.mean()) / values.std(ddof=1)
