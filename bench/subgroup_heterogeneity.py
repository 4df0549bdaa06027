"""Does the subgroup test hold its level at fifty mentored? Size and power by simulation.

Uses the ``strong`` cross-sectional DGP of ``bench/inference_study.py`` (50 mentored drawn by
conditional Poisson sampling from a logit on the study's covariates, 2 000 comparison
persons, the study's design and headline estimator): its effect on employment varies with
the Swedish level (``0.10 x (1.5 - 0.3 x level)``) and with nothing else. So the test over
education and over sex has a true null (its rejection rate is the test's size), and the test
over the Swedish level does not (its power). Each replication runs the study's own chain:
outcome-blind design, :func:`evaluation.estimate.subgroups.subgroup_effects` with the default
parameters' subgroups and ``min_cell`` 5, Cochran's Q and Holm.

    .venv/bin/python bench/subgroup_heterogeneity.py --reps 500 --jobs 2

Prints per variable: replications tested, rejection rate at 5 % (raw and Holm) with Monte
Carlo SEs, and the mean number of levels estimated.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluation.config import load_params  # noqa: E402
from evaluation.estimate.subgroups import subgroup_effects  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "inference_study", ROOT / "bench" / "inference_study.py"
)
inference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(inference)
VARIABLES = ("sex", "education", "swedish_level")
TRUE_NULL = {"sex": True, "education": True, "swedish_level": False}
ALPHA = 0.05


def replication(rep: int, *, seed: int, params: dict) -> list[dict]:
    """One study: the Q test of every variable (rows)."""
    s = int(np.random.SeedSequence([seed, rep]).generate_state(1)[0])
    frame, _, _ = inference.cross_section(s, "strong", null=False)
    data, spec = inference._analysis(frame, params)
    got = subgroup_effects(data, inference.OUTCOME, spec, list(VARIABLES), min_cell=5)
    return [{"rep": rep, "variable": t.variable, "levels": len(t.levels), "q": t.statistic,
             "p": t.p_value, "p_holm": t.p_holm} for t in got.tests]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=500, help="replications (default 500)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=20170601)
    ap.add_argument("--params", type=Path, default=ROOT / "params" / "default.yaml")
    args = ap.parse_args(argv)
    params = load_params(args.params, check_files=False).notebook_parameters()
    t0, rows = time.perf_counter(), []
    step = max(1, args.reps // 20)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(replication, r, seed=args.seed, params=params)
                   for r in range(args.reps)]  # fmt: skip
        for i, fut in enumerate(futures, 1):
            rows += fut.result()
            if i % step == 0 or i == args.reps:
                print(f"  {i}/{args.reps} replications, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    tab = pd.DataFrame(rows)
    print(f"{args.reps} replications, strong DGP, 50 mentored, seed {args.seed}, "
          f"{time.perf_counter() - t0:.0f} s\n")  # fmt: skip
    print("| variable | true null | tested | rejects at 5 %, % (MC SE) | Holm, % | levels |")
    print("|---|---|---|---|---|---|")
    for var in VARIABLES:
        t = tab.loc[tab["variable"] == var]
        n, r, h = len(t), (t["p"] <= ALPHA).mean(), (t["p_holm"] <= ALPHA).mean()
        print(f"| {var} | {'yes' if TRUE_NULL[var] else 'no'} | {n} | {100 * r:.1f} "
              f"({100 * np.sqrt(r * (1 - r) / max(n, 1)):.1f}) | {100 * h:.1f} | "
              f"{t['levels'].mean():.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
