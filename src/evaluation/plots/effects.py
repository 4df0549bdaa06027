"""Figures of the effects chapter, each drawn from the table the report publishes.

A function takes the published table (after disclosure control: a statistic resting on too
few persons is text, ``withheld (n<k)``; a cell hidden to protect another is ``..``) and the
report's language, and returns a matplotlib figure. A hidden cell is drawn empty and marked
with exactly the label the table shows.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.plots.theme import GROUP_COLOURS
from evaluation.text import catalogue
from evaluation.text.numbers import level_percent

#: The estimator drawn in the comparison group's grey (the foil of the adjusted ones).
FOIL = "naive"


def _numeric(cells: pd.Series) -> np.ndarray:
    return pd.to_numeric(cells.where(cells.map(lambda c: not isinstance(c, str))),
                         errors="coerce").to_numpy(dtype=float)  # fmt: skip


def forest(table: pd.DataFrame, *, language: str, min_cell: int, outcome: str,
           level: float) -> plt.Figure:  # fmt: skip
    """Estimates and confidence intervals of one outcome, one row per estimator.

    Parameters
    ----------
    table
        Published estimates of the outcome: index ``estimator`` (in the order to draw, top
        down), columns ``estimate``, ``ci_low``, ``ci_high``
        (:func:`evaluation.chapters.effects.effects_chapter`'s ``headline``).
    language
        The report's language (axis labels and estimator names).
    min_cell
        The disclosure threshold (unused: hidden cells carry their own label).
    outcome
        The outcome's name (its label comes from the catalogue).
    level
        The confidence level of the intervals (``estimation.level``; the axis says it).
    """
    T = catalogue(language)
    L = T.section("figure")
    est, lo, hi = (_numeric(table[c]) for c in ("estimate", "ci_low", "ci_high"))
    estimators = [str(e) for e in table.index]
    y = np.arange(len(estimators))[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(estimators) + 1.2))
    for i, (yi, name) in enumerate(zip(y, estimators, strict=True)):
        if np.isnan(est[i]):  # withheld: the table's own label, never a guessed one
            ax.text(0.0, yi, str(table["estimate"].iloc[i]), ha="center", va="center",
                    fontsize=8)  # fmt: skip
            continue
        colour = GROUP_COLOURS["comparison"] if name == FOIL else GROUP_COLOURS["mentored"]
        xerr = None if np.isnan(lo[i]) or np.isnan(hi[i]) else [[est[i] - lo[i]],
                                                                [hi[i] - est[i]]]  # fmt: skip
        ax.errorbar(est[i], yi, xerr=xerr, fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [L[f"est_{e}"] for e in estimators])
    ax.set_xlabel(L["effect_ci"].format(outcome=T.category("outcome", outcome),
                                        pct=level_percent(level, language)))  # fmt: skip
    fig.tight_layout()
    return fig
