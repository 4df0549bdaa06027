"""E-values against VanderWeele and Ding (2017); Rosenbaum bounds against hand computation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from evaluation.robustness import sensitivity as sens

#: The paper reports E-values to two decimals.
PAPER_TOL = 0.005
#: Exact binomial sums against the library's survival function.
EXACT_TOL = 1e-12


@pytest.mark.parametrize(
    "rr,lo,hi,e_point,e_ci",
    [
        # smoking and lung cancer (Hammond and Holl 1958): RR 10.73 (8.02, 14.36)
        (10.73, 8.02, 14.36, 20.95, 15.52),
        # breastfeeding and infant respiratory death (Victora et al.), OR 3.9 (1.8, 8.7),
        # rare outcome so OR ~ RR: E-values 7.26 and 3.00
        (3.9, 1.8, 8.7, 7.26, 3.00),
        # a protective estimate, RR 0.80 (0.71, 0.91):
        # E-values 1.81 and 1.43 (the paper's leukemia example; the EValue R package's
        # evalues.RR(0.80, 0.71, 0.91))
        (0.80, 0.71, 0.91, 1.81, 1.43),
    ],
)
def test_evalue_matches_vanderweele_ding_examples(rr, lo, hi, e_point, e_ci):
    assert abs(sens.evalue_rr(rr) - e_point) < PAPER_TOL
    assert abs(sens.evalue_ci(rr, lo, hi) - e_ci) < PAPER_TOL


def test_evalue_formula_and_null():
    assert sens.evalue_rr(1.0) == 1.0
    assert sens.evalue_rr(2.0) == pytest.approx(2 + math.sqrt(2))
    assert sens.evalue_rr(0.5) == pytest.approx(sens.evalue_rr(2.0))  # symmetric
    assert sens.evalue_ci(1.5, 0.9, 2.5) == 1.0  # CI covers the null


def test_evalue_of_a_risk_difference_converts_with_the_baseline():
    # p0 = 0.40, RD = +0.10 -> RR = 0.50 / 0.40 = 1.25; CI (0.02, 0.18) -> (1.05, 1.45)
    ev = sens.evalue_risk_difference(0.10, 0.02, 0.18, 0.40)
    assert ev.rr == pytest.approx(1.25)
    assert (ev.rr_low, ev.rr_high) == pytest.approx((1.05, 1.45))
    assert ev.evalue == pytest.approx(1.25 + math.sqrt(1.25 * 0.25))
    assert ev.evalue_ci == pytest.approx(1.05 + math.sqrt(1.05 * 0.05))
    # a CI reaching below zero: the limit maps to RR < 1 and the CI E-value is 1
    assert sens.evalue_risk_difference(0.1, -0.08, 0.28, 0.375).evalue_ci == 1.0


def test_evalue_of_an_att_uses_the_counterfactual_risk_of_the_treated():
    # worked by hand: p1 = 0.50 among the treated, ATT = 0.20 -> p0 = 0.30, RR = 5/3,
    # E = 5/3 + sqrt(5/3 * 2/3) = 2.720759...; lower limit 0.05 -> RR 0.35/0.30 = 7/6,
    # E = 7/6 + sqrt(7/6 * 1/6) = 1.607625...
    ev = sens.evalue_att(0.20, 0.05, 0.35, treated_risk=0.50)
    assert ev.baseline == pytest.approx(0.30)
    assert ev.rr == pytest.approx(5 / 3)
    assert ev.evalue == pytest.approx(2.7207592200561264, abs=1e-12)
    assert ev.evalue_ci == pytest.approx(1.6076252185107651, abs=1e-12)
    # not the raw comparison mean: a bias correction that moves the estimate moves p0
    assert sens.evalue_att(0.10, 0.0, 0.2, treated_risk=0.50).baseline == pytest.approx(0.40)
    with pytest.raises(ValueError, match="counterfactual risk"):
        sens.evalue_att(0.6, 0.4, 0.8, treated_risk=0.5)


def _binomial_tail(d: int, t: int, gamma: Fraction) -> float:
    """P(Bin(d, gamma/(1+gamma)) >= t), summed term by term in exact fractions."""
    p = gamma / (1 + gamma)
    return float(
        sum(Fraction(math.comb(d, k)) * p**k * (1 - p) ** (d - k) for k in range(t, d + 1))
    )


def test_rosenbaum_bounds_hand_worked_example():
    # 38 pairs: 15 where only the treated is employed, 5 where only the control is,
    # 10 both, 8 neither -> D = 20 discordant, T = 15
    yt = np.r_[np.ones(15), np.zeros(5), np.ones(10), np.zeros(8)]
    yc = np.r_[np.zeros(15), np.ones(5), np.ones(10), np.zeros(8)]
    rb = sens.rosenbaum_binary(yt, yc, alpha=0.05, gammas=np.array([1.0, 2.0, 3.0]))
    assert (rb.n_pairs, rb.n_discordant, rb.n_treated_only) == (38, 20, 15)
    # Gamma = 1: the exact one-sided McNemar (sign) test, (C(20,15)+...+C(20,20)) / 2^20
    by_hand = (15504 + 4845 + 1140 + 190 + 20 + 1) / 2**20
    assert by_hand == pytest.approx(0.0206947, abs=1e-7)
    assert abs(rb.p_at_1 - by_hand) < EXACT_TOL
    # Gamma = 2 and 3: p+ = 2/3 and 3/4
    assert abs(rb.p_upper[1] - _binomial_tail(20, 15, Fraction(2))) < EXACT_TOL
    assert abs(rb.p_upper[2] - _binomial_tail(20, 15, Fraction(3))) < EXACT_TOL
    assert rb.p_upper[1] == pytest.approx(0.2972, abs=1e-4)
    # the sensitivity value: the bound reaches 0.05 between Gamma 1 and 2, where it equals alpha
    assert 1 < rb.gamma_critical < 2
    assert abs(sens.rosenbaum_p_upper(20, 15, rb.gamma_critical) - 0.05) < 1e-9
    assert sens.rosenbaum_p_upper(20, 15, rb.gamma_critical - 0.01) < 0.05


def test_rosenbaum_not_significant_at_gamma_one_gives_one():
    yt, yc = np.r_[np.ones(6), np.zeros(6)], np.r_[np.zeros(6), np.ones(6)]
    rb = sens.rosenbaum_binary(yt, yc)
    assert rb.p_at_1 > 0.5 and rb.gamma_critical == 1.0
    assert np.all(np.diff(rb.p_upper) >= 0)  # the bound grows with Gamma


def test_matched_pairs_are_disjoint_one_to_one():
    rng = np.random.default_rng(7)
    n = 200
    df = pd.DataFrame(
        {
            "treated": (np.arange(n) < 20).astype(int),
            "score": rng.normal(size=n),
            "cell": rng.integers(0, 2, n),
            "y": rng.integers(0, 2, n),
        }
    )
    pairs = sens.matched_pairs(df, "y", distance=df["score"], caliper=None, exact="cell")
    assert len(pairs.y_treated) + pairs.n_unmatched == 20
    assert len(pairs.y_treated) == len(pairs.y_control)
