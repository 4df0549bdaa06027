"""Figures of the data and design chapters, each drawn from the table the report publishes.

Every function takes the published table (after disclosure control: a hidden cell is text,
``<k`` for a count below the threshold, ``..`` for a cell hidden to protect another) and the
report's language, and returns a matplotlib figure. A hidden cell is drawn empty and marked
with exactly the label the table shows, so a figure can never say more, or other, than its
table.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.plots.theme import GROUP_COLOURS
from evaluation.text import catalogue

#: The groups of a two-group bar chart, in drawing order.
GROUPS = ("mentored", "comparison")


def _numeric(cells: pd.Series) -> np.ndarray:
    return pd.to_numeric(cells.where(cells.map(lambda c: not isinstance(c, str))),
                         errors="coerce").to_numpy(dtype=float)  # fmt: skip


def group_share_bars(
    table: pd.DataFrame, *, language: str, min_cell: int, axis_label: str
) -> plt.Figure:
    """Side-by-side bars: each group's share of persons in each bin.

    Parameters
    ----------
    table
        Published shares: index the bins, one column per group (:data:`GROUPS`), cells a
        share or a hidden label (:func:`evaluation.data.describe.group_shares`).
    language
        The report's language (legend and axis labels).
    min_cell
        The disclosure threshold (unused: hidden cells carry their own label).
    axis_label
        Label key of the x axis (e.g. ``"pre_months_employed"``).
    """
    L = catalogue(language).section("figure")
    bins = [str(b) for b in table.index]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.4
    for j, group in enumerate(GROUPS):
        x = np.arange(len(bins)) + (j - 0.5) * width
        values = _numeric(table[group])
        ax.bar(x, np.nan_to_num(values), width=width, label=L[group],
               color=GROUP_COLOURS[group])  # fmt: skip
        for xi, cell, v in zip(x, table[group], values, strict=True):
            if np.isnan(v):  # hidden: the table's own label, never a guessed one; upright,
                # so that the labels of neighbouring bars never run into each other
                ax.text(xi, 0.005, str(cell), ha="center", va="bottom", fontsize=7,
                        rotation=90)  # fmt: skip
    ax.set_xticks(range(len(bins)), bins, rotation=30 if len(bins) > 6 else 0,
                  ha="right" if len(bins) > 6 else "center", fontsize=8)  # fmt: skip
    ax.set_xlabel(L[axis_label])
    ax.set_ylabel(L["share_of_group"])
    ax.legend(frameon=False)
    return fig


def love_plot(
    table: pd.DataFrame,
    *,
    language: str,
    min_cell: int,
    threshold: float,
    before: str = "smd_before",
    after: str = "smd_matched",
) -> plt.Figure:
    """Standardised mean differences before and after adjustment, lines at ± ``threshold``.

    Drawn from the published balance table (index ``term``): a term whose SMD is hidden
    (it would give away a small count) is left out of the plot, as it is out of the table.
    Terms are ordered by their |SMD| before adjustment; the legend sits above the points.
    Beside ``after`` (matching), the weighted samples the table has are drawn too: odds
    weights (squares) and entropy balancing (diamonds, at zero by construction).
    """
    L = catalogue(language).section("figure")
    extra = [(col, marker, colour, L[label])
             for col, marker, colour, label in (
                 ("smd_weighted", "s", "#6a8f3a", "after_weighting"),
                 ("smd_entropy", "D", "#7a4a9a", "after_entropy"))
             if col in table.columns]  # fmt: skip
    smd_b, smd_a = _numeric(table[before]), _numeric(table[after])
    others = [_numeric(table[col]) for col, *_ in extra]
    shown = ~np.all(np.isnan(np.vstack([smd_b, smd_a, *others])), axis=0)
    terms = [str(t) for t in table.index[shown]]
    smd_b, smd_a = smd_b[shown], smd_a[shown]
    others = [o[shown] for o in others]
    order = np.argsort(np.abs(np.nan_to_num(smd_b)), kind="mergesort")
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(order) + 1.8))
    ax.scatter(smd_b[order], y, marker="o", facecolors="none", edgecolors=GROUP_COLOURS["mentored"],
               label=L["before"])  # fmt: skip
    ax.scatter(smd_a[order], y, marker="o", color="#c05a00", label=L["after_matching"])
    for values, (_, marker, colour, label) in zip(others, extra, strict=True):
        ax.scatter(values[order], y, marker=marker, s=16, color=colour, label=label, zorder=3)
    for x0 in (-threshold, threshold):
        ax.axvline(x0, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_yticks(y, [catalogue(language).characteristic(terms[i]) for i in order])
    ax.set_xlabel(L["smd"])
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig
