"""Exploratory factor analysis of the survey items, beside the intended mapping.

The items' correlation matrix (pairwise deletion) is factored by iterated principal axes and
rotated (promax by default: the factors are expected to correlate). Each extracted factor is
then labelled with the intended factor it fits best (the assignment that maximises the summed
absolute loadings of each intended factor's items, Kuhn 1955) and turned so that its intended
items load positively, so that the loadings can be read beside the mapping of the instrument.

Reproducibility. On a few dozen respondents an exploratory factor analysis easily reaches a
Heywood case (an item whose communality goes to 1, so that its uniqueness is zero or
negative). There the solution is not identified: a maximum-likelihood fit from random starting
values (statsmodels draws them from fresh operating-system entropy unless told otherwise) or
an unbounded iteration lands on a different solution in every process. This module therefore
computes everything by fixed, deterministic rules and reports the Heywood case instead of
hiding it:

- the rows are put in a canonical order (sorted by their answers) before the correlations
  are computed, so the numbers do not depend on the order of the rows (floating-point sums
  do), and the items are taken in the order of the mapping;
- the starting communalities are the squared multiple correlations (SMC);
- the principal-axis iteration runs to a tight tolerance (:data:`TOL`) within at most
  :data:`MAX_ITER` steps, and a communality that would reach :data:`HEYWOOD_CAP` is held
  there: such items are the Heywood items of the solution (:attr:`FactorAnalysis.heywood`);
- the unrotated factors are signed so that each one's largest absolute loading is positive,
  and the rotations (Kaiser-normalised varimax, promax with power :data:`PROMAX_POWER`) are
  iterated to a tight tolerance, so stopping one step earlier or later moves nothing that
  ``evaluation verify`` compares (1e-9 relative).

A solution with a Heywood item, or one that did not converge, is not *stable*
(:attr:`FactorAnalysis.stable`): its loadings are reproducible but not an interpretable
estimate, and the study reports the Heywood case rather than the loadings.

References
----------
Fabrigar, L. R., Wegener, D. T., MacCallum, R. C. and Strahan, E. J. (1999). Evaluating the
use of exploratory factor analysis in psychological research. *Psychological Methods* 4(3),
272-299.
Hendrickson, A. E. and White, P. O. (1964). Promax: a quick method for rotation to oblique
simple structure. *British Journal of Statistical Psychology* 17(1), 65-70.
Kaiser, H. F. (1958). The varimax criterion for analytic rotation in factor analysis.
*Psychometrika* 23(3), 187-200.
Kuhn, H. W. (1955). The Hungarian method for the assignment problem. *Naval Research
Logistics Quarterly* 2(1-2), 83-97.
Van Driel, O. P. (1978). On various causes of improper solutions in maximum likelihood factor
analysis. *Psychometrika* 43(2), 225-243.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from statsmodels.multivariate.factor_rotation import rotate_factors

#: A communality at or above this is a Heywood case; the iteration holds it there.
HEYWOOD_CAP = 0.995
#: Principal-axis iteration: stop when no communality moves by more than this ...
TOL = 1e-12
#: ... or after this many steps (then the solution is reported as not converged).
MAX_ITER = 10_000
#: Promax power (Hendrickson and White 1964; R's ``stats::promax`` default).
PROMAX_POWER = 4
#: Rotations: relative change of the criterion below which an iteration stops.
ROTATION_TOL = 1e-13
#: Rotations: at most this many iterations.
ROTATION_MAX_ITER = 10_000
#: Oblimin and quartimax (gradient projection): stop at this gradient norm.
GPA_TOL = 1e-7
#: The rotations this module knows (those ``bottomup.rotation`` allows, and none).
ROTATIONS = ("promax", "varimax", "oblimin", "quartimax", "none")


@dataclass(frozen=True)
class FactorAnalysis:
    """Rotated loadings of an exploratory factor analysis, labelled by the intended factors.

    Attributes
    ----------
    loadings
        Items × factors (columns named after the intended factor each matches best).
    intended
        Item → the factor the instrument says it measures.
    communality
        Per item: the share of its variance the factors explain (at most
        :data:`HEYWOOD_CAP`).
    n
        Persons behind the correlations (the fewest answering any item pair).
    rotation
        The rotation applied (``"none"`` when there is one factor or none was asked for).
    method
        The extraction: ``"principal axis"``.
    heywood
        Items whose communality reached :data:`HEYWOOD_CAP` (a Heywood case), in item order.
    converged
        Whether the principal-axis iteration met :data:`TOL` within :data:`MAX_ITER` steps.
    iterations
        Principal-axis steps taken.
    """

    loadings: pd.DataFrame
    intended: pd.Series
    communality: pd.Series
    n: int
    rotation: str
    method: str
    heywood: tuple[str, ...] = ()
    converged: bool = True
    iterations: int = 0

    @property
    def stable(self) -> bool:
        """Converged without a Heywood case: the loadings can be read as an estimate."""
        return self.converged and not self.heywood

    @property
    def primary(self) -> pd.Series:
        """Item → the factor on which it loads most (by absolute loading)."""
        return self.loadings.abs().idxmax(axis=1)

    @property
    def agreement(self) -> float:
        """Share of items whose largest loading is on their intended factor."""
        return float((self.primary == self.intended.reindex(self.primary.index)).mean())

    def table(self, decimals: int = 2) -> pd.DataFrame:
        """Loadings rounded, with the intended factor and the communality beside them."""
        out = self.loadings.round(decimals)
        out.insert(0, "intended", self.intended.reindex(out.index))
        out["communality"] = self.communality.round(decimals)
        return out


def canonical_rows(x: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by their values (missing first), on a fresh 0..n-1 index.

    Rows with the same values are interchangeable, so the result is the same for every
    order of the input rows: statistics summed over it are then the same to the last bit.
    """
    arr = x.to_numpy(dtype="float64")
    key = np.where(np.isnan(arr), -np.inf, arr)
    order = np.lexsort(key.T[::-1]) if len(arr) else np.arange(0)
    return pd.DataFrame(arr[order], columns=x.columns)


