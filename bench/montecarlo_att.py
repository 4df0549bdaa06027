"""Monte Carlo of the ATT estimators: bias, RMSE and 95% CI coverage per estimator.

The "constant" design is the one of tests/estimate/test_att_simulation.py (about 50 treated
against a pool of 1 000, logit selection on three covariates, heteroskedastic noise, effect
2). The "heterogeneous" design adds an effect that grows with x1, so that the ATT (the
sample mean of the unit effects among the treated, the truth used here) differs from the
ATE and the OLS coefficient (a variance-weighted average) is biased for it.

Overlap weights estimate another estimand, the effect in the overlap population (ATO): its
truth is the mean of the unit effects weighted by ``e(1 - e)``, with ``e`` the propensity
score in the drawn sample (the population's logit, shifted by the two groups' sampling
fractions). In the "constant" design every estimand is 2.

    .venv/bin/python bench/montecarlo_att.py --reps 2000 --design heterogeneous
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy.special import expit

from evaluation.estimate.att import METHODS, estimate_all


def simulate(rng, n_treated: int, n_control: int, design: str):
    n = 40 * (n_treated + n_control)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x3 = rng.binomial(1, 0.4, n)
    index = -3.0 + 0.9 * x1 - 0.6 * x2 + 0.7 * x3
    d = rng.random(n) < expit(index)
    keep = np.r_[np.flatnonzero(d)[:n_treated], np.flatnonzero(~d)[:n_control]]
    if len(keep) < n_treated + n_control:
        raise RuntimeError("population too small for the requested group sizes")
    # the sample's propensity: the population logit plus log(f1 / f0), the sampling fractions
    shift = np.log(n_treated / d.sum()) - np.log(n_control / (~d).sum())
    e = expit(index[keep] + shift)
    x1, x2, x3, d = x1[keep], x2[keep], x3[keep], d[keep].astype(int)
    noise = rng.normal(size=len(keep)) * (1 + 0.5 * np.abs(x1))
    tau_i = np.full(len(keep), 2.0) if design == "constant" else 2.0 + 1.0 * x1
    y = 1 + 2.5 * x1 - 1.0 * x2 + 1.0 * x3 + tau_i * d + noise
    df = pd.DataFrame({"d": d, "x1": x1, "x2": x2, "x3": x3, "y": y})
    h = e * (1 - e)
    return df, {"ATT": float(tau_i[d == 1].mean()), "ATO": float(np.sum(h * tau_i) / h.sum())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=1000, help="replications (default 1000)")
    ap.add_argument("--n-treated", type=int, default=50, help="treated per sample (default 50)")
    ap.add_argument(
        "--n-control", type=int, default=1000, help="controls per sample (default 1000)"
    )
    ap.add_argument("--design", choices=["constant", "heterogeneous"], default="constant")
    ap.add_argument("--seed", type=int, default=123, help="seed of np.random.default_rng")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--matching-k", type=int, default=1, help="neighbours for matching")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    rows = []
    t0 = time.perf_counter()
    step = max(1, args.reps // 20)
    for rep in range(args.reps):
        df, truths = simulate(rng, args.n_treated, args.n_control, args.design)
        res = estimate_all(
            df, "d", ["y"], ["x1", "x2", "x3"], args.methods,
            options={"matching": {"k": args.matching_k}},
        )  # fmt: skip
        for r in res:
            truth = truths[r.estimand]
            rows.append((r.estimator, r.estimand, r.estimate - truth, r.se,
                         r.ci_low <= truth <= r.ci_high))  # fmt: skip
        if (rep + 1) % step == 0 or rep + 1 == args.reps:
            el = time.perf_counter() - t0
            print(f"  {rep + 1}/{args.reps} replications, {el:.1f} s", file=sys.stderr, flush=True)
    tab = pd.DataFrame(rows, columns=["estimator", "estimand", "error", "se", "covered"])
    out = tab.groupby(["estimator", "estimand"], sort=False).agg(
        bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(e**2)))),
        sd=("error", "std"),
        mean_se=("se", "mean"),
        coverage=("covered", "mean"),
    )
    out["mc_se_bias"] = out["sd"] / np.sqrt(args.reps)
    print(
        f"design={args.design} reps={args.reps} n_treated={args.n_treated} "
        f"n_control={args.n_control} seed={args.seed}"
    )
    print(out.round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
