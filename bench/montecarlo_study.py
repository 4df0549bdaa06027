"""Monte Carlo of the study's estimators on many generated default studies (n = 50 mentored).

Each replication generates a synthetic study with its own seed and runs the notebooks' chain
on it (analysis data, outcome-blind design with trimming and matching, every estimator of the
parameter file), then compares every estimate with the generator's exact sample ATT over all
mentored persons. Reported per outcome x estimator: bias, RMSE, coverage of the 95 % CI,
mean CI width, mean SE against the SD of the errors, with Monte Carlo SEs; plus the mentored
persons actually used and bias/coverage against the ATT over just those (the estimand shift
of trimming and the matching caliper). See evaluation.estimate.montecarlo.

Replication r uses seed SeedSequence([seed, r]) and rows are kept in replication order, so
the numbers do not depend on --jobs.

    .venv/bin/python bench/montecarlo_study.py --reps 200
    .venv/bin/python bench/montecarlo_study.py --reps 100 --null --outcomes employed_m12
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only cost

import pandas as pd  # noqa: E402

from evaluation.config import load_params, outcome_names  # noqa: E402
from evaluation.estimate.montecarlo import simulate_many, summarise  # noqa: E402
from evaluation.synth import EffectSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: Columns of the printed table: (summary column, header).
SHOWN = (
    ("reps", "reps"),
    ("mean_truth", "truth"),
    ("mean_estimate", "mean est."),
    ("bias", "bias"),
    ("mc_se_bias", "MC SE"),
    ("rmse", "RMSE"),
    ("coverage", "coverage"),
    ("mc_se_coverage", "MC SE"),
    ("mean_ci_width", "CI width"),
    ("mean_se", "mean SE"),
    ("sd_error", "SD error"),
    ("mean_n_used", "mentored used"),
    ("bias_used", "bias (used)"),
    ("coverage_used", "cov. (used)"),
)


def run(args: argparse.Namespace, params: dict) -> pd.DataFrame:
    """All replications, with progress on stderr; rows in replication order."""
    t0 = time.perf_counter()
    step = max(1, args.reps // 20)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            el = time.perf_counter() - t0
            eta = el / done * (total - done)
            print(f"  {done}/{total} replications, {el:.0f} s (about {eta:.0f} s left)",
                  file=sys.stderr, flush=True)  # fmt: skip

    return simulate_many(
        args.seed,
        args.reps,
        jobs=args.jobs,
        progress=progress,
        n_comparison=args.n_comparison,
        params_sections=params,
        effect=EffectSpec(null=True) if args.null else None,
        outcomes=args.outcomes,
    )


def markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (4 significant digits)."""
    head = ["outcome", "estimator", *(h for _, h in SHOWN)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (outcome, estimator), row in summary.iterrows():
        cells = [f"{int(row[c])}" if c == "reps" else f"{row[c]:.4g}" for c, _ in SHOWN]
        lines.append("| " + " | ".join([outcome, estimator, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=200, help="replications (default 200)")
    ap.add_argument("--n-comparison", type=int, default=None,
                    help="comparison pool per study (default: synthetic.n_comparison of the "
                    "parameter file, 3000)")  # fmt: skip
    ap.add_argument(
        "--outcomes",
        nargs="+",
        default=None,
        help="outcomes to estimate (default: all outcomes of the horizons)",
    )
    ap.add_argument(
        "--null",
        action="store_true",
        help="generate with no effect (EffectSpec(null=True)): coverage of zero",
    )
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument(
        "--seed", type=int, default=None, help="base seed (default: the parameter file's seed)"
    )
    ap.add_argument(
        "--params",
        type=Path,
        default=ROOT / "params" / "default.yaml",
        help="parameter file (default params/default.yaml)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="folder for the CSV files (default bench/results)",
    )
    args = ap.parse_args(argv)
    if args.reps < 2 or args.jobs < 1:
        ap.error("--reps must be at least 2 and --jobs at least 1")

    params = load_params(args.params, check_files=False).notebook_parameters()
    if args.seed is None:
        args.seed = int(params["seed"])
    if args.n_comparison is None:
        args.n_comparison = int((params.get("synthetic") or {}).get("n_comparison", 3000))
    known = outcome_names(params["outcomes"]["horizons"])
    unknown = [o for o in args.outcomes or () if o not in known]
    if unknown:
        ap.error(f"unknown outcomes {unknown}; the study's outcomes are {known}")

    t0 = time.perf_counter()
    rows = run(args, params)
    wall = time.perf_counter() - t0
    summary = summarise(rows)

    label = (f"{'null' if args.null else 'effect'}_reps{args.reps}_n{args.n_comparison}"
             f"_seed{args.seed}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / f"montecarlo_study_{label}.csv"
    rows_path = args.out / f"montecarlo_study_{label}_reps.csv"
    summary.to_csv(summary_path)
    rows.to_csv(rows_path, index=False)

    n_m = (params.get("synthetic") or {}).get("n_mentored", 50)
    print(f"Monte Carlo of the study's estimators: {'null effect' if args.null else 'default effect'}, "
          f"{args.reps} replications, {n_m} mentored vs {args.n_comparison} comparison, base seed "
          f"{args.seed}, {args.jobs} processes, wall time {wall:.0f} s\n")  # fmt: skip
    print(markdown(summary))
    print(f"\nTruth = exact sample ATT over all mentored; 'used' = over the mentored the "
          f"estimator used. Written: {summary_path}, {rows_path}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
