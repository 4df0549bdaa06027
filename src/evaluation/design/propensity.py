"""Propensity score: the design matrix, the logit fit and the common-support rule for the ATT.

Numbers happen in functions that take frames and return small frozen dataclasses
(pyfixest style). The caller's data are never modified.

References
----------
Rosenbaum, P. R. and Rubin, D. B. (1983). The central role of the propensity score in
observational studies for causal effects. *Biometrika* 70(1), 41-55.
Crump, R. K., Hotz, V. J., Imbens, G. W. and Mitnik, O. A. (2009). Dealing with limited
overlap in estimation of average treatment effects. *Biometrika* 96(1), 187-199.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit
from statsmodels.discrete.discrete_model import Logit  # not statsmodels.api: 0.4 s less per import

from evaluation.errors import EvaluationError

#: A term is dropped as collinear when the share of its variance not explained by the
#: earlier terms is below this (exact dependencies give ~1e-15; r = 0.999999 gives 2e-6).
COLLINEAR_RTOL = 1e-9

#: Fitted probabilities closer than this to 0 or 1 for *every* unit of a group signal separation.
SEPARATION_EPS = 1e-10


class DesignError(EvaluationError, ValueError):
    """A covariate cannot enter the design (missing values, unknown column, bad treatment)."""


class PerfectSeparationError(DesignError):
    """The logit has no finite maximum: some covariate pattern predicts treatment exactly."""


@dataclass(frozen=True, eq=False)
class DesignMatrix:
    """Numeric covariate matrix built from a frame (no constant column).

    Attributes
    ----------
    frame
        One column per term, aligned to the input index, float64.
    reference_levels
        For each categorical covariate, the level left out (the reference).
    dropped
        ``(column, reason)`` pairs for terms removed (zero variance, collinear).
    binary
        Names of the 0/1 columns (dummies and numeric 0/1 covariates).
    source
        For each column, the covariate it came from.
    """

    frame: pd.DataFrame
    reference_levels: dict[str, str]
    dropped: tuple[tuple[str, str], ...]
    binary: tuple[str, ...]
    source: dict[str, str]

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the terms."""
        return tuple(self.frame.columns)


def is_categorical(s: pd.Series) -> bool:
    """Whether a column enters the design as dummies (text, object or category dtype)."""
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(s.dtype)
        or pd.api.types.is_object_dtype(s.dtype)
    )


_is_categorical = is_categorical  # kept: imported under this name by evaluation.design.study