def _canonical_signs(a: np.ndarray) -> np.ndarray:
    """Each column turned so that its largest absolute entry (first of ties) is positive."""
    idx = np.abs(a).argmax(axis=0)
    signs = np.where(a[idx, np.arange(a.shape[1])] < 0, -1.0, 1.0)
    return a * signs


def principal_axis(
    corr: np.ndarray, k: int, *, cap: float = HEYWOOD_CAP, tol: float = TOL,
    max_iter: int = MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, int]:  # fmt: skip
    """Iterated principal-axis factoring with SMC start and capped communalities.

    Parameters
    ----------
    corr
        Correlation matrix (p × p, positive definite).
    k
        Number of factors.
    cap, tol, max_iter
        Communalities are held at most at ``cap``; the iteration stops when none moves by
        more than ``tol``, or after ``max_iter`` steps.

    Returns
    -------
    loadings, communality, heywood, converged, iterations
        Unrotated loadings (p × k, columns by decreasing eigenvalue, each column's largest
        absolute loading positive), the final communalities, a boolean mask of the items
        whose communality reached ``cap``, whether ``tol`` was met, and the steps taken.
    """
    r = np.array(corr, dtype="float64")
    p = r.shape[0]
    if not 1 <= k < p:
        raise ValueError(f"need 1 <= factors < items, got {k} factors for {p} items")
    try:
        smc = 1.0 - 1.0 / np.diag(np.linalg.inv(r))
    except np.linalg.LinAlgError as err:
        raise ValueError("the items' correlation matrix is singular: a factor analysis "
                         "needs more persons than items, or items that are not copies "
                         "of each other") from err  # fmt: skip
    if not np.isfinite(smc).all() or (smc < 0).any():
        raise ValueError("the items' correlation matrix (pairwise deletion) is not positive "
                         "definite: too few joint answers for a factor analysis")  # fmt: skip
    c = np.minimum(smc, cap)
    reached = smc >= cap
    converged = False
    a = np.zeros((p, k))
    steps = 0
    for steps in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        reduced = r.copy()
        np.fill_diagonal(reduced, c)
        vals, vecs = np.linalg.eigh(reduced)
        order = np.argsort(-vals, kind="stable")[:k]
        vals = np.clip(vals[order], 0.0, None)
        a = vecs[:, order] * np.sqrt(vals)
        raw = (a**2).sum(axis=1)
        reached = raw >= cap
        new = np.minimum(raw, cap)
        done = np.abs(new - c).max() <= tol
        c = new
        if done:
            converged = True
            break
    # loadings consistent with the capped communalities: scale a Heywood item's row down
    scale = np.sqrt(np.divide(c, (a**2).sum(axis=1), out=np.ones(p),
                              where=(a**2).sum(axis=1) > 0))  # fmt: skip
    a = _canonical_signs(a * scale[:, None])
    return a, c, reached, converged, steps


