import itertools

import numpy as np
import pandas as pd
import pytest

from evaluation.estimate.inference import permutation_pvalue

EXACT = 1e-12


def diff_in_means(df: pd.DataFrame) -> float:
    return float(df.loc[df.d == 1, "y"].mean() - df.loc[df.d == 0, "y"].mean())


def test_p_value_converges_to_the_exact_permutation_distribution():
    df = pd.DataFrame(
        {"d": [1, 1, 1, 0, 0, 0, 0, 0], "y": [5.0, 7.0, 6.0, 1.0, 2.0, 4.0, 3.0, 6.5]}
    )
    obs = diff_in_means(df)
    # exact: all C(8,3) = 56 assignments
    stats_all = []
    for t in itertools.combinations(range(8), 3):
        d = np.zeros(8, int)
        d[list(t)] = 1
        stats_all.append(diff_in_means(df.assign(d=d)))
    exact_p = np.mean(np.abs(stats_all) >= abs(obs) - 1e-12)
    res = permutation_pvalue(diff_in_means, df, "d", n_draws=5_000, rng=np.random.default_rng(1))
    assert res.observed == pytest.approx(obs, abs=EXACT)
    assert res.p_value == pytest.approx(exact_p, abs=0.025)  # MC SD of the estimate <= 0.007
    assert res.n_draws == 5_000 and res.draws.shape == (5_000,)
    assert not res.draws.flags.writeable


def test_plus_one_correction_and_determinism():
    df = pd.DataFrame({"d": [1] * 5 + [0] * 45, "y": [100.0] * 5 + list(np.arange(45.0))})
    res = permutation_pvalue(diff_in_means, df, "d", n_draws=99, rng=np.random.default_rng(3))
    # the observed split is the most extreme possible: no draw beats it with high probability
    assert res.p_value == pytest.approx((1 + (np.abs(res.draws) >= abs(res.observed)).sum()) / 100)
    assert res.p_value >= 1 / 100
    again = permutation_pvalue(diff_in_means, df, "d", n_draws=99, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(res.draws, again.draws)


def test_strata_keep_treated_counts_per_cell_and_data_untouched():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "d": [1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
            "q": ["a"] * 4 + ["b"] * 6,
            "y": rng.normal(size=10),
        }
    )
    before = df.copy()
    seen = []

    def stat(frame: pd.DataFrame) -> float:
        seen.append(frame.groupby("q")["d"].sum().to_dict())
        return diff_in_means(frame)

    permutation_pvalue(stat, df, "d", n_draws=50, rng=np.random.default_rng(9), strata="q")
    assert all(s == {"a": 1, "b": 2} for s in seen)
    assert df.equals(before)


def test_one_sided_alternatives():
    df = pd.DataFrame({"d": [1, 1, 0, 0, 0, 0], "y": [9.0, 8.0, 1.0, 2.0, 3.0, 4.0]})
    g = permutation_pvalue(
        diff_in_means, df, "d", n_draws=1000, rng=np.random.default_rng(2), alternative="greater"
    )
    lo = permutation_pvalue(
        diff_in_means, df, "d", n_draws=1000, rng=np.random.default_rng(2), alternative="less"
    )
    assert g.p_value < 0.15 < lo.p_value
