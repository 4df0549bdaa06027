"""The effects chapter's forest plot, drawn from its published table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from evaluation.plots.effects import forest
from evaluation.text import catalogue

K = 5


def _table(estimate_of_ipw: object) -> pd.DataFrame:
    return pd.DataFrame(
        {"estimate": [0.30, 0.15, estimate_of_ipw], "se": [0.08, 0.09, 0.1],
         "ci_low": [0.14, -0.03, "withheld (n<5)"], "ci_high": [0.46, 0.33, "withheld (n<5)"]},
        index=pd.Index(["naive", "ra", "ipw"], name="estimator"),
    )  # fmt: skip


def test_every_estimator_is_a_row_top_down_in_the_tables_order_with_its_interval():
    fig = forest(_table(0.2), language="en", min_cell=K, outcome="employed_m12", level=0.95)
    ax = fig.axes[0]
    L = catalogue("en").section("figure")
    at = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    assert [at[y] for y in sorted(at, reverse=True)] == [L["est_naive"], L["est_ra"],
                                                         L["est_ipw"]]  # fmt: skip
    # the naive difference and ra have their interval; ipw (limits withheld) only its point
    bars = [c for c in ax.collections if len(c.get_segments())]
    spans = sorted(tuple(np.round(s[:, 0], 2)) for c in bars for s in c.get_segments())
    assert spans == [(-0.03, 0.33), (0.14, 0.46)]
    assert "employed 12 months after start" in ax.get_xlabel() and "95 % CI" in ax.get_xlabel()
    relabelled = forest(_table(0.2), language="en", min_cell=K, outcome="employed_m12", level=0.9)
    assert "(90 % CI)" in relabelled.axes[0].get_xlabel(), "the axis says the run's level"


def test_a_withheld_estimate_is_drawn_empty_with_the_tables_own_label():
    fig = forest(_table("withheld (n<5)"), language="sv", min_cell=K, outcome="employed_m12",
                 level=0.95)  # fmt: skip
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["withheld (n<5)"], "marked with exactly the cell's label, never a guess"
    points = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert len(points) == 2
