"""Disclosure control: small, zero-or-all and recoverable cells are suppressed."""

from __future__ import annotations

import pandas as pd

from evaluation.disclosure.rules import TOTAL, protect_counts, withhold_small

K = 5


def _with_margins(body: pd.DataFrame) -> pd.DataFrame:
    t = body.copy()
    t[TOTAL] = t.sum(axis=1)
    t.loc[TOTAL] = t.sum(axis=0)
    return t


def test_each_small_count_is_suppressed_with_a_secondary_cell():
    body = pd.DataFrame(
        {"mentored": [1, 2, 3, 4, 40], "comparison": [100, 200, 300, 400, 500]},
        index=["a", "b", "c", "d", "e"],
    )
    out = protect_counts(_with_margins(body), K)
    shown = out.table
    for row in ["a", "b", "c", "d"]:
        assert shown.loc[row, "mentored"] == "<5", row
        assert out.primary.loc[row, "mentored"]
    # rows a..d each have one suppressed cell and a total: the comparison cell of each row
    # would give it back (total - comparison), so it is suppressed too (secondary)
    for row in ["a", "b", "c", "d"]:
        assert out.secondary.loc[row, "comparison"], row
        assert shown.loc[row, "comparison"] == ".."  # hidden, but not small
    assert shown.loc["e", "mentored"] == "40"
    assert out.n_suppressed == 8


def test_single_suppressed_cell_in_a_column_gets_a_partner():
    body = pd.DataFrame({"g": [3, 50, 60]}, index=["x", "y", "z"])
    t = body.copy()
    t.loc[TOTAL] = t.sum()
    out = protect_counts(t, K)
    assert out.primary.loc["x", "g"]
    # without a second suppressed cell, x = Total - y - z
    assert out.secondary.loc["y", "g"]  # the smallest other cell
    assert out.table.loc["y", "g"] == ".."
    assert out.table.loc["z", "g"] == "60"


def test_zero_or_all_in_small_group():
    body = pd.DataFrame({"small": [0, 8], "large": [30, 70]}, index=["yes", "no"])
    out = protect_counts(_with_margins(body), K)
    # small group has 8 persons (< 2K): 0 of them "yes" is disclosive for all 8
    assert out.primary.loc["yes", "small"]
    assert out.primary.loc["no", "small"]  # all 8 "no"
    assert not out.primary.loc["yes", "large"]
    # hidden, but neither 0 nor 8 is a count of 1 to 4: the label says hidden, not "<5"
    assert out.table.loc["yes", "small"] == ".." and out.table.loc["no", "small"] == ".."


def test_large_counts_untouched():
    body = pd.DataFrame({"a": [10, 20], "b": [30, 40]}, index=["x", "y"])
    out = protect_counts(_with_margins(body), K)
    assert out.n_suppressed == 0
    assert out.table.loc["x", "a"] == "10"


def test_input_not_mutated():
    body = _with_margins(pd.DataFrame({"a": [1, 20], "b": [30, 40]}, index=["x", "y"]))
    before = body.copy()
    protect_counts(body, K)
    pd.testing.assert_frame_equal(body, before)


def test_withhold_statistics_on_few_persons():
    stats = pd.DataFrame({"mentored": [0.5], "comparison": [0.3]}, index=["share"])
    out = withhold_small(stats, pd.Series({"mentored": 4, "comparison": 3000}), K)
    assert out.loc["share", "mentored"] == "withheld (n<5)"
    assert out.loc["share", "comparison"] == 0.3
