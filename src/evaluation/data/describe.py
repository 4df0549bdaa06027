"""Descriptive tables by group, with disclosure control built in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.disclosure.ledger import PublishedTable, fact, row_key
from evaluation.disclosure.rules import TOTAL, protect_counts, withheld_label
from evaluation.protocol import produced_by


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
    """Counts of a categorical column by group, with a ``Total`` row (missing as 'missing').

    Only the column totals (the group sizes, published elsewhere) are margins: the row totals
    across groups are not shown, so they need not be protected.
    """
    values = frame[column].astype("string").fillna("missing")
    counts = pd.crosstab(values, frame[group], margins=True, margins_name=TOTAL)
    counts = counts.drop(columns=TOTAL)
    counts.index = counts.index.astype(str)
    counts.columns = counts.columns.astype(str)
    return counts.astype("int64")


def categorical_by_group(
    frame: pd.DataFrame, group: str, columns: list[str], threshold: int
) -> pd.DataFrame:
    """Counts and column percentages by group for categorical columns, disclosure-controlled.

    Each variable's counts pass :func:`~evaluation.disclosure.rules.protect_counts` (primary,
    zero-or-all and secondary suppression); a suppressed count shows no percentage either.
    """
    parts = []
    for col in columns:
        counts = categorical_counts(frame, group, col)
        protected = protect_counts(counts, threshold).table
        body = [r for r in counts.index if r != TOTAL]
        groups = [c for c in counts.columns if c != TOTAL]
        shown = pd.DataFrame(index=[f"{col}: {r}" for r in body], columns=groups, dtype=object)
        for r in body:
            for g in groups:
                cell = protected.loc[r, g]
                if not cell.isdigit():  # "<k" or ".." (secondary)
                    shown.loc[f"{col}: {r}", g] = cell
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
    mask = ~protect_counts(counts, threshold).table.map(str.isdigit)
    shares = counts.div(counts.loc[TOTAL], axis=1).astype("float64")
    shares = shares.mask(mask)
    return shares.drop(index=TOTAL).drop(columns=TOTAL)


def protect_margined(
    frame: pd.DataFrame,
    count_columns: list[str],
    threshold: int,
    *,
    total_column: str | None = None,
    total_row: object | None = None,
) -> pd.DataFrame:
    """Disclosure-control the count columns of a table whose margins are named otherwise.

    ``total_column`` (a count column that sums the others) and ``total_row`` (a row that sums
    the others, e.g. the sample flow's "persons in" row) are treated as the margins of
    :func:`protect_counts`, so that secondary suppression also covers what could be recovered
    from them. Text columns are kept as they are.
    """
    counts = frame[count_columns].astype("int64").copy()
    if total_column is not None:
        counts = counts.rename(columns={total_column: TOTAL})
    if total_row is not None:
        counts = counts.rename(index={total_row: TOTAL})
    protected = protect_counts(counts, threshold).table
    if total_column is not None:
        protected = protected.rename(columns={TOTAL: total_column})
    if total_row is not None:
        protected = protected.rename(index={TOTAL: total_row})
    out = frame.copy().astype({c: object for c in count_columns})
    out[count_columns] = protected[count_columns].to_numpy()
    return out


def protect_flow(flow: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Disclosure-control the sample-flow table of :func:`~evaluation.design.sample.build_analysis`.

    Within each group the ``input`` row is the sum of the ``excluded`` rows and the
    ``analysed`` row, and ``total`` sums the groups: both are margins for secondary
    suppression. ``note`` rows (not part of that sum) are protected on their own.
    """
    groups = ["mentored", "comparison", "total"]
    table = flow.set_index("step")
    additive = table[table["kind"].isin(["input", "excluded", "analysed"])]
    notes = table[~table["kind"].isin(["input", "excluded", "analysed"])]
    input_step = additive.index[additive["kind"] == "input"][0]
    parts = [
        protect_margined(additive, groups, threshold, total_column="total", total_row=input_step)
    ]
    if not notes.empty:
        parts.append(protect_margined(notes, groups, threshold, total_column="total"))
    out = pd.concat(parts).reindex(table.index)
    return out[["kind", *groups, "reason"]]


@produced_by
def group_shares(
    frame: pd.DataFrame,
    group: str,
    column: str,
    bins: list[float],
    labels: list[str],
    threshold: int,
    *,
    groups: tuple[str, ...] = ("mentored", "comparison"),
) -> PublishedTable:
    """Share of each group's persons in bins of a numeric column, disclosure-controlled.

    The counts behind the shares pass :func:`protect_counts` (each group's total is the
    margin): a bin with fewer than ``threshold`` persons of a group shows ``<k``, a bin hidden
    only so that it cannot be worked out from the others shows ``..``; every other cell is
    the share (0 to 1, four decimals). Bins are right-closed intervals. ``frame`` has a
    ``person_id`` column: each cell's fact is the persons of that group in that bin (a share
    of a published total gives their number away).

    Returns
    -------
    PublishedTable
        Index ``bin`` (the ``labels``), one column per group.
    """
    binned = pd.cut(frame[column], bins=bins, labels=labels, right=True, include_lowest=True)
    counts = pd.crosstab(binned, frame[group], margins=True, margins_name=TOTAL)
    # only the groups' totals are margins: the bins' totals over groups are not published
    counts = counts.reindex(index=[*labels, TOTAL], columns=list(groups), fill_value=0)
    counts.index = counts.index.astype(str)
    protected = protect_counts(counts, threshold).table
    body = counts.drop(index=TOTAL)
    shares = body.div(counts.loc[TOTAL, list(groups)], axis=1).astype("float64").round(4)
    shown = protected.loc[body.index, list(groups)]
    out = shares.astype(object).where(shown.map(str.isdigit), shown)
    out.index.name = "bin"
    facts = []
    ids = frame["person_id"].astype(str).to_numpy()
    codes = binned.astype(object).to_numpy()
    gvals = frame[group].to_numpy()
    for b in body.index:
        for g in groups:
            who = ids[(codes == b) & (gvals == g)]
            facts.append(fact((row_key(b), g), who))
    return PublishedTable(frame=out, facts=tuple(facts))


def share_value(cell: object) -> float:
    """A published share cell as a number (``nan`` where hidden: ``<k``, ``..``)."""
    return float(cell) if isinstance(cell, int | float | np.floating) else float("nan")
