"""Staggered difference-in-differences with group-time effects (Callaway & Sant'Anna 2021).

Persons start in cohorts ``g`` (the period of their start). For each cohort and period
``t`` the group-time effect ``ATT(g, t)`` compares the change of the outcome from a base
period ``b`` to ``t`` among the cohort with the same change among comparison persons:
``b = g - 1`` for ``t >= g``; before the start the base is the previous period
(``b = t - 1``, the "varying" base of R ``did``), so the pre-start cells are placebo
changes. With pre-period covariates the change of the comparison persons is predicted by
outcome regression (``"or"``, Heckman, Ichimura & Todd 1997) or doubly robustly
(``"dr"``, Sant'Anna & Zhao 2020, their ``drdid_panel`` with propensity trimming at
0.995). Inference comes from each person's influence function, so aggregation to event
time, cohort and one overall ATT (with the estimated cohort shares) and the multiplier
bootstrap for uniform bands are sums over persons, never a loop over them.

References
----------
Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
periods. *Journal of Econometrics* 225(2), 200-230.
Sant'Anna, P. H. C. & Zhao, J. (2020). Doubly robust difference-in-differences
estimators. *Journal of Econometrics* 219(1), 101-122.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from evaluation.calendar import month_index, month_label, quarter_label
from evaluation.design.propensity import design_matrix

#: Cohort code of persons who are never treated (the comparison group).
NEVER = -1
#: Comparison persons with a propensity score at or above this are dropped (DRDID default).
TRIM_LEVEL = 0.995

Method = Literal["or", "dr"]
Control = Literal["never", "never_same_cohort", "notyet"]


@dataclass(frozen=True)
class CohortPanel:
    """A person x period outcome matrix with each person's cohort (wide layout).

    Attributes
    ----------
    y
        Outcome, shape ``(n, T)``; NaN where the person is not observed in the period.
    periods
        The ``T`` consecutive period numbers (e.g. calendar quarters ``year * 4 + q``).
    cohort
        Period of each person's start, or :data:`NEVER` for comparison persons.
    eligible
        Each person's (pseudo) start period, also for comparison persons; used by the
        ``"never_same_cohort"`` comparison.
    x
        Pre-period covariates, shape ``(n, p)`` (no constant), or ``None``.
    z
        Covariates of the propensity score in the doubly robust estimator (no constant);
        ``None`` uses ``x``. A single index such as the design stage's propensity logit keeps
        the per-cohort logit well posed when cohorts are small.
    weights
        Sampling weights per person (normalised to mean 1 within each cell's sample).
    """

    y: np.ndarray
    periods: np.ndarray
    cohort: np.ndarray
    eligible: np.ndarray
    x: np.ndarray | None
    weights: np.ndarray
    z: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of persons."""
        return int(self.y.shape[0])


def period_panel(
    monthly: pd.DataFrame,
    *,
    unit: Literal["month", "quarter"],
    means: Sequence[str] = ("employed",),
    sums: Sequence[str] = ("earnings",),
) -> pd.DataFrame:
    """Aggregate a monthly person panel to months or calendar quarters.

    Parameters
    ----------
    monthly
        ``person_id``, ``month`` (integer month number, ``year * 12 + month - 1``) and the
        outcome columns.
    unit
        ``"month"`` (returned as is) or ``"quarter"`` (period ``month // 3``).
    means, sums
        Columns averaged (e.g. employment: the share of the quarter's months employed) and
        summed (e.g. earnings in the quarter). A quarter is kept only when all three of its
        months are observed, so a partly covered quarter is missing, never too small.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``period`` and the columns.
    """
    cols = [*means, *sums]
    if unit == "month":
        return monthly[["person_id", "month", *cols]].rename(columns={"month": "period"})
    key = pd.DataFrame(
        {
            "person_id": monthly["person_id"].to_numpy(dtype=object),
            "period": monthly["month"].to_numpy(dtype=np.int64) // 3,
        }
    )
    grouped = pd.concat([key, monthly[cols].reset_index(drop=True)], axis=1).groupby(
        ["person_id", "period"], sort=True, observed=True
    )
    out = grouped[list(means)].mean().join(grouped[list(sums)].sum())
    out = out.loc[grouped.size() == 3].reset_index()
    return out


def period_label(period: int, unit: Literal["month", "quarter"]) -> str:
    """The calendar label of a period number: ``'2018Q2'`` (quarter) or ``'2018-05'``."""
    if unit == "quarter":
        return str(quarter_label([int(period) * 3])[0])
    return str(month_label([int(period)])[0])


def cohort_persons(
    persons: pd.DataFrame, *, covariates: Sequence[str], unit: Literal["month", "quarter"]
) -> tuple[pd.DataFrame, list[str]]:
    """The person table of :func:`cohort_panel`: start period and numeric covariates.

    Parameters
    ----------
    persons
        One row per person: ``person_id``, ``treated``, ``logit`` (the design stage's
        propensity logit), ``start_month`` (``'YYYY-MM'``, the pseudo start of comparison
        persons) and the ``covariates``.
    covariates
        The design covariates; categories enter as dummies
        (:func:`~evaluation.design.propensity.design_matrix`), prefixed ``x_``.
    unit
        ``"quarter"`` or ``"month"``: the period of ``start_period``.

    Returns
    -------
    tuple
        The table (``person_id``, ``treated``, ``logit``, the ``x_`` columns,
        ``start_period``) in the order of ``persons``, and the names of the ``x_`` columns.
    """
    persons = persons.reset_index(drop=True)
    start = month_index(persons["start_month"]).to_numpy(dtype=np.int64)
    dm = design_matrix(persons, list(covariates)).frame.add_prefix("x_")
    out = pd.concat([persons[["person_id", "treated", "logit"]], dm], axis=1).assign(
        start_period=start // (3 if unit == "quarter" else 1)
    )
    return out, list(dm.columns)


def cohort_panel(
    long: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str] = (),
    propensity_covariates: Sequence[str] | None = None,
) -> CohortPanel:
    """Build a :class:`CohortPanel` from a long panel and a person table.

    Parameters
    ----------
    long
        One row per person and period: ``person_id``, ``period`` (integer), ``outcome``.
    persons
        One row per person: ``person_id``, ``treated`` (0/1), ``start_period`` (integer,
        the (pseudo) start also of comparison persons), the ``covariates`` and optionally
        ``weight``. Persons order the rows of the result.
    outcome
        Column of ``long`` to use.
    covariates
        Numeric columns of ``persons`` (pre-period characteristics).
    propensity_covariates
        Numeric columns for the doubly robust propensity score (``None``: ``covariates``).
    """
    ids = pd.Index(persons["person_id"].to_numpy(dtype=object))
    if not ids.is_unique:
        raise ValueError("persons.person_id must be unique")
    row = ids.get_indexer(long["person_id"].to_numpy(dtype=object))
    period = long["period"].to_numpy(dtype=np.int64)
    keep = row >= 0
    lo, hi = int(period[keep].min()), int(period[keep].max())
    y = np.full((len(ids), hi - lo + 1), np.nan)
    y[row[keep], period[keep] - lo] = long[outcome].to_numpy(dtype=np.float64)[keep]
    start = persons["start_period"].to_numpy(dtype=np.int64)
    treated = persons["treated"].to_numpy() == 1
    x = persons[list(covariates)].to_numpy(dtype=np.float64) if covariates else None
    w = persons["weight"].to_numpy(np.float64) if "weight" in persons else np.ones(len(ids))
    z = None
    if propensity_covariates is not None:
        z = persons[list(propensity_covariates)].to_numpy(dtype=np.float64)
    return CohortPanel(
        y=y,
        periods=np.arange(lo, hi + 1),
        cohort=np.where(treated, start, NEVER),
        eligible=start,
        x=x,
        weights=w,
        z=z,
    )


