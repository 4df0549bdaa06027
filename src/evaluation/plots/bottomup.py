"""Figures of the bottom-up chapter, each drawn from the table the report publishes.

Every function takes the published table (after disclosure control: a hidden cell is text,
``<k`` for a count below the threshold, ``..`` for a cell hidden to protect another,
``withheld (n<k)`` for a statistic on too few persons) and the report's language, and returns
a matplotlib figure. A hidden cell is drawn empty and marked with exactly the label the table
shows, so a figure can never say more, or other, than its table. Labels come from the text
catalogue (``figure.bottomup.*`` and the category ``factor_short``).
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.bottomup.profiles import ANSWER_GROUPS
from evaluation.plots.theme import GROUP_COLOURS
from evaluation.text import catalogue

#: Colours of the answer groups (disagree, neither, agree).
ANSWER_COLOURS = {"disagree": "#c8553d", "neutral": "#d9d9d9", "agree": "#1b6ca8"}
#: Colour of an interaction that survives the multiplicity correction, and of one that does not.
FLAGGED, NOT_FLAGGED = GROUP_COLOURS["mentored"], "#7f7f7f"
#: Characters per line of an item's wording on the answers figure.
WRAP = 60


def _numeric(cells: pd.Series) -> np.ndarray:
    return pd.to_numeric(cells.where(cells.map(lambda c: not isinstance(c, str))),
                         errors="coerce").to_numpy(dtype=float)  # fmt: skip


def _hidden(cell: object) -> bool:
    return isinstance(cell, str)


def answer_bars(table: pd.DataFrame, *, language: str, min_cell: int) -> plt.Figure:
    """Stacked bars: each item's answers disagreeing, neither and agreeing (shares).

    Parameters
    ----------
    table
        Published answer groups (:func:`evaluation.bottomup.profiles.answer_shares`): index
        the items, a ``wording`` column (the item's text in the report's language) and one
        column per answer group, each a share or a hidden label.
    language
        The report's language.
    min_cell
        The disclosure threshold (named in the legend of the hidden segment).

    The hidden cells of an item are drawn together as one hatched segment (their shares add
    up to what the shown ones leave of the whole), marked with the cells' own labels.
    """
    L = catalogue(language).section("figure.bottomup")
    groups = list(ANSWER_GROUPS)
    labels = [textwrap.fill(str(w), WRAP) for w in table["wording"]]
    height = 0.22 * sum(t.count("\n") + 1 for t in labels) + 1.4
    fig, ax = plt.subplots(figsize=(7.5, height))
    y = np.arange(len(table))[::-1]
    left = np.zeros(len(table))
    for g in groups:
        w = np.nan_to_num(_numeric(table[g]))
        ax.barh(y, w, left=left, color=ANSWER_COLOURS[g], label=L[g])
        left += w
    rest = np.clip(1.0 - left, 0.0, 1.0)
    marks = table[groups].apply(lambda r: " ".join(str(c) for c in r if _hidden(c)), axis=1)
    hatched = rest > 1e-9
    ax.barh(y[hatched], rest[hatched], left=left[hatched], color="white", edgecolor="#7f7f7f",
            hatch="//", label=L["hidden"].format(min_cell=min_cell))  # fmt: skip
    for yi, x0, w, mark in zip(y, left, rest, marks, strict=True):
        if mark:
            ax.text(x0 + w / 2, yi, mark, ha="center", va="center", fontsize=6)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel(L["share"])
    ax.legend(ncol=2, fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def moderation_dots(table: pd.DataFrame, *, language: str, min_cell: int) -> plt.Figure:
    """The change in the effect per SD of each baseline factor score, with its interval.

    Parameters
    ----------
    table
        Published interactions: index ``factor``; ``estimate``, ``ci_low``, ``ci_high`` and
        ``flagged`` (the interaction survives the multiplicity correction: drawn in colour).
    language
        The report's language.
    min_cell
        The disclosure threshold (unused: hidden cells carry their own label).

    A factor whose estimate is hidden is drawn without a point, marked with the cell's label.
    """
    T = catalogue(language)
    L = T.section("figure.bottomup")
    est, lo, hi = (_numeric(table[c]) for c in ("estimate", "ci_low", "ci_high"))
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    for yi, e, a, b, flag, cell in zip(y, est, lo, hi, table["flagged"], table["estimate"],
                                       strict=True):  # fmt: skip
        if np.isnan(e):
            ax.text(0, yi, str(cell), ha="center", va="center", fontsize=7)
            continue
        xerr = None if np.isnan(a) or np.isnan(b) else [[e - a], [b - e]]
        colour = FLAGGED if flag is True or flag == "True" else NOT_FLAGGED
        ax.errorbar(e, yi, xerr=xerr, fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [T.category("factor_short", f, default=str(f)) for f in table.index])
    ax.set_xlabel(L["per_sd"])
    fig.tight_layout()
    return fig


def dose_points(table: pd.DataFrame, *, language: str, min_cell: int) -> plt.Figure:
    """The effect among the mentored in each band of the number of meetings.

    Parameters
    ----------
    table
        The published dose curve: index the bands (``a-b``), ``estimate``, ``ci_low``,
        ``ci_high``; a band resting on too few mentored persons holds a label instead.
    language
        The report's language.
    min_cell
        The disclosure threshold (unused: hidden cells carry their own label).

    A withheld band is drawn empty and marked with its cell's label; the last band's upper
    edge, when it is open (1000 or more meetings), is written ``a+``.
    """
    L = catalogue(language).section("figure.bottomup")
    est, lo, hi = (_numeric(table[c]) for c in ("estimate", "ci_low", "ci_high"))
    ok = ~np.isnan(est)
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.errorbar(x[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="o-",
                color=FLAGGED, capsize=3)  # fmt: skip
    for xi in x[~ok]:
        ax.text(xi, 0, str(table["estimate"].iloc[xi]), ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [_band(str(b)) for b in table.index])
    ax.set_xlabel(L["meetings"])
    ax.set_ylabel(L["effect"])
    fig.tight_layout()
    return fig


def _band(label: str) -> str:
    """``21-1000`` → ``21+`` (an open last band); other bands as they are."""
    low, _, high = label.partition("-")
    return f"{low}+" if high.isdigit() and int(high) >= 1000 else label
