"""On the synthetic default study, every estimator's CI covers the true ATT of the headline.

The chain is the notebooks' own (``evaluation.estimate.montecarlo.simulate_study`` runs 01 →
02 → 03's functions on a generated study); the truth is the generator's exact sample ATT,
computed from both potential outcomes. The naive difference must be visibly further off
than every adjusted estimator: that is the selection bias the design has to remove.

Overlap weights estimate the effect in the overlap population (ATO), not the ATT. The
generator has potential outcomes for the mentored only, so their check here is against the
ATT, which the ATO is close to when, as in the default study, the mentored are few against a
large pool (their propensity scores are small); ``bench/inference_study.py`` holds them to the
true ATO on DGPs that know every person's two outcomes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.config import load_params
from evaluation.estimate.montecarlo import simulate_study

ROOT = Path(__file__).resolve().parents[2]
#: The adjusted estimators; "naive" is the foil.
ADJUSTED = ("regression", "ra", "ipw", "aipw", "matching", "ebal", "overlap")


@pytest.fixture(scope="module")
def default_rows():
    params = load_params(ROOT / "params" / "default.yaml", check_files=False)
    sections = params.notebook_parameters()
    headline = params.estimation.headline.outcome
    rows = simulate_study(
        params.seed,
        n_comparison=params.synthetic.n_comparison,
        params_sections=sections,
        outcomes=[headline],
    )
    return {r["estimator"]: r for r in rows if r["outcome"] == headline}


@pytest.mark.parametrize("estimator", ADJUSTED)
def test_ci_covers_the_true_att(default_rows, estimator):
    r = default_rows[estimator]
    assert r["ci_low"] <= r["truth_used"] <= r["ci_high"], r
    assert r["ci_low"] <= r["truth"] <= r["ci_high"], r


def test_naive_is_further_off_than_every_adjusted_estimator(default_rows):
    truth = default_rows["naive"]["truth"]
    naive_error = abs(default_rows["naive"]["estimate"] - truth)
    adjusted_errors = [abs(default_rows[e]["estimate"] - truth) for e in ADJUSTED]
    assert naive_error > max(adjusted_errors)
    assert naive_error > 0.05  # at least five percentage points of selection bias
