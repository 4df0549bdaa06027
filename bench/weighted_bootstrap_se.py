"""Sandwich vs weighted-bootstrap SEs of IPW and AIPW against their true sampling SD.

Generates the synthetic default study (50 mentored) again and again with the project's
generator, runs notebooks 01-03's chain (analysis sample, design, estimators) and the
weighted bootstrap of :func:`evaluation.estimate.effects.bootstrap_study` with exponential
(Bayesian) and Poisson (ordinary bootstrap) person weights. Prints, per estimator, the
Monte Carlo SD of the estimates (the truth the SEs estimate), the mean sandwich SE, the mean
bootstrap SEs and the mean share of failed draws.

    OPENBLAS_NUM_THREADS=1 nice -n 15 .venv/bin/python bench/weighted_bootstrap_se.py --reps 100 --draws 199
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from evaluation.design.sample import build_analysis
from evaluation.design.study import study_design
from evaluation.estimate.effects import (
    EffectsSpec,
    analysis_sample,
    bootstrap_study,
    estimate_study,
)
from evaluation.estimate.montecarlo import split_frame
from evaluation.rng import stream
from evaluation.synth import generate

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=100, help="simulated studies (default 100)")
    ap.add_argument("--draws", type=int, default=199, help="bootstrap draws per study")
    ap.add_argument("--outcome", default="employed_m12", help="outcome (default employed_m12)")
    ap.add_argument("--seed", type=int, default=1000, help="first study's seed")
    args = ap.parse_args(argv)
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    est, design, outc = doc["estimation"], doc["design"], doc["outcomes"]
    spec = EffectsSpec.from_params(design, {**est, "estimators": ["ipw", "aipw"]})
    rows, started = [], time.perf_counter()
    for rep in range(args.reps):
        seed = args.seed + rep
        s = generate(seed, n_mentored=50, n_comparison=3000, horizons=tuple(outc["horizons"]),
                     pre_months=12)  # fmt: skip
        an = build_analysis(s.participants, s.monthly, horizons=outc["horizons"], pre_months=12,
                            min_pre_months=12, rng=stream(seed, "pseudo_starts"))  # fmt: skip
        covs, outs = split_frame(an.frame, outc["horizons"])
        dsg = study_design(covs, covariates=design["covariates"], design=design,
                           matching=est["matching"])  # fmt: skip
        data = analysis_sample(covs, outs, dsg.hand_over())
        res = estimate_study(data, [args.outcome], spec)
        boots = {w: bootstrap_study(data, [args.outcome], spec, draws=args.draws,
                                    use_when_ratio_above=1.05, rng=stream(seed, "b"), scheme=w)
                 for w in ("exponential", "poisson")}  # fmt: skip
        for r in res:
            k = (r.outcome, r.estimator)
            rows.append(
                {
                    "estimator": r.estimator,
                    "estimate": r.estimate,
                    "se_sandwich": r.se,
                    **{f"se_{w}": b.draws[k].se for w, b in boots.items()},
                    "failed_poisson": boots["poisson"].draws[k].n_failed / args.draws,
                }
            )
        if (rep + 1) % 10 == 0:
            print(f"{rep + 1}/{args.reps} studies, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    df = pd.DataFrame(rows)
    out = df.groupby("estimator").agg(
        sd_true=("estimate", "std"), se_sandwich=("se_sandwich", "mean"),
        se_exponential=("se_exponential", "mean"), se_poisson=("se_poisson", "mean"),
        failed_poisson=("failed_poisson", "mean"),
    )  # fmt: skip
    print(f"{args.reps} simulated studies (50 mentored, 3 000 comparison), {args.draws} draws, "
          f"outcome {args.outcome}")  # fmt: skip
    print(out.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
