"""Figures of the data and design chapters, drawn from their published tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from evaluation.plots.design import group_share_bars, love_plot

K = 5


def test_love_plot_draws_the_published_smds_with_threshold_lines():
    table = pd.DataFrame(
        {"smd_before": [0.5, -0.05, "withheld (n<5)"], "smd_matched": [0.02, 0.01, ".."]},
        index=pd.Index(["age", "sex=female", "origin_region=Eritrea"], name="term"),
    )
    fig = love_plot(table, language="en", min_cell=K, threshold=0.1)
    ax = fig.axes[0]
    xs = sorted(line.get_xdata()[0] for line in ax.lines)
    assert xs == [-0.1, 0.0, 0.1]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 2, "a term whose SMDs are hidden is not drawn"
    assert labels[-1] == "age", "ordered by |SMD| before, the largest on top"


def test_hidden_bars_carry_the_tables_own_label():
    table = pd.DataFrame({"mentored": ["<5", 0.5, ".."], "comparison": [0.1, 0.6, 0.3]},
                         index=pd.Index(["0", "1-3", "4-6"], name="bin"))  # fmt: skip
    fig = group_share_bars(table, language="sv", min_cell=K, axis_label="pre_months_employed")
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["..", "<5"], "a hidden cell is marked with its own label, never a guess"


def test_hidden_labels_of_neighbouring_bars_do_not_overlap():
    bins = [f"b{i}" for i in range(14)]  # as many bins as the overlap figure has
    table = pd.DataFrame({"mentored": ["<5"] * 14, "comparison": [".."] * 14},
                         index=pd.Index(bins, name="bin"))  # fmt: skip
    fig = group_share_bars(table, language="en", min_cell=K, axis_label="pscore_logit")
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in fig.axes[0].texts),
                   key=lambda b: b.x0)  # fmt: skip
    assert len(boxes) == 28
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 <= right.x0, "two hidden-cell labels overlap"


def test_love_plot_adds_the_weighted_samples_the_table_has():
    table = pd.DataFrame(
        {"smd_before": [0.5, -0.3], "smd_matched": [0.02, 0.05], "smd_weighted": [0.04, -0.02],
         "smd_entropy": [0.0, -0.0], "smd_overlap": [0.0, 0.0]},
        index=pd.Index(["age", "years_in_sweden"], name="term"),
    )  # fmt: skip
    ax = love_plot(table, language="sv", min_cell=K, threshold=0.1).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Före", "Efter matchning", "Efter oddsviktning", "Efter entropibalansering"]
    entropy = ax.collections[3].get_offsets()
    assert list(entropy[:, 0]) == [0.0, 0.0]
    only_matched = love_plot(table[["smd_before", "smd_matched"]], language="en", min_cell=K,
                             threshold=0.1).axes[0]  # fmt: skip
    assert len(only_matched.collections) == 2, "samples the table lacks are not drawn"
