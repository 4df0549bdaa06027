"""Figures of the robustness chapter, each drawn from the table the report publishes.

Every function takes the published table (after disclosure control: a hidden cell is text,
``<k`` for a count below the threshold, ``..`` for a cell hidden to protect another,
``withheld (n<k)`` for a statistic on too few persons) and the report's language, and returns
a matplotlib figure. A hidden value is not drawn and is marked with exactly the label its
cell shows, so a figure never says more, or other, than its table. Labels come from the text
catalogue (``figure.robustness.*``).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.plots.theme import GROUP_COLOURS
from evaluation.robustness.power import power_at
from evaluation.text import catalogue
from evaluation.text.numbers import format_number, level_percent


def _decimals(value: float) -> int:
    """As many decimals as a level has (0.05: 2, 0.025: 3; at most 4)."""
    return len(f"{value:.4f}".rstrip("0").partition(".")[2])


#: True effects (percentage points) along the power curve's x axis.
POWER_GRID_PP = np.linspace(0, 40, 161)
#: The choices shown under the specification curve, top to bottom.
SPEC_DIMENSIONS = ("horizon", "estimator", "covariate_set", "trimming", "neighbours")
#: Placebo outcomes on employment drawn in the placebo forest (the earnings ones are in the
#: table only: another unit).
PLACEBO_EMPLOYMENT = {"fake_start_employed_m": "fake", "pre_employed_m": "pre"}


def _labels(language: str) -> dict[str, str]:
    return catalogue(language).section("figure.robustness")


def _numeric(cells: pd.Series) -> np.ndarray:
    """Cells as floats; a hidden cell (text) or an empty one is NaN."""
    return pd.to_numeric(cells.where(cells.map(lambda c: not isinstance(c, str))),
                         errors="coerce").to_numpy(dtype=float)  # fmt: skip


def _hidden_label(cells: pd.Series) -> str | None:
    """The label of the first hidden cell (text), if any."""
    hidden = [c for c in cells if isinstance(c, str) and c.strip()]
    return hidden[0] if hidden else None


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its index as columns (the index as published is part of the data)."""
    named = [n for n in table.index.names if n is not None]
    return table.reset_index() if named else table.copy()


