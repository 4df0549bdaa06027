"""Covariate balance for the ATT: standardised mean differences and variance ratios.

The love plot is drawn from the published balance table (:func:`evaluation.plots.design.love_plot`).

Conventions follow R ``cobalt`` for the ATT (``s.d.denom = "treated"``): the standardised
mean difference divides by the standard deviation of the *treated* group computed in the
sample as given (unweighted), so the denominator is the same before and after matching or
weighting and an improvement in balance cannot come from a changed denominator.

References
----------
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
covariates between treatment groups in propensity-score matched samples. *Statistics in
Medicine* 28(25), 3083-3107.
Greifer, N. (2024). cobalt: Covariate Balance Tables and Plots. R package.
Stuart, E. A. (2010). Matching methods for causal inference: a review and a look forward.
*Statistical Science* 25(1), 1-21.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.design.propensity import design_matrix, treatment_indicator

#: Default |SMD| above which a covariate is flagged (Austin 2009; Stuart 2010).
SMD_THRESHOLD = 0.1
#: Variance ratios (treated over control) outside these bounds are flagged (Rubin 2001).
VAR_RATIO_BOUNDS = (0.5, 2.0)
#: An SD at most this times the term's size (at least 1) is zero: rounding, not spread.
_RELATIVE_ZERO = 1e-9


@dataclass(frozen=True, eq=False)
class BalanceTable:
    """Balance of each covariate term between treated and controls.

    Attributes
    ----------
    table
        Indexed by term; columns ``binary``, ``mean_treated``, ``mean_control``,
        ``diff``, ``sd_treated``, ``smd``, ``var_ratio`` (continuous terms only, weighted
        treated variance over weighted control variance), ``ks`` (Kolmogorov-Smirnov
        statistic: the largest distance between the two groups' weighted empirical
        distribution functions; for a 0/1 term the difference in shares), ``ks_at`` (the
        value where that distance is largest: not for publication) and ``flag``
        (``|smd| > threshold``).
    threshold
        The SMD threshold used for ``flag``.
    weighted
        Whether weights were applied.
    n_treated, n_control
        Rows with positive weight per group.
    ess_treated, ess_control
        Kish effective sample sizes ``(sum w)^2 / sum w^2`` per group.
    """

    table: pd.DataFrame
    threshold: float
    weighted: bool
    n_treated: int
    n_control: int
    ess_treated: float
    ess_control: float

    @property
    def max_abs_smd(self) -> float:
        """Largest absolute standardised mean difference."""
        return float(self.table["smd"].abs().max())

    @property
    def n_flagged(self) -> int:
        """Number of terms with ``|smd|`` above the threshold."""
        return int(self.table["flag"].sum())

    @property
    def max_ks(self) -> float:
        """Largest Kolmogorov-Smirnov statistic over the terms."""
        return float(self.table["ks"].max())

    @property
    def n_var_ratio_out(self) -> int:
        """Continuous terms whose variance ratio lies outside :data:`VAR_RATIO_BOUNDS`."""
        vr = self.table["var_ratio"].dropna()
        return int(((vr < VAR_RATIO_BOUNDS[0]) | (vr > VAR_RATIO_BOUNDS[1])).sum())


@dataclass(frozen=True, eq=False)
class InteractionBalance:
    """Balance of the squares and pairwise products of the covariate terms.

    Attributes
    ----------
    table
        Indexed by ``term`` (``a*b``, or ``a^2`` for a square); columns ``term_a``,
        ``term_b``, ``binary`` (the product is 0/1), ``smd`` (standardised as the main
        terms: by the treated SD of the product, pooled if that is zero) and ``flag``.
    threshold
        The SMD threshold used for ``flag``.
    """

    table: pd.DataFrame
    threshold: float

    @property
    def max_abs_smd(self) -> float:
        """Largest absolute SMD over the products (0 if there are none)."""
        return float(self.table["smd"].abs().max()) if len(self.table) else 0.0

    @property
    def n_flagged(self) -> int:
        """Number of products with ``|smd|`` above the threshold."""
        return int(self.table["flag"].sum())


def _wmean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w[:, None] * x).sum(axis=0) / w.sum()


def _wvar(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted variance with the reliability-weights correction (n-1 when unweighted)."""
    m = _wmean(x, w)
    sw, sw2 = w.sum(), (w**2).sum()
    return (w[:, None] * (x - m) ** 2).sum(axis=0) * sw / (sw**2 - sw2)


def _ess(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum())


