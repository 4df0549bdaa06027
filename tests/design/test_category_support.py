"""Category support covers numeric 0/1 indicators: no permutation draw may abort the test.

bench/subsample_precision.py found that about one study in seven aborted its 999-draw
randomisation test: a draw left no mentored person with ``pre_employed_m1 = 1``, the logit
separated, and one failed draw stopped the whole test. No tolerances: exact counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.design.study import category_support
from evaluation.estimate.att import estimate_att
from evaluation.estimate.effects import supported


def _frame(n_t: int = 8, n_c: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    return pd.DataFrame(
        {
            "treated": np.r_[np.ones(n_t, int), np.zeros(n_c, int)],
            "age": rng.normal(35, 8, n),
            "region": rng.choice(["north", "south"], n),
            "employed_m1": np.r_[np.zeros(n_t, int), (rng.random(n_c) < 0.3).astype(int)],
            "y": rng.normal(size=n),
        }
    )


def test_a_binary_level_only_one_group_has_is_outside_support():
    df = _frame()
    cs = category_support(df, ["age", "region", "employed_m1"])
    n_c1 = int(((df["treated"] == 0) & (df["employed_m1"] == 1)).sum())
    assert n_c1 > 0 and cs.n_removed_control == n_c1 and cs.n_removed_treated == 0
    row = cs.removed.iloc[0]
    assert (row["covariate"], row["level"], row["group"], row["persons"]) == (
        "employed_m1",
        "1",
        "comparison",
        n_c1,
    )
    assert not cs.keep[(df["employed_m1"] == 1).to_numpy()].any()


def test_an_indicator_both_groups_have_removes_nothing_and_a_constant_is_ignored():
    df = _frame()
    df.loc[0, "employed_m1"] = 1
    df["constant"] = 0
    cs = category_support(df, ["age", "employed_m1", "constant"])
    assert bool(cs.keep.all()) and cs.removed.empty
    # ages and other numbers are never treated as levels
    assert category_support(df.assign(age=df["age"].round()), ["age"]).removed.empty


def test_the_estimator_runs_on_a_draw_that_would_have_separated():
    df = _frame()
    sample = supported(df, ["age", "region", "employed_m1"])
    assert len(sample) < len(df)
    res = estimate_att(sample, treatment="treated", outcome="y",
                       covariates=["age", "region", "employed_m1"], method="matching", k=2)  # fmt: skip
    assert np.isfinite(res.estimate) and res.n_treated == 8