def varimax(
    a: np.ndarray, *, normalize: bool = True, tol: float = ROTATION_TOL,
    max_iter: int = ROTATION_MAX_ITER,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Varimax rotation (Kaiser 1958), the algorithm of R's ``stats::varimax``.

    Returns the rotated loadings and the orthogonal rotation matrix ``T`` (rotated =
    ``a @ T``). Rows are Kaiser-normalised (to unit length) while rotating when
    ``normalize``; the iteration stops when the criterion grows by less than ``tol``
    (relative).
    """
    k = a.shape[1]
    if k < 2:
        return a.copy(), np.eye(k)
    sc = np.sqrt((a**2).sum(axis=1)) if normalize else np.ones(a.shape[0])
    sc = np.where(sc > 0, sc, 1.0)
    x = a / sc[:, None]
    p = x.shape[0]
    t = np.eye(k)
    d = 0.0
    for _ in range(max_iter):
        z = x @ t
        b = x.T @ (z**3 - z * ((z**2).sum(axis=0) / p))
        u, s, vt = np.linalg.svd(b)
        t = u @ vt
        d_past, d = d, float(s.sum())
        if d < d_past * (1 + tol):
            break
    return (x @ t) * sc[:, None], t


def promax(a: np.ndarray, *, power: int = PROMAX_POWER) -> tuple[np.ndarray, np.ndarray]:
    """Promax rotation (Hendrickson and White 1964), as R's ``stats::promax``.

    Varimax (Kaiser-normalised), then the least-squares oblique transformation towards the
    target ``v * |v|**(power - 1)``, its columns scaled so that the factors have unit
    variance. Returns the pattern loadings and the rotation matrix (pattern = ``a @ U``).
    """
    if a.shape[1] < 2:
        return a.copy(), np.eye(a.shape[1])
    v, t = varimax(a)
    target = v * np.abs(v) ** (power - 1)
    u = np.linalg.lstsq(v, target, rcond=None)[0]
    d = np.diag(np.linalg.inv(u.T @ u))
    u = u * np.sqrt(d)
    return v @ u, t @ u


def rotate(a: np.ndarray, rotation: str) -> np.ndarray:
    """Rotated loadings; ``rotation`` is one of :data:`ROTATIONS`."""
    if rotation == "none" or a.shape[1] < 2:
        return a.copy()
    if rotation == "promax":
        return promax(a)[0]
    if rotation == "varimax":
        return varimax(a)[0]
    if rotation in ("oblimin", "quartimax"):
        # direct quartimin (oblimin with gamma 0, as statsmodels' Factor.rotate) and
        # quartimax: gradient projection from the identity (deterministic); its line search
        # stalls near a gradient norm of 1e-8, so GPA_TOL sits just above that
        method = "quartimin" if rotation == "oblimin" else "quartimax"
        return np.asarray(rotate_factors(a, method, tol=GPA_TOL, max_tries=ROTATION_MAX_ITER)[0])
    raise ValueError(f"unknown rotation {rotation!r}: expected one of {', '.join(ROTATIONS)}")


def exploratory_factors(
    items: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    *,
    rotation: str = "promax",
) -> FactorAnalysis:
    """Exploratory factor analysis (principal axes) with as many factors as the mapping names.

    Deterministic: the same answers give the same numbers in any row order, in any process
    (see the module notes); a Heywood case is reported in ``heywood``, not hidden.

    Parameters
    ----------
    items
        One column per item, reverse-coded (NaN where not answered); not modified. Only the
        items named in ``factors`` are used, in the mapping's order; the row order does not
        matter.
    factors
        Intended factor → items; its length is the number of factors extracted.
    rotation
        One of :data:`ROTATIONS`.

    Returns
    -------
    FactorAnalysis
    """
    if rotation not in ROTATIONS:
        raise ValueError(f"unknown rotation {rotation!r}: expected one of {', '.join(ROTATIONS)}")
    names = [i for its in factors.values() for i in its]
    x = canonical_rows(items[names])
    corr = x.corr(min_periods=3)
    if corr.isna().to_numpy().any():
        raise ValueError("an item pair has too few joint answers for a correlation")
    joint = x.notna().astype("int64").to_numpy()
    n = int((joint.T @ joint).min())
    k = len(factors)
    a, comm, reached, converged, iterations = principal_axis(corr.to_numpy(), k)
    used = rotation if k > 1 else "none"
    raw = rotate(a, used)
    labels = list(factors)
    # score[f, c]: summed absolute loading of factor f's items on extracted column c
    score = np.array([[np.abs(raw[[names.index(i) for i in factors[f]], c]).sum()
                       for c in range(k)] for f in labels])  # fmt: skip
    rows, cols = linear_sum_assignment(-score)
    order = [int(cols[list(rows).index(j)]) for j in range(k)]
    loadings = raw[:, order].copy()
    for j, f in enumerate(labels):
        idx = [names.index(i) for i in factors[f]]
        if loadings[idx, j].sum() < 0:
            loadings[:, j] *= -1
    return FactorAnalysis(
        loadings=pd.DataFrame(loadings, index=names, columns=labels),
        intended=pd.Series({i: f for f, its in factors.items() for i in its}),
        communality=pd.Series(comm, index=names),
        n=n,
        rotation=used,
        method="principal axis",
        heywood=tuple(i for i, h in zip(names, reached, strict=True) if h),
        converged=converged,
        iterations=iterations,
    )


def fewest_joint(items: pd.DataFrame, factors: Mapping[str, Sequence[str]]) -> pd.Index:
    """The persons behind :attr:`FactorAnalysis.n`.

    Those answering the item pair (of the items of ``factors``) that the fewest persons
    answered together. ``n`` is the size of this set; a published ``n`` gives it away (a count of persons, for
    the disclosure audit). Ties go to the first pair in the mapping's item order.

    Parameters
    ----------
    items
        One column per item (NaN where not answered), indexed by person; not modified.
    factors
        Intended factor → items, as given to :func:`exploratory_factors`.

    Returns
    -------
    pandas.Index
        The persons (the index values of ``items``).
    """
    names = [i for its in factors.values() for i in its]
    answered = items[names].notna()
    a = answered.astype("int64").to_numpy()
    joint = a.T @ a
    i, j = np.unravel_index(int(np.argmin(joint)), joint.shape)
    both = answered.iloc[:, i].to_numpy() & answered.iloc[:, j].to_numpy()
    return items.index[both]
