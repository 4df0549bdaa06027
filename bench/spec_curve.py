"""Specification curve: wall time in parallel processes against one by one.

Builds the analysis data of a study (the parameter file's inputs, as notebook 01 does), reads
the specification grid and runs it with ``--workers`` processes and one by one, ``--repeat``
times each, printing progress. Results (one row per run) go to bench/results/ as CSV. The
speed-up depends on the machine and on what else runs on it: on a two-core machine the
ideal is 2; process start-up and the first imports in each worker cost a little.

    .venv/bin/python bench/spec_curve.py --params params/default.yaml --workers 2 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from evaluation.config import load_params
from evaluation.data.contract import load_study
from evaluation.design.sample import build_analysis
from evaluation.rng import stream
from evaluation.robustness import speccurve as sc

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--params",
        default=str(ROOT / "params" / "default.yaml"),
        help="study parameter file (default params/default.yaml)",
    )
    ap.add_argument(
        "--specs",
        default=str(ROOT / "params" / "specifications.yaml"),
        help="specification grid (default params/specifications.yaml)",
    )
    ap.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each mode (default 3)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder for the CSV")
    args = ap.parse_args(argv)

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    params = load_params(args.params)
    print(f"reading {args.params} ...", flush=True)
    tables = load_study(params.data.tables())
    frame = build_analysis(
        tables.participants,
        tables.monthly,
        horizons=params.outcomes.horizons,
        pre_months=params.outcomes.pre_months,
        min_pre_months=params.outcomes.min_pre_months,
        rng=stream(params.seed, "pseudo_starts"),
    ).frame
    grid = sc.read_grid(args.specs)
    n = len(grid.specifications)
    print(f"{len(frame)} persons, {n} specifications, {os.cpu_count()} CPUs", flush=True)

    def progress(done: int, total: int) -> None:
        print(f"\r  {done}/{total}", end="", flush=True)

    rows = []
    for rep in range(args.repeat):
        for workers in (args.workers, 1):
            print(f"run {rep + 1}/{args.repeat}, {workers} process(es):", flush=True)
            curve = sc.run_grid(
                frame,
                grid,
                exact=params.design.exact,
                level=params.estimation.level,
                bias_adjust=params.estimation.matching.bias_correction,
                workers=workers,
                progress=progress,
            )
            print(f"  {curve.wall_seconds:.2f} s ({curve.processes_seen} processes seen)")
            rows.append(
                {
                    "repeat": rep,
                    "workers": workers,
                    "n_specifications": n,
                    "wall_seconds": curve.wall_seconds,
                    "processes_seen": curve.processes_seen,
                }
            )
    res = pd.DataFrame(rows)
    best = res.groupby("workers")["wall_seconds"].min()
    print(
        f"best of {args.repeat}: parallel ({args.workers}) {best[args.workers]:.2f} s, "
        f"one by one {best[1]:.2f} s, speed-up {best[1] / best[args.workers]:.2f}x"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"spec_curve_n{n}_w{args.workers}.csv"
    res.assign(load_average=os.getloadavg()[0]).to_csv(path, index=False)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
