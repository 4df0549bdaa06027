"""Which baseline factors go with a larger effect: interactions in the regression estimator.

The participants' survey is answered by the mentored only, so a factor score cannot enter a
propensity or outcome model for the comparison group. Effect heterogeneity by a score ``s``
(known for the mentored) is estimated in the regression estimator with treatment
interactions (Imbens and Wooldridge 2009, Section 5.3; Wooldridge 2010, Section 21.3)::

    y_i = a + X_i b + d_i (t_0 + t_1 s_1i + ... + t_m s_mi) + e_i

where ``s`` is standardised among the mentored used, so ``t_0`` is the ATT at the mean
scores and ``t_j`` the change in the ATT per standard deviation of factor ``j``, holding the
other factors fixed. Standard errors are clustered by mentor when mentor identifiers are
known: mentees of one mentor share the mentor, so their outcomes are not independent. With
about seventeen mentors the usual cluster-robust variance (CR1, Liang and Zeger 1986) is
biased downward and normal critical values make it worse (Cameron and Miller 2015,
Section VI), so :func:`cluster_robust_cr2` is used: the bias-reduced linearisation CR2 of
Bell and McCaffrey (2002) with Student-t critical values whose degrees of freedom are the
Bell-McCaffrey (Satterthwaite) ones, capped at ``G - 1`` for ``G`` mentors (Imbens and
Kolesár 2016; Pustejovsky and Tipton 2018). Without mentor identifiers the standard errors
are HC3 (Long and Ervin 2000) and the result says so. The p-values of the ``t_j`` are
corrected across factors (Holm 1979 by default).

**Who is a cluster.** A mentored person's cluster is their mentor. A comparison person had
no mentor: each is a cluster of their own. They were drawn from a register one by one, and
in the regression estimator they enter only through the outcome model, not through matched
sets (which in the matching estimator would tie a comparison person to several mentored
persons of different mentors, so that matched sets could not be nested in mentors anyway).
The interactions are identified from the mentored alone, so their information comes from
the ``G`` mentors: the degrees of freedom never exceed ``G - 1`` whatever the number of
comparison persons. Caveat, stated in the report: ``t_j`` mixes effect heterogeneity with
the factor's own association with employment (the comparison group has no scores), and the
factor may stand for something else that goes with it.

:func:`modified_att` is the general tool that :mod:`evaluation.bottomup.dose` uses too.

References
----------
Bell, R. M. and McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust
inference. *Journal of Human Resources* 50(2), 317-372.
Imbens, G. W. and Kolesár, M. (2016). Robust standard errors in small samples: some
practical advice. *Review of Economics and Statistics* 98(4), 701-712 (and the
implementation notes of their R package ``dfadjust``).
Pustejovsky, J. E. and Tipton, E. (2018). Small-sample methods for cluster-robust variance
estimation and hypothesis testing in fixed effects models. *Journal of Business & Economic
Statistics* 36(4), 672-683.
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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import OLS  # not statsmodels.api: 0.4 s less per import
from statsmodels.stats.multitest import multipletests

from evaluation.design.propensity import design_matrix
from evaluation.estimate.att import ra_att
from evaluation.estimate.results import EffectResult

TREATMENT = "treated"

#: Fewest mentors for an analysis clustered by mentor (the moderation by survey factors and
#: every dose and mentor analysis). CR2 with Bell-McCaffrey degrees of freedom is the
#: small-cluster method that holds its level best in the simulations of Imbens and Kolesár
#: (2016) and Pustejovsky and Tipton (2018), but with very few clusters no cluster-robust
#: method is reliable (Cameron and Miller 2015, Section VI: "few" starts below 20-50), and a
#: mentor's own traits (same field, migrant background) vary only between mentors, so with a
#: handful of mentors they cannot be told apart from the mentors themselves. With two mentors
#: the synthetic study's same-field "effect" came out at p = 1.6e-7 under CR1 although it
#: has none. Ten mentors leave at least nine degrees of freedom for a term shared by all
#: mentored persons; a term carried by a few mentors gets fewer, and says so in ``df``.
MIN_MENTORS = 10


class TooFewMentors(ValueError):
    """Fewer mentors than :data:`MIN_MENTORS` for an analysis clustered by mentor."""


@dataclass(frozen=True)
class ModifiedATT:
    """The treatment terms of a regression with treatment interactions.

    Attributes
    ----------
    terms
        One row per treatment term: ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``p_value`` and ``df`` (degrees of freedom of the t critical value; infinite for
        HC3, whose interval is normal).
    n_treated, n_control
        Persons used.
    se_method
        How the SEs were obtained (CR2 by mentor, or HC3), in words.
    level
        Confidence level.
    n_clusters
        Mentors (clusters holding a mentored person); ``None`` without clustering.
    """

    terms: pd.DataFrame
    n_treated: int
    n_control: int
    se_method: str
    level: float
    n_clusters: int | None = None


@dataclass(frozen=True)
class ClusterRobust:
    """An OLS fit with the CR2 cluster-robust covariance and Bell-McCaffrey degrees of freedom.

    Attributes
    ----------
    params
        OLS coefficients.
    cov
        CR2 covariance of the coefficients.
    df_bm
        Bell-McCaffrey degrees of freedom of each coefficient asked for (homoskedastic
        working model; NaN for the others).
    n_clusters
        Number of clusters.
    """

    params: np.ndarray
    cov: np.ndarray
    df_bm: np.ndarray
    n_clusters: int


def _inverse_sqrt(m: np.ndarray) -> np.ndarray:
    """Symmetric ``m^{-1/2}``, pseudo-inverse on eigenvalues at zero (as ``dfadjust``)."""
    val, vec = np.linalg.eigh(m)
    keep = val > 1e-12
    inv = np.zeros_like(val)
    inv[keep] = 1.0 / np.sqrt(val[keep])
    return (vec * inv) @ vec.T


def cluster_robust_cr2(
    y: np.ndarray, x: np.ndarray, cluster: np.ndarray, *, coefs: np.ndarray | None = None
) -> ClusterRobust:
    """OLS with the CR2 (bias-reduced linearisation) covariance and Bell-McCaffrey dof.

    ``V = K sum_s X_s' A_s u_s u_s' A_s X_s K`` with ``K = (X'X)^{-1}``, residuals ``u`` and
    ``A_s = (I - X_s K X_s')^{-1/2}`` (symmetric; pseudo-inverse where singular), so that
    ``V`` is unbiased when the errors are independent and homoskedastic (Bell and McCaffrey
    2002). For a coefficient ``l'b`` the degrees of freedom are
    ``tr(G'G)^2 / tr((G'G)^2)`` with ``G'G = diag(a_s'a_s) - (v_s' K v_t)_st``,
    ``a_s = A_s X_s K l`` and ``v_s = X_s' a_s`` (Bell and McCaffrey 2002; Imbens and Kolesár
    2016; the ``p x p`` form of the ``dfadjust`` notes), so no ``n x n`` or ``S x S`` matrix
    is formed: a cluster of one (a comparison person) costs a few vector operations.

    Parameters
    ----------
    y
        Outcome (1-D).
    x
        Design matrix with the constant (2-D, full column rank).
    cluster
        Cluster labels (any hashable values), one per row.
    coefs
        Positions of the coefficients whose degrees of freedom are wanted (``None``: all;
        the others get NaN).

    Returns
    -------
    ClusterRobust
    """
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    n, p = x.shape
    k = np.linalg.inv(x.T @ x)
    beta = k @ (x.T @ y)
    u = y - x @ beta
    codes = pd.factorize(pd.Series(cluster).astype(str))[0]
    sizes = np.bincount(codes)
    single = sizes[codes] == 1
    # clusters of one: A = (1 - h)^{-1/2}
    xs = x[single]
    h = np.einsum("ij,jk,ik->i", xs, k, xs)
    a_single = 1.0 / np.sqrt(np.clip(1.0 - h, 1e-12, None))
    meat_rows = xs * (a_single * u[single])[:, None]
    meat = meat_rows.T @ meat_rows
    coefs = np.arange(p) if coefs is None else np.asarray(coefs)
    b = k[:, coefs]  # column c: K l for the c-th coefficient asked for
    nc = len(coefs)
    # sums over clusters of d_s = a_s'a_s, d_s^2, d_s v_s'K v_s, and V V' = sum v_s v_s'
    d1 = (a_single[:, None] * (xs @ b)) ** 2  # clusters of one: a_s scalar, v_s = x_s a_s
    d_sum, d2_sum = d1.sum(axis=0), (d1**2).sum(axis=0)
    dvkv = (d1 * d1 * h[:, None]).sum(axis=0)
    gram = np.stack([xs.T @ (xs * d1[:, c, None]) for c in range(nc)])
    for g in np.flatnonzero(sizes > 1):
        rows = np.flatnonzero(codes == g)
        xg = x[rows]
        ag = _inverse_sqrt(np.eye(len(rows)) - xg @ k @ xg.T)
        z = xg.T @ (ag @ u[rows])
        meat += np.outer(z, z)
        a = ag @ (xg @ b)  # (n_g, coefficients)
        dg = (a**2).sum(axis=0)
        v = xg.T @ a  # (p, coefficients)
        d_sum, d2_sum = d_sum + dg, d2_sum + dg**2
        dvkv = dvkv + dg * np.einsum("pc,pq,qc->c", v, k, v)
        gram = gram + np.einsum("pc,qc->cpq", v, v)
    cov = k @ meat @ k
    kg = k[None, :, :] @ gram  # K V V', one per coefficient
    trace = d_sum - np.trace(kg, axis1=1, axis2=2)
    trace_sq = d2_sum - 2 * dvkv + np.einsum("cpq,cqp->c", kg, kg)
    df = np.full(p, np.nan)
    df[coefs] = trace**2 / trace_sq
    return ClusterRobust(params=beta, cov=cov, df_bm=df,
                         n_clusters=int(len(sizes)))  # fmt: skip


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
    k = m.shape[1]
    if cluster is None:
        fit = OLS(y, design).fit(cov_type="HC3")
        est, se = np.asarray(fit.params)[-k:], np.asarray(fit.bse)[-k:]
        df = np.full(k, np.inf)
        method, n_clusters = "HC3 (not clustered: no mentor identifiers)", None
    else:
        labels = pd.Series(cluster).astype(str).to_numpy()
        n_clusters = int(pd.unique(labels[d == 1]).size)  # clusters with a mentored person
        cr2 = cluster_robust_cr2(
            y, design, labels, coefs=np.arange(design.shape[1] - k, design.shape[1])
        )
        est = cr2.params[-k:]
        se = np.sqrt(np.diag(cr2.cov))[-k:]
        df = np.minimum(cr2.df_bm[-k:], max(n_clusters - 1, 1))
        # the number of mentors is kept in n_clusters (a count, disclosure-controlled where
        # it is published), not in this text
        method = ("CR2 clustered by mentor (each comparison person its own cluster), t with "
                  "Bell-McCaffrey degrees of freedom, at most mentors - 1")  # fmt: skip
    q = stats.t.ppf(0.5 + level / 2, df)
    terms = pd.DataFrame(
        {"estimate": est, "se": se, "ci_low": est - q * se, "ci_high": est + q * se,
         "p_value": 2 * stats.t.sf(np.abs(est / se), df), "df": df},
        index=pd.Index(list(names), name="term"),
    )  # fmt: skip
    return ModifiedATT(terms, int((d == 1).sum()), int((d == 0).sum()), method, level,
                       n_clusters)  # fmt: skip


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
    n_treated, n_control, se_method, level, n_clusters
        As in :class:`ModifiedATT`.
    persons
        The ids of the mentored and the comparison persons used (those ``n_treated`` and
        ``n_control`` count), when the frame has ``person_id``; ``None`` otherwise. For the
        disclosure audit: person-level, never published.
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
    n_clusters: int | None = None
    persons: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False,
                                                          compare=False)  # fmt: skip

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
    cluster: str | None = None,
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
    cluster
        Column with each mentored person's mentor: CR2 clustered by mentor (comparison
        persons one cluster each; a mentored person without a mentor too). ``None``: HC3,
        for data without mentor identifiers (the result says so).
    level
        Confidence level.

    Returns
    -------
    Moderation

    Raises
    ------
    TooFewMentors
        With ``cluster`` and fewer than :data:`MIN_MENTORS` mentors among the mentored used.
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
    labels = None
    if cluster is not None:
        mentor = data[cluster].astype("string")
        own = "person:" + data["person_id"].astype(str) if "person_id" in data else None
        if own is None:
            own = pd.Series([f"row:{i}" for i in range(len(data))], index=data.index)
        labels = np.where(d & mentor.notna().to_numpy(), "mentor:" + mentor.fillna(""), own)
        n_mentors = int(mentor[d].dropna().nunique())
        if n_mentors < MIN_MENTORS:
            raise TooFewMentors(
                f"the mentored with baseline scores had {n_mentors} mentors; an analysis "
                f"clustered by mentor needs at least {MIN_MENTORS}"
            )
    fit = modified_att(y, d, x, m, names=["att_at_mean", *factors], cluster=labels, level=level)
    table = fit.terms.loc[list(factors)].copy()
    table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(), correction)
    table["flagged"] = table["p_adjusted"] < 1 - level
    ids = data["person_id"].astype(str).to_numpy() if "person_id" in data else None
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
                persons=None if ids is None else (ids[keep & d], ids[keep & ~d]),
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
        n_clusters=fit.n_clusters,
        persons=None if ids is None else (ids[d], ids[~d]),
    )
