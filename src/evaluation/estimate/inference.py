"""Randomisation (permutation) inference for a statistic of the treatment assignment.

References
----------
Fisher, R. A. (1935). *The Design of Experiments*. Oliver and Boyd.
Imbens, G. W. and Rubin, D. B. (2015). *Causal Inference for Statistics, Social, and
Biomedical Sciences*, Chapter 5. Cambridge University Press.
Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero: calculating
exact p-values when permutations are randomly drawn. *Statistical Applications in Genetics
and Molecular Biology* 9(1), Article 39.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

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

    Under the sharp null of no effect for anyone, every permutation of the treatment column
    (within ``strata`` cells if given, e.g. the start quarter, which keeps the number of
    treated per cell fixed) is as likely as the observed one. The p-value counts the
    observed assignment as one of the draws, ``(1 + b) / (n_draws + 1)``, so it is never
    zero and the test is exact at its level (Phipson and Smyth 2010). The two-sided version
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
