"""Figure style shared by every notebook: deterministic bytes, readable in print."""

from __future__ import annotations

import matplotlib as mpl

#: Colours for the two groups, the same in every figure.
GROUP_COLOURS = {"mentored": "#1b6ca8", "comparison": "#9a9a9a"}


def apply() -> None:
    """Set the figure style (also makes SVG output byte-stable between runs)."""
    mpl.rcParams.update(
        {
            "svg.hashsalt": "bottomup-integration",
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
        }
    )
