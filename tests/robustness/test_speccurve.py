"""The specification curve: grid expansion, parallel = one by one, both cores, summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.design.sample import build_analysis
from evaluation.errors import ParamsError
from evaluation.resources import SPECIFICATION_GRID
from evaluation.rng import stream
from evaluation.robustness import speccurve as sc
from evaluation.synth import generate

ROOT = Path(__file__).resolve().parents[2]
#: Parallel and one-by-one runs compute the same numbers, bit for bit up to float printing.
SAME = 1e-12

SMALL_GRID = """
horizons: [6, 12]
estimators: [matching, ipw]
covariate_sets:
  small: [age, sex, pre_months_employed_12, pre_employed_m1]
trimming: [common_support]
matching:
  neighbours: [1, 4]
  caliper: [0.2]
"""


@pytest.fixture(scope="module")
def frame():
    study = generate(11, n_mentored=50, n_comparison=600)
    return build_analysis(study.participants, study.monthly, rng=stream(11, "pseudo_starts")).frame


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "grid.yaml"
    path.write_text(SMALL_GRID, "utf-8")
    return sc.read_grid(path)


def test_default_grid_file_expands_to_60(root):
    g = sc.read_grid(SPECIFICATION_GRID)
    # 3 horizons x 2 covariate sets x 2 trimming rules x (2 matching + ipw + aipw + ebal)
    assert len(g.specifications) == 60
    assert len(set(g.specifications)) == 60
    assert {s.neighbours for s in g.specifications if s.estimator != "matching"} == {None}


def test_small_grid_expands(grid):
    # 2 horizons x (2 matching variants + ipw)
    assert len(grid.specifications) == 6


def test_parallel_equals_one_by_one_and_uses_two_processes(frame, grid):
    seen = []
    par = sc.run_grid(
        frame, grid, exact="start_quarter", workers=2, progress=lambda d, t: seen.append((d, t))
    )
    one = sc.run_grid(frame, grid, exact="start_quarter", workers=1)
    assert par.table["error"].isna().all()
    np.testing.assert_allclose(par.table["estimate"], one.table["estimate"], rtol=0, atol=SAME)
    np.testing.assert_allclose(par.table["se"], one.table["se"], rtol=0, atol=SAME)
    assert par.processes_seen == 2 and one.processes_seen == 1
    assert seen[-1] == (6, 6) and len(seen) == 6
    assert par.wall_seconds > 0 and one.wall_seconds > 0


def test_a_specification_reproduces_the_estimator_directly(frame, grid):
    from evaluation.design.propensity import fit_propensity, trim_common_support
    from evaluation.estimate.att import estimate_att

    spec = grid.specifications[0]  # employed_m6, matching, k = 1
    covs = list(grid.covariate_sets["small"])
    fit = fit_propensity(frame, "treated", covs)
    keep = trim_common_support(fit.pscore, frame["treated"], rule="minmax").keep.to_numpy()
    sample = frame.loc[keep]
    sample = sample.loc[sample[spec.outcome].notna()]
    want = estimate_att(
        sample,
        treatment="treated",
        outcome=spec.outcome,
        covariates=covs,
        method="matching",
        k=1,
        replace=True,
        caliper=0.2,
        exact="start_quarter",
        bias_adjust=True,
    )
    got = sc.estimate_specification(frame, spec, covs, exact="start_quarter")
    assert abs(got.estimate - want.estimate) < SAME and abs(got.se - want.se) < SAME


def test_a_failing_specification_is_recorded_not_raised(frame):
    spec = sc.Specification(6, "matching", "x", "common_support", 1, 0.2)
    got = sc.estimate_specification(frame, spec, ["no_such_column"], exact=None)
    assert np.isnan(got.estimate) and got.error


def test_summary_by_hand():
    table = pd.DataFrame(
        {"estimate": [0.1, 0.2, -0.05, np.nan], "p_value": [0.01, 0.2, 0.03, np.nan]}
    )
    s = sc.summarise(table, reference=0.15, alpha=0.05)
    assert s.n_specifications == 4 and s.n_failed == 1
    assert s.share_same_sign == pytest.approx(2 / 3)
    assert s.share_significant == pytest.approx(1 / 3)
    assert s.share_significant_any == pytest.approx(2 / 3)
    assert (s.low, s.median, s.high) == (-0.05, 0.1, 0.2)


def test_bad_grid_files_are_refused(tmp_path, frame):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_GRID + "colour: blue\n", "utf-8")
    with pytest.raises(ParamsError, match="not valid"):
        sc.read_grid(bad)
    with pytest.raises(ParamsError, match="not found"):
        sc.read_grid(tmp_path / "missing.yaml")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(SMALL_GRID.replace("age, sex", "age, shoe_size"), "utf-8")
    with pytest.raises(ParamsError, match="shoe_size"):
        sc.run_grid(frame, sc.read_grid(unknown), exact=None, workers=1)
