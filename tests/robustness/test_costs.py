"""Costs per participant and per additional person in work; break-even, by hand."""

from __future__ import annotations

import pytest

from evaluation.robustness import costs as cst

#: Money is compared to a hundredth of a krona.
SEK_TOL = 0.01
BUDGET, N = 3_254_321, 50


def test_cost_per_participant():
    assert abs(cst.cost_per_participant(BUDGET, N) - 65_086.42) < SEK_TOL


def test_bounded_interval_when_the_ci_excludes_zero():
    got = cst.cost_per_additional(BUDGET, N, 0.10, 0.02, 0.18)
    assert got.status == "bounded"
    assert abs(got.cost - 650_864.20) < SEK_TOL  # 65 086.42 / 0.10
    assert abs(got.cost_low - 361_591.22) < SEK_TOL  # / 0.18
    assert abs(got.cost_high - 3_254_321.00) < SEK_TOL  # / 0.02
    assert got.additional_persons == pytest.approx(5.0)


def test_unbounded_when_the_ci_includes_zero_and_never_negative():
    got = cst.cost_per_additional(BUDGET, N, 0.10, -0.08, 0.28)
    assert got.status == "unbounded"
    assert got.cost_high is None
    assert abs(got.cost_low - 65_086.42 / 0.28) < SEK_TOL
    assert got.cost > 0 and got.cost_low > 0


def test_undefined_when_the_estimate_is_not_positive():
    got = cst.cost_per_additional(BUDGET, N, -0.02, -0.2, 0.16)
    assert got.status == "undefined"
    assert got.cost is None and got.cost_low is None and got.cost_high is None


def test_break_even_by_hand():
    be = cst.break_even(
        65_086.42,
        monthly_earnings=20_000,
        tax_share=0.3,
        benefit_saved_per_month=6_000,
        duration_months=12,
    )
    assert be.gain_per_month_public == pytest.approx(12_000)
    assert be.effect_earnings == pytest.approx(65_086.42 / 240_000)
    assert be.effect_public == pytest.approx(65_086.42 / 144_000)


def test_inconsistent_inputs_are_refused():
    with pytest.raises(ValueError):
        cst.cost_per_additional(BUDGET, N, 0.3, 0.0, 0.2)
    with pytest.raises(ValueError):
        cst.break_even(
            1.0, monthly_earnings=0, tax_share=0.3, benefit_saved_per_month=0, duration_months=12
        )
