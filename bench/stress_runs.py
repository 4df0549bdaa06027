"""Many consecutive study runs in one process pool: does a run ever fail at random?

A study run once failed with exit 70 (``SystemError: AST constructor recursion depth
mismatch``, CPython 3.11's thread-unsafe AST constructor, python/cpython gh-106905) when two
notebook workers parsed at the same moment. This script runs ``evaluation run --force
--no-report`` N times (default 20) on a light parameter file (the default study with a small
comparison pool and few permutation draws), each run in a worker of one
``ProcessPoolExecutor`` (the same few processes serve all runs, as in a CI job or a test
session), every notebook executed anew, and counts the exit codes. Any code but 0 is a
failure; 70 is a bug.

    nice -n 15 .venv/bin/python bench/stress_runs.py [--runs 20] [--parallel 1]
        [--n-comparison 400] [--draws 19]

Prints a line per run and the tally; saves bench/results/stress_runs.json.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


def light_params(folder: Path, n_comparison: int, draws: int) -> Path:
    """The default study with a small pool and few permutation draws, data generated beside it."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    doc["synthetic"]["n_comparison"] = n_comparison
    doc["estimation"]["permutation_draws"] = draws
    doc["data"] = {k: (None if v is None else f"data/{k}.csv") for k, v in doc["data"].items()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "light.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def one_run(i: int, params: str, out: str) -> dict:
    """``evaluation run --force --no-report`` in this worker process; its exit code and output."""
    from evaluation.cli import main

    t0 = time.perf_counter()
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", "--params", params, "--out", out, "--force", "--no-report"])
    return {"run": i, "code": code, "seconds": round(time.perf_counter() - t0, 1),
            "pid": os.getpid(), "stderr": stderr.getvalue()[-2000:]}  # fmt: skip


def main() -> None:
    """Run the runs, print and save the tally."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=1, help="runs at once (default 1)")
    ap.add_argument("--n-comparison", type=int, default=400)
    ap.add_argument("--draws", type=int, default=19)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stress-runs-"))
    params = light_params(folder, args.n_comparison, args.draws)
    t0 = time.perf_counter()
    rows = []
    try:
        with ProcessPoolExecutor(max_workers=args.parallel) as pool:
            futures = [pool.submit(one_run, i, str(params), str(folder / "outputs"))
                       for i in range(1, args.runs + 1)]  # fmt: skip
            for fut in as_completed(futures):
                row = fut.result()
                rows.append(row)
                print(f"run {row['run']:>3}: exit {row['code']} in {row['seconds']:.0f} s "
                      f"(worker {row['pid']})", flush=True)  # fmt: skip
                if row["code"] != 0:
                    print(row["stderr"], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    tally = collections.Counter(r["code"] for r in rows)
    wall = time.perf_counter() - t0
    print(
        f"{args.runs} runs in {wall:.0f} s: exit codes {dict(sorted(tally.items()))}; "
        f"exit 70 (a bug): {tally.get(70, 0)}"
    )
    out = ROOT / "bench" / "results" / "stress_runs.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "tally": tally,
                "wall_seconds": round(wall),
                "runs": sorted(rows, key=lambda r: r["run"]),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
