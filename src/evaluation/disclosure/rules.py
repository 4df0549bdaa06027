"""Statistical disclosure control: the one gate every table passes before it is written.

Rules (threshold ``k``, parameter ``disclosure.min_cell``, default 5):

1. **Primary suppression.** A count ``0 < n < k`` is shown as ``"<k"``.
2. **Zero-or-all cells.** In a table of counts by group, a cell that is 0 or equal to its
   group's total says something about *every* member of the group (all or none of them
   have the attribute). Such cells are suppressed when the group itself is small
   (``total < 2k``): for large groups a 0 or 100 % share is not disclosive in practice and
   is shown. Such a cell is shown as ``".."``, not ``"<k"``: its count is 0 or its group's
   total, not 1 to ``k - 1``, and a label must never state a count that is false.
3. **Secondary suppression.** A suppressed cell must not be recoverable from the margins:
   in every row and every column that has a total and exactly one suppressed cell, the
   smallest other non-total cell is suppressed too; repeated until stable. A secondary cell
   is shown as ``".."`` (it is not small, only hidden), so no reader takes it for ``"<k"``.
4. **Statistics on few persons.** A mean, share or estimate computed on fewer than ``k``
   persons is withheld (shown as ``"withheld (n<k)"``).

The functions return new frames (never mutate the input) holding text where suppressed,
plus a boolean mask of what was suppressed, so that callers can state how many cells went.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TOTAL = "Total"


@dataclass(frozen=True)
class Protected:
    """A table after disclosure control, with what was suppressed and why."""

    table: pd.DataFrame
    primary: pd.DataFrame
    secondary: pd.DataFrame

    @property
    def n_suppressed(self) -> int:
        """Number of cells suppressed, primary and secondary."""
        return int(self.primary.to_numpy().sum() + self.secondary.to_numpy().sum())


def suppressed_label(threshold: int) -> str:
    """How a suppressed count is shown."""
    return f"<{threshold}"


#: How a cell suppressed only to protect another (secondary suppression) is shown.
SECONDARY_LABEL = ".."


def withheld_label(threshold: int) -> str:
    """How a statistic on too few persons is shown."""
    return f"withheld (n<{threshold})"


def _line_has_total(labels: pd.Index) -> bool:
    return TOTAL in labels


def protect_counts(counts: pd.DataFrame, threshold: int, *, zero_or_all: bool = True) -> Protected:
    """Suppress small, zero-or-all and recoverable cells of a table of counts.

    Parameters
    ----------
    counts
        Integer counts; rows and columns named ``"Total"`` are margins (sums of the others).
        Columns are groups (for example mentored / comparison), rows categories.
    threshold
        Smallest count that may be shown.
    zero_or_all
        Apply rule 2 (zero or all of a small group).

    Returns
    -------
    Protected
        The table as text, and masks of primary and secondary suppression.
    """
    values = counts.astype("float64")
    body_rows = [r for r in values.index if r != TOTAL]
    body_cols = [c for c in values.columns if c != TOTAL]
    primary = pd.DataFrame(False, index=values.index, columns=values.columns)
    small = (values > 0) & (values < threshold)
    primary |= small
    if zero_or_all and TOTAL in values.index:
        totals = values.loc[TOTAL]
        for col in body_cols:
            tot = totals[col]
            if 0 < tot < 2 * threshold:
                col_vals = values.loc[body_rows, col]
                hit = (col_vals == 0) | (col_vals == tot)
                primary.loc[col_vals.index[hit], col] = True
    secondary = pd.DataFrame(False, index=values.index, columns=values.columns)

    def suppressed() -> pd.DataFrame:
        return primary | secondary

    changed = True
    while changed:
        changed = False
        mask = suppressed()
        if _line_has_total(values.columns):
            for row in values.index:
                changed |= _secondary_in_line(
                    values.loc[row, body_cols], mask.loc[row, body_cols], secondary, row_key=row
                )
                mask = suppressed()
        if _line_has_total(values.index):
            for col in values.columns:
                changed |= _secondary_in_line(
                    values.loc[body_rows, col], mask.loc[body_rows, col], secondary, col_key=col
                )
                mask = suppressed()
    shown = counts.astype("Int64").astype(str)
    # "<k" states a count of 1 to k-1: only where that is true; every other hidden cell ".."
    shown = shown.where(~(primary | secondary), SECONDARY_LABEL)
    shown = shown.where(~(primary & small), suppressed_label(threshold))
    return Protected(table=shown, primary=primary, secondary=secondary)


def _secondary_in_line(
    vals: pd.Series,
    mask: pd.Series,
    secondary: pd.DataFrame,
    *,
    row_key: object = None,
    col_key: object = None,
) -> bool:
    """If exactly one cell of a line is suppressed, suppress the smallest other one."""
    if int(mask.sum()) != 1:
        return False
    candidates = vals[~mask]
    if candidates.empty:
        return False
    # the smallest remaining cell (ties: first in order, for determinism)
    target = candidates.index[int(np.argmin(candidates.to_numpy()))]
    if row_key is not None:
        secondary.loc[row_key, target] = True
    else:
        secondary.loc[target, col_key] = True
    return True


def withhold_small(
    stats: pd.DataFrame, n: pd.Series | pd.DataFrame, threshold: int
) -> pd.DataFrame:
    """Withhold statistics computed on fewer than ``threshold`` persons.

    Parameters
    ----------
    stats
        Statistics (means, shares, estimates), one column per group.
    n
        The number of persons behind each statistic: a Series indexed like ``stats.columns``
        (one n per group) or a frame shaped like ``stats``.
    threshold
        Smallest number of persons a statistic may rest on.
    """
    if isinstance(n, pd.Series):
        n_frame = pd.DataFrame(
            np.broadcast_to(n.reindex(stats.columns).to_numpy(), stats.shape),
            index=stats.index,
            columns=stats.columns,
        )
    else:
        n_frame = n.reindex(index=stats.index, columns=stats.columns)
    too_few = n_frame < threshold
    return stats.astype(object).where(~too_few, withheld_label(threshold))