def balance_table(
    df: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    weights: pd.Series | np.ndarray | None = None,
    categorical: Sequence[str] | None = None,
    threshold: float = SMD_THRESHOLD,
) -> BalanceTable:
    """Tabulate covariate balance for the ATT.

    For each term (categories expanded to dummies, all levels shown, none dropped):
    treated and control means (weighted where ``weights`` are given), the standardised mean
    difference ``(mean_t - mean_c) / sd_t`` with ``sd_t`` the unweighted treated standard
    deviation (n - 1) in the data as passed (cobalt's default for the ATT; for a 0/1 term
    this is the treated SD of that dummy), the variance ratio for continuous terms, and a
    flag for ``|SMD| > threshold``. If the treated SD of a term is zero, the pooled SD
    ``sqrt((var_t + var_c) / 2)`` is used instead for that term.

    Parameters
    ----------
    df
        Data; not modified.
    treatment
        0/1 treatment column.
    covariates
        Covariate columns.
    weights
        Optional non-negative weights aligned to ``df`` (e.g. ``Matching.weights`` or IPW
        weights). Rows with weight zero do not enter the means.
    categorical
        Numeric columns to show as categories.
    threshold
        Flag threshold for ``|SMD|``.

    Returns
    -------
    BalanceTable
    """
    d = treatment_indicator(df, treatment) == 1
    x_df, _ = expanded_terms(df, covariates, categorical)
    x = x_df.to_numpy(dtype=float)
    w = _weights(df, weights)
    wt, wc = w[d], w[~d]
    pt, pc = wt > 0, wc > 0
    xt, xc = x[d][pt], x[~d][pc]
    wt, wc = wt[pt], wc[pc]
    mt, mc = _wmean(xt, wt), _wmean(xc, wc)
    sd_t = x[d].std(axis=0, ddof=1)
    var_t, var_c = _wvar(xt, wt), _wvar(xc, wc)
    # a term constant among the treated has SD 0 up to rounding (1e-17 for 0.3): pooled SD
    constant = sd_t <= _RELATIVE_ZERO * np.maximum(1.0, np.abs(x[d].mean(axis=0)))
    denom = np.where(constant, np.sqrt((var_t + var_c) / 2), sd_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = (mt - mc) / denom
        vr = var_t / var_c
    binary = np.isin(x, (0.0, 1.0)).all(axis=0)
    ks, ks_at = _ks(xt, wt, xc, wc)
    table = pd.DataFrame(
        {
            "binary": binary,
            "mean_treated": mt,
            "mean_control": mc,
            "diff": mt - mc,
            "sd_treated": sd_t,
            "smd": smd,
            "var_ratio": np.where(binary, np.nan, vr),
            "ks": ks,
            "ks_at": ks_at,
        },
        index=pd.Index(x_df.columns, name="term"),
    )
    table["flag"] = table["smd"].abs() > threshold
    return BalanceTable(
        table=table,
        threshold=threshold,
        weighted=weights is not None,
        n_treated=int(pt.sum()),
        n_control=int(pc.sum()),
        ess_treated=_ess(wt),
        ess_control=_ess(wc),
    )


def expanded_terms(
    df: pd.DataFrame, covariates: Sequence[str], categorical: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The balance terms: covariates with categories expanded to every level's dummy.

    Returns the terms (columns in the covariates' order) and each term's source covariate.
    """
    dm = design_matrix(df, covariates, categorical=categorical, drop_collinear=False)
    cat = set(categorical or ()) | set(dm.reference_levels)
    frames = [dm.frame]
    source = dict(dm.source)
    for col in dm.reference_levels:  # show the reference level too
        ref = dm.reference_levels[col]
        name = f"{col}={ref}"
        others = [c for c in dm.frame.columns if dm.source[c] == col]
        frames.append(pd.DataFrame({name: 1.0 - dm.frame[others].sum(axis=1)}, index=df.index))
        source[name] = col
    x_df = pd.concat(frames, axis=1)
    order = _term_order(covariates, x_df.columns, cat)
    return x_df[order], {c: source.get(c, c) for c in order}


def _weights(df: pd.DataFrame, weights: pd.Series | np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(df))
    w = np.asarray(
        weights.reindex(df.index) if isinstance(weights, pd.Series) else weights, dtype=float
    )
    if np.isnan(w).any() or (w < 0).any():
        raise ValueError("weights must be non-negative and not missing")
    return w


def _ks(
    xt: np.ndarray, wt: np.ndarray, xc: np.ndarray, wc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted two-sample Kolmogorov-Smirnov statistic of each column, and where it is.

    ``max_v |F_t(v) - F_c(v)|`` with ``F`` the weighted empirical distribution functions,
    evaluated at every observed value (after all rows tied at it), as R ``cobalt`` does.
    Also returns the value ``v`` at which the distance is largest (the first such): in an
    unweighted sample the statistic is a difference of two shares of persons at or below it.
    """
    out, at_value = np.empty(xt.shape[1]), np.empty(xt.shape[1])
    at = np.r_[wt / wt.sum(), np.zeros(len(wc))]
    ac = np.r_[np.zeros(len(wt)), wc / wc.sum()]
    for j in range(xt.shape[1]):
        v = np.r_[xt[:, j], xc[:, j]]
        o = np.argsort(v, kind="mergesort")
        v = v[o]
        gap = np.cumsum(at[o]) - np.cumsum(ac[o])
        last = np.r_[v[1:] != v[:-1], True]
        k = int(np.argmax(np.abs(gap[last])))
        out[j], at_value[j] = float(np.abs(gap[last][k])), float(v[last][k])
    return out, at_value


def interaction_balance(
    df: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    weights: pd.Series | np.ndarray | None = None,
    categorical: Sequence[str] | None = None,
    threshold: float = SMD_THRESHOLD,
) -> InteractionBalance:
    """SMDs of the squares and pairwise products of the terms (cobalt's ``int``, ``poly = 2``).

    Squares of the continuous terms and products of terms of different covariates (two
    levels of one categorical are never both 1), as R ``cobalt``'s ``int = TRUE, poly = 2``
    and MatchIt's ``summary(interactions = TRUE)``.

    Computed by matrix products, never by forming the product columns, so that a register
    of half a million persons costs a few cross-products of its terms. Standardised by the
    treated SD of the product in the data as passed (the pooled SD where that is zero);
    products that are zero for everyone are left out. Arguments as :func:`balance_table`.
    """
    d = treatment_indicator(df, treatment) == 1
    x_df, source = expanded_terms(df, covariates, categorical)
    names = list(x_df.columns)
    x = x_df.to_numpy(dtype=float)
    w = _weights(df, weights)
    binary = np.isin(x, (0.0, 1.0)).all(axis=0)

    def moments(rows: np.ndarray, wr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xr = x[rows]
        m1 = (xr * wr[:, None]).T @ xr / wr.sum()  # weighted mean of x_j x_k
        sq = xr**2
        m2 = (sq * wr[:, None]).T @ sq / wr.sum()  # weighted mean of (x_j x_k)^2
        return m1, m2

    pt, pc = d & (w > 0), ~d & (w > 0)
    mt, _ = moments(pt, w[pt])
    mc, m2c = moments(pc, w[pc])
    ut, u2t = moments(d, np.ones(int(d.sum())))  # the treated SD: unweighted, all treated
    nt = int(d.sum())
    var_t = (u2t - ut**2) * nt / max(nt - 1, 1)
    wc = w[pc]
    var_c = (m2c - mc**2) * wc.sum() ** 2 / (wc.sum() ** 2 - (wc**2).sum())  # as _wvar
    # variances from raw moments lose about 1e-16 of the mean square to cancellation: a
    # product constant among the treated (all 0.3) must come out 0, not 1e-17
    var_t = np.where(var_t <= 1e-12 * np.maximum(1.0, u2t), 0.0, var_t)
    var_c = np.maximum(var_c, 0.0)
    rows = []
    for j in range(len(names)):
        for k in range(j, len(names)):
            if (j == k and binary[j]) or (j != k and source[names[j]] == source[names[k]]):
                continue
            if mt[j, k] == 0 and mc[j, k] == 0 and ut[j, k] == 0:
                continue
            sd = (
                np.sqrt(var_t[j, k])
                if var_t[j, k] > 0
                else np.sqrt((var_t[j, k] + var_c[j, k]) / 2)
            )
            term = f"{names[j]}^2" if j == k else f"{names[j]}*{names[k]}"
            smd = (mt[j, k] - mc[j, k]) / sd if sd > 0 else 0.0
            rows.append((term, names[j], names[k], bool(binary[j] and binary[k]), float(smd)))
    table = pd.DataFrame(rows, columns=["term", "term_a", "term_b", "binary", "smd"]).set_index(
        "term"
    )
    table["flag"] = table["smd"].abs() > threshold
    return InteractionBalance(table=table, threshold=threshold)


def _term_order(covariates: Sequence[str], columns: pd.Index, cat: set[str]) -> list[str]:
    """Terms in the order the covariates were given; levels of a categorical sorted."""
    out: list[str] = []
    for c in covariates:
        if c in cat:
            out += sorted(k for k in columns if k.startswith(f"{c}="))
        elif c in columns:
            out.append(c)
    return out
