"""Sensitivity of the regression estimate to an omitted confounder (Cinelli and Hazlett 2020).

The regression estimator is the coefficient on ``d`` in the OLS regression ``y ~ 1 + d + X``.
A confounder ``Z`` left out of ``X`` biases it by an amount fixed, in the sample, by two
partial R² values: how much of the treatment's residual variance ``Z`` explains
(``R²_{D~Z|X}``, ``r2dz_x``) and how much of the outcome's (``R²_{Y~Z|D,X}``, ``r2yz_dx``).
With ``se`` the classical standard error of the coefficient and ``df`` the residual degrees
of freedom, the estimate that adds ``Z`` is (Cinelli and Hazlett 2020, eqs. 11-12; an
identity of least squares, not an approximation)::

    |bias| = se * sqrt(df) * sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))
    se_Z   = se * sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * sqrt(df / (df - 1))

From these follow

* the partial R² of the treatment with the outcome, ``R²_{Y~D|X} = t² / (t² + df)``: a
  confounder that explains all the outcome's residual variance must explain this share of
  the treatment's to explain the estimate away;
* the robustness value ``RV_q``: the strength (equal on both partial R²) a confounder needs to
  reduce the estimate by ``100 q %`` (``q = 1``: to zero); ``RV_{q,alpha}`` the strength that
  makes the reduced estimate no longer significant at ``alpha``;
* bounds from observed covariates (benchmarks): a confounder ``kd`` times as strong as the
  covariate ``X_j`` in explaining the treatment, and ``ky`` times in explaining the outcome
  (both beyond the other covariates), and orthogonal to ``X``; the adjusted estimate, its
  standard error and interval under such a confounder (Cinelli and Hazlett 2020, sec. 6.2).

The classical (homoskedastic) standard error is the one the identities hold for; the study's
regression estimate itself is reported with HC3 (:func:`evaluation.estimate.att.regression_att`).
The reference implementation is R's ``sensemakr`` (and its Python port ``PySensemakr``); the
tests compare with the identities on a regression with the confounder observed, and with
``PySensemakr``'s numbers on the LaLonde data (``bench/reference_sensemakr.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class OmittedSensitivity:
    """The sensitivity statistics of one regression coefficient and its benchmark bounds.

    Attributes
    ----------
    estimate, se, t, df
        The coefficient on the treatment, its classical standard error, t statistic and the
        residual degrees of freedom.
    r2yd_x
        Partial R² of the treatment with the outcome, given the covariates.
    rv_q, rv_qa
        Robustness values: a confounder of this strength (on both partial R²) reduces the
        estimate by ``100 q %`` / makes it insignificant at ``alpha``.
    q, alpha
        As used.
    bounds
        One row per benchmark and multiple: ``benchmark``, ``kd``, ``ky``, ``r2dz_x``,
        ``r2yz_dx``, ``adjusted_estimate``, ``adjusted_se``, ``adjusted_t``, ``adjusted_low``,
        ``adjusted_high``.
    """

    estimate: float
    se: float
    t: float
    df: int
    r2yd_x: float
    rv_q: float
    rv_qa: float
    q: float
    alpha: float
    bounds: pd.DataFrame


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Coefficients, classical standard errors and residual df of ``y`` on ``x``."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    df = x.shape[0] - np.linalg.matrix_rank(x)
    sigma2 = resid @ resid / df
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    return beta, np.sqrt(np.diag(cov)), int(df)


def partial_r2(t: float, df: float) -> float:
    """Partial R² of a regressor from its t statistic: ``t² / (t² + df)``."""
    return float(t * t / (t * t + df))


def robustness_value(t: float, df: int, *, q: float = 1.0, alpha: float | None = None) -> float:
    """``RV_q`` (``alpha`` None) or ``RV_{q,alpha}`` (Cinelli and Hazlett 2020, eqs. 18-19)."""
    f = q * abs(t) / np.sqrt(df)
    if alpha is not None:
        f_crit = abs(stats.t.ppf(alpha / 2, df - 1)) / np.sqrt(df - 1)
        fqa = f - f_crit
        if fqa <= 0:
            return 0.0
        if f > 1 / f_crit:  # an extreme confounder (r2yz_dx = 1) decides, as in sensemakr
            return float((f**2 - f_crit**2) / (1 + f**2))
        return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))
    return float(0.5 * (np.sqrt(f**4 + 4 * f**2) - f**2))


def adjusted(estimate: float, se: float, df: int, r2dz_x: float, r2yz_dx: float, *,
             alpha: float) -> tuple[float, float, float, float, float]:  # fmt: skip
    """The estimate, SE, t and interval with a confounder of the given strength added.

    The bias reduces the estimate's size (towards zero, the usual worry).
    """
    if not (0 <= r2dz_x < 1 and 0 <= r2yz_dx <= 1):
        raise ValueError("partial R² values must lie in [0, 1) for D and [0, 1] for Y")
    bias = se * np.sqrt(df) * np.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))
    est = estimate - np.sign(estimate) * bias
    new_se = se * np.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * np.sqrt(df / (df - 1))
    crit = stats.t.ppf(1 - alpha / 2, df - 1)
    return (float(est), float(new_se), float(est / new_se) if new_se > 0 else np.nan,
            float(est - crit * new_se), float(est + crit * new_se))  # fmt: skip


def omitted_sensitivity(
    y: np.ndarray,
    d: np.ndarray,
    x: pd.DataFrame,
    *,
    benchmarks: Sequence[str] = (),
    multiples: Sequence[float] = (1.0, 2.0, 3.0),
    q: float = 1.0,
    alpha: float = 0.05,
) -> OmittedSensitivity:
    """Cinelli-Hazlett sensitivity of the coefficient on ``d`` in ``y ~ 1 + d + x``.

    Parameters
    ----------
    y, d
        Outcome and treatment (0/1), one value per person.
    x
        The covariates as the regression uses them (one column per regressor, no constant);
        a benchmark is one of its columns.
    benchmarks
        Columns of ``x`` to bound a confounder by.
    multiples
        ``kd = ky``: how many times as strong as the benchmark the confounder is.
    q, alpha
        The share of the estimate to explain away, and the significance level.
    """
    y = np.asarray(y, float)
    d = np.asarray(d, float)
    xm = x.to_numpy(dtype=float)
    missing = [b for b in benchmarks if b not in x.columns]
    if missing:
        raise KeyError(f"benchmark covariates not among the regression's columns: {missing}")
    ones = np.ones((len(y), 1))
    beta, se, df = _ols(y, np.column_stack([ones, d, xm]))
    estimate, se_d = float(beta[1]), float(se[1])
    t = estimate / se_d
    rows = []
    # the treatment model, for each benchmark's partial R² with the treatment
    b_d, se_dm, df_d = _ols(d, np.column_stack([ones, xm]))
    for name in benchmarks:
        j = list(x.columns).index(name)
        # X_j's partial R² with the treatment (treatment model) and with the outcome
        r2dxj_x = partial_r2(b_d[1 + j] / se_dm[1 + j], df_d)
        r2yxj_dx = partial_r2(beta[2 + j] / se[2 + j], df)
        for k in multiples:
            kd = ky = float(k)
            if kd * r2dxj_x >= 1:
                raise ValueError(f"{k} times {name} would explain all of the treatment")
            r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
            r2zxj_xd = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
            r2yz_dx = min(1.0, ((np.sqrt(ky) + np.sqrt(r2zxj_xd)) / np.sqrt(1 - r2zxj_xd)) ** 2
                          * (r2yxj_dx / (1 - r2yxj_dx)))  # fmt: skip
            est, s, tt, low, high = adjusted(estimate, se_d, df, r2dz_x, r2yz_dx, alpha=alpha)
            rows.append({"benchmark": name, "kd": kd, "ky": ky, "r2dz_x": r2dz_x,
                         "r2yz_dx": r2yz_dx, "adjusted_estimate": est, "adjusted_se": s,
                         "adjusted_t": tt, "adjusted_low": low, "adjusted_high": high})  # fmt: skip
    columns = ["benchmark", "kd", "ky", "r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_se",
               "adjusted_t", "adjusted_low", "adjusted_high"]  # fmt: skip
    return OmittedSensitivity(
        estimate=estimate, se=se_d, t=float(t), df=df, r2yd_x=partial_r2(t, df),
        rv_q=robustness_value(t, df, q=q), rv_qa=robustness_value(t, df, q=q, alpha=alpha),
        q=q, alpha=alpha, bounds=pd.DataFrame(rows, columns=columns),
    )  # fmt: skip


def contour(estimate: float, se: float, df: int, *, alpha: float,
            r2_max: float = 0.5, points: int = 101) -> pd.DataFrame:  # fmt: skip
    """The adjusted estimate on a grid of the two partial R² (the contour plot's data)."""
    grid = np.linspace(0.0, r2_max, points)
    rows = []
    for r2dz in grid[grid < 1]:
        for r2yz in grid:
            est, _, _, low, _ = adjusted(estimate, se, df, float(r2dz), float(r2yz), alpha=alpha)
            rows.append({"r2dz_x": r2dz, "r2yz_dx": r2yz, "adjusted_estimate": est,
                         "adjusted_low": low})  # fmt: skip
    return pd.DataFrame(rows)
