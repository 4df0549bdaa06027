"""Weights that balance by construction: entropy balancing and overlap weights.

Entropy balancing (Hainmueller 2012) reweights the comparison persons, as little as possible
away from equal weights in the Kullback-Leibler sense, so that their weighted means of the
covariate terms equal the mentored persons' means *exactly*. Its weights are
``w_c ∝ exp(x_c' λ)`` with ``λ`` the minimiser of the convex dual
``log Σ_c exp((x_c - x̄_1)' λ)``, solved here by Newton's method with a backtracking line
search. The same weights are the odds ``e/(1 - e)`` of a logit propensity model whose
coefficients solve the ATT balance conditions ``Σ_i (d_i - (1 - d_i) e_i/(1 - e_i)) x_i = 0``
instead of the likelihood score: the just-identified covariate-balancing propensity score
for the ATT (Imai and Ratkovic 2014; the equivalence is Zhao and Percival 2017), which is how
:mod:`evaluation.estimate.att` gets the estimate's sandwich standard error.

Overlap weights (Li, Morgan and Zaslavsky 2018) weight mentored persons by ``1 - e`` and
comparison persons by ``e``: the estimand is the effect in the *overlap population*, whose
persons could have been in either group (ATO). With a logit propensity model the weighted
means of every term in the model are equal in the two groups, exactly. When the mentored are
few against a large register pool, ``e`` is small for nearly everyone and the ATO is close
to the ATT.

References
----------
Hainmueller, J. (2012). Entropy balancing for causal effects: a multivariate reweighting
method to produce balanced samples in observational studies. *Political Analysis* 20(1),
25-46.
Imai, K. and Ratkovic, M. (2014). Covariate balancing propensity score. *Journal of the Royal
Statistical Society B* 76(1), 243-263.
Zhao, Q. and Percival, D. (2017). Entropy balancing is doubly robust. *Journal of Causal
Inference* 5(1), 20160010.
Li, F., Morgan, K. L. and Zaslavsky, A. M. (2018). Balancing covariates via propensity score
weighting. *Journal of the American Statistical Association* 113(521), 390-400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from evaluation.design.propensity import DesignError

#: Newton stops when the largest imbalance, in treated standard deviations of the term,
#: is below this.
BALANCE_TOL = 1e-10
_MAX_ITER = 200


@dataclass(frozen=True)
class EntropyBalance:
    """Entropy-balancing weights of the comparison persons.

    Attributes
    ----------
    weights
        Control weights normalised to sum to one (zero for treated rows), by row.
    odds
        ``n_treated × weights`` for controls, i.e. the odds ``e/(1 - e)`` of the implied
        balancing logit, and ``exp(x'β)`` of that logit for treated rows.
    pscore
        The implied propensity score ``odds / (1 + odds)``.
    coefficients
        The implied logit's coefficients on the standardised terms (intercept first).
    terms
        The balanced terms (columns of the design, constant columns dropped).
    max_imbalance
        Largest |weighted control mean − treated mean| over the terms, in units of the
        term's standard deviation in the whole sample.
    iterations
        Newton steps taken.
    """

    weights: pd.Series
    odds: pd.Series
    pscore: pd.Series
    coefficients: np.ndarray
    terms: tuple[str, ...]
    max_imbalance: float
    iterations: int

    @property
    def ess_control(self) -> float:
        """Kish's effective sample size of the control weights."""
        w = self.weights.to_numpy()
        return float(w.sum() ** 2 / np.sum(w**2))


def standardised_terms(design: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """The non-constant columns of a design, centred and scaled by their sample SD."""
    x = design.to_numpy(dtype=float)
    keep = np.ptp(x, axis=0) > 0
    x = x[:, keep]
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, tuple(str(c) for c, k in zip(design.columns, keep, strict=True) if k)


def entropy_balance(design: pd.DataFrame, d: np.ndarray | Sequence[int]) -> EntropyBalance:
    """Entropy-balancing weights for the ATT on the first moments of ``design``'s columns.

    Parameters
    ----------
    design
        The covariate terms, one row per person (e.g. ``PropensityFit.design`` or
        :func:`~evaluation.design.propensity.design_matrix`'s frame); a constant column is
        ignored. Add squares or interactions as columns to balance them too.
    d
        0/1 treatment, same rows.

    Raises
    ------
    DesignError
        If no weights balance the terms: the mentored persons' mean of some term lies outside
        what the comparison persons can reach (e.g. a category no comparison person has). The
        message names the terms that stay unbalanced.
    """
    d = np.asarray(d, dtype=float)
    if not np.isin(d, (0.0, 1.0)).all() or d.sum() == 0 or (1 - d).sum() == 0:
        raise DesignError("entropy balancing needs both mentored and comparison persons")
    x, terms = standardised_terms(design)
    xc = x[d == 0]
    target = x[d == 1].mean(axis=0)
    z = xc - target
    lam = np.zeros(x.shape[1])

    def dual(lam: np.ndarray) -> float:
        return float(logsumexp(z @ lam))

    f = dual(lam)
    iterations = 0
    while iterations < _MAX_ITER:
        iterations += 1
        w = np.exp(z @ lam - f)
        grad = w @ z
        if np.max(np.abs(grad)) < BALANCE_TOL:
            break
        hess = (z * w[:, None]).T @ z - np.outer(grad, grad)
        step = np.linalg.lstsq(hess + 1e-12 * np.eye(len(lam)), grad, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            new = lam - t * step
            f_new = dual(new)
            if f_new <= f - 1e-4 * t * grad @ step:
                break
            t /= 2
        if t <= 1e-12:
            break
        lam, f = new, f_new
    w = np.exp(z @ lam - f)
    imbalance = np.abs(w @ z)
    if not np.max(imbalance) < 1e-6:
        worst = [terms[i] for i in np.argsort(-imbalance)[:3] if imbalance[i] >= 1e-6]
        raise DesignError(
            "entropy balancing found no weights that balance the comparison persons on "
            f"{', '.join(worst)}: the mentored persons' mean lies outside what the comparison "
            "persons can reach. Coarsen or drop the term, or leave entropy balancing (ebal) out "
            "of estimation.estimators."
        )
    n1 = float(d.sum())
    lin = x @ lam + (np.log(n1) - logsumexp(xc @ lam))
    idx = design.index
    return EntropyBalance(
        weights=pd.Series(np.where(d == 0, np.exp(lin) / n1, 0.0), index=idx, name="ebal"),
        odds=pd.Series(np.exp(lin), index=idx, name="odds"),
        pscore=pd.Series(1.0 / (1.0 + np.exp(-lin)), index=idx, name="pscore"),
        coefficients=np.concatenate([[np.log(n1) - logsumexp(xc @ lam)], lam]),
        terms=terms,
        max_imbalance=float(np.max(imbalance)),
        iterations=iterations,
    )


def overlap_weights(pscore: pd.Series, d: np.ndarray | Sequence[int]) -> pd.Series:
    """Overlap weights: ``1 - e`` for mentored persons, ``e`` for comparison persons."""
    d = np.asarray(d, dtype=float)
    e = pscore.to_numpy(dtype=float)
    return pd.Series(np.where(d == 1, 1.0 - e, e), index=pscore.index, name="overlap_weight")
