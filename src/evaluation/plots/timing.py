"""Figures of the timing chapter (notebook 04), each drawn from the table the report publishes.

Every function takes the published table (after disclosure control: a statistic resting on
fewer persons than the threshold is text, ``withheld (n<k)``; a cell hidden to protect
another is ``..``) and the report's language, and returns a matplotlib figure. A hidden cell
is drawn empty (the line or band has a gap there) and marked with exactly the label the
table shows, so a figure can never say more, or other, than its table. Labels come from the
text catalogue (``figure.timing.*``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.plots.theme import ACCENT, GROUP_COLOURS
from evaluation.text import catalogue
from evaluation.text.numbers import level_percent

#: Outcomes shown in percentage points (0/1 outcomes); others are drawn as they are.
PERCENT_OUTCOMES = ("employed",)
#: The groups of the time-to-first-job figure, in drawing order.
GROUPS = ("mentored", "comparison")
_MAIN = GROUP_COLOURS["mentored"]


def _numeric(cells: pd.Series) -> np.ndarray:
    """Cells as floats; hidden cells (text) and missing cells as NaN."""
    return pd.to_numeric(cells.where(cells.map(lambda c: not isinstance(c, str))),
                         errors="coerce").to_numpy(dtype=float)  # fmt: skip


def _mark_hidden(ax: plt.Axes, x: np.ndarray, cells: pd.Series, y: float = 0.0) -> None:
    """Write a hidden cell's own label at its place on the x axis."""
    for xi, cell in zip(x, cells, strict=True):
        if isinstance(cell, str):
            ax.text(xi, y, cell, rotation=90, ha="center", va="bottom", fontsize=6,
                    color="#555555")  # fmt: skip


def _scale(outcome: str) -> float:
    return 100.0 if outcome in PERCENT_OUTCOMES else 1.0


def event_study(
    table: pd.DataFrame,
    *,
    language: str,
    min_cell: int,
    outcome: str,
    currency: str,
    level: float,
) -> plt.Figure:
    """Event-study coefficients by month since start.

    The matched sample with its pointwise and uniform (sup-t) bands, the weighted sample's
    points beside them.

    Parameters
    ----------
    table
        The published event-study table (index ``event_time``; columns
        ``{sample}_{outcome}_{estimate,ci_low,ci_high,band_low,band_high}`` for the samples
        ``matched`` and ``ipw``), :func:`evaluation.chapters.timing.timing_chapter`.
    language
        The report's language.
    min_cell
        The disclosure threshold (unused: hidden cells carry their own label).
    outcome
        ``employed`` (drawn in percentage points) or ``earnings``.
    currency
        The currency of earnings (axis label).
    level
        The confidence level of both bands (``estimation.level``; the legend says it).
    """
    L = catalogue(language).section("figure.timing")
    pct = level_percent(level, language)
    s = _scale(outcome)
    x = table.index.to_numpy(dtype=float)
    col = f"matched_{outcome}_"
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.fill_between(x, s * _numeric(table[col + "band_low"]), s * _numeric(table[col + "band_high"]),
                    color=_MAIN, alpha=0.12, label=L["uniform"].format(pct=pct))  # fmt: skip
    ax.fill_between(x, s * _numeric(table[col + "ci_low"]), s * _numeric(table[col + "ci_high"]),
                    color=_MAIN, alpha=0.25, label=L["pointwise"].format(pct=pct))  # fmt: skip
    ax.plot(x, s * _numeric(table[col + "estimate"]), "o-", color=_MAIN, ms=3,
            label=L["matched"])  # fmt: skip
    _mark_hidden(ax, x, table[col + "estimate"])
    ipw = table[f"ipw_{outcome}_estimate"]
    ax.plot(x + 0.25, s * _numeric(ipw), "s", color=ACCENT, ms=3, label=L["ipw"])
    _mark_hidden(ax, x + 0.25, ipw)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel(L["month"])
    ax.set_ylabel(L["employed"] if outcome in PERCENT_OUTCOMES
                  else L["earnings"].format(currency=currency))  # fmt: skip
    ax.legend(fontsize=8, loc="upper left")
    return fig


def staggered(
    table: pd.DataFrame,
    *,
    language: str,
    min_cell: int,
    outcome: str,
    currency: str,
    level: float,
) -> plt.Figure:
    """Staggered DiD by period since start.

    The doubly robust ATT with its uniform band, the outcome-regression ATT beside it and
    the single TWFE estimate as a dotted line.

    Parameters
    ----------
    table
        The published figure table (index ``event_time``; columns
        ``{outcome}_dr_att``, ``{outcome}_dr_band_low``, ``{outcome}_dr_band_high``,
        ``{outcome}_or_att``, ``{outcome}_twfe``).
    language, min_cell, outcome, currency, level
        As for :func:`event_study`.
    """
    L = catalogue(language).section("figure.timing")
    pct = level_percent(level, language)
    s = _scale(outcome)
    x = table.index.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.fill_between(x, s * _numeric(table[f"{outcome}_dr_band_low"]),
                    s * _numeric(table[f"{outcome}_dr_band_high"]), color=_MAIN, alpha=0.15,
                    label=L["uniform"].format(pct=pct))  # fmt: skip
    dr = table[f"{outcome}_dr_att"]
    ax.plot(x, s * _numeric(dr), "o-", color=_MAIN, ms=4, label=L["cs_dr"])
    _mark_hidden(ax, x, dr)
    orr = table[f"{outcome}_or_att"]
    ax.plot(x + 0.15, s * _numeric(orr), "s", color=ACCENT, ms=4, label=L["cs_or"])
    _mark_hidden(ax, x + 0.15, orr)
    twfe = _numeric(table[f"{outcome}_twfe"])
    if np.isfinite(twfe).any():
        ax.axhline(s * twfe[np.isfinite(twfe)][0], color="#555555", ls=":", label=L["twfe"])
    else:  # the TWFE estimate is hidden: its label in the legend, no line
        hidden = next((c for c in table[f"{outcome}_twfe"] if isinstance(c, str)), "")
        ax.plot([], [], color="#555555", ls=":", label=f"{L['twfe']}: {hidden}")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel(L["period"])
    ax.set_ylabel(L["employed"] if outcome in PERCENT_OUTCOMES
                  else L["earnings_q"].format(currency=currency))  # fmt: skip
    ax.legend(fontsize=8, loc="upper left")
    return fig


def time_to_job(table: pd.DataFrame, *, language: str, min_cell: int) -> plt.Figure:
    """The share of each group who have found a first job.

    A step curve through the published points (Kaplan–Meier, matching weights).

    Parameters
    ----------
    table
        The published step points: index ``month`` (0 first), one column per group
        (:data:`GROUPS`), the share with a job by that month where the group's curve has a
        point there, empty where it has none, the label where the point is hidden.
    language
        The report's language.
    min_cell
        The disclosure threshold (unused: hidden cells carry their own label).
    """
    L = catalogue(language).section("figure.timing")
    months = table.index.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4))
    for group in GROUPS:
        share = _numeric(table[group])
        shown = np.isfinite(share)
        ax.step(months[shown], share[shown], where="post", color=GROUP_COLOURS[group],
                label=L[group])  # fmt: skip
        _mark_hidden(ax, months, table[group])
    ax.set_xlabel(L["month"])
    ax.set_ylabel(L["job"])
    ax.set_ylim(0, 1)
    ax.legend()
    return fig
