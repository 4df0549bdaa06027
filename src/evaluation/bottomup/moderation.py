"""Which baseline factors go with a larger effect: interactions in the regression estimator.

The participants' survey is answered by the mentored only, so a factor score cannot enter a
propensity or outcome model for the comparison group. Effect heterogeneity by a score ``s``
(known for the mentored) is estimated in the regression estimator with treatment
interactions (Imbens and Wooldridge 2009, Section 5.3; Wooldridge 2010, Section 21.3)::

    y_i = a + X_i b + d_i (t_0 + t_1 s_1i + ... + t_m s_mi) + e_i

where ``s`` is standardised among the mentored used, so ``t_0`` is the ATT at the mean
scores and ``t_j`` the change in the ATT per standard deviation of factor ``j``, holding the
other factors fixed. Standard errors are HC3 (Long and Ervin 2000) or clustered (Liang and
Zeger 1986), for example by mentor. The p-values of the ``t_j`` are corrected across factors
(Holm 1979 by default). Caveat, stated in the report: ``t_j`` mixes effect heterogeneity with
the factor's own association with employment (the comparison group has no scores), and the
factor may stand for something else that goes with it.

:func:`modified_att` is the general tool that :mod:`evaluation.bottomup.dose` uses too.

References
----------
Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
Journal of Statistics* 6(2), 65-70.
Imbens, G. W. and Wooldridge, J. M. (2009). Recent developments in the econometrics of
program evaluation. *Journal of Economic Literature* 47(1), 5-86.
Liang, K.-Y. and Zeger, S. L. (1986). Longitudinal data analysis using generalized linear
models. *Biometrika* 73(1), 13-22.
Long, J. S. and Ervin, L. H. (2000). Using heteroscedasticity consistent standard errors in
the linear regression model. *The American Statistician* 54(3), 217-224.
Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and Panel Data*, 2nd ed.
MIT Press.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evaluation.design.propensity import design_matrix
from evaluation.estimate.att import ra_att
from evaluation.estimate.results import EffectResult

TREATMENT = "treated"


@dataclass(frozen=True)
class ModifiedATT:
    """The treatment terms of a regression with treatment interactions.

    Attributes
    ----------
    terms
        One row per treatment term: ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``p_value``.
    n_treated, n_control
        Persons used.
    se_method
        ``"HC3"`` or ``"cluster-robust (CR1)"``.
    level
        Confidence level.
    """

    terms: pd.DataFrame
    n_treated: int
    n_control: int
    se_method: str
    level: float


def modified_att(
    y: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    m: np.ndarray,
    *,
    names: Sequence[str],
    cluster: np.ndarray | None = None,
    level: float = 0.95,
) -> ModifiedATT:
    """OLS of ``y`` on ``[1, X, d * M]``: the treatment terms and their inference.

    Parameters
    ----------
    y, d
        Outcome and 0/1 treatment (1-D).
    x
        Covariates (2-D, no constant).
    m
        Treatment-interaction terms (2-D, one column per name); rows of controls are ignored
        (multiplied by ``d = 0``). Include a column of ones for a common ATT.
    names
        Names of the columns of ``m``.
    cluster
        Cluster labels (for example the mentor; give each control its own label); ``None``
        for HC3.
    level
        Confidence level.

    Returns
    -------
    ModifiedATT
    """
    y = np.asarray(y, float)
    d = np.asarray(d, float)
    m = np.nan_to_num(np.asarray(m, float).reshape(len(y), -1))
    design = np.column_stack([np.ones(len(y)), np.asarray(x, float).reshape(len(y), -1),
                              d[:, None] * m])  # fmt: skip
    model = sm.OLS(y, design)
    if cluster is None:
        fit, method = model.fit(cov_type="HC3"), "HC3"
    else:
        groups = pd.factorize(pd.Series(cluster).astype(str))[0]
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        method = "cluster-robust (CR1)"
    k = m.shape[1]
    est = np.asarray(fit.params)[-k:]
    se = np.asarray(fit.bse)[-k:]
    q = stats.norm.ppf(0.5 + level / 2)
    terms = pd.DataFrame(
        {"estimate": est, "se": se, "ci_low": est - q * se, "ci_high": est + q * se,
         "p_value": 2 * stats.norm.sf(np.abs(est / se))},
        index=pd.Index(list(names), name="term"),
    )  # fmt: skip
    return ModifiedATT(terms, int((d == 1).sum()), int((d == 0).sum()), method, level)


def adjust_pvalues(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """Multiplicity-corrected p-values (statsmodels ``multipletests``; ``"none"`` keeps them)."""
    p = np.asarray(p, float)
    if method == "none" or len(p) == 0:
        return p.copy()
    return multipletests(p, method=method)[1]


@dataclass(frozen=True)
class Moderation:
    """Effect modification by baseline factor scores.

    Attributes
    ----------
    table
        One row per factor: ``estimate`` (change in the ATT per SD of the score), ``se``,
        ``ci_low``, ``ci_high``, ``p_value``, ``p_adjusted``, ``flagged`` (adjusted p below
        ``1 - level``).
    att_at_mean
        The ATT at the mean scores (``t_0``), with its inference.
    split
        ATT (regression adjustment) of the mentored at or below and above the median score
        of each factor, against all comparison persons.
    outcome, correction
        What was analysed and how the p-values were corrected.
    n_treated, n_control, se_method, level
        As in :class:`ModifiedATT`.
    """

    table: pd.DataFrame
    att_at_mean: pd.Series
    split: list[EffectResult]
    outcome: str
    correction: str
    n_treated: int
    n_control: int
    se_method: str
    level: float

    @property
    def flagged(self) -> list[str]:
        """Factors whose interaction survives the correction."""
        return [str(f) for f in self.table.index[self.table["flagged"]]]


def moderation_by_factors(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    factors: Sequence[str],
    *,
    correction: str = "holm",
    level: float = 0.95,
) -> Moderation:
    """Interactions of mentoring with standardised baseline factor scores, jointly.

    Parameters
    ----------
    frame
        Mentored and comparison persons: ``treated``, the outcome, the covariates and one
        column per factor (scores of the mentored; ignored for comparison persons). Mentored
        persons without every score, and anyone without the outcome, are left out. Not
        modified.
    outcome
        The outcome column.
    covariates
        Covariates of the outcome model (as in the design).
    factors
        Score columns.
    correction
        ``"holm"``, ``"bonferroni"``, ``"fdr_bh"`` or ``"none"``.
    level
        Confidence level.

    Returns
    -------
    Moderation
    """
    treated = frame[TREATMENT] == 1
    ok = frame[outcome].notna() & (~treated | frame[list(factors)].notna().all(axis=1))
    data = frame.loc[ok]
    d = (data[TREATMENT] == 1).to_numpy()
    x = design_matrix(data, list(covariates)).frame.to_numpy()
    s = data[list(factors)].astype(float)
    z = (s - s[d].mean()) / s[d].std(ddof=1)
    m = np.column_stack([np.ones(len(data)), z.to_numpy()])
    y = data[outcome].to_numpy(dtype=float)
    fit = modified_att(y, d, x, m, names=["att_at_mean", *factors], level=level)
    table = fit.terms.loc[list(factors)].copy()
    table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(), correction)
    table["flagged"] = table["p_adjusted"] < 1 - level
    split = []
    for f in factors:
        median = float(s.loc[d, f].median())
        for label, sel in (("at_or_below_median", s[f] <= median), ("above_median", s[f] > median)):
            keep = (~d) | (d & sel.to_numpy())
            r = ra_att(y[keep], d[keep].astype(float), x[keep], outcome=outcome, level=level)
            split.append(EffectResult.from_normal(
                estimate=r.estimate, se=r.se, level=level, outcome=outcome,
                estimator="bottomup_split_ra",
                estimand=f"ATT among the mentored with a baseline {f} score {label.replace('_', ' ')}"
                " (regression adjustment)",
                n_treated=r.n_treated, n_control=r.n_control, se_method=r.se_method,
                subgroup=f"{f}={label}", spec={"median_score": median},
            ))  # fmt: skip
    return Moderation(
        table=table,
        att_at_mean=fit.terms.loc["att_at_mean"],
        split=split,
        outcome=outcome,
        correction=correction,
        n_treated=fit.n_treated,
        n_control=fit.n_control,
        se_method=fit.se_method,
        level=level,
    )