@dataclass(frozen=True)
class DidCell:
    """One two-period DiD: the estimate and its influence function on the cell's sample."""

    att: float
    influence: np.ndarray


def _logit(d: np.ndarray, x: np.ndarray, w: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """Weighted logit coefficients by Newton-Raphson (``x`` includes the constant)."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -35, 35)))
        grad = x.T @ (w * (d - p))
        hess = (x * (w * p * (1 - p))[:, None]).T @ x
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            return beta
    raise np.linalg.LinAlgError("the propensity logit did not converge (separation?)")


def did_or(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray) -> DidCell:
    """Outcome-regression DiD for panel data (``reg_did_panel`` of Sant'Anna & Zhao 2020).

    Parameters
    ----------
    dy
        Change of the outcome from the base to the current period.
    d
        1 for the treated cohort, 0 for the comparison persons.
    x
        Covariates with a leading constant column.
    w
        Sampling weights (normalised here to mean 1).

    Returns
    -------
    DidCell
        ATT and the influence function (mean zero over the cell's sample).
    """
    n = len(dy)
    w = w / w.mean()
    c = w * (1 - d)
    beta = np.linalg.lstsq(x * np.sqrt(c)[:, None], dy * np.sqrt(c), rcond=None)[0]
    fit = x @ beta
    wt = w * d
    eta_t = np.sum(wt * dy) / wt.sum()
    eta_c = np.sum(wt * fit) / wt.sum()
    lin_ols = (c * (dy - fit))[:, None] * x @ np.linalg.inv((x * c[:, None]).T @ x / n)
    inf_t = (wt * dy - wt * eta_t) / wt.mean()
    inf_c = (wt * fit - wt * eta_c + lin_ols @ (wt[:, None] * x).mean(axis=0)) / wt.mean()
    return DidCell(float(eta_t - eta_c), inf_t - inf_c)


def did_dr(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray, z: np.ndarray | None = None
) -> DidCell:
    """Doubly robust DiD for panel data (``drdid_panel`` of Sant'Anna & Zhao 2020).

    A logit propensity score and a linear regression of the change among comparison persons;
    comparison persons with a score of :data:`TRIM_LEVEL` or more are dropped, as in DRDID.
    Arguments as in :func:`did_or`; ``z`` (with a constant) are the propensity covariates,
    ``x`` when ``None`` (then the estimator is exactly DRDID's).
    """
    n = len(dy)
    w = w / w.mean()
    z = x if z is None else z
    ps = 1.0 / (1.0 + np.exp(-z @ _logit(d, z, w)))
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL).astype(np.float64)
    c = w * (1 - d)
    beta = np.linalg.lstsq(x * np.sqrt(c)[:, None], dy * np.sqrt(c), rcond=None)[0]
    resid = dy - x @ beta
    wt = trim * w * d
    wc = trim * w * ps * (1 - d) / (1 - ps)
    eta_t = np.sum(wt * resid) / wt.sum()
    eta_c = np.sum(wc * resid) / wc.sum()
    lin_ols = (c * resid)[:, None] * x @ np.linalg.inv((x * c[:, None]).T @ x / n)
    hess_ps = np.linalg.inv((z * (w * ps * (1 - ps))[:, None]).T @ z) * n
    lin_ps = (w * (d - ps))[:, None] * z @ hess_ps
    inf_t = (wt * resid - wt * eta_t - lin_ols @ (wt[:, None] * x).mean(axis=0)) / wt.mean()
    m2 = (wc * (resid - eta_c))[:, None] * z
    inf_c = (
        wc * resid
        - wc * eta_c
        + lin_ps @ m2.mean(axis=0)
        - lin_ols @ (wc[:, None] * x).mean(axis=0)
    ) / wc.mean()
    return DidCell(float(eta_t - eta_c), inf_t - inf_c)


@dataclass(frozen=True)
class GroupTime:
    """All group-time effects with their influence functions.

    Attributes
    ----------
    table
        One row per cell: ``cohort``, ``period``, ``event_time``, ``base``, ``att``, ``se``
        (analytic), ``n_treated``, ``n_control``.
    influence
        Shape ``(n, cells)``: each person's influence on each ``ATT(g, t)`` (zero outside
        the cell's sample, scaled by ``n / n_cell`` as in R ``did``).
    cohort_share
        ``P(G = g)`` for each cell's cohort (weighted share of all persons).
    person_cohort, weights
        Each person's cohort and weight (for the influence of the estimated shares).
    method, control
        The estimator and the comparison group.
    failed
        ``(cohort, period, reason)`` of cells that could not be estimated (a singular
        regression, or a propensity logit that does not converge because the covariates
        separate a small cohort from its comparison persons); they are left out.
    cell_persons
        For each cell (row of ``table``), the row positions of its treated and its
        comparison persons in the panel (those ``n_treated`` and ``n_control`` count).
    """

    table: pd.DataFrame
    influence: np.ndarray
    cohort_share: np.ndarray
    person_cohort: np.ndarray
    weights: np.ndarray
    method: str
    control: str
    failed: tuple[tuple[int, int, str], ...] = ()
    cell_persons: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    def event_time_persons(self, event_time: int) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of the treated and comparison persons of the cells at an event time.

        Those the event-time aggregate rests on.
        """
        cells = np.flatnonzero(self.table["event_time"].to_numpy() == event_time)
        return _union(self, cells)

    def all_persons(self) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of the treated and comparison persons of any cell."""
        return _union(self, np.arange(len(self.table)))


def _union(gt: GroupTime, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    empty = np.array([], dtype=np.int64)
    treated = [gt.cell_persons[c][0] for c in cells]
    control = [gt.cell_persons[c][1] for c in cells]
    return (np.unique(np.concatenate([empty, *treated])),
            np.unique(np.concatenate([empty, *control])))  # fmt: skip


def _controls(panel: CohortPanel, g: int, t: int, b: int, control: Control) -> np.ndarray:
    never = panel.cohort == NEVER
    if control == "never":
        return never
    if control == "never_same_cohort":
        return never & (panel.eligible == g)
    if control == "notyet":
        return never | ((panel.cohort > max(t, b)) & (panel.cohort != g))
    raise ValueError(f"control must be never, never_same_cohort or notyet, got {control!r}")


def att_gt(
    panel: CohortPanel,
    *,
    method: Method = "dr",
    control: Control = "never",
    pre: int = 4,
    post: int = 8,
) -> GroupTime:
    """Group-time average treatment effects on the treated, ``ATT(g, t)``.

    Parameters
    ----------
    panel
        Outcomes, cohorts and covariates (:func:`cohort_panel`).
    method
        ``"or"`` outcome regression or ``"dr"`` doubly robust (the same when ``x`` is None).
    control
        ``"never"`` all never-treated, ``"never_same_cohort"`` never-treated persons whose
        (pseudo) start falls in the cohort's period, ``"notyet"`` never-treated and persons
        starting after both ``t`` and the base period.
    pre, post
        Cells with event time ``t - g`` in ``[-pre, post]`` are estimated.

    Returns
    -------
    GroupTime
        The cells and the influence functions. A cell needs at least two treated and two
        comparison persons observed in both periods; others are left out, and so are
        cells whose fit fails (listed in ``failed``). A covariate term
        that is constant among a cell's comparison persons is left out of that cell.
    """
    n = panel.n
    w_all = panel.weights / panel.weights.mean()
    if method not in ("or", "dr"):
        raise ValueError(f"method must be 'or' or 'dr', got {method!r}")
    x_all = np.ones((n, 1)) if panel.x is None else np.column_stack([np.ones(n), panel.x])
    z_all = None if panel.z is None else np.column_stack([np.ones(n), panel.z])
    rows, infs, failed, members = [], [], [], []
    for g in np.unique(panel.cohort[panel.cohort != NEVER]):
        for e in range(-pre, post + 1):
            t = int(g + e)
            b = int(g - 1) if e >= 0 else t - 1
            ti, bi = t - panel.periods[0], b - panel.periods[0]
            if min(ti, bi) < 0 or max(ti, bi) >= len(panel.periods):
                continue
            dy_all = panel.y[:, ti] - panel.y[:, bi]
            ok = np.isfinite(dy_all) & np.isfinite(x_all).all(axis=1)
            if z_all is not None:
                ok &= np.isfinite(z_all).all(axis=1)
            treat = ok & (panel.cohort == g)
            ctrl = ok & _controls(panel, int(g), t, b, control)
            if treat.sum() < 2 or ctrl.sum() < 2:
                continue
            idx = np.flatnonzero(treat | ctrl)
            # a term constant among the comparison persons cannot be adjusted for: left out
            varies = np.ptp(x_all[ctrl], axis=0) > 0
            varies[0] = True
            args = (dy_all[idx], treat[idx].astype(np.float64), x_all[idx][:, varies], w_all[idx])
            try:
                if method == "or":
                    cell = did_or(*args)
                else:
                    cell = did_dr(*args, z=None if z_all is None else z_all[idx])
            except np.linalg.LinAlgError as err:
                failed.append((int(g), t, str(err)))
                continue
            inf = np.zeros(n)
            inf[idx] = cell.influence * n / len(idx)
            infs.append(inf)
            members.append((np.flatnonzero(treat), np.flatnonzero(ctrl)))
            rows.append(
                {
                    "cohort": int(g),
                    "period": t,
                    "event_time": e,
                    "base": b,
                    "att": cell.att,
                    "se": float(np.sqrt(np.sum(inf**2)) / n),
                    "n_treated": int(treat.sum()),
                    "n_control": int(ctrl.sum()),
                }
            )
    if not rows:
        raise ValueError("no group-time cell has two treated and two comparison persons")
    table = pd.DataFrame(rows)
    share = {g: float(np.mean(w_all * (panel.cohort == g))) for g in table["cohort"].unique()}
    return GroupTime(
        table=table,
        influence=np.column_stack(infs),
        cohort_share=table["cohort"].map(share).to_numpy(dtype=np.float64),
        person_cohort=panel.cohort,
        weights=w_all,
        method=method,
        control=control,
        failed=tuple(failed),
        cell_persons=tuple(members),
    )


@dataclass(frozen=True)
class Aggregate:
    """Aggregated effects (event time, cohort or overall) with influence functions.

    Attributes
    ----------
    table
        ``key`` (event time, cohort or ``"overall"``), ``att``, ``se``, ``n_cells``.
    influence
        Shape ``(n, rows)``.
    """

    table: pd.DataFrame
    influence: np.ndarray


def _share_influence(gt: GroupTime, cells: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Influence of estimating the cohort shares in weights ``P(G=g) / sum P(G=g)``.

    Port of ``wif`` in R ``did`` (``aggte``): numerator and denominator terms.
    """
    cohorts = gt.table["cohort"].to_numpy()[cells]
    ind = gt.weights[:, None] * (gt.person_cohort[:, None] == cohorts[None, :]) - shares
    total = shares.sum()
    return ind / total - ind.sum(axis=1, keepdims=True) * (shares / total**2)[None, :]


def _combine(
    gt: GroupTime, cells: np.ndarray, att: np.ndarray, weights: np.ndarray, share_weights: bool
) -> tuple[float, np.ndarray]:
    inf = gt.influence[:, cells] @ weights
    if share_weights:
        inf = inf + _share_influence(gt, cells, gt.cohort_share[cells]) @ att[cells]
    return float(att[cells] @ weights), inf


def _table(keys: list, atts: list, infs: list, cells: list) -> Aggregate:
    inf = np.column_stack(infs)
    n = inf.shape[0]
    se = np.sqrt((inf**2).sum(axis=0)) / n
    return Aggregate(pd.DataFrame({"key": keys, "att": atts, "se": se, "n_cells": cells}), inf)


def aggregate_event_time(gt: GroupTime) -> Aggregate:
    """ATT by event time ``e = t - g``: cohorts weighted by their size (CS 2021, eq. 3.10)."""
    att = gt.table["att"].to_numpy()
    e_all = gt.table["event_time"].to_numpy()
    keys, atts, infs, counts = [], [], [], []
    for e in np.unique(e_all):
        cells = np.flatnonzero(e_all == e)
        pw = gt.cohort_share[cells] / gt.cohort_share[cells].sum()
        est, inf = _combine(gt, cells, att, pw, share_weights=True)
        keys.append(int(e))
        atts.append(est)
        infs.append(inf)
        counts.append(len(cells))
    return _table(keys, atts, infs, counts)


def aggregate_cohort(gt: GroupTime) -> Aggregate:
    """ATT by cohort (mean over its post-start cells) and overall (CS 2021, eq. 3.11-3.12).

    The last row, key ``"overall"``, averages the cohort effects with the cohort shares and
    includes the influence of estimating those shares.
    """
    att = gt.table["att"].to_numpy()
    post = gt.table["event_time"].to_numpy() >= 0
    cohort = gt.table["cohort"].to_numpy()
    keys, atts, infs, counts, shares = [], [], [], [], []
    for g in np.unique(cohort[post]):
        cells = np.flatnonzero(post & (cohort == g))
        est, inf = _combine(gt, cells, att, np.full(len(cells), 1 / len(cells)), False)
        keys.append(int(g))
        atts.append(est)
        infs.append(inf)
        counts.append(len(cells))
        shares.append(gt.cohort_share[cells[0]])
    pg = np.asarray(shares)
    inf_g = np.column_stack(infs)
    first = np.array([np.flatnonzero(post & (cohort == g))[0] for g in keys])
    share_inf = _share_influence(gt, first, pg)
    overall = float(np.asarray(atts) @ (pg / pg.sum()))
    inf_overall = inf_g @ (pg / pg.sum()) + share_inf @ np.asarray(atts)
    return _table(
        [*keys, "overall"], [*atts, overall], [*infs, inf_overall], [*counts, int(post.sum())]
    )