def power_curve(
    table: pd.DataFrame, *, language: str, min_cell: int, alpha: float, target: float
) -> plt.Figure:
    """Power of the study against the true effect on the share employed, by horizon.

    Drawn from the published ``power_mde`` table (index ``horizon``; ``se`` and ``mde``):
    horizons whose spread comes from the same pre-period month have the same standard error
    and share a line; a dotted line marks each minimum detectable effect, a dashed line the
    target power. A horizon whose standard error is hidden gets no line, and the legend
    shows its label.

    Parameters
    ----------
    table
        The published ``power_mde`` table.
    language, min_cell
        The report's language; the disclosure threshold (unused: hidden cells carry their
        own label).
    alpha, target
        The two-sided level and the target power (``robustness.alpha``, ``robustness.power``).
    """
    L = _labels(language)
    flat = _flat(table)
    se, mde = _numeric(flat["se"]), _numeric(flat["mde"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    lines: dict[float, list[int]] = {}
    for i, h in enumerate(flat["horizon"]):
        if np.isnan(se[i]):
            ax.plot([], [], linestyle="none",
                    label=f"{L['horizon']} {h} {L['months']}: {flat['se'].iloc[i]}")  # fmt: skip
        else:
            lines.setdefault(float(se[i]), []).append(i)
    for s, rows in lines.items():
        hs = ", ".join(str(flat["horizon"].iloc[i]) for i in rows)
        (line,) = ax.plot(POWER_GRID_PP, power_at(POWER_GRID_PP / 100, s, alpha),
                          label=f"{L['horizon']} {hs} {L['months']}")  # fmt: skip
        if not np.isnan(mde[rows[0]]):
            ax.axvline(100 * mde[rows[0]], color=line.get_color(), linestyle=":", linewidth=0.8)
    ax.axhline(target, color="black", linestyle="--", linewidth=0.8, label=L["target"])
    ax.set_xlabel(L["effect_pp"])
    ax.set_ylabel(L["power"])
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return fig


def placebo_forest(table: pd.DataFrame, *, language: str, min_cell: int,
                   level: float) -> plt.Figure:  # fmt: skip
    """Placebo estimates on employment with their confidence intervals (true value zero).

    Drawn from the published ``placebo_effects`` table (index outcome, estimator, subgroup):
    the employment outcomes before the real start and after the fake start, every adjusted
    estimator (the naive difference is in the table only). A row whose estimate or interval
    is hidden gets no point; its label is written at zero. ``level``: the intervals'
    confidence level (``estimation.level``; the axis says it).
    """
    L = _labels(language)
    flat = _flat(table)
    kind = flat["outcome"].map(lambda o: next(
        (v for p, v in PLACEBO_EMPLOYMENT.items() if str(o).startswith(p)), None))  # fmt: skip
    rows = flat.loc[kind.notna() & ~flat["estimator"].astype(str).str.endswith("_naive")]
    kind = kind.loc[rows.index]
    est, lo, hi = (_numeric(rows[c]) for c in ("estimate", "ci_low", "ci_high"))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    names = []
    for j, (yi, (_, r)) in enumerate(zip(y, rows.iterrows(), strict=True)):
        fake = kind.iloc[j] == "fake"
        months = str(r["outcome"]).removeprefix("fake_start_employed_m").removeprefix(
            "pre_employed_m")  # fmt: skip
        when = f"{L[kind.iloc[j]]}, {'' if fake else '-'}{months} {L['months']}"
        short = str(r["estimator"]).split("_")[-1]
        names.append(f"{when}: {L.get(short, short)}")
        if np.isnan([est[j], lo[j], hi[j]]).any():
            label = _hidden_label(r[["estimate", "ci_low", "ci_high"]])
            ax.text(0, yi, f" {label}" if label else "", va="center", fontsize=7)
            continue
        colour = GROUP_COLOURS["mentored"] if fake else GROUP_COLOURS["comparison"]
        ax.errorbar(100 * est[j], yi, xerr=[[100 * (est[j] - lo[j])], [100 * (hi[j] - est[j])]],
                    fmt="o", ms=3, color=colour, capsize=2)  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlabel(L["placebo_effect"].format(pct=level_percent(level, language)))
    fig.tight_layout()
    return fig


def rosenbaum_bounds(
    table: pd.DataFrame, *, language: str, min_cell: int, alpha: float
) -> plt.Figure:
    """The worst-case one-sided p-value of the matched pairs as hidden bias (Gamma) grows.

    Drawn from the published ``rosenbaum_curve`` table (index ``gamma``, ``p_upper``); a
    dashed line marks the one-sided level. Hidden values leave a gap, and their label is
    written on the plot.
    """
    L = _labels(language)
    flat = _flat(table)
    gamma, p_upper = _numeric(flat["gamma"]), _numeric(flat["p_upper"])
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(gamma, p_upper, color=GROUP_COLOURS["mentored"])
    ax.axhline(alpha, color="black", linestyle="--", linewidth=0.8,
               label=f"{L['alpha']} {format_number(alpha, language, _decimals(alpha))}")  # fmt: skip
    label = _hidden_label(flat["p_upper"])
    if label:
        ax.text(0.5, 0.5, label, transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel(L["gamma"])
    ax.set_ylabel(L["p_upper"])
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return fig


def _choice(value: Any) -> Any:
    """A choice as the grid names it (a whole number read back from JSON as a float: int)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def spec_curve(table: pd.DataFrame, *, language: str, min_cell: int, alpha: float) -> plt.Figure:
    """The specification curve: sorted estimates with CIs above, the choices below.

    Drawn from the published ``spec_curve_estimates`` table (Simonsohn, Simmons and Nelson
    2020): specifications whose estimate is withheld or hidden are left out (the table says
    why); significant estimates at ``alpha`` (two-sided) in colour, with their
    ``1 - alpha`` confidence intervals (the axis says the level).
    """
    L = _labels(language)
    flat = _flat(table)
    est = _numeric(flat["estimate"])
    ok = flat.loc[~np.isnan(est)].copy()
    ok["_estimate"] = est[~np.isnan(est)]
    ok = ok.sort_values("_estimate", kind="mergesort")
    for dim in SPEC_DIMENSIONS:  # object, so that a whole number stays one (4, not 4.0)
        ok[dim] = pd.Series([_choice(v) for v in ok[dim]], index=ok.index, dtype=object)
    x = np.arange(len(ok))
    rows = []
    for dim in SPEC_DIMENSIONS:
        values = [v for v in pd.unique(ok[dim]) if pd.notna(v)]
        rows += [(dim, v) for v in sorted(values)]  # one type per dimension
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 3 + 0.22 * len(rows)), sharex=True,
        gridspec_kw={"height_ratios": [3, max(1.5, 0.22 * len(rows))]},
    )  # fmt: skip
    e = ok["_estimate"].to_numpy()
    lo, hi = _numeric(ok["ci_low"]), _numeric(ok["ci_high"])
    sig = _numeric(ok["p_value"]) < alpha
    for mask, colour, key in ((sig, GROUP_COLOURS["mentored"], "significant"),
                              (~sig, GROUP_COLOURS["comparison"], "not_significant")):  # fmt: skip
        top.errorbar(x[mask], 100 * e[mask],
                     yerr=100 * np.abs(np.vstack([lo[mask], hi[mask]]) - e[mask]),
                     fmt="o", ms=3, color=colour, elinewidth=0.8, label=L[key])  # fmt: skip
    top.axhline(0, color="black", linewidth=0.8)
    top.set_ylabel(L["estimate"].format(pct=level_percent(1 - alpha, language)))
    top.legend(fontsize=8, loc="upper left")
    for j, (dim, value) in enumerate(rows):
        hit = (ok[dim] == value).fillna(False).to_numpy(dtype=bool)
        bottom.scatter(x[hit], np.full(hit.sum(), j), s=8, color="#333333")
    bottom.set_yticks(range(len(rows)),
                      [f"{L[dim]}: {L.get(str(v), str(v))}" for dim, v in rows],
                      fontsize=7)  # fmt: skip
    bottom.invert_yaxis()
    bottom.set_xlabel(L["specification"])
    fig.tight_layout()
    return fig


def ovb_contour(table: pd.DataFrame, *, language: str, min_cell: int,
                outcome: str = "") -> plt.Figure:  # fmt: skip
    """Contours of the regression estimate adjusted for a hidden confounder, by its strength.

    Drawn from the published ``ovb_grid`` table (Cinelli and Hazlett 2020, figure 2): the
    adjusted estimate over the confounder's partial R² with mentoring (x) and with the
    outcome (y), in percentage points for a share (``outcome`` ``employed_*``); the zero
    contour red and dashed; the unadjusted estimate (triangle) and confounders as strong as a
    multiple of each benchmark covariate (dots, ``1×`` ...) marked. Hidden cells leave the
    contours out, with their label.
    """
    L = _labels(language)
    scale = 100.0 if outcome.startswith("employed_") else 1.0
    flat = _flat(table)
    grid = flat.loc[flat["point"] == ""]
    z = _numeric(grid["adjusted_estimate"]) * scale
    fig, ax = plt.subplots(figsize=(6.0, 4.6))
    label = _hidden_label(grid["adjusted_estimate"])
    if label or not np.isfinite(z).all():
        ax.text(0.5, 0.5, label or "..", transform=ax.transAxes, ha="center", va="center")
    else:
        x = np.sort(grid["r2dz_x"].astype(float).unique())
        y = np.sort(grid["r2yz_dx"].astype(float).unique())
        zz = (grid.pivot_table(index="r2yz_dx", columns="r2dz_x", values="adjusted_estimate",
                               aggfunc="first").loc[y, x].to_numpy(dtype=float) * scale)  # fmt: skip
        lines = ax.contour(x, y, zz, levels=8, colors="0.5", linewidths=0.8,
                           linestyles="solid")  # fmt: skip
        ax.clabel(lines, fontsize=7, fmt=lambda v: format_number(v, language, _decimals(v)))
        if zz.min() < 0 < zz.max():
            ax.contour(x, y, zz, levels=[0.0], colors="#c0392b", linestyles="--", linewidths=1.4)
    points = flat.loc[flat["point"] != ""]
    benchmarks = []
    for row in points.itertuples():
        unadjusted = row.point == "unadjusted"
        ax.plot(
            float(row.r2dz_x),
            float(row.r2yz_dx),
            "^" if unadjusted else "o",
            color=GROUP_COLOURS["mentored"],
            markersize=6,
            clip_on=False,
            zorder=5,
        )  # fmt: skip (the unadjusted point is the corner: not cut by the axes)
        if unadjusted:
            continue
        multiple, _, name = str(row.point).partition("x ")
        benchmarks.append(name)
        ax.annotate(f"{multiple}×", (float(row.r2dz_x), float(row.r2yz_dx)),
                    textcoords="offset points", xytext=(4, 3), fontsize=7)  # fmt: skip
    names = ", ".join(catalogue(language).category("variable", b, default=b)
                      for b in dict.fromkeys(benchmarks))  # fmt: skip
    ax.set_xlabel(L["r2dz_x"])
    ax.set_ylabel(L["r2yz_dx"])
    ax.set_title(L["ovb_title"].format(unit=L["pp"] if scale == 100 else "", names=names),
                 fontsize=8)  # fmt: skip
    ax.set_xlim(0, float(flat["r2dz_x"].astype(float).max()))
    ax.set_ylim(0, float(flat["r2yz_dx"].astype(float).max()))
    return fig
