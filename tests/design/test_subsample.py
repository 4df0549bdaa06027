"""The design stage's comparison subsample for repeated analyses (register scale).

Tolerances:
- inclusion probability of each comparison person: the mean inclusion over 2 000 draws is
  within 5 Monte Carlo SE of the sampling fraction for every person (binomial SE), and the
  extreme persons do not drift apart (max - min spread within 10 SE);
- Horvitz-Thompson weighted means on the subsample: unbiased for the whole pool's weighted
  mean, the average over 400 draws within 4 Monte Carlo SE;
- the permutation test on all treated plus a random comparison subsample keeps its level
  when assignment is exchangeable (here: random, as the test assumes) under the sharp null: over 300 simulated studies with no effect (49 draws each, so p <= 0.10 has
  probability exactly 0.10) the rejection rate lies within the binomial 99.9 % band
  [0.043, 0.157].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.design.study import comparison_subsample
from evaluation.estimate.inference import permutation_pvalue


def _treated(n_t: int, n_c: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.r_[np.ones(n_t, int), np.zeros(n_c, int)])


def test_a_pool_no_larger_than_the_cap_is_used_whole_without_drawing():
    rng = np.random.default_rng(1)
    t = _treated(10, 200, rng)
    gen = np.random.default_rng(7)
    state = gen.bit_generator.state
    sub = comparison_subsample(t, 200, gen)
    assert sub.mask.all() and sub.fraction == 1.0 and not sub.used
    assert (sub.n_pool, sub.n_drawn) == (200, 200)
    assert gen.bit_generator.state == state  # no draw: the default study's numbers unchanged
    np.testing.assert_array_equal(sub.weights(t), np.ones(210))


def test_a_larger_pool_keeps_every_treated_and_exactly_the_cap():
    rng = np.random.default_rng(2)
    t = _treated(30, 5000, rng)
    sub = comparison_subsample(t, 800, np.random.default_rng(3))
    assert sub.mask[t == 1].all()
    assert int(sub.mask[t == 0].sum()) == 800 == sub.n_drawn
    assert sub.used and sub.fraction == pytest.approx(800 / 5000)
    w = sub.weights(t)
    assert set(np.unique(w[t == 1])) == {1.0}
    # the sampled comparison persons stand for the whole pool
    assert w[t == 0].sum() == pytest.approx(5000)
    assert (w[(t == 0) & ~sub.mask] == 0).all()
    summary = sub.summary()
    assert summary == {"max_comparison": 800, "n_pool": 5000, "n_drawn": 800,
                       "fraction": 0.16, "used": True}  # fmt: skip


def test_the_same_seed_draws_the_same_subsample_and_another_seed_another():
    t = _treated(20, 3000, np.random.default_rng(4))
    a = comparison_subsample(t, 500, np.random.default_rng(11)).mask
    b = comparison_subsample(t, 500, np.random.default_rng(11)).mask
    c = comparison_subsample(t, 500, np.random.default_rng(12)).mask
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_every_comparison_person_is_equally_likely_to_be_drawn():
    t = _treated(5, 300, np.random.default_rng(5))
    reps, cap = 2000, 60
    f = cap / 300
    gen = np.random.default_rng(6)
    hits = np.zeros(len(t))
    for _ in range(reps):
        hits += comparison_subsample(t, cap, gen).mask
    share = hits[t == 0] / reps
    se = np.sqrt(f * (1 - f) / reps)
    assert np.abs(share - f).max() < 5 * se
    assert (hits[t == 1] == reps).all()


def test_horvitz_thompson_weights_give_the_pool_weighted_mean_on_average():
    rng = np.random.default_rng(8)
    n_c = 4000
    t = _treated(40, n_c, rng)
    y = rng.normal(size=len(t)) + 2 * rng.random(len(t))
    odds = np.exp(rng.normal(-1, 1, size=len(t)))  # like e/(1-e) weights
    pool = t == 0
    target = np.average(y[pool], weights=odds[pool])
    gen = np.random.default_rng(9)
    sums = []
    for _ in range(400):
        sub = comparison_subsample(t, 500, gen)
        w = odds * sub.weights(t)
        # ratio of HT totals: the weighted mean over the pool
        sums.append((w[pool] * y[pool]).sum() / w[pool].sum())
    sums = np.array(sums)
    assert abs(sums.mean() - target) < 4 * sums.std(ddof=1) / np.sqrt(len(sums)) + 1e-3


def test_permutation_test_on_a_subsample_keeps_its_level_under_the_null():
    rng = np.random.default_rng(10)
    gen = np.random.default_rng(11)
    rejections, sims = 0, 300
    for _ in range(sims):
        n_t, n_c = 15, 600
        y = rng.exponential(size=n_t + n_c)  # skewed outcome, no effect for anyone
        t = _treated(n_t, n_c, rng)
        sub = comparison_subsample(t, 60, gen)
        df = pd.DataFrame({"treated": t, "y": y}).loc[sub.mask].reset_index(drop=True)

        def diff(frame: pd.DataFrame) -> float:
            d = frame["treated"].to_numpy() == 1
            return float(frame["y"].to_numpy()[d].mean() - frame["y"].to_numpy()[~d].mean())

        res = permutation_pvalue(diff, df, "treated", n_draws=49, rng=gen)
        rejections += res.p_value <= 0.10
    assert 0.043 <= rejections / sims <= 0.157


def test_the_cap_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        comparison_subsample(np.array([1, 0, 0]), 0, np.random.default_rng(0))
