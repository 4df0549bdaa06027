"""The forest plot of a pooled outcome."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from evaluation.pooling.pool import PooledOutcome
from evaluation.pooling.report import SHARE_BOUND
from evaluation.report.labels import labels, outcome_label

#: An outcome's unit on the axis: its label key and scale (x 100 for shares: percentage points).
_AXIS = {"share": ("pool_unit_share", 100.0), "months": ("pool_unit_months", 1.0)}


def forest_plot(po: PooledOutcome, currency: str, language: str = "en") -> Any:
    """Forest plot: sites, fixed and random-effects (Hartung-Knapp) pooled estimates.

    Site markers have an area by random-effects weight; the prediction interval for a new
    site is drawn dashed below the pooled estimates. For a share every interval is drawn
    only within +/-100 percentage points (no effect can lie beyond); where one goes on, its
    end is an arrowhead (``<`` / ``>``), as the tables mark it with *.
    """
    L = labels(language)
    res = po.result
    unit_key, scale = _AXIS.get(po.unit, (None, 1.0))
    label = L[unit_key] if unit_key else currency
    rows = po.sites
    n = len(rows)
    bound = SHARE_BOUND * scale if po.unit == "share" else None
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * (n + 3) + 1.2))
    ys = np.arange(n + 3)[::-1]

    def segment(lo: float, hi: float, yi: float, **style: Any) -> None:
        """Draw [lo, hi] at height yi, cut at the bound with an arrowhead where it goes on."""
        if bound is not None:
            for end, side in ((lo, -1), (hi, 1)):
                if side * end > bound:
                    ax.scatter([side * bound], [yi], marker=">" if side > 0 else "<", s=45,
                               color=style.get("color"), zorder=4, clip_on=False)  # fmt: skip
            lo, hi = max(lo, -bound), min(hi, bound)
        ax.plot([lo, hi], [yi, yi], **style)

    for yi, r, w in zip(ys[:n], rows.itertuples(index=False), res.weights_random, strict=True):
        segment(r.ci_low * scale, r.ci_high * scale, yi, color="#1b6ca8", linewidth=1.2)
        ax.scatter([r.estimate * scale], [yi], s=40 + 400 * w, marker="s", color="#1b6ca8",
                   zorder=3)  # fmt: skip
    pooled = [(L["pool_fixed"], res.fixed, "#6b6b6b"),
              (L["pool_random_hk"], res.random_hk, "#c0392b")]  # fmt: skip
    for yi, (_, p, colour) in zip(ys[n : n + 2], pooled, strict=True):
        mid, lo, hi = p.estimate * scale, p.ci_low * scale, p.ci_high * scale
        if bound is not None and (lo < -bound or hi > bound):
            segment(lo, hi, yi, color=colour, linewidth=1.0)
            lo, hi = max(lo, -bound), min(hi, bound)
        ax.fill([lo, mid, hi, mid], [yi, yi + 0.25, yi, yi - 0.25], color=colour, zorder=3)
    yp = ys[n + 2]
    if res.prediction_low is not None:
        segment(res.prediction_low * scale, res.prediction_high * scale, yp, color="#c0392b",
                linewidth=1.0, linestyle="--")  # fmt: skip
        ax.scatter([res.random_hk.estimate * scale], [yp], marker="|", color="#c0392b", s=80)
    ax.axvline(0, color="black", linewidth=0.8)
    if bound is not None:
        left, right = ax.get_xlim()
        ax.set_xlim(max(left, -bound * 1.05), min(right, bound * 1.05))
    names = [f"{r.site}" for r in rows.itertuples(index=False)]
    names += [p[0] for p in pooled] + [L["pool_prediction"]]
    ax.set_yticks(ys, names)
    pct = int(round(res.fixed.level * 100))
    ax.set_xlabel(L["pool_axis"].format(outcome=outcome_label(po.outcome, language), unit=label,
                                        pct=pct))  # fmt: skip
    fig.tight_layout()
    return fig
