"""The headline's matching estimator on many treatment assignments, without frames.

A randomisation test reruns the whole headline estimator (category support, the logit
propensity score, nearest-neighbour matching with exact cells and caliper, the bias
correction) on hundreds of redrawn assignments. Through :func:`~evaluation.estimate.att.
estimate_att` each rerun costs about 0.15 s on the default study, mostly in building frames
and in statsmodels; :class:`MatchingRerun` does the same arithmetic on arrays prepared
once, about ten times faster. It is a second code path of one estimator, so it is held to
the front door's numbers in ``tests/estimate/test_randomisation.py`` (equal to 1e-9 on
random assignments), and every rule it repeats is named after the function it repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from evaluation.design.matching import TIE_TOL, match_arrays
from evaluation.design.propensity import COLLINEAR_RTOL, SEPARATION_EPS, _levels, is_categorical
from evaluation.estimate.matching import unit_effects

#: Newton's method for the logit stops when no coefficient moves by more than this (on the
#: standardised design); statsmodels' default is 1e-8, after which one more step is taken.
NEWTON_TOL = 1e-10
NEWTON_MAXITER = 100


class RerunFailed(ValueError):
    """The estimator cannot be computed on this assignment (separation, nobody matched)."""


@dataclass(frozen=True)
class _Covariate:
    name: str
    categorical: bool
    support: bool  # counted by category support (a category, or a numeric 0/1 indicator)
    values: np.ndarray  # float values (numeric) or level codes in the design's level order
    n_levels: int


def _binary_number(col: pd.Series) -> bool:
    """As :func:`evaluation.design.study._is_binary_number`."""
    if not pd.api.types.is_numeric_dtype(col.dtype):
        return False
    return bool(np.isin(pd.unique(col.dropna()), (0, 1)).all())


@dataclass(frozen=True, eq=False)
class MatchingRerun:
    """The headline matching ATT as a function of the treatment vector.

    Build it with :meth:`prepare` on the estimation sample (outcome observed, inside
    category support for the observed assignment); then ``rerun(d)`` returns what
    ``estimate_att(supported(sample.assign(treated=d)), method="matching", ...)`` returns
    as its estimate, for any 0/1 vector ``d``.
    """

    covariates: tuple[_Covariate, ...]
    columns: np.ndarray  # every candidate column: each numeric covariate, each level's dummy
    first_column: tuple[int, ...]  # position in ``columns`` of each covariate's first column
    y: np.ndarray
    cells: np.ndarray
    k: int
    caliper: float | None
    bias_adjust: bool
    tie_tol: float
    _start: dict = field(default_factory=dict, repr=False)  # columns -> observed logit fit

    @classmethod
    def prepare(
        cls,
        sample: pd.DataFrame,
        *,
        outcome: str,
        covariates: Sequence[str],
        k: int,
        caliper: float | None,
        exact: str | None,
        bias_adjust: bool,
        treatment: str = "treated",
        replace: bool = True,
        tie_tol: float = TIE_TOL,
        **ignored: object,
    ) -> MatchingRerun:
        """Prepare the arrays of ``sample`` (options as :attr:`EffectsSpec.matching`).

        Only matching with replacement on the logit of the propensity score is covered (the
        study's headline); other options raise ``ValueError`` so that the caller can fall
        back to the front door.
        """
        unsupported = set(ignored) - {"se", "distance", "ties", "order", "metric"}
        if (
            not replace
            or ignored.get("distance", "logit") != "logit"
            or ignored.get("ties", True) is not True
            or unsupported
        ):
            raise ValueError("MatchingRerun covers matching with replacement on the logit only")
        covs = []
        for name in covariates:
            col = sample[name]
            if col.isna().any():
                raise ValueError(f"covariate {name!r} has missing values")
            if is_categorical(col):
                levels = _levels(col)
                code_of = {v: i for i, v in enumerate(levels)}
                values = col.map(code_of).to_numpy(dtype=np.intp)
                covs.append(_Covariate(name, True, True, values, len(levels)))
            else:
                support = _binary_number(col)
                covs.append(_Covariate(name, False, support, col.to_numpy(dtype=float), 2))
        cols, first = [], []
        for c in covs:
            first.append(len(cols))
            if c.categorical:
                cols += [(c.values == lev).astype(float) for lev in range(c.n_levels)]
            else:
                cols.append(c.values)
        cells = (
            np.zeros(len(sample), np.intp)
            if exact is None
            else pd.factorize(sample[exact], sort=True)[0]
        )
        out = cls(
            covariates=tuple(covs),
            columns=np.column_stack(cols) if cols else np.empty((len(sample), 0)),
            first_column=tuple(first),
            y=sample[outcome].to_numpy(dtype=float),
            cells=np.asarray(cells, np.intp),
            k=int(k),
            caliper=caliper,
            bias_adjust=bool(bias_adjust),
            tie_tol=float(tie_tol),
        )
        d_obs = sample[treatment].to_numpy() == 1 if treatment in sample else None
        if d_obs is not None:
            try:
                x, pick = out.design(out.support(d_obs), with_columns=True)
                lp = out.logit(x, d_obs[out.support(d_obs)])
                coef = np.linalg.lstsq(np.column_stack([np.ones(len(x)), x]), lp, rcond=None)[0]
                out._start[pick] = coef
            except RerunFailed:
                pass
        return out

    def support(self, d: np.ndarray) -> np.ndarray:
        """Rows inside category support under ``d`` (:func:`~evaluation.design.study.category_support`)."""
        keep = np.ones(len(d), bool)
        for c in self.covariates:
            if not c.support:
                continue
            codes = c.values if c.categorical else c.values.astype(np.intp)
            n_levels = c.n_levels if c.categorical else 2
            n_t = np.bincount(codes[d], minlength=n_levels)
            n_c = np.bincount(codes[~d], minlength=n_levels)
            for code in np.flatnonzero((n_t == 0) | (n_c == 0)):
                keep &= codes != code
        return keep

    def design(self, rows: np.ndarray, *, with_columns: bool = False):
        """The covariate matrix of :func:`~evaluation.design.propensity.design_matrix` on ``rows``.

        With ``with_columns`` also a key naming the columns kept.
        """
        pick = []
        for c, first in zip(self.covariates, self.first_column, strict=True):
            if c.categorical:
                present = np.flatnonzero(np.bincount(c.values[rows], minlength=c.n_levels) > 0)
                pick += [first + lev for lev in present[1:]]
            else:
                pick.append(first)
        x = self.columns[np.ix_(np.flatnonzero(rows), pick)]
        varies = np.flatnonzero(np.ptp(x, axis=0) > 0) if x.shape[1] else np.empty(0, np.intp)
        x = x[:, varies]
        if x.shape[1] == 0:
            return (x, ()) if with_columns else x
        z = np.column_stack([np.ones(len(x)), (x - x.mean(axis=0)) / x.std(axis=0)])
        g = z.T @ z / len(z)
        kept = [0]
        for j in range(1, g.shape[0]):
            b = g[kept, j]
            if g[j, j] - b @ np.linalg.solve(g[np.ix_(kept, kept)], b) > COLLINEAR_RTOL * g[j, j]:
                kept.append(j)
        cols = [j - 1 for j in kept[1:]]
        if with_columns:
            return x[:, cols], tuple(int(pick[varies[j]]) for j in cols)
        return x[:, cols]

    @staticmethod
    def logit(x: np.ndarray, d: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """Linear predictor of the logit MLE (as :func:`~evaluation.design.propensity.fit_propensity`).

        ``start``: coefficients on the original scale (constant first) to start Newton's
        method from; the maximum is unique, so the start changes only the iterations.
        """
        for j in range(x.shape[1]):
            col = x[:, j]
            if np.isin(col, (0.0, 1.0)).all():
                for val in (1.0, 0.0):
                    grp = d[col == val]
                    if len(grp) and grp.min() == grp.max():
                        raise RerunFailed("separation: a 0/1 term occurs in one group only")
        mean, sd = x.mean(axis=0), x.std(axis=0)
        xs = np.column_stack([np.ones(len(d)), (x - mean) / sd])
        dv = d.astype(float)
        beta = np.zeros(xs.shape[1])
        if start is not None and len(start) == xs.shape[1]:
            beta = np.concatenate([[start[0] + start[1:] @ mean], start[1:] * sd])
        for _ in range(NEWTON_MAXITER):
            p = expit(xs @ beta)
            grad = xs.T @ (dv - p)
            hess = (xs * (p * (1 - p))[:, None]).T @ xs
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:  # p(1 - p) underflows: separation on a continuous term
                raise RerunFailed(
                    "the logit's information matrix is singular (separation)"
                ) from None
            beta = beta + step
            if np.max(np.abs(step)) < NEWTON_TOL:
                break
        else:
            raise RerunFailed("the logit did not converge")
        lp = xs @ beta
        if not np.all(np.isfinite(lp)):
            raise RerunFailed("the logit did not converge")
        if lp[d].min() > lp[~d].max() or lp[d].max() < lp[~d].min():
            raise RerunFailed("complete separation")
        p = expit(lp)
        if p[d].min() > 1 - SEPARATION_EPS or p[~d].max() < SEPARATION_EPS:
            raise RerunFailed("fitted propensity scores of a whole group are 0 or 1")
        return lp

    def rerun(self, d: np.ndarray) -> float:
        """The headline estimate under assignment ``d`` (0/1 or boolean per row)."""
        d = np.asarray(d).astype(bool)
        rows = self.support(d)
        dd = d[rows]
        if dd.all() or not dd.any():
            raise RerunFailed("one group is empty inside category support")
        x, pick = self.design(rows, with_columns=True)
        lp = self.logit(x, dd, self._start.get(pick))
        zc = lp - lp.mean()
        sd = zc.std(ddof=1)
        if sd == 0:
            raise RerunFailed("the propensity score does not vary")
        z = (zc / sd)[:, None]
        tp, cp, w, _ = match_arrays(
            z, dd, self.cells[rows], self.k, caliper=self.caliper, tie_tol=self.tie_tol
        )
        if len(tp) == 0:
            raise RerunFailed("no treated unit was matched")
        xb = x if self.bias_adjust else None
        _, tau_i = unit_effects(tp, cp, w, self.y[rows], xb, treated=dd)
        return float(tau_i.mean())
