"""Coverage of the pooled intervals with three sites like the demonstration's (not a test).

The demonstration (``make pooling``) gives one draw: does the pooled interval cover the
size-weighted true effect? This script repeats the pooling step many times with site
estimates drawn around the demonstration's true site effects with its standard errors
(normal sampling error, sites fixed), and reports how often each interval covers

* the size-weighted true effect (the demonstration's check), and
* the unweighted mean of the site effects (what the random-effects model targets when the
  three sites are taken as they are).

Usage::

    .venv/bin/python bench/pooling_coverage.py [--run outputs/pooling-latest] [--reps 4000]

Randomness comes from ``evaluation.rng.stream(seed, "bench-pooling-coverage")``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from evaluation.pooling import meta
from evaluation.rng import stream


def main() -> None:
    """Draw site estimates, pool them, count covering intervals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("outputs/pooling-latest"))
    parser.add_argument("--outcome", default="employed_m12")
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=20170601)
    args = parser.parse_args()
    results = json.loads((args.run / "results.json").read_text("utf-8"))
    pooled = results["numbers"][f"pool_{args.outcome}"]
    truth = results["numbers"][f"pool_truth_{args.outcome}"]
    keys = [s["key"] for s in pooled["sites"]]
    theta = np.array([truth["sites"][k] for k in keys])
    se = np.array([s["se"] for s in pooled["sites"]])
    weighted, unweighted = truth["size_weighted"], float(theta.mean())
    rng = stream(args.seed, "bench-pooling-coverage")
    models = ("fixed", "random", "random_hk")
    hits = {m: {"size_weighted": 0, "unweighted": 0} for m in models}
    widths = {m: [] for m in models}
    for _ in range(args.reps):
        y = theta + rng.standard_normal(len(theta)) * se
        res = meta.meta_analysis(y, se**2, keys, tau2_method=pooled["tau2_method"])
        for m in models:
            p = getattr(res, m)
            hits[m]["size_weighted"] += p.ci_low <= weighted <= p.ci_high
            hits[m]["unweighted"] += p.ci_low <= unweighted <= p.ci_high
            widths[m].append(p.ci_high - p.ci_low)
    print(f"{args.outcome}: true site effects {dict(zip(keys, theta.round(4).tolist(), strict=True))}, "
          f"SEs {se.round(4).tolist()}; size-weighted {weighted:.4f}, unweighted {unweighted:.4f}; "
          f"{args.reps} draws")  # fmt: skip
    for m in models:
        print(f"  {m:>10}: covers size-weighted {hits[m]['size_weighted'] / args.reps:.3f}, "
              f"unweighted {hits[m]['unweighted'] / args.reps:.3f}; "
              f"median width {np.median(widths[m]):.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
