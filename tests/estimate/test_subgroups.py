"""Pre-registered subgroups (evaluation.estimate.subgroups).

* Each level's estimate is the headline estimator fitted on that level's persons alone, with
  the variable dropped from the covariates: equal to :func:`estimate_all` on the subset, to
  ``EXACT``.
* Cochran's Q and its p-value equal statsmodels' fixed-effect meta-analysis
  (``statsmodels.stats.meta_analysis.combine_effects``: its homogeneity statistic), an
  independent implementation, to ``EXACT``; for two levels Q is the square of the z statistic
  of the difference (as the women-men test).
* Holm's adjustment is statsmodels' ``multipletests(method="holm")``, checked by hand on
  three p-values.
* Levels with fewer than ``min_cell`` persons in a group are not estimated and not tested.

The test's size at fifty mentored: ``bench/subgroup_heterogeneity.py`` (figures in the README).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from statsmodels.stats.meta_analysis import combine_effects

from evaluation.errors import EvaluationError
from evaluation.estimate import effects as fx
from evaluation.estimate.att import estimate_all
from evaluation.estimate.subgroups import Heterogeneity, holm, levels_of, subgroup_effects

EXACT = 1e-10
COV = ["age", "edu", "female"]


def _data(seed: int = 0, n: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(35, 8, n)
    edu = rng.choice(["low", "mid", "high"], n, p=[0.4, 0.35, 0.25])
    female = rng.binomial(1, 0.5, n)
    d = (rng.random(n) < expit(-1.5 + 0.03 * (age - 35) + 0.5 * (edu == "high"))).astype(int)
    y = 0.3 + 0.01 * age + 0.1 * (edu == "mid") + (0.1 + 0.1 * female) * d + rng.normal(0, 0.3, n)
    return pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], fx.TREATMENT: d, "age": age,
                         "edu": edu, "female": female, "y": y})  # fmt: skip


def _spec(estimator: str = "aipw") -> fx.EffectsSpec:
    return fx.EffectsSpec(covariates=tuple(COV), exact=None, estimators=(estimator,),
                          matching={}, headline_estimator=estimator, headline_outcome="y")  # fmt: skip


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt")  # statsmodels' HKSJ
def test_each_level_is_its_own_estimate_and_q_is_statsmodels():
    data, spec = _data(), _spec()
    got = subgroup_effects(data, "y", spec, ["edu", "female"], min_cell=5)
    assert [r.subgroup for r in got.results] == [
        "edu=high", "edu=low", "edu=mid", "female=0", "female=1"]  # fmt: skip
    for r in got.results:
        var, level = r.subgroup.split("=")
        sub = data.loc[data[var].astype(str) == level]
        covs = [c for c in COV if c != var]
        (ref,) = estimate_all(sub, fx.TREATMENT, ["y"], covs, ["aipw"])
        assert r.estimate == pytest.approx(ref.estimate, abs=EXACT)
        assert r.se == pytest.approx(ref.se, abs=EXACT)
    for test in got.tests:
        rows = [r for r in got.results if r.subgroup.startswith(test.variable + "=")]
        meta = combine_effects(np.array([r.estimate for r in rows]),
                               np.array([r.se for r in rows]) ** 2, method_re="chi2")  # fmt: skip
        assert test.statistic == pytest.approx(meta.q, rel=EXACT)
        assert test.df == len(rows) - 1
    two = next(t for t in got.tests if t.variable == "female")
    a, b = (r for r in got.results if r.subgroup.startswith("female="))
    z = (a.estimate - b.estimate) / np.hypot(a.se, b.se)
    assert two.statistic == pytest.approx(z**2, rel=EXACT)


def test_holm_is_the_step_down_adjustment():
    def test(p):
        return Heterogeneity(variable="v", outcome="y", estimator="aipw", levels=("a", "b"),
                             statistic=0.0, df=1, p_value=p)  # fmt: skip

    adjusted = [t.p_holm for t in holm([test(0.01), test(0.04), test(0.03)])]
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06], abs=EXACT)


def test_small_levels_are_withheld_and_not_tested():
    data = _data(1)
    data.loc[data.index[:40], "edu"] = "rare"
    data.loc[data.index[:40], fx.TREATMENT] = [1, 1, 1] + [0] * 37  # three mentored
    got = subgroup_effects(data, "y", _spec(), ["edu"], min_cell=5)
    assert "edu=rare" in got.withheld
    assert "rare" not in got.tests[0].levels and got.tests[0].df == 2


def test_a_numeric_variable_is_refused():
    with pytest.raises(EvaluationError, match="at most 12"):
        levels_of(_data(), "age")
    with pytest.raises(EvaluationError, match="not a column"):
        levels_of(_data(), "municipality")


def test_a_level_whose_design_cannot_be_estimated_is_withheld_not_fatal():
    data = _data(2)
    rare = data.index[:60]
    data.loc[rare, "edu"] = "rare"
    # within 'rare' age separates the groups perfectly: the logit has no maximum
    data.loc[rare, fx.TREATMENT] = (data.loc[rare, "age"] > data.loc[rare, "age"].median()).astype(
        int
    )
    got = subgroup_effects(data, "y", _spec(), ["edu"], min_cell=5)
    assert "edu=rare" in got.withheld and "cannot be estimated" in got.withheld["edu=rare"]
    assert {r.subgroup for r in got.results} == {"edu=high", "edu=low", "edu=mid"}
