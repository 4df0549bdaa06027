"""Profiles: disclosure control of agreement and distributions; paired tests by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose
from scipy import stats

from evaluation.bottomup.profiles import (
    agreement,
    answer_shares,
    collapse_small,
    paired_change,
    profile_by,
)

K = 5
ATOL = 1e-12


def test_agreement_ranks_and_protects_small_counts():
    coded = pd.DataFrame({
        "a": [5] * 12 + [1] * 8,  # 12 of 20 agree
        "b": [4] * 3 + [2] * 17,  # 3 agree: suppressed, not ranked
        "c": [5] * 15 + [3] * 5,  # 15 of 20
    }).astype(float)  # fmt: skip
    out = agreement(coded, ["a", "b", "c"], {"a": "f", "b": "f", "c": "g"}, agree_min=4, min_cell=K)
    assert list(out.index) == ["c", "a", "b"]
    assert_allclose(out.loc[["c", "a"], "share"].to_numpy(), [0.75, 0.60])
    assert np.isnan(out.loc["b", "share"]) and out.loc["b", "agree"] == f"<{K}"
    assert out.loc["b", "not_agree"] != "17"  # recoverable from the total: hidden as well


def test_answer_shares_never_show_a_segment_of_one_to_four_persons():
    coded = pd.DataFrame({"a": [1] * 2 + [3] * 10 + [5] * 10, "b": [2] * 6 + [3] * 6 + [4] * 10})
    shares = answer_shares(coded.astype(float), ["a", "b"], min_cell=K)
    assert shares.loc["a", "disagree"] == f"<{K}"  # 2 persons
    # the smallest other cell is hidden too (it would give the 2 back from the item's total)
    assert shares.loc["a", "neutral"] == ".." and shares.loc["a", "agree"] == round(10 / 22, 3)
    assert_allclose(shares.loc["b"].to_numpy(float), np.round([6 / 22, 6 / 22, 10 / 22], 3))
    shown = shares.map(lambda c: 0.0 if isinstance(c, str) else c).sum(axis=1)
    assert_allclose(shown["b"], 1.0, atol=2e-3)  # nothing hidden: the shares make the whole
    assert_allclose(1 - shown["a"], 12 / 22, atol=2e-3)  # the hidden cells: 12 persons of 22


def test_collapse_small_and_profiles_rest_on_enough_persons():
    edu = pd.Series(["post"] * 9 + ["sec"] * 6 + ["prim"] * 3 + ["unk"] * 1)
    groups = collapse_small(edu, K)
    assert groups.value_counts().min() >= K
    # prim (3) and unk (1) become "other" (4), still too few: merged with the smallest (sec)
    assert groups.value_counts().to_dict() == {"sec + other": 10, "post": 9}
    scores = pd.DataFrame({"f": np.arange(len(edu), dtype=float)})
    prof = profile_by(scores, pd.Series(["x"] * 16 + ["y"] * 3), min_cell=K)
    assert prof.loc["f", "x: n"] == 16 and np.isnan(prof.loc["f", "y: mean"])
    tiny = collapse_small(pd.Series(["a"] * 3 + ["b"] * 3), K)
    assert tiny.nunique() == 1


def test_paired_change_matches_scipy_and_the_hand_effect_sizes():
    b = pd.Series([2.0, 3.0, 3.0, 4.0, 2.0, 3.0], index=list("abcdef"))
    f = pd.Series([3.0, 3.0, 4.5, 4.0, 4.0, 2.0, 5.0], index=list("abcdefg"))  # g: no baseline
    c = paired_change(b, f)
    diff = np.array([1.0, 0.0, 1.5, 0.0, 2.0, -1.0])
    assert c.n == 6
    assert_allclose(c.mean_change, diff.mean(), atol=ATOL)
    assert_allclose(c.d_z, diff.mean() / diff.std(ddof=1), atol=ATOL)
    assert_allclose(c.t_p, stats.ttest_rel(f[b.index], b).pvalue, atol=ATOL)
    # non-zero changes 1, 1.5, 2, -1: |ranks| 1.5, 3, 4, 1.5 -> (1.5+3+4 - 1.5) / 10 = 0.7
    assert_allclose(c.r_rb, 0.7, atol=ATOL)
    assert_allclose(c.w_p, stats.wilcoxon([1.0, 1.5, 2.0, -1.0]).pvalue, atol=ATOL)
