"""A fast Monte Carlo of the study's chain on generated default studies (50 mentored).

The full version is ``bench/montecarlo_study.py`` (200 replications, all outcomes, pool of
3 000). Here: ``N_REPS`` replications with the default effect and ``N_REPS`` with no effect,
a comparison pool of ``N_COMPARISON``, the headline outcome only, two worker processes
(about 30 s in all). The seeds are fixed, so the test is deterministic; the tolerances say
how far the numbers may move before an estimator change counts as a regression.

Reasoning for the tolerances (Monte Carlo SEs at ``N_REPS = 80``, Morris et al. 2019):

* the SD of ``estimate - truth`` for employed_m12 is about 0.065-0.075 for every estimator,
  so the MC SE of a bias is about 0.008; ``BIAS_TOL`` = 0.025 is 3 MC SEs (observed: below
  0.005 for every adjusted estimator, with and without an effect);
* the MC SE of a 95 % coverage is ``sqrt(0.95 * 0.05 / 80)`` = 0.024; ``COVER_LOW`` = 0.87
  is 3.3 MC SEs below nominal (observed: 0.94-0.96);
* mean SE / SD of the errors: the SD estimated from 80 draws has a relative SE of about
  ``1 / sqrt(2 * 80)`` = 8 %, so ``SE_RATIO`` allows about 3 of those either side of 1
  (observed 1.05-1.16: the SEs are a little conservative for the sample ATT);
* the naive difference carries the selection bias of the generator (about +5.4 pp on
  employed_m12, MC SE 0.7 pp): ``NAIVE_MIN_BIAS`` = 0.03 is more than 3 MC SEs below,
  and it must exceed the largest adjusted |bias| by ``NAIVE_MARGIN``;
* the estimand shift (trimming and the caliper drop a few mentored persons, on average
  about 1.5 of 50 and, for matching at this pool size, about 6.5) moves the mean bias by
  less than ``SHIFT_TOL`` (observed: 0.1 pp), so comparing with the ATT over all mentored
  is fair here.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from evaluation.config import load_params
from evaluation.estimate.montecarlo import (
    replication_seed,
    simulate_many,
    simulate_study,
    summarise,
    unit_effects,
)
from evaluation.synth import EffectSpec, generate

#: 160 simulated studies in two worker processes: outside ``make test-fast``.
pytestmark = pytest.mark.slow

N_REPS = 80
N_COMPARISON = 1000
OUTCOME = "employed_m12"
BASE_SEED = 20170601
JOBS = 2
ADJUSTED = ("regression", "ra", "ipw", "aipw", "matching")

BIAS_TOL = 0.025  # |mean bias| of adjusted estimators, probability units (2.5 pp)
COVER_LOW, COVER_HIGH = 0.87, 1.0  # coverage of the 95 % CI of the true sample ATT
SE_RATIO = (0.75, 1.3)  # mean SE / SD of the errors
NAIVE_MIN_BIAS = 0.03  # the naive difference's bias, at least (3 pp)
NAIVE_MARGIN = 0.02  # naive bias minus the largest adjusted |bias|, at least (2 pp)
SHIFT_TOL = 0.01  # |bias against the used mentored - bias against all mentored| (1 pp)


@pytest.fixture(scope="module")
def params(root):
    return load_params(root / "params" / "default.yaml", check_files=False).notebook_parameters()


def _summary(params, effect):
    rows = simulate_many(
        BASE_SEED, N_REPS, jobs=JOBS, n_comparison=N_COMPARISON, params_sections=params,
        effect=effect, outcomes=[OUTCOME],
    )  # fmt: skip
    return summarise(rows).loc[OUTCOME]


@pytest.fixture(scope="module")
def with_effect(params):
    return _summary(params, None)


@pytest.fixture(scope="module")
def null(params):
    return _summary(params, EffectSpec(null=True))


def test_adjusted_estimators_unbiased_and_cover(with_effect):
    tab = with_effect
    assert (tab["reps"] == N_REPS).all()
    for name in ADJUSTED:
        row = tab.loc[name]
        assert abs(row["bias"]) < BIAS_TOL, (name, row.to_dict())
        assert COVER_LOW <= row["coverage"] <= COVER_HIGH, (name, row.to_dict())
        assert SE_RATIO[0] <= row["mean_se"] / row["sd_error"] <= SE_RATIO[1], (name, row.to_dict())


def test_naive_difference_carries_the_selection_bias(with_effect):
    naive = with_effect.loc["naive", "bias"]
    assert naive > NAIVE_MIN_BIAS
    assert naive > with_effect.loc[list(ADJUSTED), "bias"].abs().max() + NAIVE_MARGIN


def test_estimand_shift_is_reported_and_small(with_effect):
    tab = with_effect
    # trimming and the caliper drop some mentored persons: reported, and matching uses fewest
    assert (tab["mean_n_used"] <= 50).all()
    assert tab.loc["matching", "mean_n_used"] <= tab.loc["regression", "mean_n_used"]
    assert ((tab["bias_used"] - tab["bias"]).abs() < SHIFT_TOL).all(), tab


def test_null_effect_adjusted_cover_zero(null):
    tab = null
    assert (tab["mean_truth"] == 0).all()
    for name in ADJUSTED:
        row = tab.loc[name]
        assert abs(row["bias"]) < BIAS_TOL, (name, row.to_dict())
        assert COVER_LOW <= row["coverage"] <= COVER_HIGH, (name, row.to_dict())
    assert tab.loc["naive", "bias"] > NAIVE_MIN_BIAS


def test_one_replication_uses_the_generators_truth(params):
    seed = replication_seed(BASE_SEED, 0)
    study = generate(seed, n_comparison=300)
    effects = unit_effects(study, params["outcomes"]["horizons"], params["outcomes"]["pre_months"])
    assert len(effects) == 50
    assert effects[OUTCOME].mean() == pytest.approx(study.truth["att"][OUTCOME], abs=1e-12)
    rows = simulate_study(seed, n_comparison=300, params_sections=params, outcomes=[OUTCOME])
    again = simulate_study(seed, n_comparison=300, params_sections=params, outcomes=[OUTCOME])
    assert rows == again  # the same seed gives the same numbers
    assert [r["estimator"] for r in rows] == params["estimation"]["estimators"]
    for r in rows:
        assert r["truth"] == pytest.approx(study.truth["att"][OUTCOME], abs=1e-12)
        assert r["n_mentored"] == 50 and r["n_mentored_used"] <= 50


def test_summarise_formulas():
    rows = pd.DataFrame(
        {
            "outcome": "y", "estimator": "e", "estimate": [1.0, 3.0, 2.0, 6.0],
            "se": 1.0, "ci_low": [0.0, 2.0, 1.0, 5.0], "ci_high": [2.0, 4.0, 3.0, 7.0],
            "truth": [1.0, 1.0, 2.0, 2.0], "truth_used": [1.0, 1.0, 2.0, 2.0],
            "n_mentored_used": 50, "covered": [True, False, True, False],
            "covered_used": [True, False, True, False],
        }
    )  # fmt: skip
    s = summarise(rows).loc[("y", "e")]
    errors = np.array([0.0, 2.0, 0.0, 4.0])
    assert s["reps"] == 4
    assert s["bias"] == pytest.approx(1.5)
    assert s["mc_se_bias"] == pytest.approx(errors.std(ddof=1) / 2)
    assert s["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert s["coverage"] == 0.5 and s["mc_se_coverage"] == pytest.approx(0.25)
    assert s["mean_ci_width"] == 2.0 and s["mean_truth"] == 1.5


def test_bench_script_does_not_depend_on_jobs(root, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "montecarlo_study", root / "bench" / "montecarlo_study.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tables = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        argv = ["--reps", "3", "--jobs", str(jobs), "--n-comparison", "300",
                "--outcomes", OUTCOME, "--out", str(out)]  # fmt: skip
        assert bench.main(argv) == 0
        (path,) = out.glob("*_reps.csv")
        tables.append(pd.read_csv(path))
    pd.testing.assert_frame_equal(tables[0], tables[1])
