"""Family-wise error rate of the Romano-Wolf adjusted p-values under the global null.

About 50 mentored against a pool of 1 000 (logit selection on three covariates, as
bench/montecarlo_att.py), nine outcomes with no effect at all: three "horizons" of three
outcome kinds whose noise is correlated across horizons (a person's latent employability
carries over, rho about 0.5-0.8 between outcomes), as in the study's family
employed_m{6,12,24}, months_employed_{6,12,24}, earnings_{6,12,24}. Each replication runs
the study's own code: the weighted bootstrap of AIPW (propensity and outcome models refitted
per draw) and the reweighted linear representation of bias-adjusted nearest-neighbour
matching (4 matches, caliper 0.2 SD of the logit, Otsu and Rai 2017), both with one set of
person weights for all outcomes, then :func:`~evaluation.estimate.multiplicity.romano_wolf`.
It reports, per estimator, the share of replications in which any adjusted p-value is below
5 % (the FWER, target at most 5 %), the same for the unadjusted bootstrap p-values (what
reading nine p-values one by one risks), and the mean single-test rejection rate.

    OPENBLAS_NUM_THREADS=1 nice -n 15 .venv/bin/python bench/romano_wolf_fwer.py --reps 500 --draws 199

Measured (two runs of 250 replications, ``--seed 20170601`` and ``--seed 20170851``, 199
draws; Monte Carlo SE of a 5 % rate over 500: 1.0 points):

=========  ==========================  ========================  ===================
estimator  FWER, Romano-Wolf adjusted  FWER, unadjusted (any p)  single-test size
=========  ==========================  ========================  ===================
matching   4.6 %                       32.6 %                    4.7 %
AIPW       7.4 %                       35.4 %                    5.1 %
=========  ==========================  ========================  ===================

For matching (the study's headline) the adjustment holds the family's level; for AIPW it is
about two Monte Carlo SEs above it although each single test holds its level, so the
weighted bootstrap's joint tail is somewhat too thin at 50 treated (not resolved here).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy.special import expit

from evaluation.design.propensity import fit_propensity
from evaluation.estimate.att import (
    BootstrapWeights,
    covariate_matrix,
    weighted_bootstrap_family,
)
from evaluation.estimate.multiplicity import (
    matching_representation,
    representation_draws,
    romano_wolf,
)

COVS = ["x1", "x2", "x3"]
OUTCOMES = [f"{kind}_{h}" for kind in ("a", "b", "c") for h in (6, 12, 24)]
MATCHING = {"k": 4, "replace": True, "caliper": 0.2, "bias_adjust": True}


def simulate(rng: np.random.Generator, n_treated: int = 50, n_control: int = 1000) -> pd.DataFrame:
    n = 40 * (n_treated + n_control)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x3 = rng.binomial(1, 0.4, n)
    d = rng.random(n) < expit(-3.0 + 0.9 * x1 - 0.6 * x2 + 0.7 * x3)
    keep = np.r_[np.flatnonzero(d)[:n_treated], np.flatnonzero(~d)[:n_control]]
    x1, x2, x3, d = x1[keep], x2[keep], x3[keep], d[keep].astype(int)
    m = len(keep)
    latent = rng.normal(size=m)
    frame = {"treated": d, "x1": x1, "x2": x2, "x3": x3}
    for kind, scale in (("a", 1.0), ("b", 3.0), ("c", 10.0)):
        for j, h in enumerate((6, 12, 24)):
            noise = (0.6 + 0.2 * j) * latent + rng.normal(size=m) * (1 + 0.5 * np.abs(x1))
            frame[f"{kind}_{h}"] = scale * (1 + x1 - 0.5 * x2 + 0.5 * x3 + noise)  # no effect
    return pd.DataFrame(frame)


def one(seed: int, draws: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    df = simulate(rng)
    weights = BootstrapWeights.draw(len(df), draws, rng)
    fit = fit_propensity(df, "treated", COVS)
    x = covariate_matrix(df, COVS, None, fit)
    d = df["treated"].to_numpy(float)
    out = {}
    boots = weighted_bootstrap_family(df[OUTCOMES].to_numpy(), d, fit.design.to_numpy(),
                                      fit.pscore.to_numpy(), weights, x=x)  # fmt: skip
    rw = romano_wolf([b.estimate for b in boots], np.column_stack([b.estimates for b in boots]),
                     OUTCOMES)  # fmt: skip
    out["aipw"] = rw.table
    cols, est = [], []
    rows = np.arange(len(df))
    for o in OUTCOMES:
        rep = matching_representation(df, o, COVS, MATCHING)  # = the estimate (tested)
        cols.append(representation_draws(rep, weights, rows))
        est.append(rep.estimate)
    out["matching"] = romano_wolf(est, np.column_stack(cols), OUTCOMES).table
    return {f"{k}_{m}": v for k, t in out.items() for m, v in (
        ("fwer_rw", float((t["p_romano_wolf"] < 0.05).any())),
        ("fwer_unadjusted", float((t["p_bootstrap"] < 0.05).any())),
        ("single_size", float((t["p_bootstrap"] < 0.05).mean())),
    )}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=500, help="replications (default 500)")
    ap.add_argument("--draws", type=int, default=199, help="bootstrap draws per replication")
    ap.add_argument("--seed", type=int, default=20170601, help="first replication's seed")
    args = ap.parse_args(argv)
    rows, started = [], time.perf_counter()
    for r in range(args.reps):
        rows.append(one(args.seed + r, args.draws))
        if (r + 1) % 25 == 0:
            part = pd.DataFrame(rows).mean().round(4).to_dict()
            print(f"{r + 1}/{args.reps} replications, {time.perf_counter() - started:.0f} s: "
                  f"{part}", file=sys.stderr, flush=True)  # fmt: skip
    res = pd.DataFrame(rows).mean()
    mc = np.sqrt(0.05 * 0.95 / args.reps)
    print(f"{args.reps} replications, {args.draws} draws, {len(OUTCOMES)} outcomes under the "
          f"global null; Monte Carlo SE of a 5 % rate: {mc:.4f}")  # fmt: skip
    print(res.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
