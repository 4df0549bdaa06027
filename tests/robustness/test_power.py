"""Minimum detectable effect against statsmodels' power functions and hand algebra."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

from evaluation.robustness import power as pw

#: "To three decimals": the MDE (in percentage points and as Cohen's d) within half a unit
#: of the third decimal of statsmodels' answer.
THREE_DECIMALS = 5e-4
#: Our power function and statsmodels' agree to floating-point accuracy.
POWER_TOL = 1e-10

# The stated example: the default study's matched sample (44 matched mentored, Kish effective
# number of matched comparison persons 99.4) and the pre-period SD of employment a year before
# start, sqrt(p (1 - p)) with p = 0.19, at 80 % power and the 5 % level.
N1, ESS, P_PRE = 44, 99.4, 0.19


def test_mde_matches_statsmodels_normal_ind_power():
    sigma = pw.binary_sd(P_PRE)
    got = pw.minimum_detectable_effect(sigma, N1, ESS, alpha=0.05, power=0.80)
    d = NormalIndPower().solve_power(
        effect_size=None,
        nobs1=N1,
        alpha=0.05,
        power=0.80,
        ratio=ESS / N1,
        alternative="two-sided",
    )
    assert abs(got.mde_standardised - d) < THREE_DECIMALS
    assert abs(100 * got.mde - 100 * d * sigma) < THREE_DECIMALS
    # and the value itself, for the record: about 19.9 percentage points
    assert 100 * got.mde == pytest.approx(19.90, abs=0.01)


@pytest.mark.parametrize("alpha,power,ratio", [(0.05, 0.9, 1.0), (0.01, 0.8, 4.0), (0.1, 0.5, 0.5)])
def test_mde_matches_statsmodels_across_settings(alpha, power, ratio):
    got = pw.minimum_detectable_effect(1.0, 60, 60 * ratio, alpha=alpha, power=power)
    d = NormalIndPower().solve_power(
        effect_size=None, nobs1=60, alpha=alpha, power=power, ratio=ratio
    )
    assert abs(got.mde - d) < THREE_DECIMALS


def test_power_function_matches_statsmodels():
    sigma = 0.4
    se = pw.difference_se(sigma, N1, ESS)
    for effect in (0.0, 0.05, 0.1, 0.2, 0.3):
        want = NormalIndPower().power(effect / sigma, nobs1=N1, alpha=0.05, ratio=ESS / N1)
        assert abs(pw.power_at(effect, se, 0.05) - want) < POWER_TOL
    # at the MDE the power is the target
    mde = pw.minimum_detectable_effect(sigma, N1, ESS).mde
    assert abs(pw.power_at(mde, se) - 0.80) < 1e-9


def test_mde_is_close_to_blooms_approximation():
    # Bloom (1995): MDE ~ (z_{0.975} + z_{0.80}) se = 2.8016 se; the far tail adds nothing visible
    se = pw.difference_se(1.0, 50, 200)
    assert pw.minimum_detectable_effect(1.0, 50, 200).mde == pytest.approx(2.80158 * se, rel=1e-4)


def test_design_effect_and_kish_by_hand():
    # 10 treated, 4 neighbours each, no control reused: 40 controls of weight 1/4 -> ESS 40
    assert pw.kish_ess(np.full(40, 0.25)) == pytest.approx(40)
    assert pw.matching_design_effect(10, 40, 4) == pytest.approx(1.0)
    # every treated shares the same 4 controls (weight 10/4 each): ESS 4
    ess = pw.kish_ess(np.full(4, 2.5))
    assert ess == pytest.approx(4)
    assert pw.matching_design_effect(10, ess, 4) == pytest.approx((0.1 + 0.25) / (0.1 + 0.025))
    # with a design effect the SE scales by its square root
    assert pw.difference_se(2.0, 10, 40, 4.0) == pytest.approx(2 * 2.0 * math.sqrt(0.125))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        pw.minimum_detectable_effect(1.0, 0, 10)
    with pytest.raises(ValueError):
        pw.minimum_detectable_effect(1.0, 10, 10, power=0.01)
    with pytest.raises(ValueError):
        pw.binary_sd(1.2)