def _levels(s: pd.Series) -> list:
    """Levels in a stable order: a Categorical's own order, else sorted by their text."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        return [c for c in s.dtype.categories if c in present]
    values = list(s.dropna().unique())
    if all(isinstance(v, (int, float, np.number)) for v in values):
        return sorted(values)
    return sorted(values, key=str)


def design_matrix(
    df: pd.DataFrame,
    covariates: Sequence[str],
    *,
    categorical: Sequence[str] | None = None,
    drop_collinear: bool = True,
) -> DesignMatrix:
    """Build the numeric design matrix for a list of covariates.

    Numeric and boolean columns enter as they are. Text and category columns, and any
    column named in ``categorical`` (for example a start quarter coded as an integer), enter
    as dummies; the reference level is the first level in a stable order (the category
    order of a pandas Categorical, otherwise the levels sorted as text). Zero-variance
    terms are dropped, and so are terms that are (numerically) exact linear combinations of
    the constant and the terms kept before them, in the order given, each with its reason in
    ``dropped``.

    Parameters
    ----------
    df
        The data; not modified.
    covariates
        Column names.
    categorical
        Columns to treat as categorical even when numeric.
    drop_collinear
        Drop collinear terms (default) instead of keeping them.

    Returns
    -------
    DesignMatrix

    Raises
    ------
    DesignError
        If a column is missing or has missing values.
    """
    categorical = set(categorical or ())
    missing = [c for c in covariates if c not in df.columns]
    if missing:
        raise DesignError(f"covariates not in the data: {missing}")
    names: list[str] = []
    arrays: list[np.ndarray] = []
    refs: dict[str, str] = {}
    source: dict[str, str] = {}
    dropped: list[tuple[str, str]] = []
    for col in covariates:
        s = df[col]
        if s.isna().any():
            raise DesignError(
                f"covariate {col!r} has {int(s.isna().sum())} missing values; impute or "
                "drop those rows (or add a missing-indicator category) before estimating"
            )
        if col in categorical or is_categorical(s):
            levels = _levels(s)
            refs[col] = str(levels[0])
            codes, uniques = pd.factorize(s)
            code_of = {v: i for i, v in enumerate(uniques)}
            for lev in levels[1:]:
                name = f"{col}={lev}"
                names.append(name)
                arrays.append((codes == code_of[lev]).astype(float))
                source[name] = col
        else:
            names.append(col)
            arrays.append(s.to_numpy(dtype=float))
            source[col] = col
    # one array, one frame at the end (a frame per term and a concat cost more than the
    # arithmetic; the permutation test builds this matrix once per draw)
    values = np.column_stack(arrays) if arrays else np.empty((len(df), 0))
    varies = [bool(np.ptp(values[:, j]) > 0) if len(values) else False for j in range(len(names))]
    dropped += [(c, "zero variance") for c, v in zip(names, varies, strict=True) if not v]
    frame = (
        pd.DataFrame(
            values[:, np.flatnonzero(varies)],
            index=df.index,
            columns=pd.Index(
                [c for c, v in zip(names, varies, strict=True) if v], dtype=pd.Index(names).dtype
            ),
        )
        if names
        else pd.DataFrame(index=df.index)
    )
    if drop_collinear and frame.shape[1] > 0:
        x = frame.to_numpy()
        z = np.column_stack([np.ones(len(x)), (x - x.mean(axis=0)) / x.std(axis=0)])
        g = z.T @ z / len(z)  # Gram matrix: the dependencies of z, at O(n k^2) once
        kept = [0]
        for j in range(1, g.shape[0]):
            b = g[kept, j]
            resid = g[j, j] - b @ np.linalg.solve(g[np.ix_(kept, kept)], b)
            if resid > COLLINEAR_RTOL * g[j, j]:
                kept.append(j)
        bad = [j - 1 for j in range(1, g.shape[0]) if j not in kept]
        if bad:
            names = [frame.columns[b] for b in bad]
            dropped += [(n, "collinear") for n in names]
            frame = frame.drop(columns=names)
    binary = tuple(c for c in frame.columns if np.isin(frame[c].to_numpy(), (0.0, 1.0)).all())
    return DesignMatrix(
        frame=frame,
        reference_levels=refs,
        dropped=tuple(dropped),
        binary=binary,
        source={c: source[c] for c in frame.columns},
    )


def treatment_indicator(df: pd.DataFrame, treatment: str) -> np.ndarray:
    """Return the treatment column as a 0/1 float array, checking that it is binary.

    Raises
    ------
    DesignError
        If the column is missing, has missing values, is not 0/1 or lacks a group.
    """
    if treatment not in df.columns:
        raise DesignError(f"treatment column {treatment!r} not in the data")
    d = df[treatment]
    if d.isna().any():
        raise DesignError(f"treatment column {treatment!r} has missing values")
    arr = d.to_numpy(dtype=float)
    if not np.isin(arr, (0.0, 1.0)).all():
        raise DesignError(f"treatment column {treatment!r} must be 0/1 (or boolean)")
    if arr.min() == arr.max():
        raise DesignError(f"treatment column {treatment!r} has only one group")
    return arr


@dataclass(frozen=True, eq=False)
class PropensityFit:
    """A fitted logit propensity score.

    Attributes
    ----------
    pscore, linear_predictor
        Fitted probability and logit ``x'b``, aligned to the input index.
    treatment, covariates, categorical
        The specification.
    design
        The design matrix actually used, with the constant as first column ``const``.
    params, bse
        Coefficients and their (model-based) standard errors.
    llf, llnull, pseudo_r2, aic, bic
        Log likelihood, null log likelihood, McFadden's pseudo R2, AIC, BIC.
    n_obs, n_treated, iterations, converged
        Sample sizes and optimiser diagnostics.
    dropped, reference_levels
        Terms removed from the design and the reference level of each categorical.
    """

    pscore: pd.Series
    linear_predictor: pd.Series
    treatment: str
    covariates: tuple[str, ...]
    categorical: tuple[str, ...]
    design: pd.DataFrame
    params: pd.Series
    bse: pd.Series
    llf: float
    llnull: float
    pseudo_r2: float
    aic: float
    bic: float
    n_obs: int
    n_treated: int
    iterations: int
    converged: bool
    dropped: tuple[tuple[str, str], ...] = ()
    reference_levels: dict[str, str] = field(default_factory=dict)

    def summary_dict(self) -> dict:
        """Fit summary numbers as a JSON-ready dict (no dates, unlike statsmodels' summary)."""
        return {
            "n_obs": self.n_obs,
            "n_treated": self.n_treated,
            "n_params": int(len(self.params)),
            "llf": self.llf,
            "llnull": self.llnull,
            "pseudo_r2": self.pseudo_r2,
            "aic": self.aic,
            "bic": self.bic,
            "converged": self.converged,
            "dropped": [list(x) for x in self.dropped],
        }


def _separation_culprits(x: pd.DataFrame, binary: Sequence[str], d: np.ndarray) -> list[str]:
    """Binary terms with a value that occurs in one treatment group only."""
    out = []
    for c in binary:
        v = x[c].to_numpy()
        for val in (1.0, 0.0):
            grp = d[v == val]
            if len(grp) and grp.min() == grp.max():
                who = "treated" if grp[0] == 1 else "controls"
                term = c if val == 1.0 else f"{c} = 0"
                out.append(f"{term} occurs only among {who} ({len(grp)} rows)")
                break
    return out


def fit_propensity(
    df: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    categorical: Sequence[str] | None = None,
    maxiter: int = 200,
) -> PropensityFit:
    """Fit a logit propensity score ``P(D = 1 | X)`` by maximum likelihood (statsmodels).

    The covariates are standardised internally before the Newton iterations (this changes
    neither the fitted values nor the likelihood, only the numerical conditioning, which
    matters for terms such as squared earnings); coefficients are reported on the original
    scale.

    Parameters
    ----------
    df
        The analysis sample; not modified.
    treatment
        0/1 treatment column.
    covariates
        Covariates (see :func:`design_matrix` for categories, dropped and collinear terms).
    categorical
        Columns to expand to dummies even when numeric.
    maxiter
        Maximum Newton iterations.

    Returns
    -------
    PropensityFit

    Raises
    ------
    PerfectSeparationError
        When a dummy occurs only among treated or only among controls (quasi-complete
        separation: the MLE does not exist), when the linear predictor separates the groups
        completely, or when the optimiser does not converge. The message names the terms;
        merge sparse categories or drop the covariate.
    """
    d = treatment_indicator(df, treatment)
    dm = design_matrix(df, covariates, categorical=categorical)
    culprits = _separation_culprits(dm.frame, dm.binary, d)
    if culprits:
        raise PerfectSeparationError(
            "perfect (quasi-complete) separation in the propensity score model: "
            + "; ".join(culprits)
            + ". Merge sparse categories or drop these covariates."
        )
    x = dm.frame.to_numpy()
    mean, sd = x.mean(axis=0), x.std(axis=0)
    xs = np.column_stack([np.ones(len(d)), (x - mean) / sd])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = Logit(d, xs).fit(method="newton", maxiter=maxiter, disp=False)
        except np.linalg.LinAlgError as exc:  # e.g. a term constant within a subgroup
            raise PerfectSeparationError(
                "the propensity score logit has a singular information matrix (a term constant "
                "or collinear in this sample, or separation); inspect the covariates' overlap "
                "between groups"
            ) from exc
    converged = bool(res.mle_retvals.get("converged", False))
    lp_s = xs @ res.params
    if not converged or not np.all(np.isfinite(res.params)):
        raise PerfectSeparationError(
            "the propensity score logit did not converge (likely perfect separation or a "
            "near-collinear design); inspect the covariates' overlap between groups"
        )
    if lp_s[d == 1].min() > lp_s[d == 0].max() or lp_s[d == 1].max() < lp_s[d == 0].min():
        raise PerfectSeparationError(
            "complete separation: the covariates predict treatment exactly (no overlap)"
        )
    p = expit(lp_s)
    if p[d == 1].min() > 1 - SEPARATION_EPS or p[d == 0].max() < SEPARATION_EPS:
        raise PerfectSeparationError("fitted propensity scores of a whole group are 0 or 1")
    # back to the original scale: beta = T beta_s, cov = T cov_s T'
    k = x.shape[1]
    t = np.eye(k + 1)
    t[0, 1:] = -mean / sd
    t[1:, 1:] = np.diag(1.0 / sd)
    beta = t @ res.params
    cov = t @ res.cov_params() @ t.T
    names = ["const", *dm.columns]
    # the intercept-only logit's log-likelihood in closed form (statsmodels' llnull refits
    # the null model numerically: the same value to its tolerance, at a cost per draw of the
    # permutation test)
    n1, n0 = float(d.sum()), float(len(d) - d.sum())
    llnull = float(n1 * np.log(n1 / len(d)) + n0 * np.log(n0 / len(d)))
    design = pd.concat([pd.DataFrame({"const": np.ones(len(d))}, index=df.index), dm.frame], axis=1)
    return PropensityFit(
        pscore=pd.Series(p, index=df.index, name="pscore"),
        linear_predictor=pd.Series(lp_s, index=df.index, name="logit_pscore"),
        treatment=treatment,
        covariates=tuple(covariates),
        categorical=tuple(categorical or ()),
        design=design,
        params=pd.Series(beta, index=names),
        bse=pd.Series(np.sqrt(np.diag(cov)), index=names),
        llf=float(res.llf),
        llnull=llnull,
        pseudo_r2=float(1 - res.llf / llnull),
        aic=float(res.aic),
        bic=float(res.bic),
        n_obs=len(d),
        n_treated=int(d.sum()),
        iterations=int(res.mle_retvals.get("iterations", -1)),
        converged=converged,
        dropped=dm.dropped,
        reference_levels=dm.reference_levels,
    )


@dataclass(frozen=True, eq=False)
class CommonSupport:
    """Which rows a trimming rule keeps.

    Attributes
    ----------
    keep
        Boolean Series aligned to the input index.
    rule
        ``"minmax"``, ``"crump"`` or ``"none"``.
    low, high
        The propensity-score bounds applied (see :func:`trim_common_support`).
    n_trimmed_treated, n_trimmed_control
        Rows dropped per group.
    """

    keep: pd.Series
    rule: str
    low: float
    high: float
    n_trimmed_treated: int
    n_trimmed_control: int


def trim_common_support(
    pscore: pd.Series,
    d: pd.Series | np.ndarray,
    *,
    rule: Literal["minmax", "crump", "none"] = "minmax",
    bounds: tuple[float, float] = (0.1, 0.9),
) -> CommonSupport:
    """Apply a documented common-support (trimming) rule for the ATT.

    ``"minmax"`` (default, Dehejia and Wahba 1999): drop controls whose propensity score is
    below the minimum treated score and treated whose score is above the maximum control
    score; bounds are inclusive. Dropping treated units changes the estimand to the ATT on
    the treated inside the support, which is why their number is reported.
    ``"crump"``: keep units with ``bounds[0] <= e(x) <= bounds[1]`` (Crump et al. 2009's
    rule of thumb 0.1/0.9; derived for the ATE, so it can drop many treated when the pool is
    large and treatment rare). ``"none"``: keep everything.

    Parameters
    ----------
    pscore
        Propensity scores, indexed like the data.
    d
        Treatment indicator aligned with ``pscore``.
    rule
        The rule, see above.
    bounds
        Lower and upper bound for ``"crump"``.

    Returns
    -------
    CommonSupport
    """
    e = np.asarray(pscore, dtype=float)
    t = np.asarray(d, dtype=float) == 1
    if rule == "minmax":
        low, high = float(e[t].min()), float(e[~t].max())
        keep = np.where(t, e <= high, e >= low)
    elif rule == "crump":
        low, high = float(bounds[0]), float(bounds[1])
        keep = (e >= low) & (e <= high)
    elif rule == "none":
        low, high = 0.0, 1.0
        keep = np.ones(len(e), dtype=bool)
    else:
        raise ValueError(f"unknown trimming rule {rule!r}")
    return CommonSupport(
        keep=pd.Series(keep, index=getattr(pscore, "index", None), name="keep"),
        rule=rule,
        low=low,
        high=high,
        n_trimmed_treated=int((t & ~keep).sum()),
        n_trimmed_control=int((~t & ~keep).sum()),
    )
