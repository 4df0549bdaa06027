"""Randomisation inference for a statistic of the treatment assignment.

Two tests: :func:`permutation_pvalue` permutes the labels (within strata), which is valid
when every permutation was equally likely, as in a (stratified) randomised experiment;
:func:`randomisation_pvalue` with :func:`conditional_poisson_assignments` redraws the
assignment from a propensity score, the mechanism an observational study with selection on
observables assumes.

References
----------
Candes, E., Fan, Y., Janson, L. and Lv, J. (2018). Panning for gold: 'model-X' knockoffs
for high dimensional controlled variable selection. *JRSS B* 80(3), 551-577 (the
conditional randomisation test).
Chen, X.-H., Dempster, A. P. and Liu, J. S. (1994). Weighted finite population sampling to
maximize entropy. *Biometrika* 81(3), 457-469 (conditional Poisson sampling).
Fisher, R. A. (1935). *The Design of Experiments*. Oliver and Boyd.
Hajek, J. (1964). Asymptotic theory of rejective sampling with varying probabilities from a
finite population. *Annals of Mathematical Statistics* 35(4), 1491-1523.
Imbens, G. W. and Rubin, D. B. (2015). *Causal Inference for Statistics, Social, and
Biomedical Sciences*, Chapter 5. Cambridge University Press.
Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero: calculating
exact p-values when permutations are randomly drawn. *Statistical Applications in Genetics
and Molecular Biology* 9(1), Article 39.
Rosenbaum, P. R. (1984). Conditional permutation tests and the propensity score in
observational studies. *JASA* 79(387), 565-574.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit

#: Relative tolerance when comparing a permuted statistic with the observed one, so that
#: rounding noise in a recomputed statistic does not decide whether it counts as extreme.
TIE_RTOL = 1e-12


@dataclass(frozen=True, eq=False)
class PermutationResult:
    """Outcome of a randomisation test.

    Attributes
    ----------
    observed
        The statistic on the actual assignment.
    p_value
        ``(1 + #{extreme draws}) / (n_draws + 1)`` (Phipson and Smyth 2010).
    n_draws
        Number of permutations drawn.
    draws
        The statistic under each permutation (read-only array).
    alternative
        ``"two-sided"`` (``|T_b| >= |T_obs|``), ``"greater"`` or ``"less"``.
    strata
        The column permuted within, if any.
    """

    observed: float
    p_value: float
    n_draws: int
    draws: np.ndarray
    alternative: str
    strata: str | None


def permutation_pvalue(
    statistic_fn: Callable[[pd.DataFrame], float],
    df: pd.DataFrame,
    treatment: str,
    *,
    n_draws: int,
    rng: np.random.Generator,
    strata: str | None = None,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> PermutationResult:
    """Randomisation p-value: permute the treatment labels and recompute the statistic.

    Under the sharp null of no effect for anyone, *if* every permutation of the treatment
    column (within ``strata`` cells if given) was as likely as the observed one, as in a
    completely (or stratified) randomised experiment, the p-value is valid. The p-value
    counts the observed assignment as one of the draws, ``(1 + b) / (n_draws + 1)``, so it
    is never zero and, under that assumption, never below its level (Phipson and Smyth
    2010). Where treatment depends on covariates (selection on observables) permutations
    are not equally likely and the test does not hold its level: use
    :func:`randomisation_pvalue` with draws from the propensity score. The two-sided version
    compares absolute values, so ``statistic_fn`` should be centred at zero under the null
    (a difference in means or an ATT estimate is).

    Parameters
    ----------
    statistic_fn
        Maps a frame (with the permuted treatment column) to a number.
    df
        Data; never modified (each draw works on a new frame).
    treatment
        Column to permute.
    n_draws
        Number of random permutations.
    rng
        ``np.random.default_rng(seed)``; the only source of randomness.
    strata
        Optional column within whose cells labels are permuted.
    alternative
        Direction of the test.

    Returns
    -------
    PermutationResult
    """
    if n_draws < 1:
        raise ValueError("n_draws must be positive")
    observed = float(statistic_fn(df))
    labels = df[treatment].to_numpy()
    if strata is None:
        groups = [np.arange(len(df))]
    else:
        codes = pd.factorize(df[strata], sort=True)[0]
        groups = [np.flatnonzero(codes == g) for g in np.unique(codes)]
    draws = np.empty(n_draws)
    for b in range(n_draws):
        perm = labels.copy()
        for g in groups:
            perm[g] = labels[g][rng.permutation(len(g))]
        draws[b] = statistic_fn(df.assign(**{treatment: perm}))
    tol = TIE_RTOL * max(1.0, abs(observed))
    if alternative == "two-sided":
        extreme = np.abs(draws) >= abs(observed) - tol
    elif alternative == "greater":
        extreme = draws >= observed - tol
    elif alternative == "less":
        extreme = draws <= observed + tol
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    draws.setflags(write=False)
    return PermutationResult(
        observed=observed,
        p_value=float((1 + extreme.sum()) / (n_draws + 1)),
        n_draws=n_draws,
        draws=draws,
        alternative=alternative,
        strata=strata,
    )


#: The null hypothesis every randomisation test here tests.
SHARP_NULL = "sharp null: mentoring changed no one's outcome"

#: Most rounds of rejective sampling before giving up (each round draws a whole batch).
MAX_REJECTIVE_ROUNDS = 1000


def calibrated_probabilities(linear_predictor: np.ndarray, n_treated: int) -> np.ndarray:
    """Probabilities ``expit(lp + c)`` whose sum is ``n_treated`` (``c`` found by bisection).

    Shifting the logit by a constant leaves the conditional distribution given the number
    treated unchanged (the odds change by a common factor); this shift makes that number
    the most likely one, so rejective sampling accepts as often as it can.
    """
    lp = np.asarray(linear_predictor, float)
    if not 0 < n_treated < len(lp):
        raise ValueError("need 0 < n_treated < number of units")
    lo, hi = -60.0 - lp.max(), 60.0 - lp.min()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if expit(lp + mid).sum() < n_treated:
            lo = mid
        else:
            hi = mid
    return expit(lp + 0.5 * (lo + hi))


def conditional_poisson_assignments(
    linear_predictor: np.ndarray,
    treated: np.ndarray,
    strata: np.ndarray | None,
    *,
    n_draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw assignments from a logit propensity score, the number treated per stratum fixed.

    Each unit is treated independently with probability ``e_i`` (``expit`` of
    ``linear_predictor``), conditional on every stratum keeping its observed number of
    treated: conditional Poisson sampling (Hajek 1964; Chen, Dempster and Liu 1994), drawn
    exactly by rejective sampling (independent Bernoulli draws with the calibrated
    probabilities of :func:`calibrated_probabilities`, kept only when a stratum's count is
    right). Under this mechanism the probability of an assignment is proportional to the
    product of the treated units' odds ``e_i / (1 - e_i)`` within each stratum.

    Parameters
    ----------
    linear_predictor
        Logit of the propensity score per unit.
    treated
        The observed 0/1 assignment (only its counts per stratum are used).
    strata
        Stratum code per unit (e.g. start quarter), or ``None`` for one stratum.
    n_draws
        Number of assignments.
    rng
        The only source of randomness.

    Returns
    -------
    numpy.ndarray
        Boolean ``(n_draws, n)``.
    """
    lp = np.asarray(linear_predictor, float)
    d = np.asarray(treated).astype(bool)
    codes = np.zeros(len(lp), np.intp) if strata is None else pd.factorize(strata, sort=True)[0]
    out = np.zeros((n_draws, len(lp)), bool)
    for s in np.unique(codes):
        units = np.flatnonzero(codes == s)
        n_s = int(d[units].sum())
        if n_s == 0 or n_s == len(units):
            out[:, units] = n_s > 0
            continue
        p = calibrated_probabilities(lp[units], n_s)
        sd = float(np.sqrt(np.sum(p * (1 - p))))
        accept = 1.0 / (2.5 * max(sd, 0.4))  # a little below P(sum = n_s), normal approximation
        got = 0
        for _ in range(MAX_REJECTIVE_ROUNDS):
            batch = int(min(max(64, np.ceil((n_draws - got) / accept * 1.2)), 200_000))
            draw = rng.random((batch, len(units))) < p
            ok = draw[draw.sum(axis=1) == n_s][: n_draws - got]
            out[got : got + len(ok), units] = ok
            got += len(ok)
            if got == n_draws:
                break
        else:
            raise RuntimeError("rejective sampling did not produce enough assignments")
    return out


@dataclass(frozen=True, eq=False)
class RandomisationResult:
    """Outcome of a conditional randomisation test.

    Attributes
    ----------
    observed
        The statistic on the actual assignment.
    p_value
        ``(1 + #{draws at least as extreme}) / (1 + n_draws)``.
    n_draws
        Draws on which the statistic could be computed.
    n_failed
        Draws on which it could not (left out of the p-value; reported).
    draws
        The statistic under each usable draw (read-only).
    alternative
        ``"two-sided"`` (``|T_b| >= |T_obs|``), ``"greater"`` or ``"less"``.
    null, mechanism
        The hypothesis tested and the assignment mechanism assumed, in words.
    strata
        The column whose per-stratum numbers of treated were held fixed, if any.
    """

    observed: float
    p_value: float
    n_draws: int
    n_failed: int
    draws: np.ndarray
    alternative: str
    null: str
    mechanism: str
    strata: str | None


def randomisation_pvalue(
    statistic: Callable[[np.ndarray], float],
    observed_assignment: np.ndarray,
    assignments: np.ndarray,
    *,
    mechanism: str,
    strata: str | None = None,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
    failure: type[Exception] | tuple[type[Exception], ...] = (),
) -> RandomisationResult:
    """P-value of a statistic against assignments drawn from an assignment mechanism.

    Under the sharp null (no one's outcome depends on the assignment) the outcomes are
    fixed, so the statistic on a draw from the mechanism has the distribution the observed
    statistic would have if the observed assignment came from it (Fisher 1935; for a
    mechanism modelled from covariates, the conditional randomisation test of Candes, Fan,
    Janson and Lv 2018 and Rosenbaum 1984). The test is exact when the mechanism is the
    true one; with an estimated mechanism it is approximate, and its level has to be shown
    by simulation.

    Parameters
    ----------
    statistic
        Maps a boolean assignment vector to a number (the whole estimator).
    observed_assignment
        The actual assignment.
    assignments
        ``(n_draws, n)`` boolean draws from the mechanism.
    mechanism
        The mechanism in words (recorded in the result).
    strata
        Column whose per-stratum counts the draws keep (recorded).
    alternative
        Direction of the test.
    failure
        Exceptions that mark a draw on which the statistic cannot be computed: such draws
        are counted and left out instead of aborting the test.
    """
    observed = float(statistic(np.asarray(observed_assignment).astype(bool)))
    values, failed = [], 0
    for d in assignments:
        try:
            values.append(float(statistic(d)))
        except failure:
            failed += 1
    draws = np.asarray(values)
    if len(draws) == 0:
        raise ValueError("the statistic could not be computed on any draw")
    tol = TIE_RTOL * max(1.0, abs(observed))
    if alternative == "two-sided":
        extreme = np.abs(draws) >= abs(observed) - tol
    elif alternative == "greater":
        extreme = draws >= observed - tol
    elif alternative == "less":
        extreme = draws <= observed + tol
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    draws.setflags(write=False)
    return RandomisationResult(
        observed=observed,
        p_value=float((1 + extreme.sum()) / (len(draws) + 1)),
        n_draws=int(len(draws)),
        n_failed=int(failed),
        draws=draws,
        alternative=alternative,
        null=SHARP_NULL,
        mechanism=mechanism,
        strata=strata,
    )
