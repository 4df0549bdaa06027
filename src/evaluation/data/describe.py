"""Descriptive tables by group, with disclosure control built in."""

from __future__ import annotations

import pandas as pd

from evaluation.report.disclosure import TOTAL, protect_counts, suppressed_label, withheld_label


def numeric_by_group(
    frame: pd.DataFrame, group: str, columns: list[str], threshold: int
) -> pd.DataFrame:
    """Mean and standard deviation of numeric columns by group, as text.

    A statistic resting on fewer than ``threshold`` non-missing values is withheld.
    """
    rows = {}
    groups = sorted(frame[group].dropna().unique())
    for col in columns:
        cells = {}
        for g in groups:
            x = pd.to_numeric(frame.loc[frame[group] == g, col], errors="coerce").dropna()
            if len(x) < threshold:
                cells[g] = withheld_label(threshold)
            else:
                cells[g] = f"{x.mean():,.2f} ({x.std(ddof=1):,.2f})"
        rows[col] = cells
    out = pd.DataFrame.from_dict(rows, orient="index", columns=groups)
    out.index.name = "variable"
    return out


def categorical_counts(frame: pd.DataFrame, group: str, column: str) -> pd.DataFrame:
    """Counts of a categorical column by group, with ``Total`` margins (missing as 'missing')."""
    values = frame[column].astype("string").fillna("missing")
    counts = pd.crosstab(values, frame[group], margins=True, margins_name=TOTAL)
    counts.index = counts.index.astype(str)
    counts.columns = counts.columns.astype(str)
    return counts.astype("int64")


def categorical_by_group(
    frame: pd.DataFrame, group: str, columns: list[str], threshold: int
) -> pd.DataFrame:
    """Counts and column percentages by group for categorical columns, disclosure-controlled.

    Each variable's counts pass :func:`~evaluation.report.disclosure.protect_counts` (primary,
    zero-or-all and secondary suppression); a suppressed count shows no percentage either.
    """
    parts = []
    label = suppressed_label(threshold)
    for col in columns:
        counts = categorical_counts(frame, group, col)
        protected = protect_counts(counts, threshold).table
        body = [r for r in counts.index if r != TOTAL]
        groups = [c for c in counts.columns if c != TOTAL]
        shown = pd.DataFrame(index=[f"{col}: {r}" for r in body], columns=groups, dtype=object)
        for r in body:
            for g in groups:
                cell = protected.loc[r, g]
                if cell == label:
                    shown.loc[f"{col}: {r}", g] = label
                else:
                    pct = 100.0 * counts.loc[r, g] / counts.loc[TOTAL, g]
                    shown.loc[f"{col}: {r}", g] = f"{int(counts.loc[r, g])} ({pct:.1f} %)"
        parts.append(shown)
    out = pd.concat(parts) if parts else pd.DataFrame()
    out.index.name = "variable"
    return out


def binned_shares(
    frame: pd.DataFrame,
    group: str,
    column: str,
    bins: list[float],
    labels: list[str],
    threshold: int,
) -> pd.DataFrame:
    """Shares of each group in bins of a numeric column, for a disclosure-safe bar chart.

    The counts behind the shares pass :func:`protect_counts`; a suppressed bin's share is NaN
    (drawn as an empty bar marked ``<threshold``). Bins are right-closed intervals.
    """
    binned = pd.cut(frame[column], bins=bins, labels=labels, right=True, include_lowest=True)
    counts = pd.crosstab(binned, frame[group], margins=True, margins_name=TOTAL)
    counts = counts.reindex(index=[*labels, TOTAL], fill_value=0)
    counts.index = counts.index.astype(str)
    mask = (protect_counts(counts, threshold).table == suppressed_label(threshold))
    shares = counts.div(counts.loc[TOTAL], axis=1).astype("float64")
    shares = shares.mask(mask)
    return shares.drop(index=TOTAL).drop(columns=TOTAL)
