"""Reliability and scores against hand-computed values; the generator's scales recovered."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation import synth
from evaluation.bottomup.instrument import load_instrument
from evaluation.bottomup.scales import cronbach_alpha, factor_scores, reverse_code

ATOL = 1e-12  # hand-computed fractions
ALPHA_BELOW_IMPLIED = 0.08  # Likert coarsening may lower alpha below the continuous value
ALPHA_ABOVE_IMPLIED = 0.01

# Four persons, three items. Variances (ddof 1): 5/3, 4/3, 8/3; the sums 4, 7, 10, 13 have
# variance 15. alpha = 3/2 * (1 - (17/3) / 15) = 42/45.
HAND = pd.DataFrame({"x1": [1, 2, 3, 4], "x2": [2, 2, 4, 4], "x3": [1, 3, 3, 5]})


def test_alpha_matches_the_hand_computation():
    rel = cronbach_alpha(HAND)
    assert_allclose(rel.alpha, 42 / 45, atol=ATOL)
    assert (rel.k, rel.n) == (3, 4)
    # item-rest: x1 with x2 + x3 = [3, 5, 7, 9] is exactly linear; x2 with [2, 5, 6, 9]:
    # 8 / sqrt(4 * 25); x3 with [3, 4, 7, 8]: 10 / sqrt(8 * 17)
    assert_allclose(rel.item_rest.to_numpy(), [1.0, 0.8, 10 / math.sqrt(136)], atol=ATOL)
    # alpha without x1: 2 (1 - 4 / 20 * 3 / 1 ...): variances 4/3, 8/3, sum variance 20/3
    assert_allclose(rel.alpha_if_dropped.to_numpy(), [0.8, 0.96, 16 / 17], atol=ATOL)


def test_alpha_uses_pairwise_deletion_and_does_not_mutate():
    items = HAND.astype(float).copy()
    items.loc[0, "x3"] = np.nan
    before = items.copy()
    rel = cronbach_alpha(items)
    cov = items.cov().to_numpy()  # pandas' pairwise covariance
    assert_allclose(rel.alpha, 1.5 * (1 - np.trace(cov) / cov.sum()), atol=ATOL)
    assert rel.n == 4  # the person with one item missing still counts
    pd.testing.assert_frame_equal(items, before)


def test_scores_follow_the_missing_item_rule():
    answers = pd.DataFrame(
        {"a": [5, 5, np.nan, np.nan], "b": [1, np.nan, np.nan, 4], "c": [3, 3, np.nan, np.nan]},
        index=["p1", "p2", "p3", "p4"],
    )
    sc = factor_scores(answers, {"f": ["a", "b", "c"]}, ["b"], min_answered=0.5)
    # p1: 5, 6-1=5, 3 -> 13/3; p2: two of three answered -> (5 + 3)/2; p3: none; p4: one of
    # three (< half) -> missing
    assert_allclose(sc.scores["f"].to_numpy(), [13 / 3, 4.0, np.nan, np.nan], atol=ATOL)
    assert sc.n_scored["f"] == 2 and sc.n_incomplete["f"] == 1
    strict = factor_scores(answers, {"f": ["a", "b", "c"]}, ["b"], min_answered=1.0)
    assert strict.n_scored["f"] == 1
    assert reverse_code(answers, ["b"])["b"].tolist()[0] == 5.0
    with pytest.raises(ValueError):
        factor_scores(answers, {"f": ["a"]}, [], min_answered=0)


def _implied_alpha(loadings: list[float]) -> float:
    """Standardised alpha of continuous items with these loadings on one factor."""
    k = len(loadings)
    lam = np.asarray(loadings)
    rho = (np.outer(lam, lam).sum() - (lam**2).sum()) / (k * (k - 1))
    return k * rho / (1 + (k - 1) * rho)


def test_alpha_recovers_the_generators_scales(large_study):
    ins = load_instrument()
    survey = large_study.survey
    for factor, items in ins.factors().items():
        wave = "follow_up" if factor in synth.FOLLOW_UP_ONLY else "baseline"
        answers = survey.loc[survey["wave"] == wave, items]
        rel = cronbach_alpha(reverse_code(answers, ins.reverse()))
        implied = _implied_alpha([synth.SURVEY_ITEMS[i][2] for i in items])
        assert implied - ALPHA_BELOW_IMPLIED <= rel.alpha <= implied + ALPHA_ABOVE_IMPLIED, factor
        # the item the generator ties least to its factor has the lowest item-rest correlation
        weakest = min(items, key=lambda i: synth.SURVEY_ITEMS[i][2])
        assert rel.item_rest.idxmin() == weakest, factor
