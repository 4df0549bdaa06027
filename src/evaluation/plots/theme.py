"""One figure theme for the study: seaborn's, set once, with deterministic bytes.

Every figure of the report is drawn by a function of :mod:`evaluation.plots` from the table
the report publishes (after disclosure control), so that a figure can never show what its
table hides. This module holds what they share: the theme, the two groups' colours, and the
number format of axis ticks in the report's language.
"""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns
from matplotlib.ticker import ScalarFormatter

#: Colours for the two groups, the same in every figure.
GROUP_COLOURS = {"mentored": "#1b6ca8", "comparison": "#9a9a9a"}
#: A second colour for a second estimator or sample beside the first.
ACCENT = "#c05a00"

#: Settings on top of seaborn's ``whitegrid`` theme: stable SVG ids (so the same run gives
#: the same bytes), a print-friendly size, no top and right spines.
_RC = {
    "svg.hashsalt": "bottomup-integration",
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.alpha": 0.3,
    "font.size": 10,
}


def apply() -> None:
    """Set the study's figure theme (seaborn ``whitegrid``, ``notebook`` scale)."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9, rc=_RC)
    mpl.rcParams.update(_RC)


class _LocalisedFormatter(ScalarFormatter):
    """Ticks with a decimal comma and a true minus sign (Swedish number format)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", ",").replace("-", "\u2212")


def localise_axes(fig: mpl.figure.Figure, language: str) -> None:
    """Number ticks of a figure's axes in the report's number format.

    Swedish gets a decimal comma (``0,5``) and a true minus sign; axes whose ticks carry
    their own text (categories) are left alone. English is unchanged.
    """
    if language == "en":
        return
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(_LocalisedFormatter())
